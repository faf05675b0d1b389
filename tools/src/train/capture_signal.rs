//! Which NAM capture signal an input file is. Recognised like the NAM trainer
//! 0.13 does (MD5 of the whole file, then MD5s of the samples of its start and
//! end, which survive a re-save with other chunks), and, for a copy whose bytes
//! and samples differ (e.g. converted to 32-bit float), by its documented
//! layout: sample rate, length, digital silence where the trainer measures the
//! background, and calibration impulses rising out of silence at their
//! positions.

use std::path::Path;

use md5::{Digest, Md5};

/// One version of the NAM capture signal: where its calibration impulses are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaptureSignal {
    /// The NAM trainer's version number, e.g. `3.0.0`.
    pub version: &'static str,
    /// Its sample rate.
    pub rate_hz: u32,
    /// Its length in samples when known from its layout (`None`: not checked).
    pub length: Option<usize>,
    /// Where the stretch holding the first impulses starts.
    pub blips_start: usize,
    /// Its length in samples.
    pub blips_len: usize,
    /// The stretch, inside it, that is silent in the input (the target's
    /// background noise level is measured there).
    pub noise: (usize, usize),
    /// The first samples of the calibration impulses used for latency.
    pub blips: &'static [usize],
}

/// v1.0.0 and v1.1.1: impulses (plateaus) at 0.25 s and 0.75 s.
pub const V1: CaptureSignal = CaptureSignal {
    version: "1.x",
    rate_hz: 48_000,
    length: None,
    blips_start: 0,
    blips_len: 48_000,
    noise: (0, 6_000),
    blips: &[12_000, 36_000],
};

/// v2.0.0: impulses at 0.5 s and 1.5 s (and again 2 s before the end); 3:11 long.
pub const V2: CaptureSignal = CaptureSignal {
    version: "2.0.0",
    rate_hz: 48_000,
    length: Some(191 * 48_000),
    blips_start: 0,
    blips_len: 96_000,
    noise: (12_000, 18_000),
    blips: &[24_000, 72_000],
};

/// v3.0.0 (the current one): 9 s validation, 1 s silence, impulses at 10.5 s
/// and 11.5 s, ...; 3:10 long.
pub const V3: CaptureSignal = CaptureSignal {
    version: "3.0.0",
    rate_hz: 48_000,
    length: Some(190 * 48_000),
    blips_start: 480_000,
    blips_len: 96_000,
    noise: (492_000, 498_000),
    blips: &[504_000, 552_000],
};

/// GuitarML Proteus's capture signal (the trainer's "4.0.0"), 44.1 kHz: an
/// impulse at sample 0 (ignored: no silence before it) and one at 0.5 s.
pub const PROTEUS: CaptureSignal = CaptureSignal {
    version: "4.0.0 (GuitarML Proteus)",
    rate_hz: 44_100,
    length: None,
    blips_start: 1,
    blips_len: 44_099,
    noise: (6_000, 12_000),
    blips: &[22_050],
};

/// How an input was recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// The file's bytes are those of the NAM trainer's copy (MD5 of the file).
    File,
    /// The samples at its start and end are (MD5 of the samples).
    Samples,
    /// Its layout: rate, length, silence and impulses where the version has them.
    Layout,
}

impl std::fmt::Display for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Match::File => "the file's checksum",
            Match::Samples => "the checksums of its samples",
            Match::Layout => {
                "its layout: silence and calibration impulses where that version has them"
            }
        })
    }
}

/// A recognised capture signal and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Detected {
    /// The signal.
    pub signal: CaptureSignal,
    /// How it was recognised.
    pub by: Match,
}

/// MD5s of the trainer's files (whole file).
const FILE_MD5: [(&str, CaptureSignal); 5] = [
    ("4d54a958861bf720ec4637f43d44a7ef", V1),
    ("7c3b6119c74465f79d96c761a0e27370", V1),
    ("ede3b9d82135ce10c7ace3bb27469422", V2),
    ("36cd1af62985c2fac3e654333e36431e", V3),
    ("80e224bd5622fd6153ff1fd9f34cb3bd", PROTEUS),
];

/// What the sample checksums cover: samples from the start and from the end.
struct SampleSpans {
    start: usize,
    end: usize,
}

/// MD5s of the samples (as the trainer reads them: 64-bit floats, integer PCM
/// over 2^(bits−1)) of the start and the end of each file, checked newest first.
const SAMPLE_MD5: [(SampleSpans, &str, Option<&str>, CaptureSignal); 5] = [
    (
        SampleSpans {
            start: 17 * 48_000,
            end: 9 * 48_000,
        },
        "dadb5d62f6c3973a59bf01439799809b",
        Some("8458126969a3f9d8e19a53554eb1fd52"),
        V3,
    ),
    (
        SampleSpans {
            start: 7 * 48_000,
            end: 960_000,
        },
        "1c4d94fbcb47e4d820bef611c1d4ae65",
        Some("28694e7bf9ab3f8ae6ef86e9545d4663"),
        V2,
    ),
    (
        SampleSpans {
            start: 7 * 48_000,
            end: 432_000,
        },
        "bb4e140c9299bae67560d280917eb52b",
        Some("9b2468fcb6e9460a399fc5f64389d353"),
        V1,
    ),
    (
        SampleSpans {
            start: 7 * 48_000,
            end: 432_000,
        },
        "9f20c6b5f7fef68dd88307625a573a14",
        Some("8458126969a3f9d8e19a53554eb1fd52"),
        V1,
    ),
    (
        SampleSpans {
            start: 44_100,
            end: 0,
        },
        "46151c8030798081acc00a725325a07d",
        None,
        PROTEUS,
    ),
];

/// Every version, newest first (the order layouts are tried in).
pub const ALL: [CaptureSignal; 4] = [V3, V2, V1, PROTEUS];

/// Samples before an impulse that must be quiet (the trainer's look-ahead).
const QUIET_BEFORE: usize = 1_000;
/// An impulse's first sample reaches at least this magnitude.
const IMPULSE_LEVEL: f32 = 0.1;
/// "Quiet": below this fraction of the impulse.
const QUIET_FRACTION: f32 = 0.01;
/// "Silent" where the trainer measures the background: below this magnitude.
const SILENCE: f32 = 1e-4;

/// Recognises `samples` (read from `file` at `rate_hz`) as a NAM capture
/// signal, or `None` when it is not one.
pub fn detect(file: &Path, samples: &[f32], rate_hz: u32) -> Option<Detected> {
    if let Ok(bytes) = std::fs::read(file) {
        let digest = hex(&Md5::digest(&bytes));
        if let Some((_, signal)) = FILE_MD5.iter().find(|(sum, _)| *sum == digest) {
            return Some(Detected {
                signal: *signal,
                by: Match::File,
            });
        }
    }
    if let Some(signal) = by_samples(samples, rate_hz) {
        return Some(Detected {
            signal,
            by: Match::Samples,
        });
    }
    ALL.into_iter()
        .find(|signal| has_layout(signal, samples, rate_hz))
        .map(|signal| Detected {
            signal,
            by: Match::Layout,
        })
}

/// The trainer's sample checksums.
fn by_samples(samples: &[f32], rate_hz: u32) -> Option<CaptureSignal> {
    SAMPLE_MD5
        .iter()
        .find(|(spans, start, end, signal)| {
            signal.rate_hz == rate_hz
                && samples.len() >= spans.start.max(spans.end)
                && md5_of(&samples[..spans.start]) == *start
                && end.is_none_or(|end| md5_of(&samples[samples.len() - spans.end..]) == end)
        })
        .map(|(_, _, _, signal)| *signal)
}

/// The trainer's checksum of samples: MD5 of them as little-endian 64-bit
/// floats (exact for 16- and 24-bit PCM, which `f32` holds exactly).
fn md5_of(span: &[f32]) -> String {
    let mut hasher = Md5::new();
    for &x in span {
        hasher.update(f64::from(x).to_le_bytes());
    }
    hex(&hasher.finalize())
}

/// True when `samples` is laid out like `signal`: its rate and length, silence
/// where the trainer measures the background, and each calibration impulse
/// rising out of silence at its position.
pub fn has_layout(signal: &CaptureSignal, samples: &[f32], rate_hz: u32) -> bool {
    let end = signal.blips_start + signal.blips_len;
    if rate_hz != signal.rate_hz
        || samples.len() < end
        || signal.length.is_some_and(|n| n != samples.len())
    {
        return false;
    }
    let peak = |span: &[f32]| span.iter().fold(0.0_f32, |m, x| m.max(x.abs()));
    peak(&samples[signal.noise.0..signal.noise.1]) < SILENCE
        && signal.blips.iter().all(|&p| {
            let level = samples[p].abs();
            level >= IMPULSE_LEVEL
                && p >= QUIET_BEFORE
                && peak(&samples[p - QUIET_BEFORE..p]) < QUIET_FRACTION * level
        })
}

/// Above this ESR between the two recordings of the validation passage, the
/// gear did not sound like itself twice (the NAM trainer's threshold).
pub const MAX_REPLICATE_ESR: f64 = 0.01;
/// Length of each validation passage of v2 and v3, in samples.
const VALIDATION_LEN: usize = 432_000;

/// The ESR between the two recordings of the validation passage that v2 and v3
/// carry (v3: at the start and at the end of the input's length; v2: the two
/// before the closing impulses), or `None` for versions without them.
pub fn replicate_esr(signal: &CaptureSignal, input_len: usize, target: &[f32]) -> Option<f64> {
    let (first, second) = match signal.version {
        "3.0.0" => (0, input_len.checked_sub(VALIDATION_LEN)?),
        "2.0.0" => {
            let end_blips = 96_000;
            let second = input_len.checked_sub(end_blips + VALIDATION_LEN)?;
            (second.checked_sub(VALIDATION_LEN)?, second)
        }
        _ => return None,
    };
    let a = target.get(first..first + VALIDATION_LEN)?;
    let b = target.get(second..second + VALIDATION_LEN)?;
    Some(super::data::esr(a, b))
}

/// The warning for a replicate ESR above [`MAX_REPLICATE_ESR`]: what it means
/// and the usual causes.
pub fn replicate_warning(replicate_esr: f64) -> String {
    format!(
        "the validation passage, recorded twice, differs from itself (ESR {replicate_esr:.4}, \
         above {MAX_REPLICATE_ESR}): the gear did not sound the same both times. Usual causes: \
         a noisy signal chain, a time-based effect (chorus, delay, reverb) left on, a knob moved \
         during the reamp, or an amp not yet warmed up"
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_is_the_usual_one() {
        assert_eq!(
            hex(&Md5::digest(b"abc")),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }

    #[test]
    fn sample_checksums_match_the_nam_trainers() {
        // A 24-bit PCM WAV of a fixed ramp; the expected MD5 was computed by
        // neural-amp-modeler 0.13 (`hashlib.md5(nam.data.wav_to_np(path))`) on
        // the same samples written by wavio.
        let dir = std::env::temp_dir().join(format!("nam-md5-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ramp24.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 48_000,
            bits_per_sample: 24,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..4800_i64 {
            w.write_sample(((i * 7919) % (1 << 23) - (1 << 22)) as i32)
                .unwrap();
        }
        w.finalize().unwrap();
        let audio =
            nam_graph::audio_file::read(&path, &nam_graph::audio_file::Limits::RECORDING, 1)
                .unwrap();
        assert_eq!(
            md5_of(&audio.samples[0]),
            "dc0ddf58de3605ffb26eb90313da5ffa"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_versions_layouts_do_not_overlap() {
        for signal in ALL {
            let mut x = vec![
                0.0_f32;
                signal
                    .length
                    .unwrap_or(signal.blips_len + signal.blips_start + 1)
            ];
            for &p in signal.blips {
                x[p] = 0.5;
            }
            let matching: Vec<_> = ALL
                .iter()
                .filter(|s| has_layout(s, &x, signal.rate_hz))
                .map(|s| s.version)
                .collect();
            assert_eq!(matching, vec![signal.version], "{}", signal.version);
        }
    }
}
