//! The optional `metadata` object of a `.nam` file.

use serde_json::{Map, Value};

use super::json::Node;
use crate::error::FormatError;

/// Descriptive metadata. Every field is optional; fields of an unexpected type
/// are kept in [`Metadata::other`] rather than refusing an otherwise good model,
/// and a `metadata` value that is not an object is ignored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metadata {
    /// Model name.
    pub name: Option<String>,
    /// Who made the capture.
    pub modeled_by: Option<String>,
    /// `amp`, `pedal`, `amp_cab`, ...
    pub gear_type: Option<String>,
    /// Manufacturer of the captured gear.
    pub gear_make: Option<String>,
    /// Model of the captured gear.
    pub gear_model: Option<String>,
    /// `clean`, `overdrive`, `crunch`, `hi_gain`, `fuzz`.
    pub tone_type: Option<String>,
    /// Loudness of the model's output on the trainer's reference signal, in dB.
    pub loudness: Option<f64>,
    /// Interface input level (dBu) that corresponds to 0 dBFS at the model input.
    pub input_level_dbu: Option<f64>,
    /// Level (dBu) that corresponds to 0 dBFS at the model output.
    pub output_level_dbu: Option<f64>,
    /// The trainer's `training` record (settings, data checks, validation ESR).
    pub training: Option<Value>,
    /// Every other key, as found.
    pub other: Map<String, Value>,
}

impl Metadata {
    pub(crate) fn parse(node: &Node) -> Result<Self, FormatError> {
        // Metadata that is not an object is ignored like a field of the wrong type.
        let Some(object) = node.value.as_object() else {
            return Ok(Metadata::default());
        };
        let mut metadata = Metadata::default();
        for (key, value) in object {
            let string = || value.as_str().map(str::to_owned);
            let number = || value.as_f64().filter(|x| x.is_finite());
            let taken = match key.as_str() {
                "name" => set(&mut metadata.name, string()),
                "modeled_by" => set(&mut metadata.modeled_by, string()),
                "gear_type" => set(&mut metadata.gear_type, string()),
                "gear_make" => set(&mut metadata.gear_make, string()),
                "gear_model" => set(&mut metadata.gear_model, string()),
                "tone_type" => set(&mut metadata.tone_type, string()),
                "loudness" => set(&mut metadata.loudness, number()),
                "input_level_dbu" => set(&mut metadata.input_level_dbu, number()),
                "output_level_dbu" => set(&mut metadata.output_level_dbu, number()),
                "training" if !value.is_null() => set(&mut metadata.training, Some(value.clone())),
                _ => false,
            };
            if !taken && !value.is_null() {
                metadata.other.insert(key.clone(), value.clone());
            }
        }
        Ok(metadata)
    }

    /// The validation ESR the trainer recorded, if any.
    pub fn validation_esr(&self) -> Option<f64> {
        self.training.as_ref()?.get("validation_esr")?.as_f64()
    }
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
    let taken = value.is_some();
    if taken {
        *slot = value;
    }
    taken
}
