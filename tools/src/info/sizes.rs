//! The sizes of a slimmable model (a slimmable WaveNet or a
//! `SlimmableContainer`), each with its channels, cost and receptive field.

use nam_kernel::format::{macs, slim, ModelSpec};
use serde::Serialize;

/// One size a slimmable model plays at (`Model::set_slimmable_size`, the
/// `size` setting of a `nam` node, the LV2 plugin's `model_size` control).
#[derive(Clone, Debug, Serialize)]
pub struct SizeInfo {
    /// Size values from this one ...
    pub min_value: f64,
    /// ... up to this one (exclusive) play this size; the last size also serves 1.0.
    pub max_value: f64,
    /// Residual channels of each layer array (LSTM: hidden size per layer;
    /// other architectures: empty).
    pub channels: Vec<usize>,
    /// Multiply-adds per sample at this size (see [`macs`]).
    pub multiply_adds_per_sample: u64,
    /// Receptive field at this size, in samples.
    pub receptive_field: usize,
    /// Whether this size plays by default (size 1.0: the last).
    pub default: bool,
}

/// Every size of `spec`, smallest first; empty when it is not slimmable.
pub fn sizes(spec: &ModelSpec) -> Vec<SizeInfo> {
    let sizes = slim::sizes(spec);
    let n = sizes.len();
    sizes
        .iter()
        .enumerate()
        .map(|(i, s)| SizeInfo {
            min_value: s.min_value,
            max_value: s.max_value,
            channels: channels(&s.spec),
            multiply_adds_per_sample: macs::per_sample(&s.spec),
            receptive_field: s.spec.receptive_field(),
            default: i + 1 == n,
        })
        .collect()
}

fn channels(spec: &ModelSpec) -> Vec<usize> {
    match spec {
        ModelSpec::WaveNet { config, .. } => {
            config.layer_arrays.iter().map(|a| a.channels).collect()
        }
        ModelSpec::Lstm { config, .. } => vec![config.hidden_size; config.num_layers],
        _ => Vec::new(),
    }
}
