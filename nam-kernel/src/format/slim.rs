//! Slimmable models at every size, as format-level transformations: a
//! slimmable WaveNet (`slice_channels_uniform`) at a size value becomes a plain,
//! smaller WaveNet config plus its sliced weight vector, which the ordinary
//! WaveNet engine runs. No math beyond copying weights.
//!
//! The semantics are the NAM trainer's (`neural-amp-modeler` 0.13,
//! `nam/models/wavenet/_slimmable_conv.py` and `_layer_array.py`):
//!
//! - A size value `v` in `[0, 1]` picks the entry `i = min(floor(v · n), n − 1)`
//!   of `allowed_channels` (`n` entries), so level `i` serves
//!   `i / n ≤ v < (i + 1) / n` and `v = 1` (the default) plays the **last**
//!   entry, which may be fewer than `channels`. Values below 0 (and NaN) are
//!   clamped here: to 0 (NaN to 1).
//! - With `c = allowed_channels[i]`, every convolution keeps its first rows and
//!   columns (`w[:out, :in, :]`, `b[:out]`): the input rechannel keeps `c`
//!   output rows (its one input channel stays); each dilated convolution keeps
//!   `c` input columns and `c` output rows, or `2c` rows when gated or blended
//!   (so the secondary half is rows `c..2c` of the full weights, not rows
//!   `B..B+c`); the input mixer keeps the same rows; the layer 1x1 keeps `c`
//!   rows and `c` columns; the head rechannel keeps `c` input columns and all
//!   its outputs. The post-stack head and `head_scale` are unchanged.
//! - The trainer only builds slimmable WaveNets with one layer array, no
//!   `condition_dsp`, no groups, no head 1x1, no FiLM and a head rechannel of
//!   kernel size 1; [`SlimmableWaveNet::new`] refuses anything else with
//!   [`SlimError`] (such a file still plays at its full weights).
//!
//! A `SlimmableContainer` is the other slimmable form: each submodel serves the
//! sizes below its `max_value` ([`sizes`] lists both kinds alike).

use super::activation::Activation;
use super::wavenet::{Gating, LayerArrayConfig, WaveNetConfig};
use super::ModelSpec;

/// Why a slimmable WaveNet cannot be sliced (the NAM trainer cannot make it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("slimmable WaveNet not sliceable: {0}")]
pub struct SlimError(pub String);

/// One size a slimmable model plays at.
#[derive(Clone, Debug)]
pub struct SlimSize {
    /// Size values from `min_value` (inclusive) ...
    pub min_value: f64,
    /// ... to `max_value` (exclusive) select this size; the last size also
    /// serves every value from its `min_value` up.
    pub max_value: f64,
    /// The model at this size: a plain (not slimmable) model.
    pub spec: ModelSpec,
}

/// The sizes of a slimmable model, smallest first: one per `allowed_channels`
/// entry of a slimmable WaveNet, one per submodel of a `SlimmableContainer`.
/// Empty for every other model, and for a slimmable WaveNet that
/// [`SlimmableWaveNet::new`] refuses.
pub fn sizes(spec: &ModelSpec) -> Vec<SlimSize> {
    match spec {
        ModelSpec::WaveNet { config, weights } => match SlimmableWaveNet::new(config, weights) {
            Ok(Some(slim)) => (0..slim.levels())
                .map(|level| {
                    let (config, weights) = slim.at_level(level);
                    let (min_value, max_value) = slim.level_range(level);
                    SlimSize {
                        min_value,
                        max_value,
                        spec: ModelSpec::WaveNet { config, weights },
                    }
                })
                .collect(),
            _ => Vec::new(),
        },
        ModelSpec::SlimmableContainer { submodels } => {
            let mut min_value = 0.0;
            submodels
                .iter()
                .map(|s| {
                    let size = SlimSize {
                        min_value,
                        max_value: s.max_value,
                        spec: s.model.spec.clone(),
                    };
                    min_value = s.max_value;
                    size
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The level `slice_channels_uniform` plays for size value `value` among
/// `levels` levels: `min(floor(value · levels), levels − 1)`, with values
/// below 0 clamped to 0 and NaN treated as 1 (full size).
pub fn uniform_level(value: f64, levels: usize) -> usize {
    let last = levels.saturating_sub(1);
    if value.is_nan() {
        return last;
    }
    let scaled = (value.max(0.0) * levels as f64).floor();
    if scaled >= last as f64 {
        last
    } else {
        scaled as usize
    }
}

/// A slimmable WaveNet that can be sliced to any of its levels.
#[derive(Clone, Debug)]
pub struct SlimmableWaveNet<'a> {
    config: &'a WaveNetConfig,
    weights: &'a [f32],
    allowed: &'a [usize],
}

impl<'a> SlimmableWaveNet<'a> {
    /// `Ok(None)` for a WaveNet without slimmable arrays; an error for a
    /// slimmable one the trainer could not have made (see the module docs).
    pub fn new(config: &'a WaveNetConfig, weights: &'a [f32]) -> Result<Option<Self>, SlimError> {
        if config.layer_arrays.iter().all(|a| a.slimmable.is_none()) {
            return Ok(None);
        }
        let unsupported = |what: &str| Err(SlimError(what.to_owned()));
        let [array] = config.layer_arrays.as_slice() else {
            return unsupported("more than one layer array");
        };
        let Some(slim) = &array.slimmable else {
            return unsupported("the layer array is not slimmable");
        };
        if config.condition_dsp.is_some() {
            return unsupported("condition_dsp");
        }
        if array.groups_input != 1 || array.groups_input_mixin != 1 {
            return unsupported("grouped input convolution or mixer");
        }
        if array.layer1x1_groups.is_some_and(|g| g != 1) {
            return unsupported("grouped layer 1x1");
        }
        if array.head1x1.is_some() {
            return unsupported("head 1x1");
        }
        if array.films.iter().any(Option::is_some) {
            return unsupported("FiLM");
        }
        if array.head.kernel_size != 1 {
            return unsupported("head rechannel kernel size other than 1");
        }
        if array.input_size != 1 {
            return unsupported("input_size other than 1");
        }
        let largest = slim.allowed_channels.iter().copied().max().unwrap_or(0);
        if largest > array.bottleneck || largest > array.channels {
            return Err(SlimError(format!(
                "allowed_channels up to {largest} exceed the bottleneck ({}) or channels ({})",
                array.bottleneck, array.channels
            )));
        }
        let per_channel = |a: &Activation| matches!(a, Activation::PReLU { negative_slopes } if negative_slopes.len() > 1);
        let per_channel_gating = |g: &Gating| match g {
            Gating::None => false,
            Gating::Gated { secondary } | Gating::Blended { secondary } => per_channel(secondary),
        };
        if array
            .layers
            .iter()
            .any(|l| per_channel(&l.activation) || per_channel_gating(&l.gating))
        {
            return unsupported("a per-channel PReLU");
        }
        if weights.len() != config.weight_count() {
            return Err(SlimError(format!(
                "{} weights for a config of {}",
                weights.len(),
                config.weight_count()
            )));
        }
        Ok(Some(Self {
            config,
            weights,
            allowed: &slim.allowed_channels,
        }))
    }

    /// Number of levels (entries of `allowed_channels`).
    pub fn levels(&self) -> usize {
        self.allowed.len()
    }

    /// The level played for size value `value`.
    pub fn level_for(&self, value: f64) -> usize {
        uniform_level(value, self.levels())
    }

    /// The size values that select `level`: `[level / n, (level + 1) / n)`.
    pub fn level_range(&self, level: usize) -> (f64, f64) {
        let n = self.levels() as f64;
        (level as f64 / n, (level + 1) as f64 / n)
    }

    /// Residual channels at `level`.
    pub fn channels_at(&self, level: usize) -> usize {
        self.allowed[level.min(self.levels() - 1)]
    }

    /// The plain WaveNet config and weights at `level` (clamped to the last).
    pub fn at_level(&self, level: usize) -> (WaveNetConfig, Vec<f32>) {
        let c = self.channels_at(level);
        let full = &self.config.layer_arrays[0];
        let array = LayerArrayConfig {
            channels: c,
            bottleneck: c,
            slimmable: None,
            ..full.clone()
        };
        let mut weights = Vec::with_capacity(self.weights.len());
        let mut cursor = Cursor {
            weights: self.weights,
            at: 0,
        };
        // Input rechannel: (channels, input_size, 1), no bias.
        cursor.slice(&mut weights, full.channels, full.input_size, 1, false, c, 1);
        for layer in &full.layers {
            let (mid_full, mid) = if layer.gating.is_paired() {
                (2 * full.bottleneck, 2 * c)
            } else {
                (full.bottleneck, c)
            };
            cursor.slice(
                &mut weights,
                mid_full,
                full.channels,
                layer.kernel_size,
                true,
                mid,
                c,
            );
            cursor.slice(
                &mut weights,
                mid_full,
                full.condition_size,
                1,
                false,
                mid,
                full.condition_size,
            );
            if full.layer1x1_groups.is_some() {
                cursor.slice(&mut weights, full.channels, full.bottleneck, 1, true, c, c);
            }
        }
        let head = full.head;
        cursor.slice(
            &mut weights,
            head.out_channels,
            full.bottleneck,
            head.kernel_size,
            head.bias,
            head.out_channels,
            c,
        );
        // The post-stack head and head_scale are not slimmed.
        weights.extend_from_slice(&self.weights[cursor.at..]);
        let config = WaveNetConfig {
            layer_arrays: vec![array],
            ..self.config.clone()
        };
        debug_assert_eq!(weights.len(), config.weight_count());
        (config, weights)
    }
}

/// Reads convolutions from a full weight vector in `.nam` order.
struct Cursor<'a> {
    weights: &'a [f32],
    at: usize,
}

impl Cursor<'_> {
    /// Copies `w[:keep_out, :keep_in, :]` (and `b[:keep_out]`) of the next
    /// convolution, PyTorch layout `(out, in, k)` then bias, into `dst`.
    #[allow(clippy::too_many_arguments)]
    fn slice(
        &mut self,
        dst: &mut Vec<f32>,
        out: usize,
        inp: usize,
        k: usize,
        bias: bool,
        keep_out: usize,
        keep_in: usize,
    ) {
        let w = &self.weights[self.at..self.at + out * inp * k];
        for o in 0..keep_out {
            let row = &w[o * inp * k..(o + 1) * inp * k];
            dst.extend_from_slice(&row[..keep_in * k]);
        }
        self.at += out * inp * k;
        if bias {
            dst.extend_from_slice(&self.weights[self.at..self.at + keep_out]);
            self.at += out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_level_is_the_trainers_floor_rule() {
        assert_eq!(uniform_level(0.0, 3), 0);
        assert_eq!(uniform_level(0.33, 3), 0);
        assert_eq!(uniform_level(1.0 / 3.0, 3), 1);
        assert_eq!(uniform_level(0.66, 3), 1);
        assert_eq!(uniform_level(2.0 / 3.0, 3), 2);
        assert_eq!(uniform_level(1.0, 3), 2);
        assert_eq!(uniform_level(7.0, 3), 2);
        assert_eq!(uniform_level(-1.0, 3), 0);
        assert_eq!(uniform_level(f64::NAN, 3), 2);
        assert_eq!(uniform_level(0.5, 1), 0);
    }
}
