//! Load-time errors: a bad document ([`FormatError`], inside a [`LoadError`])
//! or a validated one that cannot be built ([`BuildError`]). Every error names
//! the file (or the source given to the loader) and the problem; nothing in
//! the loader panics on bad input.

use std::fmt;

/// A `.nam` file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {kind}")]
pub struct LoadError {
    /// The file path, or the name the caller gave an in-memory source.
    pub source_name: String,
    /// What went wrong.
    pub kind: FormatError,
}

impl LoadError {
    pub(crate) fn new(source_name: impl Into<String>, kind: FormatError) -> Self {
        Self {
            source_name: source_name.into(),
            kind,
        }
    }
}

/// What is wrong with a `.nam` document. Fields called `field` hold a JSON path
/// such as `config.layers[1].kernel_sizes[3]`.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// The text is not valid JSON.
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    InvalidJson {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// The JSON holds `NaN` or `Infinity` (Python's `json.dump` writes these).
    #[error("non-finite number (NaN or Infinity) at line {line}, column {column}")]
    NonFiniteNumber {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The document is not a model file any loader reads.
    #[error("not a model file: found {looked_like}; expected a .nam model (keys `architecture`, `config`, `weights`), an RTNeural / AIDA-X model (keys `in_shape`, `layers`) or a GuitarML WaveNet (keys `residual_channels`, `variables`)")]
    NotAModel {
        /// What the file looked like.
        looked_like: String,
    },
    /// A required field is absent (or null).
    #[error("missing field `{field}`")]
    MissingField {
        /// JSON path of the missing field.
        field: String,
    },
    /// A field has the wrong type or an invalid value.
    #[error("`{field}`: {message}")]
    InvalidField {
        /// JSON path of the field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The `version` is outside what this loader supports.
    #[error("unsupported .nam version `{version}` (supported: {supported})")]
    UnsupportedVersion {
        /// The version string found.
        version: String,
        /// The supported range, for the message.
        supported: &'static str,
    },
    /// The `architecture` is not one NAM defines.
    #[error("unknown architecture `{name}` at `{field}` (known: WaveNet, LSTM, ConvNet, Linear, SlimmableContainer)")]
    UnknownArchitecture {
        /// JSON path of the architecture field.
        field: String,
        /// The name found.
        name: String,
    },
    /// An activation name this loader does not know.
    #[error("unknown activation `{name}` at `{field}`")]
    UnknownActivation {
        /// JSON path of the activation.
        field: String,
        /// The name found.
        name: String,
    },
    /// The weight vector's length does not match the config.
    #[error("weight count mismatch in `{field}`: the config needs {expected} weights, the file has {found}")]
    WeightCountMismatch {
        /// JSON path of the weights array.
        field: String,
        /// Count implied by the config.
        expected: usize,
        /// Count present in the file.
        found: usize,
    },
    /// A weight is NaN or infinite (after conversion to `f32`).
    #[error("non-finite weight {value} at `{field}[{index}]`")]
    NonFiniteWeight {
        /// JSON path of the weights array.
        field: String,
        /// Index of the first bad weight.
        index: usize,
        /// Its value after conversion to f32.
        value: f32,
    },
    /// The validated document could not be built into a runnable model.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A dimension exceeds what a sane model needs; refused before allocating.
    #[error("`{field}` = {} is too large (at most {limit})", Number(*value))]
    TooLarge {
        /// JSON path (or description) of the dimension.
        field: String,
        /// The value found (a float: the file may hold `1e300`).
        value: f64,
        /// The limit.
        limit: u128,
    },
    /// The file is larger than [`MAX_FILE_BYTES`](crate::format::limits::MAX_FILE_BYTES);
    /// refused before reading it.
    #[error("the file is {bytes} bytes, more than the {limit}-byte limit for a .nam file")]
    FileTooLarge {
        /// The file's size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// The model needs more multiply-adds per sample than
    /// [`MAX_MACS_PER_SAMPLE`](crate::format::limits::MAX_MACS_PER_SAMPLE).
    #[error("`{field}`: the model needs {macs} multiply-adds per sample, more than the limit of {limit}")]
    TooMuchCompute {
        /// JSON path of the document (empty for the whole file: shown as `config`).
        field: String,
        /// Multiply-adds per sample (see [`crate::format::macs`]).
        macs: u64,
        /// The limit.
        limit: u64,
    },
}

/// Why a validated [`NamFile`](crate::NamFile) could not be turned into a runnable model.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The weights did not match the layout (a loader bug if it ever happens,
    /// since counts are validated first).
    #[error("the weights do not fit the model: {expected} needed, {found} present")]
    WeightCount {
        /// Weights consumed so far.
        expected: usize,
        /// Weights present.
        found: usize,
    },
    /// The model's output is not a single channel.
    #[error("the model outputs {0} channels; a playable model outputs 1")]
    NotMono(usize),
    /// The model would need more processing state than [`MAX_STATE_FLOATS`](crate::format::limits::MAX_STATE_FLOATS).
    #[error("the model needs {floats} floats of state (at most {limit})")]
    TooMuchState {
        /// Floats the model needs.
        floats: usize,
        /// The limit.
        limit: usize,
    },
    /// `max_block_frames` was zero.
    #[error("max_block_frames must be at least 1")]
    ZeroBlock,
}

/// Shows a number found in a file honestly: an integer as one (`1000000`),
/// anything else, or anything huge, in scientific notation (`1e300`).
struct Number(f64);

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if x.fract() == 0.0 && x.abs() < 1e16 {
            write!(f, "{x:.0}")
        } else {
            write!(f, "{x:e}")
        }
    }
}

/// A location inside the JSON document, used to build field paths in errors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(String);

impl FieldPath {
    pub(crate) fn root(name: &str) -> Self {
        Self(name.to_owned())
    }

    pub(crate) fn key(&self, key: &str) -> Self {
        if self.0.is_empty() {
            Self(key.to_owned())
        } else {
            Self(format!("{}.{}", self.0, key))
        }
    }

    pub(crate) fn index(&self, index: usize) -> Self {
        Self(format!("{}[{}]", self.0, index))
    }

    pub(crate) fn invalid(&self, message: impl Into<String>) -> FormatError {
        FormatError::InvalidField {
            field: self.0.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn missing(&self) -> FormatError {
        FormatError::MissingField {
            field: self.0.clone(),
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
