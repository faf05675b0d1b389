//! GuitarML WaveNet files (PedalNetRT export, SmartGuitarAmp /
//! SmartGuitarPedal): every model in `tests/guitarml/` (generated shapes and
//! two real SmartGuitarAmp models) plays the format's definition, computed in
//! float64 NumPy by `scripts/make-guitarml-references.sh`, on every kernel
//! table; the model maps onto NAM's WaveNet and writes to a `.nam` that plays
//! identically; bad files are refused naming the file and the field.
//!
//! Tolerance: 1e-5 absolute (our float32 against a float64 reference; the
//! worst seen is reported by the test when it fails).

use std::path::{Path, PathBuf};

use nam_kernel::error::FormatError;
use nam_kernel::format::{Gating, ModelFormat, ModelSpec};
use nam_kernel::kernels::Kernels;
use nam_kernel::{BuildOptions, Model, NamFile};
use serde_json::{json, Value};

const TOLERANCE: f32 = 1e-5;

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guitarml")
}

/// Every `.json` model of the folder.
fn models() -> Vec<PathBuf> {
    let mut models: Vec<PathBuf> = std::fs::read_dir(models_dir())
        .expect("tests/guitarml exists")
        .map(|entry| entry.expect("readable folder").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    models.sort();
    models
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/make-guitarml-references.sh)",
            path.display()
        )
    });
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Plays `input` through `model` in blocks of `block` frames.
fn play(model: &mut Model, input: &[f32], block: usize) -> Vec<f32> {
    let mut output = vec![0.0; input.len()];
    for (i, o) in input.chunks(block).zip(output.chunks_mut(block)) {
        model.process(i, o);
    }
    output
}

/// The largest difference and where it is.
fn worst_difference(got: &[f32], want: &[f32]) -> (f32, usize) {
    assert_eq!(got.len(), want.len());
    got.iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .enumerate()
        .fold((0.0_f32, 0), |(w, at), (i, d)| {
            if d > w || d.is_nan() {
                (d, i)
            } else {
                (w, at)
            }
        })
}

#[test]
fn every_model_matches_the_reference_on_every_table() {
    let models = models();
    assert!(
        models.len() >= 8,
        "expected the test models, found {models:?}"
    );
    let input = read_f32(&models_dir().join("input.f32"));
    assert_eq!(input.len(), 4096);
    let mut checked = 0;
    for path in &models {
        let reference = read_f32(&path.with_extension("f32"));
        assert_eq!(reference.len(), input.len(), "{}", path.display());
        let file = NamFile::load(path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.format(), ModelFormat::GuitarMl);
        assert_eq!(file.architecture(), "WaveNet");
        for &kernels in Kernels::available() {
            for block in [64, 37] {
                let options = BuildOptions {
                    kernels,
                    ..Default::default()
                };
                let mut model = Model::build(&file, options).expect("builds");
                let got = play(&mut model, &input, block);
                let (worst, at) = worst_difference(&got, &reference);
                assert!(
                    worst <= TOLERANCE,
                    "{} on {} (blocks of {block}): |diff| {worst:e} at sample {at} exceeds {TOLERANCE:e}",
                    path.display(),
                    kernels.name
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 2 * models.len(), "{checked}");
}

#[test]
fn the_real_smartguitaramp_models_play_loud_and_finite() {
    let input = read_f32(&models_dir().join("input.f32"));
    for name in [
        "smartguitaramp_bluej_clean_p0088.json",
        "smartguitaramp_bluej_fullD_p0153.json",
    ] {
        let mut model = Model::load(models_dir().join(name)).unwrap_or_else(|e| panic!("{e}"));
        let output = play(&mut model, &input, 128);
        assert!(output.iter().all(|x| x.is_finite()), "{name}");
        let rms = (output.iter().map(|x| x * x).sum::<f32>() / output.len() as f32).sqrt();
        assert!(rms > 0.05, "{name}: rms {rms}");
        assert_eq!(model.receptive_field(), 2047, "{name}");
    }
}

#[test]
fn the_model_is_a_nam_wavenet_at_44_1_khz() {
    let file =
        NamFile::load(models_dir().join("smartguitaramp_bluej_clean_p0088.json")).expect("loads");
    assert_eq!(file.sample_rate_hz(), 44_100.0);
    assert_eq!(file.declared_sample_rate_hz, None);
    let ModelSpec::WaveNet { config, weights } = &file.spec else {
        panic!("not a WaveNet: {:?}", file.spec.architecture());
    };
    assert_eq!(config.layer_arrays.len(), 1);
    let array = &config.layer_arrays[0];
    assert_eq!(array.channels, 10);
    assert_eq!(array.layers.len(), 10);
    assert!(array
        .layers
        .iter()
        .all(|l| l.kernel_size == 3 && matches!(l.gating, Gating::Gated { .. })));
    // level_adjust 10 is the head scale, the last weight.
    assert_eq!(config.head_scale, 10.0);
    assert_eq!(weights.last(), Some(&10.0));
    assert_eq!(weights.len(), config.weight_count());
}

#[test]
fn a_converted_nam_file_plays_identically() {
    let input = read_f32(&models_dir().join("input.f32"));
    let scratch = std::env::temp_dir().join(format!("guitarml-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch folder");
    for path in models() {
        let file = NamFile::load(&path).expect("loads");
        let as_nam = NamFile {
            source_format: ModelFormat::Nam,
            declared_sample_rate_hz: Some(file.sample_rate_hz()),
            ..file.clone()
        };
        let written = scratch
            .join(path.file_name().expect("name"))
            .with_extension("nam");
        as_nam.save(&written).expect("writes");
        let reread = NamFile::load(&written).expect("reads back");
        assert_eq!(reread.format(), ModelFormat::Nam);
        assert_eq!(reread.sample_rate_hz(), 44_100.0);
        let mut original = Model::build(&file, Default::default()).expect("builds");
        let mut converted = Model::build(&reread, Default::default()).expect("builds");
        let a = play(&mut original, &input, 64);
        let b = play(&mut converted, &input, 64);
        assert_eq!(a, b, "{}", path.display());
    }
    std::fs::remove_dir_all(&scratch).expect("scratch removed");
}

/// A generated model's document, changed by `edit`.
fn edited(name: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let text = std::fs::read_to_string(models_dir().join(name)).expect("model");
    let mut doc: Value = serde_json::from_str(&text).expect("json");
    edit(&mut doc);
    doc
}

fn load_error(doc: &Value) -> (FormatError, String) {
    let error = NamFile::from_json_value(doc, "amp.json").expect_err("refused");
    let message = error.to_string();
    assert!(message.starts_with("amp.json: "), "{message}");
    (error.kind, message)
}

fn assert_refused(doc: &Value, parts: &[&str]) {
    let (_, message) = load_error(doc);
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

const SMALL: &str = "gen_c4_k2_d8.json";

#[test]
fn malformed_files_are_refused_naming_the_field() {
    assert_refused(
        &edited(SMALL, |d| {
            d.as_object_mut().expect("object").remove("filter_width");
        }),
        &["missing field `filter_width`"],
    );
    assert_refused(
        &edited(SMALL, |d| d["activation"] = json!("swish")),
        &["`activation`", "unknown activation `swish`", "gated"],
    );
    assert_refused(
        &edited(SMALL, |d| d["input_channels"] = json!(2)),
        &["`input_channels`", "one input and one output channel"],
    );
    assert_refused(
        &edited(SMALL, |d| d["dilations"] = json!([])),
        &["`dilations`", "at least one layer"],
    );
    // A data array of the wrong size names the variable and both counts.
    let (kind, message) = load_error(&edited(SMALL, |d| {
        d["variables"][2]["data"]
            .as_array_mut()
            .expect("data")
            .pop();
    }));
    assert!(
        matches!(
            kind,
            FormatError::WeightCountMismatch {
                expected: 64,
                found: 63,
                ..
            }
        ),
        "{message}"
    );
    assert!(message.contains("variables[2].data"), "{message}");
    assert_refused(
        &edited(SMALL, |d| d["variables"][3]["data"][1] = json!("0.5x")),
        &["variables[3].data[1]", "decimal string"],
    );
    assert_refused(
        &edited(SMALL, |d| d["variables"][3]["data"][1] = json!("nan")),
        &["non-finite weight", "variables[3].data"],
    );
    assert_refused(
        &edited(SMALL, |d| {
            d["variables"].as_array_mut().expect("list").remove(4);
        }),
        &["`variables`", "W_out of layer_idx 0 is missing"],
    );
    assert_refused(
        &edited(SMALL, |d| {
            let copy = d["variables"][0].clone();
            d["variables"].as_array_mut().expect("list").push(copy);
        }),
        &["variables[20]", "given twice"],
    );
    assert_refused(
        &edited(SMALL, |d| d["variables"][0]["layer_idx"] = json!(7)),
        &["variables[0]", "no variable `W` at layer_idx 7"],
    );
    assert_refused(
        &edited(SMALL, |d| d["variables"][0]["layer_idx"] = json!("first")),
        &["variables[0].layer_idx", "integer"],
    );
}

#[test]
fn level_adjust_zero_or_absent_is_unity_gain() {
    let input = read_f32(&models_dir().join("input.f32"));
    let output = |doc: &Value| {
        let file = NamFile::from_json_value(doc, "amp.json").expect("loads");
        play(
            &mut Model::build(&file, Default::default()).expect("builds"),
            &input,
            64,
        )
    };
    let plain = output(&edited(SMALL, |_| {}));
    let zero = output(&edited(SMALL, |d| d["level_adjust"] = json!(0.0)));
    let doubled = output(&edited(SMALL, |d| d["level_adjust"] = json!(2.0)));
    assert_eq!(plain, zero);
    for (p, d) in plain.iter().zip(&doubled) {
        assert!((2.0 * p - d).abs() <= 1e-6, "{p} {d}");
    }
    assert!(plain.iter().any(|x| x.abs() > 0.1));
}

#[test]
fn a_json_object_no_loader_reads_is_refused_with_its_keys() {
    let doc = json!({"residual_channels": 4, "layers_idx": []});
    let (kind, message) = load_error(&doc);
    assert!(matches!(kind, FormatError::NotAModel { .. }), "{message}");
    assert!(message.contains("residual_channels"), "{message}");
    assert!(message.contains("GuitarML"), "{message}");
}
