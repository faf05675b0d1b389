#!/usr/bin/env bash
# Prints the path of the venv with the NAM trainer (neural-amp-modeler 0.13.0,
# torch 2.13.0), making it first if it is missing (several GB, once):
# .cache/nam-venv in the repository (gitignored), shared by
# scripts/make-slim-references.sh, scripts/compare-trainer.sh and the train
# tests that check exports in the trainer's own code (test-train.sh).
#   VENV=$(./scripts/nam-venv.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.cache/nam-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import nam, torch; assert torch.__version__.startswith('2.13.0')" 2>/dev/null; then
    echo "==> installing neural-amp-modeler 0.13.0 into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q neural-amp-modeler==0.13.0 torch==2.13.0 >&2
fi
echo "$VENV"
