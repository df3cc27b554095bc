// Builds the console's browser assets into dist/web with content-hashed names and a
// manifest.json the server reads (src/dialects/console/assets.ts). Run by `npm run build`.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { console: 'src/web/console.ts', style: 'src/web/console.css' },
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'esm',
  target: ['es2020'],
  outdir: out,
  entryNames: '[name]-[hash]',
  metafile: true,
  logLevel: 'warning',
  legalComments: 'linked',
});
const manifest = {};
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (!meta.entryPoint) continue;
  const name = basename(file);
  const logical = name.replace(/-[A-Z0-9]{8}(\.\w+)$/, '$1');
  manifest[logical === 'style.css' ? 'console.css' : logical] = name;
}
writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
console.error(`[portcullis] built console assets: ${Object.values(manifest).join(', ')}`);
