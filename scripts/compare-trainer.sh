#!/usr/bin/env bash
# Side-by-side: `nam-tools train` against the NAM trainer from PyPI
# (neural-amp-modeler 0.13.0, `nam.train.full`, the code behind `nam-full`) on the
# same captures, architectures, epochs and seeds, with the NAM trainer 0.13's
# default training settings on both sides: batch 16 of 8192-sample segments,
# Adam lr 0.004 with weight decay 3.17e-7, ExponentialLR 0.994 per epoch, MSE plus
# multi-resolution STFT at weight 5e-4 (its `config_model_packed.json`). Both
# exported models are scored by the same code (the NAM package's own model
# loader) on the same validation part, and the wall time of each whole run,
# process start to written file, is measured. Runs alternate (ours, theirs) seed
# by seed, so a change in the machine's load hits both.
#
#   scripts/compare-trainer.sh [--arch feather,standard,a2,...] [--epochs N]
#                              [--seeds "0 1 2"] [--threads N|default]
#                              [--capture DIR]...
#
# --arch: nano, feather, lite, standard (the classic presets: the NAM trainer
#   trains the architecture nam-tools wrote), a2_lite, a2 (the submodels of the
#   trainer's packed config) or packed (the trainer's default: both, exported as
#   a container).
# --capture DIR: a folder with input.wav and target.wav (repeatable; default
#   ../shared/data, the GxRedeye capture; `scripts/make-capture.sh` makes a
#   second, different one). The last 14 % of each is the validation part,
#   latency 0.
# --threads: CPU threads for both (default 1; `default` lets each trainer pick).
# NAM_TOOLS_BIN: a nam-tools built with the train feature to use instead of
#   building a release one (the test command passes its test build).
#
# The NAM trainer runs with Lightning's simple profiler, ours prints its own
# "time per phase"; a second table gives both in seconds.
# Results: Markdown tables on stdout and in .cache/compare/<run>/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ARCHS=nano EPOCHS=3 SEEDS="0" THREADS=1 CAPTURES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) ARCHS=$2; shift 2 ;;
        --epochs) EPOCHS=$2; shift 2 ;;
        --seeds) SEEDS=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --capture) CAPTURES+=("$(realpath "$2")"); shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
[ ${#CAPTURES[@]} -gt 0 ] || CAPTURES=("$(realpath "${NAM_DATA_DIR:-../shared/data}")")
for capture in "${CAPTURES[@]}"; do
    for f in input.wav target.wav; do
        [ -f "$capture/$f" ] || { echo "compare-trainer: $capture/$f not found" >&2; exit 2; }
    done
done
case "$THREADS" in
    default) OUR_THREADS=() ;;
    *[!0-9]*|"") echo "--threads takes a number or 'default'" >&2; exit 2 ;;
    *) OUR_THREADS=(--threads "$THREADS"); export OMP_NUM_THREADS=$THREADS ;;
esac
OUT=$(pwd)/.cache/compare/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$OUT"

PY=$(./scripts/nam-venv.sh)
LIBTORCH=$(./scripts/libtorch.sh)
export LIBTORCH
if [ -n "${NAM_TOOLS_BIN:-}" ]; then
    BIN=$NAM_TOOLS_BIN
else
    echo "==> building nam-tools (release, train feature)" >&2
    cargo build -q --release -p nam-tools --features train
    BIN=${CARGO_TARGET_DIR:-target}/release/nam-tools
fi

# Reads a .nam file's config in the NAM trainer's current layout: the legacy 0.5
# layout (`head_size`, one `kernel_size`) rewritten, a container's largest size.
cat > "$OUT/nam_file.py" <<'PY'
import json
def current(path):
    d = json.load(open(path))
    if d["architecture"] == "SlimmableContainer":
        d = max(d["config"]["submodels"], key=lambda s: s["max_value"])["model"]
    for a in d["config"].get("layers", []):
        if "head_size" in a:
            a["head"] = {"out_channels": a.pop("head_size"), "kernel_size": 1, "bias": a.pop("head_bias")}
            a["kernel_sizes"] = [a.pop("kernel_size")] * len(a["dilations"])
    return d
PY

# The NAM trainer's run, seeded, with the 0.13 default training settings: packed,
# a2_lite and a2 as its own packed config defines them; any other architecture is
# the one nam-tools trained (read back from the file it wrote, through the NAM
# package's own conversion of .nam layer configs).
cat > "$OUT/nam_full.py" <<'PY'
import json, os, sys
from importlib.resources import files
import torch
sys.path.insert(0, os.path.dirname(__file__))
from nam_file import current
seed, threads, epochs, arch, x, y, split, ours, outdir = sys.argv[1:]
if threads != "default":
    torch.set_num_threads(int(threads))
import pytorch_lightning as pl
from nam.train.full import main
from nam.models._from_nam import _convert_nam_layer_array_config
pl.seed_everything(int(seed))
packed = json.loads(files("nam.train").joinpath("_resources/config_model_packed.json").read_text())
if arch == "packed":
    net = packed["net"]
elif arch in ("a2_lite", "a2"):
    submodel = packed["net"]["config"]["submodels"][0 if arch == "a2_lite" else 1]
    net = {"name": "WaveNet", "config": submodel["config"]}
else:
    config = current(ours)["config"]
    net = {"name": "WaveNet", "config": {
        "layers_configs": [_convert_nam_layer_array_config(a) for a in config["layers"]],
        "head": config.get("head"), "head_scale": config["head_scale"]}}
split = int(split)
data = {"train": {"start_samples": 0, "stop_samples": split, "ny": 8192},
        "validation": {"start_samples": split, "ny": None},
        "common": {"x_path": x, "y_path": y, "delay": 0}}
model = {"net": net, "loss": {"val_loss": "esr", "mrstft_weight": 5e-4},
         "optimizer": {"lr": 0.004, "weight_decay": 3.17e-7},
         "lr_scheduler": {"class": "ExponentialLR", "kwargs": {"gamma": 0.994}}}
learning = {"train_dataloader": {"batch_size": 16, "shuffle": True, "pin_memory": False,
                                 "drop_last": True, "num_workers": 0},
            "val_dataloader": {},
            "trainer": {"max_epochs": int(epochs), "accelerator": "cpu", "devices": 1,
                        "enable_progress_bar": False, "profiler": "simple"}}
from pathlib import Path
main(data, model, learning, Path(outdir), no_show=True, make_plots=False)
PY

# Scores .nam files on a capture's validation part with the NAM package's
# loader (a container at its largest size, the one played by default).
cat > "$OUT/score.py" <<'PY'
import os, sys
import numpy as np, torch
sys.path.insert(0, os.path.dirname(__file__))
from nam_file import current
from nam.data import wav_to_np
from nam.models import init_from_nam
x, y, split = wav_to_np(sys.argv[1]), wav_to_np(sys.argv[2]), int(sys.argv[3])
for path in sys.argv[4:]:
    model = init_from_nam(current(path)).eval()
    with torch.no_grad():
        out = model(torch.tensor(x[split:], dtype=torch.float32), pad_start=False).numpy()
    target = y[split + model.receptive_field - 1:]
    print(path, float(np.mean((out - target) ** 2) / np.mean(target ** 2)))
PY

# Seconds per phase of each trainer's run, from our summary line and from the
# NAM trainer's Lightning profiler (its optimizer step wraps the forward pass,
# the loss and the backward pass; the rest of it is Adam's update).
cat > "$OUT/phases.py" <<'PY'
import re, sys
ours, theirs = sys.argv[1:]
line = next(l for l in open(ours) if l.startswith("time per phase"))
mine = {k: float(v) for k, v in re.findall(r"(\w+) ([0-9.]+) s \(", line)}
total = {}
for l in open(theirs):
    m = re.match(r"\|\s+(\S.*?)\s+\|\s+\S+\s+\|\s+\d+\s+\|\s+([0-9.e-]+)\s+\|", l)
    if m:
        total[m.group(1)] = float(m.group(2))
get = lambda name: next((v for k, v in total.items() if k.endswith(name)), 0.0)
forward, backward = get("SingleDeviceStrategy.training_step"), get("SingleDeviceStrategy.backward")
nam = {"data": get("train_dataloader_next") + get("val_next"), "forward": forward,
       "backward": backward, "optimizer": get("optimizer_step") - forward - backward,
       "validation": get("SingleDeviceStrategy.validation_step")}
for who, phases in (("nam-tools", mine), ("NAM trainer", nam)):
    print(who + " | " + " | ".join("%.1f" % phases.get(k, 0.0) for k in
          ("data", "forward", "backward", "optimizer", "validation")))
PY

# Seconds from `date +%s.%N` value $1 to now.
seconds_since() { awk -v start="$1" -v now="$(date +%s.%N)" 'BEGIN { print now - start }'; }

TABLE=$OUT/table.md
PHASES=$OUT/phases.md
{
    echo "| capture | arch | seed | trainer | data s | forward s | backward s | optimizer s | validation s |"
    echo "|---|---|---|---|---|---|---|---|---|"
} > "$PHASES"
{
    echo "$EPOCHS epochs, batch 16 x 8192, Adam lr 0.004 (weight decay 3.17e-7, decay 0.994), MSE + MRSTFT 5e-4, nam-tools with its default weight average (0.99 per step), CPU threads: $THREADS, $(getconf _NPROCESSORS_ONLN) CPUs"
    echo
    echo "| capture | arch | seed | nam-tools val ESR | NAM trainer val ESR | nam-tools s | NAM trainer s | time ratio |"
    echo "|---|---|---|---|---|---|---|---|"
} > "$TABLE"
for capture in "${CAPTURES[@]}"; do
    X=$capture/input.wav Y=$capture/target.wav
    name=$(basename "$capture")
    # The split nam-tools makes with --validation-split 0.14.
    split=$("$PY" -c "import sys, wave; n = wave.open(sys.argv[1]).getnframes(); print(n - round(n * 0.14))" "$X")
    for arch in ${ARCHS//,/ }; do
        for seed in $SEEDS; do
            run=$OUT/$name-$arch-$seed
            mkdir -p "$run/nam"
            echo "==> $name $arch seed $seed: nam-tools train" >&2
            start=$(date +%s.%N)
            "$BIN" train --input "$X" --target "$Y" --arch "$arch" -o "$run/nam-tools.nam" \
                --epochs "$EPOCHS" --seed "$seed" "${OUR_THREADS[@]}" --device cpu \
                --validation-split 0.14 --latency 0 --weight-decay 3.17e-7 --batch-size 16 \
                --segment-length 8192 --lr 0.004 --lr-decay 0.994 --mrstft-weight 5e-4 \
                > "$run/nam-tools.log" 2>&1
            ours=$(seconds_since "$start")
            echo "==> $name $arch seed $seed: neural-amp-modeler (nam.train.full)" >&2
            start=$(date +%s.%N)
            "$PY" "$OUT/nam_full.py" "$seed" "$THREADS" "$EPOCHS" "$arch" "$X" "$Y" "$split" \
                "$run/nam-tools.nam" "$run/nam" > "$run/nam/log.txt" 2>&1
            theirs=$(seconds_since "$start")
            cp "$run/nam/model.nam" "$run/nam-full.nam"
            "$PY" "$OUT/score.py" "$X" "$Y" "$split" "$run/nam-tools.nam" "$run/nam-full.nam" \
                > "$run/scores.txt"
            esr() { grep "/$1.nam " "$run/scores.txt" | awk '{print $2}'; }
            printf '| %s | %s | %s | %.5f | %.5f | %.0f | %.0f | %.2f |\n' "$name" "$arch" "$seed" \
                "$(esr nam-tools)" "$(esr nam-full)" "$ours" "$theirs" \
                "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { print a / b }')" >> "$TABLE"
            "$PY" "$OUT/phases.py" "$run/nam-tools.log" "$run/nam/log.txt" \
                | sed "s/^/| $name | $arch | $seed | /; s/\$/ |/" >> "$PHASES"
        done
    done
done
echo >> "$TABLE"
cat "$PHASES" >> "$TABLE"
cat "$TABLE"
echo "(files and logs in $OUT)"
