//! ConvNet config.

use super::activation::{parse_activation, Activation};
use super::json::Node;
use super::limits::{MAX_CHANNELS, MAX_DILATION, MAX_LAYERS, MAX_RECEPTIVE_FIELD};
use crate::error::{FieldPath, FormatError};

/// Blocks of (kernel-2 dilated convolution, optional batchnorm, activation),
/// then a 1x1 head.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvNetConfig {
    /// Channels of every block.
    pub channels: usize,
    /// Dilation of each block.
    pub dilations: Vec<usize>,
    /// Whether each block has (inference-mode) batchnorm instead of a conv bias.
    pub batchnorm: bool,
    /// Activation of every block.
    pub activation: Activation,
}

impl ConvNetConfig {
    pub(crate) fn parse(node: &Node) -> Result<Self, FormatError> {
        let dilations_node = node.req("dilations")?;
        let items = dilations_node.items()?;
        if items.is_empty() {
            return Err(dilations_node.invalid("a ConvNet needs at least one block"));
        }
        if items.len() > MAX_LAYERS {
            return Err(FormatError::TooLarge {
                field: dilations_node.path.to_string(),
                value: items.len() as f64,
                limit: MAX_LAYERS as u128,
            });
        }
        let config = Self {
            channels: node.req("channels")?.as_dim(MAX_CHANNELS)?,
            dilations: items
                .iter()
                .map(|d| d.as_dim(MAX_DILATION))
                .collect::<Result<_, _>>()?,
            batchnorm: node.req("batchnorm")?.as_bool()?,
            activation: parse_activation(&node.req("activation")?)?,
        };
        config.activation.check_channels(node, config.channels)?;
        if config.receptive_field() > MAX_RECEPTIVE_FIELD {
            return Err(FormatError::TooLarge {
                field: format!("{} (receptive field)", node.path),
                value: config.receptive_field() as f64,
                limit: MAX_RECEPTIVE_FIELD as u128,
            });
        }
        Ok(config)
    }

    /// Receptive field in samples.
    pub fn receptive_field(&self) -> usize {
        1 + self.dilations.iter().sum::<usize>()
    }

    /// Input channels of block `block`.
    pub fn block_input_channels(&self, block: usize) -> usize {
        if block == 0 {
            1
        } else {
            self.channels
        }
    }

    /// Checks the weights the layout gives a meaning: each batchnorm's
    /// `running_var + eps` must be positive (the trainer never writes
    /// otherwise; the model would output only NaN).
    pub(crate) fn check_weights(
        &self,
        weights: &[f32],
        field: &FieldPath,
    ) -> Result<(), FormatError> {
        if !self.batchnorm {
            return Ok(());
        }
        let c = self.channels;
        let mut start = 0;
        for block in 0..self.dilations.len() {
            // conv weight, then running_mean, running_var, weight, bias, eps.
            let var = start + c * self.block_input_channels(block) * 2 + c;
            let eps = var + 3 * c;
            for k in var..var + c {
                let sum = f64::from(weights[k]) + f64::from(weights[eps]);
                if sum <= 0.0 {
                    return Err(field.index(k).invalid(format!(
                        "batchnorm running variance {} plus eps {} is not positive",
                        weights[k], weights[eps]
                    )));
                }
            }
            start = eps + 1;
        }
        Ok(())
    }

    /// The number of weights the config implies.
    pub fn weight_count(&self) -> usize {
        let c = self.channels;
        let blocks: usize = (0..self.dilations.len())
            .map(|b| {
                let conv = c * self.block_input_channels(b) * 2;
                conv + if self.batchnorm { 4 * c + 1 } else { c }
            })
            .sum();
        blocks + c + 1
    }
}
