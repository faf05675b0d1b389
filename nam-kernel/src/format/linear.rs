//! Linear (FIR) config.

use super::json::Node;
use super::limits::MAX_RECEPTIVE_FIELD;
use crate::error::FormatError;

/// A causal FIR filter of `receptive_field` taps, optionally with a bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearConfig {
    /// Number of taps.
    pub receptive_field: usize,
    /// Whether a bias follows the taps.
    pub bias: bool,
}

impl LinearConfig {
    pub(crate) fn parse(node: &Node) -> Result<Self, FormatError> {
        Ok(Self {
            receptive_field: node.req("receptive_field")?.as_dim(MAX_RECEPTIVE_FIELD)?,
            bias: node.req("bias")?.as_bool()?,
        })
    }

    /// The number of weights the config implies.
    pub fn weight_count(&self) -> usize {
        self.receptive_field + usize::from(self.bias)
    }
}
