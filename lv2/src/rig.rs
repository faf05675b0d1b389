//! The signal chain the plugin runs, as a `nam-graph` chain.
//!
//! ```text
//! input_gain → [input_ir] → gate → [amp] → eq → [cab] → output_gain
//! ```
//!
//! Bracketed nodes exist only when their file is set. The cabinet IR is
//! normalized and trimmed by [`CAB_LEVEL_DB`] (see there); the input IR plays
//! at its own level (its level is the drive into the model). The chain is a
//! [`ChainSpec`] value ([`chain_spec`]), built by `nam-graph`; written as
//! `chain.toml`, `nam-graph run` on it reproduces the plugin's output exactly.

use std::path::{Path, PathBuf};

use nam_graph::nodes::nam::OutputMode;
use nam_graph::spec::ChainSettings;
use nam_graph::{BuildError, ChainSpec, FileSource, Graph, NodeKind, NodeSpec, ParamRef};

use crate::controls::{Control, Controls, CONTROL_COUNT};

/// The largest internal block of the plugin's graph (host blocks of any size
/// are split into blocks of at most this many frames).
pub const BLOCK_FRAMES: usize = 64;

/// Level of the cabinet IR after normalization, in dB.
///
/// The cabinet is normalized as `nam-graph`'s `ir` node does with
/// `normalize = true` (its magnitude response scaled to an RMS of 0 dB over
/// 20 Hz – 20 kHz), so every IR file plays at the same level whatever its
/// own, as users of other NAM and IR plugins expect. A normalized cab still
/// raises a guitar amp's output by about +9 dB (its response peaks in the
/// mids, where the amp's energy is, and rolls off above): this trim, the
/// bundled demo chain's `level_db`, brings the amp plus cab back to about
/// the amp's own loudness (−3 dB RMS, peaks −6 dBFS for the bundled drive
/// model and cab on the demo DI, instead of +18 dBFS with the raw IR).
pub const CAB_LEVEL_DB: f32 = -12.0;

/// A file the user chooses: the plugin's `patch:writable` parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileSlot {
    /// The `.nam` model.
    Model,
    /// The impulse response before the model.
    InputIr,
    /// The cabinet impulse response after the model.
    CabIr,
}

impl FileSlot {
    /// Every slot.
    pub const ALL: [FileSlot; 3] = [FileSlot::Model, FileSlot::InputIr, FileSlot::CabIr];

    /// Position in [`FileSlot::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The slot at `index` in [`FileSlot::ALL`].
    pub fn from_index(index: usize) -> Option<Self> {
        Self::ALL.get(index).copied()
    }

    /// The parameter's URI (also the state key).
    pub const fn uri(self) -> &'static str {
        match self {
            FileSlot::Model => "urn:nam-graph:amp_model",
            FileSlot::InputIr => "urn:nam-graph:input_ir",
            FileSlot::CabIr => "urn:nam-graph:cab_ir",
        }
    }

    /// The id of the rig's node that plays the file.
    pub const fn node_id(self) -> &'static str {
        match self {
            FileSlot::Model => "amp",
            FileSlot::InputIr => "input_ir",
            FileSlot::CabIr => "cab",
        }
    }

    /// The slot whose file the node `id` plays, if any.
    pub fn of_node(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|slot| slot.node_id() == id)
    }

    /// What the file is, for messages.
    pub const fn label(self) -> &'static str {
        match self {
            FileSlot::Model => "model",
            FileSlot::InputIr => "input IR",
            FileSlot::CabIr => "cabinet IR",
        }
    }
}

/// The files the rig is built from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RigFiles([Option<PathBuf>; 3]);

impl RigFiles {
    /// The file in `slot`, if any.
    pub fn get(&self, slot: FileSlot) -> Option<&Path> {
        self.0[slot.index()].as_deref()
    }

    /// Sets or clears the file in `slot`.
    pub fn set(&mut self, slot: FileSlot, path: Option<PathBuf>) {
        self.0[slot.index()] = path;
    }
}

/// The rig for `files` and `controls` as a chain spec: what [`Rig::build`]
/// builds, and what `nam-graph run` plays identically once written as
/// `chain.toml` (`toml::to_string`).
pub fn chain_spec(files: &RigFiles, controls: &Controls) -> ChainSpec {
    // Each node starts with the controls that target it (see
    // `Control::target`); the output mode is the `nam` node's word.
    let node = |id: &str, kind: NodeKind| {
        let params = Control::ALL
            .into_iter()
            .filter(|c| *c != Control::OutputMode && c.target().0 == id)
            .map(|c| (c.target().1.to_owned(), controls.get(c)))
            .collect();
        NodeSpec {
            params,
            ..NodeSpec::new(id, kind)
        }
    };
    let ir = |slot: FileSlot| {
        files.get(slot).map(|path| {
            let cab = slot == FileSlot::CabIr;
            let kind = NodeKind::Ir {
                file: path.to_owned(),
                normalize: cab,
            };
            let mut spec = node(slot.node_id(), kind);
            if cab {
                spec.params.insert("level_db".to_owned(), CAB_LEVEL_DB);
            }
            spec
        })
    };
    let amp = files.get(FileSlot::Model).map(|path| {
        let mode = match controls.get(Control::OutputMode) as u8 {
            1 => OutputMode::Normalized,
            2 => OutputMode::Calibrated,
            _ => OutputMode::Raw,
        };
        let kind = NodeKind::Nam {
            model: path.to_owned(),
            output_mode: mode,
        };
        node(FileSlot::Model.node_id(), kind)
    });
    let nodes = [
        Some(node("input_gain", NodeKind::Gain)),
        ir(FileSlot::InputIr),
        Some(node("gate", NodeKind::NoiseGate)),
        amp,
        Some(node("eq", NodeKind::ToneStack)),
        ir(FileSlot::CabIr),
        Some(node("output_gain", NodeKind::Gain)),
    ];
    ChainSpec {
        chain: ChainSettings {
            block_frames: BLOCK_FRAMES,
            ..ChainSettings::default()
        },
        nodes: nodes.into_iter().flatten().collect(),
        output: None,
    }
}

/// A built chain plus what the audio thread needs to drive it.
pub struct Rig {
    graph: Graph,
    /// Per control, the parameter it sets (per channel lane); `None` when the
    /// node is absent (e.g. no model loaded).
    params: [[Option<ParamRef>; 2]; CONTROL_COUNT],
    files: RigFiles,
}

impl Rig {
    /// Builds the rig for `files` at `sample_rate_hz` with `channels` (1 or 2,
    /// dual mono), taking the files' contents from `source`. Allocates
    /// everything: never call on the audio thread. The error names the node
    /// and the file at fault.
    pub fn build(
        files: &RigFiles,
        controls: &Controls,
        sample_rate_hz: f64,
        channels: usize,
        source: &mut dyn FileSource,
    ) -> Result<Self, BuildError> {
        let spec = chain_spec(files, controls);
        let graph = spec.build(Path::new(""), sample_rate_hz, channels, source)?;
        let params = Control::ALL.map(|control| {
            let (node, param) = control.target();
            let lane = |l: usize| {
                if channels == 1 {
                    graph.find_param(node, param)
                } else {
                    graph.find_param(&format!("{node}[{l}]"), param)
                }
            };
            [lane(0), if channels > 1 { lane(1) } else { None }]
        });
        Ok(Self {
            graph,
            params,
            files: files.clone(),
        })
    }

    /// The chain's graph (for its warnings and finite-output record).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The files this rig was built from.
    pub fn files(&self) -> &RigFiles {
        &self.files
    }

    /// Latency of the rig in frames (resampling around a model whose rate
    /// differs from the host's).
    pub fn latency_frames(&self) -> usize {
        self.graph.latency_frames()
    }

    /// Sets a control (smoothed by the node). Audio thread; allocation-free.
    pub fn set_control(&mut self, control: Control, value: f32) {
        for param in self.params[control.index()].into_iter().flatten() {
            self.graph.set(param, value);
        }
    }

    /// Sets every control. Audio thread; allocation-free.
    pub fn set_controls(&mut self, controls: &Controls) {
        for control in Control::ALL {
            self.set_control(control, controls.get(control));
        }
    }

    /// Jumps smoothed controls to their values (no ramp). Audio thread.
    pub fn snap_controls(&mut self) {
        self.graph.snap_params();
    }

    /// Clears all state (filters, model history). Audio thread.
    pub fn reset(&mut self) {
        self.graph.reset();
    }

    /// Processes one buffer per channel. Audio thread; allocation-free.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        self.graph.process(inputs, outputs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ir_node(spec: &ChainSpec, id: &str) -> (bool, Option<f32>) {
        let node = spec
            .nodes
            .iter()
            .find(|n| n.id.as_deref() == Some(id))
            .expect("node");
        let NodeKind::Ir { normalize, .. } = node.kind else {
            panic!("{id} is not an ir node");
        };
        (normalize, node.params.get("level_db").copied())
    }

    #[test]
    fn the_cab_is_normalized_and_trimmed_the_input_ir_plays_as_it_is() {
        let mut files = RigFiles::default();
        files.set(FileSlot::InputIr, Some(PathBuf::from("/irs/boost.wav")));
        files.set(FileSlot::CabIr, Some(PathBuf::from("/irs/cab.wav")));
        let spec = chain_spec(&files, &Controls::default());
        assert_eq!(ir_node(&spec, "cab"), (true, Some(CAB_LEVEL_DB)));
        assert_eq!(ir_node(&spec, "input_ir"), (false, None));
        // written as chain.toml, `nam-graph run` plays the same cab
        let toml = toml::to_string(&spec).expect("serializes");
        let back: ChainSpec = toml::from_str(&toml).expect("parses");
        assert_eq!(ir_node(&back, "cab"), (true, Some(CAB_LEVEL_DB)));
    }
}
