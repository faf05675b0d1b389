//! `anchor`: our side of the peers' timing harness (`../shared/peers/anchor_bench.cpp`),
//! with the same command line, the same fixed test signal and the same output, so
//! that `scripts/bench-peers.sh` and `scripts/aarch64-cost.sh` run our kernel and
//! the C++ peers the same way.
//!
//! ```text
//! anchor bench MODEL.nam BLOCK TIMED_SAMPLES WARMUP_SAMPLES [--table NAME] [--size S]
//!     prints: samples=N ns_per_sample=… cpu_ns_per_sample=… maxabs=… finite=0|1 table=NAME
//! anchor dump MODEL.nam BLOCK OUT.f32 [--table NAME] [--size S]
//!     writes raw float32: 8192 zeros then 16384 samples of the test signal, run
//!     through the model in blocks of BLOCK
//! anchor tables
//!     prints the kernel tables this CPU can run, one a line, the fastest last
//! anchor sizes MODEL.nam
//!     prints one --size value per size of a slimmable model, one a line,
//!     smallest first, the full size (1) last; nothing for other models
//! ```
//!
//! `--table` picks a kernel table by name (default: the fastest,
//! [`Kernels::detect`]); `--size` plays a slimmable model at that size in
//! `[0, 1]` through [`Model::set_slimmable_size`] and refuses a model that has
//! no sizes, so a size run never silently measures the full model.
//!
//! The model is built for blocks of `BLOCK` frames and starts in the reference
//! state (prewarmed), as NeuralAmpModelerCore's `Reset(48000, BLOCK)` does.
//! `bench` feeds `WARMUP_SAMPLES` untimed, then times `TIMED_SAMPLES` (both
//! rounded down to whole blocks) with the wall clock and this thread's CPU
//! clock (`CLOCK_THREAD_CPUTIME_ID`, robust to a shared machine).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use nam_kernel::kernels::Kernels;
use nam_kernel::{BuildOptions, Model, NamFile};

/// Length of the looped test signal (a power of two, divisible by 64 and 256).
const SIGNAL_LEN: usize = 65_536;
/// Zeros `dump` feeds before the signal (settles past the receptive field).
const DUMP_ZEROS: usize = 8192;
/// Signal samples `dump` feeds after the zeros.
const DUMP_SIGNAL: usize = 16_384;

const USAGE: &str = "usage:
  anchor bench MODEL.nam BLOCK TIMED_SAMPLES WARMUP_SAMPLES [--table NAME] [--size S]
  anchor dump MODEL.nam BLOCK OUT.f32 [--table NAME] [--size S]
  anchor tables
  anchor sizes MODEL.nam";

/// The peers' test signal, computed in the same order with the same `f32`
/// operations: a 110 Hz sine at 0.3 plus uniform noise at 0.05 from a 32-bit
/// linear congruential generator.
fn test_signal() -> Vec<f32> {
    let mut state: u32 = 12_345;
    (0..SIGNAL_LEN)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = ((state >> 8) as f32 * (1.0 / 16_777_216.0)) * 2.0 - 1.0;
            // The harness writes `3.14159265f`, which rounds to this same `f32`.
            let phase = 2.0 * std::f32::consts::PI * 110.0 * i as f32 / 48_000.0;
            0.3 * phase.sin() + 0.05 * noise
        })
        .collect()
}

/// This thread's CPU time in nanoseconds.
#[cfg(target_os = "linux")]
fn thread_cpu_ns() -> f64 {
    use std::ffi::{c_int, c_long};
    /// `struct timespec` of glibc's default ABI on Linux (`time_t` is `long`).
    #[repr(C)]
    struct Timespec {
        tv_sec: c_long,
        tv_nsec: c_long,
    }
    /// `CLOCK_THREAD_CPUTIME_ID` from `<linux/time.h>`.
    const CLOCK_THREAD_CPUTIME_ID: c_int = 3;
    extern "C" {
        fn clock_gettime(clock: c_int, ts: *mut Timespec) -> c_int;
    }
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `struct timespec` for the call's
    // duration, and the clock id is one Linux always provides.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

/// Options after the positional arguments.
struct Options {
    table: Option<String>,
    size: Option<f64>,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        table: None,
        size: None,
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = |name: &str| {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--table" => options.table = Some(value("--table")?),
            "--size" => {
                let text = value("--size")?;
                let size: f64 = text
                    .parse()
                    .map_err(|_| format!("--size {text}: not a number"))?;
                if !(0.0..=1.0).contains(&size) {
                    return Err(format!("--size {text}: not in [0, 1]"));
                }
                options.size = Some(size);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

fn parse_count(what: &str, text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("{what} {text}: not a whole number"))
}

/// The kernel table named `name`, or the fastest one.
fn kernels(name: Option<&str>) -> Result<&'static Kernels, String> {
    let Some(name) = name else {
        return Ok(Kernels::detect());
    };
    Kernels::available()
        .iter()
        .copied()
        .find(|k| k.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = Kernels::available().iter().map(|k| k.name).collect();
            format!(
                "no kernel table {name} on this CPU (available: {})",
                names.join(", ")
            )
        })
}

/// Loads and builds `path` for blocks of `block` frames, at `options`' table
/// and size.
fn build(path: &str, block: usize, options: &Options) -> Result<Model, String> {
    if block == 0 {
        return Err("BLOCK must be at least 1".into());
    }
    let file = NamFile::load(Path::new(path)).map_err(|e| e.to_string())?;
    let build_options = BuildOptions {
        max_block_frames: block,
        kernels: kernels(options.table.as_deref())?,
    };
    let mut model = Model::build(&file, build_options).map_err(|e| format!("{path}: {e}"))?;
    if let Some(size) = options.size {
        if model.slimmable_breakpoints().is_empty() {
            return Err(format!(
                "{path}: --size given, but the model has no slimmable sizes"
            ));
        }
        model.set_slimmable_size(size);
    }
    Ok(model)
}

/// One `--size` value selecting each size of a slimmable model, smallest
/// first: a size below breakpoint `i` selects size `i`, so the middle of each
/// interval between breakpoints (clear of rounding at the edges), then `1` for
/// the full model. Empty for other models.
fn sizes(model: &Model) -> Vec<f64> {
    let breakpoints = model.slimmable_breakpoints();
    if breakpoints.is_empty() {
        return Vec::new();
    }
    let mut lower = 0.0;
    let mut sizes = Vec::with_capacity(breakpoints.len() + 1);
    for upper in breakpoints {
        sizes.push(0.5 * (lower + upper));
        lower = upper;
    }
    sizes.push(1.0);
    sizes
}

fn dump(model: &mut Model, block: usize, out_path: &str) -> Result<(), String> {
    let signal = test_signal();
    let mut input = vec![0.0_f32; block];
    let mut output = vec![0.0_f32; block];
    let mut result = Vec::with_capacity(DUMP_ZEROS + DUMP_SIGNAL + block);
    let mut pos = 0;
    while pos < DUMP_ZEROS + DUMP_SIGNAL {
        for (i, x) in input.iter_mut().enumerate() {
            let p = pos + i;
            *x = if p < DUMP_ZEROS {
                0.0
            } else {
                signal[(p - DUMP_ZEROS) % SIGNAL_LEN]
            };
        }
        model.process(&input, &mut output);
        result.extend_from_slice(&output);
        pos += block;
    }
    let bytes: Vec<u8> = result.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(out_path, bytes).map_err(|e| format!("{out_path}: {e}"))
}

/// Running checks on the last sample of every block (keeps the work observable).
#[derive(Default)]
struct Checks {
    max_abs: f64,
    finite: bool,
}

fn bench(model: &mut Model, block: usize, timed: usize, warmup: usize) -> Result<(), String> {
    let signal = test_signal();
    let mut input = vec![0.0_f32; block];
    let mut output = vec![0.0_f32; block];
    let mut pos = 0;
    let mut run = |samples: usize, checks: &mut Checks| {
        let blocks = samples / block;
        for _ in 0..blocks {
            for (i, x) in input.iter_mut().enumerate() {
                *x = signal[(pos + i) & (SIGNAL_LEN - 1)];
            }
            pos += block;
            model.process(&input, &mut output);
            let last = f64::from(output[block - 1]);
            checks.max_abs = checks.max_abs.max(last.abs());
            checks.finite &= last.is_finite();
        }
        blocks * block
    };
    let mut checks = Checks {
        finite: true,
        ..Checks::default()
    };
    run(warmup, &mut checks);
    checks.max_abs = 0.0;
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    let samples = run(timed, &mut checks);
    let wall_ns = start.elapsed().as_nanos() as f64;
    let cpu_ns = thread_cpu_ns() - cpu_start;
    if samples == 0 {
        return Err(format!(
            "TIMED_SAMPLES {timed} is less than one block of {block}: nothing measured"
        ));
    }
    println!(
        "samples={samples} ns_per_sample={:.3} cpu_ns_per_sample={:.3} maxabs={:.4e} finite={} table={}",
        wall_ns / samples as f64,
        cpu_ns / samples as f64,
        checks.max_abs,
        u8::from(checks.finite),
        model.kernels().name
    );
    Ok(())
}

fn run(args: &[String]) -> Result<(), String> {
    match args {
        [command] if command == "tables" => {
            for table in Kernels::available() {
                println!("{}", table.name);
            }
            Ok(())
        }
        [command, path] if command == "sizes" => {
            let model = build(path, 1, &parse_options(&[])?)?;
            for size in sizes(&model) {
                println!("{size}");
            }
            Ok(())
        }
        [command, path, block, timed, warmup, rest @ ..] if command == "bench" => {
            let block = parse_count("BLOCK", block)?;
            let timed = parse_count("TIMED_SAMPLES", timed)?;
            let warmup = parse_count("WARMUP_SAMPLES", warmup)?;
            let mut model = build(path, block, &parse_options(rest)?)?;
            bench(&mut model, block, timed, warmup)
        }
        [command, path, block, out, rest @ ..] if command == "dump" => {
            let block = parse_count("BLOCK", block)?;
            let mut model = build(path, block, &parse_options(rest)?)?;
            dump(&mut model, block, out)
        }
        _ => Err(USAGE.into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("anchor: {message}");
            ExitCode::from(if message == USAGE { 2 } else { 1 })
        }
    }
}
