//! RTNeural / AIDA-X model files: every model in `tests/rtneural/` (real
//! AIDA-X captures and generated LSTM/GRU/dense stacks) plays RTNeural's own
//! output, as NeuralAudio runs it, on every kernel table; AIDA-X's input
//! skip, gains and sample rate are honoured; bad files are refused with the
//! reason. References: `scripts/make-rtneural-references.sh`.
//!
//! Tolerance: 1e-5 absolute. RTNeural's float tanh (Eigen's rational
//! approximation) and ours are both within a few 1e-7 of exact, so what is
//! left is float32 rounding in a different summation order. The high-gain
//! capture `tw40_british_lead` amplifies that rounding through its
//! recurrence: our own scalar and SIMD tables differ by 3.2e-5 on it (6e-5
//! of its peak), so it is checked at 5e-5.

use std::path::{Path, PathBuf};

use nam_kernel::kernels::Kernels;
use nam_kernel::{BuildOptions, Model, NamFile};

/// Zeros fed before the signal, as the harness does.
const ZEROS: usize = 8192;
/// Signal samples the references hold.
const KEPT: usize = 8192;
/// The harness's block size.
const BLOCK: usize = 64;

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rtneural")
}

/// Every `.json` model of the folder.
fn models() -> Vec<PathBuf> {
    let mut models: Vec<PathBuf> = std::fs::read_dir(models_dir())
        .expect("tests/rtneural exists")
        .map(|entry| entry.expect("readable folder").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    models.sort();
    models
}

fn tolerance(model: &Path) -> f32 {
    let name = model.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    if name.starts_with("tw40_british_lead") {
        5e-5
    } else {
        1e-5
    }
}

/// The peers' test signal (`nam-kernel/examples/anchor.rs`, the harness's
/// `make_signal`), computed with the same `f32` operations.
fn test_signal(len: usize) -> Vec<f32> {
    let mut state: u32 = 12_345;
    (0..len)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = ((state >> 8) as f32 * (1.0 / 16_777_216.0)) * 2.0 - 1.0;
            let phase = 2.0 * std::f32::consts::PI * 110.0 * i as f32 / 48_000.0;
            0.3 * phase.sin() + 0.05 * noise
        })
        .collect()
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/make-rtneural-references.sh)",
            path.display()
        )
    });
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The harness's run: zeros, then the signal, block by block; the signal part.
fn harness_run(model: &mut Model) -> Vec<f32> {
    let mut input = vec![0.0; ZEROS];
    input.extend(test_signal(KEPT));
    let mut output = vec![0.0; input.len()];
    for (i, o) in input.chunks(BLOCK).zip(output.chunks_mut(BLOCK)) {
        model.process(i, o);
    }
    output.split_off(ZEROS)
}

#[test]
fn every_model_matches_rtneural_on_every_table() {
    let models = models();
    assert!(
        models.len() >= 9,
        "expected the test models, found {models:?}"
    );
    let mut checked = 0;
    for path in &models {
        let reference = read_f32(&path.with_extension("f32"));
        assert_eq!(reference.len(), KEPT, "{}", path.display());
        let file = NamFile::load(path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(file.architecture(), "RTNeural");
        let tolerance = tolerance(path);
        for &kernels in Kernels::available() {
            let options = BuildOptions {
                kernels,
                ..Default::default()
            };
            let mut model = Model::build(&file, options).expect("builds");
            let got = harness_run(&mut model);
            let (worst, at) = got
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a - b).abs())
                .enumerate()
                .fold((0.0_f32, 0), |(w, at), (i, d)| {
                    if d > w || d.is_nan() {
                        (d, i)
                    } else {
                        (w, at)
                    }
                });
            assert!(
                worst <= tolerance,
                "{} on {}: |diff| {worst:e} at sample {at} exceeds {tolerance:e}",
                path.display(),
                kernels.name
            );
            checked += 1;
        }
    }
    assert!(checked >= models.len(), "{checked}");
}

#[test]
fn reset_returns_every_layer_to_its_start_state() {
    // The convolutions' input frames, the batch norm and the GRU state.
    for name in [
        CONV,
        "gen_conv1d_stack.json",
        "gen_gru8_batchnorm_plain.json",
    ] {
        let file = NamFile::load(models_dir().join(name)).expect("loads");
        let mut model = Model::build(&file, BuildOptions::default()).expect("builds");
        let input = test_signal(2048);
        let mut fresh = vec![0.0; input.len()];
        model.process(&input, &mut fresh);
        let mut again = vec![0.0; input.len()];
        model.process(&input, &mut again);
        // The state carried over changes the start of the second run ...
        assert!(fresh.iter().zip(&again).any(|(a, b)| a != b), "{name}");
        // ... and a reset brings the first run back exactly.
        model.reset();
        model.process(&input, &mut again);
        assert_eq!(fresh, again, "{name}");
    }
}

#[test]
fn a_recurrent_layer_s_activation_is_ignored_as_rtneural_ignores_it() {
    // RTNeural reads `activation` only on dense, conv1d and activation
    // layers: on an LSTM even "softmax" changes nothing.
    let load = |edit: fn(&mut serde_json::Value)| {
        let text = std::fs::read_to_string(models_dir().join("gen_lstm8x2_relu.json")).unwrap();
        let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        edit(&mut doc);
        NamFile::from_json_value(&doc, "edited").expect("loads")
    };
    let layers = |file: NamFile| match file.spec {
        nam_kernel::format::ModelSpec::RtNeural { config, .. } => config.layers,
        _ => panic!("not an RTNeural spec"),
    };
    let plain = layers(load(|_| {}));
    let marked = layers(load(|d| d["layers"][0]["activation"] = "softmax".into()));
    assert_eq!(plain, marked);
    // The same name on a dense layer does add the softmax.
    let dense = layers(load(|d| d["layers"][2]["activation"] = "softmax".into()));
    assert_eq!(dense.len(), plain.len() + 1);
}

/// A generated model's document with extra top-level fields.
fn with_fields(name: &str, fields: serde_json::Value) -> NamFile {
    let text = std::fs::read_to_string(models_dir().join(name)).expect("model");
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    for (key, value) in fields.as_object().expect("object") {
        doc[key] = value.clone();
    }
    NamFile::from_json_value(&doc, name).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn input_skip_and_gains_are_applied_as_aida_x_does() {
    let plain = with_fields("gen_gru8.json", serde_json::json!({}));
    let skipped = with_fields(
        "gen_gru8.json",
        serde_json::json!({"in_skip": 1, "in_gain": 6.0, "out_gain": -3.0}),
    );
    let input = test_signal(4096);
    let gain_in = 10f32.powf(6.0 / 20.0);
    let gain_out = 10f32.powf(-3.0 / 20.0);
    let scaled: Vec<f32> = input.iter().map(|x| x * gain_in).collect();
    let mut network = vec![0.0; input.len()];
    Model::build(&plain, Default::default())
        .expect("builds")
        .process(&scaled, &mut network);
    let mut got = vec![0.0; input.len()];
    Model::build(&skipped, Default::default())
        .expect("builds")
        .process(&input, &mut got);
    for ((got, net), x) in got.iter().zip(&network).zip(&scaled) {
        let want = (net + x) * gain_out;
        assert!((got - want).abs() <= 1e-6, "{got} vs {want}");
    }
    // The skip really changes the output (the test can fail).
    assert!(got.iter().zip(&network).any(|(a, b)| (a - b).abs() > 1e-3));
}

#[test]
fn the_sample_rate_is_read_where_aida_x_and_neuralaudio_write_it() {
    let rate = |name: &str| {
        NamFile::load(models_dir().join(name))
            .unwrap_or_else(|e| panic!("{e}"))
            .sample_rate_hz()
    };
    // `samplerate` at the top (NeuralAudio), a string in `metadata` (AIDA-X).
    assert_eq!(rate("gen_gru40.json"), 44_100.0);
    assert_eq!(rate("gen_gru8.json"), 48_000.0);
    assert_eq!(rate("tw40_california_clean_deerinkstudios.json"), 48_000.0);
    let model = Model::load(models_dir().join("gen_gru40.json")).expect("loads");
    assert_eq!(model.sample_rate_hz(), 44_100.0);
    let file =
        NamFile::load(models_dir().join("tw40_british_lead_deerinkstudios.json")).expect("loads");
    assert_eq!(
        file.metadata.name.as_deref(),
        Some("tw40_british_lead_deerinkstudios")
    );
}

#[test]
fn a_model_written_back_reads_back_the_same() {
    for path in models() {
        let file = NamFile::load(&path).expect("loads");
        let again = NamFile::from_json_value(&file.to_json_value(), "written").expect("reads");
        let (
            nam_kernel::format::ModelSpec::RtNeural { config, weights },
            nam_kernel::format::ModelSpec::RtNeural {
                config: config2,
                weights: weights2,
            },
        ) = (&file.spec, &again.spec)
        else {
            panic!("{}: not an RTNeural spec", path.display());
        };
        assert_eq!(config, config2, "{}", path.display());
        assert_eq!(weights, weights2, "{}", path.display());
        assert_eq!(file.declared_sample_rate_hz, again.declared_sample_rate_hz);
    }
}

/// The error for a generated model's document changed by `edit`.
fn error_after(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    error_in("gen_lstm8x2_relu.json", edit)
}

/// The error for the model `name`'s document changed by `edit`.
fn error_in(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let text = std::fs::read_to_string(models_dir().join(name)).expect("model");
    let mut doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    edit(&mut doc);
    match NamFile::from_json_value(&doc, "bad.json") {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    }
}

/// A generated model with every RTNeural layer type besides the recurrent ones.
const CONV: &str = "gen_conv1d_groups_batchnorm.json";

#[test]
fn bad_files_are_refused_with_the_reason() {
    let cases: Vec<(String, &str)> = vec![
        (
            error_after(|d| d["layers"][0]["type"] = "conv2d".into()),
            "layer type `conv2d` is not supported",
        ),
        // gen_conv1d_groups_batchnorm: conv1d 1->4 (k 3), batchnorm 4,
        // conv1d 4->4 (k 5, dilation 3, 2 groups), GRU 8, dense 1.
        (
            error_in(CONV, |d| d["layers"][2]["groups"] = 3.into()),
            "4 inputs and 4 outputs do not split into 3 groups",
        ),
        (
            error_in(CONV, |d| {
                d["layers"][2]["weights"][0]
                    .as_array_mut()
                    .expect("taps")
                    .pop();
            }),
            "layers[2].weights[0]",
        ),
        (
            error_in(CONV, |d| {
                d["layers"][0]["dilation"] = serde_json::json!([40000])
            }),
            "layers[0].dilation",
        ),
        (
            error_in(CONV, |d| {
                d["layers"][0]
                    .as_object_mut()
                    .expect("layer")
                    .remove("kernel_size");
            }),
            "layers[0].kernel_size",
        ),
        (
            // Each within a dilation's limit, 36000 samples back together.
            error_in(CONV, |d| {
                d["layers"][0]["dilation"] = serde_json::json!([9000]);
                d["layers"][2]["dilation"] = serde_json::json!([4500]);
            }),
            "`layers` = 36000 is too large (at most 32768)",
        ),
        (
            error_in(CONV, |d| d["layers"][1]["weights"][3][0] = (-0.5).into()),
            "a variance of -0.5 is negative",
        ),
        (
            error_in(CONV, |d| {
                d["layers"][1]["weights"][3][0] = 0.into();
                d["layers"][1]["epsilon"] = 0.into();
            }),
            "a variance of 0 plus epsilon 0 is not a positive normal number",
        ),
        (
            error_in(CONV, |d| {
                d["layers"][1]["weights"]
                    .as_array_mut()
                    .expect("arrays")
                    .pop();
            }),
            "found 3",
        ),
        (
            error_in(CONV, |d| {
                d["layers"][1]
                    .as_object_mut()
                    .expect("layer")
                    .remove("epsilon");
            }),
            "layers[1].epsilon",
        ),
        (
            error_after(|d| d["in_shape"] = serde_json::json!([null, null, 3])),
            "takes 3 inputs per sample",
        ),
        (
            error_after(|d| {
                d["layers"].as_array_mut().expect("layers").pop();
            }),
            "the last layer outputs 4 values",
        ),
        (
            error_after(|d| {
                d["layers"][0]["weights"][1]
                    .as_array_mut()
                    .expect("recurrent")
                    .pop();
            }),
            "layers[0].weights[1]",
        ),
        (
            error_after(|d| d["layers"][2]["activation"] = "softplus".into()),
            "activation `softplus` is not supported",
        ),
        (
            error_after(|d| d["in_skip"] = 2.into()),
            "AIDA-X reads 0 or 1",
        ),
        (
            error_after(|d| d["layers"][0]["weights"][0][0][0] = serde_json::json!(1e300)),
            "non-finite weight",
        ),
        (
            error_after(|d| *d = serde_json::json!({"name": "x", "data": [1, 2]})),
            "not a model file: found a JSON object with keys name, data",
        ),
    ];
    for (error, expected) in cases {
        assert!(error.starts_with("bad.json: "), "{error}");
        assert!(error.contains(expected), "`{error}` lacks `{expected}`");
    }
}

#[test]
fn a_file_that_is_no_model_says_what_it_looked_like() {
    let dir = std::env::temp_dir().join(format!("nam-rtneural-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let cases = [
        (
            "di.json",
            b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec(),
            "a RIFF file",
        ),
        ("blob.aidax", vec![0xff, 0x00, 0x12], "binary data"),
        (
            "notes.nam",
            b"hello".to_vec(),
            "text that is not a JSON object",
        ),
        ("list.json", b"[1, 2]".to_vec(), "a JSON array of 2 items"),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        let error = NamFile::load(&path).expect_err("refused").to_string();
        assert!(error.contains(name), "{error}");
        assert!(error.contains(expected), "`{error}` lacks `{expected}`");
    }
    std::fs::remove_dir_all(&dir).ok();
}
