//! The plugin's control ports and the graph parameters they drive.
//!
//! Every control the host sees is one [`Control`]; its symbol, range and
//! default here are the single source the TTL is checked against (see
//! `tests/ttl.rs`), and [`Control::target`] names the node parameter of the
//! rig (see [`crate::rig`]) it sets.

/// A control input of the plugin (except `enabled`, which the engine handles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Gain before everything else, in dB.
    InputGainDb,
    /// Noise gate threshold in dB; the minimum (-100) lets everything through.
    GateThresholdDb,
    /// Tone stack bass, 0 to 10 (5 = flat).
    Bass,
    /// Tone stack middle, 0 to 10 (5 = flat).
    Middle,
    /// Tone stack treble, 0 to 10 (5 = flat).
    Treble,
    /// NAM output mode: 0 raw, 1 normalized, 2 calibrated.
    OutputMode,
    /// Loudness the normalized mode aims at, in dB.
    TargetLoudnessDb,
    /// The audio interface's input level for 0 dBFS, in dBu (calibrated mode).
    InputLevelDbu,
    /// The audio interface's output level for 0 dBFS, in dBu (calibrated mode).
    OutputLevelDbu,
    /// Input IR on (1) or off (0), crossfaded.
    InputIrEnabled,
    /// Cabinet IR on (1) or off (0), crossfaded.
    CabEnabled,
    /// Gain after everything else, in dB.
    OutputGainDb,
    /// Size of a slimmable model, 0 to 1 (1 = full size, the default); no
    /// effect on other models. Every size is built when the model loads; a
    /// change takes over seamlessly after one receptive field, no reload.
    ModelSize,
}

/// The `model_size` port's scale points (value, label), in the TTL too. A
/// slimmable WaveNet of `n` sizes plays size `min(floor(v · n), n − 1)`, so
/// these reach every size of models with up to 4 sizes (and 2 of a container
/// with `max_value`s 0.5 and 1).
pub const MODEL_SIZE_SCALE_POINTS: [(f32, &str); 5] = [
    (0.0, "Smallest"),
    (0.25, "Small"),
    (0.5, "Medium"),
    (0.75, "Large"),
    (1.0, "Full"),
];

/// A control's port description.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ControlSpec {
    /// The port symbol.
    pub symbol: &'static str,
    /// Smallest value.
    pub min: f32,
    /// Largest value.
    pub max: f32,
    /// Value on instantiation.
    pub default: f32,
}

const fn spec(symbol: &'static str, min: f32, max: f32, default: f32) -> ControlSpec {
    ControlSpec {
        symbol,
        min,
        max,
        default,
    }
}

/// Number of [`Control`]s.
pub const CONTROL_COUNT: usize = Control::ALL.len();

impl Control {
    /// Every control, in port order.
    pub const ALL: [Control; 13] = [
        Control::InputGainDb,
        Control::GateThresholdDb,
        Control::Bass,
        Control::Middle,
        Control::Treble,
        Control::OutputMode,
        Control::TargetLoudnessDb,
        Control::InputLevelDbu,
        Control::OutputLevelDbu,
        Control::InputIrEnabled,
        Control::CabEnabled,
        Control::OutputGainDb,
        Control::ModelSize,
    ];

    /// The control's port description.
    pub const fn spec(self) -> ControlSpec {
        match self {
            Control::InputGainDb => spec("input_gain_db", -24.0, 24.0, 0.0),
            Control::GateThresholdDb => spec("gate_threshold_db", -100.0, 0.0, -80.0),
            Control::Bass => spec("bass", 0.0, 10.0, 5.0),
            Control::Middle => spec("middle", 0.0, 10.0, 5.0),
            Control::Treble => spec("treble", 0.0, 10.0, 5.0),
            Control::OutputMode => spec("output_mode", 0.0, 2.0, 0.0),
            Control::TargetLoudnessDb => spec("target_loudness_db", -40.0, 0.0, -18.0),
            Control::InputLevelDbu => spec("input_level_dbu", -20.0, 40.0, 12.0),
            Control::OutputLevelDbu => spec("output_level_dbu", -20.0, 40.0, 12.0),
            Control::InputIrEnabled => spec("input_ir_enabled", 0.0, 1.0, 1.0),
            Control::CabEnabled => spec("cab_enabled", 0.0, 1.0, 1.0),
            Control::OutputGainDb => spec("output_gain_db", -40.0, 24.0, 0.0),
            Control::ModelSize => spec("model_size", 0.0, 1.0, 1.0),
        }
    }

    /// The control whose port symbol is `symbol`.
    pub fn from_symbol(symbol: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.spec().symbol == symbol)
    }

    /// Position in [`Control::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The rig node and parameter this control sets: `(node id, parameter)`.
    pub const fn target(self) -> (&'static str, &'static str) {
        match self {
            Control::InputGainDb => ("input_gain", "gain_db"),
            Control::GateThresholdDb => ("gate", "threshold_db"),
            Control::Bass => ("eq", "bass"),
            Control::Middle => ("eq", "middle"),
            Control::Treble => ("eq", "treble"),
            Control::OutputMode => ("amp", "output_mode"),
            Control::TargetLoudnessDb => ("amp", "target_loudness_db"),
            Control::InputLevelDbu => ("amp", "interface_input_dbu"),
            Control::OutputLevelDbu => ("amp", "interface_output_dbu"),
            Control::InputIrEnabled => ("input_ir", "mix"),
            Control::CabEnabled => ("cab", "mix"),
            Control::OutputGainDb => ("output_gain", "gain_db"),
            Control::ModelSize => ("amp", "size"),
        }
    }

    /// The host's value made valid: clamped into range (NaN gives the
    /// default), switches and the output mode rounded to whole steps.
    pub fn sanitize(self, value: f32) -> f32 {
        let spec = self.spec();
        if !value.is_finite() {
            return if value.is_nan() {
                spec.default
            } else {
                value.clamp(spec.min, spec.max)
            };
        }
        let value = value.clamp(spec.min, spec.max);
        match self {
            Control::OutputMode | Control::InputIrEnabled | Control::CabEnabled => value.round(),
            _ => value,
        }
    }
}

/// One value per [`Control`], always valid (see [`Control::sanitize`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Controls([f32; CONTROL_COUNT]);

impl Default for Controls {
    fn default() -> Self {
        Self(Control::ALL.map(|c| c.spec().default))
    }
}

impl Controls {
    /// The value of `control`.
    pub fn get(&self, control: Control) -> f32 {
        self.0[control.index()]
    }

    /// Sets `control` (sanitized); returns whether the value changed.
    pub fn set(&mut self, control: Control, value: f32) -> bool {
        let value = control.sanitize(value);
        let slot = &mut self.0[control.index()];
        let changed = *slot != value;
        *slot = value;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_index_order() {
        for (i, control) in Control::ALL.iter().enumerate() {
            assert_eq!(control.index(), i);
        }
    }

    #[test]
    fn defaults_are_in_range() {
        for control in Control::ALL {
            let s = control.spec();
            assert!(s.min <= s.default && s.default <= s.max, "{}", s.symbol);
        }
    }

    #[test]
    fn sanitize_clamps_rounds_and_replaces_nan() {
        assert_eq!(Control::Bass.sanitize(f32::NAN), 5.0);
        assert_eq!(Control::Bass.sanitize(f32::INFINITY), 10.0);
        assert_eq!(Control::Bass.sanitize(-3.0), 0.0);
        assert_eq!(Control::OutputMode.sanitize(1.4), 1.0);
        assert_eq!(Control::CabEnabled.sanitize(0.6), 1.0);
        let mut controls = Controls::default();
        assert!(!controls.set(Control::Treble, 5.0));
        assert!(controls.set(Control::Treble, 7.0));
        assert_eq!(controls.get(Control::Treble), 7.0);
    }
}
