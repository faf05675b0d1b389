//! The `train` subcommand: options, data checks and alignment, training,
//! checkpoints, export.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use nam_kernel::format::ModelSpec;
use nam_kernel::{LoadError, NamFile};
use serde_json::json;

use super::adam::AdamState;
use super::align::{self, Latency};
use super::arch::{
    check_convnet, check_wavenet, ArchError, Architecture, PackedConfig, PackedSubmodel,
};
use super::capture_signal;
use super::data::{self, DataError};
use super::export::{self, UserMetadata};
use super::learned_config;
use super::loss::{LossConfig, LossKind};
use super::plot::{self, PlotData, PlotError};
use super::run_record::{self, Recorded, RunFacts};
use super::trainer::{
    self, Dataset, DeviceChoice, Kept, ResumePoint, TrainError, TrainOutcome, TrainSettings,
};
use super::validation;
use super::verdict;

/// Gear types the NAM trainer knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[allow(missing_docs)]
pub enum GearType {
    Amp,
    Pedal,
    PedalAmp,
    AmpCab,
    AmpPedalCab,
    Preamp,
    Studio,
}

/// Tone types the NAM trainer knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
#[allow(missing_docs)]
pub enum ToneType {
    Clean,
    Overdrive,
    Crunch,
    HiGain,
    Fuzz,
}

/// `nam-tools train` options.
#[derive(Clone, Debug, clap::Args)]
pub struct TrainArgs {
    /// The dry (DI) recording sent into the gear.
    #[arg(long)]
    pub input: PathBuf,
    /// The gear's output recorded from that input.
    #[arg(long)]
    pub target: PathBuf,
    /// A preset: packed (the NAM trainer 0.13's default: A2 at 3 and 8
    /// channels trained together, written as a SlimmableContainer), a2,
    /// a2_lite, standard, lite, feather, nano; or a JSON config file: the NAM
    /// trainer's model config (WaveNet, LSTM, ConvNet, Linear, PackedWaveNet)
    /// or a `.nam`-shaped `{"architecture", "config"}`.
    #[arg(long, default_value = "standard")]
    pub arch: String,
    /// The `.nam` file to write.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Epochs (in total, counting a resumed run's).
    #[arg(long, default_value_t = 100)]
    pub epochs: usize,
    /// Adam learning rate [default: the --arch config file's `optimizer.lr`,
    /// else 0.004, the NAM trainer's].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Learning-rate decay per epoch, ExponentialLR gamma [default: the
    /// config file's, else 0.994].
    #[arg(long)]
    pub lr_decay: Option<f64>,
    /// Adam weight decay [default: the config file's, else 3.17e-7].
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Decay per step of the weight average (an exponential moving average
    /// of the weights) validated beside the weights after each epoch; the
    /// lower of the two is kept [default: 0.99; 0 keeps no average, as the
    /// NAM trainer].
    #[arg(long)]
    pub average_decay: Option<f64>,
    /// Segments per batch [default: 16].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Output samples per training segment [default: 8192].
    #[arg(long)]
    pub segment_length: Option<usize>,
    /// Seed of the initialization and segment order [default: 0].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Fraction of the files, at their end, kept for validation [default: 0.1].
    #[arg(long)]
    pub validation_split: Option<f64>,
    /// Where to train.
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceChoice,
    /// Continue from a checkpoint or `.nam` written by `nam-tools train`
    /// (its architecture and weights; --arch is then ignored), with the
    /// settings the file records for every option not given again.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Latency of the target in samples, instead of detecting it.
    #[arg(long, allow_hyphen_values = true)]
    pub latency: Option<i64>,
    /// Also write a PNG: target vs prediction on the loudest 50 ms of the
    /// validation audio, and the loss per epoch.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// The main loss [default: mse].
    #[arg(long, value_enum)]
    pub loss: Option<LossKind>,
    /// Add an MSE term on pre-emphasized signals with this coefficient (e.g.
    /// 0.85) [default: the config file's `loss.pre_emph_coef`, else none].
    #[arg(long)]
    pub pre_emphasis: Option<f64>,
    /// Weight of the pre-emphasized MSE term [default: the config file's
    /// `loss.pre_emph_weight`, else 1].
    #[arg(long)]
    pub pre_emphasis_weight: Option<f64>,
    /// Add a multi-resolution STFT term with this weight [default: the
    /// config file's `loss.mrstft_weight` (the packed preset's: 5e-4), else
    /// none; 0 turns it off].
    #[arg(long)]
    pub mrstft_weight: Option<f64>,
    /// Add a multi-resolution STFT term on pre-emphasized signals with this
    /// coefficient (the NAM trainer 0.12's default: 0.85) [default: the config
    /// file's `loss.pre_emph_mrstft_coef`, else none].
    #[arg(long)]
    pub pre_emphasis_mrstft: Option<f64>,
    /// Weight of the pre-emphasized STFT term [default: the config file's
    /// `loss.pre_emph_mrstft_weight`, else 2e-4, the NAM trainer 0.12's].
    #[arg(long)]
    pub pre_emphasis_mrstft_weight: Option<f64>,
    /// CPU threads (default: libtorch's choice, the machine's cores). On the
    /// CPU, two or more split each batch between that many worker threads,
    /// each running libtorch single-threaded (a ConvNet with batchnorm uses
    /// libtorch's own threads instead).
    #[arg(long)]
    pub threads: Option<i32>,
    /// No progress bar or per-epoch lines.
    #[arg(long)]
    pub quiet: bool,
    /// Metadata: model name.
    #[arg(long)]
    pub name: Option<String>,
    /// Metadata: who made the capture.
    #[arg(long)]
    pub modeled_by: Option<String>,
    /// Metadata: gear type.
    #[arg(long, value_enum)]
    pub gear_type: Option<GearType>,
    /// Metadata: gear manufacturer.
    #[arg(long)]
    pub gear_make: Option<String>,
    /// Metadata: gear model.
    #[arg(long)]
    pub gear_model: Option<String>,
    /// Metadata: tone type.
    #[arg(long, value_enum)]
    pub tone_type: Option<ToneType>,
}

/// Why `train` failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Bad data.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Bad architecture.
    #[error(transparent)]
    Arch(#[from] ArchError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The resume file cannot be used.
    #[error("--resume {file}: {problem}")]
    Resume {
        /// The file.
        file: String,
        /// Why.
        problem: String,
    },
    /// An option is out of range.
    #[error("{0}")]
    Option(String),
    /// No latency found.
    #[error("no response of the target to the input was found within -{} to +{} samples; check the files or give --latency", align::LOOKAHEAD, align::LOOKBACK)]
    NoLatency,
    /// The plot cannot be written.
    #[error(transparent)]
    Plot(#[from] PlotError),
    /// The model cannot be built for export.
    #[error("the trained model cannot be built: {0}")]
    Build(#[from] nam_kernel::BuildError),
    /// Writing a file failed.
    #[error("{file}: cannot write: {source}")]
    Write {
        /// The file.
        file: String,
        /// The error.
        source: std::io::Error,
    },
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The latency removed.
    pub latency: Latency,
    /// The training outcome.
    pub outcome: TrainOutcome,
    /// The exported file.
    pub output: PathBuf,
    /// The plot written, if asked for.
    pub plot: Option<PathBuf>,
    /// When the latency was doubtful: the model's validation ESR against the
    /// target shifted by the latency and against the unshifted target.
    pub shifted_vs_unshifted_esr: Option<(f64, f64)>,
}

/// Default segments per batch (the NAM trainer's).
const DEFAULT_BATCH_SIZE: usize = 16;
/// Default output samples per segment (the NAM trainer's).
const DEFAULT_SEGMENT_LENGTH: usize = 8192;
/// Default fraction of the files kept for validation.
const DEFAULT_VALIDATION_SPLIT: f64 = 0.1;
/// Default learning rate (the NAM trainer's).
const DEFAULT_LR: f64 = 0.004;
/// Default learning-rate decay per epoch (the NAM trainer's).
const DEFAULT_LR_DECAY: f64 = 0.994;
/// Default Adam weight decay (the NAM trainer's).
const DEFAULT_WEIGHT_DECAY: f64 = 3.17e-7;
/// The weight average's decay per step: about the last 100 steps (three
/// epochs of `../shared/data` at batch 16). On A2, 100 epochs, seed 0 it
/// validated lower than 0.995 and 0.998 in 64 of the 71 epochs from 30 on.
const DEFAULT_AVERAGE_DECAY: f64 = 0.99;
/// Default weight of a pre-emphasized MSE term.
const DEFAULT_PRE_EMPHASIS_WEIGHT: f64 = 1.0;
/// Default weight of a pre-emphasized STFT term (the NAM trainer 0.12's).
const DEFAULT_PRE_EMPHASIS_MRSTFT_WEIGHT: f64 = 2e-4;

/// A pre-emphasized loss term's `(coefficient, weight)`: the options' coefficient
/// and weight where given, else the config file's, else the default weight; off
/// without a coefficient or at weight 0.
fn optional_term(
    coef: Option<f64>,
    weight: Option<f64>,
    from_config: Option<(f64, f64)>,
    default_weight: f64,
) -> Option<(f64, f64)> {
    let coef = coef.or(from_config.map(|(coef, _)| coef))?;
    let weight = weight
        .or(from_config.map(|(_, weight)| weight))
        .unwrap_or(default_weight);
    (weight != 0.0).then_some((coef, weight))
}

/// libtorch's own choice of CPU threads (the machine's cores), as it was
/// before this process first changed it.
fn default_threads() -> i32 {
    static DEFAULT: OnceLock<i32> = OnceLock::new();
    *DEFAULT.get_or_init(tch::get_num_threads)
}

impl TrainArgs {
    /// The fraction of the files kept for validation: the option, else
    /// the resumed run's, else the default.
    fn validation_split(&self, recorded: &Recorded) -> Result<f64, CommandError> {
        let split = self
            .validation_split
            .or(recorded.validation_split)
            .unwrap_or(DEFAULT_VALIDATION_SPLIT);
        if split > 0.0 && split < 1.0 {
            Ok(split)
        } else {
            Err(CommandError::Option(format!(
                "--validation-split must be between 0 and 1 (exclusive), not {split}"
            )))
        }
    }

    /// The settings: options given, else the resumed run's or the config
    /// file's, else the defaults.
    fn settings(&self, recorded: &Recorded) -> Result<TrainSettings, CommandError> {
        let positive = |v: usize, name: &str| {
            if v == 0 {
                Err(CommandError::Option(format!("--{name} must be at least 1")))
            } else {
                Ok(v)
            }
        };
        let from_config = &recorded.config;
        let lr = self.lr.or(from_config.learning_rate).unwrap_or(DEFAULT_LR);
        let lr_decay = self
            .lr_decay
            .or(from_config.learning_rate_decay)
            .unwrap_or(DEFAULT_LR_DECAY);
        let weight_decay = self
            .weight_decay
            .or(from_config.weight_decay)
            .unwrap_or(DEFAULT_WEIGHT_DECAY);
        if !(lr > 0.0 && lr.is_finite() && lr_decay > 0.0 && lr_decay <= 1.0) {
            return Err(CommandError::Option(
                "--lr must be positive and --lr-decay in (0, 1]".into(),
            ));
        }
        let average_decay = self
            .average_decay
            .or(recorded.average_decay)
            .unwrap_or(DEFAULT_AVERAGE_DECAY);
        if !(0.0..1.0).contains(&average_decay) {
            return Err(CommandError::Option(format!(
                "--average-decay must be in [0, 1) (0 keeps no weight average), not {average_decay}"
            )));
        }
        for (weight, coef, from_config, option) in [
            (
                self.pre_emphasis_weight,
                self.pre_emphasis,
                from_config.pre_emphasis,
                "pre-emphasis",
            ),
            (
                self.pre_emphasis_mrstft_weight,
                self.pre_emphasis_mrstft,
                from_config.pre_emphasis_mrstft,
                "pre-emphasis-mrstft",
            ),
        ] {
            if weight.is_some() && coef.is_none() && from_config.is_none() {
                return Err(CommandError::Option(format!(
                    "--{option}-weight needs --{option} (the pre-emphasis coefficient, e.g. 0.85)"
                )));
            }
        }
        let mrstft_weight = self
            .mrstft_weight
            .or(from_config.mrstft_weight)
            .filter(|&w| w != 0.0);
        let settings = TrainSettings {
            epochs: positive(self.epochs, "epochs")?,
            learning_rate: lr,
            learning_rate_decay: lr_decay,
            weight_decay,
            average_decay,
            batch_size: positive(
                self.batch_size
                    .or(recorded.batch_size)
                    .unwrap_or(DEFAULT_BATCH_SIZE),
                "batch-size",
            )?,
            segment_samples: positive(
                self.segment_length
                    .or(recorded.segment_length)
                    .unwrap_or(DEFAULT_SEGMENT_LENGTH),
                "segment-length",
            )?,
            seed: self.seed.or(recorded.seed).unwrap_or(0),
            device: self.device,
            threads: self.threads.map_or_else(default_threads, |n| n.max(1)) as usize,
            loss: LossConfig {
                kind: self.loss.or(recorded.loss).unwrap_or(LossKind::Mse),
                pre_emphasis: optional_term(
                    self.pre_emphasis,
                    self.pre_emphasis_weight,
                    from_config.pre_emphasis,
                    DEFAULT_PRE_EMPHASIS_WEIGHT,
                ),
                mrstft_weight,
                pre_emphasis_mrstft: optional_term(
                    self.pre_emphasis_mrstft,
                    self.pre_emphasis_mrstft_weight,
                    from_config.pre_emphasis_mrstft,
                    DEFAULT_PRE_EMPHASIS_MRSTFT_WEIGHT,
                ),
            },
            progress: !self.quiet,
        };
        let shortest = settings.loss.shortest_segment();
        if settings.segment_samples < shortest {
            return Err(CommandError::Option(format!(
                "--segment-length {} is too short for the multi-resolution STFT loss term: it takes at least {shortest} samples",
                settings.segment_samples
            )));
        }
        Ok(settings)
    }

    fn user_metadata(&self) -> UserMetadata {
        UserMetadata {
            name: self.name.clone(),
            modeled_by: self.modeled_by.clone(),
            gear_type: self.gear_type.as_ref().and_then(value_name),
            gear_make: self.gear_make.clone(),
            gear_model: self.gear_model.clone(),
            tone_type: self.tone_type.as_ref().and_then(value_name),
        }
    }

    /// The architecture, the training settings its config file gives (or,
    /// when resuming, the file records) and, when resuming, where to start:
    /// the weights, the epochs done and, when saved beside the file
    /// ([`optimizer_path`]), Adam's state.
    fn architecture(&self) -> Result<(Architecture, Recorded, Option<ResumePoint>), CommandError> {
        let Some(path) = &self.resume else {
            let (architecture, settings) = Architecture::with_settings(&self.arch)?;
            return Ok((architecture, Recorded::from_config(settings), None));
        };
        let file = path.display().to_string();
        let resume_error = |problem: String| CommandError::Resume {
            file: file.clone(),
            problem,
        };
        let nam = NamFile::load(path).map_err(|e: LoadError| resume_error(e.kind.to_string()))?;
        let recorded = Recorded::read(nam.metadata.training.as_ref());
        let (architecture, weights) = resumable(nam.spec).map_err(resume_error)?;
        let state_path = optimizer_path(path);
        let optimizer = if state_path.exists() {
            Some(
                AdamState::load(&state_path).map_err(|problem| CommandError::Resume {
                    file: state_path.display().to_string(),
                    problem,
                })?,
            )
        } else {
            if !self.quiet {
                eprintln!(
                    "no optimizer state beside it ({}): Adam's moments start from zero",
                    state_path.display()
                );
            }
            None
        };
        let point = ResumePoint {
            weights,
            epochs: recorded.epochs_completed,
            optimizer,
        };
        Ok((architecture, recorded, Some(point)))
    }

    /// Runs the whole command; Ctrl-C stops training and still exports.
    pub fn run(&self) -> Result<Summary, CommandError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        // The first Ctrl-C stops training after the current batch, the second quits.
        // Installing fails only if a handler exists already (a second run in one
        // process); training then simply cannot be interrupted, which is harmless.
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::Relaxed) {
                std::process::exit(130);
            }
            eprintln!("\nCtrl-C: stopping after this batch and exporting (again to quit now)");
        });
        self.run_with_stop(&stop)
    }

    /// [`TrainArgs::run`] with a caller-owned stop flag.
    pub fn run_with_stop(&self, stop: &AtomicBool) -> Result<Summary, CommandError> {
        let (architecture, recorded, resume) = self.architecture()?;
        let settings = self.settings(&recorded)?;
        let validation_split = self.validation_split(&recorded)?;
        tch::set_num_threads(settings.threads as i32);
        let (input, target) = data::read_pair(&self.input, &self.target)?;
        let rate = input.sample_rate_hz;
        let latency = align::detect(
            &self.input,
            &input.samples,
            &target.samples,
            rate,
            self.latency,
        )
        .ok_or(CommandError::NoLatency)?;
        let say = |line: String| {
            if !self.quiet {
                eprintln!("{line}");
            }
        };
        if self.resume.is_none() {
            for warning in architecture.warnings() {
                eprintln!("warning: {warning}");
            }
        }
        say(format!("input: {}", align::describe_input(&latency)));
        let overrun = target.samples.len() - input.samples.len();
        if overrun > 0 {
            say(format!(
                "the target is {overrun} samples longer than the input: its end is ignored"
            ));
        }
        say(format!("latency: {latency}"));
        for warning in &latency.warnings {
            eprintln!("warning: {warning}");
        }
        if let Some(detected) = &latency.signal {
            if let Some(replicate) = capture_signal::replicate_esr(
                &detected.signal,
                input.samples.len(),
                &target.samples,
            ) {
                if replicate > capture_signal::MAX_REPLICATE_ESR {
                    eprintln!("warning: {}", capture_signal::replicate_warning(replicate));
                }
            }
        }
        let (x, y) = align::apply(&input.samples, &target.samples, latency.samples);
        let validation = ((x.len() as f64) * validation_split).round() as usize;
        let split = x.len() - validation.min(x.len());
        let data = Dataset {
            train_input: x[..split].to_vec(),
            train_target: y[..split].to_vec(),
            validation_input: x[split..].to_vec(),
            validation_target: y[split..].to_vec(),
        };
        say(format!(
            "{}: {} weights, receptive field {}; {:.1} s training, {:.1} s validation at {rate} Hz",
            architecture.name(),
            architecture.weight_count(),
            architecture.receptive_field(),
            split as f64 / f64::from(rate),
            validation as f64 / f64::from(rate)
        ));
        let record = |epochs_completed: usize, device: &str| {
            let facts = RunFacts {
                architecture: if self.resume.is_some() {
                    "resumed"
                } else {
                    self.arch.as_str()
                },
                epochs_completed,
                validation_split,
                device,
            };
            run_record::record(&settings, &facts)
        };
        let device = format!("{:?}", trainer::select_device(settings.device)?);
        let checkpoint_path = checkpoint_path(&self.output);
        let write = |weights: &[f32], esrs: &[f64], mut record: serde_json::Value, path: &Path| {
            let mut file = export::nam_file(&architecture, weights.to_vec(), f64::from(rate));
            if let Architecture::Packed(_) = &architecture {
                record["validation_esr_of_each_submodel"] = json!(esrs);
            }
            let esr = esrs.last().copied().unwrap_or(f64::INFINITY);
            export::fill_metadata(
                &mut file,
                &self.user_metadata(),
                export::training_record(&latency, esr, record),
            )?;
            file.save(path).map_err(|source| CommandError::Write {
                file: path.display().to_string(),
                source,
            })
        };
        let mut checkpoint_error = None;
        let outcome = trainer::train(
            &architecture,
            &data,
            &settings,
            resume,
            stop,
            |weights, epochs, esrs, optimizer| {
                if checkpoint_error.is_none() {
                    checkpoint_error =
                        write(weights, esrs, record(epochs, &device), &checkpoint_path)
                            .and_then(|()| save_optimizer(optimizer, &checkpoint_path))
                            .err();
                }
            },
        )?;
        if let Some(error) = checkpoint_error {
            return Err(error);
        }
        if outcome.interrupted {
            say("interrupted: exporting the best model so far".into());
        }
        write(
            &outcome.best_weights,
            &outcome.best_validation_esrs,
            record(outcome.epochs_completed, &device),
            &self.output,
        )?;
        if let (Architecture::Packed(packed), false) = (&architecture, self.quiet) {
            for (s, esr) in packed.submodels.iter().zip(&outcome.best_validation_esrs) {
                eprintln!("submodel {}: validation ESR {esr:.5}", s.name);
            }
        }
        let validation_start = split;
        let shifted_vs_unshifted_esr = if latency.is_ambiguous() {
            Some(shifted_and_unshifted_esr(
                &self.output,
                &x[validation_start..],
                &target.samples,
                validation_start,
                &latency,
                architecture.receptive_field(),
            )?)
        } else {
            None
        };
        if let Some(path) = &self.plot {
            let prediction = predict(&self.output, &x[validation_start..])?;
            plot::write(
                path,
                &PlotData {
                    target: &y[validation_start..],
                    prediction: &prediction,
                    sample_rate_hz: rate,
                    train_loss: &outcome.train_loss,
                    validation_esr: &outcome.history,
                },
            )?;
        }
        let summary = Summary {
            latency,
            outcome,
            output: self.output.clone(),
            plot: self.plot.clone(),
            shifted_vs_unshifted_esr,
        };
        if !self.quiet {
            eprintln!("{}", summary.report());
        }
        Ok(summary)
    }
}

/// The architecture and weights of a model to resume: a WaveNet, an LSTM, a
/// ConvNet, a Linear, or a `SlimmableContainer` of WaveNets sharing a
/// receptive field (a packed model, as `nam-tools train` writes it).
fn resumable(spec: ModelSpec) -> Result<(Architecture, Vec<f32>), String> {
    let unimplemented = |f: String| format!("the trainer does not implement {f}");
    match spec {
        ModelSpec::WaveNet { config, weights } => {
            check_wavenet(&config).map_err(unimplemented)?;
            let weights = learned_config::training_weights(&config, &weights);
            Ok((Architecture::WaveNet(config), weights))
        }
        ModelSpec::Lstm { config, weights } => Ok((Architecture::Lstm(config), weights)),
        ModelSpec::ConvNet { config, weights } => {
            check_convnet(&config).map_err(unimplemented)?;
            Ok((Architecture::ConvNet(config), weights))
        }
        ModelSpec::Linear { config, weights } => Ok((Architecture::Linear(config), weights)),
        ModelSpec::SlimmableContainer { submodels } => {
            let mut packed = PackedConfig {
                submodels: Vec::with_capacity(submodels.len()),
                max_values: Vec::with_capacity(submodels.len()),
            };
            let mut all_weights = Vec::new();
            for (i, submodel) in submodels.into_iter().enumerate() {
                let ModelSpec::WaveNet { config, weights } = submodel.model.spec else {
                    return Err(format!("submodel {i} of the container is not a WaveNet"));
                };
                check_wavenet(&config).map_err(unimplemented)?;
                all_weights.extend(learned_config::training_weights(&config, &weights));
                packed.submodels.push(PackedSubmodel {
                    name: format!("submodel_{i}"),
                    config,
                });
                packed.max_values.push(submodel.max_value);
            }
            let rf = packed.submodels[0].config.receptive_field();
            if packed
                .submodels
                .iter()
                .any(|s| s.config.receptive_field() != rf)
            {
                return Err("the container's submodels differ in receptive field".into());
            }
            Ok((Architecture::Packed(packed), all_weights))
        }
        other => Err(format!("cannot train a {} model", other.architecture())),
    }
}

/// Where the headline (largest) submodel's kept weights came from, in words.
fn kept_words(outcome: &TrainOutcome) -> String {
    match outcome.kept.last() {
        Some(Kept::Average(epoch)) => format!("the weight average after epoch {epoch}"),
        Some(Kept::Weights(epoch)) => format!("the weights after epoch {epoch}"),
        Some(Kept::Start) | None => {
            "the weights the run started from: no epoch validated lower".into()
        }
    }
}

impl Summary {
    /// The end-of-training report for a guitarist: ESR and what it means, time,
    /// files written, the capture signal and latency.
    pub fn report(&self) -> String {
        let outcome = &self.outcome;
        let esr = outcome.best_validation_esr;
        let mut lines = vec![
            "── summary ──".to_string(),
            format!(
                "ESR {esr:.4} on the validation audio: {} (the NAM trainer's scale: {})",
                verdict::esr_verdict(esr),
                verdict::esr_scale()
            ),
            format!(
                "trained {} epoch{} in {} on {} (ESR before training {:.4}){}",
                outcome.epochs_completed,
                if outcome.epochs_completed == 1 {
                    ""
                } else {
                    "s"
                },
                duration(outcome.seconds),
                outcome.device,
                outcome.initial_validation_esr,
                if outcome.interrupted {
                    "; interrupted, the best model so far was kept"
                } else {
                    ""
                }
            ),
            format!("kept: {}", kept_words(outcome)),
            format!("time per phase: {}", phase_shares(outcome)),
            format!("model written: {}", self.output.display()),
        ];
        if let Some(plot) = &self.plot {
            lines.push(format!("plot written: {}", plot.display()));
        }
        lines.push(format!("input: {}", align::describe_input(&self.latency)));
        lines.push(format!("latency: {}", self.latency));
        if let Some((shifted, unshifted)) = self.shifted_vs_unshifted_esr {
            lines.push(format!(
                "the latency was doubtful: the model's ESR is {shifted:.4} against the target \
                 shifted by {} samples and {unshifted:.4} against the unshifted target{}",
                self.latency.samples,
                if unshifted < shifted {
                    "; the unshifted one is better: train again with --latency 0"
                } else {
                    ""
                }
            ));
        }
        lines.join("\n")
    }
}

/// Each phase's time and share of the run's, e.g. "forward 9.4 s (44%),
/// backward 10.9 s (51%), ...", the rest (checkpoints, progress) as "other".
fn phase_shares(outcome: &TrainOutcome) -> String {
    let total = outcome.seconds.max(f64::MIN_POSITIVE);
    let phases = outcome.phases.named();
    let other = total - phases.iter().map(|(_, s)| s).sum::<f64>();
    phases
        .into_iter()
        .chain([("other", other.max(0.0))])
        .map(|(name, seconds)| format!("{name} {seconds:.1} s ({:.0}%)", 100.0 * seconds / total))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `seconds` as "1 h 02 min", "3 min 20 s" or "12.3 s".
fn duration(seconds: f64) -> String {
    let whole = seconds.round() as u64;
    if whole >= 3600 {
        format!("{} h {:02} min", whole / 3600, whole % 3600 / 60)
    } else if whole >= 60 {
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        format!("{seconds:.1} s")
    }
}

/// The exported model's output for `input` (run by `nam-kernel` from zero state).
fn predict(model_file: &Path, input: &[f32]) -> Result<Vec<f32>, CommandError> {
    let file = NamFile::load(model_file).map_err(|e| CommandError::Resume {
        file: model_file.display().to_string(),
        problem: e.kind.to_string(),
    })?;
    Ok(validation::play(&file, input)?)
}

/// The model's ESR on the validation input `validation_input` (aligned input
/// from index `start` on) against the target shifted by the latency and
/// against the unshifted `target`, skipping the first `rf − 1` outputs (no
/// full context), as the validation does.
fn shifted_and_unshifted_esr(
    model_file: &Path,
    validation_input: &[f32],
    target: &[f32],
    start: usize,
    latency: &Latency,
    rf: usize,
) -> Result<(f64, f64), CommandError> {
    let prediction = predict(model_file, validation_input)?;
    // Aligned index t is original index t + lead (the input is cut when the target leads).
    let lead = (-latency.samples).max(0) as usize;
    let skip = rf.saturating_sub(1).min(prediction.len());
    let at = |shift: i64| -> Vec<f32> {
        (skip..prediction.len())
            .map(|t| {
                let index = (start + t + lead) as i64 + shift;
                usize::try_from(index)
                    .ok()
                    .and_then(|i| target.get(i))
                    .copied()
                    .unwrap_or(0.0)
            })
            .collect()
    };
    let shifted = data::esr(&prediction[skip..], &at(latency.samples));
    let unshifted = data::esr(&prediction[skip..], &at(0));
    Ok((shifted, unshifted))
}

/// The metadata spelling of an option value (`amp-cab` → `amp_cab`).
fn value_name(value: &impl clap::ValueEnum) -> Option<String> {
    value
        .to_possible_value()
        .map(|p| p.get_name().replace('-', "_"))
}

/// `model.nam` → `model.checkpoint.nam`: the latest epoch's weights, for --resume.
pub fn checkpoint_path(output: &Path) -> PathBuf {
    output.with_extension("checkpoint.nam")
}

/// `model.checkpoint.nam` → `model.checkpoint.adam`: the optimizer's state
/// saved with a checkpoint, read back by --resume.
pub fn optimizer_path(checkpoint: &Path) -> PathBuf {
    checkpoint.with_extension("adam")
}

/// Saves the optimizer's state beside the checkpoint `checkpoint`.
fn save_optimizer(state: &AdamState, checkpoint: &Path) -> Result<(), CommandError> {
    let path = optimizer_path(checkpoint);
    state.save(&path).map_err(|e| CommandError::Write {
        file: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    })
}
