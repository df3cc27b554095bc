// Shared by the probes: where data go, the seeded tokens, a server on a data directory.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, freePort, start } from '../lib.mjs';

export const PROBE_DIR = process.env.PROBE_DIR ?? join(tmpdir(), 'portcullis-probes');
mkdirSync(PROBE_DIR, { recursive: true });
export const dataDir = (n) => join(PROBE_DIR, `sessions-${n}`);
/** The token of seeded session i (its hash is what the file stores). */
export const token = (i) => createHash('sha256').update('probe' + i).digest('base64url');

/** No per-user session limit (the probes log one user in many times). */
export function prepare(dir) {
  execFileSync(process.execPath, [cli, 'settings', 'set', 'MaxConcurrentSessions=0', '--data-dir', dir], { stdio: 'ignore' });
}

/** `portcullis serve` on plain HTTP on a data directory; resolves with the child and its HCX check URL. */
export async function serve(dir, { nodeFlags = [], env = {}, args = [], prepared = false } = {}) {
  if (!prepared) prepare(dir);
  const port = await freePort();
  const srv = await start(
    process.execPath,
    [...nodeFlags, cli, 'serve', '--plain-http', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dir, ...args],
    { env: { ...process.env, PORTCULLIS_LOG_LEVEL: 'error', ...env } },
    (l) => /serving on (http:\/\/\S+)/.exec(l)?.[1],
    60000,
  );
  return { child: srv.child, base: srv.match, url: `${srv.match}/api/admin/v1/sessions` };
}

/** Ends a server with SIGTERM (so a CPU profile is written) and waits for it. */
export function terminate(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.on('exit', resolve);
    child.kill('SIGTERM');
  });
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
