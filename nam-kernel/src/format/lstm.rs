//! LSTM config.

use super::json::Node;
use super::limits::{MAX_CHANNELS, MAX_LSTM_LAYERS};
use crate::error::FormatError;

/// A stack of LSTM layers with a linear head on the last hidden state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LstmConfig {
    /// Input channels (1: the audio sample).
    pub input_size: usize,
    /// Hidden (and cell) size of every layer.
    pub hidden_size: usize,
    /// Number of stacked layers.
    pub num_layers: usize,
}

impl LstmConfig {
    pub(crate) fn parse(node: &Node) -> Result<Self, FormatError> {
        let input_size = match node.get("input_size")? {
            Some(n) => n.as_dim(MAX_CHANNELS)?,
            None => 1,
        };
        if input_size != 1 {
            return Err(node
                .path
                .key("input_size")
                .invalid(format!("is {input_size}; only mono (1) input is supported")));
        }
        Ok(Self {
            input_size,
            hidden_size: node.req("hidden_size")?.as_dim(MAX_CHANNELS)?,
            num_layers: node.req("num_layers")?.as_dim(MAX_LSTM_LAYERS)?,
        })
    }

    /// Inputs of layer `layer` (the audio for the first, the previous hidden state after).
    pub fn layer_input_size(&self, layer: usize) -> usize {
        if layer == 0 {
            self.input_size
        } else {
            self.hidden_size
        }
    }

    /// The number of weights the config implies.
    pub fn weight_count(&self) -> usize {
        let h = self.hidden_size;
        let layers: usize = (0..self.num_layers)
            .map(|l| 4 * h * (self.layer_input_size(l) + h) + 4 * h + 2 * h)
            .sum();
        layers + h + 1
    }
}
