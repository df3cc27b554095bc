import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build:pam` (and scripts/check.sh) put the helper, relative to the package root. */
export const HELPER_RELATIVE_PATH = join('dist', 'bin', 'portcullis-pam-helper');

/** The package's root: the nearest directory above this module with Portcullis's package.json. */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'portcullis') return dir;
      } catch {
        // not ours: keep looking
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** The helper's default path, whether running from dist/ or from a test build. */
export function defaultHelperPath(): string {
  const root = packageRoot();
  return root ? join(root, HELPER_RELATIVE_PATH) : HELPER_RELATIVE_PATH;
}
