#!/usr/bin/env bash
# Print the python of a venv holding the NAM trainer (pip neural-amp-modeler 0.13.0) with
# torch 2.13.0 (the version of the libtorch nam-tools links), making it first if the cache
# does not hold it yet: .cache/nam-venv in the repository (gitignored; about 6 GB, most of
# it the CUDA libraries PyPI's torch wheel depends on, a few minutes on first run).
#   PY=$(./scripts/nam-venv.sh)
# Used to make reference outputs with the trainer's own code and by the training tests
# that compare nam-tools with it (scripts/test-train.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.cache/nam-venv
if [ ! -x "$VENV/bin/python" ] \
    || ! "$VENV/bin/python" -c "import nam, torch; assert nam.__version__ == '0.13.0' and torch.__version__.startswith('2.13.0')" 2>/dev/null; then
    echo "nam-venv.sh: installing neural-amp-modeler 0.13.0 and torch 2.13.0 into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q neural-amp-modeler==0.13.0 torch==2.13.0 >&2
fi
echo "$VENV/bin/python"
