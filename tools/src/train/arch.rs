//! Architectures to train: the trainer's WaveNet presets and configs read from
//! JSON files, normalized by `nam-kernel`'s own parser into the same config types
//! the kernel runs.

use std::path::Path;

use nam_kernel::format::slim::SlimmableWaveNet;
use nam_kernel::format::{
    Activation, ConvNetConfig, LinearConfig, LstmConfig, ModelSpec, WaveNetConfig,
};
use nam_kernel::{FormatError, NamFile};
use serde_json::{json, Value};

use super::{learned_config, trainer_layout};

/// A model architecture the trainer can build.
#[derive(Clone, Debug)]
pub enum Architecture {
    /// A WaveNet (the legacy two-array shape of the presets, or a file's).
    WaveNet(WaveNetConfig),
    /// A stacked LSTM with a linear head.
    Lstm(LstmConfig),
    /// Kernel-2 dilated convolution blocks (optionally with batchnorm) and a 1x1 head.
    ConvNet(ConvNetConfig),
    /// A learned FIR filter.
    Linear(LinearConfig),
    /// WaveNets trained together, exported as a `SlimmableContainer`.
    Packed(PackedConfig),
}

/// Why an architecture cannot be trained.
#[derive(Debug, thiserror::Error)]
pub enum ArchError {
    /// The name is no preset and no readable file.
    #[error(
        "`{0}` is neither a preset (packed, a2, a2_lite, standard, lite, feather, nano) nor a readable JSON file: {1}"
    )]
    Unreadable(String, std::io::Error),
    /// The file is not JSON of a known shape.
    #[error("{file}: {problem}")]
    Invalid {
        /// The config file.
        file: String,
        /// What is wrong.
        problem: String,
    },
    /// The config uses something the training model does not implement.
    #[error("{file}: the trainer does not implement {feature}")]
    Unsupported {
        /// The config file.
        file: String,
        /// The feature it uses.
        feature: String,
    },
}

/// The NAM trainer's `init_strategy` for slimmable convolutions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitStrategy {
    /// The smallest size's weights initialized as a convolution of that
    /// size, every other weight and bias zero.
    SmallestAndZeros,
    /// For each size in the order a growing size value reaches them,
    /// `weight[..rows, cols..]` zero: a smaller size's outputs start
    /// independent of a bigger size's extra inputs.
    ChannelCausal,
}

impl InitStrategy {
    /// The strategy named `name` as in the trainer's config; an error names
    /// the strategies there are.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "smallest_and_zeros" => Ok(Self::SmallestAndZeros),
            "channel_causal" => Ok(Self::ChannelCausal),
            other => Err(format!(
                "slimmable `init_strategy` \"{other}\" (the NAM trainer's are smallest_and_zeros and channel_causal)"
            )),
        }
    }
}

/// Dilations of the "standard" preset's arrays.
const STANDARD_DILATIONS: [usize; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
/// Dilations of the first array of the lite/feather/nano presets.
const LITE_DILATIONS_1: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];
/// Dilations of the second array of the lite/feather/nano presets.
const LITE_DILATIONS_2: [usize; 13] = [128, 256, 512, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/// Kernel sizes of the A2 layers (the NAM trainer 0.13's packed model).
const A2_KERNEL_SIZES: [usize; 23] = [
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 15, 15, 6, 6, 6, 6, 6, 6, 6,
];
/// Dilations of the A2 layers: three restarting runs and a 13 between them.
const A2_DILATIONS: [usize; 23] = [
    1, 3, 7, 17, 41, 101, 239, 1, 3, 7, 17, 41, 101, 239, 1, 13, 1, 3, 7, 17, 41, 101, 239,
];

/// The config of an A2 WaveNet of `channels` channels: the NAM trainer 0.13's
/// default (`config_model_packed.json` trains 3 and 8 channels together): one
/// array of 23 LeakyReLU(0.01) layers with the kernel sizes and dilations
/// above, a 16-tap head rechannel with bias, head scale 0.01.
fn a2_config(channels: usize) -> Value {
    let layers = A2_KERNEL_SIZES.len();
    json!({
        "layers": [{
            "input_size": 1, "condition_size": 1, "channels": channels, "bottleneck": channels,
            "kernel_sizes": A2_KERNEL_SIZES, "dilations": A2_DILATIONS,
            "activation": vec![json!({"type": "LeakyReLU", "negative_slope": 0.01}); layers],
            "gating_mode": vec!["none"; layers],
            "head": {"out_channels": 1, "kernel_size": 16, "bias": true},
            "layer1x1": {"active": true, "groups": 1},
            "head1x1": {"active": false, "out_channels": 1, "groups": 1},
            "groups_input": 1, "groups_input_mixin": 1
        }],
        "head": null,
        "head_scale": 0.01
    })
}

/// The config of a preset: `a2` (8 channels) and `a2_lite` (3), the NAM
/// trainer 0.13's two A2 sizes, and `standard`, `lite`, `feather`, `nano` in
/// the legacy 0.5 layout the NAM trainer used for them.
pub fn preset_config(name: &str) -> Option<Value> {
    match name {
        "a2" => return Some(a2_config(8)),
        "a2_lite" => return Some(a2_config(3)),
        _ => {}
    }
    let (channels, head, d1, d2): (usize, usize, &[usize], &[usize]) = match name {
        "standard" => (16, 8, &STANDARD_DILATIONS, &STANDARD_DILATIONS),
        "lite" => (12, 6, &LITE_DILATIONS_1, &LITE_DILATIONS_2),
        "feather" => (8, 4, &LITE_DILATIONS_1, &LITE_DILATIONS_2),
        "nano" => (4, 2, &LITE_DILATIONS_1, &LITE_DILATIONS_2),
        _ => return None,
    };
    let array = |input_size: usize, channels: usize, head_size: usize, d: &[usize], bias: bool| {
        json!({"input_size": input_size, "condition_size": 1, "head_size": head_size,
               "channels": channels, "kernel_size": 3, "dilations": d,
               "activation": "Tanh", "gated": false, "head_bias": bias})
    };
    Some(json!({
        "layers": [array(1, channels, head, d1, false), array(channels, channels / 2, 1, d2, true)],
        "head": null,
        "head_scale": 0.02
    }))
}

/// Several WaveNets of one receptive field trained together on the same
/// batches (the NAM trainer's `PackedWaveNet`: block-diagonal, so each
/// submodel learns only from its own loss) and exported as a
/// `SlimmableContainer`, smallest first.
#[derive(Clone, Debug)]
pub struct PackedConfig {
    /// The submodels, in the container's order.
    pub submodels: Vec<PackedSubmodel>,
    /// Each submodel's `max_value` in the container (the last is 1).
    pub max_values: Vec<f64>,
}

/// One submodel of a [`PackedConfig`].
#[derive(Clone, Debug)]
pub struct PackedSubmodel {
    /// Its name in the trainer's config.
    pub name: String,
    /// Its WaveNet.
    pub config: WaveNetConfig,
}

/// Training settings a NAM trainer model config carries beside the net
/// (`optimizer`, `lr_scheduler`, `loss`); `None` where it says nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigSettings {
    /// `optimizer.lr`.
    pub learning_rate: Option<f64>,
    /// `optimizer.weight_decay`.
    pub weight_decay: Option<f64>,
    /// `lr_scheduler.kwargs.gamma` of an `ExponentialLR`.
    pub learning_rate_decay: Option<f64>,
    /// `loss.mrstft_weight`.
    pub mrstft_weight: Option<f64>,
    /// `loss.pre_emph_coef` and `loss.pre_emph_weight`.
    pub pre_emphasis: Option<(f64, f64)>,
    /// `loss.pre_emph_mrstft_coef` and `loss.pre_emph_mrstft_weight`.
    pub pre_emphasis_mrstft: Option<(f64, f64)>,
}

/// The preset name of the NAM trainer 0.13's default model.
pub const PACKED_PRESET: &str = "packed";

impl Architecture {
    /// A preset name or the path of a JSON config: `{"architecture": "WaveNet" |
    /// "LSTM" | "ConvNet" | "Linear", "config": {...}}` (the shape of a `.nam`
    /// file, whose weights are ignored) or the NAM trainer's model config
    /// `{"net": {"name", "config"}}` (those or `PackedWaveNet`, in the
    /// trainer's own layout, with its defaults for what it leaves out).
    pub fn from_arg(arg: &str) -> Result<Self, ArchError> {
        Ok(Self::with_settings(arg)?.0)
    }

    /// [`Architecture::from_arg`] and the training settings the config gives
    /// (the packed preset: those of the trainer's `config_model_packed.json`).
    pub fn with_settings(arg: &str) -> Result<(Self, ConfigSettings), ArchError> {
        if arg == PACKED_PRESET {
            let (architecture, settings) = Self::from_document(&packed_preset(), arg)?;
            return Ok((architecture, settings));
        }
        if let Some(config) = preset_config(arg) {
            let architecture = Self::from_config("WaveNet", config, arg)?;
            return Ok((architecture, ConfigSettings::default()));
        }
        let text = std::fs::read_to_string(Path::new(arg))
            .map_err(|e| ArchError::Unreadable(arg.to_owned(), e))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| ArchError::Invalid {
            file: arg.to_owned(),
            problem: format!("invalid JSON: {e}"),
        })?;
        Self::from_document(&value, arg)
    }

    /// A parsed config document (`.nam` shape or the trainer's model config).
    fn from_document(value: &Value, source: &str) -> Result<(Self, ConfigSettings), ArchError> {
        let invalid = |problem: String| ArchError::Invalid {
            file: source.to_owned(),
            problem,
        };
        let trainer_layout = value.get("net").is_some();
        let (name, config) = if let Some(net) = value.get("net") {
            (net.get("name"), net.get("config").cloned())
        } else {
            (value.get("architecture"), value.get("config").cloned())
        };
        let name = name.and_then(Value::as_str).ok_or_else(|| {
            invalid("expected `architecture` and `config`, or `net.name` and `net.config`".into())
        })?;
        let mut config = config.ok_or_else(|| invalid("the `config` object is missing".into()))?;
        if trainer_layout {
            trainer_layout::fill_defaults(name, &mut config);
        }
        let settings = config_settings(value).map_err(invalid)?;
        let architecture = if name == "PackedWaveNet" {
            Self::packed(&config, source)?
        } else {
            Self::from_config(name, config, source)?
        };
        Ok((architecture, settings))
    }

    /// A `PackedWaveNet` config: `submodels` (each `{name, config}`) and
    /// `export.container_max_values` (`"uniform"` or a sorted list).
    fn packed(config: &Value, source: &str) -> Result<Self, ArchError> {
        let invalid = |problem: String| ArchError::Invalid {
            file: source.to_owned(),
            problem,
        };
        let list = config
            .get("submodels")
            .and_then(Value::as_array)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| invalid("`submodels` must be a non-empty list".into()))?;
        let mut submodels = Vec::with_capacity(list.len());
        for (i, entry) in list.iter().enumerate() {
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| format!("submodel_{i}"), str::to_owned);
            let net = entry
                .get("config")
                .cloned()
                .ok_or_else(|| invalid(format!("`submodels[{i}].config` is missing")))?;
            let Architecture::WaveNet(config) = Self::from_config("WaveNet", net, source)? else {
                return Err(invalid(format!("`submodels[{i}]` is not a WaveNet")));
            };
            submodels.push(PackedSubmodel { name, config });
        }
        let rf = submodels[0].config.receptive_field();
        if let Some(other) = submodels.iter().find(|s| s.config.receptive_field() != rf) {
            return Err(invalid(format!(
                "submodel `{}` has a receptive field of {} samples but `{}` has {rf}; packed submodels must match (`kernel_size`, `dilations`)",
                other.name,
                other.config.receptive_field(),
                submodels[0].name
            )));
        }
        let configured = config
            .pointer("/export/container_max_values")
            .cloned()
            .unwrap_or_else(|| json!("uniform"));
        let max_values = container_max_values(&configured, submodels.len())
            .map_err(|problem| invalid(format!("`export.container_max_values`: {problem}")))?;
        Ok(Architecture::Packed(PackedConfig {
            submodels,
            max_values,
        }))
    }

    /// Normalizes an architecture's `config` through `nam-kernel`'s parser
    /// (the trainer's layout converted first).
    fn from_config(name: &str, config: Value, source: &str) -> Result<Self, ArchError> {
        let unsupported = |feature: String| ArchError::Unsupported {
            file: source.to_owned(),
            feature,
        };
        let config = trainer_layout::to_file_layout(config).map_err(unsupported)?;
        let file = parse_without_weights(name, config, source)?;
        match file.spec {
            ModelSpec::WaveNet { config, .. } => {
                check_wavenet(&config).map_err(unsupported)?;
                Ok(Architecture::WaveNet(config))
            }
            ModelSpec::Lstm { config, .. } => Ok(Architecture::Lstm(config)),
            ModelSpec::ConvNet { config, .. } => {
                check_convnet(&config).map_err(unsupported)?;
                Ok(Architecture::ConvNet(config))
            }
            ModelSpec::Linear { config, .. } => Ok(Architecture::Linear(config)),
            other => Err(unsupported(format!(
                "the {} architecture (WaveNet, LSTM, ConvNet, Linear and PackedWaveNet only)",
                other.architecture()
            ))),
        }
    }

    /// The architecture name as written in `.nam` files.
    pub fn name(&self) -> &'static str {
        match self {
            Architecture::WaveNet(_) => "WaveNet",
            Architecture::Lstm(_) => "LSTM",
            Architecture::ConvNet(_) => "ConvNet",
            Architecture::Linear(_) => "Linear",
            Architecture::Packed(_) => "SlimmableContainer",
        }
    }

    /// Samples of input each output sample depends on.
    pub fn receptive_field(&self) -> usize {
        match self {
            Architecture::WaveNet(config) => config.receptive_field(),
            Architecture::Lstm(_) => 1,
            Architecture::ConvNet(config) => config.receptive_field(),
            Architecture::Linear(config) => config.receptive_field,
            Architecture::Packed(packed) => packed
                .submodels
                .iter()
                .map(|s| s.config.receptive_field())
                .max()
                .unwrap_or(1),
        }
    }

    /// Warnings about a config that trains but not as its user likely
    /// means: a slimmable array initialized `smallest_and_zeros` whose every
    /// layer's activation maps 0 to 0, so that every path into and out of
    /// the channels beyond the smallest size starts at zero, they get no
    /// gradient and never train (in the NAM trainer too).
    pub fn warnings(&self) -> Vec<String> {
        let Architecture::WaveNet(config) = self else {
            return Vec::new();
        };
        let keeps_zero = |a: &Activation| {
            let mut at_zero = [0.0_f32];
            nam_kernel::kernels::activation::apply(a, 0, &mut at_zero);
            at_zero[0] == 0.0
        };
        config
            .layer_arrays
            .iter()
            .enumerate()
            .filter(|(_, array)| {
                let strategy = array
                    .slimmable
                    .as_ref()
                    .and_then(|s| s.init_strategy.as_deref())
                    .and_then(|name| InitStrategy::parse(name).ok());
                strategy == Some(InitStrategy::SmallestAndZeros)
                    && array.layers.iter().all(|l| keeps_zero(&l.activation))
            })
            .map(|(i, _)| {
                format!(
                    "layer array {i}: slimmable init_strategy smallest_and_zeros with activations that map 0 to 0: the channels beyond the smallest size start at zero and get no gradient, so they never train and every size plays like the smallest (the NAM trainer's code does the same)"
                )
            })
            .collect()
    }

    /// Whether a forward pass in training depends on the whole batch at once
    /// (a ConvNet's batchnorm statistics).
    pub fn has_batchnorm(&self) -> bool {
        matches!(self, Architecture::ConvNet(config) if config.batchnorm)
    }

    /// The number of training weights: the exported file's (all submodels
    /// together) and what a WaveNet keeps in its config
    /// ([`learned_config`]).
    pub fn weight_count(&self) -> usize {
        match self {
            Architecture::WaveNet(config) => learned_config::training_weight_count(config),
            Architecture::Lstm(config) => config.weight_count(),
            Architecture::ConvNet(config) => config.weight_count(),
            Architecture::Linear(config) => config.weight_count(),
            Architecture::Packed(packed) => packed
                .submodels
                .iter()
                .map(|s| learned_config::training_weight_count(&s.config))
                .sum(),
        }
    }
}

/// The NAM trainer's model config of its default: A2 at 3 and 8 channels
/// packed, with its loss, optimizer and schedule.
fn packed_preset() -> Value {
    json!({
        "net": {"name": "PackedWaveNet", "config": {
            "submodels": [
                {"name": "channels_3", "config": a2_config(3)},
                {"name": "channels_8", "config": a2_config(8)}
            ],
            "export": {"container_max_values": "uniform"}
        }},
        "loss": {"val_loss": "esr", "mrstft_weight": 5e-4},
        "optimizer": {"lr": 0.004, "weight_decay": 3.17e-7},
        "lr_scheduler": {"class": "ExponentialLR", "kwargs": {"gamma": 0.994}}
    })
}

/// The `max_value` of each of `n` submodels: `"uniform"` is `(i + 1) / n`; a
/// list must have `n` ascending numbers. The last is always 1.
fn container_max_values(configured: &Value, n: usize) -> Result<Vec<f64>, String> {
    let mut values: Vec<f64> = match configured {
        Value::String(s) if s == "uniform" => (1..=n).map(|i| i as f64 / n as f64).collect(),
        Value::Array(list) if list.len() == n => list
            .iter()
            .map(|v| v.as_f64().ok_or_else(|| format!("`{v}` is not a number")))
            .collect::<Result<_, _>>()?,
        Value::Array(list) => return Err(format!("{} values for {n} submodels", list.len())),
        other => return Err(format!("`{other}` is neither \"uniform\" nor a list")),
    };
    if let Some(last) = values.last_mut() {
        *last = 1.0;
    }
    if values.windows(2).any(|w| w[0] > w[1]) {
        return Err("the values must be ascending".into());
    }
    Ok(values)
}

/// The training settings of a NAM trainer model config document.
fn config_settings(document: &Value) -> Result<ConfigSettings, String> {
    let number = |pointer: &str| -> Result<Option<f64>, String> {
        match document.pointer(pointer) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| format!("`{}` is not a number", &pointer[1..].replace('/', "."))),
        }
    };
    let decay = match document
        .pointer("/lr_scheduler/class")
        .and_then(Value::as_str)
    {
        None => None,
        Some("ExponentialLR") => number("/lr_scheduler/kwargs/gamma")?,
        Some(other) => {
            return Err(format!(
                "`lr_scheduler.class` {other} is not implemented (ExponentialLR only)"
            ))
        }
    };
    // A pre-emphasized term needs both its coefficient and its weight, as the
    // NAM trainer requires.
    let pair = |term: &str| -> Result<Option<(f64, f64)>, String> {
        let coef = number(&format!("/loss/{term}_coef"))?;
        let weight = number(&format!("/loss/{term}_weight"))?;
        match (coef, weight) {
            (Some(coef), Some(weight)) => Ok(Some((coef, weight))),
            (None, None) => Ok(None),
            _ => Err(format!(
                "`loss.{term}_coef` and `loss.{term}_weight` go together: give both or neither"
            )),
        }
    };
    Ok(ConfigSettings {
        learning_rate: number("/optimizer/lr")?,
        weight_decay: number("/optimizer/weight_decay")?,
        learning_rate_decay: decay,
        mrstft_weight: number("/loss/mrstft_weight")?,
        pre_emphasis: pair("pre_emph")?,
        pre_emphasis_mrstft: pair("pre_emph_mrstft")?,
    })
}

/// Parses a config with `nam-kernel`'s validator: once with no weights to learn
/// the count the config implies, then with that many ones (which every check
/// of weight values passes, e.g. a batchnorm's positive variance).
fn parse_without_weights(
    name: &str,
    mut config: Value,
    source: &str,
) -> Result<NamFile, ArchError> {
    let invalid = |kind: FormatError| ArchError::Invalid {
        file: source.to_owned(),
        problem: kind.to_string(),
    };
    // A nested condition DSP without weights gets its own count of ones first.
    if let Some(nested) = config
        .get_mut("condition_dsp")
        .and_then(Value::as_object_mut)
        .filter(|n| !n.contains_key("weights"))
    {
        let inner_name = nested.get("architecture").and_then(Value::as_str);
        let inner_config = nested.get("config").cloned();
        if let (Some(inner_name), Some(inner_config)) = (inner_name, inner_config) {
            let inner = parse_without_weights(inner_name, inner_config, source)?;
            let count = match &inner.spec {
                ModelSpec::WaveNet { weights, .. }
                | ModelSpec::Lstm { weights, .. }
                | ModelSpec::ConvNet { weights, .. }
                | ModelSpec::Linear { weights, .. }
                | ModelSpec::RtNeural { weights, .. } => weights.len(),
                ModelSpec::SlimmableContainer { .. } => 0,
            };
            nested.insert("weights".into(), Value::from(vec![1.0_f32; count]));
        }
    }
    let mut doc =
        json!({"version": "0.5.4", "architecture": name, "config": config, "weights": []});
    match NamFile::from_json_value(&doc, source) {
        Ok(file) => Ok(file),
        Err(error) => match error.kind {
            FormatError::WeightCountMismatch { expected, .. } => {
                doc["weights"] = Value::from(vec![1.0_f32; expected]);
                NamFile::from_json_value(&doc, source).map_err(|e| invalid(e.kind))
            }
            kind => Err(invalid(kind)),
        },
    }
}

/// Checks that the training WaveNet implements every feature `config` uses; the
/// error names the first one it does not.
pub fn check_wavenet(config: &WaveNetConfig) -> Result<(), String> {
    if config.out_channels() != 1 {
        return Err(format!(
            "{} output channels (the trainer fits one: the reamp's)",
            config.out_channels()
        ));
    }
    check_wavenet_layers(config)
}

/// [`check_wavenet`] but for the output channels: what a WaveNet and its
/// `condition_dsp` (a WaveNet, checked the same way) may use.
fn check_wavenet_layers(config: &WaveNetConfig) -> Result<(), String> {
    if let Some(nested) = &config.condition_dsp {
        match learned_config::nested(config) {
            Some(inner) => {
                check_wavenet_layers(inner).map_err(|e| format!("{e} (`condition_dsp`)"))?
            }
            None => {
                return Err(format!(
                    "a `condition_dsp` of architecture {} (the trainer trains WaveNet ones)",
                    nested.spec.architecture()
                ))
            }
        }
    }
    if let Some(head) = &config.post_head {
        check_activation(&head.activation)
            .map_err(|a| format!("the {a} activation (the post-stack `head`)"))?;
    }
    // Slimmable arrays train as the player slices them, which takes what the
    // NAM trainer builds (one array, no condition DSP, FiLM, groups or head 1x1).
    let ones = vec![1.0; config.weight_count()];
    SlimmableWaveNet::new(config, &ones).map_err(|e| format!("`slimmable`: {}", e.0))?;
    for (i, array) in config.layer_arrays.iter().enumerate() {
        let at = format!("layer array {i}");
        let strategy = array
            .slimmable
            .as_ref()
            .and_then(|s| s.init_strategy.as_deref());
        if let Some(name) = strategy {
            InitStrategy::parse(name).map_err(|e| format!("{e} ({at})"))?;
        }
        if array.layers.is_empty() {
            return Err(format!("an array without layers ({at})"));
        }
        for layer in &array.layers {
            let secondary = learned_config::secondary(&layer.gating);
            for activation in std::iter::once(&layer.activation).chain(secondary) {
                // A layer's PReLU slopes are learned (`learned_config`).
                if !matches!(activation, Activation::PReLU { .. }) {
                    check_activation(activation)
                        .map_err(|a| format!("the {a} activation ({at})"))?;
                }
            }
        }
    }
    Ok(())
}

/// Checks that the training ConvNet implements `config`'s activation.
pub fn check_convnet(config: &ConvNetConfig) -> Result<(), String> {
    check_activation(&config.activation).map_err(|a| format!("the {a} activation (ConvNet)"))
}

/// The activations the training model implements; others are named in the error.
fn check_activation(activation: &Activation) -> Result<(), &'static str> {
    match activation {
        Activation::Identity
        | Activation::Tanh
        | Activation::Hardtanh { .. }
        | Activation::ReLU
        | Activation::LeakyReLU { .. }
        | Activation::Sigmoid
        | Activation::SiLU
        | Activation::Hardswish
        | Activation::Hardsigmoid
        | Activation::Softsign
        | Activation::Softsigmoid
        | Activation::LeakyHardtanh { .. }
        | Activation::ELU { .. }
        | Activation::Softplus { .. }
        | Activation::Mish
        | Activation::GELU { .. } => Ok(()),
        other => Err(other.name()),
    }
}
