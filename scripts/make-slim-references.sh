#!/usr/bin/env bash
# Regenerates nam-kernel/tests/slimmable/ (slimmable models and the NAM trainer's
# output at each size) with scripts/make-slim-references.py, in the NAM trainer's
# venv (scripts/nam-venv.sh: neural-amp-modeler 0.13.0, torch 2.13.0; several GB on
# first run). Single-threaded, so the outputs do not depend on the core count.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(./scripts/nam-venv.sh)
OMP_NUM_THREADS=1 "$PY" scripts/make-slim-references.py nam-kernel/tests/slimmable
