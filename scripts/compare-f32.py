#!/usr/bin/env python3
"""Compares two raw little-endian float32 files (the harnesses' `dump` output).

usage: scripts/compare-f32.py OURS.f32 REFERENCE.f32 [--tol T] [--rel-tol Q]

Prints `samples=N max_abs_diff=D max_abs_ref=R rel_diff=D/R` and exits 1 when
the files differ in length, are empty, hold a non-finite value, the reference
is all zeros (nothing to compare), D exceeds T or D/R exceeds Q (when given).
"""
import math
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) % 4:
        sys.exit(f"{path}: {len(data)} bytes is not a whole number of float32s")
    return struct.unpack(f"<{len(data) // 4}f", data)


def main(argv):
    args = argv[1:]
    tol = rel_tol = None
    if "--tol" in args:
        i = args.index("--tol")
        tol = float(args[i + 1])
        del args[i : i + 2]
    if "--rel-tol" in args:
        i = args.index("--rel-tol")
        rel_tol = float(args[i + 1])
        del args[i : i + 2]
    if len(args) != 2:
        sys.exit(__doc__.strip())
    ours, ref = read(args[0]), read(args[1])
    problems = []
    if len(ours) != len(ref):
        problems.append(f"lengths differ: {len(ours)} vs {len(ref)} samples")
    if not ours:
        problems.append("no samples")
    for name, xs in ((args[0], ours), (args[1], ref)):
        if not all(math.isfinite(x) for x in xs):
            problems.append(f"{name} holds a non-finite value")
    n = min(len(ours), len(ref))
    diff = max((abs(a - b) for a, b in zip(ours[:n], ref[:n])), default=0.0)
    peak = max((abs(x) for x in ref), default=0.0)
    if peak == 0.0:
        problems.append("the reference output is all zeros")
    rel = diff / peak if peak else math.inf
    print(f"samples={n} max_abs_diff={diff:.3e} max_abs_ref={peak:.3e} rel_diff={rel:.3e}")
    if tol is not None and not diff <= tol:
        problems.append(f"max |diff| {diff:.3e} exceeds {tol:.1e}")
    if rel_tol is not None and not rel <= rel_tol:
        problems.append(f"max |diff| / max |reference| {rel:.3e} exceeds {rel_tol:.1e}")
    if problems:
        print("compare-f32: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
