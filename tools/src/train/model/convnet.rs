//! The ConvNet training model, as the NAM trainer's `ConvNet`: blocks of a
//! kernel-2 dilated convolution, batchnorm (instead of the convolution's bias,
//! when configured) and an activation, then a 1x1 head with bias.

use nam_kernel::format::{Activation, ConvNetConfig};
use tch::{nn, Tensor};

use super::conv::{Conv, ConvShape};
use super::{activation, assign, flatten, Mode};

/// PyTorch's `BatchNorm1d` defaults, which the NAM trainer's ConvNet keeps.
const BATCHNORM_EPS: f64 = 1e-5;
/// Weight of a batch's statistics in the running ones (PyTorch's default).
const BATCHNORM_MOMENTUM: f64 = 0.1;

/// Batchnorm over channels: learned scale and shift, running mean and
/// variance (updated by training forwards, used by evaluation and export).
#[derive(Debug)]
struct BatchNorm {
    weight: Tensor,
    bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
    eps: f64,
}

impl BatchNorm {
    /// Scale 1, shift 0, running mean 0 and variance 1, as PyTorch initializes them.
    fn new(path: &nn::Path, channels: usize) -> Self {
        let c = [channels as i64];
        Self {
            weight: path.var("weight", &c, nn::Init::Const(1.0)),
            bias: path.var("bias", &c, nn::Init::Const(0.0)),
            running_mean: path.zeros_no_train("running_mean", &c),
            running_var: path.ones_no_train("running_var", &c),
            eps: BATCHNORM_EPS,
        }
    }

    /// Batch statistics (and a running-statistics update) in training; the
    /// running statistics in evaluation.
    fn forward(&self, x: &Tensor, mode: Mode) -> Tensor {
        x.batch_norm(
            Some(&self.weight),
            Some(&self.bias),
            Some(&self.running_mean),
            Some(&self.running_var),
            mode == Mode::Train,
            BATCHNORM_MOMENTUM,
            self.eps,
            false,
        )
    }

    /// The `.nam` order: running mean, running variance, weight, bias, eps.
    fn export(&self) -> Vec<Tensor> {
        let eps = Tensor::from_slice(&[self.eps as f32]).to_device(self.weight.device());
        vec![
            self.running_mean.shallow_clone(),
            self.running_var.shallow_clone(),
            self.weight.shallow_clone(),
            self.bias.shallow_clone(),
            eps,
        ]
    }

    /// Sets the statistics and parameters from `.nam` weights (in
    /// [`BatchNorm::export`]'s order); returns the count consumed.
    fn import(&mut self, weights: &[f32]) -> usize {
        let mut tensors = [
            self.running_mean.shallow_clone(),
            self.running_var.shallow_clone(),
            self.weight.shallow_clone(),
            self.bias.shallow_clone(),
        ];
        let used = assign(&mut tensors, weights);
        if let Some(&eps) = weights.get(used) {
            self.eps = f64::from(eps);
        }
        used + 1
    }
}

/// One block: convolution, optional batchnorm, activation.
#[derive(Debug)]
struct Block {
    conv: Conv,
    norm: Option<BatchNorm>,
}

/// A ConvNet whose export is in `.nam` weight order.
#[derive(Debug)]
pub struct ConvNetModel {
    blocks: Vec<Block>,
    head: Conv,
    activation: Activation,
}

impl ConvNetModel {
    /// Builds the model, initialized as PyTorch initializes the NAM
    /// trainer's modules; `config`'s activation must pass `arch::check_activation`.
    pub fn new(path: &nn::Path, config: &ConvNetConfig) -> Self {
        let blocks = config
            .dilations
            .iter()
            .enumerate()
            .map(|(i, &dilation)| {
                let p = path / format!("block{i}");
                Block {
                    conv: Conv::new(
                        &(&p / "conv"),
                        ConvShape {
                            kernel_size: 2,
                            dilation,
                            ..ConvShape::pointwise(
                                config.block_input_channels(i),
                                config.channels,
                                !config.batchnorm,
                            )
                        },
                    ),
                    norm: config
                        .batchnorm
                        .then(|| BatchNorm::new(&(&p / "batchnorm"), config.channels)),
                }
            })
            .collect();
        let head = Conv::new(
            &(path / "head"),
            ConvShape::pointwise(config.channels, 1, true),
        );
        Self {
            blocks,
            head,
            activation: config.activation.clone(),
        }
    }

    /// `(batch, samples)` in, `(batch, samples − receptive field + 1)` out;
    /// batchnorm as `mode` says.
    pub fn forward(&self, x: &Tensor, mode: Mode) -> Tensor {
        let mut y = x.unsqueeze(1);
        for block in &self.blocks {
            let z = block.conv.forward(&y);
            let z = match &block.norm {
                Some(norm) => norm.forward(&z, mode),
                None => z,
            };
            y = activation::apply(&self.activation, &z);
        }
        self.head.forward(&y).squeeze_dim(1)
    }

    /// The flat `.nam` weights: per block the convolution (weight, bias
    /// without batchnorm), then the batchnorm's five; the head's weight and bias.
    pub fn export_weights(&self) -> Vec<f32> {
        let mut tensors = Vec::new();
        for block in &self.blocks {
            tensors.extend(block.conv.params().map(Tensor::shallow_clone));
            if let Some(norm) = &block.norm {
                tensors.extend(norm.export());
            }
        }
        tensors.extend(self.head.params().map(Tensor::shallow_clone));
        flatten(&tensors)
    }

    /// Sets the parameters and batchnorm statistics from `.nam` weights of
    /// the right length.
    pub fn import_weights(&mut self, weights: &[f32]) {
        let mut at = 0;
        for block in &mut self.blocks {
            let mut conv: Vec<Tensor> = block.conv.params().map(Tensor::shallow_clone).collect();
            at += assign(&mut conv, &weights[at..]);
            if let Some(norm) = &mut block.norm {
                at += norm.import(&weights[at..]);
            }
        }
        let mut head: Vec<Tensor> = self.head.params().map(Tensor::shallow_clone).collect();
        assign(&mut head, &weights[at..]);
    }
}
