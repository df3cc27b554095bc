import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The console's built assets (scripts/build-web.mjs, run by `npm run build`):
 * files named by their content hash under dist/web, listed in dist/web/manifest.json
 * as { "console.js": "console-3FQ2ZK4M.js", ... }. Served with a year's cache.
 */
export interface Assets {
  /** URL of a logical asset ("console.js", "console.css"), or undefined when it was not built. */
  url(name: string): string | undefined;
  /** The bytes and type of a hashed file name, or undefined. */
  file(hashedName: string): { body: Buffer; type: string } | undefined;
}

export const ASSET_PREFIX = '/console/assets/';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
};

/** The package's root: the nearest folder above this module holding package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the console module');
    dir = up;
  }
}

export function webAssetDir(): string {
  return join(packageRoot(), 'dist', 'web');
}

/** Reads the manifest once; every file is read on first request and kept (they never change while running). */
export function loadAssets(dir = webAssetDir()): Assets {
  let manifest: Record<string, string> = {};
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, string>;
  } catch {
    manifest = {};
  }
  const served = new Set(Object.values(manifest));
  const cache = new Map<string, { body: Buffer; type: string }>();
  return {
    url: (name) => (manifest[name] ? ASSET_PREFIX + manifest[name] : undefined),
    file(hashedName) {
      if (!served.has(hashedName)) return undefined;
      let f = cache.get(hashedName);
      if (!f) {
        const ext = hashedName.slice(hashedName.lastIndexOf('.'));
        f = { body: readFileSync(join(dir, hashedName)), type: TYPES[ext] ?? 'application/octet-stream' };
        cache.set(hashedName, f);
      }
      return f;
    },
  };
}
