//! The Linear training model, as the NAM trainer's `Linear`: one
//! `receptive_field`-tap convolution of the input (a learned FIR filter),
//! optionally with a bias.

use nam_kernel::format::LinearConfig;
use tch::{nn, Tensor};

use super::conv::{Conv, ConvShape};
use super::{assign, flatten};

/// A learned FIR filter whose export is in `.nam` weight order.
#[derive(Debug)]
pub struct LinearModel {
    conv: Conv,
}

impl LinearModel {
    /// Builds the filter, initialized as PyTorch's `Conv1d(1, 1, receptive_field)`.
    pub fn new(path: &nn::Path, config: &LinearConfig) -> Self {
        Self {
            conv: Conv::new(
                &(path / "conv"),
                ConvShape {
                    kernel_size: config.receptive_field,
                    ..ConvShape::pointwise(1, 1, config.bias)
                },
            ),
        }
    }

    /// `(batch, samples)` in, `(batch, samples − receptive field + 1)` out.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.conv.forward(&x.unsqueeze(1)).squeeze_dim(1)
    }

    /// The flat `.nam` weights: the taps (the last multiplies the current
    /// sample, as in the trainer), then the bias.
    pub fn export_weights(&self) -> Vec<f32> {
        let params: Vec<Tensor> = self.conv.params().map(Tensor::shallow_clone).collect();
        flatten(&params)
    }

    /// Sets the taps and bias from `.nam` weights of the right length.
    pub fn import_weights(&mut self, weights: &[f32]) {
        let mut params: Vec<Tensor> = self.conv.params().map(Tensor::shallow_clone).collect();
        assign(&mut params, weights);
    }
}
