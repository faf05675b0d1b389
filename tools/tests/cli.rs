//! Runs the real `nam-tools` binary: `info` (text and `--json`) and `bench
//! --json` on the reference fixtures and the bundled demo model, and the
//! one-line errors for missing and malformed files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nam_kernel::kernels::Kernels;
use nam_kernel::{Model, NamFile};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `*.nam` fixture; fails loudly when there are none.
fn fixtures() -> Vec<PathBuf> {
    let dir = repo().join("../shared/fixtures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixtures not found at {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "nam"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .nam fixtures in {}", dir.display());
    files
}

fn fixture(name: &str) -> PathBuf {
    repo().join(format!("../shared/fixtures/{name}.nam"))
}

fn demo_model() -> PathBuf {
    repo().join("examples/demo/drive.nam")
}

fn nam_tools(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nam-tools"))
        .args(args)
        .output()
        .expect("run nam-tools")
}

fn stdout_ok(args: &[&str]) -> String {
    let out = nam_tools(args);
    assert!(
        out.status.success(),
        "nam-tools {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

fn json_ok(args: &[&str]) -> Value {
    let text = stdout_ok(args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}):\n{text}"))
}

/// Runs a command that must fail; returns its one-line error.
fn error_line(args: &[&str]) -> String {
    let out = nam_tools(args);
    assert!(!out.status.success(), "nam-tools {args:?} succeeded");
    assert_eq!(out.status.code(), Some(1), "{args:?}: exit code");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}: wrote to stdout");
    stderr
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("nam-tools-cli-{}-{name}", std::process::id()))
}

#[test]
fn info_json_matches_the_model_for_every_fixture_and_the_demo() {
    let mut models = fixtures();
    models.push(demo_model());
    for path in &models {
        let info = json_ok(&["info", s(path), "--json"]);
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let model = Model::load(path).unwrap();
        assert_eq!(info["file"], s(path));
        assert_eq!(
            info["architecture"],
            raw["architecture"],
            "{}",
            path.display()
        );
        assert_eq!(
            info["receptive_field"].as_u64(),
            Some(model.receptive_field() as u64),
            "{}",
            path.display()
        );
        assert_eq!(
            info["sample_rate_hz"].as_f64(),
            Some(model.sample_rate_hz())
        );
        assert!(info["multiply_adds_per_sample"].as_u64().unwrap() > 0);
        if raw["architecture"] == "WaveNet" && raw["config"].get("condition_dsp").is_none() {
            assert_eq!(
                info["parameters"].as_u64(),
                Some(raw["weights"].as_array().unwrap().len() as u64),
                "{}",
                path.display()
            );
            let arrays = info["config"]["layer_arrays"].as_array().unwrap();
            assert_eq!(
                arrays.len(),
                raw["config"]["layers"].as_array().unwrap().len()
            );
            for (array, raw_array) in arrays
                .iter()
                .zip(raw["config"]["layers"].as_array().unwrap())
            {
                assert_eq!(array["dilations"], raw_array["dilations"]);
                assert_eq!(array["channels"], raw_array["channels"]);
            }
        }
        for key in [
            "version",
            "sample_rate_declared",
            "config",
            "metadata",
            "submodels",
            "sizes",
        ] {
            assert!(info.get(key).is_some(), "{}: no `{key}`", path.display());
        }
    }
}

#[test]
fn info_text_reports_the_standard_preset() {
    let text = stdout_ok(&["info", s(&fixture("wavenet_standard"))]);
    for expected in [
        "architecture:     WaveNet (file version 0.7.0)",
        "sample rate:      48000 Hz",
        "parameters:       13802",
        "receptive field:  4093 samples",
        "multiply-adds:    13320 per sample",
        "layer array 0:    1 -> 16 channels, 10 layers",
        "dilations 1,2,4,8,16,32,64,128,256,512",
        "activation Tanh",
        "head 8 channel(s), kernel 1, dilation 1, bias no",
        "layer array 1:    16 -> 8 channels, 10 layers",
        "head scale:       0.02",
        "loudness: -14.28",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
}

#[test]
fn info_lists_lstm_and_container_details() {
    let lstm = json_ok(&["info", s(&fixture("lstm_2x8")), "--json"]);
    assert_eq!(lstm["config"]["num_layers"], 2);
    assert_eq!(lstm["config"]["hidden_size"], 8);
    assert_eq!(lstm["parameters"], 905);
    assert_eq!(lstm["multiply_adds_per_sample"], 4 * 8 * 9 + 4 * 8 * 16 + 8);
    let text = stdout_ok(&["info", s(&fixture("lstm_2x8"))]);
    assert!(text.contains("2 layer(s), hidden size 8"), "{text}");

    let container = json_ok(&["info", s(&fixture("slimmable_container")), "--json"]);
    let submodels = container["submodels"].as_array().unwrap();
    assert_eq!(submodels.len(), 2);
    assert_eq!(submodels[0]["max_value"], 0.5);
    assert_eq!(submodels[1]["model"]["architecture"], "WaveNet");
    let total: u64 = submodels
        .iter()
        .map(|s| s["model"]["parameters"].as_u64().unwrap())
        .sum();
    assert_eq!(container["parameters"].as_u64(), Some(total));
    assert_eq!(
        container["multiply_adds_per_sample"],
        submodels[1]["model"]["multiply_adds_per_sample"]
    );
    let text = stdout_ok(&["info", s(&fixture("slimmable_container"))]);
    assert!(
        text.contains("submodel 1 (max_value 1, plays by default):"),
        "{text}"
    );
}

#[test]
fn info_lists_every_size_of_a_slimmable_model() {
    // wavenet_slimmable: 6 layers, kernel 3, allowed_channels [2, 4, 8]. At c
    // channels: rechannel c + 6 · (conv 3c² + mixer c + 1x1 c²) + head c.
    let macs = |c: u64| 2 * c + 6 * (4 * c * c + c);
    let info = json_ok(&["info", s(&fixture("wavenet_slimmable")), "--json"]);
    let sizes = info["sizes"].as_array().expect("sizes");
    let summary: Vec<(u64, u64, u64, bool)> = sizes
        .iter()
        .map(|s| {
            (
                s["channels"][0].as_u64().unwrap(),
                s["multiply_adds_per_sample"].as_u64().unwrap(),
                s["receptive_field"].as_u64().unwrap(),
                s["default"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (2, macs(2), 127, false),
            (4, macs(4), 127, false),
            (8, macs(8), 127, true)
        ]
    );
    assert_eq!(sizes[1]["min_value"].as_f64(), Some(1.0 / 3.0));
    assert_eq!(sizes[1]["max_value"].as_f64(), Some(2.0 / 3.0));
    assert_eq!(info["multiply_adds_per_sample"].as_u64(), Some(macs(8)));
    let text = stdout_ok(&["info", s(&fixture("wavenet_slimmable"))]);
    for line in [
        "sizes:            3",
        "size 0: values 0.000..0.333, channels 2, 112 multiply-adds per sample, receptive field 127",
        "size 2: values 0.667..1.000, channels 8, 1600 multiply-adds per sample, receptive field 127, default",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }

    // The default of a slimmable WaveNet whose last allowed entry is below
    // `channels` is that entry: its cost is that size's.
    let bottleneck = repo().join("nam-kernel/tests/slimmable/slim_bottleneck.nam");
    let info = json_ok(&["info", s(&bottleneck), "--json"]);
    let sizes = info["sizes"].as_array().expect("sizes");
    assert_eq!(sizes.len(), 2);
    assert_eq!(sizes[1]["channels"][0], 4);
    assert_eq!(info["config"]["layer_arrays"][0]["channels"], 6);
    assert_eq!(
        info["multiply_adds_per_sample"],
        sizes[1]["multiply_adds_per_sample"]
    );

    let container = json_ok(&["info", s(&fixture("slimmable_container")), "--json"]);
    let sizes = container["sizes"].as_array().expect("sizes");
    let submodels = container["submodels"].as_array().unwrap();
    assert_eq!(sizes.len(), submodels.len());
    for (size, sub) in sizes.iter().zip(submodels) {
        assert_eq!(size["max_value"], sub["max_value"]);
        assert_eq!(
            size["multiply_adds_per_sample"],
            sub["model"]["multiply_adds_per_sample"]
        );
    }
    let plain = json_ok(&["info", s(&fixture("wavenet_nano")), "--json"]);
    assert_eq!(plain["sizes"].as_array().map(Vec::len), Some(0));
}

#[test]
fn info_shows_every_metadata_field_including_validation_esr() {
    let mut file = NamFile::load(fixture("wavenet_nano")).unwrap();
    file.metadata.name = Some("Plexi crunch".into());
    file.metadata.modeled_by = Some("Tester".into());
    file.metadata.gear_make = Some("Marshall".into());
    file.metadata.gear_model = Some("1959".into());
    file.metadata.gear_type = Some("amp".into());
    file.metadata.tone_type = Some("crunch".into());
    file.metadata.input_level_dbu = Some(12.0);
    file.metadata.output_level_dbu = Some(18.5);
    file.metadata.training = Some(serde_json::json!({"validation_esr": 0.0123}));
    let path = temp_path("metadata.nam");
    file.save(&path).unwrap();

    let info = json_ok(&["info", s(&path), "--json"]);
    let m = &info["metadata"];
    assert_eq!(m["name"], "Plexi crunch");
    assert_eq!(m["modeled_by"], "Tester");
    assert_eq!(m["gear_make"], "Marshall");
    assert_eq!(m["gear_model"], "1959");
    assert_eq!(m["gear_type"], "amp");
    assert_eq!(m["tone_type"], "crunch");
    assert_eq!(m["input_level_dbu"], 12.0);
    assert_eq!(m["output_level_dbu"], 18.5);
    assert_eq!(m["validation_esr"], 0.0123);
    assert!(m["loudness_db"].is_number());
    assert_eq!(m["date"]["year"], 2025);

    let text = stdout_ok(&["info", s(&path)]);
    for expected in [
        "name: Plexi crunch",
        "modeled by: Tester",
        "gear make: Marshall",
        "gear model: 1959",
        "input level: 12 dBu",
        "output level: 18.5 dBu",
        "validation ESR: 0.0123",
        "date: 2025-01-01 00:00:00",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn info_escapes_control_characters_and_prints_numbers_as_found() {
    let mut file = NamFile::load(fixture("wavenet_nano")).unwrap();
    file.metadata.name = Some("Red\u{1b}[31m amp\u{7}\r\nfake: line\u{202e}".into());
    file.metadata.loudness = Some(1e300);
    file.metadata
        .other
        .insert("note\u{1b}]0;title\u{7}".into(), serde_json::json!("x"));
    let path = temp_path("escapes.nam");
    file.save(&path).unwrap();
    let text = stdout_ok(&["info", s(&path)]);
    assert!(
        !text.contains(['\u{1b}', '\u{7}', '\r', '\u{202e}']),
        "raw control characters in:\n{text:?}"
    );
    assert!(
        text.contains(r"name: Red\u{1b}[31m amp\u{7}\r\nfake: line\u{202e}"),
        "{text}"
    );
    assert!(text.contains(r"note\u{1b}]0;title\u{7}: x"), "{text}");
    assert!(text.contains("loudness: 1e300 dB"), "{text}");
    std::fs::remove_file(&path).unwrap();

    // A dimension beyond every integer type is quoted as found.
    let text = std::fs::read_to_string(fixture("linear")).unwrap();
    let mut doc: Value = serde_json::from_str(&text).unwrap();
    doc["config"]["receptive_field"] = serde_json::json!(1e300);
    let path = temp_path("huge.nam");
    std::fs::write(&path, doc.to_string()).unwrap();
    let error = error_line(&["info", s(&path)]);
    assert!(error.contains("= 1e300 is too large"), "{error}");
    std::fs::remove_file(&path).unwrap();
}

fn check_timing(what: &str, t: &Value) {
    for key in ["ns_per_sample", "ns_per_sample_min", "real_time_factor"] {
        let x = t[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{what}: `{key}` missing in {t}"));
        assert!(x.is_finite() && x > 0.0, "{what}: {key} = {x}");
    }
    assert!(t["rounds"].as_u64().unwrap() >= 1, "{what}");
}

#[test]
fn bench_json_gives_positive_finite_numbers_for_each_kernel_table() {
    let ir = repo().join("examples/demo/cab.wav");
    for (model, extra) in [
        (fixture("wavenet_nano"), vec![]),
        (fixture("lstm_1x16"), vec![]),
        (demo_model(), vec!["--ir", s(&ir)]),
    ] {
        let mut args = vec![
            "bench",
            s(&model),
            "--json",
            "--seconds",
            "0.02",
            "--block",
            "32",
        ];
        args.extend(extra.iter().copied());
        let report = json_ok(&args);
        assert_eq!(report["block_frames"], 32);
        let tables: Vec<&str> = report["model"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                check_timing(s(&model), r);
                r["kernels"].as_str().unwrap()
            })
            .collect();
        let available: Vec<&str> = Kernels::available().iter().map(|k| k.name).collect();
        assert_eq!(tables, available);
        check_timing("chain", &report["chain"]);
        let nodes = report["chain"]["nodes"].as_array().unwrap().len();
        assert_eq!(nodes, 1 + usize::from(!extra.is_empty()), "{report}");
    }
}

#[test]
fn bench_runs_a_user_chain_and_prints_text() {
    let chain = repo().join("examples/demo/chain.toml");
    let report = json_ok(&[
        "bench",
        s(&demo_model()),
        "--chain",
        s(&chain),
        "--json",
        "--seconds",
        "0.02",
    ]);
    assert_eq!(report["chain"]["source"], s(&chain));
    assert_eq!(
        report["chain"]["nodes"],
        serde_json::json!(["gate", "amp", "eq", "cab"])
    );
    check_timing("chain", &report["chain"]);

    let text = stdout_ok(&["bench", s(&demo_model()), "--seconds", "0.02"]);
    assert!(text.contains("model, scalar"), "{text}");
    assert!(text.contains("x real time"), "{text}");
    assert!(text.contains("chain: default: the model (amp)"), "{text}");
}

#[test]
fn errors_are_one_line_naming_the_file() {
    let missing = temp_path("missing.nam");
    let line = error_line(&["info", s(&missing)]);
    assert!(line.contains(s(&missing)), "{line}");
    let line = error_line(&["bench", s(&missing), "--seconds", "0.01"]);
    assert!(line.contains(s(&missing)), "{line}");

    let malformed = temp_path("malformed.nam");
    std::fs::write(&malformed, "{\"version\": \"0.5.4\", \"architecture\": ").unwrap();
    let line = error_line(&["info", s(&malformed), "--json"]);
    assert!(
        line.contains(s(&malformed)) && line.contains("invalid JSON"),
        "{line}"
    );

    let wrong_count = temp_path("wrong-count.nam");
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("wavenet_nano")).unwrap()).unwrap();
    doc["weights"].as_array_mut().unwrap().pop();
    std::fs::write(&wrong_count, doc.to_string()).unwrap();
    let line = error_line(&["bench", s(&wrong_count), "--seconds", "0.01"]);
    assert!(
        line.contains(s(&wrong_count)) && line.contains("weights"),
        "{line}"
    );

    let bad_chain = temp_path("chain.toml");
    std::fs::write(&bad_chain, "[[node]]\nkind = \"flanger\"\n").unwrap();
    let line = error_line(&[
        "bench",
        s(&demo_model()),
        "--chain",
        s(&bad_chain),
        "--seconds",
        "0.01",
    ]);
    assert!(
        line.contains(s(&bad_chain)) && line.contains("flanger"),
        "{line}"
    );

    let missing_ir = temp_path("missing-cab.wav");
    let line = error_line(&[
        "bench",
        s(&demo_model()),
        "--ir",
        s(&missing_ir),
        "--seconds",
        "0.01",
    ]);
    assert!(line.contains(s(&missing_ir)), "{line}");

    for path in [malformed, wrong_count, bad_chain] {
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn a_reader_that_stops_early_is_not_a_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nam-tools"))
        .args(["info", s(&fixture("wavenet_a2")), "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run nam-tools");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn aidax_model(name: &str) -> PathBuf {
    repo().join(format!("nam-kernel/tests/rtneural/{name}"))
}

#[test]
fn info_describes_an_aida_x_model() {
    let model = aidax_model("gen_lstm20_dense_tanh.json");
    let text = stdout_ok(&["info", s(&model)]);
    for expected in [
        "architecture:     RTNeural (RTNeural / AIDA-X (.json, .aidax) file)",
        "layers:           lstm 20, dense 8 Tanh, dense 1",
        "input skip:       no",
        "multiply-adds:    1848 per sample",
    ] {
        assert!(text.contains(expected), "`{expected}` missing:\n{text}");
    }
    let real = aidax_model("tw40_california_clean_deerinkstudios.json");
    let report = json_ok(&["info", s(&real), "--json"]);
    assert_eq!(report["architecture"], "RTNeural");
    assert_eq!(report["version"], "none");
    assert_eq!(report["sample_rate_hz"], 48_000.0);
    assert_eq!(report["sample_rate_declared"], true);
    // LSTM 12: 4·12·(1 + 12 + 1) weights, then a dense 12 -> 1 with its bias.
    assert_eq!(report["parameters"], 4 * 12 * 14 + 13);
}

#[test]
fn bench_runs_an_aida_x_model_on_every_kernel_table() {
    let model = aidax_model("gen_gru16x2.json");
    let report = json_ok(&[
        "bench",
        s(&model),
        "--json",
        "--seconds",
        "0.02",
        "--block",
        "32",
    ]);
    let tables: Vec<&str> = report["model"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            check_timing(s(&model), r);
            r["kernels"].as_str().unwrap()
        })
        .collect();
    let available: Vec<&str> = Kernels::available().iter().map(|k| k.name).collect();
    assert_eq!(tables, available);
}

/// Output of `model` after 8192 zeros, for 8192 samples of a tone with noise.
fn settled_output(model: &Path) -> Vec<f32> {
    let mut model = Model::load(model).unwrap_or_else(|e| panic!("{e}"));
    let mut input = vec![0.0_f32; 8192];
    input
        .extend((0..8192).map(|i| 0.3 * (i as f32 * 0.0144).sin() + 0.02 * (i as f32 * 1.7).sin()));
    let mut output = vec![0.0; input.len()];
    model.process(&input, &mut output);
    output.split_off(8192)
}

#[test]
fn convert_turns_an_aida_x_lstm_into_a_nam_lstm_and_back() {
    let dir = std::env::temp_dir().join(format!("nam-tools-convert-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The real capture, and the same with AIDA-X gains (folded into the weights).
    let real = aidax_model("tw40_california_clean_deerinkstudios.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&real).unwrap()).unwrap();
    doc["in_gain"] = 6.0.into();
    doc["out_gain"] = (-3.0).into();
    let gained = dir.join("gained.aidax");
    std::fs::write(&gained, doc.to_string()).unwrap();
    for source in [real.clone(), gained] {
        let nam = dir.join("converted.nam");
        let report = stdout_ok(&["convert", s(&source), s(&nam)]);
        assert!(report.contains("-> "), "{report}");
        let info = json_ok(&["info", s(&nam), "--json"]);
        assert_eq!(info["architecture"], "LSTM");
        let (want, got) = (settled_output(&source), settled_output(&nam));
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-5, "{}: {g} vs {w}", source.display());
        }
        assert!(want.iter().any(|x| x.abs() > 1e-2));
    }
    // And back: the same layers and weights as the original file.
    let nam = dir.join("converted.nam");
    stdout_ok(&["convert", s(&real), s(&nam)]);
    let back = dir.join("back.json");
    stdout_ok(&["convert", s(&nam), s(&back)]);
    let (a, b) = (NamFile::load(&real).unwrap(), NamFile::load(&back).unwrap());
    match (&a.spec, &b.spec) {
        (
            nam_kernel::format::ModelSpec::RtNeural { config, weights },
            nam_kernel::format::ModelSpec::RtNeural {
                config: config_back,
                weights: weights_back,
            },
        ) => {
            assert_eq!(config, config_back);
            assert_eq!(weights, weights_back);
        }
        other => panic!("not RTNeural specs: {other:?}"),
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn convert_refuses_what_the_target_cannot_express_with_the_reason() {
    let dir = std::env::temp_dir().join(format!("nam-tools-refuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = |name: &str| dir.join(name).display().to_string();
    let gru = aidax_model("gen_gru8.json");
    let cases = [
        (s(&gru).to_owned(), out("gru.nam"), "layer 0 is gru 8"),
        (
            s(&aidax_model("gen_lstm20_dense_tanh.json")).to_owned(),
            out("dense.nam"),
            "layer 1 is dense 8",
        ),
        (
            s(&fixture("wavenet_nano")).to_owned(),
            out("nano.aidax"),
            "a WaveNet model has no RTNeural / AIDA-X",
        ),
        (
            s(&gru).to_owned(),
            out("gru.wav"),
            "name the output .nam, .json or .aidax",
        ),
    ];
    for (input, output, reason) in cases {
        let error = error_line(&["convert", &input, &output]);
        assert!(error.contains(reason), "`{error}` lacks `{reason}`");
        assert!(!Path::new(&output).exists(), "{output} was written");
    }
    std::fs::remove_dir_all(&dir).ok();
}

fn guitarml_model(name: &str) -> PathBuf {
    repo().join(format!("nam-kernel/tests/guitarml/{name}"))
}

#[test]
fn info_bench_and_convert_take_a_guitarml_wavenet() {
    let model = guitarml_model("smartguitaramp_bluej_clean_p0088.json");
    let text = stdout_ok(&["info", s(&model)]);
    let expected = "architecture:     WaveNet (GuitarML WaveNet (.json) file)";
    assert!(text.contains(expected), "`{expected}` missing:\n{text}");
    let report = json_ok(&["info", s(&model), "--json"]);
    assert_eq!(report["format"], "GuitarML WaveNet (.json)");
    assert_eq!(report["version"], "none");
    assert_eq!(report["sample_rate_hz"], 44_100.0);
    assert_eq!(report["sample_rate_declared"], false);
    assert_eq!(report["receptive_field"], 2047);

    let bench = json_ok(&[
        "bench",
        s(&model),
        "--json",
        "--seconds",
        "0.02",
        "--block",
        "32",
    ]);
    let tables: Vec<&str> = bench["model"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            check_timing(s(&model), r);
            r["kernels"].as_str().unwrap()
        })
        .collect();
    let available: Vec<&str> = Kernels::available().iter().map(|k| k.name).collect();
    assert_eq!(tables, available);

    let dir = std::env::temp_dir().join(format!("nam-tools-guitarml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let nam = dir.join("amp.nam");
    let report = stdout_ok(&["convert", s(&model), s(&nam)]);
    assert!(
        report.contains("(GuitarML WaveNet (.json)) -> "),
        "{report}"
    );
    let info = json_ok(&["info", s(&nam), "--json"]);
    assert_eq!(info["architecture"], "WaveNet");
    assert_eq!(info["format"], "NAM (.nam)");
    assert_eq!(info["sample_rate_hz"], 44_100.0);
    assert_eq!(info["sample_rate_declared"], true);
    let want = settled_output(&model);
    assert_eq!(settled_output(&nam), want);
    assert!(want.iter().any(|x| x.abs() > 1e-2));
    // RTNeural / AIDA-X has no WaveNet: refused with the reason, nothing written.
    let json = dir.join("amp-aidax.json");
    let error = error_line(&["convert", s(&model), s(&json)]);
    assert!(
        error.contains("a WaveNet model has no RTNeural / AIDA-X"),
        "{error}"
    );
    assert!(!json.exists());
    std::fs::remove_dir_all(&dir).ok();
}
