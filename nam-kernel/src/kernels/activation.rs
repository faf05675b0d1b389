//! Activation functions over slices, and the fast `tanh`/`sigmoid`/`exp` they use.
//!
//! `tanh` is an odd rational minimax approximation, `x · P(x²) / Q(x²)` with
//! `P` of degree 3 and `Q` of degree 4, on the input clamped to
//! `±TANH_LIMIT`, where it is exactly `±1`: a clamp, two multiplies, seven
//! multiply-adds and one division, no exponential. Its absolute error against `f64` stays below
//! 5.5e-7 (about 2.6e-7 from the fit, the rest `f32` rounding), with or
//! without fused multiply-adds. `sigmoid(x) = 0.5 + 0.5 · tanh(x / 2)`, the
//! halvings folded into its coefficients (powers of two, so exact): the same
//! formula, half the error, exactly 0 and 1 far out. The coefficients were
//! fitted for this crate (a linear-programming minimax fit of the `f64`
//! function, then checked in `f32`); the accuracy is checked against `f64`
//! in the tests below. `exp` (SiLU) is a range-reduced degree-7 polynomial,
//! relative error below 2e-7. Everything is branch-free so the loops
//! vectorize, and the SIMD tables evaluate the same formulas.

use crate::format::Activation;

pub(super) const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in a part exact in f32 and the remainder (Cody–Waite reduction).
pub(super) const LN2_HI: f32 = 0.693_145_75;
pub(super) const LN2_LO: f32 = 1.428_606_8e-6;
/// 1.5 · 2^23: adding and subtracting it rounds an f32 to the nearest integer.
pub(super) const ROUND_MAGIC: f32 = 12_582_912.0;

/// Where [`tanh`] saturates: its input is clamped to `±TANH_LIMIT`, where the
/// approximation evaluates to exactly `±1` (with and without fused
/// multiply-adds; `1 − tanh(8.325) ≈ 1.2e-7`).
pub(super) const TANH_LIMIT: f32 = 8.325;
/// `P(s) = 1 + p1 s + p2 s² + p3 s³` of `tanh(x) ≈ x P(x²) / Q(x²)` (these
/// are `p1..p3`; `p0 = 1` keeps the slope at 0 exact, so small signals in a
/// recurrence see no gain error). `scripts/fit-tanh.py` fits both polynomials
/// (minimax on `[0, TANH_LIMIT]`) and checks them in f32.
pub(super) const TANH_P: [f32; 3] = [0.128_788_86, 0.002_901_034_2, 1.089_633e-5];
/// `Q(s) = 1 + q1 s + q2 s² + q3 s³ + q4 s⁴` (these are `q1..q4`).
pub(super) const TANH_Q: [f32; 4] = [0.462_120_44, 0.023_610_292, 2.316_473_8e-4, 2.291_090_6e-7];
/// Where [`sigmoid`] saturates (to exactly 0 and 1).
pub(super) const SIGMOID_LIMIT: f32 = 2.0 * TANH_LIMIT;
/// `tanh`'s `P` for `0.5 · tanh(x / 2)`: `p_k / 4^k / 4` (`p0 / 4 = 0.25`).
pub(super) const SIGMOID_P: [f32; 3] = [TANH_P[0] / 16.0, TANH_P[1] / 64.0, TANH_P[2] / 256.0];
/// `tanh`'s `Q` for `tanh(x / 2)`: `q_k / 4^k`.
pub(super) const SIGMOID_Q: [f32; 4] = [
    TANH_Q[0] / 4.0,
    TANH_Q[1] / 16.0,
    TANH_Q[2] / 64.0,
    TANH_Q[3] / 256.0,
];

/// `e^x`, saturating to `e^88` above and about `e^-87` below.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // `shifted` holds round(x · log2 e) in its low mantissa bits; reading the
    // integer from the bits keeps everything in vectorizable integer ops.
    let shifted = x * LOG2_E + ROUND_MAGIC;
    let k = shifted - ROUND_MAGIC;
    let k_int = shifted.to_bits() as i32 - ROUND_MAGIC.to_bits() as i32;
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let scale = f32::from_bits(((k_int + 127) as u32) << 23);
    p * scale
}

/// `x P(x²) / Q(x²)` on `x` clamped to `±limit`, `p0` the constant term of
/// `P` and `p` its others (`Q`'s constant term is 1).
#[inline(always)]
fn odd_rational(x: f32, limit: f32, p0: f32, p: &[f32; 3], q: &[f32; 4]) -> f32 {
    let x = x.clamp(-limit, limit);
    let s = x * x;
    let num = ((p[2] * s + p[1]) * s + p[0]) * s + p0;
    let den = (((q[3] * s + q[2]) * s + q[1]) * s + q[0]) * s + 1.0;
    x * num / den
}

/// `tanh(x)` (see the module documentation for the approximation).
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    odd_rational(x, TANH_LIMIT, 1.0, &TANH_P, &TANH_Q)
}

/// `1 / (1 + e^{−x})`, as `0.5 + 0.5 · tanh(x / 2)`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    0.5 + odd_rational(x, SIGMOID_LIMIT, 0.25, &SIGMOID_P, &SIGMOID_Q)
}

/// `x · sigmoid(x)` from `exp`, accurate relative to the result also for
/// negative `x` (where [`sigmoid`]'s absolute error, times `x`, would show).
#[inline(always)]
fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// `erf(x)` (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7).
fn erf(x: f32) -> f32 {
    let sign = x.signum();
    let x = f64::from(x.abs());
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    sign * (1.0 - poly * (-x * x).exp()) as f32
}

fn softplus(x: f32, beta: f32, threshold: f32) -> f32 {
    if beta * x > threshold {
        x
    } else {
        (beta * x).exp().ln_1p() / beta
    }
}

/// Applies `activation` in place to `row`, which is channel `channel` of its signal.
pub fn apply(activation: &Activation, channel: usize, row: &mut [f32]) {
    apply_inline(activation, channel, row)
}

/// [`apply`], inlined into the caller so a table compiled for wider vectors
/// vectorizes it with them.
#[inline(always)]
pub(super) fn apply_inline(activation: &Activation, channel: usize, row: &mut [f32]) {
    match activation {
        Activation::Identity => {}
        Activation::Tanh => row.iter_mut().for_each(|x| *x = tanh(*x)),
        Activation::Hardtanh { min_val, max_val } => row
            .iter_mut()
            .for_each(|x| *x = x.max(*min_val).min(*max_val)),
        &Activation::LeakyHardtanh {
            min_val,
            max_val,
            min_slope,
            max_slope,
        } => row.iter_mut().for_each(|x| {
            let v = *x;
            *x = if v < min_val {
                (v - min_val) * min_slope + min_val
            } else if v > max_val {
                (v - max_val) * max_slope + max_val
            } else {
                v
            }
        }),
        Activation::ReLU => row.iter_mut().for_each(|x| *x = x.max(0.0)),
        &Activation::LeakyReLU { negative_slope } => row
            .iter_mut()
            .for_each(|x| *x = if *x > 0.0 { *x } else { *x * negative_slope }),
        Activation::PReLU { negative_slopes } => {
            let slope = if negative_slopes.len() == 1 {
                negative_slopes[0]
            } else {
                negative_slopes[channel]
            };
            row.iter_mut()
                .for_each(|x| *x = if *x > 0.0 { *x } else { *x * slope })
        }
        Activation::Sigmoid => row.iter_mut().for_each(|x| *x = sigmoid(*x)),
        Activation::SiLU => row.iter_mut().for_each(|x| *x = silu(*x)),
        Activation::Hardswish => row
            .iter_mut()
            .for_each(|x| *x = *x * (*x + 3.0).clamp(0.0, 6.0) * (1.0 / 6.0)),
        Activation::Hardsigmoid => row
            .iter_mut()
            .for_each(|x| *x = (*x + 3.0).clamp(0.0, 6.0) * (1.0 / 6.0)),
        Activation::Softsign => row.iter_mut().for_each(|x| *x /= 1.0 + x.abs()),
        Activation::Softsigmoid => row
            .iter_mut()
            .for_each(|x| *x = 0.5 * (1.0 + *x / (1.0 + x.abs()))),
        &Activation::ELU { alpha } => row
            .iter_mut()
            .for_each(|x| *x = if *x > 0.0 { *x } else { alpha * x.exp_m1() }),
        &Activation::GELU { tanh_approximation } => {
            if tanh_approximation {
                let c = (2.0 / std::f32::consts::PI).sqrt();
                row.iter_mut()
                    .for_each(|x| *x = 0.5 * *x * (1.0 + tanh(c * (*x + 0.044_715 * *x * *x * *x))))
            } else {
                row.iter_mut()
                    .for_each(|x| *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2)))
            }
        }
        &Activation::Softplus { beta, threshold } => row
            .iter_mut()
            .for_each(|x| *x = softplus(*x, beta, threshold)),
        Activation::Mish => row
            .iter_mut()
            .for_each(|x| *x *= softplus(*x, 1.0, 20.0).tanh()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> impl Iterator<Item = f32> {
        (-40_000..=40_000).map(|i| i as f32 * 5e-4)
    }

    #[test]
    fn exp_is_accurate_to_2e7_relative() {
        for x in grid().chain([-87.0, -50.0, 30.0, 88.0]) {
            let exact = f64::from(x).exp();
            let rel = ((f64::from(exp(x)) - exact) / exact).abs();
            assert!(rel < 2e-7, "exp({x}) relative error {rel}");
        }
    }

    fn exact_sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    #[test]
    fn tanh_is_within_5_5e7_and_sigmoid_within_3e7_absolute() {
        // Every f32 step of 5e-4 over ±20, then the neighbourhood of the
        // clamps, where the error of the fit is largest.
        let near_limits = (-2000..=2000).flat_map(|i| {
            let d = i as f32 * 1e-4;
            [
                TANH_LIMIT + d,
                SIGMOID_LIMIT + d,
                -TANH_LIMIT + d,
                -SIGMOID_LIMIT + d,
            ]
        });
        for x in grid().chain(near_limits).chain([1e-30, -1e-30, 0.0]) {
            let t = (f64::from(tanh(x)) - f64::from(x).tanh()).abs();
            let s = (f64::from(sigmoid(x)) - exact_sigmoid(f64::from(x))).abs();
            assert!(t < 5.5e-7, "tanh({x}) error {t}");
            assert!(s < 3e-7, "sigmoid({x}) error {s}");
        }
    }

    #[test]
    fn tanh_and_sigmoid_saturate_exactly() {
        for x in [TANH_LIMIT, 8.5, 9.0, 20.0, 1e30, f32::INFINITY] {
            assert_eq!(tanh(x), 1.0, "tanh({x})");
            assert_eq!(tanh(-x), -1.0, "tanh({})", -x);
        }
        for x in [SIGMOID_LIMIT, 17.0, 40.0, 1e30, f32::INFINITY] {
            assert_eq!(sigmoid(x), 1.0, "sigmoid({x})");
            assert_eq!(sigmoid(-x), 0.0, "sigmoid({})", -x);
        }
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(sigmoid(0.0), 0.5);
    }

    #[test]
    fn tanh_is_odd_bounded_and_monotone_to_rounding() {
        let mut previous = -1.0_f32;
        for x in grid() {
            let t = tanh(x);
            assert_eq!(tanh(-x), -t, "tanh(-{x})");
            assert!(t.abs() <= 1.0 + 2.0 * f32::EPSILON, "tanh({x}) = {t}");
            // Rounding near ±1 may step back by a few ulps, never more.
            assert!(
                t >= previous - 4.0 * f32::EPSILON,
                "tanh({x}) = {t} < {previous}"
            );
            previous = previous.max(t);
            let s = sigmoid(x);
            assert!(
                (s + sigmoid(-x) - 1.0).abs() <= f32::EPSILON,
                "sigmoid(±{x})"
            );
        }
    }

    #[test]
    fn silu_is_accurate_to_2e7_relative() {
        for x in grid() {
            let exact = f64::from(x) * exact_sigmoid(f64::from(x));
            let err = (f64::from(silu(x)) - exact).abs();
            assert!(err <= 2e-7 * exact.abs() + 1e-37, "silu({x}) error {err}");
        }
    }

    #[test]
    fn erf_matches_known_values() {
        for (x, expected) in [
            (0.0, 0.0),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (-2.0, -0.995_322_3),
        ] {
            assert!((erf(x) - expected).abs() < 2e-7, "erf({x})");
        }
    }

    #[test]
    fn prelu_uses_the_slope_of_its_channel() {
        let prelu = Activation::PReLU {
            negative_slopes: vec![0.1, 0.5],
        };
        let mut row = [-2.0, 3.0];
        apply(&prelu, 1, &mut row);
        assert_eq!(row, [-1.0, 3.0]);
    }
}
