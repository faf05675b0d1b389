//! The resampler and the resampled node, against ideal references: a round
//! trip through another rate must equal the input delayed by the reported
//! latency (flat within ±0.1 dB, error below −60 dB) up to 0.8 × the lower
//! Nyquist frequency; tones above that frequency must come out (aliases
//! included) more than 60 dB down, measured with an FFT; the impulse peak
//! and a tone's phase must show the reported latency; output must not depend
//! on call sizes; every `process` call here runs under `assert_no_alloc`.

mod common;

use common::XorShift;

use std::f64::consts::PI;

use assert_no_alloc::{assert_no_alloc, violation_count, AllocDisabler};
use nam_graph::nodes::gain::Gain;
use nam_graph::nodes::mix::Mixer;
use nam_graph::nodes::resampler::{needs_resampling, ResampledNode, Resampler};
use nam_graph::{GraphBuilder, Node, NodeError, ParamSpec, ProcessSpec, Sink, Source};
use realfft::RealFftPlanner;

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

/// The rates every test mixes.
const RATES: [f64; 7] = [
    22_050.0, 32_000.0, 44_100.0, 48_000.0, 88_200.0, 96_000.0, 192_000.0,
];

/// Passes its input through, `delay_frames` late, and says so.
struct Delay {
    delay_frames: usize,
    line: Vec<f32>,
    position: usize,
}

impl Delay {
    fn new(delay_frames: usize) -> Box<Self> {
        Box::new(Self {
            delay_frames,
            line: vec![0.0; delay_frames],
            position: 0,
        })
    }
}

impl Node for Delay {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> usize {
        1
    }

    fn prepare(&mut self, _: &ProcessSpec) -> Result<(), NodeError> {
        Ok(())
    }

    fn reset(&mut self) {
        self.line.fill(0.0);
        self.position = 0;
    }

    fn latency_frames(&self) -> usize {
        self.delay_frames
    }

    fn process(&mut self, frames: usize, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        for (y, &x) in outputs[0][..frames].iter_mut().zip(&inputs[0][..frames]) {
            if self.line.is_empty() {
                *y = x;
            } else {
                *y = self.line[self.position];
                self.line[self.position] = x;
                self.position = (self.position + 1) % self.line.len();
            }
        }
    }
}

fn identity() -> Box<Delay> {
    Delay::new(0)
}

/// The largest call in these tests.
const MAX_BLOCK: usize = 512;

/// `inner`, running at `inner_rate`, prepared in a graph at `graph_rate`.
fn node(graph_rate: f64, inner: Box<dyn Node>, inner_rate: f64) -> ResampledNode {
    let mut node = ResampledNode::new(inner, inner_rate).unwrap();
    node.prepare(&ProcessSpec {
        sample_rate_hz: graph_rate,
        max_block_frames: MAX_BLOCK,
    })
    .unwrap();
    node
}

/// Runs `input` through `node` in calls of the sizes `calls` gives, every call
/// under the allocation guard, and checks none allocated.
fn run(node: &mut dyn Node, input: &[f32], mut calls: impl FnMut() -> usize) -> Vec<f32> {
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

/// Call sizes 1, 17, 64 and 512 ([`MAX_BLOCK`]) in turn, with random ones
/// between.
fn mixed_calls(seed: u64) -> impl FnMut() -> usize {
    let mut rng = XorShift(seed);
    let mut i = 0;
    move || {
        i += 1;
        match i % 6 {
            0 => 1,
            1 => 17,
            2 => 64,
            3 => MAX_BLOCK,
            _ => rng.frames(MAX_BLOCK),
        }
    }
}

fn sine(frequency_hz: f64, rate_hz: f64, amplitude: f64, len: usize) -> Vec<f32> {
    (0..len)
        .map(|n| (amplitude * (2.0 * PI * frequency_hz * n as f64 / rate_hz).sin()) as f32)
        .collect()
}

/// The 4-term Blackman-Harris window (sidelobes below −92 dB).
fn window(len: usize) -> Vec<f64> {
    (0..len)
        .map(|n| {
            let x = 2.0 * PI * n as f64 / len as f64;
            0.35875 - 0.48829 * x.cos() + 0.14128 * (2.0 * x).cos() - 0.01168 * (3.0 * x).cos()
        })
        .collect()
}

/// Amplitude and phase (of a cosine) of the tone at `frequency_hz` in
/// `signal`, by a windowed DFT at that frequency.
fn tone(signal: &[f32], frequency_hz: f64, rate_hz: f64) -> (f64, f64) {
    let w = window(signal.len());
    let (mut re, mut im) = (0.0, 0.0);
    for (n, (&x, &w)) in signal.iter().zip(&w).enumerate() {
        let phase = 2.0 * PI * frequency_hz * n as f64 / rate_hz;
        re += w * f64::from(x) * phase.cos();
        im -= w * f64::from(x) * phase.sin();
    }
    let sum: f64 = w.iter().sum();
    (2.0 * re.hypot(im) / sum, im.atan2(re))
}

/// The largest amplitude in `signal`'s spectrum (windowed FFT, scaled so a
/// sine of amplitude `a` reads `a`), over bins whose frequency is outside
/// `exclude_hz` (± 8 bins).
fn spectrum_peak(signal: &[f32], rate_hz: f64, exclude_hz: Option<f64>) -> f64 {
    let len = signal.len();
    let w = window(len);
    let sum: f64 = w.iter().sum();
    let mut time: Vec<f64> = signal
        .iter()
        .zip(&w)
        .map(|(&x, &w)| f64::from(x) * w)
        .collect();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(len);
    let mut spectrum = fft.make_output_vec();
    fft.process(&mut time, &mut spectrum).unwrap();
    let bin_hz = rate_hz / len as f64;
    spectrum
        .iter()
        .enumerate()
        .filter(|&(i, _)| exclude_hz.is_none_or(|f| (i as f64 * bin_hz - f).abs() > 8.0 * bin_hz))
        .map(|(_, bin)| 2.0 * bin.norm() / sum)
        .fold(0.0, f64::max)
}

fn db(ratio: f64) -> f64 {
    20.0 * ratio.log10()
}

/// Error of `output` against `input` delayed by `latency` frames, relative to
/// the input's RMS, in dB, over the frames after `settle`.
fn delayed_error_db(input: &[f32], output: &[f32], latency: usize, settle: usize) -> f64 {
    let (mut error, mut power) = (0.0, 0.0);
    for n in settle..output.len() {
        let x = f64::from(input[n - latency]);
        error += (f64::from(output[n]) - x).powi(2);
        power += x * x;
    }
    10.0 * (error / power).log10()
}

#[test]
fn the_detector_fires() {
    let before = violation_count();
    let v = assert_no_alloc(|| std::hint::black_box(Box::new(3_u64)));
    assert!(violation_count() > before);
    drop(v);
}

#[test]
fn a_round_trip_is_flat_and_equals_the_delayed_input_in_the_passband() {
    let pairs: [(f64, f64); 9] = [
        (44_100.0, 48_000.0),
        (48_000.0, 44_100.0),
        (96_000.0, 48_000.0),
        (48_000.0, 96_000.0),
        (88_200.0, 48_000.0),
        (192_000.0, 48_000.0),
        (22_050.0, 48_000.0),
        (32_000.0, 44_100.0),
        (48_000.0, 22_050.0),
    ];
    for (seed, (graph_rate, inner_rate)) in pairs.into_iter().enumerate() {
        let top = 0.8 * graph_rate.min(inner_rate) / 2.0;
        let mut node = node(graph_rate, identity(), inner_rate);
        let latency = node.latency_frames();
        let len = (0.25 * graph_rate) as usize;
        let settle = 2 * latency + 200;
        for frequency in [100.0, 1000.0, 5000.0, 0.5 * top, 0.9 * top, top] {
            node.reset();
            let input = sine(frequency, graph_rate, 0.5, len);
            let output = run(&mut node, &input, mixed_calls(seed as u64));
            let (amplitude, _) = tone(&output[settle..], frequency, graph_rate);
            let gain_db = db(amplitude / 0.5);
            assert!(
                gain_db.abs() <= 0.1,
                "{graph_rate} Hz via {inner_rate} Hz, {frequency:.0} Hz: {gain_db:.3} dB"
            );
            let error_db = delayed_error_db(&input, &output, latency, settle);
            assert!(
                error_db < -60.0,
                "{graph_rate} Hz via {inner_rate} Hz, {frequency:.0} Hz: error {error_db:.1} dB"
            );
        }
        // Many tones at once, spread over the passband.
        node.reset();
        let mut rng = XorShift(0xC0FFEE + seed as u64);
        let mut input = vec![0.0_f32; len];
        for _ in 0..12 {
            let frequency = 50.0 + (top - 50.0) * (rng.signal() as f64 + 1.0) / 2.0;
            for (x, s) in input.iter_mut().zip(sine(frequency, graph_rate, 0.05, len)) {
                *x += s;
            }
        }
        let output = run(&mut node, &input, mixed_calls(seed as u64 + 100));
        let error_db = delayed_error_db(&input, &output, latency, settle);
        assert!(
            error_db < -60.0,
            "{graph_rate} Hz via {inner_rate} Hz, 12 tones: error {error_db:.1} dB"
        );
    }
}

#[test]
fn tones_above_the_lower_nyquist_frequency_are_rejected_aliases_included() {
    // (graph rate, inner rate, tone): each tone lies above the lower rate's
    // Nyquist frequency, so anything of it in the output is leakage or alias.
    let cases = [
        (48_000.0, 44_100.0, 23_000.0),
        (48_000.0, 44_100.0, 22_500.0),
        (48_000.0, 44_100.0, 23_900.0),
        (96_000.0, 48_000.0, 30_000.0),
        (96_000.0, 48_000.0, 45_000.0),
        (192_000.0, 44_100.0, 60_000.0),
        (44_100.0, 32_000.0, 17_000.0),
    ];
    for (graph_rate, inner_rate, frequency) in cases {
        let mut node = node(graph_rate, identity(), inner_rate);
        let len = 1 << 15;
        let input = sine(frequency, graph_rate, 0.5, len + 4096);
        let output = run(&mut node, &input, mixed_calls(7));
        let peak = spectrum_peak(&output[4096..], graph_rate, None);
        let level = db(peak / 0.5);
        assert!(
            level < -60.0,
            "{frequency} Hz at {graph_rate} Hz via {inner_rate} Hz: {level:.1} dB"
        );
    }
}

#[test]
fn a_single_conversion_rejects_aliases_and_images() {
    // (from, to, tone in the passband or above the lower Nyquist frequency).
    let cases = [
        (48_000.0, 44_100.0, 23_000.0),
        (96_000.0, 44_100.0, 30_000.0),
        (44_100.0, 48_000.0, 19_000.0),
        (22_050.0, 96_000.0, 8_000.0),
        (48_000.0, 32_000.0, 12_000.0),
    ];
    for (from, to, frequency) in cases {
        let mut resampler = Resampler::new(from, to).unwrap();
        let input = sine(frequency, from, 0.5, 1 << 16);
        let mut output = vec![0.0; resampler.max_output_frames(input.len())];
        let before = violation_count();
        let written = assert_no_alloc(|| resampler.process(&input, &mut output));
        assert_eq!(violation_count(), before, "process allocated");
        let output = &output[1024..written - 1024];
        // A tone below the lower Nyquist frequency stays; all else must go.
        let in_band = frequency < from.min(to) / 2.0;
        let exclude = in_band.then_some(frequency);
        let level = db(spectrum_peak(output, to, exclude) / 0.5);
        assert!(
            level < -60.0,
            "{frequency} Hz, {from} → {to} Hz: {level:.1} dB"
        );
        if frequency <= 0.4 * from.min(to) {
            let (amplitude, _) = tone(output, frequency, to);
            let gain_db = db(amplitude / 0.5);
            assert!(
                gain_db.abs() < 0.01,
                "{frequency} Hz, {from} → {to} Hz: {gain_db} dB"
            );
        }
    }
}

#[test]
fn the_impulse_peak_and_a_tones_phase_show_the_reported_latency() {
    for (graph_rate, inner_rate) in [
        (44_100.0, 48_000.0),
        (48_000.0, 44_100.0),
        (96_000.0, 48_000.0),
        (22_050.0, 48_000.0),
        (48_000.0, 32_000.0),
    ] {
        for inner_delay in [0, 1, 7, 100] {
            let mut node = node(graph_rate, Delay::new(inner_delay), inner_rate);
            let latency = node.latency_frames();
            // The inner delay in graph frames, plus 48 samples of the lower rate.
            let expected = (48.0 * graph_rate / graph_rate.min(inner_rate)
                + inner_delay as f64 * graph_rate / inner_rate
                - 1e-9)
                .ceil() as usize;
            assert_eq!(
                latency, expected,
                "{graph_rate} via {inner_rate}, {inner_delay}"
            );

            let at = 5;
            let mut impulse = vec![0.0; latency + 2000];
            impulse[at] = 1.0;
            let output = run(&mut node, &impulse, mixed_calls(3));
            let peak = (0..output.len())
                .max_by(|&a, &b| output[a].abs().total_cmp(&output[b].abs()))
                .unwrap();
            assert!(
                peak.abs_diff(at + latency) <= 1,
                "{graph_rate} via {inner_rate}, inner delay {inner_delay}: \
                 peak at {peak}, latency {latency}"
            );

            // The delay of a 1 kHz tone, to a fraction of a frame.
            node.reset();
            let frequency = 1000.0;
            let len = (0.2 * graph_rate) as usize;
            let input = sine(frequency, graph_rate, 0.5, len);
            let output = run(&mut node, &input, mixed_calls(4));
            let from = len / 2;
            let (_, phase_in) = tone(&input[from..], frequency, graph_rate);
            let (_, phase_out) = tone(&output[from..], frequency, graph_rate);
            let omega = 2.0 * PI * frequency / graph_rate;
            let expected_phase = omega * latency as f64;
            let residual = (phase_in - phase_out - expected_phase).rem_euclid(2.0 * PI);
            let residual = if residual > PI {
                residual - 2.0 * PI
            } else {
                residual
            };
            let delay = latency as f64 + residual / omega;
            assert!(
                (delay - latency as f64).abs() < 0.01,
                "{graph_rate} via {inner_rate}, inner delay {inner_delay}: \
                 measured {delay:.4} frames, reported {latency}"
            );
        }
    }
}

#[test]
fn a_dry_branch_mixed_with_a_resampled_one_stays_in_phase() {
    // in → (dry, resampled identity) → mixer at 0.5 each → out: the
    // graph delays the dry branch by the reported latency, and because the
    // latency is exact, the two halves add up to the input, delayed.
    for (graph_rate, inner_rate) in [(44_100.0, 48_000.0), (48_000.0, 44_100.0)] {
        let mut b = GraphBuilder::new(1, 1);
        let wet = ResampledNode::new(identity(), inner_rate).unwrap();
        let wet = b.add("wet", Box::new(wet)).unwrap();
        let mut mixer = Mixer::new(2).unwrap();
        for index in 0..2 {
            mixer.set_param(index, (20.0 * 0.5_f64.log10()) as f32);
        }
        let mix = b.add("mix", Box::new(mixer)).unwrap();
        b.connect(Source::Input(0), Sink::Node(mix, 0));
        b.connect(Source::Input(0), Sink::Node(wet, 0));
        b.connect(Source::Node(wet, 0), Sink::Node(mix, 1));
        b.connect(Source::Node(mix, 0), Sink::Output(0));
        let mut graph = b
            .build(ProcessSpec {
                sample_rate_hz: graph_rate,
                max_block_frames: MAX_BLOCK,
            })
            .unwrap();
        let latency = graph.latency_frames();
        assert_eq!(
            latency,
            node(graph_rate, identity(), inner_rate).latency_frames()
        );

        let len = (0.25 * graph_rate) as usize;
        let top = 0.8 * graph_rate.min(inner_rate) / 2.0;
        let mut input = vec![0.0_f32; len];
        for k in 1..=10 {
            let frequency = top * k as f64 / 10.0;
            for (x, s) in input.iter_mut().zip(sine(frequency, graph_rate, 0.05, len)) {
                *x += s;
            }
        }
        let mut output = vec![0.0; len];
        let before = violation_count();
        for (x, y) in input.chunks(300).zip(output.chunks_mut(300)) {
            assert_no_alloc(|| graph.process(&[x], &mut [y]));
        }
        assert_eq!(violation_count(), before, "the graph allocated");
        let error_db = delayed_error_db(&input, &output, latency, 2 * latency + 200);
        assert!(
            error_db < -60.0,
            "{graph_rate} via {inner_rate}: {error_db:.1} dB"
        );
    }
}

#[test]
fn every_rate_pair_converts() {
    let mut inner_rates = RATES.to_vec();
    inner_rates.push(47_999.5);
    for (i, &graph_rate) in RATES.iter().enumerate() {
        for (j, &inner_rate) in inner_rates.iter().enumerate() {
            let mut node = node(graph_rate, identity(), inner_rate);
            let latency = node.latency_frames();
            let frequency = 1000.0;
            let len = (0.1 * graph_rate) as usize + latency;
            let input = sine(frequency, graph_rate, 0.5, len);
            let output = run(&mut node, &input, mixed_calls((i * 10 + j) as u64));
            assert!(output.iter().all(|y| y.is_finite()));
            let settle = 2 * latency + 100;
            let error_db = delayed_error_db(&input, &output, latency, settle);
            assert!(
                error_db < -60.0,
                "{graph_rate} Hz via {inner_rate} Hz: error {error_db:.1} dB"
            );
        }
    }
}

#[test]
fn output_does_not_depend_on_call_sizes() {
    let mut rng = XorShift(0x5EED);
    let input: Vec<f32> = (0..30_000).map(|_| rng.signal()).collect();
    for (graph_rate, inner_rate) in [
        (44_100.0, 48_000.0),
        (48_000.0, 44_100.0),
        (96_000.0, 48_000.0),
        (32_000.0, 192_000.0),
    ] {
        let whole = run(
            &mut node(graph_rate, Delay::new(3), inner_rate),
            &input,
            || 512,
        );
        for (seed, calls) in [[1, 1, 1, 1], [17, 17, 17, 17], [64, 1, 512, 17]]
            .into_iter()
            .enumerate()
        {
            let mut i = 0;
            let pieces = run(
                &mut node(graph_rate, Delay::new(3), inner_rate),
                &input,
                || {
                    i += 1;
                    calls[i % 4]
                },
            );
            assert_eq!(pieces, whole, "{graph_rate} via {inner_rate}, calls {seed}");
        }
        let random = run(
            &mut node(graph_rate, Delay::new(3), inner_rate),
            &input,
            mixed_calls(11),
        );
        assert_eq!(random, whole, "{graph_rate} via {inner_rate}, random calls");
    }
}

#[test]
fn reset_equals_a_fresh_instance() {
    let mut rng = XorShift(77);
    let input: Vec<f32> = (0..5000).map(|_| rng.signal()).collect();
    let mut used = node(48_000.0, Delay::new(2), 44_100.0);
    run(&mut used, &input, mixed_calls(1));
    let before = violation_count();
    assert_no_alloc(|| used.reset());
    assert_eq!(violation_count(), before, "reset allocated");
    let again = run(&mut used, &input, mixed_calls(2));
    let fresh = run(
        &mut node(48_000.0, Delay::new(2), 44_100.0),
        &input,
        mixed_calls(2),
    );
    assert_eq!(again, fresh);
}

#[test]
fn a_resampler_emits_each_frame_once_its_input_is_complete() {
    for (from, to) in [
        (44_100.0, 48_000.0),
        (48_000.0, 44_100.0),
        (96_000.0, 44_100.0),
        (22_050.0, 192_000.0),
    ] {
        let mut resampler = Resampler::new(from, to).unwrap();
        let (p, q) = resampler.ratio();
        let (p, q) = (p as usize, q as usize);
        let mut rng = XorShift(9);
        let mut consumed = 0;
        let mut produced = 0;
        let mut output = vec![0.0; 20_000];
        let input = vec![0.25; 2000];
        for _ in 0..300 {
            let frames = rng.frames(700) - 1;
            let bound = resampler.max_output_frames(frames);
            let written = assert_no_alloc(|| resampler.process(&input[..frames], &mut output));
            assert!(written <= bound, "{from} → {to}: {written} > {bound}");
            consumed += frames;
            produced += written;
            assert_eq!(produced, (consumed * q).div_ceil(p), "{from} → {to}");
        }
        // A constant comes out unchanged once the kernel is full.
        let written = resampler.process(&input, &mut output);
        assert!(output[..written].iter().all(|&y| (y - 0.25).abs() < 1e-6));
    }
}

#[test]
fn the_resampler_delay_is_exact_and_adjustable() {
    for extra in [0.0, 0.3, 5.75] {
        let (from, to) = (44_100.0, 48_000.0);
        let mut resampler = Resampler::with_extra_delay(from, to, extra).unwrap();
        let delay = resampler.delay_input_frames();
        assert!((delay - 24.0 - extra).abs() < 1e-12, "{delay}");
        // Output frame n holds the input at time n·p/q − delay.
        let frequency = 2000.0;
        let input = sine(frequency, from, 0.5, 20_000);
        let mut output = vec![0.0; resampler.max_output_frames(input.len())];
        let written = resampler.process(&input, &mut output);
        for (n, &y) in output.iter().enumerate().take(written).skip(200) {
            let t = n as f64 * from / to - delay;
            let expected = 0.5 * (2.0 * PI * frequency * t / from).sin();
            assert!((f64::from(y) - expected).abs() < 2e-4, "frame {n}");
        }
    }
}

#[test]
fn equal_rates_pass_straight_through() {
    assert!(!needs_resampling(48_000.0, 48_000.0));
    assert!(needs_resampling(44_100.0, 48_000.0));
    assert!(!needs_resampling(48_000.0, 47_999.999));
    // Rates no conversion handles are for the wrapper to refuse, with reasons.
    assert!(needs_resampling(0.0, 48_000.0));
    assert!(needs_resampling(1000.0, 96_000.0));
    let mut node = node(48_000.0, Delay::new(4), 48_000.0);
    assert_eq!(node.latency_frames(), 4);
    let mut rng = XorShift(5);
    let input: Vec<f32> = (0..1000).map(|_| rng.signal()).collect();
    let output = run(&mut node, &input, mixed_calls(5));
    assert_eq!(&output[4..], &input[..996]);
}

#[test]
fn parameters_are_the_inner_nodes() {
    let mut node = node(44_100.0, Box::new(Gain::new(0.0)), 48_000.0);
    let params: Vec<ParamSpec> = node.params().to_vec();
    assert_eq!(params, Gain::new(0.0).params());
    let latency = node.latency_frames();
    let before = violation_count();
    assert_no_alloc(|| node.set_param(0, -6.0));
    assert_eq!(violation_count(), before, "set_param allocated");
    let input = sine(1000.0, 44_100.0, 0.5, 20_000);
    let output = run(&mut node, &input, mixed_calls(6));
    let (amplitude, _) = tone(&output[10_000..], 1000.0, 44_100.0);
    assert!((db(amplitude / 0.5) + 6.0).abs() < 0.01, "{amplitude}");
    assert!(latency > 0);
}

#[test]
fn bad_settings_are_refused() {
    assert!(ResampledNode::new(Box::new(Mixer::new(2).unwrap()), 48_000.0).is_err());
    assert!(ResampledNode::new(identity(), 0.0).is_err());
    assert!(ResampledNode::new(identity(), f64::NAN).is_err());
    let mut node = ResampledNode::new(identity(), 48_000.0).unwrap();
    for rate in [0.0, -1.0, f64::INFINITY, 500.0] {
        let spec = ProcessSpec {
            sample_rate_hz: rate,
            max_block_frames: 64,
        };
        assert!(node.prepare(&spec).is_err(), "{rate} Hz");
    }
    assert!(Resampler::new(48_000.0, 0.0).is_err());
    assert!(Resampler::with_extra_delay(48_000.0, 44_100.0, -1.0).is_err());
}
