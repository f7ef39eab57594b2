#!/bin/sh
# `npm run demo`: installs the demo's runtime tools when missing (Debian, as root), builds if needed,
# then runs `carp demo` with the given options (npm run demo -- --ci, --duration 10, --cleanup, ...).
set -eu
cd "$(dirname "$0")/.."

need=""
for pair in iproute2:ip tcpdump:tcpdump ucarp:ucarp; do
  command -v "${pair#*:}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair#*:}" ] || need="$need ${pair%%:*}"
done
if [ -n "$need" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "demo: installing$need with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q $need >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q $need >/dev/null; } ||
      echo "demo: could not install$need; continuing (ucarp is optional)" >&2
  else
    echo "demo: missing$need (apt-get install$need); ucarp is optional" >&2
  fi
fi

# tsc emits even when an unrelated file has a type error; the demo checks what it needs itself.
[ -f dist/cli/main.js ] && [ -f dist/cli/demo.js ] || npx tsc -p tsconfig.build.json || true
exec node dist/cli/main.js demo "$@"
