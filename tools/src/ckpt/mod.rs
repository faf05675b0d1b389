//! `nam-tools import`: a NAM trainer's PyTorch Lightning checkpoint (`.ckpt`)
//! into a `.nam` file, read in Rust without Python.
//!
//! - [`archive`]: the `torch.save` zip and its state_dict (through
//!   [`pickle`], a minimal reader of the pickles torch writes).
//! - [`nets`]: each architecture the trainer exports (Linear, ConvNet, LSTM,
//!   WaveNet with the A2 options), config and weights in the trainer's order.
//!
//! The document gets the trainer's metadata (`date`, `loudness`, `gain`) and
//! the sample rate the checkpoint's model holds. Tests: `tools/tests/ckpt.rs`
//! against checkpoints and `.nam` exports the trainer itself made
//! (`scripts/make-ckpt-references.sh`).

pub mod archive;
mod config;
mod lstm_state;
mod nets;
pub mod pickle;
mod tensors;

use std::path::Path;

use nam_kernel::NamFile;
use serde_json::{json, Map, Value};

use crate::train::loudness::loudness_and_gain;
use archive::Checkpoint;
use config::Section;
use tensors::Tensors;

/// The largest checkpoint read (1 GiB; a NAM model's is megabytes).
const MAX_FILE_BYTES: u64 = 1 << 30;

/// Why a checkpoint could not be imported; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file could not be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The checkpoint is not a readable `torch.save` archive.
    #[error("{file}: {problem}")]
    Checkpoint {
        /// The checkpoint.
        file: String,
        /// What was met.
        problem: String,
    },
    /// The model config is missing, malformed, or not one the import knows.
    #[error("{file}: {problem}")]
    Config {
        /// The config file (or the checkpoint, for its hyper_parameters).
        file: String,
        /// The field and the problem.
        problem: String,
    },
    /// A tensor is missing, extra or of the wrong shape for the config.
    #[error("{file}: tensor '{tensor}' {problem}")]
    Tensor {
        /// The checkpoint.
        file: String,
        /// The state_dict key.
        tensor: String,
        /// What is wrong.
        problem: String,
    },
    /// The result is not a model nam-kernel accepts (a config the trainer
    /// could build but no player reads).
    #[error("{file}: the imported model is refused: {problem}")]
    Model {
        /// The checkpoint.
        file: String,
        /// nam-kernel's reason.
        problem: String,
    },
}

/// Imports `checkpoint`, the model described by the trainer's config file
/// `config` (or else by the checkpoint's `hyper_parameters`).
pub fn import(checkpoint: &Path, config: Option<&Path>) -> Result<NamFile, ImportError> {
    let name = checkpoint.display().to_string();
    let bytes = read_file(checkpoint)?;
    let ckpt = Checkpoint::from_bytes(&bytes, &name)?;
    let (config_value, config_name) =
        match config {
            Some(path) => {
                let config_name = path.display().to_string();
                let text = read_file(path)?;
                let value =
                    serde_json::from_slice::<Value>(&text).map_err(|e| ImportError::Config {
                        file: config_name.clone(),
                        problem: format!("not JSON: {e}"),
                    })?;
                (value, config_name)
            }
            None => match &ckpt.hyper_parameters {
                Some(h) => (h.clone(), format!("{name} (hyper_parameters)")),
                None => return Err(ImportError::Config {
                    file: name,
                    problem:
                        "the checkpoint holds no hyper_parameters (the NAM trainer saves none): \
                              give the model config with --config"
                            .into(),
                }),
            },
        };
    from_checkpoint(&ckpt, &name, &config_value, &config_name)
}

fn read_file(path: &Path) -> Result<Vec<u8>, ImportError> {
    let io = |source| ImportError::Io {
        file: path.display().to_string(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(io(std::io::Error::other("larger than 1 GiB")));
    }
    std::fs::read(path).map_err(io)
}

/// The `.nam` model of a read checkpoint; `config` is the trainer's model
/// config (`{"net": {"name", "config"}, ...}`) or its `net` part.
pub fn from_checkpoint(
    ckpt: &Checkpoint,
    file: &str,
    config: &Value,
    config_file: &str,
) -> Result<NamFile, ImportError> {
    let config_error = |problem: String| ImportError::Config {
        file: config_file.to_owned(),
        problem,
    };
    let (net, path) = match config.get("net") {
        Some(net) => (net, "net"),
        None => (config, "(net)"),
    };
    let net = Section::new(net, path).map_err(config_error)?;
    let architecture = match net.required("name").map_err(config_error)? {
        Value::String(name) => name.as_str(),
        other => {
            return Err(config_error(format!(
                "{path}.name: expected a string, found {other}"
            )))
        }
    };
    let net_config = Section::new(
        net.required("config").map_err(config_error)?,
        format!("{path}.config"),
    )
    .map_err(config_error)?;

    let mut tensors = Tensors::new(file, &ckpt.state_dict);
    let export = nets::export(architecture, &net_config, &mut tensors, &config_error)?;
    let sample_rate = sample_rate(&mut tensors)?;
    tensors.finish()?;

    let mut doc = Map::new();
    doc.insert("version".into(), json!("0.7.0"));
    doc.insert("metadata".into(), json!({}));
    doc.insert("architecture".into(), json!(export.architecture));
    doc.insert("config".into(), export.config);
    doc.insert("weights".into(), json!(export.weights));
    if let Some(rate) = sample_rate {
        doc.insert("sample_rate".into(), json!(rate));
    }
    let model_error = |problem: String| ImportError::Model {
        file: file.to_owned(),
        problem,
    };
    let mut nam = NamFile::from_json_value(&Value::Object(doc), file)
        .map_err(|e| model_error(e.to_string()))?;
    let (loudness, gain) = loudness_and_gain(&nam).map_err(|e| model_error(e.to_string()))?;
    nam.metadata.other.insert("date".into(), crate::date::now());
    nam.metadata.loudness = Some(loudness);
    nam.metadata.other.insert("gain".into(), json!(gain));
    Ok(nam)
}

/// The sample rate the model's buffers hold (`_sample_rate` when
/// `_has_sample_rate`), as the trainer exports it.
fn sample_rate(tensors: &mut Tensors) -> Result<Option<f64>, ImportError> {
    let has = tensors.take_if_present("_has_sample_rate", &[])?;
    let rate = tensors.take_if_present("_sample_rate", &[])?;
    Ok(match (has, rate) {
        (Some([has]), Some([rate])) if *has != 0.0 => Some(f64::from(*rate)),
        _ => None,
    })
}
