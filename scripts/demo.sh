#!/usr/bin/env bash
# The main job: reamps the bundled DI clip through the bundled chain (a drive
# model into a cabinet IR) with `nam-graph run`, writing out/demo.wav.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
cargo run --release --locked -q -p nam-graph -- run examples/demo/chain.toml examples/demo/di.wav -o out/demo.wav
echo "listen: out/demo.wav (the input is examples/demo/di.wav)"
