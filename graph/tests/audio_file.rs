//! The audio-file module (`nam_graph::audio_file`): one IR in every container
//! and bit depth reads to the same samples; the container is told by content;
//! broken and truncated files give errors naming the file, never a panic.
//!
//! Fixtures: `tests/data/audio/` (made by its `make.sh` with SoX from the demo
//! cabinet IR: 2048 frames, 24-bit, 48 kHz).

use std::path::{Path, PathBuf};

use nam_graph::audio_file::{self, AudioFile, Container, Encoding, Limits, Problem};
use nam_graph::nodes::convolver::{Convolver, ConvolverSettings};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/audio")
        .join(name)
}

fn read(name: &str) -> AudioFile {
    audio_file::read(&fixture(name), &Limits::IMPULSE_RESPONSE, 8).unwrap_or_else(|e| panic!("{e}"))
}

/// A scratch directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nam-graph-audio-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn the_same_ir_reads_the_same_in_every_container() {
    let reference = read("cab_s24.wav");
    assert_eq!(reference.container, Container::Wav);
    assert_eq!(reference.encoding, Encoding::Int { bits: 24 });
    assert_eq!((reference.channels, reference.frames()), (1, 2048));
    assert_eq!(reference.sample_rate_hz, 48_000);
    let peak = reference.samples[0]
        .iter()
        .fold(0.0_f32, |m, x| m.max(x.abs()));
    assert!(peak > 0.1, "the IR is not silent: peak {peak}");

    // 24-bit and float: bit for bit the same samples.
    for (name, container, encoding) in [
        ("cab_f32.wav", Container::Wav, Encoding::Float { bits: 32 }),
        ("cab_s24.flac", Container::Flac, Encoding::Int { bits: 24 }),
        ("cab_s24.aiff", Container::Aiff, Encoding::Int { bits: 24 }),
    ] {
        let file = read(name);
        assert_eq!(
            (file.container, file.encoding),
            (container, encoding),
            "{name}"
        );
        assert_eq!(file.sample_rate_hz, 48_000, "{name}");
        assert_eq!(file.samples, reference.samples, "{name}");
    }

    // 16-bit: the same samples in every container, within half a 16-bit step
    // of the 24-bit ones.
    let s16 = read("cab_s16.wav");
    assert_eq!(s16.encoding, Encoding::Int { bits: 16 });
    for (a, b) in s16.samples[0].iter().zip(&reference.samples[0]) {
        assert!((a - b).abs() <= 0.5 / 32_768.0 + 1e-9, "{a} vs {b}");
        assert_eq!(a * 32_768.0, (a * 32_768.0).round(), "a 16-bit value");
    }
    for name in ["cab_s16.flac", "cab_s16.aiff", "cab_s16.aifc"] {
        let file = read(name);
        assert_eq!(file.encoding, Encoding::Int { bits: 16 }, "{name}");
        assert_eq!(file.samples, s16.samples, "{name}");
    }
    let sowt = scratch("sowt.aifc");
    std::fs::write(&sowt, aifc_sowt(&s16.samples[0], 48_000)).unwrap();
    let file = audio_file::read(&sowt, &Limits::IMPULSE_RESPONSE, 1).unwrap();
    assert_eq!(file.samples, s16.samples, "AIFF-C sowt");
}

/// An AIFF-C file of 16-bit little-endian samples (`sowt`, as macOS writes).
fn aifc_sowt(samples: &[f32], rate: u32) -> Vec<u8> {
    let frames = samples.len() as u32;
    let mut comm = Vec::new();
    comm.extend_from_slice(&1_u16.to_be_bytes()); // channels
    comm.extend_from_slice(&frames.to_be_bytes());
    comm.extend_from_slice(&16_u16.to_be_bytes());
    // The rate as an 80-bit extended float: exponent, then a 64-bit mantissa.
    let exponent = 31 - rate.leading_zeros();
    comm.extend_from_slice(&(16_383 + exponent as u16).to_be_bytes());
    comm.extend_from_slice(&((u64::from(rate)) << (63 - exponent)).to_be_bytes());
    comm.extend_from_slice(b"sowt");
    comm.extend_from_slice(&[0, 0]); // empty compression name, padded
    let mut ssnd = vec![0; 8]; // offset, block size
    for &x in samples {
        ssnd.extend_from_slice(&((x * 32_768.0) as i16).to_le_bytes());
    }
    let mut form = b"AIFC".to_vec();
    for (id, body) in [(b"COMM", comm), (b"SSND", ssnd)] {
        form.extend_from_slice(id);
        form.extend_from_slice(&(body.len() as u32).to_be_bytes());
        form.extend_from_slice(&body);
    }
    let mut file = b"FORM".to_vec();
    file.extend_from_slice(&(form.len() as u32).to_be_bytes());
    file.extend_from_slice(&form);
    file
}

#[test]
fn the_container_is_told_by_content_not_by_name() {
    for (source, disguise) in [
        ("cab_s24.flac", "flac-named.wav"),
        ("cab_s24.aiff", "aiff-named.flac"),
        ("cab_s24.wav", "wav-named.aif"),
    ] {
        let path = scratch(disguise);
        std::fs::copy(fixture(source), &path).unwrap();
        let file = audio_file::read(&path, &Limits::IMPULSE_RESPONSE, 1).unwrap();
        assert_eq!(file.samples, read("cab_s24.wav").samples, "{disguise}");
    }
}

/// The error reading `path`, checked to name it.
fn error(path: &Path) -> Problem {
    let error = audio_file::read(path, &Limits::IMPULSE_RESPONSE, 1)
        .err()
        .unwrap_or_else(|| panic!("{} was read", path.display()));
    assert_eq!(error.path, path);
    let text = error.to_string();
    assert!(text.starts_with(&format!("{}: ", path.display())), "{text}");
    error.problem
}

#[test]
fn unknown_and_unsupported_files_say_what_they_look_like() {
    let cases: [(&str, &[u8], &str); 6] = [
        (
            "notes.flac",
            b"these are my notes\n",
            "text starting with \"these are my not\"",
        ),
        ("song.wav", b"ID3\x04\0\0\0\0\0\x21TIT2", "MP3"),
        ("take.aiff", b"OggS\0\x02\0\0\0\0\0\0\0\0", "Ogg"),
        ("empty.wav", b"", "an empty file"),
        ("big.wav", b"RF64\xff\xff\xff\xffWAVEds64", "RF64"),
        ("mac.wav", b"RIFX\0\0\0\x24WAVEfmt ", "RIFX"),
    ];
    for (name, bytes, expected) in cases {
        let path = scratch(name);
        std::fs::write(&path, bytes).unwrap();
        let problem = error(&path);
        assert!(
            matches!(
                problem,
                Problem::Unrecognized(_) | Problem::UnsupportedContainer(_)
            ),
            "{name}: {problem:?}"
        );
        assert!(problem.to_string().contains(expected), "{name}: {problem}");
    }
    assert!(matches!(error(&scratch("missing.flac")), Problem::Io(_)));
}

#[test]
fn truncated_and_corrupt_files_are_refused_naming_the_file() {
    for name in [
        "cab_s24.flac",
        "cab_s16.flac",
        "cab_s24.aiff",
        "cab_s16.aifc",
        "cab_s24.wav",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        // Cut anywhere: within the header, the metadata, the audio.
        for cut in [5, 12, 30, 45, 60, 100, bytes.len() / 2, bytes.len() - 7] {
            let path = scratch(&format!("cut-{cut}-{name}"));
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let problem = error(&path);
            assert!(!problem.to_string().is_empty(), "{name} cut at {cut}");
        }
        // Flip bytes in the audio: a decode error or different samples.
        let path = scratch(&format!("flipped-{name}"));
        let mut flipped = bytes.clone();
        for i in (bytes.len() / 2..bytes.len()).step_by(97) {
            flipped[i] ^= 0x5A;
        }
        std::fs::write(&path, &flipped).unwrap();
        if let Ok(file) = audio_file::read(&path, &Limits::IMPULSE_RESPONSE, 1) {
            assert!(file.samples[0].iter().all(|x| x.is_finite()));
        }
    }
    // A truncated FLAC says how much of what it announced it holds.
    let bytes = std::fs::read(fixture("cab_s16.flac")).unwrap();
    let path = scratch("truncated.flac");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let problem = error(&path);
    assert!(
        matches!(problem, Problem::Truncated { announced: 2048, decoded } if decoded < 2048)
            || matches!(
                problem,
                Problem::Malformed {
                    container: Container::Flac,
                    ..
                }
            ),
        "{problem:?}"
    );
}

#[test]
fn limits_apply_to_every_container() {
    let two_channels = Limits {
        max_channels: 0,
        ..Limits::IMPULSE_RESPONSE
    };
    let short = Limits {
        max_seconds: 0.01,
        ..Limits::IMPULSE_RESPONSE
    };
    let small = Limits {
        max_file_bytes: 500,
        ..Limits::IMPULSE_RESPONSE
    };
    for name in ["cab_s24.wav", "cab_s16.flac", "cab_s24.aiff"] {
        let path = fixture(name);
        let problem = |limits: &Limits| audio_file::read(&path, limits, 1).unwrap_err().problem;
        assert!(matches!(
            problem(&two_channels),
            Problem::TooManyChannels {
                channels: 1,
                limit: 0
            }
        ));
        assert!(
            matches!(problem(&short), Problem::TooLong { frames: 2048, .. }),
            "{name}"
        );
        assert!(
            matches!(problem(&small), Problem::TooLarge { limit: 500, .. }),
            "{name}"
        );
    }
    // A FLAC stream that does not announce its length is stopped while it
    // decodes: STREAMINFO's total-samples field zeroed.
    let mut bytes = std::fs::read(fixture("cab_s16.flac")).unwrap();
    bytes[21] &= 0xF0;
    bytes[22..26].fill(0);
    let path = scratch("unannounced.flac");
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(
        audio_file::read(&path, &Limits::IMPULSE_RESPONSE, 1)
            .unwrap()
            .frames(),
        2048
    );
    let problem = audio_file::read(&path, &short, 1).unwrap_err().problem;
    assert!(matches!(problem, Problem::TooLong { .. }), "{problem:?}");
}

#[test]
fn a_flac_or_aiff_cab_convolves_like_the_wav_cab() {
    let settings = ConvolverSettings::default();
    let wav = Convolver::from_file(fixture("cab_s24.wav"), settings).unwrap();
    for name in ["cab_s24.flac", "cab_s24.aiff"] {
        let other = Convolver::from_file(fixture(name), settings).unwrap();
        assert_eq!(other.impulse_response(), wav.impulse_response(), "{name}");
        assert_eq!(other.impulse_response_rate_hz(), 48_000.0);
    }
}

#[test]
fn an_absurd_wav_channel_count_is_refused_before_decoding() {
    // Found by fuzzing: a `fmt ` chunk declaring 0x7301 channels made the
    // decoder's own arithmetic overflow.
    let path = scratch("channels.wav");
    let mut bytes = b"RIFFD\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\x73".to_vec();
    bytes.extend_from_slice(b"owt\0\0\x05\0\xdcS\0 \0");
    std::fs::write(&path, &bytes).unwrap();
    assert_too_many_channels(&path, 0x7301);
}

/// Reading `path` fails with "too many channels", `channels` declared.
fn assert_too_many_channels(path: &Path, channels: usize) {
    match error(path) {
        Problem::TooManyChannels {
            channels: declared,
            limit,
        } => {
            assert_eq!(
                (declared, limit),
                (channels, Limits::IMPULSE_RESPONSE.max_channels)
            );
        }
        other => panic!("expected too many channels, got {other}"),
    }
}

#[test]
fn files_that_overflow_the_decoders_arithmetic_read_or_are_refused_without_a_panic() {
    // Found by fuzzing (fuzz/fuzz_targets/ir_wav.rs): the LPC subframes of
    // `lpc_overflow.flac` overflow symphonia's 32-bit prediction step, and
    // `mask_overflow.wav`'s WAVE_FORMAT_EXTENSIBLE channel mask overflows its
    // mask correction's shift. Whatever the decoder makes of them, the reader
    // gives finite samples or an error naming the file.
    for (name, container) in [
        ("lpc_overflow.flac", Container::Flac),
        ("mask_overflow.wav", Container::Wav),
    ] {
        let path = fixture(name);
        match audio_file::read(&path, &Limits::IMPULSE_RESPONSE, 8) {
            Ok(file) => {
                assert_eq!(file.container, container, "{name}");
                let samples = file.samples.iter().flatten();
                assert!(samples.clone().count() > 0, "{name}");
                assert!(samples.copied().all(f32::is_finite), "{name}");
            }
            Err(error) => assert_eq!(error.path, path, "{error}"),
        }
    }
}

#[test]
fn an_absurd_aiff_channel_count_is_refused_before_decoding() {
    // Found by fuzzing: a `COMM` chunk declaring 0x666c channels overflowed
    // the decoder's frame-size arithmetic.
    assert_too_many_channels(&fixture("channels_overflow.aiff"), 0x666c);
}

#[test]
fn an_absurd_sample_size_is_refused_before_decoding() {
    // (bits / 8) × channels is the decoder's u16 frame size: 40 000 bits
    // would overflow it at 64 channels.
    for (name, tag, bits_at, big_endian) in [
        ("cab_s16.wav", b"fmt ", 14, false),
        ("cab_s16.aiff", b"COMM", 6, true),
    ] {
        let mut bytes = std::fs::read(fixture(name)).unwrap();
        let chunk = bytes.windows(4).position(|w| w == tag).unwrap();
        let bits: u16 = 40_000;
        let field = if big_endian {
            bits.to_be_bytes()
        } else {
            bits.to_le_bytes()
        };
        bytes[chunk + 8 + bits_at..chunk + 10 + bits_at].copy_from_slice(&field);
        let path = scratch(&format!("bits-{name}"));
        std::fs::write(&path, &bytes).unwrap();
        let problem = error(&path).to_string();
        assert!(
            problem.contains("declares 40000 bits per sample"),
            "{name}: {problem}"
        );
    }
}
