//! Export: the trained weights into a `.nam` file with the NAM trainer's
//! version and metadata fields (user fields, date, loudness, gain and the
//! `training` record with the latency found and the validation ESR).

use nam_kernel::format::{Metadata, ModelFormat, ModelSpec, Submodel, Version, WaveNetConfig};
use nam_kernel::{BuildError, NamFile};
use serde_json::{json, Value};

use super::align::{self, Latency, Method};
use super::arch::Architecture;
use super::learned_config;
use super::loudness::stamp_export_metadata;

/// The `.nam` version the NAM trainer 0.13 writes (`NamFile::save` writes
/// 0.5.4 instead when it uses the legacy WaveNet layout).
pub const EXPORT_VERSION: Version = Version::new(0, 7, 0);

/// Descriptive metadata the user gives.
#[derive(Clone, Debug, Default)]
pub struct UserMetadata {
    /// Model name.
    pub name: Option<String>,
    /// Who made the capture.
    pub modeled_by: Option<String>,
    /// `amp`, `pedal`, ...
    pub gear_type: Option<String>,
    /// Manufacturer.
    pub gear_make: Option<String>,
    /// Model of the gear.
    pub gear_model: Option<String>,
    /// `clean`, `overdrive`, ...
    pub tone_type: Option<String>,
}

/// A `NamFile` of `architecture` holding training `weights` (no metadata
/// yet): a WaveNet's learned PReLU slopes and condition DSP go into its
/// config (`learned_config`), the DSP as a document of the same sample rate. A
/// packed model becomes a `SlimmableContainer` of its submodels (each a
/// complete WaveNet document with its share of `weights`), as the NAM
/// trainer exports it.
pub fn nam_file(architecture: &Architecture, weights: Vec<f32>, sample_rate_hz: f64) -> NamFile {
    let spec = match architecture {
        Architecture::WaveNet(config) => {
            let document = |config: &WaveNetConfig, weights| {
                nam_file(
                    &Architecture::WaveNet(config.clone()),
                    weights,
                    sample_rate_hz,
                )
            };
            let (config, weights) = learned_config::into_file(config, &weights, &document);
            ModelSpec::WaveNet { config, weights }
        }
        Architecture::Lstm(config) => ModelSpec::Lstm {
            config: *config,
            weights,
        },
        Architecture::ConvNet(config) => ModelSpec::ConvNet {
            config: config.clone(),
            weights,
        },
        Architecture::Linear(config) => ModelSpec::Linear {
            config: *config,
            weights,
        },
        Architecture::Packed(packed) => {
            let mut rest = weights.as_slice();
            let submodels = packed
                .submodels
                .iter()
                .zip(&packed.max_values)
                .map(|(s, &max_value)| {
                    let count = learned_config::training_weight_count(&s.config);
                    let (mine, others) = rest.split_at(count.min(rest.len()));
                    rest = others;
                    let member = Architecture::WaveNet(s.config.clone());
                    Submodel {
                        max_value,
                        model: nam_file(&member, mine.to_vec(), sample_rate_hz),
                    }
                })
                .collect();
            ModelSpec::SlimmableContainer { submodels }
        }
    };
    NamFile {
        version: EXPORT_VERSION,
        metadata: Metadata::default(),
        declared_sample_rate_hz: Some(sample_rate_hz),
        spec,
        source_format: ModelFormat::Nam,
    }
}

/// The trainer's `training` record: latency (manual or calibrated), data checks
/// and validation ESR; `settings` adds this trainer's own record.
pub fn training_record(latency: &Latency, validation_esr: f64, settings: Value) -> Value {
    let manual = (latency.method == Method::Manual).then_some(latency.samples);
    let (delays, safety) = match latency.method {
        Method::Manual => (vec![], 0),
        Method::NamImpulses => (latency.delays.clone(), align::SAFETY_SAMPLES),
        Method::Deconvolution => (vec![latency.samples], 0),
    };
    let has_warning = |words: &str| latency.warnings.iter().any(|w| w.contains(words));
    let calibration = json!({
        "algorithm_version": 1,
        "delays": delays,
        "safety_factor": safety,
        "recommended": (latency.method != Method::Manual).then_some(latency.samples),
        "warnings": {"matches_lookahead": has_warning("before the impulses"),
                     "disagreement_too_high": has_warning("disagree"),
                     "not_detected": latency.method == Method::Manual},
    });
    let version = latency
        .signal
        .and_then(|d| d.signal.version.split('.').next()?.parse::<u32>().ok())
        .unwrap_or(0);
    json!({
        "settings": {"ignore_checks": false},
        "data": {
            "latency": {"manual": manual, "calibration": calibration},
            "checks": {"version": version, "passed": true},
        },
        "validation_esr": validation_esr,
        "nam_tools": settings,
    })
}

/// Fills the metadata: user fields, date, loudness, gain and `training`. In a
/// container each submodel gets its own date, loudness and gain, and the
/// container those of its largest submodel, as the NAM trainer writes them.
pub fn fill_metadata(
    file: &mut NamFile,
    user: &UserMetadata,
    training: Value,
) -> Result<(), BuildError> {
    stamp_export_metadata(file)?;
    let metadata = &mut file.metadata;
    metadata.name.clone_from(&user.name);
    metadata.modeled_by.clone_from(&user.modeled_by);
    metadata.gear_type.clone_from(&user.gear_type);
    metadata.gear_make.clone_from(&user.gear_make);
    metadata.gear_model.clone_from(&user.gear_model);
    metadata.tone_type.clone_from(&user.tone_type);
    metadata.training = Some(training);
    Ok(())
}
