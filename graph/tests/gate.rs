//! The noise gate, against an independent f64 model of its detector: quiet
//! input ends muted, loud input passes unchanged, the hold and release last
//! as long as set, hysteresis stops chatter, the gain never jumps, output does
//! not depend on call sizes, and nothing allocates (every `process` call here
//! runs under `assert_no_alloc`).

mod common;

use common::XorShift;

use std::f64::consts::PI;

use assert_no_alloc::{assert_no_alloc, violation_count, AllocDisabler};
use nam_graph::nodes::gate::{param, Gate, DETECTOR_MS};
use nam_graph::{Node, ProcessSpec};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const RATE_HZ: f64 = 48_000.0;
const MAX_BLOCK: usize = 512;

fn gate(settings: &[(usize, f32)]) -> Gate {
    let mut gate = Gate::new();
    for &(index, value) in settings {
        gate.set_param(index, value);
    }
    gate.prepare(&ProcessSpec {
        sample_rate_hz: RATE_HZ,
        max_block_frames: MAX_BLOCK,
    })
    .unwrap();
    gate
}

fn frames(ms: f64) -> usize {
    (ms * RATE_HZ / 1000.0).round() as usize
}

/// Runs `input` through `gate` in calls of the sizes `calls` gives, each under
/// the allocation guard.
fn run(gate: &mut Gate, input: &[f32], mut calls: impl FnMut() -> usize) -> Vec<f32> {
    let before = violation_count();
    let mut output = vec![0.0; input.len()];
    let mut done = 0;
    while done < input.len() {
        let n = calls().min(input.len() - done);
        let inputs = [&input[done..done + n]];
        let mut outputs = [&mut output[done..done + n]];
        assert_no_alloc(|| gate.process(n, &inputs, &mut outputs));
        done += n;
    }
    assert_eq!(violation_count(), before, "process allocated");
    output
}

/// Runs `input` one frame at a time and returns the gain after each frame.
fn gains(gate: &mut Gate, input: &[f32]) -> Vec<f32> {
    let before = violation_count();
    let mut out = [0.0];
    let gains = input
        .iter()
        .map(|&x| {
            assert_no_alloc(|| gate.process(1, &[&[x]], &mut [&mut out]));
            gate.gain()
        })
        .collect();
    assert_eq!(violation_count(), before, "process allocated");
    gains
}

/// A sine at `frequency_hz` whose peak amplitude follows `amplitude(n)`.
fn tone(len: usize, frequency_hz: f64, amplitude: impl Fn(usize) -> f64) -> Vec<f32> {
    (0..len)
        .map(|n| (amplitude(n) * (2.0 * PI * frequency_hz * n as f64 / RATE_HZ).sin()) as f32)
        .collect()
}

/// The peak amplitude of a sine whose RMS level is `db` dBFS.
fn sine_amplitude(db: f64) -> f64 {
    10f64.powf(db / 20.0) * 2f64.sqrt()
}

/// The detector's envelope, computed independently in f64: the mean square
/// through a one-pole smoother with a [`DETECTOR_MS`] time constant, in dB.
fn envelope_db(input: &[f32]) -> Vec<f64> {
    let a = 1.0 - (-1000.0 / (DETECTOR_MS * RATE_HZ)).exp();
    let mut mean_square = 0.0;
    input
        .iter()
        .map(|&x| {
            mean_square += a * (f64::from(x).powi(2) - mean_square);
            10.0 * mean_square.max(1e-30).log10()
        })
        .collect()
}

#[test]
fn the_detector_fires() {
    let before = violation_count();
    let v = assert_no_alloc(|| std::hint::black_box(Box::new(3_u64)));
    assert!(violation_count() > before);
    drop(v);
}

#[test]
fn parameters_are_named_in_index_order_and_clamped() {
    let gate = Gate::new();
    let names: Vec<&str> = gate.params().iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "threshold_db",
            "attack_ms",
            "hold_ms",
            "release_ms",
            "hysteresis_db"
        ]
    );
    assert_eq!(
        [
            param::THRESHOLD_DB,
            param::ATTACK_MS,
            param::HOLD_MS,
            param::RELEASE_MS,
            param::HYSTERESIS_DB
        ],
        [0, 1, 2, 3, 4]
    );
    // A threshold set above 0 dB is clamped to 0 dB: a tone at +1 dB RMS
    // opens it.
    let mut gate = gate_with_threshold(20.0);
    let input = tone(frames(100.0), 1000.0, |_| sine_amplitude(1.0));
    assert_eq!(*gains(&mut gate, &input).last().unwrap(), 1.0);
}

fn gate_with_threshold(threshold_db: f32) -> Gate {
    gate(&[(param::THRESHOLD_DB, threshold_db)])
}

#[test]
fn quiet_noise_is_muted() {
    let mut rng = XorShift(1);
    // Uniform noise of peak 1e-4: RMS about −85 dB, below the −60 dB threshold.
    let noise: Vec<f32> = (0..frames(500.0)).map(|_| 1e-4 * rng.signal()).collect();
    let mut gate = gate_with_threshold(-60.0);
    let output = run(&mut gate, &noise, || 64);
    assert!(output.iter().all(|&y| y == 0.0), "a fresh gate opened");

    // After a loud note, the same noise ends at exactly 0 once the envelope
    // has fallen, the hold has passed and the release has run.
    let mut input = tone(frames(200.0), 440.0, |_| 0.5);
    input.extend_from_slice(&noise);
    let output = run(&mut gate, &input, || 64);
    let envelope = envelope_db(&input);
    let closing = (frames(200.0)..input.len())
        .find(|&n| envelope[n] < -66.0)
        .unwrap();
    let silent_from = closing + frames(50.0) + frames(50.0) + 2;
    assert!(silent_from < input.len());
    assert!(output[silent_from..].iter().all(|&y| y == 0.0));
    assert_eq!(&output[frames(5.0)..closing], &input[frames(5.0)..closing]);
}

#[test]
fn a_signal_above_the_threshold_passes_unchanged_after_the_attack() {
    for level_db in [-50.0, -20.0, -1.0] {
        let mut gate = gate(&[(param::THRESHOLD_DB, -60.0), (param::ATTACK_MS, 2.0)]);
        let input = tone(frames(300.0), 220.0, |_| sine_amplitude(level_db));
        let output = run(&mut gate, &input, || 100);
        // The envelope reaches −60 dB within a few frames, then 2 ms of attack.
        let open = envelope_db(&input)
            .iter()
            .position(|&e| e >= -60.0)
            .unwrap();
        let settled = open + frames(2.0) + 2;
        assert!(settled < frames(5.0), "{level_db} dB: opened at {open}");
        assert_eq!(&output[settled..], &input[settled..], "{level_db} dB");
        // During the attack the gain rises linearly.
        let g = gains(&mut gate_with_attack(2.0), &input);
        assert_eq!(g[settled], 1.0);
        assert!(g[..open].iter().all(|&g| g == 0.0));
    }
}

fn gate_with_attack(attack_ms: f32) -> Gate {
    gate(&[(param::THRESHOLD_DB, -60.0), (param::ATTACK_MS, attack_ms)])
}

#[test]
fn the_hold_keeps_the_gate_open_then_the_release_closes_it() {
    for (hold_ms, release_ms) in [(0.0, 10.0), (50.0, 50.0), (200.0, 5.0)] {
        let mut gate = gate(&[
            (param::THRESHOLD_DB, -40.0),
            (param::HYSTERESIS_DB, 6.0),
            (param::HOLD_MS, hold_ms),
            (param::RELEASE_MS, release_ms),
        ]);
        // A note at −20 dB, then a tail at −90 dB (so the gain stays visible).
        let loud = frames(150.0);
        let input = tone(frames(800.0), 330.0, |n| {
            sine_amplitude(if n < loud { -20.0 } else { -90.0 })
        });
        let g = gains(&mut gate, &input);
        let envelope = envelope_db(&input);
        let below = (loud..input.len()).find(|&n| envelope[n] < -46.0).unwrap();
        let hold = frames(f64::from(hold_ms));
        let release = frames(f64::from(release_ms));
        // Fully open until the hold has passed (±1 frame for the f32
        // detector against this f64 one).
        assert!(
            g[..below + hold - 1]
                .iter()
                .skip(frames(10.0))
                .all(|&g| g == 1.0),
            "hold {hold_ms} ms"
        );
        assert!(g[below + hold + 1] < 1.0, "hold {hold_ms} ms");
        // Then closed after the release, linearly.
        assert!(
            g[below + hold + release + 2] == 0.0,
            "release {release_ms} ms"
        );
        assert!(
            g[below + hold + release - 3] > 0.0,
            "release {release_ms} ms"
        );
        assert!(g[below + hold + 1..].iter().all(|&g| g < 1.0));
    }
}

/// A 1 kHz tone whose RMS level wobbles ±2 dB around −40 dB at 5 Hz.
fn hovering(len: usize) -> Vec<f32> {
    tone(len, 1000.0, |n| {
        let wobble_db = 2.0 * (2.0 * PI * 5.0 * n as f64 / RATE_HZ).sin();
        sine_amplitude(-40.0 + wobble_db)
    })
}

/// How many times the gain starts falling from fully open.
fn closings(gains: &[f32]) -> usize {
    gains
        .windows(2)
        .filter(|w| w[0] == 1.0 && w[1] < 1.0)
        .count()
}

#[test]
fn hysteresis_stops_a_level_hovering_at_the_threshold_from_chattering() {
    let input = hovering(frames(2000.0));
    let settings = |hysteresis_db| {
        [
            (param::THRESHOLD_DB, -40.0),
            (param::HOLD_MS, 10.0),
            (param::RELEASE_MS, 20.0),
            (param::HYSTERESIS_DB, hysteresis_db),
        ]
    };
    let without = closings(&gains(&mut gate(&settings(0.0)), &input));
    assert!(
        without >= 8,
        "without hysteresis it should chatter: {without}"
    );
    let g = gains(&mut gate(&settings(6.0)), &input);
    assert_eq!(closings(&g), 0, "with 6 dB of hysteresis");
    let first_open = g.iter().position(|&g| g == 1.0).unwrap();
    assert!(g[first_open..].iter().all(|&g| g == 1.0));
}

#[test]
fn the_gain_never_moves_more_than_a_ramp_step() {
    let mut rng = XorShift(3);
    // Bursts of noise at random levels and lengths, some above the threshold.
    let mut input = Vec::new();
    while input.len() < frames(3000.0) {
        let level = [1e-5, 1e-3, 0.02, 0.5][(rng.next() % 4) as usize];
        let len = rng.frames(frames(150.0));
        input.extend((0..len).map(|_| level * rng.signal()));
    }
    let (attack_ms, release_ms) = (3.0_f32, 30.0_f32);
    let mut gate = gate(&[
        (param::THRESHOLD_DB, -50.0),
        (param::ATTACK_MS, attack_ms),
        (param::HOLD_MS, 20.0),
        (param::RELEASE_MS, release_ms),
    ]);
    let g = gains(&mut gate, &input);
    let up = 1.0 / frames(f64::from(attack_ms)) as f32 + 1e-6;
    let down = 1.0 / frames(f64::from(release_ms)) as f32 + 1e-6;
    for (n, w) in g.windows(2).enumerate() {
        let step = w[1] - w[0];
        assert!(
            step <= up && -step <= down,
            "frame {n}: {} → {}",
            w[0],
            w[1]
        );
    }
    assert!(
        closings(&g) >= 3,
        "the bursts should open and close the gate"
    );
    assert!(g.contains(&0.0));
}

#[test]
fn output_does_not_depend_on_call_sizes_and_reset_equals_a_fresh_gate() {
    let mut input = hovering(frames(1000.0));
    let mut rng = XorShift(4);
    input.extend((0..frames(500.0)).map(|_| 1e-5 * rng.signal()));
    let settings = [(param::THRESHOLD_DB, -40.0), (param::HYSTERESIS_DB, 1.0)];
    let whole = run(&mut gate(&settings), &input, || MAX_BLOCK);
    let mut pieces = gate(&settings);
    let split = run(&mut pieces, &input, || rng.frames(MAX_BLOCK));
    assert_eq!(split, whole);
    let before = violation_count();
    assert_no_alloc(|| pieces.reset());
    assert_eq!(violation_count(), before, "reset allocated");
    assert_eq!(run(&mut pieces, &input, || 17), whole);
}
