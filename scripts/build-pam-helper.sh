#!/bin/sh
# Compiles the PAM helper (src/adapters/identity/pam/helper.c) into dist/bin.
# --at-install (npm install of the package): never fails, says what is missing and how to fix it.
# --if-possible (npm run build, scripts/check.sh): a missing compiler or PAM headers is reported, not fatal;
#   a compile error is. No option (npm run build:pam): anything missing fails.
set -u
cd "$(dirname "$0")/.." || exit 1
src=src/adapters/identity/pam/helper.c
out=dist/bin/portcullis-pam-helper
mode=${1:-strict}
fail() {
  echo "portcullis: the PAM helper was not built: $1" >&2
  echo "portcullis:   PAM logins (identity.pam) fail until it is; local accounts and LDAP work without it." >&2
  echo "portcullis:   fix: apt-get install gcc libpam0g-dev libcrypt-dev, then run \"npm run build:pam\" in $(pwd)" >&2
  [ "$mode" = "--at-install" ] && exit 0
  [ "$mode" = "--if-possible" ] && [ "${2:-}" = "missing" ] && exit 0
  exit 1
}
[ -f "$src" ] || fail "$src is missing from the package" missing
if [ -x "$out" ] && [ "$out" -nt "$src" ]; then exit 0; fi
command -v cc >/dev/null 2>&1 || fail "no C compiler (cc)" missing
[ -f /usr/include/security/pam_appl.h ] || fail "the PAM headers are missing (libpam0g-dev)" missing
mkdir -p dist/bin || fail "cannot create dist/bin"
cc -O2 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fstack-protector-strong -o "$out.tmp" "$src" -lpam -lcrypt || fail "the compiler failed (see above)"
chmod 0755 "$out.tmp" && mv "$out.tmp" "$out" || fail "cannot install $out"
echo "portcullis: built $out" >&2
