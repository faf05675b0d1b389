//! Errors of `info` and `bench`: each names the file and the problem.

use nam_graph::ChainError;
use nam_kernel::{BuildError, LoadError};

/// Why `info` or `bench` could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `.nam` file is missing, unreadable or invalid (the error names it).
    #[error("{0}")]
    Load(#[from] LoadError),
    /// The file is valid but cannot be built into a playable model.
    #[error("{file}: {source}")]
    Build {
        /// The model file.
        file: String,
        /// Why it cannot be built.
        source: BuildError,
    },
    /// The `chain.toml` failed (the error names its file and line).
    #[error("{0}")]
    Chain(#[from] ChainError),
    /// `convert` cannot write the model in the format asked (the message
    /// names the file and the reason).
    #[error("{0}")]
    Convert(String),
    /// `import` could not read the checkpoint or its config (the error names
    /// the file, and the tensor or field).
    #[error("{0}")]
    Import(#[from] crate::ckpt::ImportError),
    /// The default chain failed (the error names the node and its file).
    #[error("{0}")]
    DefaultChain(Box<nam_graph::BuildError>),
}
