//! Real-time contract of whole chains: the bundled demo chain (and every node
//! kind it uses) processes without allocating, in mono and stereo, at any call
//! size, and its output does not depend on the call sizes.

use std::path::{Path, PathBuf};

use assert_no_alloc::{assert_no_alloc, violation_count, AllocDisabler};
use nam_graph::Chain;

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

/// Graph rates the demo chain is checked at.
const RATES: &[f64] = &[44_100.0, 48_000.0, 96_000.0];

fn demo_chain() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo/chain.toml");
    assert!(path.is_file(), "demo chain missing at {}", path.display());
    path
}

fn signal(n: usize, phase: f32) -> Vec<f32> {
    (0..n)
        .map(|i| 0.4 * (i as f32 * 0.031 + phase).sin() + 0.1 * (i as f32 * 0.47).sin())
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
fn the_demo_chain_processes_without_allocating() {
    let chain = Chain::load(demo_chain()).unwrap();
    for channels in [1, 2] {
        for &rate in RATES {
            let mut graph = chain.build(rate, channels).unwrap();
            let inputs: Vec<Vec<f32>> = (0..channels).map(|c| signal(8192, c as f32)).collect();
            let mut outputs = vec![vec![0.0; 8192]; channels];
            let before = violation_count();
            assert_no_alloc(|| {
                let mut start = 0;
                for n in [1, 17, 64, 4096, 1000] {
                    let ins: [&[f32]; 2] = [
                        &inputs[0][start..start + n],
                        &inputs[channels - 1][start..start + n],
                    ];
                    let (left, right) = outputs.split_at_mut(1);
                    let mut outs: [&mut [f32]; 2] = [
                        &mut left[0][start..start + n],
                        if channels == 2 {
                            &mut right[0][start..start + n]
                        } else {
                            &mut []
                        },
                    ];
                    graph.process(&ins[..channels], &mut outs[..channels]);
                    start += n;
                }
                graph.reset();
            });
            assert_eq!(
                violation_count(),
                before,
                "{channels} channel(s) at {rate} Hz allocated"
            );
            assert!(outputs.iter().flatten().all(|x| x.is_finite()));
        }
    }
}

#[test]
fn the_demo_chain_output_does_not_depend_on_call_sizes() {
    let chain = Chain::load(demo_chain()).unwrap();
    let input = signal(20_000, 0.0);
    let run = |sizes: &[usize]| {
        let mut graph = chain.build(48_000.0, 1).unwrap();
        let mut out = vec![0.0; input.len()];
        let mut start = 0;
        for &n in sizes.iter().cycle() {
            if start >= input.len() {
                break;
            }
            let n = n.min(input.len() - start);
            graph.process(
                &[&input[start..start + n]],
                &mut [&mut out[start..start + n]],
            );
            start += n;
        }
        out
    };
    let whole = run(&[20_000]);
    for sizes in [&[1][..], &[17], &[64], &[4096], &[3, 500, 0, 77, 1024]] {
        let out = run(sizes);
        let diff = out
            .iter()
            .zip(&whole)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(diff <= 1e-5, "call sizes {sizes:?}: max |diff| {diff}");
    }
}
