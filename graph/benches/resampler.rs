//! Cost per sample of sample-rate conversion.
//!
//! - `resampler/<from>-<to>`, parameter = block size: one [`Resampler`]
//!   converting a continuous stream, for 44.1 → 48 kHz, 48 → 44.1 kHz and
//!   96 → 48 kHz; throughput in input samples.
//! - `resampled_node/<graph>-<inner>`, same blocks: a [`ResampledNode`] round
//!   trip (both conversions, an identity inner node) at graph rates of
//!   44.1 kHz and 96 kHz around a 48 kHz inner node; throughput in graph
//!   samples.
//!
//! Each runs one continuous stream of noise, block after block (nothing is
//! reset between iterations).
//!
//! ```text
//! cargo bench -p nam-graph --bench resampler             # everything (about 10 s)
//! cargo bench -p nam-graph --bench resampler -- node     # the round trips only
//! cargo bench -p nam-graph --bench resampler -- --test   # smoke run
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use nam_graph::nodes::resampler::{ResampledNode, Resampler};
use nam_graph::{Node, NodeError, ProcessSpec};

const BLOCKS: [usize; 2] = [64, 512];
/// Length of the looped input (a multiple of every block size).
const SIGNAL_LEN: usize = 1 << 15;

/// Deterministic noise in [-1, 1) (xorshift64).
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

/// Hands out consecutive blocks of a looped signal.
struct Stream<'a> {
    signal: &'a [f32],
    position: usize,
}

impl<'a> Stream<'a> {
    fn next_block(&mut self, frames: usize) -> &'a [f32] {
        if self.position + frames > self.signal.len() {
            self.position = 0;
        }
        let block = &self.signal[self.position..self.position + frames];
        self.position += frames;
        block
    }
}

/// Passes its input through: the round trip's cost is the conversions'.
struct Identity;

impl Node for Identity {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> usize {
        1
    }

    fn prepare(&mut self, _: &ProcessSpec) -> Result<(), NodeError> {
        Ok(())
    }

    fn reset(&mut self) {}

    fn process(&mut self, frames: usize, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        outputs[0][..frames].copy_from_slice(&inputs[0][..frames]);
    }
}

fn khz(rate_hz: f64) -> String {
    format!("{}", rate_hz / 1000.0)
}

fn bench_resampler(c: &mut Criterion, signal: &[f32]) {
    for (from, to) in [
        (44_100.0, 48_000.0),
        (48_000.0, 44_100.0),
        (96_000.0, 48_000.0),
    ] {
        let mut group = c.benchmark_group(format!("resampler/{}-{}", khz(from), khz(to)));
        for block in BLOCKS {
            group.throughput(Throughput::Elements(block as u64));
            let mut resampler = Resampler::new(from, to).expect("valid rates");
            let mut output = vec![0.0; resampler.max_output_frames(block)];
            let mut stream = Stream {
                signal,
                position: 0,
            };
            group.bench_function(BenchmarkId::from_parameter(block), |b| {
                b.iter(|| {
                    let input = black_box(stream.next_block(block));
                    black_box(resampler.process(input, &mut output));
                });
            });
        }
        group.finish();
    }
}

fn bench_node(c: &mut Criterion, signal: &[f32]) {
    for (graph, inner) in [(44_100.0, 48_000.0), (96_000.0, 48_000.0)] {
        let mut group = c.benchmark_group(format!("resampled_node/{}-{}", khz(graph), khz(inner)));
        for block in BLOCKS {
            group.throughput(Throughput::Elements(block as u64));
            let mut node = ResampledNode::new(Box::new(Identity), inner).expect("mono node");
            node.prepare(&ProcessSpec {
                sample_rate_hz: graph,
                max_block_frames: block,
            })
            .expect("prepare");
            let mut output = vec![0.0; block];
            let mut stream = Stream {
                signal,
                position: 0,
            };
            group.bench_function(BenchmarkId::from_parameter(block), |b| {
                b.iter(|| {
                    let input = black_box(stream.next_block(block));
                    node.process(block, &[input], &mut [&mut output]);
                    black_box(&mut output);
                });
            });
        }
        group.finish();
    }
}

fn main() {
    let signal = noise(SIGNAL_LEN, 42);
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(600))
        .without_plots()
        .configure_from_args();
    bench_resampler(&mut criterion, &signal);
    bench_node(&mut criterion, &signal);
    criterion.final_summary();
}
