//! `nam-tools bench`: how fast a model runs, alone with every kernel table
//! this CPU offers, and inside a chain.
//!
//! Each measurement feeds blocks of `block_frames` of fixed white noise, warms
//! up, then reports the median of [`ROUNDS`] timed rounds (thread
//! CPU time on Linux, else the wall clock) as nanoseconds per sample and as a
//! real-time factor: seconds of audio at the model's sample rate per second
//! of compute.

pub mod chain;
mod timing;

use std::fmt::Write;
use std::time::Duration;

use nam_kernel::kernels::Kernels;
use nam_kernel::{BuildError, BuildOptions, Model, NamFile};
use serde::Serialize;

pub use chain::ChainSource;
pub use timing::{Timing, ROUNDS};

use crate::Error;

/// What to measure and for how long.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Frames per `process` call (and the model's internal block).
    pub block_frames: usize,
    /// Time spent on each measurement, warm-up included.
    pub seconds: f64,
    /// The chain to time beside the model.
    pub chain: ChainSource,
}

/// One model measurement.
#[derive(Clone, Debug, Serialize)]
pub struct KernelResult {
    /// The kernel table (`scalar`, `avx2-fma`, `neon`).
    pub kernels: &'static str,
    /// Its timing.
    #[serde(flatten)]
    pub timing: Timing,
}

/// The chain measurement.
#[derive(Clone, Debug, Serialize)]
pub struct ChainResult {
    /// Which chain (`default: ...` or the chain file).
    pub source: String,
    /// Its nodes, in order.
    pub nodes: Vec<String>,
    /// The chain's latency, in frames.
    pub latency_frames: usize,
    /// The kernel table its NAM nodes run on (the fastest available).
    pub kernels: &'static str,
    /// Its timing.
    #[serde(flatten)]
    pub timing: Timing,
}

/// The whole `bench` result; serialises to the stable `--json` object.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// The model file.
    pub file: String,
    /// Its architecture.
    pub architecture: &'static str,
    /// The rate everything runs at (the model's).
    pub sample_rate_hz: f64,
    /// Frames per `process` call.
    pub block_frames: usize,
    /// Seconds spent on each measurement.
    pub seconds_per_measurement: f64,
    /// The model alone, once per kernel table (scalar first).
    pub model: Vec<KernelResult>,
    /// The chain.
    pub chain: ChainResult,
}

/// Times `file` (loaded from `name`) with every kernel table, then the chain.
pub fn run(file: &NamFile, name: &str, options: &BenchOptions) -> Result<BenchReport, Error> {
    let rate = file.sample_rate_hz();
    let block = options.block_frames;
    let budget = Duration::from_secs_f64(options.seconds);
    // A zero block is refused by `Model::build` below, before any timing.
    let input = timing::noise(block.max(1));
    let build_error = |source: BuildError| Error::Build {
        file: name.to_owned(),
        source,
    };
    let mut model = Vec::new();
    for &kernels in Kernels::available() {
        let build = BuildOptions {
            max_block_frames: block,
            kernels,
        };
        let mut m = Model::build(file, build).map_err(build_error)?;
        let timing = timing::measure(&input, block, budget, rate, |i, o| m.process(i, o));
        model.push(KernelResult {
            kernels: kernels.name,
            timing,
        });
    }
    let mut graph = options.chain.build(rate, block)?;
    let nodes = graph.node_names().map(str::to_owned).collect();
    let latency_frames = graph.latency_frames();
    let timing = timing::measure(&input, block, budget, rate, |i, o| {
        graph.process(&[i], &mut [o]);
    });
    Ok(BenchReport {
        file: name.to_owned(),
        architecture: file.architecture(),
        sample_rate_hz: rate,
        block_frames: block,
        seconds_per_measurement: options.seconds,
        model,
        chain: ChainResult {
            source: options.chain.describe(),
            nodes,
            latency_frames,
            kernels: Kernels::detect().name,
            timing,
        },
    })
}

impl BenchReport {
    /// The stable machine-readable form (`bench --json`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The text report: one line per measurement.
    pub fn render(&self) -> String {
        let mut out = format!(
            "{}: {} at {} Hz, blocks of {} frames, median of {} rounds ({} time) over {} s per line\n",
            self.file,
            self.architecture,
            self.sample_rate_hz,
            self.block_frames,
            timing::ROUNDS,
            self.chain.timing.clock,
            self.seconds_per_measurement
        );
        let line = |out: &mut String, what: &str, t: &Timing| {
            let _ = writeln!(
                out,
                "  {what:<28} {:>10.1} ns/sample (best {:>9.1})  {:>8.1}x real time",
                t.ns_per_sample, t.ns_per_sample_min, t.real_time_factor
            );
        };
        for result in &self.model {
            line(
                &mut out,
                &format!("model, {}", result.kernels),
                &result.timing,
            );
        }
        line(
            &mut out,
            &format!("chain, {}", self.chain.kernels),
            &self.chain.timing,
        );
        let _ = writeln!(
            out,
            "  chain: {} ({}), latency {} frames",
            self.chain.source,
            self.chain.nodes.join(" -> "),
            self.chain.latency_frames
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn a_zero_block_is_an_error_not_a_panic() {
        let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo/drive.nam");
        let file = NamFile::load(&model).expect("demo model");
        let options = BenchOptions {
            block_frames: 0,
            seconds: 0.01,
            chain: ChainSource::Default { model, ir: None },
        };
        let error = run(&file, "drive.nam", &options).unwrap_err();
        assert!(matches!(error, Error::Build { .. }), "{error}");
    }
}
