//! The `loudness` and `gain` metadata, computed like the NAM trainer: the model
//! (run by `nam-kernel`) on the trainer's reference signal.

use std::path::Path;

use nam_graph::audio_file::{self, Limits};
use nam_kernel::format::ModelSpec;
use nam_kernel::{BuildError, BuildOptions, Model, NamFile};
use serde_json::json;

/// The NAM trainer's loudness reference signal (see `tools/resources/README.md`).
const REFERENCE_WAV: &[u8] = include_bytes!("../../resources/loudness_input.wav");

/// The reference signal as samples.
fn reference() -> Vec<f32> {
    let name = Path::new("loudness_input.wav");
    audio_file::read_bytes(name, REFERENCE_WAV.to_vec(), &Limits::RECORDING, 1)
        .map(|mut audio| audio.samples.swap_remove(0))
        .unwrap_or_default()
}

/// RMS of the model's output for the reference signal times `gain`.
fn output_rms(model: &mut Model, signal: &[f32], gain: f32) -> f64 {
    model.reset();
    let input: Vec<f32> = signal.iter().map(|x| x * gain).collect();
    let mut output = vec![0.0_f32; input.len()];
    model.process(&input, &mut output);
    let energy: f64 = output.iter().map(|&y| f64::from(y) * f64::from(y)).sum();
    (energy / output.len().max(1) as f64).sqrt()
}

/// `(loudness in dB, gain in [0, 1])` of a model, as the NAM trainer defines them.
pub fn loudness_and_gain(file: &NamFile) -> Result<(f64, f64), BuildError> {
    let mut model = Model::build(file, BuildOptions::default())?;
    let signal = reference();
    let loudness_db = 20.0 * output_rms(&mut model, &signal, 1.0).log10();
    // Gain: the area under the output level over input gains 0, 0.1, ..., 1,
    // between that of a straight line (no compression, 0) and a step (1).
    let levels: Vec<f64> = (0..=10)
        .map(|i| output_rms(&mut model, &signal, i as f32 / 10.0))
        .collect();
    let max_area = levels[10] * levels.len() as f64;
    let min_area = 0.5 * max_area;
    let gain = ((levels.iter().sum::<f64>() - min_area) / (max_area - min_area)).clamp(0.0, 1.0);
    Ok((loudness_db, if gain.is_finite() { gain } else { 0.0 }))
}

/// Writes the metadata the NAM trainer computes at export (`loudness`, `gain`
/// and `date`) into `file`. A container gets them in each submodel, and
/// itself those of its highest-quality submodel (the first of the largest
/// `max_value`), as the trainer's `export_container` writes them.
pub fn stamp_export_metadata(file: &mut NamFile) -> Result<(), BuildError> {
    stamp(file).map(|_| ())
}

/// [`stamp_export_metadata`], returning the `(loudness, gain)` written.
fn stamp(file: &mut NamFile) -> Result<(f64, f64), BuildError> {
    let (loudness, gain) = match &mut file.spec {
        ModelSpec::SlimmableContainer { submodels } => {
            let mut best: Option<(f64, (f64, f64))> = None;
            for submodel in submodels.iter_mut() {
                let measured = stamp(&mut submodel.model)?;
                if best.is_none_or(|(value, _)| submodel.max_value > value) {
                    best = Some((submodel.max_value, measured));
                }
            }
            best.map_or((f64::NAN, 0.0), |(_, measured)| measured)
        }
        _ => loudness_and_gain(file)?,
    };
    let metadata = &mut file.metadata;
    metadata.loudness = Some(loudness);
    metadata.other.insert("gain".into(), json!(gain));
    metadata.other.insert("date".into(), crate::date::now());
    Ok((loudness, gain))
}
