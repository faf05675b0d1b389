//! The convolver node: exact linear convolution (against a direct f64
//! reference) with no latency whatever the call sizes, resampled IRs keeping
//! their magnitude response, WAV loading in every format, clear errors for bad
//! files, mix and level ramps, and no allocation while processing (every
//! `process` call here runs under `assert_no_alloc`).

mod common;

use common::XorShift;

use std::path::PathBuf;

use assert_no_alloc::{assert_no_alloc, violation_count, AllocDisabler};
use nam_graph::nodes::convolver::{param, Convolver, ConvolverSettings};
use nam_graph::{Node, NodeError, ProcessSpec};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

/// Largest error allowed against the f64 reference, relative to the
/// reference's peak.
const TOLERANCE: f64 = 1e-5;

fn spec(sample_rate_hz: f64, max_block_frames: usize) -> ProcessSpec {
    ProcessSpec {
        sample_rate_hz,
        max_block_frames,
    }
}

fn convolver(ir: Vec<f32>, rate_hz: f64) -> Convolver {
    Convolver::from_samples(ir, rate_hz, ConvolverSettings::default()).unwrap()
}

/// Runs `input` through `node` in calls of the sizes `calls` gives, every call
/// under the allocation guard, and checks none allocated.
fn run(node: &mut Convolver, input: &[f32], mut calls: impl FnMut() -> usize) -> Vec<f32> {
    let before = violation_count();
    let mut output = vec![0.0; input.len()];
    let mut done = 0;
    while done < input.len() {
        let frames = calls().min(input.len() - done);
        let inputs = [&input[done..done + frames]];
        let mut outputs = [&mut output[done..done + frames]];
        assert_no_alloc(|| node.process(frames, &inputs, &mut outputs));
        done += frames;
    }
    assert_eq!(violation_count(), before, "process allocated");
    output
}

/// The linear convolution of `x` with `h`, first `x.len()` samples, in f64.
fn direct(h: &[f32], x: &[f32]) -> Vec<f64> {
    (0..x.len())
        .map(|n| {
            h.iter()
                .take(n + 1)
                .enumerate()
                .map(|(j, &hj)| f64::from(hj) * f64::from(x[n - j]))
                .sum()
        })
        .collect()
}

/// Largest difference relative to the reference's peak.
fn relative_error(output: &[f32], reference: &[f64]) -> f64 {
    let peak = reference.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let error = output
        .iter()
        .zip(reference)
        .fold(0.0_f64, |m, (&y, &r)| m.max((f64::from(y) - r).abs()));
    error / peak
}

/// Call sizes: random from 1 to `max`, with 1, 7, 64 and `max` mixed in.
fn mixed_calls(seed: u64, max: usize) -> impl FnMut() -> usize {
    let mut rng = XorShift(seed);
    let mut i = 0;
    move || {
        i += 1;
        match i % 6 {
            0 => 1,
            1 => 7,
            2 => 64.min(max),
            3 => max,
            _ => rng.frames(max),
        }
    }
}

#[test]
fn matches_direct_convolution_for_every_ir_length() {
    let max_block = 1000;
    for (seed, len) in [1, 2, 31, 64, 65, 511, 513, 2048, 4097, 8192, 40_000]
        .into_iter()
        .enumerate()
    {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 + seed as u64);
        let ir = rng.noise(len);
        let input = rng.noise(len + 5000);
        let mut node = convolver(ir.clone(), 48_000.0);
        node.prepare(&spec(48_000.0, max_block)).unwrap();
        let output = run(&mut node, &input, mixed_calls(seed as u64 + 1, max_block));
        let error = relative_error(&output, &direct(&ir, &input));
        assert!(error < TOLERANCE, "{len} taps: relative error {error:e}");
    }
}

#[test]
fn output_does_not_depend_on_call_sizes() {
    let mut rng = XorShift(7);
    let ir = rng.noise(9000);
    let input = rng.noise(20_000);
    let mut node = convolver(ir, 48_000.0);
    node.prepare(&spec(48_000.0, 1000)).unwrap();
    let reference = run(&mut node, &input, || 1000);
    for (name, calls) in [
        ("1", Box::new(|| 1_usize) as Box<dyn FnMut() -> usize>),
        ("7", Box::new(|| 7)),
        ("64", Box::new(|| 64)),
        ("mixed", Box::new(mixed_calls(3, 1000))),
    ] {
        node.reset();
        let output = run(&mut node, &input, calls);
        assert_eq!(output, reference, "calls of {name} frames");
    }
}

#[test]
fn latency_is_zero_and_an_impulse_returns_the_ir() {
    let mut rng = XorShift(11);
    let ir = rng.noise(3000);
    let mut node = convolver(ir.clone(), 44_100.0);
    node.prepare(&spec(44_100.0, 64)).unwrap();
    assert_eq!(node.latency_frames(), 0);
    let offset = 100;
    let mut input = vec![0.0; offset + 4000];
    input[offset] = 1.0;
    let output = run(&mut node, &input, mixed_calls(5, 64));
    assert!(output[..offset].iter().all(|&y| y == 0.0));
    for (t, &h) in ir.iter().enumerate() {
        assert!((output[offset + t] - h).abs() < 1e-6, "tap {t}");
    }
    assert!(output[offset + ir.len()..].iter().all(|y| y.abs() < 1e-6));
}

#[test]
fn reset_equals_a_fresh_instance() {
    let mut rng = XorShift(13);
    let ir = rng.noise(5000);
    let input = rng.noise(12_000);
    let mut node = convolver(ir, 48_000.0);
    node.prepare(&spec(48_000.0, 256)).unwrap();
    let fresh = run(&mut node, &input, mixed_calls(1, 256));
    run(&mut node, &rng.noise(777), || 100);
    assert_no_alloc(|| node.reset());
    assert_eq!(run(&mut node, &input, mixed_calls(1, 256)), fresh);
}

#[test]
fn preparing_again_at_another_block_size_and_rate_works() {
    let mut rng = XorShift(17);
    let ir = rng.noise(3000);
    let input = rng.noise(6000);
    let mut node = convolver(ir.clone(), 48_000.0);
    node.prepare(&spec(96_000.0, 32)).unwrap();
    run(&mut node, &input, || 32);
    node.prepare(&spec(48_000.0, 500)).unwrap();
    let output = run(&mut node, &input, mixed_calls(9, 500));
    let error = relative_error(&output, &direct(&ir, &input));
    assert!(error < TOLERANCE, "relative error {error:e}");
}

/// The impulse response of a node prepared at `rate_hz`, `len` samples.
fn impulse_response(node: &mut Convolver, rate_hz: f64, len: usize) -> Vec<f32> {
    node.prepare(&spec(rate_hz, 512)).unwrap();
    let mut input = vec![0.0; len];
    input[0] = 1.0;
    run(node, &input, || 512)
}

/// |H(f)| of `h` at rate `rate_hz`.
fn magnitude(h: &[f32], rate_hz: f64, f_hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * f_hz / rate_hz;
    let (re, im) = h.iter().enumerate().fold((0.0, 0.0), |(re, im), (n, &v)| {
        let phase = w * n as f64;
        (
            re + f64::from(v) * phase.cos(),
            im - f64::from(v) * phase.sin(),
        )
    });
    (re * re + im * im).sqrt()
}

/// A cabinet-like IR: damped resonances and decaying noise, at full level from
/// its first sample (the hardest case for a zero-latency resampler).
fn cabinet_like(rate_hz: f64, len: usize) -> Vec<f32> {
    let mut rng = XorShift(23);
    (0..len)
        .map(|n| {
            let t = n as f64 / rate_hz;
            let resonances: f64 = [(110.0, 0.02), (2_400.0, 0.004), (5_300.0, 0.002)]
                .iter()
                .map(|&(f, decay)| (2.0 * std::f64::consts::PI * f * t).cos() * (-t / decay).exp())
                .sum();
            (0.3 * resonances + f64::from(rng.signal()) * (-t / 0.003).exp()) as f32
        })
        .collect()
}

/// Largest difference in dB between the responses of `original` (at
/// `from_hz`) and `resampled` (at `to_hz`) at frequencies up to `top_hz`.
fn response_error_db(
    original: &[f32],
    from_hz: f64,
    resampled: &[f32],
    to_hz: f64,
    top_hz: f64,
) -> f64 {
    (0..=60)
        .map(|i| 20.0 * (top_hz / 20.0).powf(f64::from(i) / 60.0))
        .map(|f| {
            let a = magnitude(original, from_hz, f);
            let b = magnitude(resampled, to_hz, f);
            (20.0 * (b / a).log10()).abs()
        })
        .fold(0.0, f64::max)
}

#[test]
fn a_resampled_ir_keeps_its_magnitude_response() {
    let cases = [
        ("cabinet", cabinet_like(44_100.0, 2048), 44_100.0),
        ("impulse", vec![1.0], 44_100.0),
        ("cabinet", cabinet_like(96_000.0, 4096), 96_000.0),
        ("impulse", vec![1.0], 96_000.0),
    ];
    for (name, ir, from_hz) in cases {
        for to_hz in [44_100.0, 48_000.0, 96_000.0] {
            if to_hz == from_hz {
                continue;
            }
            let mut node = convolver(ir.clone(), from_hz);
            let len = (ir.len() as f64 * to_hz / from_hz) as usize + 1000;
            let resampled = impulse_response(&mut node, to_hz, len);
            let top_hz = 0.8 * 0.5 * f64::min(from_hz, to_hz);
            let error = response_error_db(&ir, from_hz, &resampled, to_hz, top_hz);
            assert!(
                error < 0.01,
                "{name} {from_hz} -> {to_hz} Hz: {error} dB off below {top_hz} Hz"
            );
        }
    }
}

#[test]
fn resampling_is_band_limited_and_hardly_delays() {
    let mut node = convolver(vec![1.0], 44_100.0);
    let h = impulse_response(&mut node, 96_000.0, 2000);
    // Images of the 44.1 kHz spectrum above its Nyquist frequency are gone.
    for f in [24_000.0, 30_000.0, 40_000.0, 47_000.0] {
        let db = 20.0 * magnitude(&h, 96_000.0, f).log10();
        assert!(db < -80.0, "{f} Hz: {db} dB");
    }
    // The minimum-phase kernel delays by about 3 samples of the lower rate.
    let peak = (0..h.len())
        .max_by(|&a, &b| h[a].abs().total_cmp(&h[b].abs()))
        .unwrap();
    let peak_at_44k = peak as f64 * 44_100.0 / 96_000.0;
    assert!(
        peak_at_44k <= 4.0,
        "the resampled impulse peaks at sample {peak}"
    );
    let sum: f64 = h.iter().map(|&v| f64::from(v)).sum();
    let centroid: f64 = h
        .iter()
        .enumerate()
        .map(|(n, &v)| n as f64 * f64::from(v))
        .sum::<f64>()
        / sum;
    let delay_at_44k = centroid * 44_100.0 / 96_000.0;
    assert!(
        (2.5..3.5).contains(&delay_at_44k),
        "delay {delay_at_44k} samples at 44.1 kHz"
    );
}

#[test]
fn normalize_scales_the_band_rms_to_0_db() {
    let settings = ConvolverSettings {
        normalize: true,
        ..ConvolverSettings::default()
    };
    let node = Convolver::from_samples(vec![0.25, 0.0, 0.0], 48_000.0, settings).unwrap();
    assert!((node.impulse_response()[0] - 1.0).abs() < 1e-6);

    // The same response at two rates normalizes to the same response.
    let ir = cabinet_like(44_100.0, 2048);
    let low = Convolver::from_samples(ir.clone(), 44_100.0, settings).unwrap();
    let mut plain = convolver(ir, 44_100.0);
    let at_96k = impulse_response(&mut plain, 96_000.0, 6000);
    let high = Convolver::from_samples(at_96k, 96_000.0, settings).unwrap();
    for f in [100.0, 1_000.0, 5_000.0, 15_000.0] {
        let a = magnitude(low.impulse_response(), 44_100.0, f);
        let b = magnitude(high.impulse_response(), 96_000.0, f);
        assert!((20.0 * (b / a).log10()).abs() < 0.1, "{f} Hz");
    }

    let silent = Convolver::from_samples(vec![0.0; 100], 48_000.0, settings);
    let message = silent.err().unwrap().to_string();
    assert!(message.contains("silent"), "{message}");
}

/// A temporary WAV file, removed on drop.
struct TempWav(PathBuf);

impl TempWav {
    fn path(name: &str) -> Self {
        Self(std::env::temp_dir().join(format!(
            "nam-graph-convolver-{}-{name}.wav",
            std::process::id()
        )))
    }

    fn write<S: hound::Sample + Copy>(
        name: &str,
        channels: u16,
        bits: u16,
        format: hound::SampleFormat,
        frames: &[S],
    ) -> Self {
        let file = Self::path(name);
        let spec = hound::WavSpec {
            channels,
            sample_rate: 44_100,
            bits_per_sample: bits,
            sample_format: format,
        };
        let mut writer = hound::WavWriter::create(&file.0, spec).unwrap();
        for &s in frames {
            writer.write_sample(s).unwrap();
        }
        writer.finalize().unwrap();
        file
    }
}

impl Drop for TempWav {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn every_wav_format_loads_the_same_ir() {
    let mut rng = XorShift(29);
    let ir: Vec<f32> = rng.noise(1000).iter().map(|v| v * 0.9).collect();
    let int = |bits: u32| -> Vec<i32> {
        let full = f64::from(1u32 << (bits - 1));
        ir.iter()
            .map(|&v| (f64::from(v) * full).round().clamp(-full, full - 1.0) as i32)
            .collect()
    };
    let stereo: Vec<f32> = ir.iter().flat_map(|&v| [v, 0.5]).collect();
    let files = [
        (
            TempWav::write("i8", 1, 8, hound::SampleFormat::Int, &int(8)),
            8,
        ),
        (
            TempWav::write("i16", 1, 16, hound::SampleFormat::Int, &int(16)),
            16,
        ),
        (
            TempWav::write("i24", 1, 24, hound::SampleFormat::Int, &int(24)),
            24,
        ),
        (
            TempWav::write("i32", 1, 32, hound::SampleFormat::Int, &int(32)),
            32,
        ),
        (
            TempWav::write("f32", 1, 32, hound::SampleFormat::Float, &ir),
            0,
        ),
        (
            TempWav::write("stereo", 2, 32, hound::SampleFormat::Float, &stereo),
            0,
        ),
    ];
    for (file, bits) in &files {
        let node = Convolver::from_file(&file.0, ConvolverSettings::default()).unwrap();
        assert_eq!(node.impulse_response_rate_hz(), 44_100.0);
        let loaded = node.impulse_response();
        assert_eq!(loaded.len(), ir.len(), "{}", file.0.display());
        // Half a quantization step (none for float), plus f32 rounding.
        let step = if *bits == 0 {
            0.0
        } else {
            0.5 / f64::from(1u32 << (bits - 1))
        };
        for (&a, &b) in loaded.iter().zip(&ir) {
            assert!(
                f64::from((a - b).abs()) <= step + 1e-7,
                "{}: {a} vs {b}",
                file.0.display()
            );
        }
    }
}

/// The error of loading `path`, checked to be an audio error naming it.
fn load_error(path: &std::path::Path) -> String {
    let Err(error) = Convolver::from_file(path, ConvolverSettings::default()) else {
        panic!("{} loaded", path.display());
    };
    let text = error.to_string();
    match error {
        NodeError::AudioFile(e) => assert_eq!(e.path, path),
        NodeError::Audio { path: named, .. } => assert_eq!(named, path.display().to_string()),
        other => panic!("not an audio error: {other:?}"),
    }
    assert!(text.contains(&path.display().to_string()), "{text}");
    text
}

#[test]
fn bad_files_give_audio_errors_naming_the_file() {
    let missing = TempWav::path("missing");
    load_error(&missing.0);

    let text = TempWav::path("text");
    std::fs::write(&text.0, "not a wav file").unwrap();
    load_error(&text.0);

    let empty = TempWav::write::<i16>("empty", 1, 16, hound::SampleFormat::Int, &[]);
    assert!(load_error(&empty.0).contains("no samples"));

    let nan = TempWav::write(
        "nan",
        1,
        32,
        hound::SampleFormat::Float,
        &[0.5, f32::NAN, 0.1],
    );
    assert!(load_error(&nan.0).contains("sample 1"));

    let infinite = TempWav::write("inf", 1, 32, hound::SampleFormat::Float, &[f32::INFINITY]);
    assert!(load_error(&infinite.0).contains("not finite"));

    // 10 s + 1 frame at 44.1 kHz (16-bit: 882 kB).
    let long = TempWav::write(
        "long",
        1,
        16,
        hound::SampleFormat::Int,
        &vec![0_i16; 441_001],
    );
    assert!(load_error(&long.0).contains("limit"));

    // A 108-byte file whose header announces 4 GB of 8-bit samples at 4.29 GHz
    // (within the 10 s limit): refused before 17 GB are reserved for them.
    let mut header = Vec::new();
    // (The RIFF size is as large, or the chunk reader refuses it first.)
    header.extend_from_slice(b"RIFF\xfe\xff\xff\xffWAVEfmt \x10\0\0\0");
    header.extend_from_slice(&[1, 0, 1, 0]); // PCM, mono
    header.extend_from_slice(&u32::MAX.to_le_bytes()); // sample rate
    header.extend_from_slice(&u32::MAX.to_le_bytes()); // byte rate
    header.extend_from_slice(&[1, 0, 8, 0]); // block align 1, 8 bits
    header.extend_from_slice(b"data");
    header.extend_from_slice(&0xFFFF_FF00_u32.to_le_bytes());
    header.extend_from_slice(&[0x80; 64]);
    let huge = TempWav::path("huge-header");
    std::fs::write(&huge.0, &header).unwrap();
    let message = load_error(&huge.0);
    assert!(message.contains("room for at most 108"), "{message}");

    // A file above the size limit is refused from its size, before reading:
    // a valid header announcing a short IR, then a huge (sparse) tail.
    let huge = TempWav::write("huge", 1, 16, hound::SampleFormat::Int, &[1000_i16; 64]);
    let limit = nam_graph::audio_file::MAX_IR_FILE_BYTES;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&huge.0)
        .unwrap()
        .set_len(limit + 1)
        .unwrap();
    let message = load_error(&huge.0);
    assert!(
        message.contains(&(limit + 1).to_string()) && message.contains(&limit.to_string()),
        "{message}"
    );
}

#[test]
fn bad_samples_are_refused() {
    let settings = ConvolverSettings::default();
    for (ir, rate, why) in [
        (vec![], 48_000.0, "no samples"),
        (vec![1.0, f32::NAN], 48_000.0, "sample 1"),
        (vec![f32::NEG_INFINITY], 48_000.0, "not finite"),
        (vec![1.0], 0.0, "sample rate"),
        (vec![0.0; 11], 1.0, "limit"),
    ] {
        let Err(NodeError::Invalid(message)) = Convolver::from_samples(ir, rate, settings) else {
            panic!("{why}: accepted");
        };
        assert!(message.contains(why), "{message}");
    }
    let mut node = convolver(vec![1.0], 48_000.0);
    assert!(node.prepare(&spec(0.0, 64)).is_err());
}

#[test]
fn processing_does_not_allocate() {
    let before = violation_count();
    assert_no_alloc(|| drop(vec![0.0_f32; 16]));
    assert!(
        violation_count() > before,
        "the allocation detector is not armed"
    );

    // An IR at another rate, with every stage size, through the first call.
    let mut rng = XorShift(31);
    let mut node = convolver(rng.noise(40_000), 44_100.0);
    node.prepare(&spec(48_000.0, 128)).unwrap();
    let input = rng.noise(50_000);
    let before = violation_count();
    assert_no_alloc(|| {
        node.set_param(param::MIX, 0.5);
        node.set_param(param::LEVEL_DB, -6.0);
        node.reset();
    });
    assert_eq!(violation_count(), before);
    run(&mut node, &input, mixed_calls(2, 128));
}

/// A slow sine, so that output jumps can only come from the parameters.
fn sine(len: usize) -> Vec<f32> {
    (0..len)
        .map(|n| (0.5 * (n as f64 * 0.01).sin()) as f32)
        .collect()
}

#[test]
fn mix_zero_passes_the_input_exactly() {
    let mut rng = XorShift(37);
    let input = rng.noise(5000);
    let settings = ConvolverSettings {
        mix: 0.0,
        ..ConvolverSettings::default()
    };
    let mut node = Convolver::from_samples(rng.noise(3000), 48_000.0, settings).unwrap();
    node.prepare(&spec(48_000.0, 64)).unwrap();
    assert_eq!(run(&mut node, &input, || 64), input);

    // Turned down while running: exact once the 20 ms ramp (960 frames) is over.
    let mut node = convolver(rng.noise(3000), 48_000.0);
    node.prepare(&spec(48_000.0, 64)).unwrap();
    run(&mut node, &input, || 64);
    node.set_param(param::MIX, -1.0); // clamped to 0
    let output = run(&mut node, &input, || 64);
    assert_ne!(output[..960], input[..960]);
    assert_eq!(output[960..], input[960..]);
}

#[test]
fn level_and_mix_ramp_without_jumps() {
    let input = sine(4000);
    let max_step_of_input = 0.5 * 0.01;
    // An identity IR: the output is the input times the gain.
    let mut node = convolver(vec![1.0], 48_000.0);
    node.prepare(&spec(48_000.0, 64)).unwrap();
    run(&mut node, &input[..1000], || 64);
    node.set_param(param::LEVEL_DB, 20.0);
    let output = run(&mut node, &input, mixed_calls(4, 64));
    let ramp_frames = 960;
    let gains: Vec<f64> = (1..ramp_frames)
        .map(|n| f64::from(output[n]) / f64::from(input[n]))
        .collect();
    assert!((gains[0] - 1.0).abs() < 0.02, "starts at {}", gains[0]);
    for pair in gains.windows(2) {
        let step = pair[1] - pair[0];
        assert!(
            step > 0.0 && step < 2.0 * 9.0 / ramp_frames as f64,
            "{pair:?}"
        );
    }
    for n in ramp_frames..input.len() {
        assert!((output[n] - 10.0 * input[n]).abs() < 1e-5, "frame {n}");
    }

    // Mixing a one-sample delay out: no step larger than the signal's own.
    let mut node = convolver(vec![0.0, 1.0], 48_000.0);
    node.prepare(&spec(48_000.0, 64)).unwrap();
    let before = run(&mut node, &input[..1000], || 64);
    node.set_param(param::MIX, 0.0);
    let after = run(&mut node, &input[1000..], || 7);
    let output = [&before[990..], &after[..]].concat();
    for pair in output.windows(2) {
        assert!(
            (pair[1] - pair[0]).abs() <= 1.01 * max_step_of_input,
            "{pair:?}"
        );
    }
}

#[test]
fn faulty_input_gives_finite_output_and_recovers() {
    let mut rng = XorShift(41);
    let ir = rng.noise(2000);
    let mut input = rng.noise(6000);
    let mut node = convolver(ir.clone(), 48_000.0);
    node.prepare(&spec(48_000.0, 64)).unwrap();
    input[100] = f32::NAN;
    input[200] = f32::INFINITY;
    input[300] = f32::MAX;
    let output = run(&mut node, &input, || 64);
    assert!(output.iter().all(|y| y.is_finite()));
    // Non-finite input counts as silence.
    input[100] = 0.0;
    input[200] = 0.0;
    input[300] = 1.0e6; // clamped
    let reference = direct(&ir, &input);
    // FFT rounding spreads a block's peak over the block, so compare once the
    // blocks holding the 10^6 fault have left every partition.
    let error = relative_error(&output[3000..], &reference[3000..]);
    assert!(
        error < TOLERANCE,
        "relative error {error:e} after the faults"
    );
}

#[test]
fn parameters_and_ports() {
    let mut node = convolver(vec![1.0], 48_000.0);
    let names: Vec<&str> = node.params().iter().map(|p| p.name).collect();
    assert_eq!(names, ["mix", "level_db"]);
    assert_eq!((node.inputs(), node.outputs()), (1, 1));
    node.prepare(&spec(48_000.0, 64)).unwrap();
    // Unknown indices, missing ports and zero frames are ignored.
    node.set_param(7, 1.0);
    let mut out = [0.0; 4];
    node.process(4, &[], &mut [&mut out]);
    node.process(0, &[&[1.0]], &mut [&mut out]);
    assert_eq!(out, [0.0; 4]);
}
