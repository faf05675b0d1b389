//! The `.nam` file format: parsing and validation, no signal processing.
//!
//! [`NamFile::load`] reads a file into a [`NamFile`]: the version, the
//! [`Metadata`], the sample rate and a [`ModelSpec`] holding the normalized
//! config of one architecture together with its weights. Both the legacy 0.5
//! layout (`head_size`, `gated`, scalar `kernel_size`, string activations) and the
//! current one (per-layer `kernel_sizes`, activations and `gating_mode`,
//! bottlenecks, groups, FiLM, `condition_dsp`, post-stack `head`, slimmable
//! layers, `SlimmableContainer`) normalize to the same types.
//!
//! Validation is complete before anything is built: every dimension is bounded
//! ([`limits`]), the weight count must match the config exactly, and every
//! weight must be finite. See `../shared/fixtures/README.md` for the layout.
//!
//! [`slim`] turns a slimmable WaveNet at any size into a plain, smaller
//! WaveNet config and weight vector (the trainer's `slice_channels_uniform`),
//! and lists the sizes of any slimmable model.
//!
//! [`NamFile::save`] (and [`NamFile::to_json_value`]) write a document back in
//! the trainer's form and current layout; [`WaveNetLayout`] asks for the
//! legacy 0.5 WaveNet layout where the config fits it (`tests/write.rs`).

mod activation;
mod convnet;
mod guitarml;
mod json;
pub mod limits;
mod linear;
mod lstm;
pub mod macs;
mod metadata;
mod rtneural;
pub mod slim;
mod wavenet;
mod write;

pub use write::WaveNetLayout;

use std::io::Read;
use std::path::Path;

use serde_json::Value;

pub use activation::Activation;
pub use convnet::ConvNetConfig;
pub use guitarml::GUITARML_SAMPLE_RATE_HZ;
pub use linear::LinearConfig;
pub use lstm::LstmConfig;
pub use metadata::Metadata;
pub use rtneural::{RtNeuralConfig, RtNeuralLayer};
pub use wavenet::{
    ArrayHeadConfig, FilmConfig, FilmPosition, Gating, Head1x1Config, LayerArrayConfig,
    LayerConfig, PostHeadConfig, SlimmableConfig, WaveNetConfig,
};

use crate::error::{FormatError, LoadError};
use json::Node;

/// The sample rate assumed when a file does not state one (most 0.5.x files).
pub const DEFAULT_SAMPLE_RATE_HZ: f64 = 48_000.0;

/// The oldest `.nam` version this loader reads.
pub const EARLIEST_SUPPORTED_VERSION: Version = Version::new(0, 5, 0);
/// The newest `major.minor` this loader reads (any patch of it).
pub const LATEST_SUPPORTED_VERSION: Version = Version::new(0, 7, 0);
const SUPPORTED_VERSIONS: &str = "0.5.0 to 0.7.x";

/// A `.nam` format version (`major.minor.patch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major component.
    pub major: u32,
    /// Minor component.
    pub minor: u32,
    /// Patch component.
    pub patch: u32,
}

impl Version {
    /// A version from its three components.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let mut next = || -> Option<u32> {
            let part = parts.next()?;
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let version = Self::new(next()?, next()?, next()?);
        parts.next().is_none().then_some(version)
    }

    fn is_supported(&self) -> bool {
        *self >= EARLIEST_SUPPORTED_VERSION
            && (self.major, self.minor)
                <= (
                    LATEST_SUPPORTED_VERSION.major,
                    LATEST_SUPPORTED_VERSION.minor,
                )
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A parsed and validated model document: a `.nam` file, an RTNeural /
/// AIDA-X file or a GuitarML WaveNet ([`ModelFormat`]), in one form.
#[derive(Clone, Debug)]
pub struct NamFile {
    /// The `.nam` format version the file declares (0.0.0 for an RTNeural
    /// or GuitarML file, which have none).
    pub version: Version,
    /// Descriptive metadata (all optional).
    pub metadata: Metadata,
    /// The sample rate the file states, if any; see [`NamFile::sample_rate_hz`].
    pub declared_sample_rate_hz: Option<f64>,
    /// The architecture, its config and weights.
    pub spec: ModelSpec,
    /// The format the document was read from (what [`NamFile::format`]
    /// reports). A GuitarML WaveNet is held as a NAM WaveNet
    /// ([`ModelSpec::WaveNet`]) and written as one by [`NamFile::save`].
    pub source_format: ModelFormat,
}

/// One architecture's normalized config and its weights (validated).
#[derive(Clone, Debug)]
pub enum ModelSpec {
    /// WaveNet (legacy and current layouts).
    WaveNet {
        /// The config.
        config: WaveNetConfig,
        /// The flat weight vector, `head_scale` last.
        weights: Vec<f32>,
    },
    /// Stacked LSTM with a linear head.
    Lstm {
        /// The config.
        config: LstmConfig,
        /// The flat weight vector.
        weights: Vec<f32>,
    },
    /// Dilated ConvNet (kernel 2), optional batchnorm.
    ConvNet {
        /// The config.
        config: ConvNetConfig,
        /// The flat weight vector.
        weights: Vec<f32>,
    },
    /// A plain FIR filter.
    Linear {
        /// The config.
        config: LinearConfig,
        /// The flat weight vector.
        weights: Vec<f32>,
    },
    /// An RTNeural / AIDA-X model: recurrent and dense layers, input skip
    /// and gains (see [`RtNeuralConfig`]).
    RtNeural {
        /// The config.
        config: RtNeuralConfig,
        /// The flat weight vector, layer by layer in Keras' order.
        weights: Vec<f32>,
    },
    /// Several complete models, one chosen by a size value.
    SlimmableContainer {
        /// The submodels, ascending by `max_value`.
        submodels: Vec<Submodel>,
    },
}

/// One entry of a `SlimmableContainer`.
#[derive(Clone, Debug)]
pub struct Submodel {
    /// This submodel serves sizes below `max_value` (the last one serves the rest).
    pub max_value: f64,
    /// The complete nested model document.
    pub model: NamFile,
}

impl ModelSpec {
    /// The architecture name as written in `.nam` files.
    pub fn architecture(&self) -> &'static str {
        match self {
            ModelSpec::WaveNet { .. } => "WaveNet",
            ModelSpec::Lstm { .. } => "LSTM",
            ModelSpec::ConvNet { .. } => "ConvNet",
            ModelSpec::Linear { .. } => "Linear",
            ModelSpec::RtNeural { .. } => "RTNeural",
            ModelSpec::SlimmableContainer { .. } => "SlimmableContainer",
        }
    }

    /// Samples of input the output depends on at the size that plays by
    /// default (1 for an LSTM): what [`Model::receptive_field`](crate::Model::receptive_field)
    /// reports after load. A `SlimmableContainer` plays its last submodel by
    /// default; a slimmable WaveNet's sizes differ in channels only, so they
    /// share its receptive field. Per size: [`slim::sizes`].
    pub fn receptive_field(&self) -> usize {
        match self {
            ModelSpec::WaveNet { config, .. } => config.receptive_field(),
            ModelSpec::Lstm { .. } => 1,
            ModelSpec::RtNeural { config, .. } => config.receptive_field(),
            ModelSpec::ConvNet { config, .. } => config.receptive_field(),
            ModelSpec::Linear { config, .. } => config.receptive_field,
            ModelSpec::SlimmableContainer { submodels } => submodels
                .last()
                .map_or(1, |s| s.model.spec.receptive_field()),
        }
    }
}

/// The model file formats this crate reads, told apart by their content
/// ([`ModelFormat::sniff`]), never by the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelFormat {
    /// A Neural Amp Modeler `.nam` document.
    Nam,
    /// An RTNeural / AIDA-X model (`.json`, `.aidax`).
    RtNeural,
    /// A GuitarML WaveNet (SmartGuitarAmp / SmartGuitarPedal / PedalNetRT
    /// `.json`), played as the NAM WaveNet it maps onto.
    GuitarMl,
}

impl ModelFormat {
    /// Which loader reads `value`: an object with any of `.nam`'s keys
    /// `architecture`, `config`, `weights`, `version` is a `.nam` document
    /// (its loader names what is missing), one with `layers` and `in_shape`
    /// an RTNeural model, one with `variables` and `residual_channels` a
    /// GuitarML WaveNet; `None` for anything else. The one place a new
    /// format is recognised.
    pub fn sniff(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        let nam_keys = ["architecture", "config", "weights", "version"];
        if nam_keys.iter().any(|key| object.contains_key(*key)) {
            Some(ModelFormat::Nam)
        } else if object.contains_key("layers") && object.contains_key("in_shape") {
            Some(ModelFormat::RtNeural)
        } else if guitarml::looks_like(object) {
            Some(ModelFormat::GuitarMl)
        } else {
            None
        }
    }

    /// The format's name for people.
    pub fn name(self) -> &'static str {
        match self {
            ModelFormat::Nam => "NAM (.nam)",
            ModelFormat::RtNeural => "RTNeural / AIDA-X (.json, .aidax)",
            ModelFormat::GuitarMl => "GuitarML WaveNet (.json)",
        }
    }
}

/// What a document no loader accepts looks like, for the error.
fn describe_unknown(value: &Value) -> String {
    match value {
        Value::Object(object) => {
            let keys: Vec<&str> = object.keys().take(8).map(String::as_str).collect();
            let more = if object.len() > keys.len() {
                ", ..."
            } else {
                ""
            };
            format!("a JSON object with keys {}{more}", keys.join(", "))
        }
        Value::Array(items) => format!("a JSON array of {} items", items.len()),
        Value::String(_) => "a JSON string".to_owned(),
        Value::Number(_) => "a JSON number".to_owned(),
        Value::Bool(_) => "a JSON boolean".to_owned(),
        Value::Null => "JSON null".to_owned(),
    }
}

/// What a file that is not JSON text looks like, for the error; `None` when
/// it starts like JSON (then the parser's error says what is wrong).
fn describe_non_json(bytes: &[u8]) -> Option<String> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if matches!(first, Some(b'{' | b'[')) {
        return None;
    }
    Some(
        if bytes.starts_with(b"RIFF") {
            "a RIFF file (a WAV?)"
        } else if bytes.is_empty() {
            "an empty file"
        } else if std::str::from_utf8(bytes).is_err() || bytes.contains(&0) {
            "binary data"
        } else {
            "text that is not a JSON object"
        }
        .to_owned(),
    )
}

impl NamFile {
    /// Reads and validates a model file of any [`ModelFormat`], chosen by its
    /// content. A file larger than [`limits::MAX_FILE_BYTES`] is refused
    /// before it is read.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, LoadError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = read_limited(path).map_err(|kind| LoadError::new(&name, kind))?;
        let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
        if let Some(looked_like) = describe_non_json(bytes) {
            return Err(LoadError::new(
                &name,
                FormatError::NotAModel { looked_like },
            ));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let message = format!("not UTF-8 text (at byte {})", e.valid_up_to());
            let error = std::io::Error::new(std::io::ErrorKind::InvalidData, message);
            LoadError::new(&name, FormatError::Io(error))
        })?;
        Self::from_json_str(text, &name)
    }

    /// Parses and validates a model document held in memory; `source_name`
    /// names it in errors. A leading UTF-8 byte order mark is skipped.
    pub fn from_json_str(text: &str, source_name: &str) -> Result<Self, LoadError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let value: Value = serde_json::from_str(text)
            .map_err(|e| LoadError::new(source_name, json_error(text, &e)))?;
        Self::from_json_value(&value, source_name)
    }

    /// Validates an already-parsed JSON document of any [`ModelFormat`].
    pub fn from_json_value(value: &Value, source_name: &str) -> Result<Self, LoadError> {
        let root = Node::root(value, "");
        let parsed = match ModelFormat::sniff(value) {
            Some(ModelFormat::Nam) => parse_document(&root, 0),
            Some(ModelFormat::RtNeural) => parse_rtneural(&root),
            Some(ModelFormat::GuitarMl) => parse_guitarml(&root),
            None => Err(FormatError::NotAModel {
                looked_like: describe_unknown(value),
            }),
        };
        parsed.map_err(|kind| LoadError::new(source_name, kind))
    }

    /// The format the model came in ([`NamFile::source_format`]).
    pub fn format(&self) -> ModelFormat {
        self.source_format
    }

    /// The sample rate the model was trained at: the declared one, or when
    /// the file states none [`GUITARML_SAMPLE_RATE_HZ`] for a GuitarML
    /// WaveNet and [`DEFAULT_SAMPLE_RATE_HZ`] for the others.
    pub fn sample_rate_hz(&self) -> f64 {
        self.declared_sample_rate_hz
            .unwrap_or(match self.source_format {
                ModelFormat::GuitarMl => GUITARML_SAMPLE_RATE_HZ,
                ModelFormat::Nam | ModelFormat::RtNeural => DEFAULT_SAMPLE_RATE_HZ,
            })
    }

    /// The architecture name (`WaveNet`, `LSTM`, ...).
    pub fn architecture(&self) -> &'static str {
        self.spec.architecture()
    }
}

/// Reads a file as text, refusing it from its size before reading when it
/// exceeds [`limits::MAX_FILE_BYTES`] (and if it grows past it while read).
fn read_limited(path: &Path) -> Result<Vec<u8>, FormatError> {
    let limit = limits::MAX_FILE_BYTES;
    let file = std::fs::File::open(path)?;
    let bytes = file.metadata()?.len();
    if bytes > limit {
        return Err(FormatError::FileTooLarge { bytes, limit });
    }
    let mut text = Vec::with_capacity(usize::try_from(bytes).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut text)?;
    let read = text.len() as u64;
    if read > limit {
        return Err(FormatError::FileTooLarge { bytes: read, limit });
    }
    Ok(text)
}

/// Refuses a document whose multiply-adds per sample exceed
/// [`limits::MAX_MACS_PER_SAMPLE`].
fn check_compute(doc: &Node, spec: &ModelSpec) -> Result<(), FormatError> {
    let macs = macs::per_sample(spec);
    let limit = limits::MAX_MACS_PER_SAMPLE;
    if macs > limit {
        let field = match doc.path.to_string() {
            path if path.is_empty() => "config".to_owned(),
            path => path,
        };
        return Err(FormatError::TooMuchCompute { field, macs, limit });
    }
    Ok(())
}

/// Maps a serde_json error to a [`FormatError`], recognising the `NaN` and
/// `Infinity` tokens Python writes for non-finite floats.
fn json_error(text: &str, error: &serde_json::Error) -> FormatError {
    let (line, column) = (error.line(), error.column());
    let at_error = text
        .lines()
        .nth(line.saturating_sub(1))
        .and_then(|l| l.get(column.saturating_sub(1)..))
        .unwrap_or("");
    let at_error = at_error.trim_start_matches('-');
    if at_error.starts_with("NaN") || at_error.starts_with("Infinity") {
        return FormatError::NonFiniteNumber { line, column };
    }
    FormatError::InvalidJson {
        line,
        column,
        message: error.to_string(),
    }
}

/// An RTNeural document as a [`NamFile`] with no `.nam` version.
fn parse_rtneural(doc: &Node) -> Result<NamFile, FormatError> {
    let parsed = rtneural::parse(doc)?;
    let spec = ModelSpec::RtNeural {
        config: parsed.config,
        weights: parsed.weights,
    };
    check_compute(doc, &spec)?;
    Ok(NamFile {
        version: Version::new(0, 0, 0),
        metadata: parsed.metadata,
        declared_sample_rate_hz: parsed.sample_rate_hz,
        spec,
        source_format: ModelFormat::RtNeural,
    })
}

/// A GuitarML WaveNet document as the NAM WaveNet it maps onto, with no
/// `.nam` version and no declared sample rate.
fn parse_guitarml(doc: &Node) -> Result<NamFile, FormatError> {
    let (config, weights) = guitarml::parse(doc)?;
    let spec = ModelSpec::WaveNet { config, weights };
    check_compute(doc, &spec)?;
    Ok(NamFile {
        version: Version::new(0, 0, 0),
        metadata: Metadata::default(),
        declared_sample_rate_hz: None,
        spec,
        source_format: ModelFormat::GuitarMl,
    })
}

fn parse_document(doc: &Node, depth: usize) -> Result<NamFile, FormatError> {
    if depth > limits::MAX_NESTING_DEPTH {
        return Err(FormatError::TooLarge {
            field: doc.path.to_string(),
            value: depth as f64,
            limit: limits::MAX_NESTING_DEPTH as u128,
        });
    }
    let version_node = doc.req("version")?;
    let version_text = version_node.as_str()?;
    let version = Version::parse(version_text)
        .filter(Version::is_supported)
        .ok_or_else(|| FormatError::UnsupportedVersion {
            version: version_text.to_owned(),
            supported: SUPPORTED_VERSIONS,
        })?;
    let metadata = match doc.get("metadata")? {
        Some(node) => Metadata::parse(&node)?,
        None => Metadata::default(),
    };
    let declared_sample_rate_hz = match doc.get("sample_rate")? {
        Some(node) => {
            let rate = node.as_f64()?;
            if !(1.0..=limits::MAX_SAMPLE_RATE_HZ).contains(&rate) {
                return Err(node.invalid(format!(
                    "sample rate {rate} Hz is outside 1 Hz to {} Hz",
                    limits::MAX_SAMPLE_RATE_HZ
                )));
            }
            Some(rate)
        }
        None => None,
    };
    let architecture_node = doc.req("architecture")?;
    let architecture = architecture_node.as_str()?;
    let config = doc.req("config")?;
    let spec = match architecture {
        "WaveNet" => {
            let config = WaveNetConfig::parse(&config, |nested| parse_document(nested, depth + 1))?;
            let weights = parse_weights(doc, config.weight_count())?;
            ModelSpec::WaveNet { config, weights }
        }
        "LSTM" => {
            let config = LstmConfig::parse(&config)?;
            let weights = parse_weights(doc, config.weight_count())?;
            ModelSpec::Lstm { config, weights }
        }
        "ConvNet" => {
            let config = ConvNetConfig::parse(&config)?;
            let weights = parse_weights(doc, config.weight_count())?;
            config.check_weights(&weights, &doc.path.key("weights"))?;
            ModelSpec::ConvNet { config, weights }
        }
        "Linear" => {
            let config = LinearConfig::parse(&config)?;
            let weights = parse_weights(doc, config.weight_count())?;
            ModelSpec::Linear { config, weights }
        }
        "SlimmableContainer" => ModelSpec::SlimmableContainer {
            submodels: parse_submodels(&config, declared_sample_rate_hz, depth)?,
        },
        other => {
            return Err(FormatError::UnknownArchitecture {
                field: architecture_node.path.to_string(),
                name: other.to_owned(),
            })
        }
    };
    check_compute(doc, &spec)?;
    Ok(NamFile {
        version,
        metadata,
        declared_sample_rate_hz,
        spec,
        source_format: ModelFormat::Nam,
    })
}

/// Reads `weights`, checking the count against the config and that each is finite.
fn parse_weights(doc: &Node, expected: usize) -> Result<Vec<f32>, FormatError> {
    let mut weights = Vec::new();
    doc.req("weights")?.append_weights(expected, &mut weights)?;
    Ok(weights)
}

fn parse_submodels(
    config: &Node,
    declared_sample_rate_hz: Option<f64>,
    depth: usize,
) -> Result<Vec<Submodel>, FormatError> {
    let list = config.req("submodels")?;
    let items = list.items()?;
    if items.is_empty() {
        return Err(list.invalid("a SlimmableContainer needs at least one submodel"));
    }
    if items.len() > limits::MAX_SUBMODELS {
        return Err(FormatError::TooLarge {
            field: list.path.to_string(),
            value: items.len() as f64,
            limit: limits::MAX_SUBMODELS as u128,
        });
    }
    let mut submodels: Vec<Submodel> = Vec::with_capacity(items.len());
    for item in &items {
        let max_node = item.req("max_value")?;
        let max_value = max_node.as_f64()?;
        if let Some(previous) = submodels.last() {
            if max_value <= previous.max_value {
                return Err(max_node.invalid("submodels must be sorted by ascending max_value"));
            }
        }
        let model_node = item.req("model")?;
        let model = parse_document(&model_node, depth + 1)?;
        // Any submodel may be selected at run time, so each must be playable.
        if let Some(channels) = wavenet::spec_out_channels(&model.spec).filter(|&c| c != 1) {
            return Err(model_node.invalid(format!(
                "the submodel outputs {channels} channels; a playable model outputs 1"
            )));
        }
        if let (Some(outer), Some(inner)) = (declared_sample_rate_hz, model.declared_sample_rate_hz)
        {
            if outer != inner {
                return Err(model_node.invalid(format!(
                    "submodel sample rate {inner} Hz differs from the container's {outer} Hz"
                )));
            }
        }
        submodels.push(Submodel { max_value, model });
    }
    let last = submodels.last().map_or(0.0, |s| s.max_value);
    if last < 1.0 {
        return Err(list.invalid(format!(
            "the last submodel's max_value must be at least 1.0 (found {last})"
        )));
    }
    Ok(submodels)
}
