import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { METRIC_LABELS, METRIC_NAMES } from '../../src/metrics/prometheus.js';
import { metrics, noMetrics } from '../../src/ports/metrics.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openPortcullis, type Portcullis } from '../../src/service.js';
import { FAST_ARGON2, RecordingLogger, tempDir } from '../helpers.js';
import { familyOf, parseProm, valueOf, type Sample } from './prom-text.js';

const TOKEN = 'scrape-token-0123456789abcdef';
const USER = 'metrics-user-q7';
const PASSWORD = 'correct horse battery';
const LOCKED = 'metrics-locked-q8';

describe('Prometheus metrics on their own listener', () => {
  const dir = tempDir();
  let p: Portcullis;
  let server: RunningServer;
  let api: string;
  let scrapeUrl: string;
  const tokens: string[] = [];

  const scrape = async (): Promise<Sample[]> => {
    const r = await fetch(scrapeUrl, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return parseProm(await r.text());
  };
  const hcxLogin = (password: string, username = USER, from = '192.0.2.1') =>
    fetch(`${api}/api/admin/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
      body: JSON.stringify({ username, password }),
    });

  before(async () => {
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: dir.path,
        'listen.port': 0,
        'tls.disabled': true,
        'metrics.enabled': true,
        'metrics.port': 0,
        'metrics.bearerToken': TOKEN,
        'argon2.memoryKiB': FAST_ARGON2.memoryKiB,
        'argon2.iterations': FAST_ARGON2.iterations,
        'accountSettings.MaximumLoginFailures': 4,
        'accountSettings.MaxConcurrentSessions': 0,
        trustProxy: true,
      },
    });
    p = await openPortcullis(config, new RecordingLogger(), { touchFlushMs: 0 });
    server = await startServer(p, new RecordingLogger(), () => {});
    api = server.url;
    scrapeUrl = server.metricsUrl!;
    await p.accounts.create({ username: USER, password: PASSWORD, roles: ['System Administrator'] });
    // Never logged in from this address, so the address is not trusted for it while it is locked.
    await p.accounts.create({ username: LOCKED, password: PASSWORD, roles: ['System Administrator'] });
  });

  after(async () => {
    if (metrics() !== noMetrics) await server.stop();
    await p.close();
    dir.remove();
  });

  it('listens apart from the API: the API port has no /metrics, the metrics port nothing else', async () => {
    assert.notEqual(new URL(scrapeUrl).port, new URL(api).port);
    assert.equal((await fetch(`${api}/metrics`)).status, 404);
    assert.equal((await fetch(new URL('/', scrapeUrl))).status, 404);
    assert.equal((await fetch(scrapeUrl, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status, 405);
  });

  it('refuses a scrape without the bearer token, or with a wrong one', async () => {
    const none = await fetch(scrapeUrl);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal((await fetch(scrapeUrl, { headers: { authorization: `Bearer ${TOKEN}x` } })).status, 401);
    assert.equal((await fetch(scrapeUrl, { headers: { authorization: `Basic ${Buffer.from(`a:${TOKEN}`).toString('base64')}` } })).status, 401);
    assert.ok(!(await none.text()).includes(TOKEN));
  });

  it('counts logins by dialect, provider and outcome, and session checks by dialect and outcome', async () => {
    const ok = await hcxLogin(PASSWORD);
    assert.equal(ok.status, 200);
    const token = ok.headers.get('x-hm-authorization')!;
    tokens.push(token);
    assert.equal((await hcxLogin('wrong password 1')).status, 401);
    for (let i = 0; i < 2; i++) assert.equal((await fetch(`${api}/api/admin/v1/sessions`, { headers: { 'x-hm-authorization': token } })).status, 200);
    assert.equal((await fetch(`${api}/api/admin/v1/sessions`, { headers: { 'x-hm-authorization': 'not-a-token' } })).status, 401);
    const lx = await fetch(`${api}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ UserId: USER, password: PASSWORD }) });
    assert.equal(lx.status, 200);

    const s = await scrape();
    assert.equal(valueOf(s, 'portcullis_logins_total', { dialect: 'hcx', provider: 'local', outcome: 'success' }), 1);
    assert.equal(valueOf(s, 'portcullis_logins_total', { dialect: 'hcx', provider: 'local', outcome: 'invalid' }), 1);
    assert.equal(valueOf(s, 'portcullis_logins_total', { dialect: 'lxca', provider: 'local', outcome: 'success' }), 1);
    assert.equal(valueOf(s, 'portcullis_session_checks_total', { dialect: 'hcx', outcome: 'valid' }), 2);
    assert.equal(valueOf(s, 'portcullis_session_checks_total', { dialect: 'hcx', outcome: 'invalid' }), 1);
    // The checks took the fast path; the logins went through Fastify: both are timed per route pattern.
    assert.equal(valueOf(s, 'portcullis_http_request_duration_seconds_count', { dialect: 'hcx', route: '/api/admin/v1/sessions', method: 'GET', status_class: '2xx' }), 2);
    assert.equal(valueOf(s, 'portcullis_http_request_duration_seconds_count', { dialect: 'hcx', route: '/api/admin/v1/sessions', method: 'POST', status_class: '4xx' }), 1);
    assert.equal(valueOf(s, 'portcullis_active_sessions', { store: 'sqlite' }), 2);
    assert.ok(valueOf(s, 'portcullis_password_queue_limit') >= 1);
    assert.ok(valueOf(s, 'portcullis_password_queue_wait_seconds_count') >= 3);
    assert.ok(valueOf(s, 'portcullis_process_cpu_seconds_total') > 0, 'process metrics are exported');
  });

  it('counts a lockout and a throttled source, and the refusals they cause as locked and throttled', async () => {
    // One address cannot lock an account (it is throttled first): four addresses can.
    for (let i = 0; i < 4; i++) assert.equal((await hcxLogin(`wrong password ${i}`, LOCKED, `198.51.100.${i + 1}`)).status, 401);
    assert.equal((await hcxLogin(PASSWORD, LOCKED, '198.51.100.99')).status, 401);
    for (let i = 0; i < 3; i++) assert.equal((await hcxLogin(`wrong password ${i}`, 'nobody-here', '203.0.113.7')).status, 401);
    const s = await scrape();
    assert.equal(valueOf(s, 'portcullis_account_lockouts_total'), 1);
    assert.equal(valueOf(s, 'portcullis_source_throttles_total'), 1);
    assert.equal(valueOf(s, 'portcullis_logins_total', { dialect: 'hcx', provider: 'local', outcome: 'locked' }), 1);
    assert.equal(valueOf(s, 'portcullis_logins_total', { dialect: 'hcx', provider: 'local', outcome: 'throttled' }), 1);
  });

  it('exports every family of the catalogue, each series with exactly its declared labels and no user name, token or address', async () => {
    await fetch(`${api}/no/such/path/${USER}`);
    const text = await (await fetch(scrapeUrl, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    for (const name of METRIC_NAMES) assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is exported`);
    const samples = parseProm(text);
    const ours = samples.filter((x) => (METRIC_NAMES as readonly string[]).includes(familyOf(x.name)));
    assert.ok(ours.length > 10);
    for (const x of ours) {
      const declared = METRIC_LABELS[familyOf(x.name) as keyof typeof METRIC_LABELS];
      const names = Object.keys(x.labels).filter((l) => !(l === 'le' && x.name.endsWith('_bucket')));
      assert.deepEqual(names.sort(), [...declared].sort(), `${x.name} carries ${names.join(',')}`);
    }
    for (const x of samples) {
      for (const v of Object.values(x.labels)) {
        assert.ok(!v.includes(USER) && !v.includes(LOCKED), `${x.name} has a user name in a label`);
        assert.ok(!/\d+\.\d+\.\d+\.\d+/.test(v), `${x.name} has an address in a label: ${v}`);
        for (const t of tokens) assert.ok(!v.includes(t), `${x.name} has a token in a label`);
      }
    }
    // The unmatched path is one family, not one series per path.
    assert.ok(ours.some((x) => x.labels.route === 'unmatched'));
    assert.ok(!text.includes('/no/such/path'));
  });

  it('is installed while serving, and the no-op port is put back when the server stops', async () => {
    assert.notEqual(metrics(), noMetrics);
    await server.stop();
    assert.equal(metrics(), noMetrics);
    await assert.rejects(fetch(scrapeUrl), 'the metrics listener is closed');
  });
});

describe('metrics configuration', () => {
  it('is off by default, and refuses a non-loopback listener without a token', () => {
    assert.equal(loadConfig({ env: {} }).metrics.enabled, false);
    assert.throws(() => loadConfig({ env: {}, overrides: { 'metrics.enabled': true, 'metrics.host': '0.0.0.0' } }), /metrics\.host: metrics on a non-loopback address need bearerToken/);
    assert.doesNotThrow(() => loadConfig({ env: {}, overrides: { 'metrics.enabled': true, 'metrics.host': '0.0.0.0', 'metrics.bearerToken': TOKEN } }));
    assert.throws(() => loadConfig({ env: {}, overrides: { 'metrics.bearerToken': 'short' } }), /metrics\.bearerToken: must be at least 16/);
  });
});
