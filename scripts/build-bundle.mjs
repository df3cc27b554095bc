// Bundles the command line (dist/cli.js, what `portcullis` runs) into one module and
// chunks for what it imports only when used (the PostgreSQL and Redis stores, metrics,
// TLS generation), after tsc. Node 20 resolves, reads and compiles each of the ~130
// modules of dist/ one by one: the bundle starts the service ~40 ms sooner (BENCHMARKS
// B4c). Packages stay outside (node_modules), as do dist/'s other modules for those who
// import them (dist/index.js); the password-hashing thread runs its own file
// (dist/adapters/hasher/verify-worker.js). Run by `npm run build`; `tsc` alone leaves
// dist/cli.js unbundled, which runs the same.
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const tmp = join(dist, '.bundle');
const entry = readFileSync(join(dist, 'cli.js'), 'utf8');
if (entry.includes('"./chunks/')) {
  console.error('[portcullis] dist/cli.js is already the bundle: run tsc first (npm run build does both)');
  process.exit(1);
}
rmSync(tmp, { recursive: true, force: true });
rmSync(join(dist, 'chunks'), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { cli: 'dist/cli.js' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: ['node20'],
  packages: 'external',
  outdir: tmp,
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: true,
  metafile: true,
  logLevel: 'warning',
});
// Into place: dist/cli.js (with its shebang, kept by esbuild) and dist/chunks/.
renameSync(join(tmp, 'chunks'), join(dist, 'chunks'));
renameSync(join(tmp, 'cli.js'), join(dist, 'cli.js'));
renameSync(join(tmp, 'cli.js.map'), join(dist, 'cli.js.map'));
rmSync(tmp, { recursive: true, force: true });
const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
console.error(`[portcullis] bundled the command line: dist/cli.js and ${outputs.length - 1} chunks`);
