import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SecondFactorService } from '../../src/core/second-factor.js';
import { FAST_ARGON2, tempDir, withPortcullis } from '../helpers.js';
import { writeFileSync } from 'node:fs';

/* `portcullis totp status|list|reset`, run as built (dist/cli.js). */

const CLI = join(fileURLToPath(new URL('../../../', import.meta.url)), 'dist', 'cli.js');
const run = promisify(execFile);
const CTX = { requestId: 't', clientAddress: '127.0.0.1', dialect: 'console' };

describe('portcullis totp', () => {
  const dir = tempDir('portcullis-cli-totp-');
  const config = join(dir.path, 'config.yaml');
  writeFileSync(config, `dataDir: ${JSON.stringify(join(dir.path, 'data'))}\nargon2:\n  memoryKiB: ${FAST_ARGON2.memoryKiB}\n  iterations: 1\n`);
  after(() => dir.remove());
  const cli = async (...args: string[]) => (await run(process.execPath, [CLI, '-c', config, ...args], { timeout: 20_000, env: { PATH: process.env.PATH ?? '' } })).stdout;

  it('shows, lists and resets a factor (the reset is audited as done from the CLI)', async () => {
    await withPortcullis(config, async (p) => {
      await p.accounts.create({ username: 'alice', password: 'Alice-Pass-1', roles: ['Operator'] });
      const { secret } = await p.secondFactors.begin('alice', 'local');
      assert.ok(await p.secondFactors.confirm('alice', SecondFactorService.codeAt(secret, Date.now()), CTX));
    });
    assert.match(await cli('totp', 'status', 'alice'), /^alice: on since \d{4}-.*, 10 recovery codes left$/m);
    assert.equal(await cli('totp', 'list'), 'alice\n');
    assert.equal(await cli('totp', 'reset', 'alice'), 'alice: second factor removed\n');
    assert.equal(await cli('totp', 'status', 'alice'), 'alice: off\n');
    assert.equal(await cli('totp', 'reset', 'alice'), 'alice: had no second factor\n');
    await withPortcullis(config, async (p) => {
      const ev = await p.audit.query({ kind: 'totp.reset' });
      assert.equal(ev.length, 2);
      assert.equal(ev[0]!.dialect, 'cli');
    });
  });
});
