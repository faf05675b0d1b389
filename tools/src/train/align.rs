//! Latency between input and target: found from the calibration impulses when
//! the input is a NAM capture signal ([`capture_signal`]), as the NAM trainer
//! does, otherwise from the onset
//! of the impulse response estimated by regularized deconvolution (a plain
//! cross-correlation peak is the phase response of the amp's filters, not its
//! delay). Positive latency: the target lags the input.

use std::path::Path;

use realfft::RealFftPlanner;

use super::capture_signal::{self, Detected};

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
    /// The calibration impulses of a NAM capture signal.
    NamImpulses,
    /// Onset of the deconvolved impulse response.
    Deconvolution,
}

/// The latency found, how, and how sure it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Latency {
    /// Samples by which the target lags the input (negative: it leads).
    pub samples: i64,
    /// How it was found.
    pub method: Method,
    /// The NAM capture signal the input was recognised as, if any (also with
    /// a manual latency).
    pub signal: Option<Detected>,
    /// What the detection found, for the user: each impulse's delay, or the
    /// response's onset, rise, peak and the peak's margin over the next one.
    pub evidence: String,
    /// Reasons to doubt the figure; each is printed as a warning before training.
    pub warnings: Vec<String>,
    /// Per-impulse delays (impulses only), for the `.nam` training record.
    pub delays: Vec<i64>,
}

impl Latency {
    /// True when the figure may be wrong (see [`Latency::warnings`]).
    pub fn is_ambiguous(&self) -> bool {
        !self.warnings.is_empty()
    }
}

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.method {
            Method::Manual => write!(f, "{} samples (given)", self.samples),
            Method::NamImpulses | Method::Deconvolution => {
                write!(f, "{} samples ({})", self.samples, self.evidence)
            }
        }
    }
}

/// What the input is, in words: the capture signal and how it was recognised,
/// or that it is not one (and, unless the latency was given, that the response
/// onset gave it).
pub fn describe_input(latency: &Latency) -> String {
    match (&latency.signal, latency.method) {
        (Some(d), _) => format!(
            "NAM capture signal v{} (recognised by {})",
            d.signal.version, d.by
        ),
        (None, Method::Manual) => "not a NAM capture signal".into(),
        (None, _) => "not a NAM capture signal; latency from the response onset".into(),
    }
}

/// The NAM trainer's safety margin: the latency used is one sample less than
/// the first response to the impulses.
pub const SAFETY_SAMPLES: i64 = 1;
/// The trainer's trigger: above the background by this much...
const TRIGGER_ABSOLUTE: f32 = 3e-4;
/// ... and by this fraction of it.
const TRIGGER_RELATIVE: f32 = 1e-3;
/// Impulse delays further apart than this make the figure doubtful (the
/// trainer's disagreement threshold).
const MAX_DISAGREEMENT: i64 = 20;
/// Deconvolution: an onset this many samples after the response first rises
/// above [`RISE_FRACTION`] of its peak is doubtful.
const MAX_RISE_SAMPLES: i64 = 4;
/// Deconvolution: where the response "first rises", as a fraction of its peak.
/// Above the pre-ringing of converters' anti-alias filters (an ideal one's
/// first side lobe is 22% of its peak; the team's real capture rises to 10%
/// seven samples before its onset), so only a slowly rising response counts.
const RISE_FRACTION: f32 = 0.25;
/// Deconvolution: a peak less than this many times the next candidate (a
/// local maximum further than [`CANDIDATE_DISTANCE`] samples away) is doubtful.
const MIN_PEAK_MARGIN: f32 = 1.5;
/// How far from the peak another candidate must lie, in samples.
const CANDIDATE_DISTANCE: i64 = 32;

/// Finds the latency of `target` against `input` (same rate), the input read
/// from `input_file`: from the calibration impulses when the input is a NAM
/// capture signal, otherwise from the deconvolution onset. `manual` (from
/// `--latency`) overrides the figure; the signal is still recognised.
/// `None` when no response was found (e.g. the target does not follow the input).
pub fn detect(
    input_file: &Path,
    input: &[f32],
    target: &[f32],
    sample_rate_hz: u32,
    manual: Option<i64>,
) -> Option<Latency> {
    let signal = capture_signal::detect(input_file, input, sample_rate_hz);
    if let Some(samples) = manual {
        return Some(Latency {
            samples,
            method: Method::Manual,
            signal,
            evidence: "given".into(),
            warnings: Vec::new(),
            delays: Vec::new(),
        });
    }
    match signal {
        Some(detected) => impulse_latency(&detected, target),
        None => deconvolution_latency(input, target),
    }
}

/// The NAM trainer's calibration: the target's response to each impulse is
/// scanned from [`LOOKAHEAD`] before to [`LOOKBACK`] after it; the scans are
/// averaged and the first sample above the background level (measured where
/// the input is silent) plus margins is the delay, less [`SAFETY_SAMPLES`].
/// Each impulse's own delay is also found: if they disagree, or the delay is
/// the earliest possible, the figure is doubtful.
pub fn impulse_latency(detected: &Detected, target: &[f32]) -> Option<Latency> {
    let signal = &detected.signal;
    if target.len() < signal.blips_start + signal.blips_len {
        return None;
    }
    let background = target[signal.noise.0..signal.noise.1]
        .iter()
        .fold(0.0_f32, |m, x| m.max(x.abs()));
    let threshold = (background + TRIGGER_ABSOLUTE).max((1.0 + TRIGGER_RELATIVE) * background);
    let scans: Vec<&[f32]> = signal
        .blips
        .iter()
        .map(|&p| &target[p - LOOKAHEAD..p + LOOKBACK])
        .collect();
    let average: Vec<f32> = (0..LOOKAHEAD + LOOKBACK)
        .map(|i| scans.iter().map(|scan| scan[i]).sum::<f32>() / scans.len() as f32)
        .collect();
    let trigger = |scan: &[f32]| {
        scan.iter()
            .position(|x| x.abs() > threshold)
            .map(|i| i as i64 - LOOKAHEAD as i64)
    };
    let delay = trigger(&average)?;
    let delays: Vec<i64> = scans.iter().filter_map(|scan| trigger(scan)).collect();
    let mut warnings = Vec::new();
    if delay == -(LOOKAHEAD as i64) || delays.contains(&-(LOOKAHEAD as i64)) {
        warnings.push(format!(
            "the target responds {LOOKAHEAD} samples before the impulses or earlier: \
             something is wrong with the data (is it recorded from this input?)"
        ));
    }
    let spread = delays.iter().max().unwrap_or(&delay) - delays.iter().min().unwrap_or(&delay);
    if spread >= MAX_DISAGREEMENT || delays.len() < scans.len() {
        warnings.push(format!(
            "the impulses' delays disagree ({delays:?} samples); if the model turns out badly, \
             give the latency with --latency"
        ));
    }
    Some(Latency {
        samples: delay - SAFETY_SAMPLES,
        method: Method::NamImpulses,
        signal: Some(*detected),
        evidence: format!(
            "NAM calibration impulses of v{}: first response {delay} samples after them \
             (each: {delays:?}), less {SAFETY_SAMPLES} sample of safety",
            signal.version
        ),
        warnings,
        delays,
    })
}

/// Regularized deconvolution `Y·X̄ / (|X|² + ε)` over the loudest stretch of the
/// files; the latency is the first lag in `[-LOOKAHEAD, LOOKBACK]` whose response
/// reaches `ONSET_FRACTION` of the largest one.
pub fn deconvolution_latency(input: &[f32], target: &[f32]) -> Option<Latency> {
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
    let lags: Vec<(i64, f32)> = (-(LOOKAHEAD as i64)..=LOOKBACK as i64)
        .map(|lag| (lag, at(lag)))
        .collect();
    judge_response(&lags)
}

/// The latency from an impulse response `(lag, |h|)`: the onset (first lag
/// reaching [`ONSET_FRACTION`] of the peak), and how sure it is: where the
/// response first rises ([`RISE_FRACTION`] of the peak) and the peak's margin
/// over the next candidate.
fn judge_response(lags: &[(i64, f32)]) -> Option<Latency> {
    let (peak_lag, peak) = lags.iter().fold(
        (0, 0.0_f32),
        |best, &(lag, v)| {
            if v > best.1 {
                (lag, v)
            } else {
                best
            }
        },
    );
    if peak.is_nan() || peak <= 0.0 {
        return None;
    }
    let first_reaching = |fraction: f32| {
        lags.iter()
            .find(|(_, v)| *v >= fraction * peak)
            .map(|(lag, _)| *lag)
    };
    let onset = first_reaching(ONSET_FRACTION)?;
    let rise = first_reaching(RISE_FRACTION)?;
    let next = lags
        .windows(3)
        .filter(|w| w[1].1 >= w[0].1 && w[1].1 >= w[2].1)
        .map(|w| w[1])
        .filter(|(lag, _)| (lag - peak_lag).abs() > CANDIDATE_DISTANCE)
        .fold(None, |best: Option<(i64, f32)>, c| match best {
            Some(b) if b.1 >= c.1 => Some(b),
            _ => Some(c),
        });
    let margin = next.map_or(f32::INFINITY, |(_, v)| peak / v.max(f32::MIN_POSITIVE));
    let mut warnings = Vec::new();
    if onset - rise > MAX_RISE_SAMPLES {
        warnings.push(format!(
            "the response rises over {} samples (above {:.0}% of its peak from {rise}, \
             {:.0}% at {onset}): the latency could be anywhere from {rise} to {onset} samples, or 0 if the \
             capture is sample-aligned (digital, no interface): then give --latency 0",
            onset - rise,
            100.0 * RISE_FRACTION,
            100.0 * ONSET_FRACTION
        ));
    }
    if margin < MIN_PEAK_MARGIN {
        let (lag, _) = next.unwrap_or((peak_lag, peak));
        warnings.push(format!(
            "the response has two similar peaks (at {peak_lag} and {lag} samples, \
             ratio {margin:.2}); check the latency or give --latency"
        ));
    }
    if onset < 0 {
        warnings.push(format!(
            "the target leads the input by {} samples: are the input and target swapped?",
            -onset
        ));
    }
    let next_text = match next {
        Some((lag, _)) => format!("{margin:.1} times the next candidate, at {lag}"),
        None => "no other candidate".into(),
    };
    Some(Latency {
        samples: onset,
        method: Method::Deconvolution,
        signal: None,
        evidence: format!(
            "impulse response onset; it rises from {rise} and peaks at {peak_lag}, \
             {next_text}"
        ),
        warnings,
        delays: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::capture_signal::{self, CaptureSignal, Match};

    /// A seeded white noise in [-1, 1).
    fn noise(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// A crude amp: one-pole low-pass, soft clipping, a little noise, delayed.
    fn amp(input: &[f32], delay: usize) -> Vec<f32> {
        let hiss = noise(99, input.len());
        let mut state = 0.0;
        let mut out = vec![0.0; delay];
        out.extend(
            input[..input.len() - delay]
                .iter()
                .zip(&hiss)
                .map(|(&x, h)| {
                    state += 0.3 * (x - state);
                    (3.0 * state).tanh() * 0.5 + 1e-5 * h
                }),
        );
        out
    }

    /// Noise laid out like `signal`: its length, silence around its impulses.
    fn laid_out_like(signal: &CaptureSignal, length: usize) -> Vec<f32> {
        let mut x: Vec<f32> = noise(3, length).iter().map(|v| 0.3 * v).collect();
        let blips = signal.blips_start..signal.blips_start + signal.blips_len;
        x[blips].iter_mut().for_each(|v| *v = 0.0);
        for &p in signal.blips {
            x[p] = 0.5;
        }
        x
    }

    #[test]
    fn each_capture_signal_version_is_recognised_and_its_impulses_give_the_latency() {
        let nowhere = Path::new("/nonexistent/input.wav");
        for (signal, length) in [
            (capture_signal::V3, 190 * 48_000),
            (capture_signal::V2, 191 * 48_000),
            (capture_signal::V1, 180 * 48_000),
            (capture_signal::PROTEUS, 9_300_000),
        ] {
            let x = laid_out_like(&signal, length);
            for delay in [0, 25, 480] {
                let y = amp(&x, delay);
                let found = detect(nowhere, &x, &y, signal.rate_hz, None).unwrap();
                let detected = found.signal.expect("recognised");
                assert_eq!(detected.signal.version, signal.version, "{found}");
                assert_eq!(detected.by, Match::Layout);
                assert_eq!(found.method, Method::NamImpulses);
                assert_eq!(found.samples, delay as i64 - SAFETY_SAMPLES, "{found}");
                assert!(!found.is_ambiguous(), "{:?}", found.warnings);
                assert!(found.to_string().contains(signal.version), "{found}");
            }
            // Another rate or length is not that signal.
            let other_rate = if signal.rate_hz == 48_000 {
                44_100
            } else {
                48_000
            };
            assert!(capture_signal::detect(nowhere, &x, other_rate).is_none());
            if signal.length.is_some() {
                let longer = [x.as_slice(), &[0.0; 48_000]].concat();
                assert!(capture_signal::detect(nowhere, &longer, signal.rate_hz).is_none());
            }
        }
    }

    #[test]
    fn a_manual_latency_overrides_but_the_signal_is_still_named() {
        let x = laid_out_like(&capture_signal::V3, 190 * 48_000);
        let found = detect(Path::new("in.wav"), &x, &amp(&x, 30), 48_000, Some(7)).unwrap();
        assert_eq!((found.samples, found.method), (7, Method::Manual));
        assert_eq!(found.signal.unwrap().signal, capture_signal::V3);
        assert!(describe_input(&found).contains("v3.0.0"));
    }

    #[test]
    fn impulses_that_disagree_are_a_warning() {
        let signal = capture_signal::V3;
        let x = laid_out_like(&signal, 190 * 48_000);
        let mut y = amp(&x, 10);
        // The second impulse's response comes 100 samples later.
        let second = signal.blips[1];
        let moved: Vec<f32> = y[second..second + 2_000].to_vec();
        y[second..second + 100].iter_mut().for_each(|v| *v = 0.0);
        y[second + 100..second + 2_100].copy_from_slice(&moved);
        let found = detect(Path::new("in.wav"), &x, &y, 48_000, None).unwrap();
        assert_eq!(found.delays, vec![10, 110]);
        assert!(found.is_ambiguous());
        assert!(
            found.warnings[0].contains("disagree"),
            "{:?}",
            found.warnings
        );
    }

    #[test]
    fn other_inputs_use_the_onset_and_say_how_sure_it_is() {
        let x: Vec<f32> = noise(5, 200_000).iter().map(|v| 0.3 * v).collect();
        let found = detect(Path::new("in.wav"), &x, &amp(&x, 37), 48_000, None).unwrap();
        assert_eq!((found.samples, found.method), (37, Method::Deconvolution));
        assert!(found.signal.is_none());
        assert!(!found.is_ambiguous(), "{:?}", found.warnings);
        assert!(
            found.evidence.contains("times the next candidate"),
            "{found}"
        );
        assert_eq!(
            describe_input(&found),
            "not a NAM capture signal; latency from the response onset"
        );
        let given = detect(Path::new("in.wav"), &x, &amp(&x, 37), 48_000, Some(12)).unwrap();
        assert_eq!(describe_input(&given), "not a NAM capture signal");
    }

    #[test]
    fn a_slowly_rising_response_is_ambiguous() {
        // A sample-aligned digital capture through a cabinet-like filter whose
        // response swells over 32 samples: the onset is late, the rise is at 0.
        let x: Vec<f32> = noise(6, 200_000).iter().map(|v| 0.3 * v).collect();
        let ir: Vec<f32> = (0..64)
            .map(|i| {
                if i < 32 {
                    i as f32 / 32.0
                } else {
                    0.9_f32.powi(i - 32)
                }
            })
            .collect();
        let y: Vec<f32> = (0..x.len())
            .map(|t| {
                let s: f32 = ir
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| *k <= t)
                    .map(|(k, h)| h * x[t - k])
                    .sum();
                (0.5 * s).tanh()
            })
            .collect();
        let found = detect(Path::new("in.wav"), &x, &y, 48_000, None).unwrap();
        assert!(found.samples > 4, "{found}");
        assert!(found.is_ambiguous(), "{found}");
        assert!(
            found.warnings[0].contains("--latency 0"),
            "{:?}",
            found.warnings
        );
    }

    #[test]
    fn a_swapped_pair_is_a_warning() {
        let x: Vec<f32> = noise(7, 200_000).iter().map(|v| 0.3 * v).collect();
        let y = amp(&x, 300);
        let found = detect(Path::new("in.wav"), &y, &x, 48_000, None).unwrap();
        assert!(found.samples < 0, "{found}");
        assert!(
            found.warnings.iter().any(|w| w.contains("swapped")),
            "{found}"
        );
    }
}
