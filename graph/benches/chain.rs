//! Whole-chain cost: the bundled demo chain (`examples/demo/chain.toml`) and a
//! standard-size WaveNet with the demo cabinet IR, per sample and as a real-time
//! factor at 48 kHz, for host block sizes 64 and 256.

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput};
use nam_graph::nodes::nam::OutputMode;
use nam_graph::{Chain, ChainSpec, Graph, NodeKind, NodeSpec, ReadFiles};

/// The chains timed, each as a function building its graph.
type Builder = Box<dyn Fn() -> Graph>;

fn chains() -> Vec<(&'static str, Builder)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let demo = Chain::load(root.join("examples/demo/chain.toml")).expect("demo chain");
    let mut chains: Vec<(&'static str, Builder)> = vec![(
        "demo",
        Box::new(move || demo.build(48_000.0, 1).expect("demo chain")),
    )];
    let standard = root.join("../shared/fixtures/wavenet_standard.nam");
    if standard.is_file() {
        let mut spec = ChainSpec::default();
        spec.nodes.push(NodeSpec::new(
            "amp",
            NodeKind::Nam {
                model: standard,
                output_mode: OutputMode::Raw,
            },
        ));
        spec.nodes.push(NodeSpec::new(
            "cab",
            NodeKind::Ir {
                file: root.join("examples/demo/cab.wav"),
                normalize: false,
            },
        ));
        chains.push((
            "standard+cab",
            Box::new(move || {
                spec.build(Path::new(""), 48_000.0, 1, &mut ReadFiles)
                    .expect("standard chain")
            }),
        ));
    }
    chains
}

fn bench(c: &mut Criterion) {
    let input: Vec<f32> = (0..48_000)
        .map(|i| 0.4 * (i as f32 * 0.0144).sin())
        .collect();
    let mut group = c.benchmark_group("chain");
    group.sample_size(10);
    group.warm_up_time(std::time::Duration::from_millis(500));
    group.measurement_time(std::time::Duration::from_secs(1));
    for (name, build) in chains() {
        for block in [64, 256] {
            let mut graph = build();
            let mut output = vec![0.0; block];
            let mut position = 0;
            group.throughput(Throughput::Elements(block as u64));
            group.bench_with_input(BenchmarkId::new(name, block), &block, |b, &block| {
                b.iter(|| {
                    if position + block > input.len() {
                        position = 0;
                    }
                    graph.process(&[&input[position..position + block]], &mut [&mut output]);
                    position += block;
                    black_box(&output);
                })
            });
        }
    }
    group.finish();
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
