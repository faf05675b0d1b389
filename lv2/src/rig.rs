//! The signal chain the plugin runs, as a `nam-graph` chain.
//!
//! ```text
//! input_gain → [input_ir] → gate → [amp] → eq → [cab] → output_gain
//! ```
//!
//! Bracketed nodes exist only when their file is set. The chain is written as
//! `chain.toml` text ([`chain_toml`]) and built by `nam_graph::Chain`, so
//! `nam-graph run` on that text reproduces the plugin's output exactly.

use std::path::{Path, PathBuf};

use nam_graph::{Chain, Graph, ParamRef};

use crate::controls::{Control, Controls, CONTROL_COUNT};

/// The largest internal block of the plugin's graph (host blocks of any size
/// are split into blocks of at most this many frames).
pub const BLOCK_FRAMES: usize = 64;

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

/// Writes the rig for `files` and `controls` as `chain.toml` text.
///
/// Fails when a path is not valid UTF-8 (TOML strings must be).
pub fn chain_toml(files: &RigFiles, controls: &Controls) -> Result<String, String> {
    let quoted = |slot: FileSlot| -> Result<Option<String>, String> {
        files
            .get(slot)
            .map(|p| {
                p.to_str()
                    .map(|s| toml::Value::String(s.to_owned()).to_string())
                    .ok_or_else(|| format!("{}: the path is not valid UTF-8", p.display()))
            })
            .transpose()
    };
    let value = |c: Control| controls.get(c);
    let mut text = format!(
        "[chain]\nblock_frames = {BLOCK_FRAMES}\n\n\
         [[node]]\nid = \"input_gain\"\nkind = \"gain\"\ngain_db = {:?}\n\n",
        value(Control::InputGainDb)
    );
    if let Some(path) = quoted(FileSlot::InputIr)? {
        text += &format!(
            "[[node]]\nid = \"input_ir\"\nkind = \"ir\"\nfile = {path}\nmix = {:?}\n\n",
            value(Control::InputIrEnabled)
        );
    }
    text += &format!(
        "[[node]]\nid = \"gate\"\nkind = \"noise_gate\"\nthreshold_db = {:?}\n\n",
        value(Control::GateThresholdDb)
    );
    if let Some(path) = quoted(FileSlot::Model)? {
        let mode = ["raw", "normalized", "calibrated"][value(Control::OutputMode) as usize];
        text += &format!(
            "[[node]]\nid = \"amp\"\nkind = \"nam\"\nmodel = {path}\noutput_mode = \"{mode}\"\n\
             target_loudness_db = {:?}\ninterface_input_dbu = {:?}\ninterface_output_dbu = {:?}\n\
             size = {:?}\n\n",
            value(Control::TargetLoudnessDb),
            value(Control::InputLevelDbu),
            value(Control::OutputLevelDbu),
            value(Control::ModelSize),
        );
    }
    text += &format!(
        "[[node]]\nid = \"eq\"\nkind = \"tone_stack\"\nbass = {:?}\nmiddle = {:?}\ntreble = {:?}\n\n",
        value(Control::Bass),
        value(Control::Middle),
        value(Control::Treble)
    );
    if let Some(path) = quoted(FileSlot::CabIr)? {
        text += &format!(
            "[[node]]\nid = \"cab\"\nkind = \"ir\"\nfile = {path}\nmix = {:?}\n\n",
            value(Control::CabEnabled)
        );
    }
    text += &format!(
        "[[node]]\nid = \"output_gain\"\nkind = \"gain\"\ngain_db = {:?}\n",
        value(Control::OutputGainDb)
    );
    Ok(text)
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
    /// dual mono). Reads the files, allocates everything: never call on the
    /// audio thread. The error names the file and the problem.
    pub fn build(
        files: &RigFiles,
        controls: &Controls,
        sample_rate_hz: f64,
        channels: usize,
    ) -> Result<Self, String> {
        let text = chain_toml(files, controls)?;
        let chain = Chain::parse(&text, Path::new("plugin chain")).map_err(|e| e.message)?;
        let graph = chain
            .build(sample_rate_hz, channels)
            .map_err(|e| e.message)?;
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
