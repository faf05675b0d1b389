//! Latency between input and target: found from NAM's calibration impulses when
//! the input is the standard NAM capture signal (v3), otherwise from the onset
//! of the impulse response estimated by regularized deconvolution (a plain
//! cross-correlation peak is the phase response of the amp's filters, not its
//! delay). Positive latency: the target lags the input.

use realfft::RealFftPlanner;

/// Earliest latency looked for (the target ahead of the input), in samples.
pub const LOOKAHEAD: usize = 1_000;
/// Latest latency looked for, in samples.
pub const LOOKBACK: usize = 10_000;
/// Longest stretch of the files the deconvolution uses (about 22 s at 48 kHz).
const MAX_ANALYSIS_SAMPLES: usize = 1 << 20;
/// Onset: the first lag whose response reaches this fraction of the peak (half:
/// a distorting amp's linearized response rings weakly before its onset).
const ONSET_FRACTION: f32 = 0.5;

/// How the latency was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Given on the command line.
    Manual,
    /// NAM's calibration impulses (standard capture signal v3).
    NamImpulses,
    /// Onset of the deconvolved impulse response.
    Deconvolution,
}

/// The latency found and how.
#[derive(Clone, Debug, PartialEq)]
pub struct Latency {
    /// Samples by which the target lags the input (negative: it leads).
    pub samples: i64,
    /// How it was found.
    pub method: Method,
    /// The lag of the largest response, for the report (deconvolution only).
    pub peak_samples: Option<i64>,
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.method {
            Method::Manual => write!(f, "{} samples (given)", self.samples),
            Method::NamImpulses => write!(
                f,
                "{} samples (NAM calibration impulses, safety margin 1 sample)",
                self.samples
            ),
            Method::Deconvolution => write!(
                f,
                "{} samples (impulse response onset; its peak is at {} samples)",
                self.samples,
                self.peak_samples.unwrap_or(self.samples)
            ),
        }
    }
}

/// Sample positions of the calibration impulses of NAM's v3 capture signal at 48 kHz.
const NAM_V3_BLIPS: [usize; 2] = [504_000, 552_000];
/// The stretch of the v3 signal holding background noise only.
const NAM_V3_NOISE: (usize, usize) = (492_000, 498_000);

/// Finds the latency of `target` against `input` (same length, same rate).
/// `None` when no response was found (e.g. the target does not follow the input).
pub fn detect(input: &[f32], target: &[f32], sample_rate_hz: u32) -> Option<Latency> {
    if sample_rate_hz == 48_000 && has_nam_v3_impulses(input) {
        if let Some(samples) = nam_impulse_latency(target) {
            return Some(Latency {
                samples,
                method: Method::NamImpulses,
                peak_samples: None,
            });
        }
    }
    deconvolution_latency(input, target)
}

/// True when `input` carries isolated impulses where the v3 signal has them.
fn has_nam_v3_impulses(input: &[f32]) -> bool {
    NAM_V3_BLIPS.iter().all(|&p| {
        if p + LOOKBACK > input.len() {
            return false;
        }
        let peak = input[p].abs();
        let around = input[p - LOOKAHEAD..p]
            .iter()
            .chain(&input[p + 4..p + LOOKAHEAD])
            .fold(0.0_f32, |m, x| m.max(x.abs()));
        peak >= 0.1 && around < 0.01 * peak
    })
}

/// NAM's calibration: average the target around the impulses and take the first
/// sample above the background level (plus margins), minus one sample of safety.
fn nam_impulse_latency(target: &[f32]) -> Option<i64> {
    let background = target[NAM_V3_NOISE.0..NAM_V3_NOISE.1]
        .iter()
        .fold(0.0_f32, |m, x| m.max(x.abs()));
    let threshold = (background + 3e-4).max(1.001 * background);
    let window = LOOKAHEAD + LOOKBACK;
    let average: Vec<f32> = (0..window)
        .map(|i| {
            NAM_V3_BLIPS
                .iter()
                .map(|&p| target[p - LOOKAHEAD + i])
                .sum::<f32>()
                / NAM_V3_BLIPS.len() as f32
        })
        .collect();
    let first = average.iter().position(|x| x.abs() > threshold)?;
    Some(first as i64 - LOOKAHEAD as i64 - 1)
}

/// Regularized deconvolution `Y·X̄ / (|X|² + ε)` over the loudest stretch of the
/// files; the latency is the first lag in `[-LOOKAHEAD, LOOKBACK]` whose response
/// reaches [`ONSET_FRACTION`] of the largest one.
fn deconvolution_latency(input: &[f32], target: &[f32]) -> Option<Latency> {
    let n = input.len().min(target.len()).min(MAX_ANALYSIS_SAMPLES);
    if n < 2 * (LOOKAHEAD + LOOKBACK) {
        return None;
    }
    let fft_len = (2 * n).next_power_of_two();
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(fft_len);
    let inverse = planner.plan_fft_inverse(fft_len);
    let spectrum = |signal: &[f32]| {
        let mut buffer: Vec<f64> = signal[..n].iter().map(|&x| f64::from(x)).collect();
        buffer.resize(fft_len, 0.0);
        let mut out = forward.make_output_vec();
        forward.process(&mut buffer, &mut out).ok()?;
        Some(out)
    };
    let x = spectrum(input)?;
    let y = spectrum(target)?;
    let mean_power = x.iter().map(|c| c.norm_sqr()).sum::<f64>() / x.len() as f64;
    if mean_power <= 0.0 {
        return None;
    }
    let epsilon = 1e-3 * mean_power;
    let mut h: Vec<_> = x
        .iter()
        .zip(&y)
        .map(|(xk, yk)| yk * xk.conj() / (xk.norm_sqr() + epsilon))
        .collect();
    // A real signal's DC and Nyquist bins must be real for the inverse transform.
    for bin in [0, h.len() - 1] {
        h[bin].im = 0.0;
    }
    let mut response = inverse.make_output_vec();
    inverse.process(&mut h, &mut response).ok()?;
    let at = |lag: i64| {
        let index = lag.rem_euclid(fft_len as i64) as usize;
        response[index].abs() as f32
    };
    let lags = -(LOOKAHEAD as i64)..=LOOKBACK as i64;
    let (peak_lag, peak) =
        lags.clone()
            .map(|lag| (lag, at(lag)))
            .fold(
                (0, 0.0_f32),
                |best, (lag, v)| if v > best.1 { (lag, v) } else { best },
            );
    if peak.is_nan() || peak <= 0.0 {
        return None;
    }
    let onset = lags
        .into_iter()
        .find(|&lag| at(lag) >= ONSET_FRACTION * peak)?;
    Some(Latency {
        samples: onset,
        method: Method::Deconvolution,
        peak_samples: Some(peak_lag),
    })
}

/// The aligned pair: `target[t]` answers `input[t]` after removing `latency`.
pub fn apply(input: &[f32], target: &[f32], latency: i64) -> (Vec<f32>, Vec<f32>) {
    let n = input.len().min(target.len());
    let shift = latency.unsigned_abs().min(n as u64) as usize;
    if latency >= 0 {
        (input[..n - shift].to_vec(), target[shift..n].to_vec())
    } else {
        (input[shift..n].to_vec(), target[..n - shift].to_vec())
    }
}
