import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'node:https';
import { generate } from 'selfsigned';
import { loadConfig } from '../../src/config.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openPortcullis, type Portcullis } from '../../src/service.js';
import { FAST_ARGON2, RecordingLogger, tempDir } from '../helpers.js';

async function pair(cn: string): Promise<{ cert: string; key: string; fingerprint: string }> {
  const pems = await generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - 60_000),
    notAfterDate: new Date(Date.now() + 86_400_000),
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  return { cert: pems.cert, key: pems.private, fingerprint: new X509Certificate(pems.cert).fingerprint256 };
}

/** The fingerprint a new TLS connection is served. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fp = s.getPeerX509Certificate()?.fingerprint256 ?? '';
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
  });
}

/** GET /healthz on `agent`'s connection; resolves with the status and the fingerprint that connection was served. */
function get(port: number, agent: Agent): Promise<{ status: number; fingerprint: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent, rejectUnauthorized: false }, (res) => {
      const socket = res.socket as import('node:tls').TLSSocket & { seenFingerprint?: string };
      // Read once per connection: a reused connection does not hand its peer certificate out again.
      socket.seenFingerprint ??= socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      const fingerprint = socket.seenFingerprint;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function until(what: string, ok: () => Promise<boolean>, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('certificate rotation without a restart', () => {
  const dir = tempDir();
  const certFile = join(dir.path, 'tls-cert.pem');
  const keyFile = join(dir.path, 'tls-key.pem');
  const logger = new RecordingLogger();
  let p: Portcullis;
  let server: RunningServer;
  let port: number;
  let a: Awaited<ReturnType<typeof pair>>;
  let b: Awaited<ReturnType<typeof pair>>;
  let c: Awaited<ReturnType<typeof pair>>;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });

  /** Writes a pair the way certbot and Kubernetes do: new files renamed into place. */
  const install = (x: { cert: string; key: string }) => {
    writeFileSync(`${keyFile}.new`, x.key, { mode: 0o600 });
    writeFileSync(`${certFile}.new`, x.cert);
    renameSync(`${keyFile}.new`, keyFile);
    renameSync(`${certFile}.new`, certFile);
  };

  before(async () => {
    [a, b, c] = await Promise.all([pair('first'), pair('second'), pair('third')]);
    install(a);
    const config = loadConfig({
      env: {},
      overrides: { dataDir: dir.path, 'listen.port': 0, 'tls.certFile': certFile, 'tls.keyFile': keyFile, 'argon2.memoryKiB': FAST_ARGON2.memoryKiB, 'argon2.iterations': FAST_ARGON2.iterations },
    });
    p = await openPortcullis(config, logger);
    server = await startServer(p, logger, () => {});
    port = Number(new URL(server.url).port);
  });

  after(async () => {
    agent.destroy();
    await server.stop();
    await p.close();
    dir.remove();
  });

  it('serves the configured pair at start', async () => {
    assert.equal(await servedFingerprint(port), a.fingerprint);
    assert.equal(server.tls?.fingerprint, a.fingerprint);
    assert.deepEqual(await get(port, agent), { status: 200, fingerprint: a.fingerprint, reused: false });
  });

  it('serves a new pair to the next connection after a reload (SIGHUP), while an open connection goes on with the old one', async () => {
    install(b);
    assert.equal(server.tls!.reload('SIGHUP'), true);
    assert.equal(await servedFingerprint(port), b.fingerprint);
    const onOld = await get(port, agent);
    assert.deepEqual(onOld, { status: 200, fingerprint: a.fingerprint, reused: true }, 'the kept-alive connection goes on with the old pair');
    assert.ok(logger.lines.some((l) => (l.obj as { event?: string; fingerprint?: string }).event === 'tls.reloaded' && (l.obj as { fingerprint?: string }).fingerprint === b.fingerprint));
  });

  it('picks the pair up by itself when the files change', async () => {
    install(c);
    await until('the watched files are reloaded', async () => (await servedFingerprint(port)) === c.fingerprint);
    assert.equal(server.tls!.fingerprint, c.fingerprint);
  });

  it('refuses a bad pair (key of another certificate, garbage, missing file) with a logged error and keeps serving the old one', async () => {
    const before = logger.lines.length;
    writeFileSync(certFile, b.cert); // c's key stays: a mismatch
    assert.equal(server.tls!.reload('SIGHUP'), false);
    writeFileSync(certFile, 'not a certificate');
    assert.equal(server.tls!.reload('SIGHUP'), false);
    renameSync(certFile, `${certFile}.gone`);
    assert.equal(server.tls!.reload('SIGHUP'), false);
    assert.equal(await servedFingerprint(port), c.fingerprint);
    const refusals = logger.lines.slice(before).filter((l) => (l.obj as { event?: string }).event === 'tls.reload_refused');
    assert.ok(refusals.length >= 3, `refusals logged: ${refusals.length}`);
    assert.match(JSON.stringify(refusals[0]!.obj), /does not fit the certificate/);
    assert.ok(!logger.text().includes('PRIVATE KEY'), 'no key material in the log');
    renameSync(`${certFile}.gone`, certFile);
  });
});
