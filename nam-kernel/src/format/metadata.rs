//! The optional `metadata` object of a `.nam` file: [`Metadata`] and its JSON
//! mapping both ways ([`Metadata::to_json`]; reading is part of loading), the
//! one definition of the fields that `nam-tools info` and the trainer's export
//! use.

use serde_json::{Map, Number, Value};

use super::json::Node;
use crate::error::FormatError;

/// The key of the trainer's `training` record.
const TRAINING: &str = "training";

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
    /// The text fields with their `.nam` keys, in the trainer's order.
    fn text_fields(&self) -> [(&'static str, &Option<String>); 6] {
        [
            ("name", &self.name),
            ("modeled_by", &self.modeled_by),
            ("gear_type", &self.gear_type),
            ("gear_make", &self.gear_make),
            ("gear_model", &self.gear_model),
            ("tone_type", &self.tone_type),
        ]
    }

    /// The text field stored under `key`, if `key` names one.
    fn text_field_mut(&mut self, key: &str) -> Option<&mut Option<String>> {
        Some(match key {
            "name" => &mut self.name,
            "modeled_by" => &mut self.modeled_by,
            "gear_type" => &mut self.gear_type,
            "gear_make" => &mut self.gear_make,
            "gear_model" => &mut self.gear_model,
            "tone_type" => &mut self.tone_type,
            _ => return None,
        })
    }

    /// The number field stored under `key`, if `key` names one.
    fn number_field_mut(&mut self, key: &str) -> Option<&mut Option<f64>> {
        Some(match key {
            "loudness" => &mut self.loudness,
            "input_level_dbu" => &mut self.input_level_dbu,
            "output_level_dbu" => &mut self.output_level_dbu,
            _ => return None,
        })
    }

    pub(crate) fn parse(node: &Node) -> Result<Self, FormatError> {
        // Metadata that is not an object is ignored like a field of the wrong type.
        let Some(object) = node.value.as_object() else {
            return Ok(Metadata::default());
        };
        let mut metadata = Metadata::default();
        for (key, value) in object {
            let taken = if let Some(slot) = metadata.text_field_mut(key) {
                set(slot, value.as_str().map(str::to_owned))
            } else if let Some(slot) = metadata.number_field_mut(key) {
                set(slot, value.as_f64().filter(|x| x.is_finite()))
            } else if key == TRAINING && !value.is_null() {
                set(&mut metadata.training, Some(value.clone()))
            } else {
                false
            };
            if !taken && !value.is_null() {
                metadata.other.insert(key.clone(), value.clone());
            }
        }
        Ok(metadata)
    }

    /// The `metadata` object as the trainer writes it, keys in its order:
    /// `date`, `loudness`, `gain`, the text fields, the levels, any other key,
    /// then `training`. Non-finite numbers are left out. Reading it back gives
    /// an equal `Metadata` (`tests/write.rs`).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                out.insert(key.to_owned(), value);
            }
        };
        let finite = |x: Option<f64>| x.filter(|x| x.is_finite()).map(number);
        put("date", self.other.get("date").cloned());
        put("loudness", finite(self.loudness));
        put("gain", self.other.get("gain").cloned());
        for (key, value) in self.text_fields() {
            put(key, value.clone().map(Value::String));
        }
        put("input_level_dbu", finite(self.input_level_dbu));
        put("output_level_dbu", finite(self.output_level_dbu));
        for (key, value) in &self.other {
            if !out.contains_key(key) && key != TRAINING {
                out.insert(key.clone(), value.clone());
            }
        }
        let training = self
            .training
            .clone()
            .or_else(|| self.other.get(TRAINING).cloned());
        if let Some(training) = training {
            out.insert(TRAINING.into(), training);
        }
        Value::Object(out)
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

/// A number in floating-point form (callers pass finite ones).
fn number(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}
