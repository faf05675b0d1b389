#!/usr/bin/env bash
# Regenerates nam-kernel/tests/guitarml/: the generated GuitarML WaveNet models,
# the test signal (input.f32) and every model's reference output (MODEL.f32,
# real SmartGuitarAmp models included) with scripts/make-guitarml-references.py,
# a float64 NumPy implementation of the format's definition. NumPy comes from
# its own venv, .cache/numpy-venv (made on first run).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.cache/numpy-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import numpy" 2>/dev/null; then
    echo "==> installing numpy into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q numpy
fi
"$VENV/bin/python" scripts/make-guitarml-references.py nam-kernel/tests/guitarml
