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
//! key is a setting of that kind of node; see [`crate::nodes::registry`].
//! Errors name the file, the line and the field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::graph::{Graph, GraphBuilder, GraphError, NodeId, Sink, Source};
use crate::node::ProcessSpec;
use crate::nodes::registry::{self, Settings};

/// Default largest internal block.
pub const DEFAULT_BLOCK_FRAMES: usize = 64;

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

/// How mono nodes treat a stereo signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StereoMode {
    /// One instance of every node per channel.
    DualMono,
    /// Sum the channels to mono before the first node, copy the result to every
    /// channel after the last.
    Mixdown,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainSettings {
    block_frames: Option<Spanned<usize>>,
    stereo: Option<StereoMode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputDecl {
    from: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainFile {
    chain: Option<ChainSettings>,
    #[serde(default)]
    node: Vec<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    output: Option<OutputDecl>,
}

/// One `[[node]]`: the keys the chain itself reads, and the node's settings.
struct NodeDecl {
    /// Byte offset of the table.
    offset: usize,
    id: String,
    kind: String,
    inputs: Option<Vec<Spanned<String>>>,
    settings: BTreeMap<String, Spanned<toml::Value>>,
}

/// A parsed chain, ready to be built at a sample rate and channel count.
pub struct Chain {
    path: PathBuf,
    text: String,
    file: ChainFile,
    nodes: Vec<NodeDecl>,
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
        let file: ChainFile = toml::from_str(text).map_err(|e| ChainError {
            path: path.display().to_string(),
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().to_owned(),
        })?;
        let mut chain = Self {
            path: path.to_owned(),
            text: text.to_owned(),
            file,
            nodes: Vec::new(),
        };
        if chain.file.node.is_empty() {
            return Err(chain.error(None, "the chain has no [[node]]".into()));
        }
        chain.nodes = chain.declarations()?;
        Ok(chain)
    }

    fn error(&self, offset: Option<usize>, message: String) -> ChainError {
        ChainError {
            path: self.path.display().to_string(),
            line: offset.map(|o| line_of(&self.text, o)),
            message,
        }
    }

    /// The largest internal block the chain asks for.
    pub fn block_frames(&self) -> usize {
        self.file
            .chain
            .as_ref()
            .and_then(|c| c.block_frames.as_ref())
            .map_or(DEFAULT_BLOCK_FRAMES, |b| *b.get_ref())
    }

    /// How mono nodes treat stereo.
    pub fn stereo_mode(&self) -> StereoMode {
        self.file
            .chain
            .as_ref()
            .and_then(|c| c.stereo)
            .unwrap_or(StereoMode::DualMono)
    }

    /// The folder relative paths in the chain start from.
    pub fn base_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// Builds the graph for `channels` (1 or 2) at `sample_rate_hz`.
    pub fn build(&self, sample_rate_hz: f64, channels: usize) -> Result<Graph, ChainError> {
        if !(1..=2).contains(&channels) {
            return Err(self.error(
                None,
                format!("{channels} channels: only mono and stereo are supported"),
            ));
        }
        let block = self.block_frames();
        if !(1..=8192).contains(&block) {
            let offset = self
                .file
                .chain
                .as_ref()
                .and_then(|c| c.block_frames.as_ref())
                .map(|b| b.span().start);
            return Err(self.error(offset, format!("block_frames = {block} (1 to 8192)")));
        }
        let spec = ProcessSpec {
            sample_rate_hz,
            max_block_frames: block,
        };
        let lanes = if self.stereo_mode() == StereoMode::Mixdown {
            1
        } else {
            channels
        };
        let mut builder = GraphBuilder::new(channels, channels);
        let ids: Vec<&str> = self.nodes.iter().map(|d| d.id.as_str()).collect();
        // One instance of every declared node per lane.
        let mut instances: Vec<Vec<NodeId>> = Vec::with_capacity(ids.len());
        let base_dir = self.base_dir();
        for decl in &self.nodes {
            let mut lane_nodes = Vec::with_capacity(lanes);
            let sources = decl.inputs.as_ref().map_or(1, Vec::len);
            for lane in 0..lanes {
                let settings = Settings::new(&decl.settings, &base_dir);
                let node = registry::build(&decl.kind, &settings, sample_rate_hz, sources)
                    .map_err(|e| {
                        self.error(
                            Some(e.offset.unwrap_or(decl.offset)),
                            format!("node `{}`: {}", decl.id, e.message),
                        )
                    })?;
                let name = if lanes == 1 {
                    decl.id.clone()
                } else {
                    format!("{}[{lane}]", decl.id)
                };
                lane_nodes.push(
                    builder
                        .add(name, node)
                        .map_err(|e| self.error(Some(decl.offset), e.to_string()))?,
                );
            }
            instances.push(lane_nodes);
        }
        let lookup = |name: &Spanned<String>| -> Result<Option<usize>, ChainError> {
            if name.get_ref() == "input" {
                return Ok(None);
            }
            ids.iter()
                .position(|id| *id == name.get_ref())
                .map(Some)
                .ok_or_else(|| {
                    self.error(
                        Some(name.span().start),
                        format!("no node has the id `{}`", name.get_ref()),
                    )
                })
        };

        // Where each lane's signal enters: the graph input, or a mixdown.
        let entry: Vec<Source> = if lanes == 1 && channels > 1 {
            let mixdown = builder
                .add(
                    "mixdown",
                    registry::mixdown(channels).map_err(|e| self.error(None, e.to_string()))?,
                )
                .map_err(|e| self.error(None, e.to_string()))?;
            for c in 0..channels {
                builder.connect(Source::Input(c), Sink::Node(mixdown, c));
            }
            vec![Source::Node(mixdown, 0)]
        } else {
            (0..lanes).map(Source::Input).collect()
        };

        for (index, decl) in self.nodes.iter().enumerate() {
            let sources: Vec<Option<usize>> = match &decl.inputs {
                Some(list) => list.iter().map(lookup).collect::<Result<_, _>>()?,
                None if index == 0 => vec![None],
                None => vec![Some(index - 1)],
            };
            for lane in 0..lanes {
                let node = instances[index][lane];
                let (node_inputs, _) = builder.ports(node);
                let mut port = 0;
                for source in &sources {
                    let source_ports = match source {
                        None => vec![entry[lane]],
                        Some(s) => {
                            let from = instances[*s][lane];
                            (0..builder.ports(from).1)
                                .map(|p| Source::Node(from, p))
                                .collect()
                        }
                    };
                    for s in source_ports {
                        builder.connect(s, Sink::Node(node, port));
                        port += 1;
                    }
                }
                if port != node_inputs {
                    return Err(self.error(
                        Some(decl.offset),
                        format!(
                            "node `{}` takes {node_inputs} input(s) but is given {port}",
                            ids[index]
                        ),
                    ));
                }
            }
        }

        let last = match &self.file.output {
            Some(output) => lookup(&output.from)?.ok_or_else(|| {
                self.error(
                    Some(output.from.span().start),
                    "the output cannot be the input".into(),
                )
            })?,
            None => ids.len() - 1,
        };
        for &from in &instances[last] {
            if builder.ports(from).1 != 1 {
                return Err(self.error(
                    None,
                    format!("the output node `{}` must have one output", ids[last]),
                ));
            }
        }
        if lanes == channels {
            for (c, lane_node) in instances[last].iter().enumerate() {
                builder.connect(Source::Node(*lane_node, 0), Sink::Output(c));
            }
        } else {
            for c in 0..channels {
                builder.connect(Source::Node(instances[last][0], 0), Sink::Output(c));
            }
        }
        let mut graph = builder
            .build(spec)
            .map_err(|e: GraphError| self.error(None, e.to_string()))?;
        // Parameters set from the file take effect at once, without a ramp.
        graph.reset();
        Ok(graph)
    }

    /// Splits each `[[node]]` table into the chain's keys and the node's settings.
    fn declarations(&self) -> Result<Vec<NodeDecl>, ChainError> {
        let mut decls: Vec<NodeDecl> = Vec::with_capacity(self.file.node.len());
        for (index, table) in self.file.node.iter().enumerate() {
            let offset = table.span().start;
            let mut settings = table.get_ref().clone();
            let string = |value: &Spanned<toml::Value>, key: &str| -> Result<String, ChainError> {
                value.get_ref().as_str().map(str::to_owned).ok_or_else(|| {
                    self.error(
                        Some(value.span().start),
                        format!("`{key}` must be a string"),
                    )
                })
            };
            let kind = match settings.remove("kind") {
                Some(value) => string(&value, "kind")?,
                None => {
                    return Err(
                        self.error(Some(offset), format!("node {} has no `kind`", index + 1))
                    )
                }
            };
            let id = match settings.remove("id") {
                Some(value) => string(&value, "id")?,
                None => format!("{kind}{}", index + 1),
            };
            if id == "input" || decls.iter().any(|d| d.id == id) {
                return Err(self.error(
                    Some(offset),
                    format!("the id `{id}` is used twice or reserved"),
                ));
            }
            let inputs = match settings.remove("inputs") {
                Some(value) => {
                    let span = value.span();
                    let list = value.into_inner().try_into::<Vec<String>>().map_err(|_| {
                        self.error(
                            Some(span.start),
                            "`inputs` must be a list of node ids".into(),
                        )
                    })?;
                    Some(
                        list.into_iter()
                            .map(|name| Spanned::new(span.clone(), name))
                            .collect(),
                    )
                }
                None => None,
            };
            decls.push(NodeDecl {
                offset,
                id,
                kind,
                inputs,
                settings,
            });
        }
        Ok(decls)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}
