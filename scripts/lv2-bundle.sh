#!/usr/bin/env bash
# Builds the LV2 bundle nam-graph.lv2/: the plugin binary, manifest.ttl,
# nam-graph.ttl, modgui.ttl and modgui/ (MOD's pedal face: the template and
# stylesheet from ttl/modgui/, its PNGs rendered from ttl/modgui-art/ by
# scripts/modgui-art.py, which needs rsvg-convert: Debian's librsvg2-bin).
#   scripts/lv2-bundle.sh                 release build for this machine
#                                         -> target/lv2/nam-graph.lv2/
#   scripts/lv2-bundle.sh --debug         debug build, same place
#   scripts/lv2-bundle.sh --mod           MOD Dwarf build (aarch64, glibc 2.27,
#                                         -C target-cpu=cortex-a35: the Dwarf's core)
#                                         -> target/lv2-mod/nam-graph.lv2/
# The MOD build links against glibc 2.27 (what MOD OS ships; Debian 12's cross
# linker would require glibc 2.35) with cargo-zigbuild and zig, both installed
# on first use into .cache/ (zig from PyPI's ziglang wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rsvg-convert >/dev/null \
  || { echo "error: lv2-bundle: rsvg-convert not found (it renders the MOD GUI's images): apt-get install librsvg2-bin" >&2; exit 1; }
profile=release
mod=
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) profile=debug ;;
    --mod) mod=1 ;;
    *) echo "usage: $0 [--debug] [--mod]" >&2; exit 2 ;;
  esac
  shift
done

if [ -n "$mod" ]; then
  tools=$PWD/.cache/mod-toolchain
  if ! "$tools/venv/bin/python" -c "import ziglang" 2>/dev/null; then
    python3 -m venv "$tools/venv"
    "$tools/venv/bin/pip" install -q ziglang >&2
  fi
  [ -x "$tools/bin/cargo-zigbuild" ] || cargo install -q cargo-zigbuild --locked --root "$tools" >&2
  export PATH=$tools/bin:$tools/venv/bin:$PATH
  triple=aarch64-unknown-linux-gnu
  rustup target list --installed | grep -qx $triple || rustup target add $triple >&2
  args=(zigbuild -p nam-lv2 --lib --locked --target "$triple.2.27")
  [ "$profile" = release ] && args+=(--release)
  # Tuned for the Dwarf's Cortex-A35 (scheduling; its ISA is plain ARMv8.0-A + CRC).
  # A target-specific variable: build scripts and proc macros still run on the host.
  # cargo-zigbuild forwards the CPU to zig cc as -mcpu for C code and linking.
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=cortex-a35" cargo "${args[@]}" >&2
  out=target/$triple/$profile
  bundle=target/lv2-mod/nam-graph.lv2
else
  args=(build -p nam-lv2 --lib --locked)
  [ "$profile" = release ] && args+=(--release)
  cargo "${args[@]}" >&2
  out=target/$profile
  bundle=target/lv2/nam-graph.lv2
fi
rm -rf "$bundle"
mkdir -p "$bundle"
cp "$out/libnam_lv2.so" "$bundle/"
cp ttl/manifest.ttl ttl/nam-graph.ttl ttl/modgui.ttl "$bundle/"
cp -r ttl/modgui "$bundle/"
python3 scripts/modgui-art.py ttl/modgui-art ttl/nam-graph.ttl "$bundle/modgui" >&2
echo "$bundle"
