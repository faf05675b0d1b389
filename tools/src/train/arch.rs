//! Architectures to train: the trainer's WaveNet presets and configs read from
//! JSON files, normalized by `nam-kernel`'s own parser into the same config types
//! the kernel runs.

use std::path::Path;

use nam_kernel::format::{Activation, Gating, LstmConfig, ModelSpec, WaveNetConfig};
use nam_kernel::{FormatError, NamFile};
use serde_json::{json, Value};

/// A model architecture the trainer can build.
#[derive(Clone, Debug)]
pub enum Architecture {
    /// A WaveNet (the legacy two-array shape of the presets, or a file's).
    WaveNet(WaveNetConfig),
    /// A stacked LSTM with a linear head.
    Lstm(LstmConfig),
}

/// Why an architecture cannot be trained.
#[derive(Debug, thiserror::Error)]
pub enum ArchError {
    /// The name is no preset and no readable file.
    #[error(
        "`{0}` is neither a preset (a2, a2_lite, standard, lite, feather, nano) nor a readable JSON file: {1}"
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

impl Architecture {
    /// A preset name or the path of a JSON config: `{"architecture": "WaveNet" |
    /// "LSTM", "config": {...}}` (the shape of a `.nam` file, whose weights are
    /// ignored) or the NAM trainer's model config `{"net": {"name", "config"}}`.
    pub fn from_arg(arg: &str) -> Result<Self, ArchError> {
        if let Some(config) = preset_config(arg) {
            return Self::from_config("WaveNet", config, arg);
        }
        let text = std::fs::read_to_string(Path::new(arg))
            .map_err(|e| ArchError::Unreadable(arg.to_owned(), e))?;
        let invalid = |problem: String| ArchError::Invalid {
            file: arg.to_owned(),
            problem,
        };
        let value: Value =
            serde_json::from_str(&text).map_err(|e| invalid(format!("invalid JSON: {e}")))?;
        let (name, mut config) = if let Some(net) = value.get("net") {
            (net.get("name"), net.get("config").cloned())
        } else {
            (value.get("architecture"), value.get("config").cloned())
        };
        let name = name.and_then(Value::as_str).ok_or_else(|| {
            invalid("expected `architecture` and `config`, or `net.name` and `net.config`".into())
        })?;
        let config = config
            .take()
            .ok_or_else(|| invalid("the `config` object is missing".into()))?;
        Self::from_config(name, config, arg)
    }

    /// Normalizes an architecture's `config` through `nam-kernel`'s parser.
    fn from_config(name: &str, mut config: Value, source: &str) -> Result<Self, ArchError> {
        // The trainer's model configs name the arrays `layers_configs`; files say `layers`.
        if let Some(object) = config.as_object_mut() {
            if let Some(layers) = object.remove("layers_configs") {
                object.insert("layers".into(), layers);
            }
        }
        let file = parse_without_weights(name, config, source)?;
        let unsupported = |feature: String| ArchError::Unsupported {
            file: source.to_owned(),
            feature,
        };
        match file.spec {
            ModelSpec::WaveNet { config, .. } => {
                check_wavenet(&config).map_err(unsupported)?;
                Ok(Architecture::WaveNet(config))
            }
            ModelSpec::Lstm { config, .. } => Ok(Architecture::Lstm(config)),
            other => Err(unsupported(format!(
                "the {} architecture (WaveNet and LSTM only)",
                other.architecture()
            ))),
        }
    }

    /// The architecture name as written in `.nam` files.
    pub fn name(&self) -> &'static str {
        match self {
            Architecture::WaveNet(_) => "WaveNet",
            Architecture::Lstm(_) => "LSTM",
        }
    }

    /// Samples of input each output sample depends on.
    pub fn receptive_field(&self) -> usize {
        match self {
            Architecture::WaveNet(config) => config.receptive_field(),
            Architecture::Lstm(_) => 1,
        }
    }

    /// The number of weights in the exported file.
    pub fn weight_count(&self) -> usize {
        match self {
            Architecture::WaveNet(config) => config.weight_count(),
            Architecture::Lstm(config) => config.weight_count(),
        }
    }
}

/// Parses a config with `nam-kernel`'s validator: once with no weights to learn
/// the count the config implies, then with that many zeros.
fn parse_without_weights(name: &str, config: Value, source: &str) -> Result<NamFile, ArchError> {
    let mut doc =
        json!({"version": "0.5.4", "architecture": name, "config": config, "weights": []});
    let invalid = |kind: FormatError| ArchError::Invalid {
        file: source.to_owned(),
        problem: kind.to_string(),
    };
    match NamFile::from_json_value(&doc, source) {
        Ok(file) => Ok(file),
        Err(error) => match error.kind {
            FormatError::WeightCountMismatch { expected, .. } => {
                doc["weights"] = Value::from(vec![0.0_f32; expected]);
                NamFile::from_json_value(&doc, source).map_err(|e| invalid(e.kind))
            }
            kind => Err(invalid(kind)),
        },
    }
}

/// Checks that the training WaveNet implements every feature `config` uses; the
/// error names the first one it does not.
pub fn check_wavenet(config: &WaveNetConfig) -> Result<(), String> {
    if config.condition_dsp.is_some() {
        return Err("`condition_dsp`".into());
    }
    if config.post_head.is_some() {
        return Err("the post-stack `head`".into());
    }
    for (i, array) in config.layer_arrays.iter().enumerate() {
        let at = format!("layer array {i}");
        if array.layers.is_empty() {
            return Err(format!("an array without layers ({at})"));
        }
        if array.bottleneck != array.channels {
            return Err(format!("`bottleneck` ({at})"));
        }
        if array.groups_input != 1 || array.groups_input_mixin != 1 {
            return Err(format!("grouped convolutions ({at})"));
        }
        if array.layer1x1_groups != Some(1) {
            return Err(format!("`layer1x1` inactive or grouped ({at})"));
        }
        if array.head1x1.is_some() {
            return Err(format!("`head1x1` ({at})"));
        }
        if array.films.iter().any(Option::is_some) {
            return Err(format!("FiLM ({at})"));
        }
        if array.slimmable.is_some() {
            return Err(format!("slimmable layers ({at})"));
        }
        if array.head.dilation != 1 {
            return Err(format!("a dilated head rechannel ({at})"));
        }
        for layer in &array.layers {
            check_activation(&layer.activation)
                .map_err(|a| format!("the {a} activation ({at})"))?;
            if let Gating::Gated { secondary } | Gating::Blended { secondary } = &layer.gating {
                check_activation(secondary).map_err(|a| format!("the {a} activation ({at})"))?;
            }
        }
    }
    Ok(())
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
        | Activation::GELU { .. } => Ok(()),
        other => Err(other.name()),
    }
}
