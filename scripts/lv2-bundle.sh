#!/usr/bin/env bash
# Builds the LV2 bundle: target/lv2/nam-graph.lv2/ with the plugin binary,
# manifest.ttl, nam-graph.ttl, modgui.ttl and modgui/.
#   scripts/lv2-bundle.sh [--debug] [--target TRIPLE]
# --target aarch64-unknown-linux-gnu builds for the MOD Dwarf (cross linker
# from scripts/test.sh's packages); the bundle then lands in
# target/lv2-TRIPLE/nam-graph.lv2/.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
target=
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) profile=debug ;;
    --target) target=$2; shift ;;
    *) echo "usage: $0 [--debug] [--target TRIPLE]" >&2; exit 2 ;;
  esac
  shift
done
args=(-p nam-lv2 --lib --locked)
[ "$profile" = release ] && args+=(--release)
[ -n "$target" ] && args+=(--target "$target")
cargo build "${args[@]}"
out=target/${target:+$target/}$profile
bundle=target/lv2${target:+-$target}/nam-graph.lv2
rm -rf "$bundle"
mkdir -p "$bundle"
cp "$out/libnam_lv2.so" "$bundle/"
cp ttl/manifest.ttl ttl/nam-graph.ttl ttl/modgui.ttl "$bundle/"
cp -r ttl/modgui "$bundle/"
echo "$bundle"
