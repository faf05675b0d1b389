//! Writing a [`NamFile`] back to a `.nam` document (an RTNeural model is
//! written back as an RTNeural document, see `rtneural.rs`).
//!
//! The document has the fields, key order and number forms the NAM trainer
//! (`neural-amp-modeler` 0.13) writes: `version`, `metadata`, `architecture`,
//! `config`, `weights`, then `sample_rate` when one is declared.
//!
//! WaveNet layout ([`WaveNetLayout`]): by default the current layout, version
//! `0.7.0`, exactly as the trainer exports it, which the trainer itself and
//! NeuralAmpModelerCore read. On request, a top-level WaveNet whose config
//! fits the legacy 0.5 layout (every array with uniform kernel size and
//! activation, the activation given by its bare name, no gating or Sigmoid
//! gating, no bottleneck, groups, head 1x1, FiLM, slimming, head kernel or
//! post-stack head, no condition DSP) is written in that layout, version
//! `0.5.4`, for players that predate the current layout (the trainer cannot
//! read it back). Nested documents (condition DSP, container submodels) always
//! use the current layout. Weights are written in the shortest decimal form
//! that reads back to the same `f32`.

use std::path::Path;

use serde_json::{json, Map, Number, Value};

use super::activation::{parse_activation, Activation};
use super::json::Node;
use super::{
    ConvNetConfig, Gating, LayerArrayConfig, LinearConfig, LstmConfig, ModelSpec, NamFile,
    PostHeadConfig, WaveNetConfig,
};

/// The version written with the legacy WaveNet layout.
const LEGACY_VERSION: &str = "0.5.4";
/// The version the trainer writes (`MODEL_VERSION` of nam 0.13).
const CURRENT_VERSION: &str = "0.7.0";

/// Which layout a written WaveNet uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WaveNetLayout {
    /// The current layout (version 0.7.0), as the NAM trainer 0.13 writes it.
    #[default]
    Current,
    /// The legacy 0.5 layout (version 0.5.4) when the config fits it, for
    /// older players; otherwise the current layout.
    LegacyWhenPossible,
}

impl NamFile {
    /// The document as a JSON value in the trainer's layout, keys in the
    /// trainer's order.
    ///
    /// Non-finite metadata numbers are left out; a non-finite weight (only
    /// possible in a `NamFile` built by hand) becomes `null`, which
    /// [`NamFile::save`] refuses.
    pub fn to_json_value(&self) -> Value {
        self.to_json_value_with(WaveNetLayout::Current)
    }

    /// The document as a JSON value with the chosen WaveNet layout.
    pub fn to_json_value_with(&self, layout: WaveNetLayout) -> Value {
        document(self, layout == WaveNetLayout::LegacyWhenPossible)
    }

    /// The document as compact JSON text (what [`NamFile::save`] writes).
    pub fn to_json_string(&self) -> String {
        self.to_json_value().to_string()
    }

    /// Writes the document to `path` in the trainer's layout. The document
    /// is validated with the loader first, so a file that would not load back
    /// (a hand-built `NamFile` with a wrong weight count or a non-finite
    /// weight) is refused with [`std::io::ErrorKind::InvalidData`] and nothing
    /// is written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), std::io::Error> {
        self.save_with(path, WaveNetLayout::Current)
    }

    /// [`NamFile::save`] with the chosen WaveNet layout.
    pub fn save_with(
        &self,
        path: impl AsRef<Path>,
        layout: WaveNetLayout,
    ) -> Result<(), std::io::Error> {
        let path = path.as_ref();
        let value = self.to_json_value_with(layout);
        NamFile::from_json_value(&value, &path.display().to_string())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        std::fs::write(path, value.to_string())
    }
}

/// One document; `legacy_allowed` lets a fitting WaveNet use the legacy layout.
fn document(file: &NamFile, legacy_allowed: bool) -> Value {
    let legacy = match &file.spec {
        ModelSpec::WaveNet { config, .. } => legacy_allowed && fits_legacy(config),
        _ => false,
    };
    let (config, weights) = match &file.spec {
        ModelSpec::WaveNet { config, weights } if legacy => {
            (legacy_wavenet(config), weights_json(weights))
        }
        ModelSpec::WaveNet { config, weights } => (wavenet(config), weights_json(weights)),
        ModelSpec::Lstm { config, weights } => (lstm(config), weights_json(weights)),
        ModelSpec::ConvNet { config, weights } => (convnet(config), weights_json(weights)),
        ModelSpec::Linear { config, weights } => (linear(config), weights_json(weights)),
        ModelSpec::RtNeural { config, weights } => {
            // An RTNeural model is written back in its own format.
            let rate = file.declared_sample_rate_hz;
            return super::rtneural::to_json(config, weights, &file.metadata, rate);
        }
        ModelSpec::SlimmableContainer { submodels } => {
            let list: Vec<Value> = submodels
                .iter()
                .map(|s| json!({"max_value": number(s.max_value), "model": document(&s.model, false)}))
                .collect();
            (json!({ "submodels": list }), Value::Array(Vec::new()))
        }
    };
    let mut doc = Map::new();
    let version = if legacy {
        LEGACY_VERSION
    } else {
        CURRENT_VERSION
    };
    doc.insert("version".into(), version.into());
    doc.insert("metadata".into(), file.metadata.to_json());
    doc.insert("architecture".into(), file.architecture().into());
    doc.insert("config".into(), config);
    doc.insert("weights".into(), weights);
    if let Some(rate) = file.declared_sample_rate_hz.filter(|r| r.is_finite()) {
        doc.insert("sample_rate".into(), sample_rate(rate));
    }
    Value::Object(doc)
}

/// True when the legacy 0.5 layout expresses `config` exactly.
fn fits_legacy(config: &WaveNetConfig) -> bool {
    config.post_head.is_none()
        && config.condition_dsp.is_none()
        && config.layer_arrays.iter().all(array_fits_legacy)
}

fn array_fits_legacy(a: &LayerArrayConfig) -> bool {
    // An array without layers (only in a hand-built config) has no legacy form.
    let Some(first) = a.layers.first() else {
        return false;
    };
    let uniform = a.layers.iter().all(|l| {
        l.kernel_size == first.kernel_size
            && l.activation == first.activation
            && l.gating == first.gating
    });
    let gating_ok = match &first.gating {
        Gating::None => true,
        Gating::Gated { secondary } => *secondary == Activation::Sigmoid,
        Gating::Blended { .. } => false,
    };
    uniform
        && gating_ok
        && has_bare_name(&first.activation)
        && a.bottleneck == a.channels
        && a.groups_input == 1
        && a.groups_input_mixin == 1
        && a.layer1x1_groups == Some(1)
        && a.head1x1.is_none()
        && a.films.iter().all(Option::is_none)
        && a.slimmable.is_none()
        && a.head.kernel_size == 1
        && a.head.dilation == 1
}

/// True when the bare name reads back as exactly this activation (its
/// parameters are the defaults).
fn has_bare_name(activation: &Activation) -> bool {
    let name = Value::String(activation.name().to_owned());
    parse_activation(&Node::root(&name, "")).is_ok_and(|parsed| parsed == *activation)
}

/// An activation as the bare name when that is exact, else the typed object.
fn activation_name_or_object(activation: &Activation) -> Value {
    if has_bare_name(activation) {
        Value::String(activation.name().to_owned())
    } else {
        activation_object(activation)
    }
}

/// The typed activation object, parameters in their shortest `f32` form.
fn activation_object(activation: &Activation) -> Value {
    shorten_f32(activation.to_json())
}

fn legacy_wavenet(config: &WaveNetConfig) -> Value {
    let layers: Vec<Value> = config
        .layer_arrays
        .iter()
        .filter_map(|a| {
            // Present: `fits_legacy` holds, so every array has layers.
            let first = a.layers.first()?;
            Some(json!({
                "input_size": a.input_size,
                "condition_size": a.condition_size,
                "channels": a.channels,
                "head_size": a.head.out_channels,
                "kernel_size": first.kernel_size,
                "dilations": a.layers.iter().map(|l| l.dilation).collect::<Vec<_>>(),
                "activation": first.activation.name(),
                "gated": first.gating.is_paired(),
                "head_bias": a.head.bias,
            }))
        })
        .collect();
    json!({"layers": layers, "head": null, "head_scale": f32_number(config.head_scale)})
}

fn wavenet(config: &WaveNetConfig) -> Value {
    let mut out = Map::new();
    let layers: Vec<Value> = config.layer_arrays.iter().map(layer_array).collect();
    out.insert("layers".into(), Value::Array(layers));
    out.insert(
        "head".into(),
        config.post_head.as_ref().map_or(Value::Null, post_head),
    );
    out.insert("head_scale".into(), f32_number(config.head_scale));
    if let Some(nested) = &config.condition_dsp {
        out.insert("condition_dsp".into(), document(nested, false));
    }
    Value::Object(out)
}

fn layer_array(a: &LayerArrayConfig) -> Value {
    let mut head = json!({
        "out_channels": a.head.out_channels,
        "kernel_size": a.head.kernel_size,
        "bias": a.head.bias,
    });
    if a.head.dilation != 1 {
        head["head_dilation"] = a.head.dilation.into();
    }
    let head1x1 = match a.head1x1 {
        Some(h) => json!({"active": true, "out_channels": h.out_channels, "groups": h.groups}),
        None => json!({"active": false, "out_channels": 1, "groups": 1}),
    };
    let layer1x1 = json!({
        "active": a.layer1x1_groups.is_some(),
        "groups": a.layer1x1_groups.unwrap_or(1),
    });
    let mut out = Map::new();
    out.insert("input_size".into(), a.input_size.into());
    out.insert("condition_size".into(), a.condition_size.into());
    out.insert("head".into(), head);
    out.insert("channels".into(), a.channels.into());
    out.insert(
        "kernel_sizes".into(),
        a.layers.iter().map(|l| l.kernel_size).collect(),
    );
    out.insert(
        "dilations".into(),
        a.layers.iter().map(|l| l.dilation).collect(),
    );
    out.insert(
        "activation".into(),
        a.layers
            .iter()
            .map(|l| activation_object(&l.activation))
            .collect(),
    );
    out.insert("bottleneck".into(), a.bottleneck.into());
    out.insert("head1x1".into(), head1x1);
    out.insert("layer1x1".into(), layer1x1);
    out.insert("groups_input".into(), a.groups_input.into());
    out.insert("groups_input_mixin".into(), a.groups_input_mixin.into());
    for (position, film) in super::FilmPosition::ALL.iter().zip(&a.films) {
        let value = match film {
            Some(f) => json!({"active": true, "shift": f.shift, "groups": f.groups}),
            None => json!({"active": false, "shift": true, "groups": 1}),
        };
        out.insert(position.key().into(), value);
    }
    let (modes, secondaries): (Vec<Value>, Vec<Value>) = a
        .layers
        .iter()
        .map(|l| match &l.gating {
            Gating::None => ("none".into(), Value::Null),
            Gating::Gated { secondary } => ("gated".into(), activation_object(secondary)),
            Gating::Blended { secondary } => ("blended".into(), activation_object(secondary)),
        })
        .unzip();
    out.insert("gating_mode".into(), Value::Array(modes));
    out.insert("secondary_activation".into(), Value::Array(secondaries));
    let slimmable = a.slimmable.as_ref().map_or(Value::Null, |s| {
        let mut kwargs = json!({"allowed_channels": s.allowed_channels});
        // The training options, kept so that a resumed run trains the same way.
        if s.boosting {
            kwargs["boosting"] = json!(true);
        }
        if let Some(strategy) = &s.init_strategy {
            kwargs["init_strategy"] = json!(strategy);
        }
        json!({"method": "slice_channels_uniform", "kwargs": kwargs})
    });
    out.insert("slimmable".into(), slimmable);
    Value::Object(out)
}

fn post_head(head: &PostHeadConfig) -> Value {
    json!({
        "channels": head.channels,
        "activation": activation_name_or_object(&head.activation),
        "out_channels": head.out_channels,
        "kernel_sizes": head.kernel_sizes,
    })
}

fn lstm(config: &LstmConfig) -> Value {
    json!({
        "input_size": config.input_size,
        "hidden_size": config.hidden_size,
        "num_layers": config.num_layers,
    })
}

fn convnet(config: &ConvNetConfig) -> Value {
    json!({
        "channels": config.channels,
        "dilations": config.dilations,
        "batchnorm": config.batchnorm,
        "activation": activation_name_or_object(&config.activation),
    })
}

fn linear(config: &LinearConfig) -> Value {
    json!({"receptive_field": config.receptive_field, "bias": config.bias})
}

fn weights_json(weights: &[f32]) -> Value {
    Value::Array(weights.iter().map(|&w| f32_number(w)).collect())
}

/// `x` in the shortest decimal form that reads back (through `f64`) as the
/// same `f32`; `null` when not finite. The check reads the text as the loader
/// does, with `serde_json` (whose float parsing may be one `f64` ulp off).
pub(super) fn f32_number(x: f32) -> Value {
    if !x.is_finite() {
        return Value::Null;
    }
    let reads_back = |candidate: f64| {
        serde_json::to_string(&candidate)
            .ok()
            .and_then(|text| serde_json::from_str::<f64>(&text).ok())
            .is_some_and(|read| read as f32 == x)
    };
    let short = x.to_string().parse::<f64>().ok().filter(|&s| reads_back(s));
    number(short.unwrap_or(f64::from(x)))
}

/// A number in floating-point form; `null` when not finite.
fn number(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// The sample rate, as an integer when it is one (`48000`, as the trainer writes).
fn sample_rate(rate_hz: f64) -> Value {
    if rate_hz.fract() == 0.0 && (0.0..9.0e15).contains(&rate_hz) {
        // Exact: integral and below 2^53.
        return Value::Number(Number::from(rate_hz as u64));
    }
    number(rate_hz)
}

/// Rewrites every non-integer number that is exactly an `f32` in its shortest
/// `f32` form (activation parameters are stored as `f32`).
fn shorten_f32(value: Value) -> Value {
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(x) if f64::from(x as f32) == x => f32_number(x as f32),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(shorten_f32).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, shorten_f32(v))).collect())
        }
        other => other,
    }
}
