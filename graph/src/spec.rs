//! A chain as a value: [`ChainSpec`] is what a `chain.toml` file holds, and
//! `toml::from_str` / `toml::to_string` read and write it. [`ChainSpec::build`]
//! turns it into a [`Graph`]; a failure is a [`BuildError`] naming the node,
//! the setting and the file at fault.
//!
//! Programs build specs directly (the LV2 plugin's rig, `nam-tools bench`);
//! `nam-graph run` on the serialized spec plays exactly the same graph.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use thiserror::Error;

use crate::files::FileSource;
use crate::graph::{GraphBuilder, NodeId, Sink, Source};
use crate::node::ProcessSpec;
use crate::nodes::nam::OutputMode;
use crate::registry::{self, SettingError};
use crate::Graph;

/// Default largest internal block.
pub const DEFAULT_BLOCK_FRAMES: usize = 64;

/// The largest `block_frames` a chain may ask for.
pub const MAX_BLOCK_FRAMES: usize = 8192;

/// A whole chain: the `[chain]` settings, the `[[node]]`s and the `[output]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    /// `[chain]`: settings of the whole chain.
    #[serde(default)]
    pub chain: ChainSettings,
    /// `[[node]]`: the nodes. Each takes its input from the node before it
    /// unless it lists [`NodeSpec::inputs`].
    #[serde(rename = "node", default)]
    pub nodes: Vec<NodeSpec>,
    /// `[output]`: the node whose output is the chain's; default the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OutputSpec>,
}

/// The `[chain]` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainSettings {
    /// The largest internal block (1 to [`MAX_BLOCK_FRAMES`]); host buffers
    /// of any size are split into blocks of at most this many frames.
    pub block_frames: usize,
    /// How mono nodes treat a stereo signal.
    pub stereo: StereoMode,
}

impl Default for ChainSettings {
    fn default() -> Self {
        Self {
            block_frames: DEFAULT_BLOCK_FRAMES,
            stereo: StereoMode::DualMono,
        }
    }
}

/// How mono nodes treat a stereo signal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StereoMode {
    /// One instance of every node per channel.
    #[default]
    DualMono,
    /// Sum the channels to mono before the first node, copy the result to every
    /// channel after the last.
    Mixdown,
}

/// The `[output]` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// The id of the node whose output is the chain's output.
    pub from: String,
}

/// One `[[node]]`: its kind with the files and choices it is built from, and
/// the numeric parameters it starts with.
///
/// In TOML every field is a key of the node's table, the parameters too
/// (`gain_db = -6.0`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "NodeTable")]
pub struct NodeSpec {
    /// The node's id; default `<kind><position>` (`nam1`, counting from 1).
    pub id: Option<String>,
    /// What the node is.
    pub kind: NodeKind,
    /// The ids of the nodes it takes its inputs from (`"input"` is the
    /// chain's input); default the node before it (the input for the first).
    pub inputs: Option<Vec<String>>,
    /// Initial values of the node's parameters, by name (see
    /// [`crate::registry`]); each must be one of the kind's parameters.
    pub params: BTreeMap<String, f32>,
}

/// A node's kind, with what it is built from (paths are relative to the
/// folder [`ChainSpec::build`] is given).
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// `nam`: a NAM model.
    Nam {
        /// The `.nam` file (`model`).
        model: PathBuf,
        /// How the output level is set (`output_mode`).
        output_mode: OutputMode,
    },
    /// `ir`: convolution with an impulse response.
    Ir {
        /// The WAV file (`file`).
        file: PathBuf,
        /// Scale the IR to 0 dB average response (`normalize`).
        normalize: bool,
    },
    /// `gain`.
    Gain,
    /// `noise_gate`.
    NoiseGate,
    /// `tone_stack`: bass, middle, treble.
    ToneStack,
    /// `dc_blocker`.
    DcBlocker,
    /// `mix`: sums its inputs.
    Mix,
}

/// Every kind's name, as `kind` says it.
pub const KIND_NAMES: [&str; 7] = [
    "nam",
    "ir",
    "gain",
    "noise_gate",
    "tone_stack",
    "dc_blocker",
    "mix",
];

impl NodeKind {
    /// The kind's name in `chain.toml`.
    pub fn name(&self) -> &'static str {
        let index = match self {
            NodeKind::Nam { .. } => 0,
            NodeKind::Ir { .. } => 1,
            NodeKind::Gain => 2,
            NodeKind::NoiseGate => 3,
            NodeKind::ToneStack => 4,
            NodeKind::DcBlocker => 5,
            NodeKind::Mix => 6,
        };
        KIND_NAMES[index]
    }

    /// The keys of the node's table this kind reads besides its parameters.
    pub fn keys(&self) -> &'static [&'static str] {
        match self {
            NodeKind::Nam { .. } => &["model", "output_mode"],
            NodeKind::Ir { .. } => &["file", "normalize"],
            _ => &[],
        }
    }
}

impl NodeSpec {
    /// A node with this id and kind, fed by the node before it, with its
    /// parameters at their defaults.
    pub fn new(id: impl Into<String>, kind: NodeKind) -> Self {
        Self {
            id: Some(id.into()),
            kind,
            inputs: None,
            params: BTreeMap::new(),
        }
    }

    /// Sets the initial value of parameter `name`.
    pub fn with_param(mut self, name: impl Into<String>, value: f32) -> Self {
        self.params.insert(name.into(), value);
        self
    }
}

impl Serialize for NodeSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(id) = &self.id {
            map.serialize_entry("id", id)?;
        }
        map.serialize_entry("kind", self.kind.name())?;
        match &self.kind {
            NodeKind::Nam { model, output_mode } => {
                map.serialize_entry("model", model)?;
                map.serialize_entry("output_mode", output_mode.name())?;
            }
            NodeKind::Ir { file, normalize } => {
                map.serialize_entry("file", file)?;
                map.serialize_entry("normalize", normalize)?;
            }
            _ => {}
        }
        if let Some(inputs) = &self.inputs {
            map.serialize_entry("inputs", inputs)?;
        }
        for (name, value) in &self.params {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// A `[[node]]` table as read, before its keys are typed.
#[derive(Deserialize)]
#[serde(transparent)]
struct NodeTable(BTreeMap<String, toml::Value>);

impl NodeTable {
    fn take(&mut self, key: &str) -> Option<toml::Value> {
        self.0.remove(key)
    }

    fn string(&mut self, key: &str) -> Result<Option<String>, String> {
        match self.take(key) {
            None => Ok(None),
            Some(toml::Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(format!(
                "`{key}` must be a string, not {}",
                other.type_str()
            )),
        }
    }

    fn path(&mut self, key: &str, kind: &str) -> Result<PathBuf, String> {
        self.string(key)?
            .map(PathBuf::from)
            .ok_or_else(|| format!("missing `{key}` (a `{kind}` node's file)"))
    }
}

impl TryFrom<NodeTable> for NodeSpec {
    type Error = String;

    fn try_from(mut table: NodeTable) -> Result<Self, String> {
        let kind = table.string("kind")?.ok_or("the node has no `kind`")?;
        let id = table.string("id")?;
        let inputs = match table.take("inputs") {
            Some(value) => Some(
                value
                    .try_into::<Vec<String>>()
                    .map_err(|_| "`inputs` must be a list of node ids".to_owned())?,
            ),
            None => None,
        };
        let kind = match kind.as_str() {
            "nam" => NodeKind::Nam {
                model: table.path("model", "nam")?,
                output_mode: match table.string("output_mode")? {
                    Some(word) => OutputMode::parse(&word).ok_or_else(|| {
                        format!("output_mode `{word}`: use raw, normalized or calibrated")
                    })?,
                    None => OutputMode::Raw,
                },
            },
            "ir" => NodeKind::Ir {
                file: table.path("file", "ir")?,
                normalize: match table.take("normalize") {
                    Some(toml::Value::Boolean(b)) => b,
                    Some(_) => return Err("`normalize` must be true or false".into()),
                    None => false,
                },
            },
            "gain" => NodeKind::Gain,
            "noise_gate" => NodeKind::NoiseGate,
            "tone_stack" => NodeKind::ToneStack,
            "dc_blocker" => NodeKind::DcBlocker,
            "mix" => NodeKind::Mix,
            other => {
                return Err(format!(
                    "unknown node kind `{other}` (known: {})",
                    KIND_NAMES.join(", ")
                ))
            }
        };
        let params = table
            .0
            .into_iter()
            .map(|(key, value)| match value {
                toml::Value::Float(x) => Ok((key, x as f32)),
                toml::Value::Integer(i) => Ok((key, i as f32)),
                other => Err(format!(
                    "`{key}` must be a number, not {}",
                    other.type_str()
                )),
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            id,
            kind,
            inputs,
            params,
        })
    }
}

/// Which node a [`BuildError`] is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRef {
    /// Position in [`ChainSpec::nodes`].
    pub index: usize,
    /// The node's id (given or default).
    pub id: String,
    /// The node's kind.
    pub kind: &'static str,
}

/// Why a [`ChainSpec`] could not be built: the node, the setting and the
/// file at fault, each when there is one.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{}{message}", node.as_ref().map(|n| format!("node `{}` ({}): ", n.id, n.kind)).unwrap_or_default())]
pub struct BuildError {
    /// The node at fault; `None` for the chain as a whole.
    pub node: Option<NodeRef>,
    /// The key at fault: of the node's table, or without a node of the
    /// `[chain]` (`block_frames`) or `[output]` (`from`) table.
    pub key: Option<String>,
    /// The file that could not be used.
    pub file: Option<PathBuf>,
    /// What is wrong (naming the file, if any).
    pub message: String,
}

impl BuildError {
    fn chain(key: Option<&str>, message: String) -> Self {
        Self {
            node: None,
            key: key.map(str::to_owned),
            file: None,
            message,
        }
    }
}

impl ChainSpec {
    /// The id of every node: its own, or `<kind><position>`.
    fn node_ids(&self) -> Vec<String> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(index, node)| match &node.id {
                Some(id) => id.clone(),
                None => format!("{}{}", node.kind.name(), index + 1),
            })
            .collect()
    }

    /// Builds the graph for `channels` (1 or 2) at `sample_rate_hz`; relative
    /// paths start from `base_dir`, and files come from `files`. Reads files
    /// and allocates: never on an audio thread.
    pub fn build(
        &self,
        base_dir: &Path,
        sample_rate_hz: f64,
        channels: usize,
        files: &mut dyn FileSource,
    ) -> Result<Graph, BuildError> {
        if !(1..=2).contains(&channels) {
            return Err(BuildError::chain(
                None,
                format!("{channels} channels: only mono and stereo are supported"),
            ));
        }
        if self.nodes.is_empty() {
            return Err(BuildError::chain(None, "the chain has no [[node]]".into()));
        }
        let block = self.chain.block_frames;
        if !(1..=MAX_BLOCK_FRAMES).contains(&block) {
            return Err(BuildError::chain(
                Some("block_frames"),
                format!("block_frames = {block} (1 to {MAX_BLOCK_FRAMES})"),
            ));
        }
        let ids = self.node_ids();
        let node_ref = |index: usize| NodeRef {
            index,
            id: ids[index].clone(),
            kind: self.nodes[index].kind.name(),
        };
        let in_node = |index: usize, key: Option<&str>, message: String| BuildError {
            node: Some(node_ref(index)),
            key: key.map(str::to_owned),
            file: None,
            message,
        };
        for (index, id) in ids.iter().enumerate() {
            if id == "input" || ids[..index].contains(id) {
                return Err(in_node(
                    index,
                    None,
                    format!("the id `{id}` is used twice or reserved"),
                ));
            }
        }
        let lookup = |index: Option<usize>, name: &str| -> Result<Option<usize>, BuildError> {
            if name == "input" {
                return Ok(None);
            }
            ids.iter()
                .position(|id| id == name)
                .map(Some)
                .ok_or_else(|| {
                    let message = format!("no node has the id `{name}`");
                    match index {
                        Some(index) => in_node(index, Some("inputs"), message),
                        None => BuildError::chain(Some("from"), message),
                    }
                })
        };

        let lanes = if self.chain.stereo == StereoMode::Mixdown {
            1
        } else {
            channels
        };
        let mut builder = GraphBuilder::new(channels, channels);
        // One instance of every node per lane.
        let mut instances: Vec<Vec<NodeId>> = Vec::with_capacity(self.nodes.len());
        for (index, node) in self.nodes.iter().enumerate() {
            let sources = node.inputs.as_ref().map_or(1, Vec::len);
            let mut lane_nodes = Vec::with_capacity(lanes);
            for lane in 0..lanes {
                let built = registry::build(node, base_dir, sample_rate_hz, sources, files)
                    .map_err(|e: SettingError| BuildError {
                        node: Some(node_ref(index)),
                        key: e.key,
                        file: e.file,
                        message: e.message,
                    })?;
                let name = if lanes == 1 {
                    ids[index].clone()
                } else {
                    format!("{}[{lane}]", ids[index])
                };
                let id = builder
                    .add(name, built)
                    .map_err(|e| in_node(index, None, e.to_string()))?;
                lane_nodes.push(id);
            }
            instances.push(lane_nodes);
        }

        // Where each lane's signal enters: the graph input, or a mixdown.
        let entry: Vec<Source> = if lanes == 1 && channels > 1 {
            let mixdown =
                registry::mixdown(channels).map_err(|e| BuildError::chain(None, e.to_string()))?;
            let mixdown = builder
                .add("mixdown", mixdown)
                .map_err(|e| BuildError::chain(None, e.to_string()))?;
            for c in 0..channels {
                builder.connect(Source::Input(c), Sink::Node(mixdown, c));
            }
            vec![Source::Node(mixdown, 0)]
        } else {
            (0..lanes).map(Source::Input).collect()
        };

        for (index, node) in self.nodes.iter().enumerate() {
            let sources: Vec<Option<usize>> = match &node.inputs {
                Some(list) => list
                    .iter()
                    .map(|name| lookup(Some(index), name))
                    .collect::<Result<_, _>>()?,
                None if index == 0 => vec![None],
                None => vec![Some(index - 1)],
            };
            for lane in 0..lanes {
                let to = instances[index][lane];
                let (node_inputs, _) = builder.ports(to);
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
                        builder.connect(s, Sink::Node(to, port));
                        port += 1;
                    }
                }
                if port != node_inputs {
                    return Err(in_node(
                        index,
                        None,
                        format!("takes {node_inputs} input(s) but is given {port}"),
                    ));
                }
            }
        }

        let last = match &self.output {
            Some(output) => lookup(None, &output.from)?.ok_or_else(|| {
                BuildError::chain(Some("from"), "the output cannot be the input".into())
            })?,
            None => ids.len() - 1,
        };
        for &from in &instances[last] {
            if builder.ports(from).1 != 1 {
                return Err(in_node(
                    last,
                    None,
                    "the output node must have one output".into(),
                ));
            }
        }
        for c in 0..channels {
            let lane = if lanes == channels { c } else { 0 };
            builder.connect(Source::Node(instances[last][lane], 0), Sink::Output(c));
        }
        let spec = ProcessSpec {
            sample_rate_hz,
            max_block_frames: block,
        };
        let mut graph = builder
            .build(spec)
            .map_err(|e| BuildError::chain(None, e.to_string()))?;
        // Parameters set from the spec take effect at once, without a ramp.
        graph.reset();
        Ok(graph)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ChainSpec {
        let mut spec = ChainSpec::default();
        spec.chain.stereo = StereoMode::Mixdown;
        spec.nodes.push(
            NodeSpec::new(
                "amp",
                NodeKind::Nam {
                    model: PathBuf::from("/tmp/a \"b\"\\c\td.nam"),
                    output_mode: OutputMode::Calibrated,
                },
            )
            .with_param("size", 0.25)
            .with_param("input_gain_db", -3.1),
        );
        let mut cab = NodeSpec::new(
            "cab",
            NodeKind::Ir {
                file: PathBuf::from("cab.wav"),
                normalize: true,
            },
        );
        cab.inputs = Some(vec!["amp".into(), "input".into()]);
        spec.nodes.push(cab);
        spec.nodes.push(NodeSpec {
            id: None,
            kind: NodeKind::ToneStack,
            inputs: None,
            params: BTreeMap::from([("bass".to_owned(), 7.0)]),
        });
        spec.output = Some(OutputSpec { from: "cab".into() });
        spec
    }

    #[test]
    fn a_spec_survives_toml_exactly() {
        let spec = sample();
        let text = toml::to_string(&spec).unwrap();
        let back: ChainSpec = toml::from_str(&text).unwrap();
        assert_eq!(back, spec, "{text}");
    }

    #[test]
    fn node_tables_are_typed_with_clear_errors() {
        let node = |text: &str| {
            toml::from_str::<ChainSpec>(&format!("[[node]]\n{text}"))
                .map_err(|e| e.message().to_owned())
        };
        let spec = node("kind = \"nam\"\nmodel = \"a.nam\"\ninput_gain_db = 3").unwrap();
        assert_eq!(spec.nodes[0].params["input_gain_db"], 3.0);
        let error = |text: &str| node(text).unwrap_err();
        assert!(error("model = \"x\"").contains("has no `kind`"));
        assert!(error("kind = \"fuzz\"").contains("unknown node kind `fuzz`"));
        assert!(error("kind = \"nam\"").contains("missing `model`"));
        assert!(error("kind = \"gain\"\ngain_db = \"loud\"").contains("`gain_db` must be a number"));
        assert!(error("kind = \"nam\"\nmodel = \"a\"\noutput_mode = \"x\"").contains("output_mode"));
        assert!(error("kind = \"mix\"\ninputs = \"a\"").contains("list of node ids"));
    }
}
