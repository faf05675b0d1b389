#!/usr/bin/env bash
# Regenerates the RTNeural parity references of nam-kernel/tests/rtneural/:
# the generated models (scripts/make-rtneural-models.py; the real AIDA-X
# captures in that folder are kept as they are), then, for every model, the
# output of RTNeural as NeuralAudio runs it (its harness `AnchorBench dump
# MODEL 64 OUT rtneural`: 8192 zeros, then the peers' test signal) as
# NAME.f32: the 8192 samples after the zeros, raw float32.
# Needs the pinned NeuralAudio build of scripts/bench-peers.sh (set
# NAM_PEERS_BUILD to its folder; default .cache/peers).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=nam-kernel/tests/rtneural
harness=${NAM_PEERS_BUILD:-.cache/peers}/neuralaudio-default/Utils/AnchorBench/AnchorBench
[ -x "$harness" ] || { echo "error: $harness not found: build the peers with scripts/bench-peers.sh" >&2; exit 1; }
python3 scripts/make-rtneural-models.py "$dir"
zeros=8192 kept=8192
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for model in "$dir"/*.json; do
  "$harness" dump "$model" 64 "$tmp" rtneural >/dev/null 2>&1 \
    || { echo "error: NeuralAudio could not run $model" >&2; exit 1; }
  tail -c +$((zeros * 4 + 1)) "$tmp" | head -c $((kept * 4)) > "${model%.json}.f32"
  echo "${model%.json}.f32"
done
