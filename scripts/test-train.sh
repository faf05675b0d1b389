#!/usr/bin/env bash
# Training checks (the `train` feature of nam-tools): gets a CPU libtorch
# through scripts/libtorch.sh (downloaded once into .cache/) and the NAM trainer's
# venv through scripts/nam-venv.sh (the tests compare with its code), then runs
# clippy, rustdoc (warnings denied) and the tests with the feature on. Prints "N passed";
# fails if no test ran.
# Set TRAIN_TARGET_DIR to build elsewhere than target/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
LIBTORCH=$(./scripts/libtorch.sh)
export LIBTORCH
if [ -n "${TRAIN_TARGET_DIR:-}" ]; then
    export CARGO_TARGET_DIR=$TRAIN_TARGET_DIR
fi
NAM_VENV_PYTHON=$(./scripts/nam-venv.sh)
export NAM_VENV_PYTHON
echo "==> LIBTORCH=$LIBTORCH"
echo "==> NAM_VENV_PYTHON=$NAM_VENV_PYTHON"

echo "==> cargo clippy -p nam-tools --features train"
cargo clippy -p nam-tools --features train --all-targets --locked -- -D warnings
echo "==> cargo doc -p nam-tools --features train"
RUSTDOCFLAGS="-D warnings" cargo doc -p nam-tools --features train --no-deps --locked

echo "==> cargo test -p nam-tools --features train"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test -p nam-tools --features train --locked 2>&1 | tee "$log"
passed=$(awk '/^test result: ok\./ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^passed/) n += $i } END { print n + 0 }' "$log")
train_passed=$(awk '/Running tests\/train\.rs/ { t = 1 } t && /^test result:/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^passed/) print $i; exit }' "$log")
[ "$passed" -gt 0 ] || { echo "error: no test ran" >&2; exit 1; }
[ "${train_passed:-0}" -gt 0 ] || { echo "error: tests/train.rs ran no test (is the train feature on?)" >&2; exit 1; }
# A brief side-by-side run with the NAM trainer (the full comparison is
# scripts/compare-trainer.sh, see the README), so that the script stays working.
echo "==> scripts/compare-trainer.sh, brief: nano, 1 epoch, against the NAM trainer"
compare_log=$(mktemp)
trap 'rm -f "$log" "$compare_log"' EXIT
NAM_TOOLS_BIN=${CARGO_TARGET_DIR:-target}/debug/nam-tools \
    ./scripts/compare-trainer.sh --arch nano --epochs 1 --seeds 0 2>&1 | tee "$compare_log"
grep -Eq '^\| [^|]+ \| nano \| 0 \| [0-9.]+ \| [0-9.]+ \| [0-9]+ \| [0-9]+ \|' "$compare_log" \
    || { echo "error: compare-trainer.sh printed no ESR row" >&2; exit 1; }
grep -Eq '^\| [^|]+ \| nano \| 0 \| NAM trainer \| [0-9.]+ \| [0-9.]+ \|' "$compare_log" \
    || { echo "error: compare-trainer.sh printed no phase row" >&2; exit 1; }
passed=$((passed + 1))
echo "$passed passed"
