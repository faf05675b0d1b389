#!/usr/bin/env python3
"""Fits the rational tanh of nam-kernel (src/kernels/activation.rs):

    tanh(x) ~ x P(x^2) / Q(x^2),  P = 1 + p1 s + p2 s^2 + p3 s^3,  Q = 1 + q1 s + ... + q4 s^4,

on [0, CLAMP], minimax in float64 by iterated linear programming (each round bounds
|x P - tanh(x) Q| by E times the previous round's Q and minimises E), with p0 = 1 (an
exact slope at 0) and CLAMP P(CLAMP^2) / Q(CLAMP^2) = 1 (so the clamped function
saturates to exactly 1). Then rounds the coefficients to f32 and evaluates them as the
kernel does (Horner, with and without fused multiply-adds, one division) against the
exact tanh, printing the worst error and whether the value at the clamp is exactly 1.

    usage: scripts/fit-tanh.py [CLAMP]        (default 8.325, the kernel's TANH_LIMIT)

Needs numpy and scipy (e.g. the trainer's venv: `$(scripts/nam-venv.sh) scripts/fit-tanh.py`).
"""
import sys

import numpy as np
from scipy.optimize import linprog

F32 = np.float32
P_DEGREE, Q_DEGREE = 3, 4


def fit(clamp, rounds=40, points=4000):
    """float64 minimax coefficients (p0..p3, q0..q4) and their worst error on [0, clamp]."""
    t = np.linspace(0, 1, points)
    x = np.unique(np.concatenate([clamp * (1 - np.cos(np.pi * t)) / 2, np.linspace(0, clamp, points)]))
    s, f = x * x, np.tanh(x)
    p_cols = np.stack([x * s**k for k in range(1, P_DEGREE + 1)], 1)
    q_cols = np.stack([s**k for k in range(1, Q_DEGREE + 1)], 1)
    residual = np.concatenate([p_cols, -f[:, None] * q_cols], 1)  # x P - f Q = residual @ v + x - f
    offset = f - x
    sc = clamp * clamp
    at_clamp = np.concatenate([[clamp * sc**k for k in range(1, P_DEGREE + 1)],
                               [-sc**k for k in range(1, Q_DEGREE + 1)], [0.0]])
    cost = np.zeros(P_DEGREE + Q_DEGREE + 1)
    cost[-1] = 1.0
    q_previous, best = np.ones_like(s), None
    for _ in range(rounds):
        a_ub = np.concatenate([np.concatenate([residual, -q_previous[:, None]], 1),
                               np.concatenate([-residual, -q_previous[:, None]], 1)])
        b_ub = np.concatenate([offset, -offset])
        r = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=at_clamp[None, :], b_eq=[1.0 - clamp],
                    bounds=[(None, None)] * (P_DEGREE + Q_DEGREE) + [(0, None)], method="highs")
        if not r.success:
            sys.exit(f"fit-tanh: the linear program failed: {r.message}")
        p = np.concatenate([[1.0], r.x[:P_DEGREE]])
        q = np.concatenate([[1.0], r.x[P_DEGREE:P_DEGREE + Q_DEGREE]])
        big_p = sum(c * s**k for k, c in enumerate(p))
        big_q = sum(c * s**k for k, c in enumerate(q))
        error = np.max(np.abs(f - x * big_p / big_q))
        q_previous = big_q
        if best is None or error < best[0]:
            best = (error, p, q)
    return best


def horner(coefficients, s, fused):
    """The polynomial with `coefficients` (lowest first) at `s`, in f32 as the kernel does."""
    acc = np.full_like(s, F32(coefficients[-1]))
    for c in coefficients[-2::-1]:
        if fused:
            acc = (acc.astype(np.float64) * s.astype(np.float64) + np.float64(c)).astype(F32)
        else:
            acc = (acc * s).astype(F32) + F32(c)
    return acc


def tanh32(x, p, q, clamp, fused):
    x = np.clip(x.astype(F32), -clamp, clamp).astype(F32)
    s = (x * x).astype(F32)
    return ((x * horner(p, s, fused)).astype(F32) / horner(q, s, fused)).astype(F32)


def main():
    clamp = float(F32(float(sys.argv[1]) if len(sys.argv) > 1 else 8.325))
    error, p, q = fit(clamp)
    p32, q32 = [F32(v) for v in p], [F32(v) for v in q]
    print(f"clamp {clamp!r}: float64 minimax error {error:.3g}")
    print(f"TANH_P (p1..p3) = [{', '.join(repr(float(v)) for v in p32[1:])}]")
    print(f"TANH_Q (q1..q4) = [{', '.join(repr(float(v)) for v in q32[1:])}]")
    x = np.concatenate([np.linspace(-12, 12, 2_400_001).astype(F32),
                        np.nextafter(F32(clamp), F32(0)) - np.arange(2000, dtype=F32) * np.spacing(F32(clamp))])
    exact = np.tanh(x.astype(np.float64))
    for fused in (False, True):
        y = tanh32(x, p32, q32, F32(clamp), fused)
        one = tanh32(np.array([clamp], dtype=F32), p32, q32, F32(clamp), fused)[0]
        print(f"f32, {'fused' if fused else 'separate'} multiply-adds: max |error| "
              f"{np.max(np.abs(y - exact)):.3g}, max |y| {np.max(np.abs(y))!r}, exactly 1 at the clamp: {one == 1.0}")


if __name__ == "__main__":
    main()
