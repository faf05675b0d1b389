#!/usr/bin/env bash
# Regenerates tools/tests/ckpt/ (Lightning checkpoints, their model configs and
# the .nam files the NAM trainer exports from them) with
# scripts/make-ckpt-references.py, in the venv of scripts/compare-trainer.sh
# (.cache/nam-venv: neural-amp-modeler 0.13.0, torch 2.13.0; several GB on
# first run). Single-threaded, so the files do not depend on the core count.
# tools/tests/ckpt.rs imports each checkpoint and compares with the .nam.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.cache/nam-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import nam, torch; assert torch.__version__.startswith('2.13.0')" 2>/dev/null; then
    echo "==> installing neural-amp-modeler 0.13.0 into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q neural-amp-modeler==0.13.0 torch==2.13.0
fi
OMP_NUM_THREADS=1 "$VENV/bin/python" scripts/make-ckpt-references.py tools/tests/ckpt
