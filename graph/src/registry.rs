//! Node kinds by name, as `chain.toml` uses them, and their settings.
//!
//! | kind | settings |
//! | --- | --- |
//! | `nam` | `model` (path), `output_mode` (`raw`, `normalized`, `calibrated`), and the parameters `input_gain_db`, `output_gain_db`, `target_loudness_db`, `interface_input_dbu`, `interface_output_dbu`, `size` (0–1, 1 = full size: a slimmable model's size, no effect on other models) |
//! | `ir` | `file` (WAV path; any rate, bit depth and length up to 10 s), `normalize` (bool), and the parameters `mix` (0–1), `level_db` |
//! | `gain` | `gain_db` |
//! | `noise_gate` | `threshold_db`, `attack_ms`, `hold_ms`, `release_ms`, `hysteresis_db` |
//! | `tone_stack` | `bass`, `middle`, `treble` (0–10, 5 = flat) |
//! | `dc_blocker` | none |
//! | `mix` | sums its `inputs` (listed in the chain); `input_0_gain_db`, `input_1_gain_db`, ... |
//!
//! A `nam` model whose sample rate differs from the chain's runs at its own
//! rate between two resamplers (see [`crate::nodes::resampler`]); the chain reports the
//! latency they add and `nam-graph run` compensates it.
//!
//! Every numeric setting named like one of a node's parameters
//! ([`Node::params`]) sets it; any other key is an error naming it. A node's
//! files come from a [`FileSource`], so a rebuild can reuse what an earlier
//! one read.

use std::path::{Path, PathBuf};

use crate::files::FileSource;
use crate::node::{Node, NodeError};
use crate::nodes::convolver::{Convolver, ConvolverSettings};
use crate::nodes::dc_blocker::DcBlocker;
use crate::nodes::gain::Gain;
use crate::nodes::gate::Gate;
use crate::nodes::mix::Mixer;
use crate::nodes::nam::{NamNode, NamSettings};
use crate::nodes::resampler::{needs_resampling, ResampledNode};
use crate::nodes::tone_stack::ToneStack;
use crate::spec::{NodeKind, NodeSpec};

/// Why one node could not be built.
#[derive(Debug)]
pub struct SettingError {
    /// The key of the node's table at fault, when there is one.
    pub key: Option<String>,
    /// The file that could not be used, when there is one.
    pub file: Option<PathBuf>,
    /// What is wrong.
    pub message: String,
}

impl SettingError {
    fn new(key: Option<&str>, message: String) -> Self {
        Self {
            key: key.map(str::to_owned),
            file: None,
            message,
        }
    }

    /// A failure of the file named by `key`.
    fn file(key: &'static str, path: &Path, error: NodeError) -> Self {
        Self {
            key: Some(key.to_owned()),
            file: Some(path.to_owned()),
            message: format!("`{key}`: {error}"),
        }
    }
}

/// Builds the node `spec` describes, for a graph running at `sample_rate_hz`;
/// relative paths start from `base_dir`, files come from `files`, and
/// `sources` is the number of signals the chain feeds it (what a `mix` sums).
pub fn build(
    spec: &NodeSpec,
    base_dir: &Path,
    sample_rate_hz: f64,
    sources: usize,
    files: &mut dyn FileSource,
) -> Result<Box<dyn Node>, SettingError> {
    let mut node: Box<dyn Node> = match &spec.kind {
        NodeKind::Nam { model, output_mode } => {
            let path = base_dir.join(model);
            let failed = |e| SettingError::file("model", &path, e);
            let file = files.model(&path).map_err(failed)?;
            let settings = NamSettings {
                output_mode: *output_mode,
                ..NamSettings::default()
            };
            let node =
                NamNode::from_file(&file, &path.display().to_string(), settings).map_err(failed)?;
            let model_rate = node.model_sample_rate_hz();
            if needs_resampling(sample_rate_hz, model_rate) {
                // The model runs at its own rate between two resamplers.
                let resampled = ResampledNode::new(Box::new(node), model_rate)
                    .map_err(|e| SettingError::new(None, e.to_string()))?;
                Box::new(resampled)
            } else {
                Box::new(node)
            }
        }
        NodeKind::Ir { file, normalize } => {
            let path = base_dir.join(file);
            let failed = |e| SettingError::file("file", &path, e);
            let channel = files.impulse_response(&path).map_err(failed)?;
            let settings = ConvolverSettings {
                normalize: *normalize,
                ..ConvolverSettings::default()
            };
            Box::new(Convolver::from_channel(&path, &channel, settings).map_err(failed)?)
        }
        NodeKind::Gain => Box::new(Gain::new(0.0)),
        NodeKind::NoiseGate => Box::new(Gate::new()),
        NodeKind::ToneStack => Box::new(ToneStack::new()),
        NodeKind::DcBlocker => Box::new(DcBlocker::new()),
        NodeKind::Mix => {
            Box::new(Mixer::new(sources).map_err(|e| SettingError::new(None, e.to_string()))?)
        }
    };
    apply_params(spec, node.as_mut())?;
    Ok(node)
}

/// Sets every parameter the spec gives, each checked against its range;
/// a name that is not one of the node's parameters is an error.
fn apply_params(spec: &NodeSpec, node: &mut dyn Node) -> Result<(), SettingError> {
    // Keys the kind reads itself (e.g. `output_mode` as a word) are not
    // parameters here.
    let typed = spec.kind.keys();
    let params = node.params().to_vec();
    let settable = || params.iter().filter(|p| !typed.contains(&p.name));
    for (index, param) in params.iter().enumerate() {
        if typed.contains(&param.name) {
            continue;
        }
        if let Some(&value) = spec.params.get(param.name) {
            if !(param.min..=param.max).contains(&value) {
                return Err(SettingError::new(
                    Some(param.name),
                    format!(
                        "`{}` = {value} is outside {} to {}",
                        param.name, param.min, param.max
                    ),
                ));
            }
            node.set_param(index, value);
        }
    }
    if let Some(key) = spec
        .params
        .keys()
        .find(|key| !settable().any(|p| p.name == key.as_str()))
    {
        let known: Vec<&str> = settable().map(|p| p.name).collect();
        return Err(SettingError::new(
            Some(key),
            format!(
                "unknown setting `{key}` (parameters of this node: {})",
                known.join(", ")
            ),
        ));
    }
    Ok(())
}

/// A node averaging `channels` inputs into one output (a mixer at
/// `1/channels` per input).
pub fn mixdown(channels: usize) -> Result<Box<dyn Node>, NodeError> {
    let mut mixer = Mixer::new(channels)?;
    let gain_db = -20.0 * (channels as f32).log10();
    for input in 0..channels {
        mixer.set_param(input, gain_db);
    }
    mixer.reset();
    Ok(Box::new(mixer))
}
