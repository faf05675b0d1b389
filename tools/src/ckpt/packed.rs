//! The NAM trainer 0.13's default model, a `PackedWaveNet`: several WaveNets
//! trained side by side as one network whose convolutions are
//! block-diagonal (`nam/models/wavenet/_packed*.py`). The trainer exports it
//! as a `SlimmableContainer` of its submodels, each a WaveNet document cut
//! out of the packed tensors ([`Tensors::read_packed_submodel`]), with the
//! `max_value`s of `export.container_max_values`.

use serde_json::{json, Value};

use super::archive::Checkpoint;
use super::config::Section;
use super::nets::{self, Export};
use super::tensors::Tensors;
use super::{document, sample_rate, ImportError};

/// The state_dict buffers that keep the off-block weights at zero.
const MASK_SUFFIX: &str = "._weight_mask";

/// The container document (metadata comes later) of the PackedWaveNet
/// `config` (its `net.config`) in `ckpt`; submodel `i` comes from
/// `submodels[i]` when that is given.
pub fn container(
    ckpt: &Checkpoint,
    file: &str,
    submodels: &[(String, Checkpoint)],
    config: &Section,
    ce: &dyn Fn(String) -> ImportError,
) -> Result<Value, ImportError> {
    let configs = submodel_configs(config).map_err(ce)?;
    let max_values = max_values(config, configs.len()).map_err(ce)?;
    if !submodels.is_empty() && submodels.len() != configs.len() {
        return Err(ce(format!(
            "{}.submodels: {} submodels, but {} submodel checkpoints were given (one per submodel, in order)",
            config.path(),
            configs.len(),
            submodels.len()
        )));
    }
    let (mut exports, rate) = read_every_submodel(ckpt, file, &configs, ce)?;
    for (i, (own_file, own)) in submodels.iter().enumerate() {
        let (mut from_own, _) = read_every_submodel(own, own_file, &configs, ce)?;
        exports[i] = from_own.swap_remove(i);
    }
    let models: Vec<Value> = exports
        .into_iter()
        .zip(max_values)
        .map(|(export, max_value)| json!({"max_value": max_value, "model": document(export, rate)}))
        .collect();
    let mut container = json!({
        "version": "0.7.0",
        "metadata": {},
        "architecture": "SlimmableContainer",
        "config": {"submodels": models},
        "weights": [],
    });
    if let Some(rate) = rate {
        container["sample_rate"] = json!(rate);
    }
    Ok(container)
}

/// Every submodel read out of one checkpoint, in order (each block's place
/// depends on the submodels before it), and the checkpoint's sample rate.
fn read_every_submodel(
    ckpt: &Checkpoint,
    file: &str,
    configs: &[Section],
    ce: &dyn Fn(String) -> ImportError,
) -> Result<(Vec<Export>, Option<f64>), ImportError> {
    let mut tensors = Tensors::new(file, &ckpt.state_dict);
    tensors.skip_every(MASK_SUFFIX);
    let mut exports = Vec::with_capacity(configs.len());
    for (i, config) in configs.iter().enumerate() {
        tensors.read_packed_submodel(i);
        exports.push(nets::export("WaveNet", config, &mut tensors, ce)?);
    }
    let rate = sample_rate(&mut tensors)?;
    tensors.finish()?;
    Ok((exports, rate))
}

/// The submodels' WaveNet configs, refusing what the trainer does not pack.
fn submodel_configs<'a>(config: &Section<'a>) -> Result<Vec<Section<'a>>, String> {
    let submodels = match config.required("submodels")? {
        Value::Array(list) if !list.is_empty() => list,
        _ => {
            return Err(format!(
                "{}.submodels: expected a non-empty list",
                config.path()
            ))
        }
    };
    submodels
        .iter()
        .enumerate()
        .map(|(i, submodel)| {
            let submodel = Section::new(submodel, format!("{}.submodels[{i}]", config.path()))?;
            let net = Section::new(
                submodel.required("config")?,
                format!("{}.config", submodel.path()),
            )?;
            net.refuse(
                "condition_dsp",
                "a PackedWaveNet has no condition DSP (the trainer refuses one)",
            )?;
            net.refuse(
                "head",
                "a PackedWaveNet has no post-stack head (the trainer refuses one)",
            )?;
            Ok(net)
        })
        .collect()
}

/// The container's `max_value` per submodel (`export.container_max_values`:
/// "uniform", the default, is `(i + 1) / n`; a list is taken as given), the
/// last always 1, as the trainer's `_container_max_values`.
fn max_values(config: &Section, n: usize) -> Result<Vec<f64>, String> {
    let export = config.section("export")?;
    let configured = export.as_ref().and_then(|e| e.get("container_max_values"));
    let path = || format!("{}.export.container_max_values", config.path());
    let mut values: Vec<f64> = match configured {
        None => (1..=n).map(|i| i as f64 / n as f64).collect(),
        Some(Value::String(s)) if s == "uniform" => (1..=n).map(|i| i as f64 / n as f64).collect(),
        Some(Value::Array(list)) if list.len() == n => list
            .iter()
            .map(|v| {
                v.as_f64()
                    .ok_or_else(|| format!("{}: {v} is not a number", path()))
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "{}: {other}: expected \"uniform\" or a list of {n} numbers",
                path()
            ))
        }
    };
    if let Some(last) = values.last_mut() {
        *last = 1.0;
    }
    if values.windows(2).any(|w| w[0] > w[1]) {
        return Err(format!("{}: the values must be sorted", path()));
    }
    Ok(values)
}
