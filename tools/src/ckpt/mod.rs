//! `nam-tools import`: a NAM trainer's PyTorch Lightning checkpoint (`.ckpt`)
//! into a `.nam` file, read in Rust without Python.
//!
//! - [`archive`]: the `torch.save` zip and its state_dict (through
//!   [`pickle`], a minimal reader of the pickles torch writes).
//! - `nets`: each architecture the trainer exports (Linear, ConvNet, LSTM,
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
mod packed;
pub mod pickle;
mod tensors;

use std::path::{Path, PathBuf};

use nam_kernel::NamFile;
use serde_json::{json, Map, Value};

use crate::train::loudness::stamp_export_metadata;
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
/// `config` (or else by the checkpoint's `hyper_parameters`). A PackedWaveNet
/// may take one checkpoint per submodel besides (`submodel_checkpoints`, in
/// submodel order: the trainer's `packed_best_submodel_<i>.ckpt`), each
/// submodel then read from its own, as the trainer exports after training.
pub fn import(
    checkpoint: &Path,
    submodel_checkpoints: &[PathBuf],
    config: Option<&Path>,
) -> Result<NamFile, ImportError> {
    let name = checkpoint.display().to_string();
    let bytes = read_file(checkpoint)?;
    let ckpt = Checkpoint::from_bytes(&bytes, &name)?;
    let mut submodels = Vec::with_capacity(submodel_checkpoints.len());
    for path in submodel_checkpoints {
        let file = path.display().to_string();
        let read = Checkpoint::from_bytes(&read_file(path)?, &file)?;
        submodels.push((file, read));
    }
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
    from_checkpoints(&ckpt, &name, &submodels, &config_value, &config_name)
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

/// The `.nam` model of a read checkpoint (`file` names it); `config` is the
/// trainer's model config (`{"net": {"name", "config"}, ...}`) or its `net`
/// part; `submodels` the packed submodels' own checkpoints, if any.
pub fn from_checkpoints(
    ckpt: &Checkpoint,
    file: &str,
    submodels: &[(String, Checkpoint)],
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

    let document = if architecture == "PackedWaveNet" {
        packed::container(ckpt, file, submodels, &net_config, &config_error)?
    } else {
        if let Some((extra, _)) = submodels.first() {
            return Err(config_error(format!(
                "{path}.name: '{architecture}' has no submodels, so {extra} cannot be one \
                 (submodel checkpoints are for a PackedWaveNet)"
            )));
        }
        let mut tensors = Tensors::new(file, &ckpt.state_dict);
        let export = nets::export(architecture, &net_config, &mut tensors, &config_error)?;
        let sample_rate = sample_rate(&mut tensors)?;
        tensors.finish()?;
        document(export, sample_rate)
    };
    let model_error = |problem: String| ImportError::Model {
        file: file.to_owned(),
        problem,
    };
    let mut nam =
        NamFile::from_json_value(&document, file).map_err(|e| model_error(e.to_string()))?;
    stamp_export_metadata(&mut nam).map_err(|e| model_error(e.to_string()))?;
    Ok(nam)
}

/// The `.nam` document of an exported model (metadata comes later), the
/// sample rate in it and in its condition DSP's document, if it has one.
fn document(export: nets::Export, sample_rate: Option<f64>) -> Value {
    let mut config = export.config;
    let mut doc = Map::new();
    doc.insert("version".into(), json!("0.7.0"));
    doc.insert("metadata".into(), json!({}));
    doc.insert("architecture".into(), json!(export.architecture));
    if let (Some(rate), Some(Value::Object(dsp))) = (sample_rate, config.get_mut("condition_dsp")) {
        dsp.insert("sample_rate".into(), json!(rate));
    }
    doc.insert("config".into(), config);
    doc.insert("weights".into(), json!(export.weights));
    if let Some(rate) = sample_rate {
        doc.insert("sample_rate".into(), json!(rate));
    }
    Value::Object(doc)
}

/// The sample rate the model's buffers hold (`_sample_rate` when
/// `_has_sample_rate`), as the trainer exports it.
fn sample_rate(tensors: &mut Tensors) -> Result<Option<f64>, ImportError> {
    let has = tensors.take_if_present("_has_sample_rate", &[])?;
    let rate = tensors.take_if_present("_sample_rate", &[])?;
    Ok(match (has.as_deref(), rate.as_deref()) {
        (Some([has]), Some([rate])) if *has != 0.0 => Some(f64::from(*rate)),
        _ => None,
    })
}
