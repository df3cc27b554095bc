import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { ManualClock } from '../../src/ports/clock.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openPortcullis, type Portcullis } from '../../src/service.js';
import { FAST_ARGON2, RecordingLogger, tempDir } from '../helpers.js';

/** Sends raw bytes over TLS and returns the whole raw answer (bounded by a timeout). */
function raw(port: number, data: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => socket.end(data));
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => (out += d));
    socket.on('end', () => resolve(out));
    socket.on('close', () => resolve(out));
    socket.on('error', (e) => (out ? resolve(out) : reject(e)));
    socket.setTimeout(5000, () => {
      socket.destroy();
      reject(new Error('timeout'));
    });
  });
}

function bodyOf(response: string): unknown {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
}

describe('the HTTPS service on a real socket', () => {
  const dir = tempDir();
  let p: Portcullis;
  let server: RunningServer;
  let port: number;
  const printed: string[] = [];

  before(async () => {
    const config = loadConfig({
      env: {},
      overrides: { dataDir: dir.path, 'listen.port': 0, 'argon2.memoryKiB': FAST_ARGON2.memoryKiB, 'argon2.iterations': FAST_ARGON2.iterations },
    });
    p = await openPortcullis(config, new RecordingLogger(), { clock: new ManualClock(Date.now()) });
    server = await startServer(p, new RecordingLogger(), (line) => printed.push(line));
    port = Number(new URL(server.url).port);
  });

  after(async () => {
    await server.stop();
    await p.close();
    dir.remove();
  });

  it('serves HTTPS with a generated self-signed certificate whose key is private (0600)', () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(statSync(join(dir.path, 'tls', 'key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir.path, 'portcullis.db')).mode & 0o777, 0o600);
  });

  it('prints the first admin password once, and that password logs in over HTTPS', async () => {
    const text = printed.join('\n');
    const password = /password: (\S+)/.exec(text)?.[1];
    assert.ok(password, text);
    const res = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port, path: '/sessions', method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } },
        (r) => {
          let b = '';
          r.on('data', (d) => (b += d));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body: b }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ UserId: 'admin', password }));
    });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).response.pwChangeRequired, true, 'the first admin must change its password');
    assert.equal(res.headers['strict-transport-security'], 'max-age=31536000');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  it('answers an oversized header with 431 in the HCX envelope on an HCX path', async () => {
    const res = await raw(port, `GET /api/admin/v1/sessions HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
    assert.match(res, /^HTTP\/1\.1 431 /);
    assert.match(res, /x-content-type-options: nosniff/);
    const body = bodyOf(res) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['success', 'completed', 'time', 'version', 'errorCode', 'error']);
    assert.equal(body.success, false);
    assert.equal(body.errorCode, 'BAD_REQUEST');
  });

  it('answers an oversized header with 431 in the XClarity envelope on an XClarity path', async () => {
    const res = await raw(port, `GET /sessions HTTP/1.1\r\nHost: x\r\nCookie: ${'a'.repeat(20000)}\r\n\r\n`);
    assert.match(res, /^HTTP\/1\.1 431 /);
    const body = bodyOf(res) as { result: string; messages: { id: string }[] };
    assert.equal(body.result, 'failure');
    assert.equal(body.messages[0]?.id, 'FQXHMSE0111J');
  });

  it('answers a head beyond what the HTTP parser accepts with 431 in an envelope, not a bare close', async () => {
    const res = await raw(port, `GET /sessions HTTP/1.1\r\nHost: x\r\nX-Huge: ${'a'.repeat(70000)}\r\n\r\n`);
    assert.match(res, /^HTTP\/1\.1 431 /);
    assert.match(res, /content-type: application\/json/);
  });

  it('answers a malformed request line with 400 in an envelope, not a bare close', async () => {
    const res = await raw(port, 'GARBAGE\r\n\r\n');
    assert.match(res, /^HTTP\/1\.1 400 /);
    const body = bodyOf(res) as { result: string };
    assert.equal(body.result, 'failure');
  });
});
