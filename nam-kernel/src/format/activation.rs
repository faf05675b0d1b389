//! Activation functions as named in `.nam` files.
//!
//! Accepted forms: a bare name (`"Tanh"`, legacy files), an object with `type`
//! and parameters (`{"type": "LeakyReLU", "negative_slope": 0.01}`, current
//! exporter), or the trainer's init form with `name` instead of `type`.

use serde_json::{json, Value};

use super::json::Node;
use crate::error::FormatError;

/// One activation function with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Activation {
    /// Identity (`nn.Identity`).
    Identity,
    /// `tanh(x)`. `Fasttanh` files load as this (the trainer never writes it).
    Tanh,
    /// Clamp to `[min_val, max_val]` (PyTorch `Hardtanh`, defaults -1, 1).
    Hardtanh {
        /// Lower bound.
        min_val: f32,
        /// Upper bound.
        max_val: f32,
    },
    /// Identity inside `[min_val, max_val]`, linear with the given slopes outside.
    LeakyHardtanh {
        /// Lower knee.
        min_val: f32,
        /// Upper knee.
        max_val: f32,
        /// Slope below `min_val`.
        min_slope: f32,
        /// Slope above `max_val`.
        max_slope: f32,
    },
    /// `max(x, 0)`.
    ReLU,
    /// `x` if positive, else `negative_slope · x`.
    LeakyReLU {
        /// Slope for negative inputs (PyTorch default 0.01).
        negative_slope: f32,
    },
    /// Leaky ReLU with one learned slope, or one slope per channel.
    PReLU {
        /// One slope for every channel, or one per channel.
        negative_slopes: Vec<f32>,
    },
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `x · sigmoid(x)` (a.k.a. Swish).
    SiLU,
    /// `x · relu6(x + 3) / 6`.
    Hardswish,
    /// `relu6(x + 3) / 6`.
    Hardsigmoid,
    /// `x / (1 + |x|)`.
    Softsign,
    /// `0.5 · (1 + x / (1 + |x|))` (NAM's own).
    Softsigmoid,
    /// `x` if positive, else `alpha · (e^x − 1)`.
    ELU {
        /// Scale of the negative part (default 1).
        alpha: f32,
    },
    /// Gaussian error linear unit (exact `erf` form, or PyTorch's `tanh` approximation).
    GELU {
        /// Use the `tanh` approximation (`approximate="tanh"`).
        tanh_approximation: bool,
    },
    /// `log(1 + e^(beta·x)) / beta`, linear above `threshold`.
    Softplus {
        /// Sharpness (default 1).
        beta: f32,
        /// Linear above `beta·x > threshold` (default 20).
        threshold: f32,
    },
    /// `x · tanh(softplus(x))`.
    Mish,
}

impl Activation {
    /// The activation's name as the current exporter writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Identity => "Identity",
            Activation::Tanh => "Tanh",
            Activation::Hardtanh { .. } => "Hardtanh",
            Activation::LeakyHardtanh { .. } => "LeakyHardtanh",
            Activation::ReLU => "ReLU",
            Activation::LeakyReLU { .. } => "LeakyReLU",
            Activation::PReLU { .. } => "PReLU",
            Activation::Sigmoid => "Sigmoid",
            Activation::SiLU => "SiLU",
            Activation::Hardswish => "Hardswish",
            Activation::Hardsigmoid => "Hardsigmoid",
            Activation::Softsign => "Softsign",
            Activation::Softsigmoid => "Softsigmoid",
            Activation::ELU { .. } => "ELU",
            Activation::GELU { .. } => "GELU",
            Activation::Softplus { .. } => "Softplus",
            Activation::Mish => "Mish",
        }
    }

    /// The activation in the current exporter's JSON form (`{"type": ..., params}`).
    pub fn to_json(&self) -> Value {
        match self {
            Activation::Hardtanh { min_val, max_val } => {
                json!({"type": "Hardtanh", "min_val": min_val, "max_val": max_val})
            }
            Activation::LeakyHardtanh {
                min_val,
                max_val,
                min_slope,
                max_slope,
            } => json!({"type": "LeakyHardtanh", "min_val": min_val, "max_val": max_val,
                        "min_slope": min_slope, "max_slope": max_slope}),
            Activation::LeakyReLU { negative_slope } => {
                json!({"type": "LeakyReLU", "negative_slope": negative_slope})
            }
            Activation::PReLU { negative_slopes } if negative_slopes.len() == 1 => {
                json!({"type": "PReLU", "negative_slope": negative_slopes[0]})
            }
            Activation::PReLU { negative_slopes } => {
                json!({"type": "PReLU", "negative_slopes": negative_slopes})
            }
            Activation::ELU { alpha } => json!({"type": "ELU", "alpha": alpha}),
            Activation::GELU { tanh_approximation } => json!({"type": "GELU",
                "approximate": if *tanh_approximation { "tanh" } else { "none" }}),
            Activation::Softplus { beta, threshold } => {
                json!({"type": "Softplus", "beta": beta, "threshold": threshold})
            }
            other => json!({ "type": other.name() }),
        }
    }

    /// Checks that a per-channel activation fits a signal of `channels` channels.
    pub(crate) fn check_channels(&self, node: &Node, channels: usize) -> Result<(), FormatError> {
        if let Activation::PReLU { negative_slopes } = self {
            if negative_slopes.len() != 1 && negative_slopes.len() != channels {
                return Err(node.invalid(format!(
                    "PReLU has {} slopes but is applied to {channels} channels",
                    negative_slopes.len()
                )));
            }
        }
        Ok(())
    }
}

/// Parses one activation in any of the accepted forms.
pub(crate) fn parse_activation(node: &Node) -> Result<Activation, FormatError> {
    if let Ok(name) = node.as_str() {
        return from_name(node, name, None);
    }
    if node.value.is_object() {
        let name_node = match node.get("type")? {
            Some(n) => n,
            None => node.req("name")?,
        };
        let name = name_node.as_str()?;
        return from_name(&name_node, name, Some(node));
    }
    Err(node.invalid("expected an activation name or an object with `type`"))
}

fn param(params: Option<&Node>, key: &str, default: f32) -> Result<f32, FormatError> {
    match params {
        Some(p) => match p.get(key)? {
            Some(v) => v.as_f32(),
            None => Ok(default),
        },
        None => Ok(default),
    }
}

fn from_name(
    name_node: &Node,
    name: &str,
    params: Option<&Node>,
) -> Result<Activation, FormatError> {
    Ok(match name {
        "Identity" => Activation::Identity,
        "Tanh" | "Fasttanh" => Activation::Tanh,
        "Hardtanh" => Activation::Hardtanh {
            min_val: param(params, "min_val", -1.0)?,
            max_val: param(params, "max_val", 1.0)?,
        },
        "LeakyHardtanh" | "LeakyHardTanh" => Activation::LeakyHardtanh {
            min_val: param(params, "min_val", -1.0)?,
            max_val: param(params, "max_val", 1.0)?,
            min_slope: param(params, "min_slope", 0.01)?,
            max_slope: param(params, "max_slope", 0.01)?,
        },
        "ReLU" => Activation::ReLU,
        "LeakyReLU" => Activation::LeakyReLU {
            negative_slope: param(params, "negative_slope", 0.01)?,
        },
        "PReLU" => {
            let slopes = match params
                .map(|p| p.get("negative_slopes"))
                .transpose()?
                .flatten()
            {
                Some(list) => list
                    .items()?
                    .iter()
                    .map(|n| n.as_f32())
                    .collect::<Result<Vec<_>, _>>()?,
                None => vec![param(params, "negative_slope", 0.25)?],
            };
            if slopes.is_empty() {
                return Err(name_node.invalid("PReLU needs at least one slope"));
            }
            Activation::PReLU {
                negative_slopes: slopes,
            }
        }
        "Sigmoid" => Activation::Sigmoid,
        "SiLU" | "Swish" => Activation::SiLU,
        "Hardswish" => Activation::Hardswish,
        "Hardsigmoid" => Activation::Hardsigmoid,
        "Softsign" => Activation::Softsign,
        "Softsigmoid" => Activation::Softsigmoid,
        "ELU" => Activation::ELU {
            alpha: param(params, "alpha", 1.0)?,
        },
        "GELU" => {
            let approximate = match params.map(|p| p.get("approximate")).transpose()?.flatten() {
                Some(v) => v.as_str()?.to_owned(),
                None => "none".to_owned(),
            };
            match approximate.as_str() {
                "none" => Activation::GELU {
                    tanh_approximation: false,
                },
                "tanh" => Activation::GELU {
                    tanh_approximation: true,
                },
                other => {
                    return Err(name_node.invalid(format!("unknown GELU approximation `{other}`")))
                }
            }
        }
        "Softplus" => {
            let beta = param(params, "beta", 1.0)?;
            if beta == 0.0 {
                let at = params.map_or_else(|| name_node.path.clone(), |p| p.path.key("beta"));
                return Err(at.invalid("Softplus beta must not be 0 (every output would be NaN)"));
            }
            Activation::Softplus {
                beta,
                threshold: param(params, "threshold", 20.0)?,
            }
        }
        "Mish" => Activation::Mish,
        _ => {
            return Err(FormatError::UnknownActivation {
                field: name_node.path.to_string(),
                name: name.to_owned(),
            })
        }
    })
}
