#!/usr/bin/env bash
# The main job: reamps the bundled DI clip through the bundled chain (a drive
# model into a cabinet IR) with `nam-graph run`, writing out/demo.wav.
set -euo pipefail
cd "$(dirname "$0")/.."
# The nam-graph command line includes `live` (JACK): building it needs
# libjack's headers, found through pkg-config.
apt_packages="libjack-jackd2-dev pkg-config"
missing=$(for p in $apt_packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
if [ -n "$missing" ]; then
  sudo=$([ "$(id -u)" = 0 ] && echo "" || echo "sudo")
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
fi
mkdir -p out
# Not quiet: cargo shows its progress (the first build takes a few minutes).
cargo run --release --locked -p nam-graph --bin nam-graph -- \
  run examples/demo/chain.toml examples/demo/di.wav -o out/demo.wav
echo "listen: out/demo.wav (the input is examples/demo/di.wav)"
