//! The [`Node`] trait: one DSP unit processing blocks of mono ports.
//!
//! Lifecycle, and on which thread each step runs:
//! 1. construction (any thread; may read files, allocate and fail);
//! 2. [`Node::prepare`] (off the audio thread): learns the sample rate and the
//!    largest block, allocates everything, may fail;
//! 3. [`Node::process`], [`Node::reset`], [`Node::set_param`] (audio thread):
//!    never allocate, lock, block or fail.

use thiserror::Error;

/// What a node is prepared for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProcessSpec {
    /// The graph's sample rate.
    pub sample_rate_hz: f64,
    /// The largest `frames` any [`Node::process`] call will pass.
    pub max_block_frames: usize,
}

/// A parameter a node exposes, changeable while running (smoothed by the node).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamSpec {
    /// Name used in `chain.toml` and by hosts (`snake_case`, with unit suffix
    /// where it has one, e.g. `gain_db`).
    pub name: &'static str,
    /// Smallest accepted value.
    pub min: f32,
    /// Largest accepted value.
    pub max: f32,
    /// Value after construction.
    pub default: f32,
}

impl ParamSpec {
    /// Clamps `value` into the parameter's range (NaN becomes the default).
    pub fn clamp(&self, value: f32) -> f32 {
        if value.is_nan() {
            self.default
        } else {
            value.clamp(self.min, self.max)
        }
    }
}

/// Why a node could not be built or prepared.
#[derive(Debug, Error)]
pub enum NodeError {
    /// A NAM model could not be loaded.
    #[error(transparent)]
    Model(#[from] nam_kernel::LoadError),
    /// A model file loaded but could not be built.
    #[error("{path}: {source}")]
    ModelBuild {
        /// The model file.
        path: String,
        /// Why.
        source: nam_kernel::BuildError,
    },
    /// An audio file (impulse response) could not be read.
    #[error(transparent)]
    AudioFile(#[from] crate::audio_file::AudioFileError),
    /// An audio file (impulse response) was read but cannot be used.
    #[error("{path}: {message}")]
    Audio {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// A setting is out of range or inconsistent.
    #[error("{0}")]
    Invalid(String),
}

/// Something odd about a node that it works around: worth telling the user,
/// not worth refusing the node for.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum NodeWarning {
    /// A model's metadata would give an absurd gain and is ignored.
    #[error(transparent)]
    Metadata(#[from] crate::nodes::nam::MetadataWarning),
}

/// One DSP unit of the graph. Ports are mono; a stereo node has two.
pub trait Node: Send {
    /// Number of input ports.
    fn inputs(&self) -> usize;

    /// Number of output ports.
    fn outputs(&self) -> usize;

    /// Allocates everything processing needs for `spec`. Off the audio thread;
    /// may be called again with another spec.
    fn prepare(&mut self, spec: &ProcessSpec) -> Result<(), NodeError>;

    /// Clears all state (delay lines, filters, smoothing snaps to targets).
    /// Audio thread; allocation-free.
    fn reset(&mut self);

    /// Jumps every smoothed parameter to its target, without a ramp, keeping
    /// all other state (e.g. after a session recall set the values). Audio
    /// thread; allocation-free.
    fn snap_params(&mut self) {}

    /// Latency this node adds, in frames at the prepared rate (valid after
    /// [`Node::prepare`]).
    fn latency_frames(&self) -> usize {
        0
    }

    /// What the node works around at its current settings (e.g. metadata it
    /// ignores). Off the audio thread: may allocate.
    fn warnings(&self) -> Vec<NodeWarning> {
        Vec::new()
    }

    /// The parameters, indexed as in [`Node::set_param`].
    fn params(&self) -> &[ParamSpec] {
        &[]
    }

    /// Sets parameter `index`'s target; the node smooths towards it. Out-of-range
    /// values are clamped, unknown indices ignored. Audio thread; allocation-free.
    fn set_param(&mut self, index: usize, value: f32) {
        let _ = (index, value);
    }

    /// Processes `frames` frames (at most the prepared `max_block_frames`):
    /// `inputs[p][..frames]` to `outputs[p][..frames]`. Audio thread; never
    /// allocates, locks or panics.
    fn process(&mut self, frames: usize, inputs: &[&[f32]], outputs: &mut [&mut [f32]]);
}
