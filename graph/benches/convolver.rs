//! Cost per sample of the convolver node, beside direct (time-domain)
//! convolution with `nam-kernel`'s fastest convolution kernel.
//!
//! - `convolver/<taps>`, parameter = block size (32 to 512): the node, IRs of
//!   2048, 8192 and 32768 taps, at the IR's own rate (no resampling).
//! - `direct/<taps>`, same blocks: the whole IR convolved directly, for 2048 and
//!   8192 taps (32768 would take seconds per measurement).
//!
//! Each engine runs one continuous stream of noise, block after block (nothing
//! is reset between iterations); throughput is in samples, so criterion
//! reports elements/s.
//!
//! ```text
//! cargo bench -p nam-graph --bench convolver             # everything (about 30 s)
//! cargo bench -p nam-graph --bench convolver -- 32768    # one IR length
//! cargo bench -p nam-graph --bench convolver -- --test   # smoke run
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use nam_graph::nam_kernel::kernels::{ConvShape, Kernels, Output};
use nam_graph::nodes::convolver::{Convolver, ConvolverSettings};
use nam_graph::{Node, ProcessSpec};

const RATE_HZ: f64 = 48_000.0;
const BLOCKS: [usize; 5] = [32, 64, 128, 256, 512];
const NODE_TAPS: [usize; 3] = [2048, 8192, 32768];
const DIRECT_TAPS: [usize; 2] = [2048, 8192];
/// Length of the looped input (a multiple of every block size).
const SIGNAL_LEN: usize = 1 << 15;

/// Deterministic noise in [-1, 1) (xorshift64), decaying for IRs.
fn noise(len: usize, seed: u64, decay_frames: Option<f32>) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|n| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let value = (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
            decay_frames.map_or(value, |d| value * (-(n as f32) / d).exp())
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

/// Direct convolution: the whole IR through `nam-kernel`'s kernel, over a
/// history of `taps - 1` past frames.
struct Direct {
    kernels: &'static Kernels,
    reversed: Vec<f32>,
    history: Vec<f32>,
}

impl Direct {
    fn new(ir: &[f32], max_frames: usize) -> Self {
        Self {
            kernels: Kernels::detect(),
            reversed: ir.iter().rev().copied().collect(),
            history: vec![0.0; ir.len() - 1 + max_frames],
        }
    }

    fn process(&mut self, input: &[f32], output: &mut [f32]) {
        let taps = self.reversed.len();
        let frames = input.len();
        let history = &mut self.history[..taps - 1 + frames];
        history[taps - 1..].copy_from_slice(input);
        output.fill(0.0);
        let shape = ConvShape {
            frames,
            taps,
            dilation: 1,
            cout: 1,
            cin_per_group: 1,
            groups: 1,
            in_stride: history.len(),
            first: 0,
            out_stride: frames,
        };
        (self.kernels.conv)(
            &shape,
            &self.reversed,
            None,
            Output::Accumulate,
            history,
            output,
        );
        history.copy_within(frames.., 0);
    }
}

fn ir(taps: usize) -> Vec<f32> {
    noise(taps, 0x5EED + taps as u64, Some(taps as f32 / 5.0))
}

fn bench_node(c: &mut Criterion, signal: &[f32]) {
    for taps in NODE_TAPS {
        let mut group = c.benchmark_group(format!("convolver/{taps}"));
        for block in BLOCKS {
            group.throughput(Throughput::Elements(block as u64));
            let mut node = Convolver::from_samples(ir(taps), RATE_HZ, ConvolverSettings::default())
                .expect("a valid IR");
            node.prepare(&ProcessSpec {
                sample_rate_hz: RATE_HZ,
                max_block_frames: block,
            })
            .expect("prepare");
            let mut stream = Stream {
                signal,
                position: 0,
            };
            let mut output = vec![0.0; block];
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

fn bench_direct(c: &mut Criterion, signal: &[f32]) {
    for taps in DIRECT_TAPS {
        let mut group = c.benchmark_group(format!("direct/{taps}"));
        for block in BLOCKS {
            group.throughput(Throughput::Elements(block as u64));
            let mut direct = Direct::new(&ir(taps), block);
            let mut stream = Stream {
                signal,
                position: 0,
            };
            let mut output = vec![0.0; block];
            group.bench_function(BenchmarkId::from_parameter(block), |b| {
                b.iter(|| {
                    direct.process(black_box(stream.next_block(block)), &mut output);
                    black_box(&mut output);
                });
            });
        }
        group.finish();
    }
}

fn main() {
    let signal = noise(SIGNAL_LEN, 42, None);
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(600))
        .without_plots()
        .configure_from_args();
    bench_node(&mut criterion, &signal);
    bench_direct(&mut criterion, &signal);
    criterion.final_summary();
}
