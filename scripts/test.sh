#!/usr/bin/env bash
# Compiles src/ and test/ to build/ and runs every test file with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf build
npx tsc -p tsconfig.test.json
npx tsc -p src/web/tsconfig.json
# dist/ as it ships (package.json's build:code): the tests that run dist/cli.js run the bundle.
npm run --silent build:code
mapfile -t files < <(find build/test -name '*.test.js' | sort)
if [ "${#files[@]}" -eq 0 ]; then echo "no test files found" >&2; exit 1; fi
exec node --test --test-reporter=spec --test-concurrency=1 "${files[@]}"
