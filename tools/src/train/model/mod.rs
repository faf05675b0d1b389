//! The training models, built in `tch` from the same config types `nam-kernel`
//! runs, with their parameters in the `.nam` weight order so that export is a
//! flat copy (`../shared/fixtures/README.md`, "weight layout").

mod activation;
mod conv;
mod convnet;
mod linear;
mod lstm;
mod slim;
mod wavenet;

use tch::{nn, Kind, Tensor};

pub use convnet::ConvNetModel;
pub use linear::LinearModel;
pub use lstm::LstmModel;
pub use wavenet::WaveNetModel;

use super::arch::Architecture;

/// How a forward pass treats layers that behave differently in training
/// (a ConvNet's batchnorm: batch statistics, updating the running ones, or
/// the running statistics the exported file holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A training step's forward pass.
    Train,
    /// The model as exported.
    Eval,
}

/// A trainable model of any architecture.
#[derive(Debug)]
pub enum TrainModel {
    /// WaveNet.
    WaveNet(WaveNetModel),
    /// LSTM.
    Lstm(LstmModel),
    /// ConvNet.
    ConvNet(ConvNetModel),
    /// Linear (FIR).
    Linear(LinearModel),
    /// WaveNets trained together (a packed model's submodels, in order).
    Packed(Vec<WaveNetModel>),
}

impl TrainModel {
    /// Creates the parameters under `path`, initialized like PyTorch's defaults
    /// (and NAM's LSTM gate biases).
    pub fn new(path: &nn::Path, architecture: &Architecture) -> Self {
        match architecture {
            Architecture::WaveNet(config) => TrainModel::WaveNet(WaveNetModel::new(path, config)),
            Architecture::Lstm(config) => TrainModel::Lstm(LstmModel::new(path, config)),
            Architecture::ConvNet(config) => TrainModel::ConvNet(ConvNetModel::new(path, config)),
            Architecture::Linear(config) => TrainModel::Linear(LinearModel::new(path, config)),
            Architecture::Packed(packed) => TrainModel::Packed(
                packed
                    .submodels
                    .iter()
                    .enumerate()
                    .map(|(i, s)| WaveNetModel::new(&(path / format!("submodel{i}")), &s.config))
                    .collect(),
            ),
        }
    }

    /// `(batch, samples)` in; one `(batch, samples − receptive field + 1)`
    /// output per submodel (one for a single model). Packed submodels share
    /// the receptive field.
    pub fn outputs(&self, x: &Tensor, mode: Mode) -> Vec<Tensor> {
        match self {
            TrainModel::WaveNet(m) => vec![m.forward(x)],
            TrainModel::Lstm(m) => vec![m.forward(x)],
            TrainModel::ConvNet(m) => vec![m.forward(x, mode)],
            TrainModel::Linear(m) => vec![m.forward(x)],
            TrainModel::Packed(models) => models.iter().map(|m| m.forward(x)).collect(),
        }
    }

    /// Plays slimmable WaveNet arrays at size value `value` (1: full size)
    /// in the forward passes that follow; other models ignore it.
    pub fn set_slimming(&mut self, value: f64) {
        match self {
            TrainModel::WaveNet(m) => m.set_slimming(value),
            TrainModel::Packed(models) => models.iter_mut().for_each(|m| m.set_slimming(value)),
            TrainModel::Lstm(_) | TrainModel::ConvNet(_) | TrainModel::Linear(_) => {}
        }
    }

    /// Whether a training step plays it at a random size (a slimmable WaveNet).
    pub fn is_slimmable(&self) -> bool {
        match self {
            TrainModel::WaveNet(m) => m.is_slimmable(),
            TrainModel::Packed(models) => models.iter().any(WaveNetModel::is_slimmable),
            _ => false,
        }
    }

    /// The `.nam` weight count of each submodel (one entry for a single model).
    pub fn submodel_weight_counts(&self) -> Vec<usize> {
        match self {
            TrainModel::Packed(models) => models.iter().map(WaveNetModel::weight_count).collect(),
            single => vec![single.export_weights().len()],
        }
    }

    /// The flat `.nam` weight vector (a packed model's submodels' one after
    /// the other).
    pub fn export_weights(&self) -> Vec<f32> {
        match self {
            TrainModel::WaveNet(m) => m.export_weights(),
            TrainModel::Lstm(m) => m.export_weights(),
            TrainModel::ConvNet(m) => m.export_weights(),
            TrainModel::Linear(m) => m.export_weights(),
            TrainModel::Packed(models) => models.iter().flat_map(|m| m.export_weights()).collect(),
        }
    }

    /// Sets the parameters from a flat `.nam` weight vector of the right length.
    pub fn import_weights(&mut self, weights: &[f32]) {
        match self {
            TrainModel::WaveNet(m) => m.import_weights(weights),
            TrainModel::Lstm(m) => m.import_weights(weights),
            TrainModel::ConvNet(m) => m.import_weights(weights),
            TrainModel::Linear(m) => m.import_weights(weights),
            TrainModel::Packed(models) => {
                let mut rest = weights;
                for m in models {
                    let (mine, others) = rest.split_at(m.weight_count().min(rest.len()));
                    m.import_weights(mine);
                    rest = others;
                }
            }
        }
    }
}

/// Concatenates tensors, flattened, into one `f32` vector on the CPU.
fn flatten(tensors: &[Tensor]) -> Vec<f32> {
    let flat: Vec<Tensor> = tensors.iter().map(|t| t.detach().flatten(0, -1)).collect();
    let all = Tensor::cat(&flat, 0)
        .to_kind(Kind::Float)
        .to_device(tch::Device::Cpu);
    Vec::<f32>::try_from(&all).unwrap_or_default()
}

/// Copies consecutive runs of `weights` into `params` (in order); returns the
/// count consumed.
fn assign(params: &mut [Tensor], weights: &[f32]) -> usize {
    let _guard = tch::no_grad_guard();
    let mut at = 0;
    for p in params.iter_mut() {
        let n = p.numel();
        let src = Tensor::from_slice(&weights[at..at + n])
            .reshape(p.size())
            .to_device(p.device());
        p.copy_(&src);
        at += n;
    }
    at
}

/// A PyTorch-default uniform init with bound `1/sqrt(fan_in)`.
fn default_init(fan_in: usize) -> nn::Init {
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    nn::Init::Uniform {
        lo: -bound,
        up: bound,
    }
}
