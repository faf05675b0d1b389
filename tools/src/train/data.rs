//! Reading and checking the training pair: both audio files (WAV, FLAC or
//! AIFF, read by [`nam_graph::audio_file`]) readable, mono, at the same rate,
//! of equal length, not silent, not clipped.

use std::path::Path;

use nam_graph::audio_file::{self, AudioFileError, Limits};

/// Peak magnitude at or above which a file counts as clipped (−0.009 dBFS).
pub const CLIP_LEVEL: f32 = 0.999;
/// Peak magnitude below which a file counts as silent (−80 dBFS).
pub const SILENCE_LEVEL: f32 = 1e-4;

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
    /// The two files have different lengths.
    #[error(
        "the input {input} has {input_len} samples and the target {target} {target_len}: \
         they differ by {} samples ({:.3} s); record the target from the same input",
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
    /// Samples at full scale.
    #[error("{file}: is clipped ({count} samples at or above {:.3} dBFS, the first at {first_s:.3} s); record it with less gain", 20.0 * (CLIP_LEVEL as f64).log10())]
    Clipped {
        /// The file.
        file: String,
        /// Samples at or above [`CLIP_LEVEL`].
        count: usize,
        /// Time of the first one in seconds.
        first_s: f64,
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
    let mut clipped = recording
        .samples
        .iter()
        .enumerate()
        .filter(|(_, x)| x.abs() >= CLIP_LEVEL);
    if let Some((first, _)) = clipped.next() {
        return Err(DataError::Clipped {
            file,
            count: 1 + clipped.count(),
            first_s: first as f64 / f64::from(recording.sample_rate_hz),
        });
    }
    Ok(())
}

/// Reads and checks the pair: each file readable, mono, not silent, not clipped;
/// the two at the same rate and of the same length.
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
    if x.samples.len() != y.samples.len() {
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
    Ok((x, y))
}
