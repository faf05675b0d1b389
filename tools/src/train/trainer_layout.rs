//! The NAM trainer's model configs (`nam/train/_resources/config_model_*.json`,
//! the `net.config` object) in the `.nam` file layout that `nam-kernel` parses:
//! `layers_configs` becomes `layers`, `layer_1x1_config`/`head_1x1_config`
//! become `layer1x1`/`head1x1`, `film_params` become the flat FiLM keys
//! (`conv_pre_film`, ...), and paired activations (`PairMultiply`,
//! `PairBlend`) become `gating_mode` with a `secondary_activation`, a PReLU's
//! `num_parameters` and `init` become its `negative_slopes`, and a
//! `condition_dsp` becomes a nested document. A config
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
    if let Some(nested) = object.remove("condition_dsp") {
        let nested = condition_dsp(nested).map_err(|e| format!("{e} (`condition_dsp`)"))?;
        object.insert("condition_dsp".into(), nested);
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
    match array.get_mut("activation") {
        Some(Value::Array(list)) => list.iter_mut().try_for_each(prelu_slopes)?,
        Some(single) => prelu_slopes(single)?,
        None => {}
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

/// A trainer's `condition_dsp` (`{"name": "WaveNet", "config"}`) as the nested
/// document a `.nam` file holds (`{"version", "architecture", "config"}`,
/// weights to come); a nested document's config is converted in place.
fn condition_dsp(nested: Value) -> Result<Value, String> {
    let Value::Object(mut nested) = nested else {
        return Ok(nested);
    };
    if let Some(name) = nested.remove("name") {
        nested.insert("architecture".into(), name);
        nested
            .entry("version")
            .or_insert_with(|| Value::from("0.7.0"));
    }
    if let Some(config) = nested.remove("config") {
        nested.insert("config".into(), to_file_layout(config)?);
    }
    Ok(Value::Object(nested))
}

/// A trainer's PReLU (`num_parameters` slopes starting at `init`, 1 and 0.25
/// by default, as `torch.nn.PReLU`) in place as the slopes a file holds.
fn prelu_slopes(activation: &mut Value) -> Result<(), String> {
    let Some(object) = activation.as_object_mut() else {
        return Ok(());
    };
    let name = object.get("name").or_else(|| object.get("type"));
    if name.and_then(Value::as_str) != Some("PReLU")
        || !(object.contains_key("num_parameters") || object.contains_key("init"))
    {
        return Ok(());
    }
    let count = match object.remove("num_parameters") {
        None => 1,
        Some(n) => n
            .as_u64()
            .filter(|&n| (1..=MAX_PRELU_SLOPES).contains(&n))
            .ok_or_else(|| format!("PReLU `num_parameters` {n} is not a channel count"))?,
    };
    let init = match object.remove("init") {
        None => 0.25,
        Some(v) => v
            .as_f64()
            .ok_or_else(|| format!("PReLU `init` {v} is not a number"))?,
    };
    object.insert(
        "negative_slopes".into(),
        Value::from(vec![init; count as usize]),
    );
    Ok(())
}

/// More PReLU slopes than any layer has channels.
const MAX_PRELU_SLOPES: u64 = 1 << 16;

/// `Some("PairMultiply" | "PairBlend")` for a paired activation object.
fn pairing(activation: &Value) -> Option<&str> {
    activation
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| matches!(*n, "PairMultiply" | "PairBlend"))
}
