//! `nam-graph`: run a `chain.toml` over a WAV file (offline reamping), or
//! play it live on JACK.

mod live;
mod output;

// The real-time tests of `live` check that the audio thread never allocates.
#[cfg(test)]
#[global_allocator]
static ALLOCATOR: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use nam_graph::{Chain, Graph, GraphWarning};

/// Reamping through a chain of NAM models, impulse responses and effects
/// described in a chain.toml file: offline on WAV files, or live on JACK.
#[derive(Parser)]
#[command(name = "nam-graph", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Process a WAV file through a chain and write the result, aligned with
    /// the input (the chain's latency is compensated).
    Run {
        /// The chain file (see examples/*.toml).
        chain: PathBuf,
        /// The input WAV: 8/16/24/32-bit integer or 32-bit float, mono or
        /// stereo, any sample rate (the chain runs at the file's rate).
        input: PathBuf,
        /// Where to write the output [default: INPUT stem + ".out.wav"]. Never
        /// the input file, under any name. A symbolic link is written
        /// through: its target is replaced and the link kept.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Output sample format [default: the input's].
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Do not show a progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Play a chain live as a JACK client (jackd, or PipeWire through
    /// `pw-jack`) at the server's rate and buffer size, until Ctrl-C. Shows
    /// xruns, DSP load, peak levels and latency once a second on stderr.
    /// Enter (on stdin) or SIGHUP reloads the chain file; a broken file is
    /// reported and the playing chain stays.
    Live {
        /// The chain file.
        chain: PathBuf,
        /// JACK client name [default: the chain file's stem, or its folder's
        /// name for a file called chain.toml].
        #[arg(short, long)]
        name: Option<String>,
        /// Two channels: ports in_L, in_R, out_L, out_R (default: one, in and
        /// out).
        #[arg(long)]
        stereo: bool,
        /// Connect the sound card's (physical) capture ports to the inputs
        /// and the outputs to its first playback ports (a mono output to
        /// both).
        #[arg(short, long)]
        connect: bool,
        /// Do not show the status line.
        #[arg(long)]
        quiet: bool,
    },
    /// Check a chain file: build it and print its nodes and latency.
    Check {
        /// The chain file.
        chain: PathBuf,
        /// Sample rate to build at.
        #[arg(long, default_value_t = 48_000)]
        rate: u32,
        /// Channels (1 or 2).
        #[arg(long, default_value_t = 1)]
        channels: usize,
    },
}

/// Output sample formats.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// 16-bit integer.
    I16,
    /// 24-bit integer.
    I24,
    /// 32-bit integer.
    I32,
    /// 32-bit float.
    F32,
}

impl Format {
    fn spec(self, channels: u16, sample_rate: u32) -> hound::WavSpec {
        let (bits_per_sample, sample_format) = match self {
            Format::I16 => (16, hound::SampleFormat::Int),
            Format::I24 => (24, hound::SampleFormat::Int),
            Format::I32 => (32, hound::SampleFormat::Int),
            Format::F32 => (32, hound::SampleFormat::Float),
        };
        hound::WavSpec {
            channels,
            sample_rate,
            bits_per_sample,
            sample_format,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            chain,
            input,
            output,
            format,
            quiet,
        } => run(&chain, &input, output, format, quiet),
        Command::Live {
            chain,
            name,
            stereo,
            connect,
            quiet,
        } => live::live(&live::Options {
            chain,
            name,
            stereo,
            connect,
            quiet,
        }),
        Command::Check {
            chain,
            rate,
            channels,
        } => check(&chain, rate, channels),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn check(chain_path: &Path, rate: u32, channels: usize) -> Result<(), String> {
    let chain = Chain::load(chain_path).map_err(|e| e.to_string())?;
    let graph = chain
        .build(f64::from(rate), channels)
        .map_err(|e| e.to_string())?;
    print_warnings(&graph.warnings());
    println!(
        "{}: {} node(s) at {rate} Hz, {channels} channel(s), block {} frames, latency {} frames",
        chain_path.display(),
        graph.node_names().count(),
        graph.spec().max_block_frames,
        graph.latency_frames()
    );
    for name in graph.node_names() {
        println!("  {name}");
    }
    Ok(())
}

/// Prints each warning once (a stereo chain has one node per channel, with
/// the same warning).
fn print_warnings(warnings: &[GraphWarning]) {
    for (i, warning) in warnings.iter().enumerate() {
        if !warnings[..i].iter().any(|w| w.warning == warning.warning) {
            eprintln!("warning: {warning}");
        }
    }
}

/// The input file's samples, planar, as f32 in [-1, 1).
fn read_wav(path: &Path) -> Result<(hound::WavSpec, Vec<Vec<f32>>), String> {
    let name = path.display();
    let mut reader = hound::WavReader::open(path)
        .map_err(|e| format!("{name}: not a readable WAV file ({e})"))?;
    let spec = reader.spec();
    if reader.duration() == 0 {
        let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        return Err(format!(
            "{name}: the WAV header announces no audio (a data chunk of 0 bytes) in a file of \
             {bytes} bytes; if it holds audio, its header was never completed (a recording \
             that was cut off): repair the header, e.g. by re-saving it in an audio editor"
        ));
    }
    let channels = usize::from(spec.channels);
    if !(1..=2).contains(&channels) {
        return Err(format!(
            "{name}: {channels} channels; only mono and stereo are supported"
        ));
    }
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1_i64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|s| s as f32 * scale))
                .collect::<Result<_, _>>()
        }
    }
    .map_err(|e| format!("{name}: {e}"))?;
    if let Some(i) = interleaved.iter().position(|x| !x.is_finite()) {
        return Err(format!(
            "{name}: sample {} is not a finite number",
            i / channels
        ));
    }
    let planar = (0..channels)
        .map(|c| {
            interleaved
                .iter()
                .skip(c)
                .step_by(channels)
                .copied()
                .collect()
        })
        .collect();
    Ok((spec, planar))
}

fn default_output(input: &Path) -> PathBuf {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    input.with_file_name(format!("{stem}.out.wav"))
}

fn run(
    chain_path: &Path,
    input_path: &Path,
    output: Option<PathBuf>,
    format: Option<Format>,
    quiet: bool,
) -> Result<(), String> {
    let output_path = output::destination(
        &output.unwrap_or_else(|| default_output(input_path)),
        input_path,
    )?;
    let chain = Chain::load(chain_path).map_err(|e| e.to_string())?;
    let (spec, input) = read_wav(input_path)?;
    let channels = input.len();
    let mut graph = chain
        .build(f64::from(spec.sample_rate), channels)
        .map_err(|e| e.to_string())?;
    print_warnings(&graph.warnings());
    let out_spec = match format {
        Some(f) => f.spec(spec.channels, spec.sample_rate),
        None => spec,
    };

    let frames = input.first().map_or(0, Vec::len);
    let started = Instant::now();
    let rendered = render(&mut graph, &input, quiet);
    let seconds = started.elapsed().as_secs_f64();
    check_finite(&graph, &rendered)?;
    let clipped = output::write_wav(&output_path, out_spec, &rendered)?;

    let audio_seconds = frames as f64 / f64::from(spec.sample_rate);
    if clipped > 0 {
        eprintln!("warning: {clipped} sample(s) clipped to the output format's range");
    }
    println!(
        "wrote {}: {frames} frames ({audio_seconds:.1} s, {channels} channel(s), {} Hz), latency {} frames compensated, \
         {seconds:.2} s, {:.1}x real time",
        output_path.display(),
        spec.sample_rate,
        graph.latency_frames(),
        audio_seconds / seconds.max(1e-9)
    );
    Ok(())
}

/// Runs the whole input through the graph, plus enough silence to flush its
/// latency, and returns the output aligned with the input.
fn render(graph: &mut Graph, input: &[Vec<f32>], quiet: bool) -> Vec<Vec<f32>> {
    const CHUNK: usize = 8192;
    let channels = input.len();
    let frames = input.first().map_or(0, Vec::len);
    let latency = graph.latency_frames();
    let total = frames + latency;
    let progress = if quiet || total < 10 * CHUNK {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {percent:>3}% {elapsed_precise} elapsed, {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    };
    // The input followed by enough silence to flush the latency.
    let padded: Vec<Vec<f32>> = input
        .iter()
        .map(|c| {
            c.iter()
                .copied()
                .chain(std::iter::repeat_n(0.0, latency))
                .collect()
        })
        .collect();
    let mut output = vec![vec![0.0_f32; total]; channels];
    let mut start = 0;
    while start < total {
        let n = CHUNK.min(total - start);
        let ins: Vec<&[f32]> = padded.iter().map(|c| &c[start..start + n]).collect();
        let mut outs: Vec<&mut [f32]> = output
            .iter_mut()
            .map(|c| &mut c[start..start + n])
            .collect();
        graph.process(&ins, &mut outs);
        start += n;
        progress.set_position(start as u64);
    }
    progress.finish_and_clear();
    for channel in &mut output {
        channel.drain(..latency);
    }
    output
}

/// Refuses output holding NaN or infinity, naming the node that made it.
fn check_finite(graph: &Graph, output: &[Vec<f32>]) -> Result<(), String> {
    let finite = output.iter().flatten().all(|x| x.is_finite());
    match graph.first_non_finite() {
        None if finite => Ok(()),
        Some(node) => Err(format!(
            "node `{node}` produced non-finite samples (NaN or infinity), e.g. a model whose \
             weights overflow; nothing was written"
        )),
        None => Err(
            "the chain produced non-finite samples (NaN or infinity); nothing was written".into(),
        ),
    }
}
