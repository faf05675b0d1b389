#!/usr/bin/env bash
# Side-by-side: `nam-tools train` against the NAM trainer from PyPI
# (neural-amp-modeler 0.13.0, `nam.train.full`, the code behind `nam-full`) on the
# same data, architecture, epochs, seeds, batch, segment length, learning rate,
# decay, loss (MSE) and CPU thread count. Both exported models are then scored by
# the same code (the NAM package's own model loader) on the same validation part,
# and the wall time of each whole run is measured.
#
#   scripts/compare-trainer.sh [--arch nano|feather|lite|standard] [--epochs N]
#                              [--seeds "0 1 2"] [--threads N]
#
# Data: ../shared/data/{input,target}.wav (NAM_DATA_DIR overrides); the last 14 %
# (14 s) is the validation part, latency 0. The NAM package and torch go into a
# venv made by scripts/nam-venv.sh (several GB on first run); results under .cache/compare/.
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH=nano EPOCHS=3 SEEDS="0" THREADS=1
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) ARCH=$2; shift 2 ;;
        --epochs) EPOCHS=$2; shift 2 ;;
        --seeds) SEEDS=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
DATA=${NAM_DATA_DIR:-../shared/data}
X=$(realpath "$DATA/input.wav"); Y=$(realpath "$DATA/target.wav")
CASES=$(realpath "${NAM_FIXTURES_DIR:-../shared/fixtures}/cases.json")
OUT=$(pwd)/.cache/compare/$ARCH-e$EPOCHS-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"

PY=$(./scripts/nam-venv.sh)
LIBTORCH=$(./scripts/libtorch.sh)
export LIBTORCH
echo "==> building nam-tools (release, train feature)" >&2
cargo build -q --release -p nam-tools --features train
BIN=${CARGO_TARGET_DIR:-target}/release/nam-tools

# The NAM trainer's run: its configs (the preset's own config from the fixtures'
# cases.json), seeded, on `THREADS` CPU threads.
cat > "$OUT/nam_full.py" <<'PY'
import json, sys
import torch
seed, threads, epochs, arch, x, y, cases, outdir = sys.argv[1:]
torch.set_num_threads(int(threads))
import pytorch_lightning as pl
from nam.train.full import main
pl.seed_everything(int(seed))
net = next(c for c in json.load(open(cases))["cases"] if c["name"] == f"wavenet_{arch}")["config"]
split = 4_128_000
data = {"train": {"start_samples": 0, "stop_samples": split, "ny": 8192},
        "validation": {"start_samples": split, "ny": None},
        "common": {"x_path": x, "y_path": y, "delay": 0}}
model = {"net": {"name": "WaveNet", "config": net}, "loss": {"val_loss": "esr"},
         "optimizer": {"lr": 0.004},
         "lr_scheduler": {"class": "ExponentialLR", "kwargs": {"gamma": 0.994}}}
learning = {"train_dataloader": {"batch_size": 16, "shuffle": True, "pin_memory": False,
                                 "drop_last": True, "num_workers": 0},
            "val_dataloader": {},
            "trainer": {"max_epochs": int(epochs), "accelerator": "cpu", "devices": 1,
                        "enable_progress_bar": False}}
from pathlib import Path
main(data, model, learning, Path(outdir), no_show=True, make_plots=False)
PY

# Scores a .nam on the validation part with the NAM package's loader (legacy
# 0.5 layouts are rewritten into the current one; the weights are the same).
cat > "$OUT/score.py" <<'PY'
import json, sys
import numpy as np, torch
from nam.data import wav_to_np
from nam.models import init_from_nam
x, y = wav_to_np(sys.argv[1]), wav_to_np(sys.argv[2])
split = 4_128_000
for path in sys.argv[3:]:
    d = json.load(open(path))
    for a in d["config"]["layers"]:
        if "head_size" in a:
            a["head"] = {"out_channels": a.pop("head_size"), "kernel_size": 1, "bias": a.pop("head_bias")}
            a["kernel_sizes"] = [a.pop("kernel_size")] * len(a["dilations"])
    model = init_from_nam(d).eval()
    with torch.no_grad():
        out = model(torch.tensor(x[split:], dtype=torch.float32), pad_start=False).numpy()
    target = y[split + model.receptive_field - 1:]
    print(path, float(np.mean((out - target) ** 2) / np.mean(target ** 2)))
PY

declare -A TIME
for seed in $SEEDS; do
    echo "==> seed $seed: nam-tools train" >&2
    start=$(date +%s.%N)
    "$BIN" train --input "$X" --target "$Y" --arch "$ARCH" -o "$OUT/nam-tools-$seed.nam" \
        --epochs "$EPOCHS" --seed "$seed" --threads "$THREADS" --device cpu \
        --validation-split 0.14 --latency 0 --weight-decay 0 --batch-size 16 \
        --segment-length 8192 --lr 0.004 --lr-decay 0.994 --quiet
    TIME[ours-$seed]=$(echo "$(date +%s.%N) - $start" | bc)
    echo "==> seed $seed: neural-amp-modeler (nam.train.full)" >&2
    mkdir -p "$OUT/nam-$seed"
    start=$(date +%s.%N)
    OMP_NUM_THREADS=$THREADS "$PY" "$OUT/nam_full.py" "$seed" "$THREADS" "$EPOCHS" \
        "$ARCH" "$X" "$Y" "$CASES" "$OUT/nam-$seed" > "$OUT/nam-$seed/log.txt" 2>&1
    TIME[nam-$seed]=$(echo "$(date +%s.%N) - $start" | bc)
    cp "$OUT/nam-$seed/model.nam" "$OUT/nam-full-$seed.nam"
done

files=$(for seed in $SEEDS; do echo "$OUT/nam-tools-$seed.nam $OUT/nam-full-$seed.nam"; done)
# shellcheck disable=SC2086
"$PY" "$OUT/score.py" "$X" "$Y" $files > "$OUT/scores.txt"
echo
echo "arch $ARCH, $EPOCHS epochs, batch 16 x 8192, lr 0.004 decay 0.994, MSE, $THREADS CPU thread(s)"
printf '%-6s %-22s %-12s %s\n' seed trainer "val ESR" "wall s"
for seed in $SEEDS; do
    for who in nam-tools nam-full; do
        key=$([ "$who" = nam-tools ] && echo "ours-$seed" || echo "nam-$seed")
        esr=$(grep "/$who-$seed.nam " "$OUT/scores.txt" | awk '{print $2}')
        printf '%-6s %-22s %-12.5f %.1f\n' "$seed" "$who" "$esr" "${TIME[$key]}"
    done
done
echo "(files and logs in $OUT)"
