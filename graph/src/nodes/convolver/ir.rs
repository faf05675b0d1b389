//! Preparing an impulse response for the [`Convolver`](super::Convolver):
//! checks, band normalization and resampling to the graph's rate with a
//! minimum-phase windowed-sinc kernel (see the node's documentation for the
//! numbers). All of it runs off the audio thread, once per IR and rate.

use std::borrow::Cow;
use std::sync::OnceLock;

use realfft::num_complex::Complex;
use realfft::{FftError, RealFftPlanner};

use super::MAX_IR_SECONDS;
use crate::nodes::sinc::kaiser_sinc;

/// Largest sum of the prepared IR's magnitudes (its largest possible gain,
/// +180 dB): with the node's input clamp it bounds every value the
/// convolution computes far below `f32::MAX`.
const IR_GAIN_LIMIT: f64 = 1.0e9;

/// Band over which [`normalize`] measures the response.
const NORMALIZE_BAND_HZ: (f64, f64) = (20.0, 20_000.0);

/// Band RMS below which an IR counts as silent and is not normalized (−120 dB).
const NORMALIZE_FLOOR: f64 = 1.0e-6;

/// Refuses empty, too long or non-finite IRs and bad rates.
pub(super) fn check(ir: &[f32], rate_hz: f64) -> Result<(), String> {
    if !(rate_hz.is_finite() && rate_hz > 0.0) {
        return Err(format!("the sample rate {rate_hz} Hz is not positive"));
    }
    if ir.is_empty() {
        return Err("the impulse response has no samples".into());
    }
    if ir.len() as f64 > MAX_IR_SECONDS * rate_hz {
        return Err(format!(
            "{} samples at {rate_hz} Hz is longer than the {MAX_IR_SECONDS} s limit",
            ir.len()
        ));
    }
    if let Some(i) = ir.iter().position(|h| !h.is_finite()) {
        return Err(format!("sample {i} is {} (not finite)", ir[i]));
    }
    Ok(())
}

/// `ir` (recorded at `ir_rate_hz`) at `rate_hz`: borrowed when the rates
/// match, resampled otherwise. Refuses an IR whose gain (the sum of its
/// magnitudes) exceeds the limit that keeps the convolution finite.
pub(super) fn at_rate(ir: &[f32], ir_rate_hz: f64, rate_hz: f64) -> Result<Cow<'_, [f32]>, String> {
    let ir = if (rate_hz - ir_rate_hz).abs() <= 1e-9 * rate_hz {
        Cow::Borrowed(ir)
    } else {
        Cow::Owned(
            resample(ir, ir_rate_hz, rate_hz).map_err(|e| format!("resampling failed: {e}"))?,
        )
    };
    let gain: f64 = ir.iter().map(|&h| f64::from(h.abs())).sum();
    if gain > IR_GAIN_LIMIT {
        return Err(format!(
            "the sum of the IR's magnitudes is {gain:e}, above the limit of {IR_GAIN_LIMIT:e}"
        ));
    }
    Ok(ir)
}

/// Scales `ir` so that its magnitude response has an RMS of 1 over
/// [`NORMALIZE_BAND_HZ`] (capped at 0.45 × `rate_hz`).
pub(super) fn normalize(ir: &mut [f32], rate_hz: f64) -> Result<(), String> {
    // Zero-padding to at least twice the length samples the response finely
    // enough for the band average; 2^14 bins keep short IRs' average smooth.
    let len = (2 * ir.len()).next_power_of_two().max(1 << 14);
    let mut planner = RealFftPlanner::<f64>::new();
    let fft = planner.plan_fft_forward(len);
    let mut time = vec![0.0; len];
    for (t, &h) in time.iter_mut().zip(ir.iter()) {
        *t = f64::from(h);
    }
    let mut spectrum = fft.make_output_vec();
    fft.process(&mut time, &mut spectrum)
        .map_err(|e| format!("FFT failed: {e}"))?;
    let (low, high) = (NORMALIZE_BAND_HZ.0, NORMALIZE_BAND_HZ.1.min(0.45 * rate_hz));
    let bin_hz = rate_hz / len as f64;
    let (sum, count) = spectrum
        .iter()
        .enumerate()
        .filter(|&(i, _)| (low..=high).contains(&(i as f64 * bin_hz)))
        .fold((0.0, 0usize), |(sum, count), (_, bin)| {
            (sum + bin.norm_sqr(), count + 1)
        });
    if count == 0 {
        return Err(format!(
            "cannot normalize: at {rate_hz} Hz the IR has no band from {low} Hz to {high} Hz"
        ));
    }
    let rms = (sum / count as f64).sqrt();
    if rms <= NORMALIZE_FLOOR {
        return Err(format!(
            "cannot normalize: the IR is silent from {low} Hz to {high} Hz ({:.1} dB)",
            20.0 * rms.log10()
        ));
    }
    let gain = (1.0 / rms) as f32;
    ir.iter_mut().for_each(|h| *h *= gain);
    Ok(())
}

// ---------------------------------------------------------------------------
// Resampling

/// Length of the band-limiting kernel, in samples of the lower rate.
const KERNEL_SPAN: usize = 80;

/// Kernel table points per sample of the lower rate (linear interpolation
/// between them is exact to about 1e-5).
const KERNEL_OVERSAMPLING: usize = 128;

/// Cutoff of the kernel, as a fraction of the lower rate (0.46: 0.92 × its
/// Nyquist frequency). With the Kaiser window below, the passband is flat to
/// 0.42 and the stopband (−100 dB) starts at 0.5.
const KERNEL_CUTOFF: f64 = 0.46;

/// Kaiser window shape: about 100 dB of stopband attenuation.
const KAISER_BETA: f64 = 10.0;

/// Smallest magnitude taken into the cepstrum (−200 dB), so the logarithm of
/// the stopband's zeros stays finite.
const CEPSTRUM_FLOOR: f64 = 1.0e-10;

/// The cepstrum's FFT is this many times the kernel's length (rounded up to a
/// power of two), so the cepstrum does not alias.
const CEPSTRUM_PADDING: usize = 16;

/// Resamples `ir` from `from_hz` to `to_hz`, keeping its frequency response
/// (samples scaled by `from_hz / to_hz`) below the kernel's cutoff. Output
/// sample `n` is at time `n / to_hz`, input sample `k` at `k / from_hz`; the
/// causal kernel spreads each input sample over the following
/// [`KERNEL_SPAN`] samples of the lower rate, all kept.
fn resample(ir: &[f32], from_hz: f64, to_hz: f64) -> Result<Vec<f32>, FftError> {
    let kernel = resampling_kernel()?;
    let kernel = kernel.as_slice();
    let lower = from_hz.min(to_hz);
    // Input samples per output sample, and kernel units per input sample.
    let ratio = from_hz / to_hz;
    let unit = lower / from_hz;
    let support = KERNEL_SPAN as f64 / unit;
    let last = ir.len().saturating_sub(1);
    let frames = ((last as f64 + support) / ratio).ceil() as usize + 1;
    // Each output sample sums `to_hz / lower` outputs' worth of input per
    // kernel unit; scaling by `lower / to_hz` keeps the response's magnitude.
    let gain = lower / to_hz;
    let mut out = Vec::with_capacity(frames);
    for n in 0..frames {
        let position = n as f64 * ratio;
        let newest = (position.floor() as usize).min(last);
        let oldest = (position - support).ceil().max(0.0) as usize;
        let mut sum = 0.0;
        for (k, &h) in ir.iter().enumerate().take(newest + 1).skip(oldest) {
            sum += f64::from(h) * kernel_at(kernel, (position - k as f64) * unit);
        }
        out.push((sum * gain) as f32);
    }
    Ok(out)
}

/// The kernel at `u` samples of the lower rate, interpolated linearly from the
/// table; zero outside it.
fn kernel_at(table: &[f64], u: f64) -> f64 {
    let position = u.max(0.0) * KERNEL_OVERSAMPLING as f64;
    let i = position as usize;
    match (table.get(i), table.get(i + 1)) {
        (Some(&a), Some(&b)) => a + (b - a) * (position - i as f64),
        _ => 0.0,
    }
}

/// The minimum-phase band-limiting kernel, sampled [`KERNEL_OVERSAMPLING`]
/// times per sample of the lower rate, with unit area (unit gain at DC), and a
/// trailing zero for interpolation. Computed once per process (a 256k-point
/// FFT pair, most of a resampled IR's load time) and shared.
fn resampling_kernel() -> Result<&'static Vec<f64>, FftError> {
    static KERNEL: OnceLock<Vec<f64>> = OnceLock::new();
    if let Some(kernel) = KERNEL.get() {
        return Ok(kernel);
    }
    let kernel = compute_resampling_kernel()?;
    Ok(KERNEL.get_or_init(|| kernel))
}

/// Computes [`resampling_kernel`]'s table.
fn compute_resampling_kernel() -> Result<Vec<f64>, FftError> {
    let points = KERNEL_SPAN * KERNEL_OVERSAMPLING;
    let center = points as f64 / 2.0;
    let q = KERNEL_OVERSAMPLING as f64;
    let prototype: Vec<f64> = (0..=points)
        .map(|i| {
            let u = (i as f64 - center) / q;
            let r = (i as f64 - center) / center;
            kaiser_sinc(u, r, KERNEL_CUTOFF, KAISER_BETA)
        })
        .collect();
    let mut kernel = minimum_phase(&prototype)?;
    let area: f64 = kernel.iter().sum::<f64>() / q;
    kernel.iter_mut().for_each(|k| *k /= area);
    kernel.push(0.0);
    Ok(kernel)
}

/// The minimum-phase sequence with the magnitude response of `x`, as long as
/// `x` (homomorphic method: fold the real cepstrum onto positive quefrencies).
fn minimum_phase(x: &[f64]) -> Result<Vec<f64>, FftError> {
    let len = (x.len() * CEPSTRUM_PADDING).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(len);
    let inverse = planner.plan_fft_inverse(len);
    let mut time = vec![0.0; len];
    time[..x.len()].copy_from_slice(x);
    let mut spectrum = forward.make_output_vec();
    forward.process(&mut time, &mut spectrum)?;
    for bin in spectrum.iter_mut() {
        *bin = Complex::new(bin.norm().max(CEPSTRUM_FLOOR).ln(), 0.0);
    }
    inverse.process(&mut spectrum, &mut time)?;
    let scale = 1.0 / len as f64;
    let half = len / 2;
    time[0] *= scale;
    time[1..half].iter_mut().for_each(|c| *c *= 2.0 * scale);
    time[half] *= scale;
    time[half + 1..].fill(0.0);
    forward.process(&mut time, &mut spectrum)?;
    for bin in spectrum.iter_mut() {
        *bin = bin.exp();
    }
    // The DC and Nyquist bins of a real signal's spectrum are real.
    if let Some(first) = spectrum.first_mut() {
        first.im = 0.0;
    }
    if let Some(last) = spectrum.last_mut() {
        last.im = 0.0;
    }
    inverse.process(&mut spectrum, &mut time)?;
    Ok(time[..x.len()].iter().map(|v| v * scale).collect())
}
