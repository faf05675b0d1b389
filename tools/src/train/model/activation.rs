//! Activations of the training models, on tensors: every one nam-kernel
//! plays; a WaveNet layer's PReLU with its slopes learned ([`Learned`]).

use nam_kernel::format::Activation;
use tch::{nn, Tensor};

/// An activation and, for a PReLU, its slopes as a trainable variable (one
/// per channel, or one for all), starting from the config's values.
#[derive(Debug)]
pub struct Learned {
    activation: Activation,
    slopes: Option<Tensor>,
}

impl Learned {
    /// `activation`, its slopes (if a PReLU) created under `path`.
    pub fn new(path: &nn::Path, activation: &Activation) -> Self {
        let slopes = match activation {
            Activation::PReLU { negative_slopes } => {
                Some(path.var_copy("slopes", &Tensor::from_slice(negative_slopes)))
            }
            _ => None,
        };
        Self {
            activation: activation.clone(),
            slopes,
        }
    }

    /// Applies the activation to `(batch, channels, samples)`.
    pub fn apply(&self, x: &Tensor) -> Tensor {
        match &self.slopes {
            Some(slopes) => x.prelu(slopes),
            None => apply(&self.activation, x),
        }
    }

    /// The same activation, sharing the slopes variable.
    pub fn shallow_clone(&self) -> Self {
        Self {
            activation: self.activation.clone(),
            slopes: self.slopes.as_ref().map(Tensor::shallow_clone),
        }
    }

    /// Whether this is a plain tanh.
    pub fn is_tanh(&self) -> bool {
        matches!(self.activation, Activation::Tanh)
    }

    /// A PReLU's slopes variable.
    pub fn slopes(&self) -> Option<&Tensor> {
        self.slopes.as_ref()
    }
}

/// PyTorch's default LeakyReLU slope (what `Tensor::leaky_relu` applies).
const DEFAULT_LEAKY_SLOPE: f32 = 0.01;

/// Applies `activation` elementwise.
pub fn apply(activation: &Activation, x: &Tensor) -> Tensor {
    match activation {
        Activation::Tanh => x.tanh(),
        Activation::Hardtanh { min_val, max_val } => {
            x.clamp(f64::from(*min_val), f64::from(*max_val))
        }
        Activation::ReLU => x.relu(),
        // tch binds ATen's leaky_relu with its default slope only: one fused
        // op forward and backward (a quarter of the time of the general
        // form on A2 layers), and the op the NAM trainer's nn.LeakyReLU runs.
        Activation::LeakyReLU { negative_slope } if *negative_slope == DEFAULT_LEAKY_SLOPE => {
            x.leaky_relu()
        }
        Activation::LeakyReLU { negative_slope } => {
            x.relu() - x.neg().relu() * f64::from(*negative_slope)
        }
        Activation::Sigmoid => x.sigmoid(),
        Activation::SiLU => x.silu(),
        Activation::Hardswish => x.hardswish(),
        Activation::Hardsigmoid => x.hardsigmoid(),
        Activation::Softsign => x / (x.abs() + 1.0),
        Activation::Softsigmoid => (x / (x.abs() + 1.0) + 1.0) * 0.5,
        Activation::LeakyHardtanh {
            min_val,
            max_val,
            min_slope,
            max_slope,
        } => {
            let (min, max) = (f64::from(*min_val), f64::from(*max_val));
            x.clamp(min, max)
                + (x - min).clamp_max(0.0) * f64::from(*min_slope)
                + (x - max).clamp_min(0.0) * f64::from(*max_slope)
        }
        // tch binds `elu` and `softplus` with PyTorch's default parameters
        // only; these are their definitions.
        Activation::ELU { alpha } => x.relu() + (x.clamp_max(0.0).exp() - 1.0) * f64::from(*alpha),
        Activation::Softplus { beta, threshold } => {
            let (beta, threshold) = (f64::from(*beta), f64::from(*threshold));
            // Linear where `beta·x > threshold`; the clamp keeps `exp` finite
            // there, so the branch not taken has a finite gradient.
            let soft = (x * beta).clamp_max(threshold).exp().log1p() / beta;
            x.where_self(&(x * beta).gt(threshold), &soft)
        }
        Activation::Mish => x.mish(),
        Activation::GELU { tanh_approximation } => {
            x.gelu(if *tanh_approximation { "tanh" } else { "none" })
        }
        // A PReLU at its config's slopes (trained ones go through `Learned`).
        Activation::PReLU { negative_slopes } => {
            let slopes = Tensor::from_slice(negative_slopes).to_device(x.device());
            x.prelu(&slopes)
        }
        Activation::Identity => x.shallow_clone(),
    }
}
