#!/usr/bin/env bash
# Trains the bundled demo's amp model, examples/demo/drive.nam, with `nam-tools train` on
# the team's real reamped pair (../shared/data: a DI through the GxRedeye "Big Chump" amp
# simulator, crunch, no cabinet, sample-aligned, so --latency 0). Nano preset, 30 epochs,
# seed 0, one thread, MSE plus the NAM trainer's 5e-4 MRSTFT term. 10 to 20 minutes on one
# core; not part of the test command. The result depends on libtorch's arithmetic on the
# machine, so another CPU may write weights that differ in the last digits.
# usage: scripts/make-demo-model.sh [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-30}
DATA=${NAM_DATA_DIR:-../shared/data}
for f in "$DATA/input.wav" "$DATA/target.wav"; do
    [ -f "$f" ] || { echo "make-demo-model.sh: $f not found (set NAM_DATA_DIR)" >&2; exit 1; }
done
LIBTORCH=$(./scripts/libtorch.sh)
export LIBTORCH
cargo build --locked -q -p nam-tools --features train
"${CARGO_TARGET_DIR:-target}"/debug/nam-tools train \
    --input "$DATA/input.wav" --target "$DATA/target.wav" \
    --arch nano --epochs "$EPOCHS" --seed 0 --threads 1 --latency 0 --mrstft-weight 5e-4 \
    --name "Demo crunch amp (nano)" --modeled-by "nam-tools train (scripts/make-demo-model.sh)" \
    --gear-type amp --gear-make Guitarix --gear-model "GxRedeye Big Chump (LV2)" --tone-type crunch \
    -o examples/demo/drive.nam
