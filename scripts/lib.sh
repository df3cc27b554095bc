# Shared by start.sh and check.sh: installs what Portcullis needs to build, idempotently.
# Runs non-interactively; as root it installs missing Debian packages itself.

log() { printf '\033[1m[portcullis]\033[0m %s\n' "$*" >&2; }

apt_updated=0
# apt_install PKG...: installs the Debian packages that are not installed yet.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: ${missing[*]} (run as root, or install them: apt-get install ${missing[*]})"
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Node 20+ is a precondition; a compiler toolchain is needed to build better-sqlite3 from source.
ensure_toolchain() {
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -lt 20 ]; then log "Node.js 20 or later is required (found: $(node --version 2>/dev/null || echo none))"; return 1; fi
  if ! command -v make >/dev/null || ! command -v g++ >/dev/null || ! command -v python3 >/dev/null; then
    apt_install build-essential python3
  fi
  ensure_pam_build_deps || true
}

# What the PAM helper is compiled against (libpam headers; crypt.h for its decoy hash).
ensure_pam_build_deps() {
  apt_install libpam0g-dev libcrypt-dev
}

# The real servers the tests run against: slapd and the LDAP tools, PostgreSQL, Redis.
# slapd must not create a directory of its own on install (the tests start private instances).
ensure_test_servers() {
  if ! dpkg-query -W -f='${Status}' slapd 2>/dev/null | grep -q 'install ok installed' && [ "$(id -u)" -eq 0 ]; then
    echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  fi
  apt_install slapd ldap-utils openssl curl
  # PostgreSQL and Redis for the shared-store tests: private instances under a temp dir,
  # never the packages' own (Debian may start those on install; the tests do not use them).
  apt_install postgresql redis-server
  # The gateway's proxies: private nginx (auth_request) and Caddy (forward_auth) instances on loopback.
  apt_install nginx caddy
  # A private rsyslogd receives the audit events over UDP, TCP and TLS (rsyslog-openssl: its TLS driver).
  apt_install rsyslog rsyslog-openssl
  # systemd-analyze checks the shipped unit file (test/ops/package.test.ts).
  command -v systemd-analyze >/dev/null || apt_install systemd
  # A real vCenter client for the vCenter dialect's test: VMware's Go SDK (govmomi), built in GOPATH mode.
  apt_install golang-go golang-github-vmware-govmomi-dev
}

# Real Redfish clients the suite runs against a live service: DMTF's redfishtool and
# OpenStack's sushy library (Debian's python3-sushy, for /usr/bin/python3).
ensure_redfish_clients() {
  apt_install redfishtool python3-sushy
}

# Headless Chromium (driven by playwright-core; no browser download) for the console's browser tests and the /docs viewer test.
ensure_browser() {
  apt_install chromium fonts-dejavu-core
}

# Compiles the PAM helper (src/adapters/identity/pam/helper.c) into dist/bin, from source
# (the same script runs at `npm install` of the packed package).
build_pam_helper() {
  sh scripts/build-pam-helper.sh --if-possible
}

# npm ci, skipped when node_modules already matches package-lock.json.
ensure_node_modules() {
  local want have
  want=$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)
  have=$(cat node_modules/.portcullis-installed 2>/dev/null || true)
  if [ "$want" != "$have" ]; then
    log "npm ci (builds better-sqlite3 from source: about a minute)"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > node_modules/.portcullis-installed
  fi
}

build() {
  log "building"
  npm run --silent build:code # the code, the console's browser assets, the command line's bundle (package.json)
  chmod +x dist/cli.js
  build_pam_helper
}
