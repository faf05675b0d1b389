//! `chain.toml`: a graph described in TOML.
//!
//! ```toml
//! [chain]                      # optional
//! block_frames = 64            # largest internal block (default 64)
//! stereo = "dual-mono"         # stereo input: "dual-mono" (one instance of each
//!                              # node per channel) or "mixdown" (sum to mono,
//!                              # duplicate at the end); default dual-mono
//!
//! [[node]]                     # file order is signal order
//! kind = "nam"
//! model = "amp.nam"            # paths are relative to the chain file
//! input_gain_db = 3.0
//!
//! [[node]]
//! id = "cab"                   # optional; default `<kind><index>`
//! kind = "ir"
//! file = "cab.wav"
//!
//! [[node]]                     # explicit inputs make any DAG: splits and mixes
//! id = "blend"
//! kind = "mix"
//! inputs = ["cab", "dry"]
//!
//! [output]                     # optional; default: the last node
//! from = "blend"
//! ```
//!
//! Each node takes its input from the node before it unless it lists `inputs`
//! (ids of earlier or later nodes; `"input"` is the chain's input). Every other
//! key is a setting of that kind of node; see [`crate::registry`].
//!
//! The file is exactly a serialized [`ChainSpec`]; [`Chain`] adds where it
//! is, so that relative paths resolve and errors name the file, the line and
//! the field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::files::ReadFiles;
use crate::graph::Graph;
use crate::spec::{BuildError, ChainSpec};

/// Why a chain file could not be turned into a graph.
#[derive(Debug, Error)]
#[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ChainError {
    /// The chain file.
    pub path: String,
    /// 1-based line of the offending item, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// A table of the file with where each key is, for pointing errors at lines.
type SpannedTable = Spanned<BTreeMap<String, Spanned<toml::Value>>>;

/// Where the file's tables and keys are (byte offsets).
#[derive(Default, Deserialize)]
struct Layout {
    chain: Option<SpannedTable>,
    #[serde(default)]
    node: Vec<SpannedTable>,
    output: Option<SpannedTable>,
}

/// The offset of `key` in `table`, else of the table itself.
fn offset_in(table: &SpannedTable, key: Option<&str>) -> usize {
    key.and_then(|k| table.get_ref().get(k))
        .map_or(table.span().start, |value| value.span().start)
}

/// A chain file: its [`ChainSpec`], and where it is (relative paths in it
/// start from its folder; errors name its lines).
pub struct Chain {
    path: PathBuf,
    text: String,
    spec: ChainSpec,
    layout: Layout,
}

impl Chain {
    /// Reads and parses a chain file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ChainError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ChainError {
            path: path.display().to_string(),
            line: None,
            message: format!("cannot read the file: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Parses chain text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ChainError> {
        let spec: ChainSpec = toml::from_str(text).map_err(|e| ChainError {
            path: path.display().to_string(),
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().to_owned(),
        })?;
        // The same text with looser types: it parses whenever the spec does.
        let layout = toml::from_str(text).unwrap_or_default();
        Ok(Self {
            path: path.to_owned(),
            text: text.to_owned(),
            spec,
            layout,
        })
    }

    /// The chain the file describes.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The folder relative paths in the chain start from.
    pub fn base_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// Builds the graph for `channels` (1 or 2) at `sample_rate_hz`, reading
    /// its files.
    pub fn build(&self, sample_rate_hz: f64, channels: usize) -> Result<Graph, ChainError> {
        self.spec
            .build(&self.base_dir(), sample_rate_hz, channels, &mut ReadFiles)
            .map_err(|e| self.locate(e))
    }

    /// The error as a line of this file.
    fn locate(&self, error: BuildError) -> ChainError {
        let key = error.key.as_deref();
        let offset = match &error.node {
            Some(node) => self.layout.node.get(node.index).map(|t| offset_in(t, key)),
            None => {
                let table = match key {
                    Some("from") => self.layout.output.as_ref(),
                    Some(_) => self.layout.chain.as_ref(),
                    None => None,
                };
                table.map(|t| offset_in(t, key))
            }
        };
        ChainError {
            path: self.path.display().to_string(),
            line: offset.map(|o| line_of(&self.text, o)),
            message: error.to_string(),
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}
