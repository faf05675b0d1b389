//! Activations of the training WaveNet, on tensors (the set
//! `arch::check_wavenet` admits).

use nam_kernel::format::Activation;
use tch::Tensor;

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
        Activation::GELU { tanh_approximation } => {
            x.gelu(if *tanh_approximation { "tanh" } else { "none" })
        }
        // Identity, and nothing else reaches here (`check_wavenet` refuses it).
        _ => x.shallow_clone(),
    }
}
