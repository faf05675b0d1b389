#!/usr/bin/env bash
# Regenerates nam-kernel/tests/slimmable/ (slimmable models and the NAM trainer's
# output at each size) with scripts/make-slim-references.py, in the venv that
# scripts/compare-trainer.sh uses (.cache/nam-venv: neural-amp-modeler 0.13.0,
# torch 2.13.0; several GB on first run). Single-threaded, so the outputs do not
# depend on the machine's core count.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.cache/nam-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import nam, torch; assert torch.__version__.startswith('2.13.0')" 2>/dev/null; then
    echo "==> installing neural-amp-modeler 0.13.0 into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q neural-amp-modeler==0.13.0 torch==2.13.0
fi
OMP_NUM_THREADS=1 "$VENV/bin/python" scripts/make-slim-references.py nam-kernel/tests/slimmable
