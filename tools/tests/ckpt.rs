//! `nam-tools import` against the NAM trainer itself: each checkpoint of
//! `tests/ckpt/` (made by `scripts/make-ckpt-references.sh` with
//! neural-amp-modeler 0.13: a short Lightning fit, the best checkpoint, and
//! the `.nam` the trainer exports from it) is imported by the real binary and
//! compared with the trainer's `.nam`: same architecture, config and sample
//! rate, the same weights bit for bit (the LSTM's initial state, which the
//! trainer computes by running its float32 LSTM over 48000 samples, within
//! float32 rounding), and the same output in nam-kernel. Malformed
//! checkpoints and mismatched configs fail with errors naming the problem.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use nam_kernel::{BuildOptions, Model, NamFile};
use nam_tools::ckpt;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ckpt")
}

fn case(name: &str, ext: &str) -> PathBuf {
    let path = dir().join(format!("{name}.{ext}"));
    assert!(path.is_file(), "missing reference {}", path.display());
    path
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nam-tools-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs `nam-tools import` and loads what it wrote.
fn import_with_cli(name: &str) -> NamFile {
    let out = scratch(&format!("{name}.nam"));
    let result = Command::new(env!("CARGO_BIN_EXE_nam-tools"))
        .arg("import")
        .arg(case(name, "ckpt"))
        .arg("--config")
        .arg(case(name, "json"))
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run nam-tools");
    assert!(
        result.status.success(),
        "import {name}: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    NamFile::load(&out).unwrap_or_else(|e| panic!("{name}: the import does not load: {e}"))
}

fn weights(file: &NamFile) -> &[f32] {
    use nam_kernel::format::ModelSpec;
    match &file.spec {
        ModelSpec::WaveNet { weights, .. }
        | ModelSpec::Lstm { weights, .. }
        | ModelSpec::ConvNet { weights, .. }
        | ModelSpec::Linear { weights, .. } => weights,
        other => panic!("unexpected architecture {}", other.architecture()),
    }
}

/// The output of a model for a fixed signal (a chirp with a decaying level).
fn play(file: &NamFile) -> Vec<f32> {
    let mut model = Model::build(file, BuildOptions::default()).expect("build");
    let input: Vec<f32> = (0..4096)
        .map(|i| {
            let t = i as f32 / 48_000.0;
            0.8 * (-t * 20.0).exp() * (2.0 * std::f32::consts::PI * (100.0 + 4000.0 * t) * t).sin()
        })
        .collect();
    let mut output = vec![0.0; input.len()];
    model.process(&input, &mut output);
    output
}

/// Indices of an LSTM's initial hidden and cell states in its weights.
fn lstm_state_indices(file: &NamFile) -> Vec<usize> {
    let nam_kernel::format::ModelSpec::Lstm { config, .. } = &file.spec else {
        return Vec::new();
    };
    let (h, mut at) = (config.hidden_size, 0);
    let mut indices = Vec::new();
    for layer in 0..config.num_layers {
        let input = if layer == 0 { config.input_size } else { h };
        at += 4 * h * (input + h) + 4 * h;
        indices.extend(at..at + 2 * h);
        at += 2 * h;
    }
    indices
}

fn compare(name: &str) {
    let imported = import_with_cli(name);
    let trainer = NamFile::load(case(name, "nam")).expect("the trainer's .nam loads");
    assert_eq!(imported.architecture(), trainer.architecture(), "{name}");
    assert_eq!(
        imported.to_json_value()["config"],
        trainer.to_json_value()["config"],
        "{name}: config"
    );
    assert_eq!(
        imported.declared_sample_rate_hz, trainer.declared_sample_rate_hz,
        "{name}"
    );
    let (a, b) = (weights(&imported), weights(&trainer));
    assert_eq!(a.len(), b.len(), "{name}: weight count");
    let state = lstm_state_indices(&trainer);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if state.contains(&i) {
            // PyTorch's float32 LSTM settles within a few float32 steps of the
            // state the import computes in float64.
            assert!(
                (x - y).abs() <= 5e-6,
                "{name}: initial state weight {i}: {x} vs {y}"
            );
        } else {
            assert_eq!(x.to_bits(), y.to_bits(), "{name}: weight {i}: {x} vs {y}");
        }
    }
    let (ya, yb) = (play(&imported), play(&trainer));
    let worst = ya
        .iter()
        .zip(&yb)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max);
    let tolerance = if state.is_empty() { 0.0 } else { 1e-5 };
    assert!(worst <= tolerance, "{name}: outputs differ by {worst}");
    assert!(ya.iter().any(|&y| y != 0.0), "{name}: silent output");
    // The trainer's metadata, computed by nam-kernel instead of PyTorch.
    let (la, lb) = (
        imported.metadata.loudness.unwrap(),
        trainer.metadata.loudness.unwrap(),
    );
    assert!((la - lb).abs() < 0.01, "{name}: loudness {la} vs {lb}");
    let gain = |f: &NamFile| f.metadata.other["gain"].as_f64().unwrap();
    assert!(
        (gain(&imported) - gain(&trainer)).abs() < 1e-3,
        "{name}: gain"
    );
    assert!(imported.metadata.other.contains_key("date"), "{name}: date");
}

#[test]
fn linear_matches_the_trainer() {
    compare("linear");
}

#[test]
fn convnet_with_batchnorm_matches_the_trainer() {
    compare("convnet");
}

#[test]
fn two_layer_lstm_matches_the_trainer() {
    compare("lstm");
}

#[test]
fn wavenet_matches_the_trainer() {
    compare("wavenet");
}

#[test]
fn wavenet_with_a2_options_matches_the_trainer() {
    compare("wavenet_a2");
}

fn import_error(checkpoint: &Path, config: Option<&Path>) -> String {
    match ckpt::import(checkpoint, config) {
        Ok(_) => panic!("{} imported", checkpoint.display()),
        Err(e) => e.to_string(),
    }
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A zip like `torch.save`'s holding `pickle` as `archive/data.pkl`.
fn archive_with_pickle(name: &str, pickle: &[u8]) -> PathBuf {
    let path = scratch(name);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("archive/data.pkl", stored).unwrap();
    zip.write_all(pickle).unwrap();
    zip.finish().unwrap();
    path
}

#[test]
fn malformed_checkpoints_are_refused_with_the_reason() {
    let config = case("linear", "json");
    let bytes = std::fs::read(case("linear", "ckpt")).unwrap();

    let truncated = write("truncated.ckpt", &bytes[..bytes.len() / 2]);
    let e = import_error(&truncated, Some(&config));
    assert!(
        e.contains("truncated.ckpt") && e.contains("not a PyTorch checkpoint"),
        "{e}"
    );

    let text = write("text.ckpt", b"{\"not\": \"a checkpoint\"}");
    let e = import_error(&text, Some(&config));
    assert!(e.contains("text.ckpt") && e.contains("zip"), "{e}");

    let evil = archive_with_pickle("global.ckpt", b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00lsR.");
    let e = import_error(&evil, Some(&config));
    assert!(
        e.contains("global.ckpt") && e.contains("`os.system`"),
        "{e}"
    );

    let no_state = archive_with_pickle("nostate.ckpt", b"\x80\x02}q\x00.");
    let e = import_error(&no_state, Some(&config));
    assert!(e.contains("no state_dict"), "{e}");

    let cut_pickle = archive_with_pickle("cut.ckpt", b"\x80\x02}q\x00(X\x05\x00\x00\x00sta");
    let e = import_error(&cut_pickle, Some(&config));
    assert!(
        e.contains("cut.ckpt") && e.contains("runs past the end"),
        "{e}"
    );
}

#[test]
fn configs_that_do_not_match_the_checkpoint_name_the_tensor() {
    // The A2 WaveNet's config on the standard WaveNet's checkpoint.
    let e = import_error(&case("wavenet", "ckpt"), Some(&case("wavenet_a2", "json")));
    assert!(
        e.contains("tensor '_net._net._layer_arrays.0._layers.0._conv.weight' has shape"),
        "{e}"
    );

    // Without the bias the checkpoint holds: an extra tensor.
    let config = write(
        "nobias.json",
        br#"{"name": "Linear", "config": {"receptive_field": 16, "bias": false}}"#,
    );
    let e = import_error(&case("linear", "ckpt"), Some(&config));
    assert!(
        e.contains("tensor '_net._net.bias' is in the checkpoint but not in the model"),
        "{e}"
    );

    // An LSTM config on a WaveNet checkpoint: a missing tensor.
    let e = import_error(&case("wavenet", "ckpt"), Some(&case("lstm", "json")));
    assert!(
        e.contains("tensor '_net._core.weight_ih_l0' missing"),
        "{e}"
    );

    let unknown = write(
        "unknown.json",
        br#"{"net": {"name": "Transformer", "config": {}}}"#,
    );
    let e = import_error(&case("linear", "ckpt"), Some(&unknown));
    assert!(
        e.contains("unknown.json") && e.contains("'Transformer'"),
        "{e}"
    );
}

#[test]
fn without_a_config_the_cli_asks_for_one() {
    let out = Command::new(env!("CARGO_BIN_EXE_nam-tools"))
        .arg("import")
        .arg(case("lstm", "ckpt"))
        .arg("-o")
        .arg(scratch("never.nam"))
        .output()
        .expect("run nam-tools");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("lstm.ckpt") && stderr.contains("--config"),
        "{stderr}"
    );
    assert!(!scratch("never.nam").exists());
}

#[test]
fn hyper_parameters_stand_in_for_the_config() {
    // The linear checkpoint with its training config saved as Lightning's
    // hyper_parameters (by a module calling save_hyperparameters).
    let imported = ckpt::import(&case("linear_hparams", "ckpt"), None).expect("import");
    let trainer = NamFile::load(case("linear", "nam")).unwrap();
    assert_eq!(
        imported.to_json_value()["config"],
        trainer.to_json_value()["config"]
    );
    let bits = |f: &NamFile| weights(f).iter().map(|w| w.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&imported), bits(&trainer));
}
