#!/usr/bin/env bash
# Worked example: a client's session expires in the middle of its job, on demand.
# Starts a private Portcullis in client-testing mode, logs a client in over HCX,
# polls, expires the session between two polls, and shows what the client sees.
# Usage: bash examples/client-testing/expire-mid-run.sh   (after npm run build)
set -euo pipefail
cd "$(dirname "$0")/../.."
DIR=$(mktemp -d)
PORT=${PORT:-19543}
PC="https://127.0.0.1:$PORT"
portcullis() { node dist/cli.js --data-dir "$DIR" "$@"; }
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DIR"' EXIT

portcullis serve --port "$PORT" --client-testing > "$DIR/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do grep -q 'is serving' "$DIR/serve.log" 2>/dev/null && break; sleep 0.1; done
echo 'Jobs-Pass-1234567' | portcullis user add robot --role 'System Administrator' --password-stdin

echo "== the client logs in"
TOKEN=$(curl -sk -D - -o /dev/null "$PC/api/admin/v1/sessions" -H 'Content-Type: application/json' \
        -d '{"username":"robot","password":"Jobs-Pass-1234567"}' | awk 'tolower($1)=="x-hm-authorization:" {print $2}' | tr -d '\r')
echo "== poll 1: $(curl -sk -o /dev/null -w '%{http_code}' "$PC/api/admin/v1/sessions" -H "x-hm-authorization: $TOKEN")"

echo "== the session expires mid-run (as if the inactivity timeout had passed)"
portcullis testing expire robot --kind idle

echo "== poll 2, what the client sees:"
curl -sk -w '\nstatus %{http_code}\n' "$PC/api/admin/v1/sessions" -H "x-hm-authorization: $TOKEN"

echo "== and a one-shot 503 on the next login, with Retry-After (an appliance restarting)"
portcullis fault add --op login --status 503 --count 1 > /dev/null
curl -sk -D - -o /dev/null "$PC/api/admin/v1/sessions" -H 'Content-Type: application/json' \
     -d '{"username":"robot","password":"Jobs-Pass-1234567"}' | grep -i -E '^(HTTP|retry-after)'
echo "== the login after it works again: $(curl -sk -o /dev/null -w '%{http_code}' "$PC/api/admin/v1/sessions" -H 'Content-Type: application/json' -d '{"username":"robot","password":"Jobs-Pass-1234567"}')"
