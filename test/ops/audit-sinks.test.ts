import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { formatRfc5424 } from '../../src/audit-sinks/index.js';
import { loadConfig } from '../../src/config.js';
import { PrometheusMetrics } from '../../src/metrics/prometheus.js';
import { installMetrics, type MetricsPort } from '../../src/ports/metrics.js';
import { createApp } from '../../src/server.js';
import { openPortcullis, type Portcullis } from '../../src/service.js';
import { FAST_ARGON2, freePort, RecordingLogger, tempDir } from '../helpers.js';
import { parseProm, valueOf } from './prom-text.js';
import { startRsyslog, type TestRsyslog } from './rsyslog.js';

const PASSWORD = 'audit sink password';

async function open(dir: string, auditSinks: unknown, logger = new RecordingLogger()): Promise<Portcullis> {
  const config = loadConfig({ env: {}, overrides: { dataDir: dir, 'argon2.memoryKiB': FAST_ARGON2.memoryKiB, 'argon2.iterations': FAST_ARGON2.iterations, 'accountSettings.MaxConcurrentSessions': 0, auditSinks } });
  const p = await openPortcullis(config, logger, { touchFlushMs: 0 });
  await p.accounts.create({ username: 'auditor', password: PASSWORD, roles: ['System Administrator'] });
  return p;
}

function login(app: ReturnType<typeof createApp>, password: string) {
  return app.inject({ method: 'POST', url: '/api/admin/v1/sessions', payload: { username: 'auditor', password }, remoteAddress: '192.0.2.44' });
}

async function until(what: string, ok: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('RFC 5424 formatting', () => {
  it('puts the event in the header, in structured data (escaped) and as JSON in MSG', () => {
    const text = formatRfc5424(
      { at: Date.UTC(2026, 11, 2, 2, 10, 0, 123), kind: 'login.failure', username: 'a"b]c\\d', clientAddress: '192.0.2.1', dialect: 'hcx', requestId: 'r-1', detail: { reason: 'invalid_credentials' } },
      { facility: 10, hostname: 'node 1', appName: 'portcullis', procId: '42' },
    );
    assert.equal(
      text,
      '<84>1 2026-12-02T02:10:00.123Z node_1 portcullis 42 login.failure [portcullis@32473 kind="login.failure" user="a\\"b\\]c\\\\d" client="192.0.2.1" dialect="hcx" requestId="r-1"] ' +
        JSON.stringify({ time: '2026-12-02T02:10:00.123Z', at: Date.UTC(2026, 11, 2, 2, 10, 0, 123), kind: 'login.failure', username: 'a"b]c\\d', clientAddress: '192.0.2.1', dialect: 'hcx', requestId: 'r-1', detail: { reason: 'invalid_credentials' } }),
    );
  });
});

describe('audit events to a real rsyslog (UDP, TCP, TLS) and to a JSON lines file', () => {
  let rs: TestRsyslog;
  const dir = tempDir();
  let p: Portcullis;
  let app: ReturnType<typeof createApp>;
  const jsonl = join(dir.path, 'audit.jsonl');

  before(async () => {
    rs = await startRsyslog();
    p = await open(dir.path, {
      syslog: [
        { transport: 'udp', host: '127.0.0.1', port: rs.udpPort },
        { transport: 'tcp', host: '127.0.0.1', port: rs.tcpPort },
        { transport: 'tls', host: '127.0.0.1', port: rs.tlsPort, caFile: rs.caFile },
      ],
      jsonLines: [{ path: jsonl }],
    });
    app = createApp(p, new RecordingLogger());
    await app.ready();
  });

  after(async () => {
    await app?.close();
    await p?.close();
    await rs?.stop();
    dir.remove();
  });

  it('delivers each event over every transport with facility authpriv, its kind as MSGID and no password', async () => {
    assert.equal((await login(app, PASSWORD)).statusCode, 200);
    assert.equal((await login(app, 'wrong password!')).statusCode, 401);
    await until('six messages arrive (two events, three transports)', () => rs.lines().filter((l) => /\|login\.(success|failure)\|/.test(l)).length >= 6);
    const lines = rs.lines();
    for (const input of ['imudp', 'imptcp', 'imtcp']) {
      const ok = lines.find((l) => l.startsWith(`${input}|`) && l.includes('|login.success|'));
      const bad = lines.find((l) => l.startsWith(`${input}|`) && l.includes('|login.failure|'));
      assert.ok(ok && bad, `${input} received both events:\n${lines.join('\n')}`);
      const [, pri, app0, , sd, ...msg] = ok.split('|');
      assert.equal(pri, '85', 'authpriv.notice'); // 10 * 8 + 5
      assert.equal(bad.split('|')[1], '84', 'authpriv.warning');
      assert.equal(app0, 'portcullis');
      assert.match(sd!, /^\[portcullis@32473 kind="login\.success" user="auditor" client="192\.0\.2\.44" dialect="hcx" requestId="[^"]+"\]$/);
      const event = JSON.parse(msg.join('|').trim()) as { kind: string; username: string; detail: Record<string, unknown> };
      assert.equal(event.kind, 'login.success');
      assert.equal(event.username, 'auditor');
    }
    assert.ok(!lines.join('\n').includes(PASSWORD) && !lines.join('\n').includes('wrong password!'), 'no password reaches the collector');
  });

  it('writes the same events as JSON lines to the file', async () => {
    await until('the file has both events', () => readFileSync(jsonl, 'utf8').split('\n').filter(Boolean).length >= 2);
    const events = readFileSync(jsonl, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; time: string; username: string; clientAddress: string });
    assert.deepEqual(events.slice(0, 2).map((e) => e.kind), ['login.success', 'login.failure']);
    assert.match(events[0]!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(events[0]!.clientAddress, '192.0.2.44');
    assert.ok(!readFileSync(jsonl, 'utf8').includes(PASSWORD));
  });
});

describe('a sink that is down or full never holds up a login', () => {
  it('drops what does not fit its bounded queue, counts it, and the logins answer as fast as ever', async () => {
    const dir = tempDir();
    const deadPort = await freePort(); // nobody listens there
    const m = new PrometheusMetrics({}, { processMetrics: false });
    const previous: MetricsPort = installMetrics(m);
    const logger = new RecordingLogger();
    const p = await open(dir.path, { syslog: [{ transport: 'tcp', host: '127.0.0.1', port: deadPort, maxQueue: 3, reconnectMs: 50 }] }, logger);
    const app = createApp(p, logger);
    try {
      await app.ready();
      const started = Date.now();
      for (let i = 0; i < 8; i++) assert.equal((await login(app, i % 2 ? PASSWORD : 'wrong password!')).statusCode, i % 2 ? 200 : 401);
      const perLogin = (Date.now() - started) / 8;
      assert.ok(perLogin < 1000, `a login took ${perLogin} ms on average`);
      const samples = parseProm(await m.metrics());
      assert.equal(valueOf(samples, 'portcullis_audit_events_dropped_total', { sink: 'syslog_tcp_0' }), 8 - 3);
      assert.ok(logger.lines.some((l) => (l.obj as { event?: string }).event === 'audit.sink_dropping'), 'the dropping is logged (once)');
      assert.equal(logger.lines.filter((l) => (l.obj as { event?: string }).event === 'audit.sink_dropping').length, 1);
      // The audit table has every event all the same.
      assert.equal((await p.audit.query({ username: 'auditor' })).length, 8);
    } finally {
      await app.close();
      await p.close();
      installMetrics(previous);
      dir.remove();
    }
  });
});
