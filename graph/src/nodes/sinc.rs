//! The Kaiser-windowed sinc both resamplers are built from: the streaming
//! [`Resampler`](super::resampler::Resampler) and the convolver's one-off IR
//! resampling (which turns it into a minimum-phase kernel).

/// A low-pass sinc of `cutoff` (fraction of the sample rate) at `t` samples
/// from its centre, under a Kaiser window of shape `beta` at relative
/// position `r` (−1 to 1), scaled to unit DC gain per sample.
pub(crate) fn kaiser_sinc(t: f64, r: f64, cutoff: f64, beta: f64) -> f64 {
    let x = 2.0 * cutoff * t;
    let sinc = if x == 0.0 {
        1.0
    } else {
        (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
    };
    let window = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(beta);
    2.0 * cutoff * sinc * window
}

/// The modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let quarter_square = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..100 {
        term *= quarter_square / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}
