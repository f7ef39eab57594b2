#!/usr/bin/env bash
# Builds carp_codec with AddressSanitizer + UBSan into a temp dir (not build/, which is shared)
# and runs native/codec/sanitize-smoke.cjs against it. Exit status 0 = clean.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d /tmp/carp-asan.XXXXXX)
trap 'rm -rf "$out"' EXIT
inc=$(node -p "require('node-addon-api').include_dir")
nodeinc=${NODE_INCLUDE:-/usr/include/node}
g++ -std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
  -fPIC -shared -DNAPI_VERSION=8 -DNAPI_DISABLE_CPP_EXCEPTIONS -I"$nodeinc" -I"$inc" \
  native/codec/sha1.cc native/codec/carp_codec.cc native/codec/binding.cc -o "$out/carp_codec.node"
LD_PRELOAD="$(g++ -print-file-name=libasan.so):$(g++ -print-file-name=libubsan.so)" ASAN_OPTIONS=detect_leaks=0 \
  node native/codec/sanitize-smoke.cjs "$out/carp_codec.node"
