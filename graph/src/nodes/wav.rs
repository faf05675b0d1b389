//! Reading one channel of a WAV file as `f32` samples, for nodes that load
//! audio files (impulse responses). Off the audio thread only: it opens files
//! and allocates.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use hound::{SampleFormat, WavReader};

use crate::node::NodeError;

/// Size of an audio file a node loads, checked before reading it: 64 MiB
/// holds 10 s of 8 channels of 32-bit samples at 192 kHz.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// One channel of a WAV file.
#[derive(Clone, Debug, PartialEq)]
pub struct WavChannel {
    /// The samples, full scale ±1 (integer formats are divided by
    /// `2^(bits - 1)`; float files are taken as they are).
    pub samples: Vec<f32>,
    /// The file's sample rate.
    pub sample_rate_hz: f64,
    /// How many channels the file has (only the first was read).
    pub channels: usize,
}

/// Reads the first channel of the WAV file at `path`: 8-, 16-, 24- and 32-bit
/// integer or 32-bit float, any channel count (the others are skipped), as
/// far as `hound` reads the file. Files larger than [`MAX_FILE_BYTES`] are
/// refused before they are opened as WAV; files of more than `max_seconds` at
/// their own rate, or announcing more frames than the file has bytes for,
/// before their samples are read; empty files are refused.
/// Samples are not checked here (NaN and infinity pass through).
///
/// Every error is a [`NodeError::Audio`] naming the file.
pub fn read_first_channel(path: &Path, max_seconds: f64) -> Result<WavChannel, NodeError> {
    let error = |message: String| NodeError::Audio {
        path: path.display().to_string(),
        message,
    };
    let read_error = |e: hound::Error| error(format!("cannot read as WAV: {e}"));
    let file = File::open(path).map_err(|e| error(format!("cannot read the file: {e}")))?;
    let file_bytes = file
        .metadata()
        .map_err(|e| error(format!("cannot read the file: {e}")))?
        .len();
    if file_bytes > MAX_FILE_BYTES {
        return Err(error(format!(
            "the file is {file_bytes} bytes, more than the {MAX_FILE_BYTES}-byte limit for an audio file"
        )));
    }
    let mut reader = WavReader::new(BufReader::new(file)).map_err(read_error)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    let frames = reader.duration() as usize;
    let sample_rate_hz = f64::from(spec.sample_rate);
    if spec.sample_rate == 0 {
        return Err(error("the file's sample rate is 0 Hz".into()));
    }
    if frames == 0 {
        return Err(error("the file has no samples".into()));
    }
    if frames as f64 > max_seconds * sample_rate_hz {
        return Err(error(format!(
            "{frames} frames at {sample_rate_hz} Hz is longer than the {max_seconds} s limit"
        )));
    }
    // The samples are reserved from the header's count: a corrupt header of a
    // few bytes must not reserve gigabytes (a failed reservation aborts).
    let bytes_per_frame =
        channels.max(1) as u64 * u64::from(spec.bits_per_sample.div_ceil(8).max(1));
    let room = file_bytes / bytes_per_frame;
    if frames as u64 > room {
        return Err(error(format!(
            "the header announces {frames} frames but the file has room for at most {room}"
        )));
    }

    let mut samples = Vec::with_capacity(frames);
    let read_error = |e: hound::Error| error(format!("cannot read the samples: {e}"));
    match spec.sample_format {
        SampleFormat::Float => {
            for (i, sample) in reader.samples::<f32>().enumerate() {
                let sample = sample.map_err(read_error)?;
                if i % channels == 0 {
                    samples.push(sample);
                }
            }
        }
        SampleFormat::Int => {
            let bits = i32::from(spec.bits_per_sample).clamp(1, 32);
            let scale = 1.0 / f64::from(1u32 << (bits - 1));
            for (i, sample) in reader.samples::<i32>().enumerate() {
                let sample = sample.map_err(read_error)?;
                if i % channels == 0 {
                    samples.push((f64::from(sample) * scale) as f32);
                }
            }
        }
    }
    if samples.len() != frames {
        return Err(error(format!(
            "the header announces {frames} frames but {} could be read",
            samples.len()
        )));
    }
    Ok(WavChannel {
        samples,
        sample_rate_hz,
        channels,
    })
}
