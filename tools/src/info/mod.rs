//! `nam-tools info`: what a `.nam` file holds.
//!
//! [`ModelInfo::from_file`] summarises a loaded file: architecture, config,
//! parameter count, receptive field, multiply-adds per sample ([`macs`], counted by the kernel),
//! sample rate and metadata, with one entry per submodel of a container and
//! one per size of a slimmable model.
//! It serialises to the stable `--json` object; [`ModelInfo::render`] gives the
//! text report.

mod sizes;
mod summary;
mod text;

use nam_kernel::format::{macs, Metadata, ModelFormat, ModelSpec};
use nam_kernel::NamFile;
use serde::Serialize;
use serde_json::Value;

pub use sizes::SizeInfo;
pub use summary::{
    ArrayHeadSummary, ConfigSummary, FilmSummary, LayerArraySummary, PostHeadSummary,
};
pub use text::printable;

/// Everything `info` reports about one model (or one submodel).
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    /// `WaveNet`, `LSTM`, `ConvNet`, `Linear`, `SlimmableContainer` or
    /// `RTNeural`.
    pub architecture: &'static str,
    /// The file format (`NAM (.nam)`, `RTNeural / AIDA-X (.json, .aidax)`).
    pub format: &'static str,
    /// The `.nam` format version the file declares (`none` for other formats).
    pub version: String,
    /// The sample rate the model expects (48 kHz when the file states none).
    pub sample_rate_hz: f64,
    /// Whether the file states its sample rate.
    pub sample_rate_declared: bool,
    /// Weights in the file, nested models (condition DSP, submodels) included.
    pub parameters: usize,
    /// Samples of input each output sample depends on (a container: its
    /// default submodel's).
    pub receptive_field: usize,
    /// Multiply-adds per output sample (see [`macs`]; a container: its default
    /// submodel's).
    pub multiply_adds_per_sample: u64,
    /// The architecture's config.
    pub config: ConfigSummary,
    /// The metadata.
    pub metadata: MetadataSummary,
    /// A container's submodels, ascending by `max_value` (empty otherwise).
    pub submodels: Vec<SubmodelInfo>,
    /// The sizes of a slimmable model (a slimmable WaveNet or a container),
    /// smallest first, with channels, cost and receptive field; empty for a
    /// model that is not slimmable.
    pub sizes: Vec<SizeInfo>,
}

/// One submodel of a `SlimmableContainer`.
#[derive(Clone, Debug, Serialize)]
pub struct SubmodelInfo {
    /// Serves sizes below this value (the last one serves the rest and plays by default).
    pub max_value: f64,
    /// The submodel.
    pub model: ModelInfo,
}

/// The metadata fields NAM defines, plus everything else the file holds.
#[derive(Clone, Debug, Serialize)]
pub struct MetadataSummary {
    /// Model name.
    pub name: Option<String>,
    /// Who made the capture.
    pub modeled_by: Option<String>,
    /// Kind of gear (`amp`, `pedal`, ...).
    pub gear_type: Option<String>,
    /// Manufacturer of the gear.
    pub gear_make: Option<String>,
    /// Model of the gear.
    pub gear_model: Option<String>,
    /// `clean`, `crunch`, `hi_gain`, ...
    pub tone_type: Option<String>,
    /// Loudness on the trainer's reference signal, dB.
    pub loudness_db: Option<f64>,
    /// dBu at the interface input for 0 dBFS.
    pub input_level_dbu: Option<f64>,
    /// dBu at the output for 0 dBFS.
    pub output_level_dbu: Option<f64>,
    /// The trainer's validation ESR.
    pub validation_esr: Option<f64>,
    /// The export date, as the file writes it.
    pub date: Option<Value>,
    /// The trainer's full `training` record.
    pub training: Option<Value>,
    /// Every other key (`gain`, custom fields), as found.
    pub other: serde_json::Map<String, Value>,
}

impl MetadataSummary {
    fn new(m: &Metadata) -> Self {
        let mut other = m.other.clone();
        let date = other.shift_remove("date");
        Self {
            name: m.name.clone(),
            modeled_by: m.modeled_by.clone(),
            gear_type: m.gear_type.clone(),
            gear_make: m.gear_make.clone(),
            gear_model: m.gear_model.clone(),
            tone_type: m.tone_type.clone(),
            loudness_db: m.loudness,
            input_level_dbu: m.input_level_dbu,
            output_level_dbu: m.output_level_dbu,
            validation_esr: m.validation_esr(),
            date,
            training: m.training.clone(),
            other,
        }
    }
}

impl ModelInfo {
    /// Summarises a loaded file.
    pub fn from_file(file: &NamFile) -> Self {
        let submodels = match &file.spec {
            ModelSpec::SlimmableContainer { submodels } => submodels
                .iter()
                .map(|s| SubmodelInfo {
                    max_value: s.max_value,
                    model: ModelInfo::from_file(&s.model),
                })
                .collect(),
            _ => Vec::new(),
        };
        Self {
            architecture: file.architecture(),
            format: file.format().name(),
            version: match file.format() {
                ModelFormat::Nam => file.version.to_string(),
                ModelFormat::RtNeural | ModelFormat::GuitarMl => "none".to_owned(),
            },
            sample_rate_hz: file.sample_rate_hz(),
            sample_rate_declared: file.declared_sample_rate_hz.is_some(),
            parameters: parameters(&file.spec),
            receptive_field: file.spec.receptive_field(),
            multiply_adds_per_sample: macs::per_sample(&file.spec),
            config: ConfigSummary::new(&file.spec),
            metadata: MetadataSummary::new(&file.metadata),
            submodels,
            sizes: sizes::sizes(&file.spec),
        }
    }

    /// The stable machine-readable form (`info --json`).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The text report.
    pub fn render(&self) -> String {
        text::render(self)
    }
}

/// Weights in the file, nested models included.
pub fn parameters(spec: &ModelSpec) -> usize {
    match spec {
        ModelSpec::WaveNet { config, weights } => {
            weights.len()
                + config
                    .condition_dsp
                    .as_ref()
                    .map_or(0, |nested| parameters(&nested.spec))
        }
        ModelSpec::Lstm { weights, .. }
        | ModelSpec::RtNeural { weights, .. }
        | ModelSpec::ConvNet { weights, .. }
        | ModelSpec::Linear { weights, .. } => weights.len(),
        ModelSpec::SlimmableContainer { submodels } => {
            submodels.iter().map(|s| parameters(&s.model.spec)).sum()
        }
    }
}
