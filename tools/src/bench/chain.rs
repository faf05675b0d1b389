//! The chain `bench` times: a user's `chain.toml`, or the default chain (the
//! model, then a cabinet IR if one is given), built by `nam-graph` exactly as
//! `nam-graph run` builds it.

use std::path::{Path, PathBuf};

use nam_graph::nodes::nam::OutputMode;
use nam_graph::{Chain, ChainSpec, Graph, NodeKind, NodeSpec, ReadFiles};

use crate::error::Error;

/// Which chain to time.
#[derive(Clone, Debug)]
pub enum ChainSource {
    /// The model alone through a `nam` node, then an `ir` node when a cabinet
    /// IR is given.
    Default {
        /// The model.
        model: PathBuf,
        /// The cabinet IR (a WAV file).
        ir: Option<PathBuf>,
    },
    /// A `chain.toml` file.
    File(PathBuf),
}

impl ChainSource {
    /// A one-line description for reports.
    pub fn describe(&self) -> String {
        match self {
            ChainSource::Default { ir: None, .. } => "default: the model".to_owned(),
            ChainSource::Default { ir: Some(ir), .. } => {
                format!("default: the model, then the cabinet IR {}", ir.display())
            }
            ChainSource::File(path) => path.display().to_string(),
        }
    }

    /// Builds the chain, mono, at `sample_rate_hz`; the default chain's
    /// internal block is `block_frames`.
    pub fn build(&self, sample_rate_hz: f64, block_frames: usize) -> Result<Graph, Error> {
        match self {
            ChainSource::File(path) => Ok(Chain::load(path)?.build(sample_rate_hz, 1)?),
            ChainSource::Default { model, ir } => {
                let spec = default_chain(model, ir.as_deref(), block_frames);
                // Paths as given: relative ones start from the working folder.
                spec.build(Path::new(""), sample_rate_hz, 1, &mut ReadFiles)
                    .map_err(|e| Error::DefaultChain(Box::new(e)))
            }
        }
    }
}

/// The default chain: the model, then the cabinet IR if there is one.
fn default_chain(model: &Path, ir: Option<&Path>, block_frames: usize) -> ChainSpec {
    let mut spec = ChainSpec::default();
    spec.chain.block_frames = block_frames;
    spec.nodes.push(NodeSpec::new(
        "amp",
        NodeKind::Nam {
            model: model.to_owned(),
            output_mode: OutputMode::Raw,
        },
    ));
    if let Some(ir) = ir {
        spec.nodes.push(NodeSpec::new(
            "cab",
            NodeKind::Ir {
                file: ir.to_owned(),
                normalize: false,
            },
        ));
    }
    spec
}
