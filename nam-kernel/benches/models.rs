//! Throughput benchmarks of every fixture model, on every kernel table this CPU
//! can run, plus a side-by-side comparison with the `nam-rs` crate.
//!
//! Three parts, in one run:
//!
//! 1. Criterion group `model/<case>/<kernel>`, parameter = block size (64, 256):
//!    every `*.nam` in the fixtures folder (`../../shared/fixtures` from this
//!    crate, or `NAM_FIXTURES_DIR`) on every table in [`Kernels::available`].
//! 2. Criterion group `vs_nam_rs/<case>`, benchmarks `nam-kernel/<block>` (our
//!    default table, [`Kernels::detect`]) and `nam-rs/<block>`, for every fixture
//!    `nam-rs` can run (the others are skipped with a note).
//! 3. A plain timing table (`table/...`): ns/sample at block 64 for each of our
//!    kernel tables and for `nam-rs`, interleaved rounds (median), on the fixtures
//!    and on the common-size models in `../../shared/peers/models` (or
//!    `NAM_PEER_MODELS_DIR`; skipped when absent). `nam-rs/ours` is the speedup
//!    of our default table over `nam-rs` (above 1: we are faster); `max|diff|` is
//!    the largest difference between the two engines' outputs on the same stream
//!    after warm-up, a check that both run the same model.
//!
//! Every engine is built once and fed one continuous deterministic signal (a
//! 110 Hz sine plus a little noise, peak about 0.5), block after block: models
//! are stateful, so nothing is rebuilt or reset between iterations. Throughput is
//! in samples, so criterion reports elements/s.
//!
//! ```text
//! cargo bench -p nam-kernel --bench models                      # everything (a few minutes)
//! cargo bench -p nam-kernel --bench models -- wavenet_standard  # one model, all parts
//! cargo bench -p nam-kernel --bench models -- table             # only the table
//! cargo bench -p nam-kernel --bench models -- --test            # smoke run (seconds)
//! ```
//!
//! The filter is criterion's regex for parts 1 and 2; the table applies it as a
//! plain substring of `table/fixtures/<case>` or `table/peers/<model>` (with `|`
//! separating alternatives). Environment: `NAM_BENCH_TABLE=0` skips the table,
//! `NAM_BENCH_TABLE_SECONDS` sets the audio timed per engine and model (default
//! 1), `NAM_BENCH_PLOTS=1` turns criterion's HTML plots back on (slow).
//!
//! A full run takes about 5-6 minutes on a 2-core machine (two kernel tables;
//! about 1 more minute per extra table), the table alone
//! (`-- table`) under 10 s, `-- --test` about 1 s once built.

use std::hint::black_box;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use nam_kernel::kernels::Kernels;
use nam_kernel::{BuildOptions, Model, NamFile};

/// Block sizes benchmarked by criterion.
const BLOCKS: [usize; 2] = [64, 256];
/// Block size of the comparison table.
const TABLE_BLOCK: usize = 64;
/// Length of the looped input signal (a multiple of every block size).
const SIGNAL_LEN: usize = 1 << 16;
/// Sample rate of the input signal (all benchmarked models expect 48 kHz).
const SAMPLE_RATE: f32 = 48_000.0;
/// Interleaved timing rounds per engine in the table (median reported).
const TABLE_ROUNDS: usize = 5;
/// Audio fed to every engine before the table's timed rounds.
const TABLE_WARMUP_SECONDS: f64 = 0.25;
/// Samples compared between the two engines after the timed rounds.
const TABLE_CHECK_SAMPLES: usize = 4096;

/// The deterministic input: a 110 Hz sine at 0.45 plus uniform noise at 0.05.
fn input_signal() -> Vec<f32> {
    let mut state: u32 = 0x9E37_79B9;
    (0..SIGNAL_LEN)
        .map(|i| {
            // xorshift32: reproducible noise without a dependency.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0;
            let phase = 2.0 * std::f32::consts::PI * 110.0 * i as f32 / SAMPLE_RATE;
            0.45 * phase.sin() + 0.05 * noise
        })
        .collect()
}

/// Hands out consecutive blocks of the looped input signal.
struct Stream<'a> {
    signal: &'a [f32],
    pos: usize,
}

impl<'a> Stream<'a> {
    fn new(signal: &'a [f32]) -> Self {
        Self { signal, pos: 0 }
    }

    /// The next `block` samples (`block` divides the signal length).
    fn next_block(&mut self, block: usize) -> &'a [f32] {
        let start = self.pos;
        self.pos = (start + block) % self.signal.len();
        &self.signal[start..start + block]
    }
}

/// The fixtures folder: `NAM_FIXTURES_DIR` or `../../shared/fixtures`.
fn fixtures_dir() -> PathBuf {
    std::env::var_os("NAM_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"))
}

/// The common-size models: `NAM_PEER_MODELS_DIR` or `../../shared/peers/models`.
fn peer_models_dir() -> PathBuf {
    std::env::var_os("NAM_PEER_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers/models"))
}

/// Every `*.nam` in `dir`, sorted, as (file stem, path); `None` if `dir` cannot
/// be read.
fn nam_files(dir: &Path) -> Option<Vec<(String, PathBuf)>> {
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "nam"))
        .map(|path| {
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            (stem.into_owned(), path)
        })
        .collect();
    files.sort();
    Some(files)
}

/// The fixture models. Panics when the folder is missing or holds no model: a
/// benchmark that silently measures nothing is a defect.
fn fixture_files() -> Vec<(String, PathBuf)> {
    let dir = fixtures_dir();
    let files = nam_files(&dir).unwrap_or_else(|| {
        panic!(
            "fixtures folder {} is missing or unreadable (set NAM_FIXTURES_DIR)",
            dir.display()
        )
    });
    assert!(
        !files.is_empty(),
        "no *.nam models in the fixtures folder {} (set NAM_FIXTURES_DIR)",
        dir.display()
    );
    files
}

/// One model, parsed once for both engines.
struct Case {
    name: String,
    ours: NamFile,
    /// `nam-rs`'s parse, or why it refused the file.
    theirs: Result<nam_rs::NamModel, String>,
}

/// Runs `f`, turning a panic into an error message (without printing it).
fn quietly<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(hook);
    result.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(format!("panicked: {message}"))
    })
}

impl Case {
    /// Parses `path` for both engines; `Err` when our loader refuses it.
    fn load(name: &str, path: &Path) -> Result<Self, String> {
        let ours = NamFile::load(path).map_err(|e| e.to_string())?;
        let theirs = quietly(|| {
            let model = nam_rs::NamModel::from_file(path).map_err(|e| e.to_string())?;
            // Refusals of the runtime (unsupported features) show up at build.
            build_theirs(&model, TABLE_BLOCK)?;
            Ok(model)
        });
        Ok(Self {
            name: name.to_owned(),
            ours,
            theirs,
        })
    }

    /// Our model on `kernels`, for host blocks of `block` frames.
    fn build_ours(&self, kernels: &'static Kernels, block: usize) -> Model {
        let options = BuildOptions {
            max_block_frames: block,
            kernels,
        };
        Model::build(&self.ours, options)
            .unwrap_or_else(|e| panic!("{}: cannot build on {}: {e}", self.name, kernels.name))
    }
}

/// `nam-rs`'s model, checked by running one block (it may panic on files it
/// does not support).
fn build_theirs(model: &nam_rs::NamModel, block: usize) -> Result<nam_rs::Model, String> {
    quietly(|| {
        let mut runtime = nam_rs::Model::from_nam(model).map_err(|e| e.to_string())?;
        runtime.process_buffer(&mut vec![0.0; block]);
        runtime.reset();
        Ok(runtime)
    })
}

/// Criterion settings: short, because the bench machine has 2 cores and there
/// are many models. Command-line options override them. Plots cost about 6 s
/// per benchmark on that machine (three times the measurement), so they are
/// off unless `NAM_BENCH_PLOTS=1`.
fn criterion_config() -> Criterion {
    let criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1));
    if std::env::var("NAM_BENCH_PLOTS").is_ok_and(|v| v == "1") {
        criterion
    } else {
        criterion.without_plots()
    }
}

/// Part 1: every fixture on every kernel table at every block size.
fn bench_models(c: &mut Criterion, cases: &[Case], signal: &[f32]) {
    for case in cases {
        for &kernels in Kernels::available() {
            let mut group = c.benchmark_group(format!("model/{}/{}", case.name, kernels.name));
            for block in BLOCKS {
                group.throughput(Throughput::Elements(block as u64));
                let mut model = case.build_ours(kernels, block);
                let mut stream = Stream::new(signal);
                let mut output = vec![0.0; block];
                group.bench_function(BenchmarkId::from_parameter(block), |b| {
                    b.iter(|| {
                        model.process(black_box(stream.next_block(block)), &mut output);
                        black_box(&mut output);
                    });
                });
            }
            group.finish();
        }
    }
}

/// Part 2: our default table against `nam-rs`, same models, same blocks.
fn bench_vs_nam_rs(c: &mut Criterion, cases: &[Case], signal: &[f32]) {
    for case in cases {
        let theirs = match &case.theirs {
            Ok(model) => model,
            Err(why) => {
                println!("vs_nam_rs/{}: skipped, nam-rs refuses it: {why}", case.name);
                continue;
            }
        };
        let mut group = c.benchmark_group(format!("vs_nam_rs/{}", case.name));
        for block in BLOCKS {
            group.throughput(Throughput::Elements(block as u64));

            let mut ours = case.build_ours(Kernels::detect(), block);
            let mut stream = Stream::new(signal);
            let mut output = vec![0.0; block];
            group.bench_function(BenchmarkId::new("nam-kernel", block), |b| {
                b.iter(|| {
                    ours.process(black_box(stream.next_block(block)), &mut output);
                    black_box(&mut output);
                });
            });

            let mut runtime = build_theirs(theirs, block)
                .unwrap_or_else(|why| panic!("{}: nam-rs build: {why}", case.name));
            let mut stream = Stream::new(signal);
            let mut buffer = vec![0.0; block];
            group.bench_function(BenchmarkId::new("nam-rs", block), |b| {
                b.iter(|| {
                    // nam-rs processes in place: copy the input block in first.
                    buffer.copy_from_slice(black_box(stream.next_block(block)));
                    runtime.process_buffer(&mut buffer);
                    black_box(&mut buffer);
                });
            });
        }
        group.finish();
    }
}

/// What the command line asks of the table, read the way criterion reads it.
struct TableArgs {
    /// Run once, quickly, to check the code runs (`--test`, or no `--bench`
    /// as under `cargo test --benches`).
    smoke: bool,
    /// Criterion only lists, profiles or skips everything: no table.
    skip: bool,
    /// Alternatives of the positional filter (empty: everything).
    filter: Vec<String>,
    /// `--exact`: the filter must equal the table id.
    exact: bool,
}

impl TableArgs {
    fn parse() -> Self {
        // criterion's options that take a value (so the value is no filter).
        const WITH_VALUE: &[&str] = &[
            "-c",
            "--color",
            "--colour",
            "-s",
            "--save-baseline",
            "-b",
            "--baseline",
            "--baseline-lenient",
            "--format",
            "--profile-time",
            "--load-baseline",
            "--sample-size",
            "--warm-up-time",
            "--measurement-time",
            "--nresamples",
            "--noise-threshold",
            "--confidence-level",
            "--significance-level",
            "--plotting-backend",
            "--output-format",
        ];
        let args: Vec<String> = std::env::args().skip(1).collect();
        let has = |flag: &str| args.iter().any(|a| a == flag);
        let mut filter = None;
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            if WITH_VALUE.contains(&arg.as_str()) {
                iter.next();
            } else if !arg.starts_with('-') && filter.is_none() {
                filter = Some(arg.clone());
            }
        }
        let off = std::env::var("NAM_BENCH_TABLE").is_ok_and(|v| v == "0");
        Self {
            smoke: has("--test") || !has("--bench"),
            skip: off
                || has("--list")
                || has("--ignored")
                || args.iter().any(|a| a.starts_with("--profile-time")),
            filter: filter
                .map(|f| f.split('|').map(str::to_owned).collect())
                .unwrap_or_default(),
            exact: has("--exact"),
        }
    }

    fn selects(&self, id: &str) -> bool {
        self.filter.is_empty()
            || self.filter.iter().any(|f| {
                if self.exact {
                    id == f
                } else {
                    id.contains(f.as_str())
                }
            })
    }
}

/// An engine as the table drives it: `(input block, output block)`.
type Process<'a> = Box<dyn FnMut(&[f32], &mut [f32]) + 'a>;

/// One engine under the table's timing loop.
struct Timed<'a> {
    run: Process<'a>,
    stream: Stream<'a>,
    output: Vec<f32>,
    rounds_ns: Vec<f64>,
}

impl<'a> Timed<'a> {
    fn new(signal: &'a [f32], run: impl FnMut(&[f32], &mut [f32]) + 'a) -> Self {
        Self {
            run: Box::new(run),
            stream: Stream::new(signal),
            output: vec![0.0; TABLE_BLOCK],
            rounds_ns: Vec::new(),
        }
    }

    /// Processes `samples` of the stream (whole blocks), returns the seconds spent.
    fn feed(&mut self, samples: usize) -> f64 {
        let start = Instant::now();
        for _ in 0..samples / TABLE_BLOCK {
            (self.run)(
                black_box(self.stream.next_block(TABLE_BLOCK)),
                &mut self.output,
            );
            black_box(&mut self.output);
        }
        start.elapsed().as_secs_f64()
    }

    fn round(&mut self, samples: usize) {
        let seconds = self.feed(samples);
        self.rounds_ns.push(seconds * 1e9 / samples as f64);
    }

    fn median_ns(&self) -> f64 {
        let mut v = self.rounds_ns.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
}

/// Samples per engine for warm-up and per timed round.
fn table_lengths(smoke: bool) -> (usize, usize, usize) {
    let whole_blocks = |seconds: f64| {
        let samples = (seconds * f64::from(SAMPLE_RATE)) as usize;
        samples.div_ceil(TABLE_BLOCK).max(1) * TABLE_BLOCK
    };
    if smoke {
        return (TABLE_BLOCK, TABLE_BLOCK, 1);
    }
    let seconds = std::env::var("NAM_BENCH_TABLE_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(1.0);
    (
        whole_blocks(TABLE_WARMUP_SECONDS),
        whole_blocks(seconds / TABLE_ROUNDS as f64),
        TABLE_ROUNDS,
    )
}

/// Part 3: plain ns/sample timings of ours (each kernel table) against nam-rs.
fn comparison_table(fixtures: &[Case], signal: &[f32]) {
    let args = TableArgs::parse();
    if args.skip {
        return;
    }
    let mut cases: Vec<(String, &Case)> = fixtures
        .iter()
        .map(|case| (format!("fixtures/{}", case.name), case))
        .collect();
    let peer_dir = peer_models_dir();
    let peers: Vec<Case> = match nam_files(&peer_dir) {
        Some(files) => files
            .iter()
            .filter(|(name, _)| args.selects(&format!("table/peers/{name}")))
            .filter_map(|(name, path)| match Case::load(name, path) {
                Ok(case) => Some(case),
                Err(why) => {
                    println!("table/peers/{name}: skipped, we refuse it: {why}");
                    None
                }
            })
            .collect(),
        None => {
            println!(
                "table: no common-size models at {} (set NAM_PEER_MODELS_DIR), fixtures only",
                peer_dir.display()
            );
            Vec::new()
        }
    };
    cases.extend(
        peers
            .iter()
            .map(|case| (format!("peers/{}", case.name), case)),
    );
    cases.retain(|(label, _)| args.selects(&format!("table/{label}")));
    if cases.is_empty() {
        return;
    }

    let (warmup, round, rounds) = table_lengths(args.smoke);
    let kernels = Kernels::available();
    let default_index = kernels
        .iter()
        .position(|k| std::ptr::eq(*k, Kernels::detect()))
        .unwrap_or(kernels.len() - 1);
    println!();
    if args.smoke {
        println!("ns/sample at block {TABLE_BLOCK}: smoke run (--test), numbers meaningless");
    } else {
        println!(
            "ns/sample at block {TABLE_BLOCK}, median of {rounds} interleaved rounds of {round} \
             samples after {warmup} samples of warm-up; nam-rs/ours uses ours:{}",
            kernels[default_index].name
        );
    }
    let name_width = cases
        .iter()
        .map(|(label, _)| label.len())
        .max()
        .unwrap_or(0);
    let mut header = format!("{:<name_width$}", "model");
    for k in kernels {
        header += &format!(" {:>14}", format!("ours:{}", k.name));
    }
    header += &format!(
        " {:>10} {:>11} {:>10}",
        "nam-rs", "nam-rs/ours", "max|diff|"
    );
    println!("{header}");

    for (label, case) in &cases {
        let mut ours_models: Vec<Model> = kernels
            .iter()
            .map(|&k| case.build_ours(k, TABLE_BLOCK))
            .collect();
        let mut theirs_model = match &case.theirs {
            Ok(model) => build_theirs(model, TABLE_BLOCK).ok(),
            Err(_) => None,
        };
        let mut engines: Vec<Timed> = ours_models
            .iter_mut()
            .map(|model| {
                Timed::new(signal, move |input: &[f32], output: &mut [f32]| {
                    model.process(input, output);
                })
            })
            .collect();
        if let Some(runtime) = theirs_model.as_mut() {
            engines.push(Timed::new(
                signal,
                move |input: &[f32], output: &mut [f32]| {
                    output.copy_from_slice(input);
                    runtime.process_buffer(output);
                },
            ));
        }

        for engine in &mut engines {
            engine.feed(warmup);
        }
        for _ in 0..rounds {
            for engine in &mut engines {
                engine.round(round);
            }
        }

        let ours_ns: Vec<f64> = engines[..kernels.len()]
            .iter()
            .map(Timed::median_ns)
            .collect();
        let mut row = format!("{label:<name_width$}");
        for ns in &ours_ns {
            row += &format!(" {ns:>14.1}");
        }
        if engines.len() > kernels.len() {
            let theirs_ns = engines[kernels.len()].median_ns();
            // Same stream position in both: compare the next outputs.
            let mut max_diff = 0.0_f32;
            for _ in 0..TABLE_CHECK_SAMPLES / TABLE_BLOCK {
                let (ours, theirs) = (default_index, kernels.len());
                engines[ours].feed(TABLE_BLOCK);
                engines[theirs].feed(TABLE_BLOCK);
                for (a, b) in engines[ours].output.iter().zip(&engines[theirs].output) {
                    max_diff = max_diff.max((a - b).abs());
                }
            }
            row += &format!(
                " {theirs_ns:>10.1} {:>11.2} {max_diff:>10.1e}",
                theirs_ns / ours_ns[default_index]
            );
        } else {
            let why = match &case.theirs {
                Err(why) => why.as_str(),
                Ok(_) => "build failed",
            };
            row += &format!(" {:>10} {:>11} {:>10}  ({why})", "n/a", "n/a", "n/a");
        }
        println!("{row}");
    }
}

fn main() {
    let signal = input_signal();
    let cases: Vec<Case> = fixture_files()
        .iter()
        .map(|(name, path)| {
            Case::load(name, path).unwrap_or_else(|why| panic!("fixture {name}: {why}"))
        })
        .collect();

    let mut criterion = criterion_config().configure_from_args();
    bench_models(&mut criterion, &cases, &signal);
    bench_vs_nam_rs(&mut criterion, &cases, &signal);
    criterion.final_summary();

    comparison_table(&cases, &signal);
}
