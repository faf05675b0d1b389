#!/usr/bin/env bash
# Reamps the shared DI recording through a standard-size NAM WaveNet with
# nam-kernel and writes out/demo.wav (until `nam-graph run` lands, this is the
# kernel on its own: no resampling, no cabinet IR).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-../shared/fixtures/wavenet_standard.nam}
input=${2:-../shared/data/input.wav}
mkdir -p out
cargo run --release --locked -p nam-kernel --example reamp -- "$model" "$input" out/demo.wav
