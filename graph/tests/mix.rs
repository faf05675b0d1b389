//! The mixer: the mix equals `Σ gainᵢ · inᵢ` computed here in f64, gain
//! changes ramp without jumps, the minimum mutes exactly, it works inside a
//! graph fed by a fan-out, and nothing allocates
//! (every `process` call here runs under `assert_no_alloc`).

use assert_no_alloc::{assert_no_alloc, violation_count, AllocDisabler};
use nam_graph::graph::MAX_PORTS;
use nam_graph::nodes::mix::Mixer;
use nam_graph::param::RAMP_MS;
use nam_graph::{GraphBuilder, Node, ProcessSpec, Sink, Source};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const SPEC: ProcessSpec = ProcessSpec {
    sample_rate_hz: 48_000.0,
    max_block_frames: 256,
};

fn noise(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Runs `inputs` through `node` in calls of `call` frames, each under the
/// allocation guard; returns `outputs` channels.
fn run(node: &mut dyn Node, inputs: &[Vec<f32>], outputs: usize, call: usize) -> Vec<Vec<f32>> {
    let len = inputs[0].len();
    let mut out = vec![vec![0.0; len]; outputs];
    let before = violation_count();
    let mut start = 0;
    while start < len {
        let n = call.min(len - start);
        let ins: Vec<&[f32]> = inputs.iter().map(|x| &x[start..start + n]).collect();
        let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|y| &mut y[start..start + n]).collect();
        assert_no_alloc(|| node.process(n, &ins, &mut outs));
        start += n;
    }
    assert_eq!(violation_count(), before, "process allocated");
    out
}

fn mixer(inputs: usize, gains_db: &[f32]) -> Mixer {
    let mut mixer = Mixer::new(inputs).unwrap();
    for (index, &db) in gains_db.iter().enumerate() {
        mixer.set_param(index, db);
    }
    mixer.prepare(&SPEC).unwrap();
    mixer
}

#[test]
fn the_detector_fires() {
    let before = violation_count();
    let v = assert_no_alloc(|| std::hint::black_box(Box::new(3_u64)));
    assert!(violation_count() > before);
    drop(v);
}

#[test]
fn the_mix_is_the_gain_weighted_sum() {
    let gains_db = [0.0_f32, -6.0, 3.0, -80.0, 20.0];
    let inputs: Vec<Vec<f32>> = (0..5).map(|i| noise(3000, 11 + i)).collect();
    let output = run(&mut mixer(5, &gains_db), &inputs, 1, 100);
    for n in 0..3000 {
        let expected: f64 = inputs
            .iter()
            .zip(gains_db)
            .filter(|&(_, db)| db > -80.0)
            .map(|(x, db)| f64::from(x[n]) * 10f64.powf(f64::from(db) / 20.0))
            .sum();
        assert!(
            (f64::from(output[0][n]) - expected).abs() < 1e-5,
            "frame {n}"
        );
    }
    // One input at 0 dB is the identity.
    let single = run(&mut mixer(1, &[]), &inputs[..1], 1, 64);
    assert_eq!(single[0], inputs[0]);
}

#[test]
fn gain_changes_ramp_without_jumps_and_mute_exactly() {
    let ramp = (SPEC.sample_rate_hz * RAMP_MS / 1000.0).round() as usize;
    let mut node = mixer(2, &[]);
    let ones = vec![vec![1.0; 2 * ramp]; 2];
    let before = violation_count();
    assert_no_alloc(|| node.set_param(1, -80.0));
    assert_eq!(violation_count(), before, "set_param allocated");
    let output = &run(&mut node, &ones, 1, 33)[0];
    // Input 0 stays at 1; input 1 ramps from 1 to exactly 0.
    let step = 1.0 / ramp as f32;
    assert!(output
        .windows(2)
        .all(|w| (w[0] - w[1]) <= 1.01 * step && w[1] <= w[0]));
    assert!(output[ramp - 1..].iter().all(|&y| y == 1.0));
    assert!(output[..ramp - 1].iter().all(|&y| y > 1.0));
}

#[test]
fn parameters_name_their_input_and_stay_in_range() {
    let node = Mixer::new(3).unwrap();
    let names: Vec<&str> = node.params().iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        ["input_0_gain_db", "input_1_gain_db", "input_2_gain_db"]
    );
    let full = Mixer::new(MAX_PORTS).unwrap();
    assert_eq!(full.params().len(), MAX_PORTS);
    assert_eq!(full.params()[15].name, "input_15_gain_db");
    // Beyond the inputs: ignored; beyond the range: clamped to +20 dB.
    let mut node = mixer(1, &[]);
    node.set_param(1, 0.0);
    node.set_param(0, 99.0);
    node.reset();
    let output = run(&mut node, &[vec![1.0; 4]], 1, 4);
    assert_eq!(output[0], [10.0; 4]);
    assert!(Mixer::new(0).is_err());
    assert!(Mixer::new(MAX_PORTS + 1).is_err());
}

#[test]
fn a_fan_out_and_a_mix_rebuild_the_input_in_a_graph() {
    // in → (3 branches) → mixer at −9.54 dB each (1/3) → out.
    let mut b = GraphBuilder::new(1, 1);
    let mut mix = Mixer::new(3).unwrap();
    for index in 0..3 {
        mix.set_param(index, (20.0 * (1.0_f64 / 3.0).log10()) as f32);
    }
    let mix = b.add("mix", Box::new(mix)).unwrap();
    for port in 0..3 {
        b.connect(Source::Input(0), Sink::Node(mix, port));
    }
    b.connect(Source::Node(mix, 0), Sink::Output(0));
    let mut graph = b.build(SPEC).unwrap();
    let input = noise(2000, 9);
    let mut output = vec![0.0; 2000];
    let before = violation_count();
    assert_no_alloc(|| graph.process(&[&input], &mut [&mut output]));
    assert_eq!(violation_count(), before, "the graph allocated");
    assert!(output.iter().zip(&input).all(|(y, x)| (y - x).abs() < 1e-6));
}
