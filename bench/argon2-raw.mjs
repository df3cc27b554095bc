// The hashing ceiling: argon2id verifications per second at the given parameters and
// concurrency, for DURATION_MS. Prints one JSON line.
import { Algorithm, hash, verify } from '@node-rs/argon2';

const params = { algorithm: Algorithm.Argon2id, memoryCost: Number(process.env.M ?? 19456), timeCost: Number(process.env.T ?? 2), parallelism: Number(process.env.P ?? 1) };
const concurrency = Number(process.env.CONCURRENCY ?? 8);
const duration = Number(process.env.DURATION_MS ?? 10000);
const stored = await hash('bench-password-1', params);
let done = 0;
const end = Date.now() + duration;
const latencies = [];
async function loop() {
  while (Date.now() < end) {
    const t = performance.now();
    await verify(stored, 'bench-password-1');
    latencies.push(performance.now() - t);
    done++;
  }
}
const t0 = Date.now();
const cpu0 = process.cpuUsage();
await Promise.all(Array.from({ length: concurrency }, loop));
const secs = (Date.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
// CPU of the whole process (its hashing threads, mostly) per verification, ms.
process.stdout.write(JSON.stringify({ rate: done / secs, p50: pct(0.5), p99: pct(0.99), cpuMs: (cpu.user + cpu.system) / 1000 / done }) + '\n');
