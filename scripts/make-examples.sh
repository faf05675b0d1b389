#!/usr/bin/env bash
# Regenerates the bundled demo files in examples/demo/ (model, cabinet IR, DI
# clip) from graph/examples/make_demo.rs. Deterministic: running it again
# rewrites identical files.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked -q -p nam-graph --example make_demo -- examples/demo
