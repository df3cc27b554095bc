#!/usr/bin/env bash
# Installs everything (Debian packages for the real test servers: slapd, ldap-utils,
# libpam0g-dev, postgresql, redis-server; npm packages),
# builds, and runs the whole test suite. Exits non-zero when any test fails.
# This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_toolchain
ensure_test_servers
ensure_browser
ensure_redfish_clients
ensure_node_modules
build
exec bash scripts/test.sh
