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
//! rate between two resamplers (see [`super::resampler`]); the chain reports the
//! latency they add and `nam-graph run` compensates it.
//!
//! Every numeric setting named like one of a node's parameters
//! ([`Node::params`]) sets it; any other key is an error naming it.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use toml::{Spanned, Value};

use super::convolver::{Convolver, ConvolverSettings};
use super::dc_blocker::DcBlocker;
use super::gain::Gain;
use super::gate::Gate;
use super::mix::Mixer;
use super::nam::{NamNode, NamSettings, OutputMode};
use super::resampler::{needs_resampling, ResampledNode};
use super::tone_stack::ToneStack;
use crate::node::{Node, NodeError};

/// A problem with one node's settings.
#[derive(Debug)]
pub struct SettingError {
    /// Byte offset in the chain file, when known.
    pub offset: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// One node's settings from the chain file, with the keys read so far.
pub struct Settings<'a> {
    values: &'a BTreeMap<String, Spanned<Value>>,
    base_dir: &'a Path,
    used: RefCell<BTreeSet<&'a str>>,
}

impl<'a> Settings<'a> {
    /// Wraps a node's table; relative paths resolve against `base_dir`.
    pub fn new(values: &'a BTreeMap<String, Spanned<Value>>, base_dir: &'a Path) -> Self {
        Self {
            values,
            base_dir,
            used: RefCell::new(BTreeSet::new()),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Spanned<Value>> {
        let (name, value) = self.values.get_key_value(key)?;
        self.used.borrow_mut().insert(name.as_str());
        Some(value)
    }

    fn invalid(value: &Spanned<Value>, message: String) -> SettingError {
        SettingError {
            offset: Some(value.span().start),
            message,
        }
    }

    /// A number (integer or float), if present.
    pub fn number(&self, key: &str) -> Result<Option<f32>, SettingError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        match value.get_ref() {
            Value::Float(x) => Ok(Some(*x as f32)),
            Value::Integer(i) => Ok(Some(*i as f32)),
            other => Err(Self::invalid(
                value,
                format!("`{key}` must be a number, not {}", other.type_str()),
            )),
        }
    }

    /// A boolean, if present.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, SettingError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        value
            .get_ref()
            .as_bool()
            .map(Some)
            .ok_or_else(|| Self::invalid(value, format!("`{key}` must be true or false")))
    }

    /// A string, if present.
    pub fn string(&self, key: &str) -> Result<Option<&'a str>, SettingError> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        value
            .get_ref()
            .as_str()
            .map(Some)
            .ok_or_else(|| Self::invalid(value, format!("`{key}` must be a string")))
    }

    /// A required file path, resolved against the chain's folder; the file must exist.
    pub fn file(&self, key: &str) -> Result<PathBuf, SettingError> {
        let value = self.get(key).ok_or_else(|| SettingError {
            offset: None,
            message: format!("missing `{key}`"),
        })?;
        let text = value
            .get_ref()
            .as_str()
            .ok_or_else(|| Self::invalid(value, format!("`{key}` must be a path string")))?;
        let path = self.base_dir.join(text);
        if !path.is_file() {
            return Err(Self::invalid(
                value,
                format!("`{key}`: no file at {}", path.display()),
            ));
        }
        Ok(path)
    }

    /// Sets every parameter of `node` named in the settings, then checks that
    /// no unknown key remains.
    pub fn apply_params_and_finish(&self, node: &mut dyn Node) -> Result<(), SettingError> {
        let params = node.params().to_vec();
        for (index, param) in params.iter().enumerate() {
            // A key the node's constructor already read (e.g. `output_mode` given
            // as a word) is not read again as a number.
            if self.used.borrow().contains(param.name) {
                continue;
            }
            if let Some(value) = self.number(param.name)? {
                if !(param.min..=param.max).contains(&value) {
                    let at = self.get(param.name).map(|v| v.span().start);
                    return Err(SettingError {
                        offset: at,
                        message: format!(
                            "`{}` = {value} is outside {} to {}",
                            param.name, param.min, param.max
                        ),
                    });
                }
                node.set_param(index, value);
            }
        }
        let used = self.used.borrow();
        if let Some((key, value)) = self.values.iter().find(|(k, _)| !used.contains(k.as_str())) {
            let known: Vec<&str> = params.iter().map(|p| p.name).collect();
            return Err(Self::invalid(
                value,
                format!(
                    "unknown setting `{key}` (parameters of this node: {})",
                    known.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// Every kind [`build`] knows.
pub const KINDS: [&str; 7] = [
    "nam",
    "ir",
    "gain",
    "noise_gate",
    "tone_stack",
    "dc_blocker",
    "mix",
];

fn node_error(error: NodeError) -> SettingError {
    SettingError {
        offset: None,
        message: error.to_string(),
    }
}

/// Builds a node of `kind` from its settings, for a graph running at
/// `sample_rate_hz`; `sources` is the number of signals the chain feeds it
/// (what a `mix` sums).
pub fn build(
    kind: &str,
    settings: &Settings,
    sample_rate_hz: f64,
    sources: usize,
) -> Result<Box<dyn Node>, SettingError> {
    let mut node: Box<dyn Node> = match kind {
        "nam" => {
            let path = settings.file("model")?;
            let mut nam_settings = NamSettings::default();
            if let Some(mode) = settings.string("output_mode")? {
                nam_settings.output_mode = OutputMode::parse(mode).ok_or_else(|| SettingError {
                    offset: settings.get("output_mode").map(|v| v.span().start),
                    message: format!("output_mode `{mode}`: use raw, normalized or calibrated"),
                })?;
            }
            let node = NamNode::load(&path, nam_settings).map_err(node_error)?;
            let model_rate = node.model_sample_rate_hz();
            if needs_resampling(sample_rate_hz, model_rate) {
                // The model runs at its own rate between two resamplers.
                Box::new(ResampledNode::new(Box::new(node), model_rate).map_err(node_error)?)
            } else {
                Box::new(node)
            }
        }
        "ir" => {
            let path = settings.file("file")?;
            let ir_settings = ConvolverSettings {
                normalize: settings.boolean("normalize")?.unwrap_or(false),
                ..ConvolverSettings::default()
            };
            Box::new(Convolver::from_wav(&path, ir_settings).map_err(node_error)?)
        }
        "gain" => Box::new(Gain::new(0.0)),
        "noise_gate" => Box::new(Gate::new()),
        "tone_stack" => Box::new(ToneStack::new()),
        "dc_blocker" => Box::new(DcBlocker::new()),
        "mix" => Box::new(Mixer::new(sources).map_err(node_error)?),
        other => {
            return Err(SettingError {
                offset: None,
                message: format!("unknown node kind `{other}` (known: {})", KINDS.join(", ")),
            })
        }
    };
    settings.apply_params_and_finish(node.as_mut())?;
    Ok(node)
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
