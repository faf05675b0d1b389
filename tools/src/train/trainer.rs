//! The training loop: Adam with exponential learning-rate decay per epoch,
//! the NAM trainer's non-overlapping segments in a shuffled order, in batches,
//! validation ESR each epoch of the weights and of their running average
//! ([`super::adam`]), the best of either kept,
//! a progress bar, and a stop flag (Ctrl-C) honoured between batches. Every
//! epoch's segments and learning rate depend only on the seed and the epoch's
//! number, and the optimizer's state is saved with each checkpoint, so a
//! resumed run continues exactly as the uninterrupted one would have.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use tch::{nn, Device, Kind, Tensor};

use super::adam::{Adam, AdamState};
use super::arch::Architecture;
use super::loss::LossConfig;
use super::model::{Mode, TrainModel};
use super::parallel::{WorkerGone, Workers};
use super::validation::Validation;

/// Where to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceChoice {
    /// The CPU.
    Cpu,
    /// The first CUDA GPU (needs a CUDA libtorch).
    Cuda,
    /// CUDA when libtorch sees a GPU, else the CPU.
    Auto,
}

/// The settings of one training run.
#[derive(Clone, Debug)]
pub struct TrainSettings {
    /// Epochs to run (in total, counting a resumed run's earlier ones).
    pub epochs: usize,
    /// Adam's learning rate at epoch 0.
    pub learning_rate: f64,
    /// The learning rate is multiplied by this after every epoch.
    pub learning_rate_decay: f64,
    /// Adam's (L2) weight decay.
    pub weight_decay: f64,
    /// The decay per step of the weight average validated beside the weights
    /// each epoch; 0 keeps none.
    pub average_decay: f64,
    /// Segments per batch.
    pub batch_size: usize,
    /// Output samples per segment.
    pub segment_samples: usize,
    /// Seeds the initialization and the segment order.
    pub seed: u64,
    /// Where to train.
    pub device: DeviceChoice,
    /// CPU threads: on the CPU, more than one splits each batch between
    /// that many worker threads ([`super::parallel`]), unless the model has
    /// batchnorm (whose statistics are the whole batch's).
    pub threads: usize,
    /// The loss.
    pub loss: LossConfig,
    /// Show a progress bar.
    pub progress: bool,
}

/// Aligned training and validation data.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Training input.
    pub train_input: Vec<f32>,
    /// Training target.
    pub train_target: Vec<f32>,
    /// Validation input.
    pub validation_input: Vec<f32>,
    /// Validation target.
    pub validation_target: Vec<f32>,
}

/// Where a resumed run starts.
pub struct ResumePoint {
    /// The weights (`.nam` layout).
    pub weights: Vec<f32>,
    /// The epochs they were trained for.
    pub epochs: usize,
    /// Adam's state after those epochs; `None` starts its moments at zero.
    pub optimizer: Option<AdamState>,
}

/// What a run produced. A packed model keeps each submodel's best epoch
/// (as the NAM trainer does); the single ESR figures are those of its last
/// (largest) submodel, the one a player plays by default.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    /// The weights with the best validation ESR (`.nam` layout; a packed
    /// model's submodels one after the other, each from its best epoch).
    pub best_weights: Vec<f32>,
    /// Their validation ESR.
    pub best_validation_esr: f64,
    /// Each submodel's best validation ESR (one entry for a single model).
    pub best_validation_esrs: Vec<f64>,
    /// Where each submodel's kept weights came from.
    pub kept: Vec<Kept>,
    /// The validation ESR before training (of the initial or resumed model).
    pub initial_validation_esr: f64,
    /// Validation ESR after each epoch of this run (of the weights or their
    /// average, whichever is lower).
    pub history: Vec<f64>,
    /// Mean training loss of each epoch of this run.
    pub train_loss: Vec<f64>,
    /// Epochs completed in total (a resumed run counts the earlier ones).
    pub epochs_completed: usize,
    /// True when the stop flag ended the run early.
    pub interrupted: bool,
    /// The device trained on, in words ("the CPU", "CUDA device 0").
    pub device: String,
    /// Wall time of the loop in seconds.
    pub seconds: f64,
    /// Where that time went.
    pub phases: PhaseTimes,
}

/// Where kept weights came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// The weights the run started from (initial or resumed): no epoch
    /// validated lower.
    Start,
    /// The weights after this many epochs in all.
    Weights(usize),
    /// The weight average after this many epochs in all.
    Average(usize),
}

/// Seconds spent in each phase of a run (on the CPU every libtorch call has
/// finished when it returns; on CUDA a phase also holds queued work from the
/// one before it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhaseTimes {
    /// Cutting segments out of the audio and making batch tensors.
    pub data: f64,
    /// The model's forward pass and the loss.
    pub forward: f64,
    /// Back-propagation.
    pub backward: f64,
    /// Adam's update.
    pub optimizer: f64,
    /// Validation ESR (before training and after each epoch) and keeping the
    /// best weights.
    pub validation: f64,
}

impl PhaseTimes {
    /// `(name, seconds)` of each phase, in order.
    pub fn named(&self) -> [(&'static str, f64); 5] {
        [
            ("data", self.data),
            ("forward", self.forward),
            ("backward", self.backward),
            ("optimizer", self.optimizer),
            ("validation", self.validation),
        ]
    }
}

/// Seconds since `since`, and restarts it.
fn lap(since: &mut Instant) -> f64 {
    let now = Instant::now();
    let seconds = now.duration_since(*since).as_secs_f64();
    *since = now;
    seconds
}

/// Why training could not run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// CUDA asked for but not available.
    #[error(
        "--device cuda: libtorch sees no CUDA device (is LIBTORCH a CUDA build? see the README)"
    )]
    NoCuda,
    /// Not enough data for one segment.
    #[error("the training part has {available} samples but one segment needs {needed} (segment length + receptive field − 1); use more data or a shorter --segment-length")]
    TooLittleData {
        /// Samples available.
        available: usize,
        /// Samples needed.
        needed: usize,
    },
    /// The validation part is shorter than the receptive field.
    #[error("the validation part has {available} samples, fewer than the receptive field {needed}; raise --validation-split")]
    ValidationTooShort {
        /// Samples available.
        available: usize,
        /// Samples needed.
        needed: usize,
    },
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A saved optimizer state does not fit the model.
    #[error("the optimizer state does not fit the model: {0}")]
    OptimizerState(String),
    /// nam-kernel could not build the model to validate it.
    #[error("the trained model does not build in nam-kernel for validation: {0}")]
    Validation(#[from] nam_kernel::BuildError),
    /// The loss became NaN or infinite.
    #[error("the training loss became {0} at epoch {1}; try a lower --lr")]
    Diverged(f64, usize),
    /// A worker thread stopped.
    #[error(transparent)]
    Worker(#[from] WorkerGone),
}

/// A small seeded generator (SplitMix64) for the segment order.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1_u64 << 53) as f64
    }
}

/// The segment order's generator for `epoch` (0-based): a function of the
/// seed and the epoch only, so a resumed run draws what the uninterrupted one
/// would have.
fn epoch_rng(seed: u64, epoch: usize) -> SplitMix {
    SplitMix(seed ^ 0x6e61_6d2d_7472_6169 ^ (epoch as u64).wrapping_mul(0xd1b5_4a32_d192_ed03))
}

/// Picks the device.
pub fn select_device(choice: DeviceChoice) -> Result<Device, TrainError> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        DeviceChoice::Cuda => Err(TrainError::NoCuda),
        DeviceChoice::Auto => Ok(Device::cuda_if_available()),
    }
}

/// `device` as the summary names it.
fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "the CPU".into(),
        Device::Cuda(index) => format!("CUDA device {index}"),
        other => format!("{other:?}"),
    }
}

/// The last entry (the largest packed submodel's), or infinity.
fn headline(esrs: &[f64]) -> f64 {
    esrs.last().copied().unwrap_or(f64::INFINITY)
}

/// Each submodel's best validation ESR and weights so far.
struct BestSubmodels {
    /// `.nam` weight count of each submodel.
    counts: Vec<usize>,
    esrs: Vec<f64>,
    weights: Vec<Vec<f32>>,
    kept: Vec<Kept>,
}

impl BestSubmodels {
    fn new(counts: Vec<usize>, esrs: Vec<f64>, weights: &[f32], start: Kept) -> Self {
        let weights = Self::split(&counts, weights);
        Self {
            kept: vec![start; counts.len()],
            counts,
            esrs,
            weights,
        }
    }

    fn split(counts: &[usize], weights: &[f32]) -> Vec<Vec<f32>> {
        let mut rest = weights;
        counts
            .iter()
            .map(|&n| {
                let (mine, others) = rest.split_at(n.min(rest.len()));
                rest = others;
                mine.to_vec()
            })
            .collect()
    }

    /// Keeps each submodel's weights where its ESR improved, noting `from`.
    fn update(&mut self, esrs: &[f64], weights: &[f32], from: Kept) {
        let current = Self::split(&self.counts, weights);
        let bests = self
            .esrs
            .iter_mut()
            .zip(&mut self.weights)
            .zip(&mut self.kept);
        for (((best_esr, best), kept), (&esr, now)) in bests.zip(esrs.iter().zip(current)) {
            if esr < *best_esr {
                *best_esr = esr;
                *best = now;
                *kept = from;
            }
        }
    }

    fn weights(&self) -> Vec<f32> {
        self.weights.concat()
    }
}

/// Trains `architecture` on `data`, from `resume` if given; a packed model's
/// loss is the sum of its submodels' losses (the NAM trainer's). `stop` ends
/// the run between batches; `checkpoint` is called after each epoch with
/// `(weights, epochs completed, validation ESR of each submodel, optimizer
/// state)`.
pub fn train(
    architecture: &Architecture,
    data: &Dataset,
    settings: &TrainSettings,
    resume: Option<ResumePoint>,
    stop: &AtomicBool,
    mut checkpoint: impl FnMut(&[f32], usize, &[f64], &AdamState),
) -> Result<TrainOutcome, TrainError> {
    let device = select_device(settings.device)?;
    let rf = architecture.receptive_field();
    let window = settings.segment_samples + rf - 1;
    if data.train_input.len() < window {
        return Err(TrainError::TooLittleData {
            available: data.train_input.len(),
            needed: window,
        });
    }
    if data.validation_input.len() < rf {
        return Err(TrainError::ValidationTooShort {
            available: data.validation_input.len(),
            needed: rf,
        });
    }
    tch::manual_seed(settings.seed as i64);
    let vs = nn::VarStore::new(device);
    let mut model = TrainModel::new(&vs.root(), architecture);
    let mut optimizer = Adam::new(
        &vs,
        settings.learning_rate,
        settings.weight_decay,
        settings.average_decay,
    );
    let workers = (device == Device::Cpu && settings.threads > 1 && !architecture.has_batchnorm())
        .then(|| Workers::new(architecture, settings.threads.min(settings.batch_size)));
    let first_epoch = match resume {
        Some(point) => {
            model.import_weights(&point.weights);
            if let Some(state) = point.optimizer {
                optimizer
                    .restore(state)
                    .map_err(TrainError::OptimizerState)?;
            }
            point.epochs
        }
        None => 0,
    };
    // The NAM trainer's non-overlapping segments, every one once per epoch.
    let segments = (data.train_input.len() + 1 - rf) / settings.segment_samples;
    let batches = (segments / settings.batch_size).max(1);
    // A slimmable model trains at a random size each step, as the NAM
    // trainer's `context_adjust_to_random` (and validates at full size).
    let slimmable = model.is_slimmable();
    let validation = Validation::new(
        architecture,
        &data.validation_input,
        &data.validation_target,
    );
    let start_time = Instant::now();
    let mut phases = PhaseTimes::default();
    let mut clock = Instant::now();
    let weights = model.export_weights();
    let initial_esrs = validation.esrs(&weights)?;
    let mut best = BestSubmodels::new(
        model.submodel_weight_counts(),
        initial_esrs.clone(),
        &weights,
        Kept::Start,
    );
    phases.validation += lap(&mut clock);
    let bar = progress_bar(settings, batches, first_epoch);
    let (mut history, mut interrupted, mut epoch) = (Vec::new(), false, first_epoch);
    let mut train_loss = Vec::new();
    while epoch < settings.epochs && !interrupted {
        optimizer.set_learning_rate(
            settings.learning_rate * settings.learning_rate_decay.powi(epoch as i32),
        );
        let mut rng = epoch_rng(settings.seed, epoch);
        let order = shuffled(segments, &mut rng);
        let mut loss_sum = 0.0;
        let mut done = 0;
        for b in 0..batches {
            if stop.load(Ordering::Relaxed) {
                interrupted = true;
                break;
            }
            lap(&mut clock);
            // A batch takes the next segments of the order (from its start
            // again when there are fewer segments than one batch needs).
            let starts = (0..settings.batch_size).map(|j| {
                order[(b * settings.batch_size + j) % segments] * settings.segment_samples
            });
            let (x, y) = batch(data, settings, window, rf, starts);
            let (x, y) = (x.to_device(device), y.to_device(device));
            let slimming = if slimmable { rng.unit() } else { 1.0 };
            phases.data += lap(&mut clock);
            let (value, gradients) = match &workers {
                Some(workers) => {
                    let step =
                        workers.step(optimizer.parameters(), slimming, &x, &y, &settings.loss)?;
                    phases.forward += step.forward;
                    phases.backward += step.backward;
                    lap(&mut clock);
                    (step.loss, step.gradients)
                }
                None => {
                    model.set_slimming(slimming);
                    let loss = model
                        .outputs(&x, Mode::Train)
                        .iter()
                        .map(|pred| settings.loss.training_loss(pred, &y))
                        .reduce(|a, b| a + b)
                        .unwrap_or_else(|| Tensor::zeros([], (Kind::Float, device)));
                    phases.forward += lap(&mut clock);
                    let gradients = optimizer.gradients(&loss);
                    phases.backward += lap(&mut clock);
                    (loss.double_value(&[]), gradients)
                }
            };
            optimizer.step(&gradients);
            phases.optimizer += lap(&mut clock);
            if !value.is_finite() {
                return Err(TrainError::Diverged(value, epoch + 1));
            }
            loss_sum += value;
            done += 1;
            bar.inc(1);
            bar.set_message(format!(
                "epoch {}/{} loss {:.3e} | best val ESR {:.5}",
                epoch + 1,
                settings.epochs,
                loss_sum / done as f64,
                headline(&best.esrs)
            ));
        }
        if interrupted && done < batches {
            break;
        }
        epoch += 1;
        lap(&mut clock);
        let weights = model.export_weights();
        let esrs = validation.esrs(&weights)?;
        best.update(&esrs, &weights, Kept::Weights(epoch));
        let mut lowest = headline(&esrs);
        let mut line = format!(
            "epoch {epoch}/{}: loss {:.4e}, validation ESR {}",
            settings.epochs,
            loss_sum / done.max(1) as f64,
            shown(&esrs)
        );
        if let Some(average) = optimizer.with_average(|| model.export_weights()) {
            let average_esrs = validation.esrs(&average)?;
            best.update(&average_esrs, &average, Kept::Average(epoch));
            lowest = lowest.min(headline(&average_esrs));
            line += &format!(" (weight average {})", shown(&average_esrs));
        }
        history.push(lowest);
        train_loss.push(loss_sum / done.max(1) as f64);
        phases.validation += lap(&mut clock);
        if bar.is_hidden() && settings.progress {
            // No terminal to draw the bar on (a log file): the lines alone.
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
        checkpoint(&weights, epoch, &esrs, optimizer.state());
    }
    bar.finish_and_clear();
    Ok(TrainOutcome {
        best_weights: best.weights(),
        best_validation_esr: headline(&best.esrs),
        best_validation_esrs: best.esrs,
        kept: best.kept,
        initial_validation_esr: headline(&initial_esrs),
        history,
        train_loss,
        epochs_completed: epoch,
        interrupted,
        device: device_name(device),
        seconds: start_time.elapsed().as_secs_f64(),
        phases,
    })
}

/// Each submodel's ESR to five places, `/` between them.
fn shown(esrs: &[f64]) -> String {
    let each: Vec<String> = esrs.iter().map(|e| format!("{e:.5}")).collect();
    each.join(" / ")
}

/// `0..segments` in a random order (Fisher–Yates).
fn shuffled(segments: usize, rng: &mut SplitMix) -> Vec<usize> {
    let mut order: Vec<usize> = (0..segments).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order
}

/// The segments whose windows start at `starts`: inputs `(batch, window)`,
/// targets `(batch, segment)`. Training takes the NAM trainer's segments:
/// non-overlapping, segment `k` starting at `k · segment_samples`, every one
/// once per epoch in a shuffled order (on feather, 15 epochs, seeds 0, 2 and
/// 3 of both captures, the mean validation ESR was 4% and 15% lower than with
/// segments at uniformly random positions).
fn batch(
    data: &Dataset,
    settings: &TrainSettings,
    window: usize,
    rf: usize,
    starts: impl Iterator<Item = usize>,
) -> (Tensor, Tensor) {
    let mut xs = Vec::with_capacity(settings.batch_size * window);
    let mut ys = Vec::with_capacity(settings.batch_size * settings.segment_samples);
    for start in starts {
        xs.extend_from_slice(&data.train_input[start..start + window]);
        ys.extend_from_slice(&data.train_target[start + rf - 1..start + window]);
    }
    let b = settings.batch_size as i64;
    (
        Tensor::from_slice(&xs).reshape([b, window as i64]),
        Tensor::from_slice(&ys).reshape([b, settings.segment_samples as i64]),
    )
}

fn progress_bar(settings: &TrainSettings, batches: usize, first_epoch: usize) -> ProgressBar {
    if !settings.progress {
        return ProgressBar::hidden();
    }
    let total = (settings.epochs.saturating_sub(first_epoch) * batches) as u64;
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:30} {pos}/{len} batches [{elapsed_precise}<{eta_precise}] {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}
