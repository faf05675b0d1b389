//! The DC blocker, against the closed-form magnitude of the bilinear-transform
//! first-order high-pass: a constant decays to exactly 0, 1 kHz passes within
//! 0.01 dB, the measured response matches the analytic one, output does not
//! depend on call sizes, and nothing allocates (every `process` call here runs
//! under `assert_no_alloc`).

use std::f64::consts::PI;

use assert_no_alloc::{assert_no_alloc, violation_count, AllocDisabler};
use nam_graph::nodes::dc_blocker::{DcBlocker, CORNER_HZ};
use nam_graph::{Node, ProcessSpec};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const MAX_BLOCK: usize = 512;
const RATES: [f64; 5] = [22_050.0, 44_100.0, 48_000.0, 96_000.0, 192_000.0];

fn blocker(rate_hz: f64) -> DcBlocker {
    let mut node = DcBlocker::new();
    node.prepare(&ProcessSpec {
        sample_rate_hz: rate_hz,
        max_block_frames: MAX_BLOCK,
    })
    .unwrap();
    node
}

/// Runs `input` through `node` in calls of `call` frames, each under the
/// allocation guard.
fn run(node: &mut DcBlocker, input: &[f32], call: usize) -> Vec<f32> {
    let before = violation_count();
    let mut output = vec![0.0; input.len()];
    for (x, y) in input.chunks(call).zip(output.chunks_mut(call)) {
        assert_no_alloc(|| node.process(x.len(), &[x], &mut [y]));
    }
    assert_eq!(violation_count(), before, "process allocated");
    output
}

fn sine(frequency_hz: f64, rate_hz: f64, len: usize) -> Vec<f32> {
    (0..len)
        .map(|n| (0.5 * (2.0 * PI * frequency_hz * n as f64 / rate_hz).sin()) as f32)
        .collect()
}

/// Gain in dB of the tone at `frequency_hz` from `input` to `output`
/// (Blackman-Harris windowed DFT at that frequency, over the same frames).
fn gain_db(input: &[f32], output: &[f32], frequency_hz: f64, rate_hz: f64) -> f64 {
    let amplitude = |signal: &[f32]| {
        let len = signal.len();
        let (mut re, mut im) = (0.0, 0.0);
        for (n, &x) in signal.iter().enumerate() {
            let t = 2.0 * PI * n as f64 / len as f64;
            let w =
                0.35875 - 0.48829 * t.cos() + 0.14128 * (2.0 * t).cos() - 0.01168 * (3.0 * t).cos();
            let phase = 2.0 * PI * frequency_hz * n as f64 / rate_hz;
            re += w * f64::from(x) * phase.cos();
            im -= w * f64::from(x) * phase.sin();
        }
        re.hypot(im)
    };
    20.0 * (amplitude(output) / amplitude(input)).log10()
}

/// The bilinear-transform first-order high-pass with its corner prewarped to
/// `corner_hz`: `|H|² = t² / (t² + k²)`, `t = tan(πf/fs)`, `k = tan(πfc/fs)`.
fn analytic_db(frequency_hz: f64, corner_hz: f64, rate_hz: f64) -> f64 {
    let t = (PI * frequency_hz / rate_hz).tan();
    let k = (PI * corner_hz / rate_hz).tan();
    10.0 * (t * t / (t * t + k * k)).log10()
}

#[test]
fn the_detector_fires() {
    let before = violation_count();
    let v = assert_no_alloc(|| std::hint::black_box(Box::new(3_u64)));
    assert!(violation_count() > before);
    drop(v);
}

#[test]
fn a_constant_decays_to_exactly_zero() {
    for rate in RATES {
        let input = vec![0.5; 3 * rate as usize];
        let output = run(&mut blocker(rate), &input, 100);
        assert!((output[0] - 0.5).abs() < 1e-3, "{rate} Hz: the step passes");
        let second = rate as usize;
        assert!(
            output[second..].iter().all(|y| y.abs() < 1e-12),
            "{rate} Hz: not decayed after 1 s"
        );
        // No subnormal tail: the decay is flushed to exactly 0.
        assert_eq!(*output.last().unwrap(), 0.0, "{rate} Hz");
    }
}

#[test]
fn the_response_matches_the_analytic_high_pass() {
    assert!((analytic_db(CORNER_HZ, CORNER_HZ, 48_000.0) + 3.0103).abs() < 1e-3);
    for rate in RATES {
        for frequency in [5.0, 10.0, 20.0, 41.0, 82.0, 1000.0, 5000.0] {
            let len = (2.0 * rate) as usize;
            let input = sine(frequency, rate, len);
            let output = run(&mut blocker(rate), &input, MAX_BLOCK);
            let settle = len / 4;
            let measured = gain_db(&input[settle..], &output[settle..], frequency, rate);
            let expected = analytic_db(frequency, CORNER_HZ, rate);
            assert!(
                (measured - expected).abs() < 0.01,
                "{rate} Hz, {frequency} Hz: measured {measured:.4} dB, analytic {expected:.4} dB"
            );
            if frequency == 1000.0 {
                assert!(measured.abs() < 0.01, "{rate} Hz: 1 kHz at {measured} dB");
            }
        }
    }
}

#[test]
fn output_does_not_depend_on_call_sizes_and_reset_equals_a_fresh_blocker() {
    let input: Vec<f32> = (0..20_000)
        .map(|n| 0.3 + 0.5 * (n as f32 * 0.01).sin())
        .collect();
    let whole = run(&mut blocker(48_000.0), &input, MAX_BLOCK);
    let mut node = blocker(48_000.0);
    for call in [1, 17, 64] {
        assert_eq!(run(&mut node, &input, call), whole, "calls of {call}");
        let before = violation_count();
        assert_no_alloc(|| node.reset());
        assert_eq!(violation_count(), before, "reset allocated");
    }
}

#[test]
fn faults_do_not_poison_the_state() {
    let mut node = blocker(48_000.0);
    let mut input = vec![0.25; 1000];
    input[10] = f32::NAN;
    input[20] = f32::INFINITY;
    let output = run(&mut node, &input, 64);
    assert!(output.iter().all(|y| y.is_finite()));
    assert!(DcBlocker::new()
        .prepare(&ProcessSpec {
            sample_rate_hz: f64::NAN,
            max_block_frames: 64,
        })
        .is_err());
    assert!(node.params().is_empty());
    assert_eq!(node.latency_frames(), 0);
}
