#!/usr/bin/env bash
# Print the path of a CPU libtorch 2.13.0 (the version `tch` 0.26 expects), making it first
# if the cache folder does not hold it yet. The cache is `.cache/libtorch-2.13.0` in the
# repository (gitignored); the wheels are kept beside it so a rebuild does not download again.
#   LIBTORCH=$(./scripts/libtorch.sh)
# A LIBTORCH already set in the environment (e.g. a CUDA libtorch, see README) is printed as is.
set -euo pipefail
if [ -n "${LIBTORCH:-}" ]; then
    echo "$LIBTORCH"
    exit 0
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST="$ROOT/.cache/libtorch-2.13.0"
MAKER="$ROOT/../shared/tools/libtorch/make_libtorch_cpu.sh"
if [ "$(cat "$DEST/build-version" 2>/dev/null)" != "2.13.0" ] || [ ! -f "$DEST/lib/libtorch_cpu.so" ]; then
    if [ ! -x "$MAKER" ]; then
        echo "libtorch.sh: $MAKER not found (the team's shared/ folder must sit beside the repository)" >&2
        exit 1
    fi
    echo "libtorch.sh: making a CPU libtorch 2.13.0 in $DEST (one time, about 500 MB)" >&2
    rm -rf "$DEST"
    "$MAKER" "$DEST" "$ROOT/.cache/libtorch-wheels" >&2
fi
echo "$DEST"
