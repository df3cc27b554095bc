import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { loadConfig } from '../../src/config.js';
import { SecondFactorService } from '../../src/core/second-factor.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { openPortcullis, type Portcullis } from '../../src/service.js';
import { FAST_ARGON2, RecordingLogger, tempDir } from '../helpers.js';

/*
 * The console in a real browser: Debian's chromium, headless, driven by
 * playwright-core, against a real Portcullis over TLS on loopback. Every page is
 * checked by axe-core (no serious or critical violation) and photographed into
 * test-artifacts/console/ (gitignored). Bounded: every wait has a timeout.
 */

const CHROMIUM = process.env.PORTCULLIS_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'console');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const missing = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed (scripts/lib.sh ensure_browser installs it)`;

describe('console in a real browser', { skip: missing, timeout: 150_000 }, () => {
  const dir = tempDir('portcullis-browser-');
  let p: Portcullis;
  let server: RunningServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  let firstPassword = '';
  const cspViolations: string[] = [];
  const ADMIN_PASSWORD = 'Console-Admin-Pass-1';

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: dir.path,
        'listen.port': 0,
        trustProxy: true,
        'argon2.memoryKiB': FAST_ARGON2.memoryKiB,
        'argon2.iterations': FAST_ARGON2.iterations,
        'accountSettings.MaxConcurrentSessions': 0,
        'accountSettings.MaximumLoginFailures': 6,
        'bruteForce.sourceMaxFailures': 3,
        'log.level': 'silent',
      },
    });
    p = await openPortcullis(config, new RecordingLogger(), { touchFlushMs: 0 });
    server = await startServer(p, new RecordingLogger(), (text) => {
      firstPassword = /password: (\S+)/.exec(text)?.[1] ?? firstPassword;
    });
    base = server.url;
    assert.ok(firstPassword, 'the first administrator password was shown');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 30_000 });
    context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'Europe/Berlin' });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) cspViolations.push(m.text());
    });
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await server?.stop();
    await p?.close();
    dir.remove();
  });

  /** axe-core on the page as it is: no serious or critical violation. Injected over the devtools protocol (the page's CSP forbids inline script, rightly). */
  async function accessible(name: string): Promise<void> {
    await page.evaluate(axeSource);
    const result = (await page.evaluate(async () => {
      const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
      return axe.run(document, { resultTypes: ['violations'] });
    })) as { violations: { id: string; impact: string; nodes: { target: string[] }[] }[] };
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    assert.deepEqual(
      bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`),
      [],
      `axe on ${name}`,
    );
  }

  async function shot(name: string): Promise<void> {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  }

  async function check(name: string): Promise<void> {
    await accessible(name);
    await shot(name);
  }

  async function signIn(username: string, password: string, otp?: string): Promise<void> {
    await page.goto(`${base}/portcullis/login`);
    await page.getByLabel('User name').fill(username);
    await page.getByLabel('Password').fill(password);
    if (otp !== undefined) await page.getByLabel('Authentication code').fill(otp);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState('load');
  }

  async function signOut(): Promise<void> {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/portcullis\/login$/);
  }

  const hcxLogin = (username: string, password: string, from: string) =>
    server.app.inject({ method: 'POST', url: '/api/admin/v1/sessions', headers: { 'x-forwarded-for': from }, payload: { username, password } });

  it('first administrator: the root URL leads to sign-in, then the forced password change, then the dashboard', async () => {
    await page.goto(`${base}/`);
    await page.waitForURL(/\/portcullis\/login$/);
    assert.equal(await page.title(), 'Sign in · Portcullis');
    await check('01-sign-in');
    // Keyboard: the user name field has the focus and Tab walks the form in order; the skip link is the first thing on the page.
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      order.push(String(await page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent?.trim())));
      await page.keyboard.press('Tab');
    }
    order.push(String(await page.evaluate(() => document.activeElement?.textContent?.trim())));
    assert.deepEqual(order, ['username', 'password', 'otp', 'Sign in']);
    assert.equal(await page.evaluate(() => document.body.firstElementChild?.textContent), 'Skip to content');
    await page.getByLabel('User name').fill('admin');
    await page.getByLabel('Password').fill(firstPassword);
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/portcullis\/login\/password/);
    assert.match(await page.locator('#rules').innerText(), /At least 8 characters/);
    await check('02-forced-password-change');
    await page.getByLabel('Current password').fill(firstPassword);
    await page.getByLabel('New password', { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByLabel('New password again').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.waitForURL(`${base}/console/`);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Dashboard');
  });

  it('the charts render with data after a scripted burst of logins', async () => {
    await p.accounts.create({ username: 'carol', password: 'Carol-Pass-12', roles: ['Appliance Administrator'] });
    await p.accounts.create({ username: 'dave', password: 'Dave-Pass-123', roles: ['Appliance Administrator'] });
    for (let i = 0; i < 12; i++) assert.equal((await hcxLogin('carol', 'Carol-Pass-12', `192.0.2.${i + 1}`)).statusCode, 200);
    // Wrong passwords for dave from many addresses: dave locks at the 6th.
    for (let i = 0; i < 7; i++) await hcxLogin('dave', `wrong-${i}-password`, `198.51.100.${i + 1}`);
    // One address guessing: throttled after 3.
    for (let i = 0; i < 4; i++) await hcxLogin('carol', `guess-${i}-password`, '203.0.113.9');
    await page.goto(`${base}/console/`);
    await page.locator('[data-chart="logins"][data-rendered] canvas').waitFor({ timeout: 15_000 });
    await page.locator('[data-chart="sessions"][data-rendered] canvas').waitFor();
    await page.locator('[data-chart="lockouts"][data-rendered] canvas').waitFor();
    assert.match(await page.locator('[data-chart="logins"]').getAttribute('aria-label') ?? '', /1[3-9] succeeded|[2-9]\d succeeded/);
    assert.match(await page.locator('.chart').nth(2).innerText(), /1 accounts locked/);
    // The legend shows the series the server sent.
    assert.match(await page.locator('[data-chart="logins"]').innerText(), /Succeeded[\s\S]*Failed[\s\S]*Throttled/);
    await check('03-dashboard');
  });

  it('an administrator revokes a user\'s HCX session, and the token then gets 401 on the HCX API', async () => {
    const login = await hcxLogin('carol', 'Carol-Pass-12', '192.0.2.200');
    const token = String(login.headers['x-hm-authorization']);
    assert.equal((await server.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': token } })).statusCode, 200);
    await page.goto(`${base}/console/sessions?user=carol&source=192.0.2.200`);
    await check('04-sessions');
    await page.getByRole('button', { name: /Revoke carol's HCX session from 192\.0\.2\.200/ }).click();
    await page.waitForURL(/done=/);
    assert.match(await page.locator('.notice.ok').innerText(), /Session revoked/);
    assert.equal((await server.app.inject({ method: 'GET', url: '/api/admin/v1/sessions', headers: { 'x-hm-authorization': token } })).statusCode, 401);
  });

  it('unlocks a locked account and releases a throttled source', async () => {
    assert.equal((await p.accounts.lockState('dave')).locked, true);
    await page.goto(`${base}/console/lockouts`);
    await check('05-lockouts');
    await page.getByRole('button', { name: 'Unlock dave' }).click();
    await page.waitForURL(/done=/);
    assert.equal((await p.accounts.lockState('dave')).locked, false);
    assert.equal((await hcxLogin('carol', 'Carol-Pass-12', '203.0.113.9')).statusCode, 401, 'throttled source');
    await page.getByRole('button', { name: 'Release 203.0.113.9' }).click();
    await page.waitForURL(/done=/);
    assert.match(await page.locator('.notice.ok').innerText(), /203\.0\.113\.9 released/);
    assert.equal((await hcxLogin('carol', 'Carol-Pass-12', '203.0.113.9')).statusCode, 200);
  });

  it('every other administrator page passes axe and fits a narrow window', async () => {
    for (const [name, url] of [
      ['06-accounts', '/console/accounts'],
      ['07-account-detail', '/console/accounts/carol'],
      ['08-audit', '/console/audit?kind=login.'],
      ['09-policy', '/console/policy'],
      ['10-identity', '/console/identity'],
      ['11-my-account', '/console/account'],
    ] as const) {
      await page.goto(`${base}${url}`);
      assert.equal(page.url(), `${base}${url}`);
      await check(name);
    }
    // Dates are shown in the browser's locale, with the UTC value on hover.
    const t = page.locator('time').first();
    assert.match((await t.getAttribute('title')) ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(UTC\)$/);
    assert.doesNotMatch(await t.innerText(), /UTC/);
    await page.setViewportSize({ width: 380, height: 800 });
    for (const url of ['/console/', '/console/sessions', '/console/audit']) {
      await page.goto(`${base}${url}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${url} scrolls sideways by ${overflow}px`);
    }
    await shot('12-dashboard-narrow');
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('TOTP: enrolment with the QR code, sign out, sign in with a code, then with a recovery code', async () => {
    await page.goto(`${base}/console/account/totp`);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await page.locator('img.qr').waitFor();
    await check('13-totp-enrol');
    const secret = (await page.locator('#totp-secret').innerText()).replaceAll(' ', '');
    await page.getByLabel('6-digit code').fill(SecondFactorService.codeAt(secret, Date.now()));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.locator('#recovery-codes').waitFor();
    const codes = (await page.locator('#recovery-codes code').allInnerTexts()).map((c) => c.trim());
    assert.equal(codes.length, 10);
    await check('14-totp-recovery-codes');
    await signOut();
    // The password alone is not enough any more.
    await signIn('admin', ADMIN_PASSWORD);
    assert.match(await page.locator('.notice.error').innerText(), /not valid/);
    // The code of the next 30-second step (within the accepted window; the current one was spent by the enrolment).
    await signIn('admin', ADMIN_PASSWORD, SecondFactorService.codeAt(secret, Date.now() + 30_000));
    assert.equal(page.url(), `${base}/console/`);
    await signOut();
    await signIn('admin', ADMIN_PASSWORD, codes[0]!);
    assert.equal(page.url(), `${base}/console/`);
    await signOut();
    await signIn('admin', ADMIN_PASSWORD, codes[0]!);
    assert.match(page.url(), /\/portcullis\/login$/, 'a recovery code works once');
  });

  it('no page broke its Content-Security-Policy', () => {
    assert.deepEqual(cspViolations, []);
  });
});
