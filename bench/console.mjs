// Console / TOTP benchmark (issue 14), in one process through Fastify's inject (no socket):
//
//   npm run bench:console            # builds src and the test helpers, then runs
//   N=300 node bench/console.mjs     # logins per case (default 200)
//
// C1  XClarity login (POST /sessions) of an account without a second factor, and of an
//     account with TOTP (password + 6-digit code): what the factor lookup, the HMACs and
//     the atomic step claim add to a login. Default argon2id parameters (m=19 MiB, t=2).
// C2  The HTML login page (GET the form, POST it: csrf token, session cookie, 303) against
//     the XClarity JSON login, same account.
// Each case runs sequentially (latency, not throughput); p50 and p99 in ms.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const helpers = join(root, 'build', 'test', 'helpers.js');
if (!existsSync(helpers)) {
  console.error('build/test is missing: run `npx tsc -p tsconfig.test.json` (npm run bench:console does)');
  process.exit(2);
}
const { harness, addUser } = await import(helpers);
const { webLogin } = await import(join(root, 'build', 'test', 'console', 'web-helpers.js'));
const { SecondFactorService } = await import(join(root, 'build', 'src', 'core', 'second-factor.js'));
const { ManualClock } = await import(join(root, 'build', 'src', 'ports', 'clock.js'));

const N = Number(process.env.N ?? 200);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const fmt = (xs) => `p50 ${pct(xs, 50).toFixed(2)} ms  p99 ${pct(xs, 99).toFixed(2)} ms  (n=${xs.length})`;

const clock = new ManualClock(Date.now());
const h = await harness({ clock, overrides: { 'argon2.memoryKiB': 19456, 'argon2.iterations': 2, 'bruteForce.sourceMaxFailures': 10 } });
try {
  await addUser(h, 'plain', 'Plain-Pass-12', ['Operator']);
  await addUser(h, 'otp', 'Otp-Pass-1234', ['Operator']);
  const ctx = { requestId: 'bench', clientAddress: '127.0.0.1', dialect: 'bench' };
  const { secret } = await h.p.secondFactors.begin('otp', 'local');
  await h.p.secondFactors.confirm('otp', SecondFactorService.codeAt(secret, clock.now()), ctx);

  const lxca = (u, p) => h.app.inject({ method: 'POST', url: '/sessions', payload: { UserId: u, password: p } });
  const time = async (fn) => {
    const out = [];
    for (let i = 0; i < N; i++) {
      clock.advance(30_000); // a fresh TOTP step each login (a code is accepted once)
      const t = performance.now();
      const r = await fn();
      out.push(performance.now() - t);
      if (r.statusCode !== 200 && r.statusCode !== 303) throw new Error(`status ${r.statusCode}: ${r.body.slice(0, 200)}`);
    }
    return out;
  };
  // Warm up the hashing threads and the JIT.
  await time(() => lxca('plain', 'Plain-Pass-12'));
  const plain = await time(() => lxca('plain', 'Plain-Pass-12'));
  const withOtp = await time(() => lxca('otp', `Otp-Pass-1234${SecondFactorService.codeAt(secret, clock.now())}`));
  const page = await time(() => webLogin(h, { username: 'plain', password: 'Plain-Pass-12' }));
  console.log(`C1 XClarity login, no second factor     ${fmt(plain)}`);
  console.log(`C1 XClarity login, password + TOTP code  ${fmt(withOtp)}  (p50 ratio ${(pct(withOtp, 50) / pct(plain, 50)).toFixed(3)})`);
  console.log(`C2 HTML login page (GET form + POST)     ${fmt(page)}  (p50 ratio ${(pct(page, 50) / pct(plain, 50)).toFixed(3)})`);
} finally {
  await h.close();
}
