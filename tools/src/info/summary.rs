//! Per-architecture config summaries, serialisable for `info --json`.

use nam_kernel::format::{
    macs, FilmPosition, Gating, LayerArrayConfig, ModelSpec, PostHeadConfig, RtNeuralLayer,
};
use serde::Serialize;
use serde_json::Value;

use super::ModelInfo;

/// The config of one architecture.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum ConfigSummary {
    /// WaveNet.
    WaveNet {
        /// The layer arrays, in order.
        layer_arrays: Vec<LayerArraySummary>,
        /// The post-stack head, if any.
        head: Option<PostHeadSummary>,
        /// `head_scale` from the config.
        head_scale: f32,
        /// The condition DSP, if any.
        condition_dsp: Option<Box<ModelInfo>>,
    },
    /// LSTM.
    Lstm {
        /// Input channels.
        input_size: usize,
        /// Hidden size of every layer.
        hidden_size: usize,
        /// Stacked layers.
        num_layers: usize,
    },
    /// ConvNet.
    ConvNet {
        /// Channels of every block.
        channels: usize,
        /// Dilation of each block (kernel size 2).
        dilations: Vec<usize>,
        /// Batchnorm in each block.
        batchnorm: bool,
        /// Activation of every block.
        activation: Value,
    },
    /// Linear (FIR).
    Linear {
        /// Taps.
        receptive_field: usize,
        /// Whether a bias follows the taps.
        bias: bool,
    },
    /// An RTNeural / AIDA-X model.
    RtNeural {
        /// Each layer as `type size [activation]`, input first.
        layers: Vec<String>,
        /// Whether the input is added to the network's output (`in_skip`).
        input_skip: bool,
        /// Gain applied to the input, dB (`in_gain`).
        input_gain_db: f32,
        /// Gain applied to the output, dB (`out_gain`).
        output_gain_db: f32,
    },
    /// A container: see [`ModelInfo::submodels`].
    SlimmableContainer {
        /// Number of submodels.
        submodels: usize,
    },
}

/// One WaveNet layer array.
#[derive(Clone, Debug, Serialize)]
pub struct LayerArraySummary {
    /// Channels entering the array.
    pub input_size: usize,
    /// Channels of the condition signal.
    pub condition_size: usize,
    /// Residual channels.
    pub channels: usize,
    /// Channels after the activation.
    pub bottleneck: usize,
    /// Number of layers.
    pub layers: usize,
    /// Kernel size of each layer.
    pub kernel_sizes: Vec<usize>,
    /// Dilation of each layer.
    pub dilations: Vec<usize>,
    /// Activation of each layer, in the `.nam` object form.
    pub activations: Vec<Value>,
    /// Gating of each layer: `none`, `gated` or `blended`.
    pub gating: Vec<&'static str>,
    /// Secondary activation of each gated or blended layer (`null` otherwise).
    pub secondary_activations: Vec<Value>,
    /// The head rechannel.
    pub head: ArrayHeadSummary,
    /// Groups of the dilated convolutions.
    pub groups_input: usize,
    /// Groups of the input mixers.
    pub groups_input_mixin: usize,
    /// Groups of the layer 1x1, `null` when inactive.
    pub layer1x1_groups: Option<usize>,
    /// Output channels of the head 1x1, `null` when inactive.
    pub head1x1_out_channels: Option<usize>,
    /// Groups of the head 1x1, `null` when inactive.
    pub head1x1_groups: Option<usize>,
    /// The active FiLM modulations.
    pub film: Vec<FilmSummary>,
    /// Channel counts the array may be sliced to, `null` when not slimmable.
    pub slimmable_channels: Option<Vec<usize>>,
    /// Receptive field of the array alone.
    pub receptive_field: usize,
    /// Multiply-adds per sample of the array alone.
    pub multiply_adds_per_sample: u64,
}

/// The head rechannel of a layer array.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ArrayHeadSummary {
    /// Output channels.
    pub out_channels: usize,
    /// Taps.
    pub kernel_size: usize,
    /// Dilation.
    pub dilation: usize,
    /// Whether it has a bias.
    pub bias: bool,
}

/// One active FiLM.
#[derive(Clone, Debug, Serialize)]
pub struct FilmSummary {
    /// Its config key (`conv_pre_film`, ...).
    pub position: &'static str,
    /// Whether it adds a shift.
    pub shift: bool,
    /// Groups of its convolution.
    pub groups: usize,
}

/// The post-stack head of a WaveNet.
#[derive(Clone, Debug, Serialize)]
pub struct PostHeadSummary {
    /// Hidden channels.
    pub channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Taps of each block.
    pub kernel_sizes: Vec<usize>,
    /// Activation before each block.
    pub activation: Value,
}

impl ConfigSummary {
    /// Summarises the config of `spec`.
    pub fn new(spec: &ModelSpec) -> Self {
        match spec {
            ModelSpec::WaveNet { config, .. } => ConfigSummary::WaveNet {
                layer_arrays: config
                    .layer_arrays
                    .iter()
                    .map(LayerArraySummary::new)
                    .collect(),
                head: config.post_head.as_ref().map(PostHeadSummary::new),
                head_scale: config.head_scale,
                condition_dsp: config
                    .condition_dsp
                    .as_ref()
                    .map(|nested| Box::new(ModelInfo::from_file(nested))),
            },
            ModelSpec::Lstm { config, .. } => ConfigSummary::Lstm {
                input_size: config.input_size,
                hidden_size: config.hidden_size,
                num_layers: config.num_layers,
            },
            ModelSpec::ConvNet { config, .. } => ConfigSummary::ConvNet {
                channels: config.channels,
                dilations: config.dilations.clone(),
                batchnorm: config.batchnorm,
                activation: config.activation.to_json(),
            },
            ModelSpec::Linear { config, .. } => ConfigSummary::Linear {
                receptive_field: config.receptive_field,
                bias: config.bias,
            },
            ModelSpec::RtNeural { config, .. } => ConfigSummary::RtNeural {
                layers: config
                    .layers
                    .iter()
                    .map(|layer| {
                        let activation = match layer {
                            RtNeuralLayer::Dense { activation, .. }
                            | RtNeuralLayer::Activation { activation, .. } => {
                                match activation_label_json(&activation.to_json()) {
                                    label if label == "Identity" => String::new(),
                                    label => format!(" {label}"),
                                }
                            }
                            _ => String::new(),
                        };
                        format!("{} {}{activation}", layer.type_name(), layer.output_size())
                    })
                    .collect(),
                input_skip: config.input_skip,
                input_gain_db: config.input_gain_db,
                output_gain_db: config.output_gain_db,
            },
            ModelSpec::SlimmableContainer { submodels } => ConfigSummary::SlimmableContainer {
                submodels: submodels.len(),
            },
        }
    }
}

impl LayerArraySummary {
    fn new(a: &LayerArrayConfig) -> Self {
        let secondary = |g: &Gating| match g {
            Gating::None => Value::Null,
            Gating::Gated { secondary } | Gating::Blended { secondary } => secondary.to_json(),
        };
        Self {
            input_size: a.input_size,
            condition_size: a.condition_size,
            channels: a.channels,
            bottleneck: a.bottleneck,
            layers: a.layers.len(),
            kernel_sizes: a.layers.iter().map(|l| l.kernel_size).collect(),
            dilations: a.layers.iter().map(|l| l.dilation).collect(),
            activations: a.layers.iter().map(|l| l.activation.to_json()).collect(),
            gating: a.layers.iter().map(|l| gating_name(&l.gating)).collect(),
            secondary_activations: a.layers.iter().map(|l| secondary(&l.gating)).collect(),
            head: ArrayHeadSummary {
                out_channels: a.head.out_channels,
                kernel_size: a.head.kernel_size,
                dilation: a.head.dilation,
                bias: a.head.bias,
            },
            groups_input: a.groups_input,
            groups_input_mixin: a.groups_input_mixin,
            layer1x1_groups: a.layer1x1_groups,
            head1x1_out_channels: a.head1x1.map(|h| h.out_channels),
            head1x1_groups: a.head1x1.map(|h| h.groups),
            film: FilmPosition::ALL
                .iter()
                .filter_map(|&p| {
                    a.film(p).map(|f| FilmSummary {
                        position: p.key(),
                        shift: f.shift,
                        groups: f.groups,
                    })
                })
                .collect(),
            slimmable_channels: a.slimmable.as_ref().map(|s| s.allowed_channels.clone()),
            receptive_field: a.receptive_field(),
            multiply_adds_per_sample: macs::layer_array(a),
        }
    }
}

impl PostHeadSummary {
    fn new(h: &PostHeadConfig) -> Self {
        Self {
            channels: h.channels,
            out_channels: h.out_channels,
            kernel_sizes: h.kernel_sizes.clone(),
            activation: h.activation.to_json(),
        }
    }
}

/// `none`, `gated` or `blended`.
fn gating_name(gating: &Gating) -> &'static str {
    match gating {
        Gating::None => "none",
        Gating::Gated { .. } => "gated",
        Gating::Blended { .. } => "blended",
    }
}

/// An activation (in its `.nam` object form) as short text: `Tanh`,
/// `LeakyReLU(negative_slope=0.2)`.
pub(crate) fn activation_label_json(activation: &Value) -> String {
    let Some(object) = activation.as_object() else {
        return short_number(activation);
    };
    let name = object.get("type").map_or_else(String::new, short_number);
    let params: Vec<String> = object
        .iter()
        .filter(|(key, _)| key.as_str() != "type")
        .map(|(key, value)| format!("{key}={}", short_number(value)))
        .collect();
    if params.is_empty() {
        name
    } else {
        format!("{name}({})", params.join(", "))
    }
}

/// A JSON value in text, numbers at `f32` precision (`0.2`, not `0.20000000298`).
fn short_number(value: &Value) -> String {
    match value {
        Value::Number(n) if n.is_f64() => n
            .as_f64()
            .map_or_else(|| n.to_string(), |x| (x as f32).to_string()),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(short_number)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
