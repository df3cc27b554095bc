import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { harness, tempDir, type Harness } from '../helpers.js';

/*
 * /docs in a real browser: Debian's chromium, headless, loads the page, Swagger UI's
 * scripts from /docs/ui under the page's CSP, and the document, and renders the
 * operations. Nothing comes from another origin (a CDN would not load here).
 * scripts/lib.sh ensure_browser installs chromium; without it the test is skipped
 * outside CI and fails in CI.
 */

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const run = promisify(execFile);

describe('the /docs viewer in a browser', { skip: !CHROMIUM && !process.env.CI ? 'chromium is not installed (scripts/lib.sh ensure_browser)' : false }, () => {
  let h: Harness;
  let base: string;
  before(async () => {
    h = await harness();
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(h.app.server.address() as { port: number }).port}`;
  });
  after(() => h.close());

  it('renders every operation of the selected document from files served by Portcullis', async () => {
    assert.ok(CHROMIUM, 'chromium is installed');
    const profile = tempDir('portcullis-chromium-');
    try {
      const { stdout } = await run(
        CHROMIUM,
        ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile.path}`, '--virtual-time-budget=15000', '--dump-dom', `${base}/docs#/`],
        { timeout: 90_000, maxBuffer: 32 * 1024 * 1024 },
      );
      // The UI rendered the first document's (HCX's) title and its operations (they exist only once Swagger UI has run).
      assert.match(stdout, /class="swagger-ui/);
      const doc = h.app.openapi.document('hcx') as { info: { title: string }; paths: Record<string, object> };
      assert.ok(stdout.includes(doc.info.title), 'the document title is shown');
      for (const path of Object.keys(doc.paths)) assert.ok(stdout.includes(`data-path="${path}"`), `operation ${path} rendered`);
    } finally {
      profile.remove();
    }
  });
});
