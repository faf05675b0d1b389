//! WaveNet config: both the legacy 0.5 layout and the current trainer's.

use super::activation::{parse_activation, Activation};
use super::json::Node;
use super::limits::{
    MAX_CHANNELS, MAX_DILATION, MAX_KERNEL_SIZE, MAX_LAYERS, MAX_LAYER_ARRAYS, MAX_RECEPTIVE_FIELD,
};
use super::{ModelSpec, NamFile};
use crate::error::FormatError;

/// A WaveNet: layer arrays, an optional post-stack head and an optional
/// condition DSP.
#[derive(Clone, Debug)]
pub struct WaveNetConfig {
    /// The layer arrays, run in order.
    pub layer_arrays: Vec<LayerArrayConfig>,
    /// The post-stack head, applied after `head_scale`.
    pub post_head: Option<PostHeadConfig>,
    /// `head_scale` as written in the config (the last weight is authoritative).
    pub head_scale: f32,
    /// A nested model that turns the input into the condition signal.
    pub condition_dsp: Option<Box<NamFile>>,
}

/// One layer array.
#[derive(Clone, Debug)]
pub struct LayerArrayConfig {
    /// Channels entering the array (1 for the first, else the previous `channels`).
    pub input_size: usize,
    /// Channels of the condition signal.
    pub condition_size: usize,
    /// Residual channels.
    pub channels: usize,
    /// Channels after the activation (defaults to `channels`).
    pub bottleneck: usize,
    /// The layers.
    pub layers: Vec<LayerConfig>,
    /// The head rechannel at the end of the array.
    pub head: ArrayHeadConfig,
    /// Groups of the dilated convolution.
    pub groups_input: usize,
    /// Groups of the input mixer.
    pub groups_input_mixin: usize,
    /// `Some(groups)` when the layer 1x1 is active.
    pub layer1x1_groups: Option<usize>,
    /// The head 1x1, when active.
    pub head1x1: Option<Head1x1Config>,
    /// FiLM modulation at each position (indexed by [`FilmPosition`]).
    pub films: [Option<FilmConfig>; 8],
    /// Channel slimming, if the array was trained slimmable.
    pub slimmable: Option<SlimmableConfig>,
}

/// One dilated layer.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerConfig {
    /// Taps of the dilated convolution.
    pub kernel_size: usize,
    /// Dilation of the convolution.
    pub dilation: usize,
    /// The (primary) activation.
    pub activation: Activation,
    /// Gating: none, gated or blended with a secondary activation.
    pub gating: Gating,
}

impl LayerConfig {
    /// Frames before the newest one that the dilated convolution reads:
    /// `(kernel_size − 1) · dilation`.
    pub fn lookback(&self) -> usize {
        (self.kernel_size - 1) * self.dilation
    }
}

/// How the two halves of a paired convolution output combine.
#[derive(Clone, Debug, PartialEq)]
pub enum Gating {
    /// Plain activation on `bottleneck` channels.
    None,
    /// `primary(a) · secondary(b)`.
    Gated {
        /// The gate.
        secondary: Activation,
    },
    /// `secondary(b) · primary(a) + (1 − secondary(b)) · a`.
    Blended {
        /// The blend amount.
        secondary: Activation,
    },
}

impl Gating {
    /// True when the convolution produces two halves.
    pub fn is_paired(&self) -> bool {
        !matches!(self, Gating::None)
    }
}

/// The head rechannel of a layer array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayHeadConfig {
    /// Output channels.
    pub out_channels: usize,
    /// Taps.
    pub kernel_size: usize,
    /// Dilation (NeuralAmpModelerCore extension; 1 in trainer files).
    pub dilation: usize,
    /// Whether it has a bias.
    pub bias: bool,
}

impl ArrayHeadConfig {
    /// Frames before the newest one that each output frame reads:
    /// `(kernel_size − 1) · dilation`.
    pub fn lookback(&self) -> usize {
        (self.kernel_size - 1) * self.dilation
    }
}

/// The head 1x1 convolution of each layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head1x1Config {
    /// Output channels.
    pub out_channels: usize,
    /// Groups.
    pub groups: usize,
}

/// A FiLM modulation: `scale · x (+ shift)` from a 1x1 convolution of the condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilmConfig {
    /// Whether a shift is added.
    pub shift: bool,
    /// Groups of its convolution.
    pub groups: usize,
}

/// Where a FiLM applies inside a layer, in weight order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilmPosition {
    /// On the layer input, before the dilated convolution.
    ConvPre = 0,
    /// On the dilated convolution's output.
    ConvPost,
    /// On the condition, before the input mixer.
    InputMixinPre,
    /// On the input mixer's output.
    InputMixinPost,
    /// On the pre-activation sum.
    ActivationPre,
    /// On the activation output.
    ActivationPost,
    /// On the layer 1x1 output.
    Layer1x1Post,
    /// On the head 1x1 output.
    Head1x1Post,
}

impl FilmPosition {
    /// All positions in weight order.
    pub const ALL: [FilmPosition; 8] = [
        FilmPosition::ConvPre,
        FilmPosition::ConvPost,
        FilmPosition::InputMixinPre,
        FilmPosition::InputMixinPost,
        FilmPosition::ActivationPre,
        FilmPosition::ActivationPost,
        FilmPosition::Layer1x1Post,
        FilmPosition::Head1x1Post,
    ];

    /// The config key.
    pub fn key(self) -> &'static str {
        [
            "conv_pre_film",
            "conv_post_film",
            "input_mixin_pre_film",
            "input_mixin_post_film",
            "activation_pre_film",
            "activation_post_film",
            "layer1x1_post_film",
            "head1x1_post_film",
        ][self as usize]
    }
}

/// The slimmable settings of a layer array (`slice_channels_uniform`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlimmableConfig {
    /// Channel counts the array may be sliced to, ascending.
    pub allowed_channels: Vec<usize>,
    /// The NAM trainer's `boosting` (a training option; playing ignores it):
    /// a size's loss leaves the weights of the next smaller size untrained.
    pub boosting: bool,
    /// The NAM trainer's `init_strategy` as written (a training option;
    /// playing ignores it): `smallest_and_zeros` or `channel_causal`.
    pub init_strategy: Option<String>,
}

/// The post-stack head: `kernel_sizes.len()` blocks of activation then convolution.
#[derive(Clone, Debug, PartialEq)]
pub struct PostHeadConfig {
    /// Hidden channels.
    pub channels: usize,
    /// Output channels of the last block.
    pub out_channels: usize,
    /// Taps of each block's convolution.
    pub kernel_sizes: Vec<usize>,
    /// Activation before each convolution.
    pub activation: Activation,
}

impl LayerArrayConfig {
    /// Channels leaving the dilated convolution (doubled when gated or blended).
    pub fn mid_channels(&self, layer: &LayerConfig) -> usize {
        if layer.gating.is_paired() {
            2 * self.bottleneck
        } else {
            self.bottleneck
        }
    }

    /// Channels each layer adds into the head sum.
    pub fn head_term_channels(&self) -> usize {
        self.head1x1.map_or(self.bottleneck, |h| h.out_channels)
    }

    /// The FiLM at `position`, if active.
    pub fn film(&self, position: FilmPosition) -> Option<FilmConfig> {
        self.films[position as usize]
    }

    /// Channels a FiLM at `position` modulates.
    pub fn film_dim(&self, position: FilmPosition, layer: &LayerConfig) -> usize {
        match position {
            FilmPosition::ConvPre | FilmPosition::Layer1x1Post => self.channels,
            FilmPosition::InputMixinPre => self.condition_size,
            FilmPosition::ConvPost | FilmPosition::InputMixinPost | FilmPosition::ActivationPre => {
                self.mid_channels(layer)
            }
            FilmPosition::ActivationPost => self.bottleneck,
            FilmPosition::Head1x1Post => self.head_term_channels(),
        }
    }

    /// Receptive field of the array (layers plus head rechannel), in samples.
    pub fn receptive_field(&self) -> usize {
        let layers: usize = self.layers.iter().map(LayerConfig::lookback).sum();
        1 + layers + self.head.lookback()
    }

    fn weight_count(&self) -> usize {
        let conv = |cin: usize, cout: usize, k: usize, groups: usize, bias: bool| {
            cout * (cin / groups) * k + if bias { cout } else { 0 }
        };
        let mut n = conv(self.input_size, self.channels, 1, 1, false);
        for layer in &self.layers {
            let mid = self.mid_channels(layer);
            n += conv(
                self.channels,
                mid,
                layer.kernel_size,
                self.groups_input,
                true,
            );
            n += conv(self.condition_size, mid, 1, self.groups_input_mixin, false);
            if let Some(groups) = self.layer1x1_groups {
                n += conv(self.bottleneck, self.channels, 1, groups, true);
            }
            if let Some(h) = self.head1x1 {
                n += conv(self.bottleneck, h.out_channels, 1, h.groups, true);
            }
            for position in FilmPosition::ALL {
                if let Some(film) = self.film(position) {
                    let dim = self.film_dim(position, layer);
                    let out = if film.shift { 2 * dim } else { dim };
                    n += conv(self.condition_size, out, 1, film.groups, true);
                }
            }
        }
        n + conv(
            self.head_term_channels(),
            self.head.out_channels,
            self.head.kernel_size,
            1,
            self.head.bias,
        )
    }
}

impl PostHeadConfig {
    /// Receptive field of the head alone.
    pub fn receptive_field(&self) -> usize {
        1 + self.kernel_sizes.iter().map(|k| k - 1).sum::<usize>()
    }

    /// Input and output channels of each block, given the head's input channels.
    pub fn block_channels(&self, in_channels: usize) -> Vec<(usize, usize)> {
        let n = self.kernel_sizes.len();
        (0..n)
            .map(|i| {
                let cin = if i == 0 { in_channels } else { self.channels };
                let cout = if i + 1 == n {
                    self.out_channels
                } else {
                    self.channels
                };
                (cin, cout)
            })
            .collect()
    }
}

impl WaveNetConfig {
    /// Channels of the model's output.
    pub fn out_channels(&self) -> usize {
        match &self.post_head {
            Some(head) => head.out_channels,
            None => self.layer_arrays.last().map_or(1, |a| a.head.out_channels),
        }
    }

    /// Receptive field in samples, condition DSP included.
    pub fn receptive_field(&self) -> usize {
        let arrays: usize = self
            .layer_arrays
            .iter()
            .map(|a| a.receptive_field() - 1)
            .sum();
        let head = self
            .post_head
            .as_ref()
            .map_or(0, |h| h.receptive_field() - 1);
        let condition = self
            .condition_dsp
            .as_ref()
            .map_or(0, |c| spec_receptive_field(&c.spec) - 1);
        1 + arrays + head + condition
    }

    /// The number of weights the config implies (`head_scale` included).
    pub fn weight_count(&self) -> usize {
        let arrays: usize = self.layer_arrays.iter().map(|a| a.weight_count()).sum();
        let head = match (&self.post_head, self.layer_arrays.last()) {
            (Some(head), Some(last)) => head
                .block_channels(last.head.out_channels)
                .iter()
                .zip(&head.kernel_sizes)
                .map(|(&(cin, cout), &k)| cout * cin * k + cout)
                .sum(),
            _ => 0,
        };
        arrays + head + 1
    }

    /// Parses a WaveNet `config` object; `parse_nested` parses a nested document.
    pub(crate) fn parse(
        config: &Node,
        parse_nested: impl Fn(&Node) -> Result<NamFile, FormatError>,
    ) -> Result<Self, FormatError> {
        let condition_dsp = match config.get("condition_dsp")? {
            Some(node) => Some(Box::new(parse_nested(&node)?)),
            None => None,
        };
        let arrays_node = config.req("layers")?;
        let array_nodes = arrays_node.items()?;
        if array_nodes.is_empty() {
            return Err(arrays_node.invalid("a WaveNet needs at least one layer array"));
        }
        if array_nodes.len() > MAX_LAYER_ARRAYS {
            return Err(too_large(&arrays_node, array_nodes.len(), MAX_LAYER_ARRAYS));
        }
        let layer_arrays = array_nodes
            .iter()
            .map(parse_layer_array)
            .collect::<Result<Vec<_>, _>>()?;
        let head_scale = config.req("head_scale")?.as_f32()?;
        let post_head = match config.get("head")? {
            Some(node) => Some(parse_post_head(&node, &layer_arrays)?),
            None => None,
        };
        let wavenet = WaveNetConfig {
            layer_arrays,
            post_head,
            head_scale,
            condition_dsp,
        };
        wavenet.check_connections(config, &arrays_node)?;
        Ok(wavenet)
    }

    /// Checks that the arrays, the condition and the head fit together.
    fn check_connections(&self, config: &Node, arrays_node: &Node) -> Result<(), FormatError> {
        let condition_channels = match &self.condition_dsp {
            Some(nested) => spec_out_channels(&nested.spec).ok_or_else(|| {
                config
                    .path
                    .key("condition_dsp")
                    .invalid("a condition DSP must be a WaveNet, LSTM, ConvNet or Linear model")
            })?,
            None => 1,
        };
        for (i, array) in self.layer_arrays.iter().enumerate() {
            let at = arrays_node.path.index(i);
            let expected_input = if i == 0 {
                1
            } else {
                self.layer_arrays[i - 1].channels
            };
            if array.input_size != expected_input {
                return Err(at.key("input_size").invalid(format!(
                    "is {} but the array receives {expected_input} channels",
                    array.input_size
                )));
            }
            if array.condition_size != condition_channels {
                return Err(at.key("condition_size").invalid(format!(
                    "is {} but the condition signal has {condition_channels} channels",
                    array.condition_size
                )));
            }
            if i > 0 {
                let previous = self.layer_arrays[i - 1].head.out_channels;
                if array.head_term_channels() != previous {
                    return Err(at.invalid(format!(
                        "its head sum has {} channels but the previous array's head outputs {previous}",
                        array.head_term_channels()
                    )));
                }
            }
        }
        let rf = self.receptive_field();
        if rf > MAX_RECEPTIVE_FIELD {
            return Err(FormatError::TooLarge {
                field: format!("{} (receptive field)", config.path),
                value: rf as f64,
                limit: MAX_RECEPTIVE_FIELD as u128,
            });
        }
        Ok(())
    }
}

/// Output channels of a nested model, or `None` for a container.
pub(crate) fn spec_out_channels(spec: &ModelSpec) -> Option<usize> {
    match spec {
        ModelSpec::WaveNet { config, .. } => Some(config.out_channels()),
        ModelSpec::Lstm { .. }
        | ModelSpec::ConvNet { .. }
        | ModelSpec::Linear { .. }
        | ModelSpec::RtNeural { .. } => Some(1),
        ModelSpec::SlimmableContainer { .. } => None,
    }
}

/// Receptive field of any architecture (LSTM: 1).
pub(crate) fn spec_receptive_field(spec: &ModelSpec) -> usize {
    match spec {
        ModelSpec::WaveNet { config, .. } => config.receptive_field(),
        ModelSpec::Lstm { .. } | ModelSpec::RtNeural { .. } => 1,
        ModelSpec::ConvNet { config, .. } => config.receptive_field(),
        ModelSpec::Linear { config, .. } => config.receptive_field,
        ModelSpec::SlimmableContainer { submodels } => submodels
            .iter()
            .map(|s| spec_receptive_field(&s.model.spec))
            .max()
            .unwrap_or(1),
    }
}

fn too_large(node: &Node, value: usize, limit: usize) -> FormatError {
    FormatError::TooLarge {
        field: node.path.to_string(),
        value: value as f64,
        limit: limit as u128,
    }
}

/// A value given once for all layers or as a per-layer list.
fn per_layer<T: Clone>(
    node: &Node,
    layers: usize,
    parse: impl Fn(&Node) -> Result<T, FormatError>,
) -> Result<Vec<T>, FormatError> {
    if node.is_array() {
        let items = node.items()?;
        if items.len() != layers {
            return Err(node.invalid(format!(
                "has {} entries but the array has {layers} layers (one per dilation)",
                items.len()
            )));
        }
        items.iter().map(parse).collect()
    } else {
        Ok(vec![parse(node)?; layers])
    }
}

fn groups_of(node: &Node, key: &str) -> Result<usize, FormatError> {
    match node.get(key)? {
        Some(n) => n.as_dim(MAX_CHANNELS),
        None => Ok(1),
    }
}

fn check_divides(
    node: &Node,
    what: &str,
    groups: usize,
    channels: &[usize],
) -> Result<(), FormatError> {
    for &c in channels {
        if c % groups != 0 {
            return Err(node.invalid(format!(
                "{what}: {groups} groups do not divide {c} channels"
            )));
        }
    }
    Ok(())
}

fn parse_layer_array(node: &Node) -> Result<LayerArrayConfig, FormatError> {
    let input_size = node.req("input_size")?.as_dim(MAX_CHANNELS)?;
    let condition_size = node.req("condition_size")?.as_dim(MAX_CHANNELS)?;
    let channels = node.req("channels")?.as_dim(MAX_CHANNELS)?;
    let bottleneck = match node.get("bottleneck")? {
        Some(n) => n.as_dim(MAX_CHANNELS)?,
        None => channels,
    };

    let dilations_node = node.req("dilations")?;
    let dilation_nodes = dilations_node.items()?;
    if dilation_nodes.is_empty() {
        return Err(dilations_node.invalid("a layer array needs at least one layer"));
    }
    if dilation_nodes.len() > MAX_LAYERS {
        return Err(too_large(&dilations_node, dilation_nodes.len(), MAX_LAYERS));
    }
    let dilations = dilation_nodes
        .iter()
        .map(|d| d.as_dim(MAX_DILATION))
        .collect::<Result<Vec<_>, _>>()?;
    let n = dilations.len();

    let kernel_sizes = match (node.get("kernel_sizes")?, node.get("kernel_size")?) {
        (Some(_), Some(_)) => {
            return Err(node.invalid("give either `kernel_size` or `kernel_sizes`, not both"))
        }
        (Some(k), None) | (None, Some(k)) => per_layer(&k, n, |k| k.as_dim(MAX_KERNEL_SIZE))?,
        (None, None) => return Err(node.path.key("kernel_sizes").missing()),
    };
    let activations = per_layer(&node.req("activation")?, n, parse_activation)?;
    let gatings = parse_gatings(node, n)?;

    let layers: Vec<LayerConfig> = (0..n)
        .map(|i| LayerConfig {
            kernel_size: kernel_sizes[i],
            dilation: dilations[i],
            activation: activations[i].clone(),
            gating: gatings[i].clone(),
        })
        .collect();

    let head = parse_array_head(node)?;
    let groups_input = groups_of(node, "groups_input")?;
    let groups_input_mixin = groups_of(node, "groups_input_mixin")?;

    let layer1x1_groups = match node.get("layer1x1")? {
        Some(l) => {
            let active = l
                .get("active")?
                .map(|a| a.as_bool())
                .transpose()?
                .unwrap_or(true);
            active.then(|| groups_of(&l, "groups")).transpose()?
        }
        None => Some(1),
    };
    let head1x1 = match node.get("head1x1")? {
        Some(h) => {
            let active = h
                .get("active")?
                .map(|a| a.as_bool())
                .transpose()?
                .unwrap_or(false);
            if active {
                let out_channels = match h.get("out_channels")? {
                    Some(o) => o.as_dim(MAX_CHANNELS)?,
                    None => channels,
                };
                Some(Head1x1Config {
                    out_channels,
                    groups: groups_of(&h, "groups")?,
                })
            } else {
                None
            }
        }
        None => None,
    };
    let mut films = [None; 8];
    for position in FilmPosition::ALL {
        films[position as usize] = parse_film(node, position.key())?;
    }
    let slimmable = parse_slimmable(node, channels)?;

    let array = LayerArrayConfig {
        input_size,
        condition_size,
        channels,
        bottleneck,
        layers,
        head,
        groups_input,
        groups_input_mixin,
        layer1x1_groups,
        head1x1,
        films,
        slimmable,
    };
    check_layer_array(node, &array)?;
    Ok(array)
}

fn check_layer_array(node: &Node, a: &LayerArrayConfig) -> Result<(), FormatError> {
    if a.layer1x1_groups.is_none() && a.bottleneck != a.channels {
        return Err(node.invalid(format!(
            "without a layer 1x1 the bottleneck ({}) must equal channels ({})",
            a.bottleneck, a.channels
        )));
    }
    if a.film(FilmPosition::Layer1x1Post).is_some() && a.layer1x1_groups.is_none() {
        return Err(node.invalid("layer1x1_post_film is active but layer1x1 is not"));
    }
    if a.film(FilmPosition::Head1x1Post).is_some() && a.head1x1.is_none() {
        return Err(node.invalid("head1x1_post_film is active but head1x1 is not"));
    }
    for layer in &a.layers {
        let mid = a.mid_channels(layer);
        check_divides(node, "groups_input", a.groups_input, &[a.channels, mid])?;
        check_divides(
            node,
            "groups_input_mixin",
            a.groups_input_mixin,
            &[a.condition_size, mid],
        )?;
        if let Some(g) = a.layer1x1_groups {
            check_divides(node, "layer1x1.groups", g, &[a.bottleneck, a.channels])?;
        }
        if let Some(h) = a.head1x1 {
            check_divides(
                node,
                "head1x1.groups",
                h.groups,
                &[a.bottleneck, h.out_channels],
            )?;
        }
        for position in FilmPosition::ALL {
            if let Some(film) = a.film(position) {
                let dim = a.film_dim(position, layer);
                let out = if film.shift { 2 * dim } else { dim };
                check_divides(node, position.key(), film.groups, &[a.condition_size, out])?;
            }
        }
        layer.activation.check_channels(node, a.bottleneck)?;
        match &layer.gating {
            Gating::None => {}
            Gating::Gated { secondary } | Gating::Blended { secondary } => {
                secondary.check_channels(node, a.bottleneck)?
            }
        }
    }
    Ok(())
}

fn parse_gatings(node: &Node, n: usize) -> Result<Vec<Gating>, FormatError> {
    let secondary_node = node.get("secondary_activation")?;
    let secondary_for = |i: usize| -> Result<Activation, FormatError> {
        match &secondary_node {
            None => Ok(Activation::Sigmoid),
            Some(s) if s.is_array() => {
                let items = s.items()?;
                if items.len() != n {
                    return Err(s.invalid(format!(
                        "has {} entries but the array has {n} layers",
                        items.len()
                    )));
                }
                let item = &items[i];
                if item.value.is_null() {
                    Ok(Activation::Sigmoid)
                } else {
                    parse_activation(item)
                }
            }
            Some(s) => parse_activation(s),
        }
    };
    let mode_of = |m: &Node, i: usize| -> Result<Gating, FormatError> {
        match m.as_str()? {
            "none" => Ok(Gating::None),
            "gated" => Ok(Gating::Gated {
                secondary: secondary_for(i)?,
            }),
            "blended" => Ok(Gating::Blended {
                secondary: secondary_for(i)?,
            }),
            other => Err(m.invalid(format!(
                "unknown gating mode `{other}` (none, gated, blended)"
            ))),
        }
    };
    if let Some(modes) = node.get("gating_mode")? {
        if modes.is_array() {
            let items = modes.items()?;
            if items.len() != n {
                return Err(modes.invalid(format!(
                    "has {} entries but the array has {n} layers",
                    items.len()
                )));
            }
            return items
                .iter()
                .enumerate()
                .map(|(i, m)| mode_of(m, i))
                .collect();
        }
        return (0..n).map(|i| mode_of(&modes, i)).collect();
    }
    if let Some(gated) = node.get("gated")? {
        if gated.as_bool()? {
            return (0..n)
                .map(|i| {
                    Ok(Gating::Gated {
                        secondary: secondary_for(i)?,
                    })
                })
                .collect();
        }
    }
    Ok(vec![Gating::None; n])
}

fn parse_array_head(node: &Node) -> Result<ArrayHeadConfig, FormatError> {
    if let Some(head) = node.get("head")? {
        let dilation = match head.get("head_dilation")? {
            Some(d) => d.as_dim(MAX_DILATION)?,
            None => 1,
        };
        return Ok(ArrayHeadConfig {
            out_channels: head.req("out_channels")?.as_dim(MAX_CHANNELS)?,
            kernel_size: head.req("kernel_size")?.as_dim(MAX_KERNEL_SIZE)?,
            dilation,
            bias: head.req("bias")?.as_bool()?,
        });
    }
    if node.has("head_size") {
        return Ok(ArrayHeadConfig {
            out_channels: node.req("head_size")?.as_dim(MAX_CHANNELS)?,
            kernel_size: 1,
            dilation: 1,
            bias: node.req("head_bias")?.as_bool()?,
        });
    }
    Err(node.invalid("expected a `head` object, or the legacy `head_size` and `head_bias`"))
}

fn parse_film(node: &Node, key: &str) -> Result<Option<FilmConfig>, FormatError> {
    let Some(film) = node.get(key)? else {
        return Ok(None);
    };
    if let Ok(active) = film.as_bool() {
        return if active {
            Ok(Some(FilmConfig {
                shift: true,
                groups: 1,
            }))
        } else {
            Ok(None)
        };
    }
    let active = film
        .get("active")?
        .map(|a| a.as_bool())
        .transpose()?
        .unwrap_or(false);
    if !active {
        return Ok(None);
    }
    let shift = film
        .get("shift")?
        .map(|s| s.as_bool())
        .transpose()?
        .unwrap_or(true);
    Ok(Some(FilmConfig {
        shift,
        groups: groups_of(&film, "groups")?,
    }))
}

fn parse_slimmable(node: &Node, channels: usize) -> Result<Option<SlimmableConfig>, FormatError> {
    let Some(s) = node.get("slimmable")? else {
        return Ok(None);
    };
    let method = s.req("method")?;
    if method.as_str()? != "slice_channels_uniform" {
        return Err(method.invalid(format!(
            "unsupported slimmable method `{}` (only slice_channels_uniform)",
            method.as_str()?
        )));
    }
    let allowed = match s
        .get("kwargs")?
        .map(|k| k.get("allowed_channels"))
        .transpose()?
        .flatten()
    {
        Some(list) => list
            .items()?
            .iter()
            .map(|c| c.as_dim(channels))
            .collect::<Result<Vec<_>, _>>()?,
        None => (1..=channels).collect(),
    };
    if allowed.is_empty() || allowed.windows(2).any(|w| w[0] >= w[1]) {
        return Err(s.invalid("allowed_channels must be non-empty and ascending"));
    }
    let kwarg = |key: &str| {
        Ok::<_, FormatError>(s.get("kwargs")?.map(|k| k.get(key)).transpose()?.flatten())
    };
    let boosting = kwarg("boosting")?.map(|b| b.as_bool()).transpose()?;
    let init_strategy = kwarg("init_strategy")?
        .map(|i| i.as_str().map(str::to_owned))
        .transpose()?;
    Ok(Some(SlimmableConfig {
        allowed_channels: allowed,
        boosting: boosting.unwrap_or(false),
        init_strategy,
    }))
}

fn parse_post_head(
    node: &Node,
    arrays: &[LayerArrayConfig],
) -> Result<PostHeadConfig, FormatError> {
    let in_channels = arrays.last().map_or(1, |a| a.head.out_channels);
    if let Some(declared) = node.get("in_channels")? {
        if declared.as_usize()? != in_channels {
            return Err(declared.invalid(format!(
                "must equal the last layer array's head out_channels ({in_channels})"
            )));
        }
    }
    let kernels_node = node.req("kernel_sizes")?;
    let kernel_sizes = kernels_node
        .items()?
        .iter()
        .map(|k| k.as_dim(MAX_KERNEL_SIZE))
        .collect::<Result<Vec<_>, _>>()?;
    if kernel_sizes.is_empty() {
        return Err(kernels_node.invalid("must not be empty"));
    }
    if kernel_sizes.len() > MAX_LAYERS {
        return Err(too_large(&kernels_node, kernel_sizes.len(), MAX_LAYERS));
    }
    let head = PostHeadConfig {
        channels: node.req("channels")?.as_dim(MAX_CHANNELS)?,
        out_channels: node.req("out_channels")?.as_dim(MAX_CHANNELS)?,
        kernel_sizes,
        activation: parse_activation(&node.req("activation")?)?,
    };
    for (cin, _) in head.block_channels(in_channels) {
        head.activation.check_channels(node, cin)?;
    }
    Ok(head)
}
