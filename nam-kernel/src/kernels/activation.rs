//! Activation functions over slices, and the fast `exp`/`tanh`/`sigmoid` they use.
//!
//! `exp` is a range-reduced degree-7 polynomial (relative error below 2e-7 over
//! the whole `f32` range it does not saturate); `tanh` and `sigmoid` derive from
//! it and stay within 2e-7 absolute of the exact functions. Everything is
//! branch-free so the loops vectorize; the accuracy is checked against `f64`
//! in the tests below.

use crate::format::Activation;

pub(super) const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in a part exact in f32 and the remainder (Cody–Waite reduction).
pub(super) const LN2_HI: f32 = 0.693_145_75;
pub(super) const LN2_LO: f32 = 1.428_606_8e-6;
/// 1.5 · 2^23: adding and subtracting it rounds an f32 to the nearest integer.
pub(super) const ROUND_MAGIC: f32 = 12_582_912.0;

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

/// `tanh(x)`, as `1 − 2 / (e^{2x} + 1)`.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

/// `1 / (1 + e^{−x})`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
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
        Activation::SiLU => row.iter_mut().for_each(|x| *x *= sigmoid(*x)),
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

    #[test]
    fn tanh_and_sigmoid_are_accurate_to_2e7_absolute() {
        for x in grid().chain([-100.0, 100.0, 1e-30, -1e-30]) {
            let t = (f64::from(tanh(x)) - f64::from(x).tanh()).abs();
            let s = (f64::from(sigmoid(x)) - 1.0 / (1.0 + (-f64::from(x)).exp())).abs();
            assert!(t < 2e-7, "tanh({x}) error {t}");
            assert!(s < 2e-7, "sigmoid({x}) error {s}");
        }
        assert_eq!(tanh(100.0), 1.0);
        assert_eq!(tanh(-100.0), -1.0);
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
