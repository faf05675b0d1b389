//! The tone stack, against the analytic response of the RBJ cookbook
//! biquads evaluated independently here: flat at 5/5/5, measured magnitudes
//! within 0.1 dB of the analytic ones, smooth knob changes, stable at every
//! rate, output independent of call sizes, and no allocation (every `process`
//! call here runs under `assert_no_alloc`).

mod common;

use common::XorShift;

use std::f64::consts::PI;

use assert_no_alloc::{assert_no_alloc, violation_count, AllocDisabler};
use nam_graph::nodes::tone_stack::{param, ToneStack};
use nam_graph::{Node, ProcessSpec};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const MAX_BLOCK: usize = 256;
const RATES: [f64; 4] = [44_100.0, 48_000.0, 96_000.0, 192_000.0];

/// A tone stack prepared at `rate_hz` with its knobs at `knobs` (bass,
/// middle, treble), settled.
fn tone_stack(rate_hz: f64, knobs: [f32; 3]) -> ToneStack {
    let mut stack = ToneStack::new();
    for (index, value) in [param::BASS, param::MIDDLE, param::TREBLE]
        .into_iter()
        .zip(knobs)
    {
        stack.set_param(index, value);
    }
    stack
        .prepare(&ProcessSpec {
            sample_rate_hz: rate_hz,
            max_block_frames: MAX_BLOCK,
        })
        .unwrap();
    stack
}

/// Runs `input` through `node` in calls of the sizes `calls` gives, each under
/// the allocation guard.
fn run(node: &mut ToneStack, input: &[f32], mut calls: impl FnMut() -> usize) -> Vec<f32> {
    let before = violation_count();
    let mut output = vec![0.0; input.len()];
    let mut done = 0;
    while done < input.len() {
        let n = calls().min(input.len() - done).min(MAX_BLOCK);
        let inputs = [&input[done..done + n]];
        let mut outputs = [&mut output[done..done + n]];
        assert_no_alloc(|| node.process(n, &inputs, &mut outputs));
        done += n;
    }
    assert_eq!(violation_count(), before, "process allocated");
    output
}

fn sine(frequency_hz: f64, rate_hz: f64, amplitude: f64, len: usize) -> Vec<f32> {
    (0..len)
        .map(|n| (amplitude * (2.0 * PI * frequency_hz * n as f64 / rate_hz).sin()) as f32)
        .collect()
}

/// Amplitude of the tone at `frequency_hz` in `signal` (Blackman-Harris
/// windowed DFT at that frequency).
fn amplitude(signal: &[f32], frequency_hz: f64, rate_hz: f64) -> f64 {
    let len = signal.len();
    let (mut re, mut im, mut sum) = (0.0, 0.0, 0.0);
    for (n, &x) in signal.iter().enumerate() {
        let t = 2.0 * PI * n as f64 / len as f64;
        let w = 0.35875 - 0.48829 * t.cos() + 0.14128 * (2.0 * t).cos() - 0.01168 * (3.0 * t).cos();
        let phase = 2.0 * PI * frequency_hz * n as f64 / rate_hz;
        re += w * f64::from(x) * phase.cos();
        im -= w * f64::from(x) * phase.sin();
        sum += w;
    }
    2.0 * re.hypot(im) / sum
}

/// A complex number, enough for evaluating `H(e^jω)`.
#[derive(Clone, Copy)]
struct Complex(f64, f64);

impl Complex {
    fn mul(self, o: Complex) -> Complex {
        Complex(self.0 * o.0 - self.1 * o.1, self.0 * o.1 + self.1 * o.0)
    }

    fn abs(self) -> f64 {
        self.0.hypot(self.1)
    }
}

/// `|b0 + b1 z⁻¹ + b2 z⁻²| / |a0 + a1 z⁻¹ + a2 z⁻²|` at `z = e^jω`.
fn biquad_magnitude(b: [f64; 3], a: [f64; 3], omega: f64) -> f64 {
    let z1 = Complex(omega.cos(), -omega.sin());
    let z2 = z1.mul(z1);
    let poly = |c: [f64; 3]| Complex(c[0] + c[1] * z1.0 + c[2] * z2.0, c[1] * z1.1 + c[2] * z2.1);
    poly(b).abs() / poly(a).abs()
}

/// The analytic magnitude in dB of the three cookbook biquads (Robert
/// Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter
/// coefficients"), with the bands of the NAM plugin's tone stack.
fn analytic_db(knobs: [f32; 3], frequency_hz: f64, rate_hz: f64) -> f64 {
    let omega = 2.0 * PI * frequency_hz / rate_hz;
    let mut total = 1.0;
    // (frequency, dB per knob step)
    let bands = [(150.0, 4.0), (425.0, 3.0), (1800.0, 2.0)];
    for (band, ((f0, step), knob)) in bands.into_iter().zip(knobs).enumerate() {
        let gain_db = step * (f64::from(knob) - 5.0);
        let q = match band {
            1 if gain_db < 0.0 => 1.5,
            1 => 0.7,
            _ => 0.707,
        };
        let a = 10f64.powf(gain_db / 40.0);
        let w0 = 2.0 * PI * f0 / rate_hz;
        let (cos, alpha) = (w0.cos(), w0.sin() / (2.0 * q));
        let root = 2.0 * a.sqrt() * alpha;
        let (b, den) = match band {
            0 => (
                [
                    a * ((a + 1.0) - (a - 1.0) * cos + root),
                    2.0 * a * ((a - 1.0) - (a + 1.0) * cos),
                    a * ((a + 1.0) - (a - 1.0) * cos - root),
                ],
                [
                    (a + 1.0) + (a - 1.0) * cos + root,
                    -2.0 * ((a - 1.0) + (a + 1.0) * cos),
                    (a + 1.0) + (a - 1.0) * cos - root,
                ],
            ),
            1 => (
                [1.0 + alpha * a, -2.0 * cos, 1.0 - alpha * a],
                [1.0 + alpha / a, -2.0 * cos, 1.0 - alpha / a],
            ),
            _ => (
                [
                    a * ((a + 1.0) + (a - 1.0) * cos + root),
                    -2.0 * a * ((a - 1.0) + (a + 1.0) * cos),
                    a * ((a + 1.0) + (a - 1.0) * cos - root),
                ],
                [
                    (a + 1.0) - (a - 1.0) * cos + root,
                    2.0 * ((a - 1.0) - (a + 1.0) * cos),
                    (a + 1.0) - (a - 1.0) * cos - root,
                ],
            ),
        };
        total *= biquad_magnitude(b, den, omega);
    }
    20.0 * total.log10()
}

#[test]
fn the_detector_fires() {
    let before = violation_count();
    let v = assert_no_alloc(|| std::hint::black_box(Box::new(3_u64)));
    assert!(violation_count() > before);
    drop(v);
}

#[test]
fn parameters_are_named_in_index_order() {
    let stack = ToneStack::new();
    let names: Vec<&str> = stack.params().iter().map(|p| p.name).collect();
    assert_eq!(names, ["bass", "middle", "treble"]);
    assert_eq!([param::BASS, param::MIDDLE, param::TREBLE], [0, 1, 2]);
    assert!(stack
        .params()
        .iter()
        .all(|p| (p.min, p.max, p.default) == (0.0, 10.0, 5.0)));
}

#[test]
fn flat_knobs_pass_the_input_unchanged() {
    for rate in RATES {
        let mut rng = XorShift(rate as u64);
        let input: Vec<f32> = (0..20_000).map(|_| rng.signal()).collect();
        let output = run(&mut tone_stack(rate, [5.0; 3]), &input, || 100);
        let error = output
            .iter()
            .zip(&input)
            .map(|(y, x)| (y - x).abs())
            .fold(0.0, f32::max);
        assert!(error <= 1e-6, "{rate} Hz: {error:e}");
    }
}

#[test]
fn measured_magnitudes_match_the_analytic_response() {
    let settings = [
        [0.0, 5.0, 10.0],
        [10.0, 0.0, 0.0],
        [2.0, 8.0, 3.0],
        [7.0, 4.0, 6.0],
        [10.0, 10.0, 10.0],
    ];
    let frequencies = [40.0, 150.0, 300.0, 425.0, 1000.0, 1800.0, 5000.0, 15_000.0];
    for rate in RATES {
        for knobs in settings {
            let mut stack = tone_stack(rate, knobs);
            for frequency in frequencies {
                stack.reset();
                let len = (0.3 * rate) as usize;
                let input = sine(frequency, rate, 0.01, len);
                let output = run(&mut stack, &input, || MAX_BLOCK);
                let settle = (0.1 * rate) as usize;
                let measured =
                    20.0 * (amplitude(&output[settle..], frequency, rate) / 0.01).log10();
                let expected = analytic_db(knobs, frequency, rate);
                assert!(
                    (measured - expected).abs() < 0.1,
                    "{rate} Hz, knobs {knobs:?}, {frequency} Hz: measured {measured:.3} dB, \
                     analytic {expected:.3} dB"
                );
            }
        }
    }
    // The table's extremes, as a sanity check of the reference itself.
    assert!((analytic_db([10.0, 5.0, 5.0], 20.0, 48_000.0) - 20.0).abs() < 0.2);
    assert!((analytic_db([5.0, 0.0, 5.0], 425.0, 48_000.0) + 15.0).abs() < 0.01);
    assert!((analytic_db([5.0, 5.0, 10.0], 20_000.0, 48_000.0) - 10.0).abs() < 0.2);
}

/// The largest second difference `y[n] − 2·y[n−1] + y[n−2]`: tiny for a
/// low tone, even one whose level glides, but large at a click (a jump in
/// value or slope).
fn largest_curvature(output: &[f32]) -> f32 {
    output
        .windows(3)
        .map(|w| (w[2] - 2.0 * w[1] + w[0]).abs())
        .fold(0.0, f32::max)
}

#[test]
fn knob_changes_glide_without_clicks() {
    // Each knob swept over its whole range, both ways, on a low tone: its
    // own curvature is tiny, so a click, which is broadband, would stand out.
    let frequency = 60.0;
    for rate in [44_100.0, 192_000.0] {
        for (knob, from, to) in [param::BASS, param::MIDDLE, param::TREBLE]
            .into_iter()
            .flat_map(|knob| [(knob, 0.0, 10.0), (knob, 10.0, 0.0)])
        {
            let mut knobs = [5.0; 3];
            knobs[knob] = from;
            let mut stack = tone_stack(rate, knobs);
            let input = sine(frequency, rate, 0.05, (0.4 * rate) as usize);
            let half = input.len() / 2;
            let mut output = run(&mut stack, &input[..half], || MAX_BLOCK);
            let before = violation_count();
            assert_no_alloc(|| stack.set_param(knob, to));
            assert_eq!(violation_count(), before, "set_param allocated");
            output.extend(run(&mut stack, &input[half..], || MAX_BLOCK));
            // The steady states before and after the change bound the
            // curvature in between: a glide, not a click.
            let settle = (0.05 * rate) as usize;
            let steady_before = largest_curvature(&output[settle..half]);
            let steady_after = largest_curvature(&output[half + settle..]);
            let during = largest_curvature(&output[half - 10..half + settle]);
            let bound = 1.5 * steady_before.max(steady_after);
            assert!(
                during <= bound,
                "{rate} Hz, knob {knob} {from} → {to}: curvature {during:e} > {bound:e}"
            );
        }
    }
}

#[test]
fn the_filters_are_stable_at_every_rate_and_setting() {
    let settings = [[0.0; 3], [10.0; 3], [0.0, 10.0, 0.0], [10.0, 0.0, 10.0]];
    for rate in [22_050.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0] {
        for knobs in settings {
            let mut impulse = vec![0.0; rate as usize];
            impulse[0] = 1.0;
            let output = run(&mut tone_stack(rate, knobs), &impulse, || MAX_BLOCK);
            assert!(output.iter().all(|y| y.is_finite()));
            let tail: f32 = output[output.len() * 9 / 10..].iter().map(|y| y * y).sum();
            assert!(tail < 1e-20, "{rate} Hz, {knobs:?}: tail energy {tail:e}");
        }
        // Knobs automated at random while noise plays.
        let mut rng = XorShift(rate as u64 + 1);
        let mut stack = tone_stack(rate, [5.0; 3]);
        for _ in 0..50 {
            let input: Vec<f32> = (0..2000).map(|_| rng.signal()).collect();
            for knob in 0..3 {
                stack.set_param(knob, 5.0 + 5.0 * rng.signal());
            }
            let output = run(&mut stack, &input, || rng.frames(MAX_BLOCK));
            assert!(output.iter().all(|y| y.is_finite() && y.abs() < 300.0));
        }
    }
}

#[test]
fn output_does_not_depend_on_call_sizes_and_reset_equals_a_fresh_stack() {
    let mut rng = XorShift(12);
    let input: Vec<f32> = (0..30_000).map(|_| rng.signal()).collect();
    let fresh = || {
        let mut stack = tone_stack(48_000.0, [3.0, 7.0, 9.0]);
        // A change still ramping while the calls vary.
        stack.set_param(param::BASS, 8.0);
        stack
    };
    let whole = run(&mut fresh(), &input, || MAX_BLOCK);
    let mut split = fresh();
    assert_eq!(run(&mut split, &input, || rng.frames(MAX_BLOCK)), whole);
    let before = violation_count();
    assert_no_alloc(|| split.reset());
    assert_eq!(violation_count(), before, "reset allocated");
    // After reset the knobs have snapped to their targets.
    let settled = run(&mut tone_stack(48_000.0, [8.0, 7.0, 9.0]), &input, || 64);
    assert_eq!(run(&mut split, &input, || 1), settled);
}
