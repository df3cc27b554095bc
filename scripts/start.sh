#!/usr/bin/env bash
# Installs what is missing, builds, and starts Portcullis on its embedded defaults:
# SQLite in ./data, a self-signed certificate, HTTPS on 127.0.0.1:9443, and on first
# start an `admin` account whose one-time password is printed below.
# Extra arguments go to `portcullis serve` (e.g. --host 0.0.0.0 --port 8443).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_toolchain
ensure_node_modules
build
exec node dist/cli.js serve "$@"
