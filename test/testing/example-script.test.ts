import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort } from '../helpers.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

describe('the README\'s client-testing worked example', () => {
  it('examples/client-testing/expire-mid-run.sh runs as written: 200, then the expiry 401, then a one-shot 503 with Retry-After', { timeout: 180_000 }, async () => {
    const port = await freePort();
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('bash', [join(ROOT, 'examples', 'client-testing', 'expire-mid-run.sh')], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d));
      child.stderr.on('data', (d: Buffer) => (text += d));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the example did not finish in time:\n${text}`));
      }, 170_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(text);
        else reject(new Error(`the example exited ${code}:\n${text}`));
      });
    });
    assert.match(out, /poll 1: 200/);
    assert.match(out, /INVALID_SESSION_TOKEN[\s\S]*status 401/);
    assert.match(out, /HTTP\/1\.1 503[\s\S]*retry-after: 2/i);
    assert.match(out, /works again: 200/);
  });
});
