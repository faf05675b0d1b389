//! Whole-chain cost: the bundled demo chain (`examples/demo/chain.toml`) and a
//! standard-size WaveNet with the demo cabinet IR, per sample and as a real-time
//! factor at 48 kHz, for host block sizes 64 and 256.

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput};
use nam_graph::Chain;

fn chains() -> Vec<(&'static str, Chain)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let demo = Chain::load(root.join("examples/demo/chain.toml")).expect("demo chain");
    let mut chains = vec![("demo", demo)];
    let standard = root.join("../shared/fixtures/wavenet_standard.nam");
    if standard.is_file() {
        let text = format!(
            "[[node]]\nkind = \"nam\"\nmodel = \"{}\"\n[[node]]\nkind = \"ir\"\nfile = \"{}\"\n",
            standard.display(),
            root.join("examples/demo/cab.wav").display()
        );
        let path = root.join("target/bench-standard-chain.toml");
        match Chain::parse(&text, &path) {
            Ok(chain) => chains.push(("standard+cab", chain)),
            Err(e) => eprintln!("skipping the standard chain: {e}"),
        }
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
    for (name, chain) in chains() {
        for block in [64, 256] {
            let mut graph = match chain.build(48_000.0, 1) {
                Ok(graph) => graph,
                Err(e) => panic!("{name}: {e}"),
            };
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
