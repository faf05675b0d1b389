#!/usr/bin/env bash
# Regenerates the bundled demo's audio in examples/demo/ (cabinet IR, DI clip) from
# graph/examples/make_demo.rs. Deterministic: running it again rewrites identical files.
# The demo's amp model, examples/demo/drive.nam, is trained: scripts/make-demo-model.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --locked -q -p nam-graph --example make_demo -- examples/demo
