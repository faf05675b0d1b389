//! The NAM model node: input gain, the model, output gain, with the NAM
//! plugin's output modes (raw, normalized loudness, calibrated levels).

use std::path::Path;

use nam_kernel::{BuildOptions, Model, NamFile};

use crate::node::{Node, NodeError, NodeWarning, ParamSpec, ProcessSpec};
use crate::param::{db_to_gain, Smoothed, RAMP_MS};

/// How the node sets the model's output level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMode {
    /// The model's output as it is.
    Raw,
    /// Scaled so the model's recorded `loudness` reaches the target loudness.
    Normalized,
    /// Analog levels reproduced: input scaled by `interface_input_dbu −
    /// model input_level_dbu`, output by `model output_level_dbu −
    /// interface_output_dbu` (each only when the model records that level).
    Calibrated,
}

impl OutputMode {
    fn from_index(value: f32) -> Self {
        match value.round() as i32 {
            1 => OutputMode::Normalized,
            2 => OutputMode::Calibrated,
            _ => OutputMode::Raw,
        }
    }

    /// Parses `raw`, `normalized` or `calibrated`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "raw" => Some(OutputMode::Raw),
            "normalized" => Some(OutputMode::Normalized),
            "calibrated" => Some(OutputMode::Calibrated),
            _ => None,
        }
    }

    /// The mode's word in `chain.toml` (what [`OutputMode::parse`] reads).
    pub fn name(self) -> &'static str {
        match self {
            OutputMode::Raw => "raw",
            OutputMode::Normalized => "normalized",
            OutputMode::Calibrated => "calibrated",
        }
    }

    /// The value of the `output_mode` parameter for this mode.
    pub fn param_value(self) -> f32 {
        match self {
            OutputMode::Raw => 0.0,
            OutputMode::Normalized => 1.0,
            OutputMode::Calibrated => 2.0,
        }
    }
}

/// Settings of a [`NamNode`]; all can also change while running via parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NamSettings {
    /// Gain before the model, in dB.
    pub input_gain_db: f32,
    /// Gain after the model, in dB (on top of the output mode's).
    pub output_gain_db: f32,
    /// Output level mode.
    pub output_mode: OutputMode,
    /// Loudness [`OutputMode::Normalized`] aims for, in dB.
    pub target_loudness_db: f32,
    /// Analog level (dBu) that reaches 0 dBFS on the user's input.
    pub interface_input_dbu: f32,
    /// Analog level (dBu) that 0 dBFS produces on the user's output.
    pub interface_output_dbu: f32,
    /// Size of a slimmable model in `[0, 1]` (1 = full size, the default;
    /// see `Model::set_slimmable_size`). No effect on other models.
    pub size: f32,
}

impl Default for NamSettings {
    fn default() -> Self {
        Self {
            input_gain_db: 0.0,
            output_gain_db: 0.0,
            output_mode: OutputMode::Raw,
            target_loudness_db: -18.0,
            interface_input_dbu: 12.0,
            interface_output_dbu: 12.0,
            size: 1.0,
        }
    }
}

/// Parameter indices of [`NamNode`].
pub mod param {
    /// Input gain (dB).
    pub const INPUT_GAIN_DB: usize = 0;
    /// Output gain (dB).
    pub const OUTPUT_GAIN_DB: usize = 1;
    /// Output mode: 0 raw, 1 normalized, 2 calibrated.
    pub const OUTPUT_MODE: usize = 2;
    /// Target loudness for normalized mode (dB).
    pub const TARGET_LOUDNESS_DB: usize = 3;
    /// Interface input level (dBu).
    pub const INTERFACE_INPUT_DBU: usize = 4;
    /// Interface output level (dBu).
    pub const INTERFACE_OUTPUT_DBU: usize = 5;
    /// Size of a slimmable model, 0–1 (1 = full size). A change while running
    /// takes over after one receptive field, during which both sizes run
    /// (see `Model::request_slimmable_size`); no burst of work, no allocation.
    pub const SIZE: usize = 6;
}

const PARAMS: [ParamSpec; 7] = [
    ParamSpec {
        name: "input_gain_db",
        min: -40.0,
        max: 40.0,
        default: 0.0,
    },
    ParamSpec {
        name: "output_gain_db",
        min: -60.0,
        max: 40.0,
        default: 0.0,
    },
    ParamSpec {
        name: "output_mode",
        min: 0.0,
        max: 2.0,
        default: 0.0,
    },
    ParamSpec {
        name: "target_loudness_db",
        min: -60.0,
        max: 0.0,
        default: -18.0,
    },
    ParamSpec {
        name: "interface_input_dbu",
        min: -20.0,
        max: 40.0,
        default: 12.0,
    },
    ParamSpec {
        name: "interface_output_dbu",
        min: -20.0,
        max: 40.0,
        default: 12.0,
    },
    ParamSpec {
        name: "size",
        min: 0.0,
        max: 1.0,
        default: 1.0,
    },
];

/// Largest input magnitude passed to the model (about +30 dBFS); anything
/// beyond, and NaN or infinity, is treated as a fault and clamped or zeroed so
/// the model's state can never become non-finite.
const INPUT_LIMIT: f32 = 32.0;

/// The largest gain, in dB either way, an output mode may derive from a
/// model's metadata (`loudness`, `input_level_dbu`, `output_level_dbu`). Real
/// models need well under ±40 dB at any setting of the node's parameters; a
/// value that would need more is treated as broken metadata: ignored (that
/// gain is 0 dB, as in raw mode) and reported by [`NamNode::metadata_warnings`].
pub const MAX_METADATA_GAIN_DB: f32 = 60.0;

/// A metadata field whose gain is out of range and therefore ignored.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "{path}: metadata `{field}` = {value} would make {} mode apply {gain_db:+.1} dB \
     (limit ±{MAX_METADATA_GAIN_DB} dB); ignored, that gain is 0 dB",
    .mode.name()
)]
pub struct MetadataWarning {
    /// The model file.
    pub path: String,
    /// The metadata field (`loudness`, `input_level_dbu`, `output_level_dbu`).
    pub field: &'static str,
    /// Its value in the file.
    pub value: f64,
    /// The output mode that would use it.
    pub mode: OutputMode,
    /// The gain it would give at the node's current settings, in dB.
    pub gain_db: f64,
}

/// The gain `gain_db` if it is finite and within ±[`MAX_METADATA_GAIN_DB`].
fn sane_gain(gain_db: f64) -> Option<f32> {
    (gain_db.abs() <= f64::from(MAX_METADATA_GAIN_DB)).then_some(gain_db as f32)
}

/// A NAM model with gain staging. Mono. Must be prepared at the model's sample
/// rate (the chain wraps it in a rate adapter otherwise).
pub struct NamNode {
    path: String,
    model: Model,
    settings: NamSettings,
    input_gain: Smoothed,
    output_gain: Smoothed,
    scratch: Vec<f32>,
}

impl NamNode {
    /// Loads and builds the model at `path`.
    pub fn load(path: impl AsRef<Path>, settings: NamSettings) -> Result<Self, NodeError> {
        let path = path.as_ref();
        let file = NamFile::load(path)?;
        Self::from_file(&file, &path.display().to_string(), settings)
    }

    /// Builds the node from an already loaded file; `name` names it in errors.
    pub fn from_file(file: &NamFile, name: &str, settings: NamSettings) -> Result<Self, NodeError> {
        let mut model = Model::build(file, BuildOptions::default()).map_err(|source| {
            NodeError::ModelBuild {
                path: name.to_owned(),
                source,
            }
        })?;
        model.set_slimmable_size(f64::from(settings.size));
        let mut node = Self {
            path: name.to_owned(),
            model,
            settings,
            input_gain: Smoothed::new(1.0),
            output_gain: Smoothed::new(1.0),
            scratch: Vec::new(),
        };
        node.update_gains();
        node.input_gain.snap();
        node.output_gain.snap();
        Ok(node)
    }

    /// The model's sample rate (the rate this node must run at).
    pub fn model_sample_rate_hz(&self) -> f64 {
        self.model.sample_rate_hz()
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The current settings.
    pub fn settings(&self) -> NamSettings {
        self.settings
    }

    /// Total input gain in dB: the user's gain plus input calibration (when
    /// within ±[`MAX_METADATA_GAIN_DB`]).
    pub fn total_input_gain_db(&self) -> f32 {
        let calibration = match self.settings.output_mode {
            OutputMode::Calibrated => self.input_calibration_db().and_then(sane_gain),
            _ => None,
        };
        self.settings.input_gain_db + calibration.unwrap_or(0.0)
    }

    /// Total output gain in dB: the user's gain plus the output mode's (when
    /// within ±[`MAX_METADATA_GAIN_DB`]).
    pub fn total_output_gain_db(&self) -> f32 {
        let mode_db = match self.settings.output_mode {
            OutputMode::Raw => None,
            OutputMode::Normalized => self.normalization_db(),
            OutputMode::Calibrated => self.output_calibration_db(),
        };
        self.settings.output_gain_db + mode_db.and_then(sane_gain).unwrap_or(0.0)
    }

    /// Every metadata gain that is out of range at the current settings and
    /// therefore ignored, whichever output mode is active (the mode may
    /// change while the node runs). Empty for sane metadata.
    pub fn metadata_warnings(&self) -> Vec<MetadataWarning> {
        let metadata = self.model.metadata();
        [
            (
                "loudness",
                metadata.loudness,
                OutputMode::Normalized,
                self.normalization_db(),
            ),
            (
                "input_level_dbu",
                metadata.input_level_dbu,
                OutputMode::Calibrated,
                self.input_calibration_db(),
            ),
            (
                "output_level_dbu",
                metadata.output_level_dbu,
                OutputMode::Calibrated,
                self.output_calibration_db(),
            ),
        ]
        .into_iter()
        .filter_map(|(field, value, mode, gain_db)| {
            let (value, gain_db) = (value?, gain_db?);
            sane_gain(gain_db).is_none().then(|| MetadataWarning {
                path: self.path.clone(),
                field,
                value,
                mode,
                gain_db,
            })
        })
        .collect()
    }

    /// Normalized mode's gain from the model's `loudness`, in dB.
    fn normalization_db(&self) -> Option<f64> {
        let loudness = self.model.metadata().loudness?;
        Some(f64::from(self.settings.target_loudness_db) - loudness)
    }

    /// Calibrated mode's input gain from the model's `input_level_dbu`, in dB.
    fn input_calibration_db(&self) -> Option<f64> {
        let level = self.model.metadata().input_level_dbu?;
        Some(f64::from(self.settings.interface_input_dbu) - level)
    }

    /// Calibrated mode's output gain from the model's `output_level_dbu`, in dB.
    fn output_calibration_db(&self) -> Option<f64> {
        let level = self.model.metadata().output_level_dbu?;
        Some(level - f64::from(self.settings.interface_output_dbu))
    }

    fn update_gains(&mut self) {
        self.input_gain
            .set_target(db_to_gain(self.total_input_gain_db()));
        self.output_gain
            .set_target(db_to_gain(self.total_output_gain_db()));
    }
}

impl Node for NamNode {
    fn inputs(&self) -> usize {
        1
    }

    fn outputs(&self) -> usize {
        1
    }

    fn prepare(&mut self, spec: &ProcessSpec) -> Result<(), NodeError> {
        let model_rate = self.model.sample_rate_hz();
        if (spec.sample_rate_hz - model_rate).abs() > 0.5 {
            return Err(NodeError::Invalid(format!(
                "{}: the model runs at {model_rate} Hz but was prepared at {} Hz (wrap it in a rate adapter)",
                self.path, spec.sample_rate_hz
            )));
        }
        self.scratch = vec![0.0; spec.max_block_frames];
        self.input_gain.set_ramp(spec.sample_rate_hz, RAMP_MS);
        self.output_gain.set_ramp(spec.sample_rate_hz, RAMP_MS);
        self.model.reset();
        Ok(())
    }

    fn reset(&mut self) {
        self.model.reset();
        self.snap_params();
    }

    fn snap_params(&mut self) {
        self.input_gain.snap();
        self.output_gain.snap();
        if self.model.slimmable_size_target() != self.model.slimmable_size_index() {
            // A size still warming up takes over now, from silence.
            self.model.set_slimmable_size(f64::from(self.settings.size));
        }
    }

    fn params(&self) -> &[ParamSpec] {
        &PARAMS
    }

    fn warnings(&self) -> Vec<NodeWarning> {
        self.metadata_warnings()
            .into_iter()
            .map(NodeWarning::Metadata)
            .collect()
    }

    fn set_param(&mut self, index: usize, value: f32) {
        let Some(spec) = PARAMS.get(index) else {
            return;
        };
        let value = spec.clamp(value);
        let s = &mut self.settings;
        match index {
            param::INPUT_GAIN_DB => s.input_gain_db = value,
            param::OUTPUT_GAIN_DB => s.output_gain_db = value,
            param::OUTPUT_MODE => s.output_mode = OutputMode::from_index(value),
            param::TARGET_LOUDNESS_DB => s.target_loudness_db = value,
            param::INTERFACE_INPUT_DBU => s.interface_input_dbu = value,
            param::INTERFACE_OUTPUT_DBU => s.interface_output_dbu = value,
            param::SIZE => {
                s.size = value;
                // Every size is built at load: the new one warms up on the live
                // input for one receptive field, then takes over seamlessly.
                self.model.request_slimmable_size(f64::from(value));
                return;
            }
            _ => return,
        }
        self.update_gains();
    }

    fn process(&mut self, frames: usize, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let frames = frames.min(self.scratch.len());
        let scratch = &mut self.scratch[..frames];
        for (s, &x) in scratch.iter_mut().zip(&inputs[0][..frames]) {
            *s = if x.is_finite() {
                x.clamp(-INPUT_LIMIT, INPUT_LIMIT)
            } else {
                0.0
            };
        }
        self.input_gain.apply_gain(scratch);
        let out = &mut outputs[0][..frames];
        self.model.process(scratch, out);
        self.output_gain.apply_gain(out);
    }
}
