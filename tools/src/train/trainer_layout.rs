//! The NAM trainer's model configs (`nam/train/_resources/config_model_*.json`,
//! the `net.config` object) in the `.nam` file layout that `nam-kernel` parses:
//! `layers_configs` becomes `layers`, `layer_1x1_config`/`head_1x1_config`
//! become `layer1x1`/`head1x1`, `film_params` become the flat FiLM keys
//! (`conv_pre_film`, ...), and paired activations (`PairMultiply`,
//! `PairBlend`) become `gating_mode` with a `secondary_activation`. A config
//! already in the file layout passes through unchanged. A ConvNet's or
//! Linear's settings the trainer's config leaves out take its defaults.

use serde_json::{json, Map, Value};

/// Fills in what the NAM trainer's constructors default and its model configs
/// may leave out: a `ConvNet`'s `channels` (32), `dilations` (1, 2, 4, 8),
/// `batchnorm` (false) and `activation` (Tanh), a `Linear`'s `bias` (false).
pub fn fill_defaults(architecture: &str, config: &mut Value) {
    let defaults = match architecture {
        "ConvNet" => json!({
            "channels": 32, "dilations": [1, 2, 4, 8], "batchnorm": false, "activation": "Tanh"
        }),
        "Linear" => json!({"bias": false}),
        _ => return,
    };
    if let (Some(config), Value::Object(defaults)) = (config.as_object_mut(), defaults) {
        for (key, value) in defaults {
            config.entry(key).or_insert(value);
        }
    }
}

/// The file layout of a trainer (or file) `config`; an error names what is
/// malformed (a paired activation without its primary or secondary).
pub fn to_file_layout(mut config: Value) -> Result<Value, String> {
    let Some(object) = config.as_object_mut() else {
        return Ok(config);
    };
    if let Some(arrays) = object.remove("layers_configs") {
        object.insert("layers".into(), arrays);
    }
    if let Some(Value::Array(arrays)) = object.get_mut("layers") {
        for (i, array) in arrays.iter_mut().enumerate() {
            if let Some(array) = array.as_object_mut() {
                convert_array(array).map_err(|e| format!("{e} (layer array {i})"))?;
            }
        }
    }
    Ok(config)
}

/// One layer array in place.
fn convert_array(array: &mut Map<String, Value>) -> Result<(), String> {
    for (trainer, file) in [
        ("layer_1x1_config", "layer1x1"),
        ("head_1x1_config", "head1x1"),
    ] {
        if let Some(value) = array.remove(trainer) {
            array.insert(file.into(), value);
        }
    }
    if let Some(Value::Object(films)) = array.remove("film_params") {
        for (key, film) in films {
            let film = match film {
                Value::Bool(active) => json!({ "active": active }),
                other => other,
            };
            array.insert(key, film);
        }
    }
    let layers = array
        .get("dilations")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let activations: Vec<Value> = match array.get("activation") {
        Some(Value::Array(list)) => list.clone(),
        Some(single) => vec![single.clone(); layers],
        None => return Ok(()),
    };
    if !activations.iter().any(|a| pairing(a).is_some()) {
        return Ok(());
    }
    let mut primaries = Vec::with_capacity(activations.len());
    let mut modes = Vec::with_capacity(activations.len());
    let mut secondaries = Vec::with_capacity(activations.len());
    for activation in activations {
        match pairing(&activation) {
            Some(mode) => {
                let part = |key: &str| {
                    activation
                        .get(key)
                        .cloned()
                        .ok_or_else(|| format!("a {mode} activation without `{key}`"))
                };
                primaries.push(part("primary")?);
                secondaries.push(part("secondary")?);
                modes.push(Value::from(if mode == "PairMultiply" {
                    "gated"
                } else {
                    "blended"
                }));
            }
            None => {
                primaries.push(activation);
                secondaries.push(Value::Null);
                modes.push(Value::from("none"));
            }
        }
    }
    array.insert("activation".into(), Value::Array(primaries));
    array.insert("gating_mode".into(), Value::Array(modes));
    array.insert("secondary_activation".into(), Value::Array(secondaries));
    Ok(())
}

/// `Some("PairMultiply" | "PairBlend")` for a paired activation object.
fn pairing(activation: &Value) -> Option<&str> {
    activation
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| matches!(*n, "PairMultiply" | "PairBlend"))
}
