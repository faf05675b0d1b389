//! The gain node: exact at 0 dB, `10^(dB/20)` when steady, linear ramps that
//! land on the target, the minimum mutes, and nothing allocates (every
//! `process` call here runs under `assert_no_alloc`).

use assert_no_alloc::{assert_no_alloc, violation_count, AllocDisabler};
use nam_graph::nodes::gain::{param, Gain, MUTE_DB};
use nam_graph::param::RAMP_MS;
use nam_graph::{Node, ProcessSpec};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const RATE_HZ: f64 = 48_000.0;
const MAX_BLOCK: usize = 256;

fn gain(gain_db: f32) -> Gain {
    let mut node = Gain::new(gain_db);
    node.prepare(&ProcessSpec {
        sample_rate_hz: RATE_HZ,
        max_block_frames: MAX_BLOCK,
    })
    .unwrap();
    node
}

/// Runs `input` through `node` in calls of `call` frames, each under the
/// allocation guard.
fn run(node: &mut Gain, input: &[f32], call: usize) -> Vec<f32> {
    let before = violation_count();
    let mut output = vec![0.0; input.len()];
    for (x, y) in input.chunks(call).zip(output.chunks_mut(call)) {
        assert_no_alloc(|| node.process(x.len(), &[x], &mut [y]));
    }
    assert_eq!(violation_count(), before, "process allocated");
    output
}

fn noise(len: usize) -> Vec<f32> {
    let mut state = 0x1234_5678_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn ramp_frames() -> usize {
    (RATE_HZ * RAMP_MS / 1000.0).round() as usize
}

#[test]
fn the_detector_fires() {
    let before = violation_count();
    let v = assert_no_alloc(|| std::hint::black_box(Box::new(3_u64)));
    assert!(violation_count() > before);
    drop(v);
}

#[test]
fn steady_gains_scale_by_ten_to_the_db_over_twenty() {
    let input = noise(5000);
    assert_eq!(run(&mut gain(0.0), &input, 100), input);
    for db in [-60.0_f32, -6.0, 3.0, 24.0, 40.0] {
        let factor = 10f64.powf(f64::from(db) / 20.0);
        let output = run(&mut gain(db), &input, 100);
        for (&y, &x) in output.iter().zip(&input) {
            let expected = f64::from(x) * factor;
            assert!((f64::from(y) - expected).abs() <= 1e-6 * factor, "{db} dB");
        }
    }
    assert!(run(&mut gain(MUTE_DB), &input, 100)
        .iter()
        .all(|&y| y == 0.0));
}

#[test]
fn changes_ramp_linearly_and_land_on_the_target() {
    let mut node = gain(0.0);
    let ones = vec![1.0; 3 * ramp_frames()];
    run(&mut node, &ones[..100], 100);
    let before = violation_count();
    assert_no_alloc(|| node.set_param(param::GAIN_DB, -20.0));
    assert_eq!(violation_count(), before, "set_param allocated");
    // With a constant 1 in, the output is the gain itself.
    let output = run(&mut node, &ones, 64);
    let step = (1.0 - 0.1) / ramp_frames() as f32;
    for (n, &g) in output.iter().enumerate().take(ramp_frames()) {
        let linear = 1.0 - (n + 1) as f32 * step;
        assert!((g - linear).abs() < 1e-4, "frame {n}: {g} against {linear}");
    }
    for (n, w) in output.windows(2).enumerate() {
        assert!(w[0] - w[1] <= 1.1 * step, "frame {n}: a jump");
    }
    assert!(output[ramp_frames() - 1..]
        .iter()
        .all(|&g| g == 10f32.powf(-1.0)));

    // To the minimum: muted exactly once the ramp ends.
    node.set_param(param::GAIN_DB, -1000.0);
    let output = run(&mut node, &ones, 7);
    assert!(output[..ramp_frames() - 1].iter().all(|&g| g > 0.0));
    assert!(output[ramp_frames() - 1..].iter().all(|&g| g == 0.0));
}

#[test]
fn parameters_clamp_and_reset_snaps_to_the_target() {
    let node = Gain::default();
    let names: Vec<&str> = node.params().iter().map(|p| p.name).collect();
    assert_eq!(names, ["gain_db"]);
    assert_eq!(param::GAIN_DB, 0);
    let mut node = gain(0.0);
    node.set_param(param::GAIN_DB, 100.0);
    node.set_param(7, 3.0);
    node.reset();
    let output = run(&mut node, &[1.0; 4], 4);
    assert_eq!(output, [100.0; 4], "+100 dB is clamped to +40 dB");
    assert_eq!(node.latency_frames(), 0);
}

#[test]
fn output_does_not_depend_on_call_sizes() {
    let input = noise(10_000);
    let run_with = |call| {
        let mut node = gain(-3.0);
        node.set_param(param::GAIN_DB, 6.0);
        run(&mut node, &input, call)
    };
    let whole = run_with(MAX_BLOCK);
    for call in [1, 17, 64] {
        assert_eq!(run_with(call), whole, "calls of {call}");
    }
}
