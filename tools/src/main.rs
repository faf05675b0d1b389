//! `nam-tools`: inspect and benchmark `.nam` models.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use nam_kernel::format::ModelFormat;
use nam_kernel::{BuildOptions, Model, NamFile};
use nam_tools::bench::{self, BenchOptions, ChainSource};
use nam_tools::info::{printable, ModelInfo};
use nam_tools::Error;

/// Inspect and benchmark Neural Amp Modeler (.nam) models.
#[derive(Parser)]
#[command(name = "nam-tools", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a model's architecture, config, parameter count, receptive field,
    /// multiply-adds per sample, sample rate and metadata.
    Info(InfoArgs),
    /// Time a model per kernel table and inside a chain: ns per sample and
    /// real-time factor.
    Bench(BenchArgs),
    /// Convert a model between formats where the target can express it:
    /// an AIDA-X / RTNeural LSTM stack with a dense output to a .nam LSTM,
    /// and back. The output format follows OUTPUT's extension (.nam, or
    /// .json / .aidax for AIDA-X).
    Convert(ConvertArgs),
    /// Import a NAM trainer's PyTorch Lightning checkpoint (.ckpt) into a .nam
    /// file, weights and config as the trainer's own export writes them.
    Import(ImportArgs),
    /// Train a model from a DI recording and the gear's output (`train` feature).
    #[cfg(feature = "train")]
    Train(Box<nam_tools::train::command::TrainArgs>),
}

#[derive(Args)]
struct InfoArgs {
    /// The .nam file.
    model: PathBuf,
    /// Print a machine-readable JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ConvertArgs {
    /// The model to convert (.nam, .json or .aidax; read by content).
    input: PathBuf,
    /// Where to write it (.nam, .json or .aidax).
    output: PathBuf,
}

#[derive(Args)]
struct ImportArgs {
    /// The Lightning checkpoint (.ckpt) the NAM trainer saved.
    checkpoint: PathBuf,
    /// The trainer's model config JSON: the whole file its CLI takes
    /// (`{"net": {"name": ..., "config": {...}}, "optimizer": ...}`) or just
    /// the `net` part (`{"name": ..., "config": {...}}`). Without it, the
    /// checkpoint's hyper_parameters are used if it holds any (the NAM
    /// trainer's checkpoints hold none).
    #[arg(long)]
    config: Option<PathBuf>,
    /// For a PackedWaveNet (the trainer's default model): each submodel's own
    /// best checkpoint, one per submodel in order (the trainer keeps them as
    /// `packed_best_submodel_<i>.ckpt`); the export then takes submodel i from
    /// the i-th, as the trainer does after training.
    #[arg(long = "submodel-checkpoint", value_name = "CKPT")]
    submodel_checkpoints: Vec<PathBuf>,
    /// Where to write the .nam file.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(Args)]
struct BenchArgs {
    /// The .nam file.
    model: PathBuf,
    /// Frames per process call (1 to 8192).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=8192))]
    block: u32,
    /// Seconds spent on each measurement (per kernel table, and the chain).
    #[arg(long, default_value_t = 1.0, value_parser = parse_seconds)]
    seconds: f64,
    /// Time this chain.toml instead of the default chain (the model alone, or
    /// followed by --ir).
    #[arg(long, conflicts_with = "ir")]
    chain: Option<PathBuf>,
    /// A cabinet IR (WAV) to put after the model in the default chain.
    #[arg(long)]
    ir: Option<PathBuf>,
    /// Print a machine-readable JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => Ok(s),
        _ => Err(format!(
            "`{text}`: give a number of seconds above 0 and at most 3600"
        )),
    }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Info(args) => info(&args),
        Command::Bench(args) => bench(&args),
        Command::Convert(args) => convert(&args),
        Command::Import(args) => import(&args),
        #[cfg(feature = "train")]
        Command::Train(args) => {
            // Progress and the result are reported on stderr as training runs.
            return match args.run() {
                Ok(_) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            };
        }
    };
    match result {
        Ok(report) => print_report(&report),
        Err(error) => {
            // Errors quote the file (an unknown activation's name, say).
            eprintln!("error: {}", printable(&error.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// Writes the report to stdout. A reader that stops early (`| head`) ends the
/// program quietly; any other write error is reported.
fn print_report(report: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(report.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the report: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Loads a model and checks that it builds into something playable.
fn load(path: &Path) -> Result<(NamFile, String), Error> {
    let file = NamFile::load(path)?;
    let name = path.display().to_string();
    Model::build(&file, BuildOptions::default()).map_err(|source| Error::Build {
        file: name.clone(),
        source,
    })?;
    Ok((file, name))
}

/// The `info` report.
fn info(args: &InfoArgs) -> Result<String, Error> {
    let (file, name) = load(&args.model)?;
    let info = ModelInfo::from_file(&file);
    if args.json {
        let mut json = serde_json::Map::new();
        json.insert("file".into(), name.into());
        if let serde_json::Value::Object(fields) = info.to_json() {
            json.extend(fields);
        }
        Ok(format!("{:#}\n", serde_json::Value::Object(json)))
    } else {
        Ok(format!("file:             {name}\n{}", info.render()))
    }
}

/// `convert`: writes the converted model, reports what it wrote.
fn convert(args: &ConvertArgs) -> Result<String, Error> {
    let (file, name) = load(&args.input)?;
    let output = args.output.display().to_string();
    let extension = args
        .output
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let target = match extension.as_deref() {
        Some("nam") => ModelFormat::Nam,
        Some("json" | "aidax") => ModelFormat::RtNeural,
        _ => {
            return Err(Error::Convert(format!(
                "{output}: name the output .nam, .json or .aidax to choose its format"
            )))
        }
    };
    let converted = nam_tools::convert::convert(&file, target).map_err(|reason| {
        Error::Convert(format!(
            "{name}: cannot convert to {}: {reason}",
            target.name()
        ))
    })?;
    converted
        .save(&args.output)
        .map_err(|e| Error::Convert(format!("{output}: cannot write: {e}")))?;
    Ok(format!(
        "{name} ({}) -> {output} ({})\n",
        file.format().name(),
        target.name()
    ))
}

/// `import`: writes the imported model, reports what it wrote.
fn import(args: &ImportArgs) -> Result<String, Error> {
    let file = nam_tools::ckpt::import(
        &args.checkpoint,
        &args.submodel_checkpoints,
        args.config.as_deref(),
    )?;
    let output = args.output.display().to_string();
    file.save(&args.output)
        .map_err(|e| Error::Convert(format!("{output}: cannot write: {e}")))?;
    Ok(format!(
        "{} -> {output} ({}, {} weights)\n",
        args.checkpoint.display(),
        file.architecture(),
        ModelInfo::from_file(&file).parameters
    ))
}

/// The `bench` report.
fn bench(args: &BenchArgs) -> Result<String, Error> {
    let (file, name) = load(&args.model)?;
    let chain = match &args.chain {
        Some(path) => ChainSource::File(path.clone()),
        None => ChainSource::Default {
            model: args.model.clone(),
            ir: args.ir.clone(),
        },
    };
    let options = BenchOptions {
        block_frames: args.block as usize,
        seconds: args.seconds,
        chain,
    };
    let report = bench::run(&file, &name, &options)?;
    if args.json {
        Ok(format!("{:#}\n", report.to_json()))
    } else {
        Ok(report.render())
    }
}
