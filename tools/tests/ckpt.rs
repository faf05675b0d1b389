//! `nam-tools import` against the NAM trainer itself: each checkpoint of
//! `tests/ckpt/` (made by `scripts/make-ckpt-references.sh` with
//! neural-amp-modeler 0.13: a short Lightning fit, the best checkpoint, and
//! the `.nam` the trainer exports from it) is imported by the real binary and
//! compared with the trainer's `.nam`: same architecture, config and sample
//! rate, the same weights bit for bit (the LSTM's initial state, which the
//! trainer computes by running its float32 LSTM over 48000 samples, within
//! float32 rounding), and the same output in nam-kernel. Every case in the
//! folder is checked, a PackedWaveNet's container submodel by submodel (from
//! its own checkpoint where the case has `<name>.submodel_<i>.ckpt`).
//! Malformed checkpoints and mismatched configs fail with errors naming the
//! problem.

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

/// Every case of the folder: a `<name>.nam` the trainer exported, beside its
/// `<name>.ckpt` and `<name>.json`.
fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("tests/ckpt exists")
        .filter_map(|entry| {
            let path = entry.expect("readable folder").path();
            (path.extension()? == "nam").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

/// A packed case's per-submodel checkpoints (`<name>.submodel_<i>.ckpt`), in
/// order; none for the others.
fn submodel_checkpoints(name: &str) -> Vec<PathBuf> {
    (0..)
        .map(|i| dir().join(format!("{name}.submodel_{i}.ckpt")))
        .take_while(|path| path.is_file())
        .collect()
}

/// Runs `nam-tools import` and loads what it wrote.
fn import_with_cli(name: &str) -> NamFile {
    let out = scratch(&format!("{name}.nam"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_nam-tools"));
    command
        .arg("import")
        .arg(case(name, "ckpt"))
        .arg("--config")
        .arg(case(name, "json"))
        .arg("-o")
        .arg(&out);
    for submodel in submodel_checkpoints(name) {
        command.arg("--submodel-checkpoint").arg(submodel);
    }
    let result = command.output().expect("run nam-tools");
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

/// A document without its `date` fields (a condition DSP's nested document
/// carries the time it was written).
fn without_dates(mut value: serde_json::Value) -> serde_json::Value {
    match &mut value {
        serde_json::Value::Object(map) => {
            map.remove("date");
            for v in map.values_mut() {
                *v = without_dates(v.take());
            }
        }
        serde_json::Value::Array(items) => {
            for v in items.iter_mut() {
                *v = without_dates(v.take());
            }
        }
        _ => {}
    }
    value
}

/// The import against the trainer's export: the same document (a
/// container's submodels each compared the same way), the same weights bit
/// for bit, the same output in nam-kernel, and the trainer's metadata.
fn compare_models(name: &str, imported: &NamFile, trainer: &NamFile) -> Result<(), String> {
    use nam_kernel::format::ModelSpec;
    let check = |ok: bool, what: String| {
        if ok {
            Ok(())
        } else {
            Err(format!("{name}: {what}"))
        }
    };
    check(
        imported.architecture() == trainer.architecture(),
        format!("{} vs {}", imported.architecture(), trainer.architecture()),
    )?;
    check(
        imported.declared_sample_rate_hz == trainer.declared_sample_rate_hz,
        "sample rate".into(),
    )?;
    if let (
        ModelSpec::SlimmableContainer { submodels: ours },
        ModelSpec::SlimmableContainer { submodels: theirs },
    ) = (&imported.spec, &trainer.spec)
    {
        check(ours.len() == theirs.len(), "submodel count".into())?;
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            check(
                a.max_value == b.max_value,
                format!("submodel {i} max_value"),
            )?;
            compare_models(&format!("{name} submodel {i}"), &a.model, &b.model)?;
        }
    } else {
        let config = |f: &NamFile| without_dates(f.to_json_value()["config"].clone());
        check(config(imported) == config(trainer), "config".into())?;
        let (a, b) = (weights(imported), weights(trainer));
        check(a.len() == b.len(), "weight count".into())?;
        let state = lstm_state_indices(trainer);
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            // PyTorch's float32 LSTM settles within a few float32 steps of
            // the state the import computes in float64.
            let same = if state.contains(&i) {
                (x - y).abs() <= 5e-6
            } else {
                x.to_bits() == y.to_bits()
            };
            check(same, format!("weight {i}: {x} vs {y}"))?;
        }
    }
    let (ya, yb) = (play(imported), play(trainer));
    let worst = ya
        .iter()
        .zip(&yb)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f32::max);
    let tolerance = if lstm_state_indices(trainer).is_empty() {
        0.0
    } else {
        1e-5
    };
    check(worst <= tolerance, format!("outputs differ by {worst}"))?;
    check(ya.iter().any(|&y| y != 0.0), "silent output".into())?;
    // The trainer's metadata, computed by nam-kernel instead of PyTorch.
    let loudness = |f: &NamFile| f.metadata.loudness.unwrap_or(f64::NAN);
    let (la, lb) = (loudness(imported), loudness(trainer));
    check((la - lb).abs() < 0.01, format!("loudness {la} vs {lb}"))?;
    let gain = |f: &NamFile| f.metadata.other.get("gain").and_then(|g| g.as_f64());
    let (ga, gb) = (gain(imported), gain(trainer));
    check(
        matches!((ga, gb), (Some(a), Some(b)) if (a - b).abs() < 1e-3),
        format!("gain {ga:?} vs {gb:?}"),
    )?;
    check(imported.metadata.other.contains_key("date"), "date".into())
}

#[test]
fn every_checkpoint_imports_as_the_trainer_exports_it() {
    let names = cases();
    // linear, convnet, lstm, four WaveNets (standard, A2 options, PReLU,
    // condition DSP), two slimmable and three packed ones (the trainer's
    // shipped default config among them).
    assert!(
        names.len() >= 12,
        "only {} cases in tests/ckpt",
        names.len()
    );
    let failures: Vec<String> = names
        .iter()
        .filter_map(|name| {
            let trainer = NamFile::load(case(name, "nam")).expect("the trainer's .nam loads");
            compare_models(name, &import_with_cli(name), &trainer).err()
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_packed_submodel_comes_from_its_own_checkpoint() {
    // Without its per-submodel checkpoints, the packed case's first
    // submodels (from earlier epochs) differ from the trainer's export.
    let name = "packed_two_arrays";
    assert_eq!(submodel_checkpoints(name).len(), 3);
    let from_one = ckpt::import(&case(name, "ckpt"), &[], Some(&case(name, "json"))).unwrap();
    let trainer = NamFile::load(case(name, "nam")).unwrap();
    let e = compare_models(name, &from_one, &trainer).expect_err("the same as the trainer's");
    assert!(e.contains("submodel 0: weight"), "{e}");

    // One checkpoint too few is refused with the counts.
    let two = &submodel_checkpoints(name)[..2];
    let e = import_error_with(&case(name, "ckpt"), two, Some(&case(name, "json")));
    assert!(e.contains("3 submodels, but 2 submodel checkpoints"), "{e}");
    // Submodel checkpoints for a model without submodels.
    let e = import_error_with(
        &case("wavenet", "ckpt"),
        two,
        Some(&case("wavenet", "json")),
    );
    assert!(
        e.contains("submodel checkpoints are for a PackedWaveNet"),
        "{e}"
    );
}

fn import_error(checkpoint: &Path, config: Option<&Path>) -> String {
    import_error_with(checkpoint, &[], config)
}

fn import_error_with(checkpoint: &Path, submodels: &[PathBuf], config: Option<&Path>) -> String {
    match ckpt::import(checkpoint, submodels, config) {
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
    let imported = ckpt::import(&case("linear_hparams", "ckpt"), &[], None).expect("import");
    let trainer = NamFile::load(case("linear", "nam")).unwrap();
    assert_eq!(
        imported.to_json_value()["config"],
        trainer.to_json_value()["config"]
    );
    let bits = |f: &NamFile| weights(f).iter().map(|w| w.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&imported), bits(&trainer));
}
