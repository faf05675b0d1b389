//! Reading and checking the training pair: both audio files (WAV, FLAC or
//! AIFF, read by [`nam_graph::audio_file`]) readable, mono, at the same rate,
//! of the same length (the target may run on by up to a second, as the NAM
//! trainer allows), not silent, not clipped; the target loud enough, not the
//! input itself, and not the NAM capture signal when the input is not one
//! (the files swapped).

use std::path::Path;

use nam_graph::audio_file::{self, AudioFileError, Limits};

use super::capture_signal;

/// Peak magnitude at or above which a file counts as clipped (−0.009 dBFS).
pub const CLIP_LEVEL: f32 = 0.999;
/// Consecutive samples at or above [`CLIP_LEVEL`] that count as clipping (one
/// full-scale sample, e.g. a calibration impulse, does not).
pub const CLIP_RUN: usize = 2;
/// Peak magnitude below which a file counts as silent (−80 dBFS).
pub const SILENCE_LEVEL: f32 = 1e-4;
/// RMS level, in dBFS, below which the target is too quiet to train on: its
/// noise floor would be a large part of what the model learns.
pub const QUIET_RMS_DBFS: f64 = -60.0;
/// How much longer than the input the target may be, in seconds (the NAM
/// trainer's allowance; the rest is ignored). It may not be shorter.
pub const MAX_TARGET_OVERRUN_S: f64 = 1.0;
/// Error-to-signal ratio between target and input below which the target is
/// the input itself.
const SAME_SIGNAL_ESR: f64 = 1e-6;

/// A mono recording as `f32` samples in `[-1, 1]`.
#[derive(Clone, Debug)]
pub struct Recording {
    /// The samples.
    pub samples: Vec<f32>,
    /// Sample rate in Hz.
    pub sample_rate_hz: u32,
}

/// A problem with the training data; each names the file(s) concerned.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file cannot be read as audio (it names the file).
    #[error(transparent)]
    Unreadable(#[from] AudioFileError),
    /// More than one channel.
    #[error("{file}: has {channels} channels; training needs mono files")]
    NotMono {
        /// The file.
        file: String,
        /// Its channel count.
        channels: u16,
    },
    /// The two files have different sample rates.
    #[error("the input {input} is at {input_hz} Hz but the target {target} is at {target_hz} Hz")]
    RateMismatch {
        /// The input file.
        input: String,
        /// Its rate.
        input_hz: u32,
        /// The target file.
        target: String,
        /// Its rate.
        target_hz: u32,
    },
    /// The target is shorter than the input, or longer by more than
    /// [`MAX_TARGET_OVERRUN_S`].
    #[error(
        "the input {input} has {input_len} samples and the target {target} {target_len}: \
         they differ by {} samples ({:.3} s); the target must be as long as the input \
         (or up to {MAX_TARGET_OVERRUN_S} s longer): record it from the same input, whole",
        input_len.abs_diff(*target_len),
        input_len.abs_diff(*target_len) as f64 / *rate_hz as f64
    )]
    LengthMismatch {
        /// The input file.
        input: String,
        /// Its length.
        input_len: usize,
        /// The target file.
        target: String,
        /// Its length.
        target_len: usize,
        /// The common sample rate.
        rate_hz: u32,
    },
    /// The file is (nearly) all zeros.
    #[error("{file}: is silent (peak {peak_db:.1} dBFS)")]
    Silent {
        /// The file.
        file: String,
        /// Its peak in dBFS.
        peak_db: f64,
    },
    /// Runs of samples at full scale.
    #[error("{file}: is clipped ({count} samples in runs at or above {:.3} dBFS, the first at {first_s:.3} s); record it with less gain", 20.0 * (CLIP_LEVEL as f64).log10())]
    Clipped {
        /// The file.
        file: String,
        /// Samples in runs of [`CLIP_RUN`] or more at or above [`CLIP_LEVEL`].
        count: usize,
        /// Time of the first one in seconds.
        first_s: f64,
    },
    /// The target's RMS is below [`QUIET_RMS_DBFS`].
    #[error("{file}: is too quiet (RMS {rms_db:.1} dBFS, below {QUIET_RMS_DBFS} dBFS); record the reamp louder")]
    TooQuiet {
        /// The file.
        file: String,
        /// Its RMS in dBFS.
        rms_db: f64,
    },
    /// The target is the input itself.
    #[error("the target {target} is the same signal as the input {input} (error-to-signal ratio {esr:.1e}): give the gear's recorded output as --target")]
    SameSignal {
        /// The input file.
        input: String,
        /// The target file.
        target: String,
        /// Their error-to-signal ratio.
        esr: f64,
    },
    /// The target is a NAM capture signal and the input is not.
    #[error("the target {target} is the NAM capture signal v{version} and the input {input} is not: are --input and --target swapped?")]
    Swapped {
        /// The input file.
        input: String,
        /// The target file.
        target: String,
        /// The capture signal's version.
        version: &'static str,
    },
    /// Too little audio to train and validate.
    #[error("{file}: {samples} samples is too short; need at least {needed} (training segments plus validation)")]
    TooShort {
        /// The file.
        file: String,
        /// Its length.
        samples: usize,
        /// The length needed.
        needed: usize,
    },
}

/// Reads a mono audio file (see [`nam_graph::audio_file`] for the formats
/// and rules) into a [`Recording`].
pub fn read_wav(path: &Path) -> Result<Recording, DataError> {
    let mut audio = audio_file::read(path, &Limits::RECORDING, 1)?;
    if audio.channels != 1 {
        return Err(DataError::NotMono {
            file: path.display().to_string(),
            channels: audio.channels as u16,
        });
    }
    Ok(Recording {
        samples: audio.samples.swap_remove(0),
        sample_rate_hz: audio.sample_rate_hz,
    })
}

/// Checks one recording: not silent, not clipped.
pub fn check_levels(recording: &Recording, file: &Path) -> Result<(), DataError> {
    let file = file.display().to_string();
    let peak = recording
        .samples
        .iter()
        .fold(0.0_f32, |m, x| m.max(x.abs()));
    if peak < SILENCE_LEVEL {
        return Err(DataError::Silent {
            file,
            peak_db: 20.0 * f64::from(peak.max(1e-12)).log10(),
        });
    }
    let clipped = clipped_samples(&recording.samples);
    if let Some(&first) = clipped.first() {
        return Err(DataError::Clipped {
            file,
            count: clipped.len(),
            first_s: first as f64 / f64::from(recording.sample_rate_hz),
        });
    }
    Ok(())
}

/// The indices of samples in runs of at least [`CLIP_RUN`] at or above [`CLIP_LEVEL`].
fn clipped_samples(samples: &[f32]) -> Vec<usize> {
    let mut clipped = Vec::new();
    let mut run_start = None;
    for (i, x) in samples.iter().chain([&0.0]).enumerate() {
        match (x.abs() >= CLIP_LEVEL, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(start)) => {
                if i - start >= CLIP_RUN {
                    clipped.extend(start..i);
                }
                run_start = None;
            }
            _ => {}
        }
    }
    clipped
}

/// RMS of `samples` in dBFS.
pub fn rms_dbfs(samples: &[f32]) -> f64 {
    let power =
        samples.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / samples.len().max(1) as f64;
    10.0 * power.max(1e-24).log10()
}

/// Error-to-signal ratio of `prediction` against `target` (over the shorter).
pub fn esr(prediction: &[f32], target: &[f32]) -> f64 {
    let (error, energy) = prediction
        .iter()
        .zip(target)
        .fold((0.0, 0.0), |(e, s), (&p, &t)| {
            let (p, t) = (f64::from(p), f64::from(t));
            (e + (p - t).powi(2), s + t * t)
        });
    error / energy.max(f64::MIN_POSITIVE)
}

/// Reads and checks the pair: each file readable, mono, not silent, not
/// clipped; the two at the same rate, the target as long as the input (or up to
/// [`MAX_TARGET_OVERRUN_S`] longer), loud enough, not the input itself, and not
/// a NAM capture signal when the input is not one.
pub fn read_pair(input: &Path, target: &Path) -> Result<(Recording, Recording), DataError> {
    let x = read_wav(input)?;
    let y = read_wav(target)?;
    let (input_name, target_name) = (input.display().to_string(), target.display().to_string());
    if x.sample_rate_hz != y.sample_rate_hz {
        return Err(DataError::RateMismatch {
            input: input_name,
            input_hz: x.sample_rate_hz,
            target: target_name,
            target_hz: y.sample_rate_hz,
        });
    }
    let overrun = MAX_TARGET_OVERRUN_S * f64::from(x.sample_rate_hz);
    if y.samples.len() < x.samples.len() || (y.samples.len() - x.samples.len()) as f64 > overrun {
        return Err(DataError::LengthMismatch {
            input: input_name,
            input_len: x.samples.len(),
            target: target_name,
            target_len: y.samples.len(),
            rate_hz: x.sample_rate_hz,
        });
    }
    check_levels(&x, input)?;
    check_levels(&y, target)?;
    let rms_db = rms_dbfs(&y.samples);
    if rms_db < QUIET_RMS_DBFS {
        return Err(DataError::TooQuiet {
            file: target_name,
            rms_db,
        });
    }
    let same = esr(&y.samples, &x.samples);
    if same < SAME_SIGNAL_ESR {
        return Err(DataError::SameSignal {
            input: input_name,
            target: target_name,
            esr: same,
        });
    }
    let rate = x.sample_rate_hz;
    if capture_signal::detect(input, &x.samples, rate).is_none() {
        if let Some(found) = capture_signal::detect(target, &y.samples, rate) {
            return Err(DataError::Swapped {
                input: input_name,
                target: target_name,
                version: found.signal.version,
            });
        }
    }
    Ok((x, y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

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

    /// Writes mono 32-bit float WAVs into a temporary directory.
    struct Files(PathBuf);

    impl Files {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("nam-data-{}-{name}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Files(dir)
        }

        fn wav(&self, name: &str, samples: &[f32], rate: u32) -> PathBuf {
            let path = self.0.join(name);
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: rate,
                bits_per_sample: 32,
                sample_format: hound::SampleFormat::Float,
            };
            let mut w = hound::WavWriter::create(&path, spec).unwrap();
            samples.iter().for_each(|&s| w.write_sample(s).unwrap());
            w.finalize().unwrap();
            path
        }
    }

    impl Drop for Files {
        fn drop(&mut self) {
            std::fs::remove_dir_all(&self.0).ok();
        }
    }

    fn di() -> Vec<f32> {
        noise(1, 48_000).iter().map(|x| 0.5 * x).collect()
    }

    fn amp(x: &[f32]) -> Vec<f32> {
        x.iter().map(|v| (3.0 * v).tanh() * 0.5).collect()
    }

    #[test]
    fn a_target_up_to_a_second_longer_is_accepted_and_longer_or_shorter_refused() {
        let files = Files::new("length");
        let x = di();
        let input = files.wav("di.wav", &x, 48_000);
        let mut y = amp(&x);
        y.extend(amp(&noise(2, 24_000)));
        let longer = files.wav("longer.wav", &y, 48_000);
        let (_, target) = read_pair(&input, &longer).unwrap();
        assert_eq!(target.samples.len(), 72_000);
        y.extend(amp(&noise(3, 48_000)));
        let e = read_pair(&input, &files.wav("too-long.wav", &y, 48_000)).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::LengthMismatch {
                    target_len: 120_000,
                    ..
                }
            ) && e.to_string().contains("too-long.wav")
                && e.to_string().contains("1.500 s"),
            "{e}"
        );
        let e = read_pair(&input, &files.wav("short.wav", &amp(&x[..47_000]), 48_000)).unwrap_err();
        assert!(e.to_string().contains("differ by 1000 samples"), "{e}");
    }

    #[test]
    fn a_clipped_run_is_refused_but_a_single_full_scale_sample_is_not() {
        let files = Files::new("clip");
        let x = di();
        let input = files.wav("di.wav", &x, 48_000);
        let mut y = amp(&x);
        y[100] = 1.0;
        read_pair(&input, &files.wav("peak.wav", &y, 48_000)).unwrap();
        y[30_000..30_010].iter_mut().for_each(|v| *v = -1.0);
        let e = read_pair(&input, &files.wav("clipped.wav", &y, 48_000)).unwrap_err();
        assert!(
            matches!(e, DataError::Clipped { count: 10, .. })
                && e.to_string().contains("clipped.wav")
                && e.to_string().contains("0.625 s"),
            "{e}"
        );
    }

    #[test]
    fn a_quiet_target_is_refused_with_its_level() {
        let files = Files::new("quiet");
        let x = di();
        let input = files.wav("di.wav", &x, 48_000);
        let quiet: Vec<f32> = amp(&x).iter().map(|v| v * 1e-3).collect();
        let e = read_pair(&input, &files.wav("quiet.wav", &quiet, 48_000)).unwrap_err();
        let rms = rms_dbfs(&quiet);
        assert!(rms < QUIET_RMS_DBFS && rms > -80.0, "{rms}");
        assert!(
            matches!(e, DataError::TooQuiet { .. })
                && e.to_string().contains("quiet.wav")
                && e.to_string().contains(&format!("{rms:.1} dBFS")),
            "{e}"
        );
    }

    #[test]
    fn the_input_given_as_target_is_refused() {
        let files = Files::new("same");
        let x = di();
        let input = files.wav("di.wav", &x, 48_000);
        let copy = files.wav("copy.wav", &x, 48_000);
        let e = read_pair(&input, &copy).unwrap_err();
        assert!(
            matches!(e, DataError::SameSignal { .. }) && e.to_string().contains("copy.wav"),
            "{e}"
        );
    }

    #[test]
    fn the_capture_signal_given_as_target_is_refused_as_swapped() {
        // Laid out like GuitarML Proteus's capture signal (the shortest one).
        let files = Files::new("swap");
        let mut signal: Vec<f32> = noise(4, 88_200).iter().map(|v| 0.3 * v).collect();
        signal[1..44_100].iter_mut().for_each(|v| *v = 0.0);
        signal[0] = 0.5;
        signal[22_050] = 0.5;
        // The gear's output: delayed, with its noise floor.
        let hiss = noise(5, signal.len());
        let recorded: Vec<f32> = [vec![0.0; 10], amp(&signal[..signal.len() - 10])]
            .concat()
            .iter()
            .zip(&hiss)
            .map(|(y, h)| y + 1e-3 * h)
            .collect();
        let e = read_pair(
            &files.wav("amp.wav", &recorded, 44_100),
            &files.wav("input.wav", &signal, 44_100),
        )
        .unwrap_err();
        assert!(
            matches!(e, DataError::Swapped { .. })
                && e.to_string().contains("input.wav")
                && e.to_string().contains("swapped"),
            "{e}"
        );
        // The right way round is accepted.
        read_pair(
            &files.wav("input2.wav", &signal, 44_100),
            &files.wav("amp2.wav", &recorded, 44_100),
        )
        .unwrap();
    }
}
