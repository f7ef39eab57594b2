#!/bin/sh
# `npm test`'s pretest: installs the system tools the tests drive (Debian, as root, with apt-get) when
# missing, then builds the addon and the TypeScript when build/ or dist/ is missing. Silent when nothing
# is missing; one line per package installed; one line and exit 1 when something cannot be provided.
set -eu
cd "$(dirname "$0")/.."

fail() { echo "test-deps: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] || [ -x "/usr/lib/frr/$1" ]; }

# package:command the tests run (setpriv is util-linux, sysctl procps, systemd-analyze systemd); g++ and
# make build the addon (and the package test's npm pack builds it again); git lists the files it packs;
# frr's vrrpd (in /usr/lib/frr) is the VRRPv3 interop peer beside keepalived.
TOOLS="ucarp:ucarp tcpdump:tcpdump tshark:tshark keepalived:keepalived nftables:nft iproute2:ip procps:sysctl \
       util-linux:setpriv python3:python3 systemd:systemd-analyze g++:g++ make:make git:git frr:vrrpd"
need=""
for pair in $TOOLS; do
  have "${pair#*:}" || need="$need ${pair%%:*}"
done
# The addon, built from source (build/Release) or prebuilt (prebuilds/): the tests need both addons.
plat=$(node -p 'process.platform + "-" + process.arch')
addon() { [ -f "build/Release/$1.node" ] || [ -f "prebuilds/$plat/$1.node" ]; }
no_addon() { ! addon carp_codec || ! addon carp_io; }
# libpcap is dlopen()ed at run time: tcpdump brings libpcap0.8.

if [ -n "$need" ]; then
  [ "$(id -u)" = 0 ] || fail "missing$need: run npm test as root (the tests build network namespaces) or apt-get install$need"
  command -v apt-get >/dev/null 2>&1 || fail "missing$need and no apt-get here: install them with your package manager"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no instead of waiting for a terminal.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
  for pkg in $need; do echo "test-deps: installing $pkg"; done
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  apt-get update -q >"$log" 2>&1 || fail "apt-get update failed: $(tail -n 1 "$log")"
  # shellcheck disable=SC2086 # one word per package
  # Wait for the dpkg lock (unattended-upgrades at first boot, or another install) rather than fail.
  apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends $need >"$log" 2>&1 || fail "apt-get install$need failed: $(tail -n 1 "$log")"
  for pair in $TOOLS; do
    have "${pair#*:}" || fail "${pair%%:*} installed but ${pair#*:} is still not found"
  done
fi

# tsc emits even when a file has a type error (npm run typecheck reports those): judge by what was built.
built() { [ -f dist/index.js ] && [ -f dist/cli/main.js ]; }
if no_addon; then
  echo "test-deps: building the native addon and dist/"
  npm run --silent build >/dev/null 2>&1 || true
  no_addon && fail "building the native addon failed (run npm run build to see why)"
  built || fail "building dist/ failed (run npm run build:ts to see why)"
elif ! built; then
  echo "test-deps: building dist/"
  npm run --silent build:ts >/dev/null 2>&1 || true
  built || fail "building dist/ failed (run npm run build:ts to see why)"
fi
