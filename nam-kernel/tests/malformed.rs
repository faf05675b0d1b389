//! No input file panics the loader, and every kind of bad file gives the right
//! typed [`FormatError`] naming the file and the problem.
//!
//! The first part has one test per error kind, on small documents derived from
//! the reference fixtures. The last test is a deterministic fuzzer: every
//! fixture is truncated at many positions and mutated thousands of times
//! (numbers, strings, booleans, deleted or duplicated keys and array elements,
//! inserted optional keys, `NaN`/`Infinity` tokens, stray bytes); each result
//! goes through `NamFile::from_json_str`, and when that succeeds through
//! `Model::build` and `process`, inside `catch_unwind`. No panic is allowed, and
//! a model that builds must produce finite output. A failure prints the case,
//! the mutation and the panic message with its location, and writes the
//! offending document to `CARGO_TARGET_TMPDIR` so it can be replayed.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Once;
use std::time::{Duration, Instant};

use nam_kernel::{BuildError, BuildOptions, FormatError, LoadError, Model, NamFile};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// Largest single allocation per thread, to prove a refusal happens before the
// loader allocates anything sized by the absurd dimension.

/// Forwards to the system allocator and records, per thread, the largest
/// allocation requested since [`reset_largest_allocation`].
struct PeakAllocator;

thread_local! {
    static LARGEST_ALLOCATION: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation(size: usize) {
    // `try_with`: the thread-local may already be gone while a thread exits.
    let _ = LARGEST_ALLOCATION.try_with(|largest| largest.set(largest.get().max(size)));
}

fn reset_largest_allocation() {
    LARGEST_ALLOCATION.with(|largest| largest.set(0));
}

fn largest_allocation() -> usize {
    LARGEST_ALLOCATION.with(Cell::get)
}

// SAFETY: every method forwards its arguments unchanged to `System`, which
// upholds the `GlobalAlloc` contract; the bookkeeping touches only a
// const-initialised thread-local `Cell` and never allocates.
unsafe impl GlobalAlloc for PeakAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: the caller's guarantees for `layout` are passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation(new_size);
        // SAFETY: `ptr` was allocated by `System` with `layout`; `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: PeakAllocator = PeakAllocator;

// ---------------------------------------------------------------------------
// Helpers.

fn fixture_text(name: &str) -> String {
    let path = common::fixtures_dir().join(format!("{name}.nam"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture_text(name)).expect("fixtures are valid JSON")
}

/// Loads `doc` under `source`, expecting an error; returns it and its message.
fn load_err(doc: &Value, source: &str) -> (FormatError, String) {
    load_text_err(&serde_json::to_string(doc).unwrap(), source)
}

fn load_text_err(text: &str, source: &str) -> (FormatError, String) {
    match NamFile::from_json_str(text, source) {
        Ok(file) => panic!(
            "{source}: expected an error, but it loaded as {}",
            file.architecture()
        ),
        Err(e) => {
            assert_eq!(e.source_name, source, "the error names its source");
            let message = e.to_string();
            assert!(
                message.contains(source),
                "the message `{message}` does not name the source `{source}`"
            );
            (e.kind, message)
        }
    }
}

fn assert_contains(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "the message `{message}` does not contain `{part}`"
        );
    }
}

/// A scratch file under the test target's temp dir (unique per test).
fn scratch_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("malformed");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn weights_mut(doc: &mut Value) -> &mut Vec<Value> {
    doc["weights"].as_array_mut().expect("weights array")
}

// ---------------------------------------------------------------------------
// One test per error kind.

#[test]
fn missing_file_is_an_io_error_naming_the_path() {
    let path = scratch_path("there_is_no_such_model.nam");
    let _ = std::fs::remove_file(&path);
    let shown = path.display().to_string();
    for result in [
        NamFile::load(&path).map(|_| ()),
        Model::load(&path).map(|_| ()),
    ] {
        let err = result.expect_err("a missing file cannot load");
        assert!(
            matches!(err.kind, FormatError::Io(ref e) if e.kind() == std::io::ErrorKind::NotFound),
            "{err:?}"
        );
        assert_eq!(err.source_name, shown);
        assert_contains(&err.to_string(), &[&shown, "cannot read"]);
    }
}

#[test]
fn a_file_that_is_not_utf8_is_refused_with_its_path() {
    let path = scratch_path("latin1.nam");
    let mut bytes = fixture_text("linear").into_bytes();
    bytes.splice(2..2, [0xff, 0xfe]);
    std::fs::write(&path, bytes).unwrap();
    let err = NamFile::load(&path).expect_err("invalid UTF-8 cannot load");
    assert!(
        matches!(
            err.kind,
            FormatError::Io(_) | FormatError::InvalidJson { .. }
        ),
        "{err:?}"
    );
    assert_contains(&err.to_string(), &[&path.display().to_string()]);
}

#[test]
fn invalid_json_gives_line_and_column() {
    let text = fixture_text("linear");
    // Truncated mid-document.
    let (kind, message) = load_text_err(&text[..text.len() / 2], "half.nam");
    assert!(
        matches!(kind, FormatError::InvalidJson { line: 1, .. }),
        "{kind:?}"
    );
    assert_contains(&message, &["half.nam", "invalid JSON", "line 1"]);

    // A syntax error on line 3 of a pretty-printed document.
    let (kind, message) = load_text_err(
        "{\n  \"version\": \"0.5.4\",\n  \"config\": {,}\n}",
        "x.nam",
    );
    match kind {
        FormatError::InvalidJson { line, column, .. } => {
            assert_eq!((line, column), (3, 14), "{message}");
        }
        other => panic!("expected InvalidJson, got {other:?}"),
    }
    assert_contains(&message, &["x.nam", "line 3, column 14"]);

    for text in [
        "",
        "   ",
        "nam",
        "{",
        "[",
        "{\"version\": }",
        "\u{0}",
        "{}}",
    ] {
        let (kind, _) = load_text_err(text, "junk.nam");
        assert!(
            matches!(kind, FormatError::InvalidJson { .. }),
            "{text:?}: {kind:?}"
        );
    }
}

#[test]
fn deeply_nested_json_is_refused_without_overflowing_the_stack() {
    for open in ["[", "{\"a\":"] {
        let text = open.repeat(100_000);
        let (kind, message) = load_text_err(&text, "deep.nam");
        assert!(matches!(kind, FormatError::InvalidJson { .. }), "{kind:?}");
        assert_contains(&message, &["deep.nam"]);
    }
}

#[test]
fn non_finite_tokens_from_python_json_dump_are_reported() {
    let text = fixture_text("linear");
    let first_weight = text.find("\"weights\": [").expect("weights") + "\"weights\": [".len();
    let end = first_weight + text[first_weight..].find(',').unwrap();
    for token in ["NaN", "Infinity", "-Infinity"] {
        let bad = format!("{}{token}{}", &text[..first_weight], &text[end..]);
        let (kind, message) = load_text_err(&bad, "nan.nam");
        match kind {
            FormatError::NonFiniteNumber { line, column } => {
                assert_eq!(line, 1, "{token}");
                // Column (1-based) of the token or of its sign.
                let at = first_weight + 1;
                assert!(
                    column == at || column == at + 1,
                    "{token}: column {column}, token at {at}"
                );
            }
            other => panic!("{token}: expected NonFiniteNumber, got {other:?}"),
        }
        assert_contains(&message, &["nan.nam", "NaN or Infinity", "line 1"]);
    }

    // Pretty-printed (as `json.dump(..., indent=2)` writes it): NaN on line 4.
    let text = "{\n  \"version\": \"0.5.4\",\n  \"metadata\": {\n    \"loudness\": NaN\n  }\n}";
    let (kind, message) = load_text_err(text, "pretty.nam");
    assert!(
        matches!(
            kind,
            FormatError::NonFiniteNumber {
                line: 4,
                column: 17
            }
        ),
        "{kind:?}"
    );
    assert_contains(&message, &["pretty.nam", "line 4, column 17"]);
}

#[test]
fn missing_fields_are_named_by_path() {
    let cases: [(&str, &[&str], &str); 7] = [
        ("linear", &["version"], "version"),
        ("linear", &["architecture"], "architecture"),
        ("linear", &["weights"], "weights"),
        ("linear", &["config", "bias"], "config.bias"),
        ("lstm_2x8", &["config", "hidden_size"], "config.hidden_size"),
        (
            "wavenet_nano",
            &["config", "layers", "0", "channels"],
            "config.layers[0].channels",
        ),
        (
            "slimmable_container",
            &[
                "config",
                "submodels",
                "1",
                "model",
                "config",
                "layers",
                "0",
                "dilations",
            ],
            "config.submodels[1].model.config.layers[0].dilations",
        ),
    ];
    for (fixture, path, field) in cases {
        let mut doc = fixture_json(fixture);
        let (parent, last) = path.split_at(path.len() - 1);
        let mut node = &mut doc;
        for seg in parent {
            node = match seg.parse::<usize>() {
                Ok(i) => &mut node[i],
                Err(_) => &mut node[*seg],
            };
        }
        node.as_object_mut().unwrap().remove(last[0]).expect(field);
        let (kind, message) = load_err(&doc, "missing.nam");
        match &kind {
            FormatError::MissingField { field: found } => assert_eq!(found, field),
            other => panic!("{field}: expected MissingField, got {other:?}"),
        }
        assert_contains(
            &message,
            &["missing.nam", &format!("missing field `{field}`")],
        );
    }

    // `null` counts as missing.
    let mut doc = fixture_json("convnet");
    doc["config"]["channels"] = Value::Null;
    let (kind, _) = load_err(&doc, "null.nam");
    assert!(
        matches!(kind, FormatError::MissingField { ref field } if field == "config.channels"),
        "{kind:?}"
    );
}

#[test]
fn invalid_fields_are_named_by_path() {
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, &str, &str); 12] = [
        (
            "wavenet_nano",
            |d| d["config"]["layers"][0]["channels"] = json!("eight"),
            "config.layers[0].channels",
            "a string",
        ),
        (
            "wavenet_nano",
            |d| d["config"]["layers"][0]["channels"] = json!(-4),
            "config.layers[0].channels",
            "non-negative integer",
        ),
        (
            "wavenet_nano",
            |d| d["config"]["layers"][0]["channels"] = json!(2.5),
            "config.layers[0].channels",
            "2.5",
        ),
        (
            "wavenet_nano",
            |d| d["config"]["layers"][0]["channels"] = json!(0),
            "config.layers[0].channels",
            "at least 1",
        ),
        (
            "wavenet_nano",
            |d| d["config"]["layers"][0]["dilations"][3] = json!(0),
            "config.layers[0].dilations[3]",
            "at least 1",
        ),
        (
            "wavenet_nano",
            |d| {
                d["config"]["layers"][1]["kernel_sizes"]
                    .as_array_mut()
                    .unwrap()
                    .pop();
            },
            "config.layers[1].kernel_sizes",
            "entries",
        ),
        (
            "wavenet_gating_modes",
            |d| d["config"]["layers"][0]["gating_mode"][2] = json!("sometimes"),
            "config.layers[0].gating_mode[2]",
            "sometimes",
        ),
        (
            "linear",
            |d| d["sample_rate"] = json!(-44100),
            "sample_rate",
            "-44100",
        ),
        (
            "linear",
            |d| d["config"]["bias"] = json!("yes"),
            "config.bias",
            "true or false",
        ),
        (
            "linear",
            |d| d["weights"][5] = json!("0.5"),
            "weights[5]",
            "expected a number",
        ),
        (
            "linear",
            |d| d["version"] = json!(0.5),
            "version",
            "expected a string",
        ),
        (
            "slimmable_container",
            |d| d["config"]["submodels"][1]["max_value"] = json!(0.25),
            "config.submodels[1].max_value",
            "ascending",
        ),
    ];
    for (fixture, edit, field, detail) in cases {
        let mut doc = fixture_json(fixture);
        edit(&mut doc);
        let (kind, message) = load_err(&doc, "bad_field.nam");
        match &kind {
            FormatError::InvalidField { field: found, .. } => assert_eq!(found, field),
            other => panic!("{field}: expected InvalidField, got {other:?}"),
        }
        assert_contains(&message, &["bad_field.nam", &format!("`{field}`"), detail]);
    }

    // A document that is not an object at all: no loader reads it.
    let (kind, message) = load_text_err("[1, 2, 3]", "array.nam");
    assert!(matches!(kind, FormatError::NotAModel { .. }), "{kind:?}");
    assert_contains(&message, &["array.nam", "not a model file", "a JSON array"]);
}

#[test]
fn unsupported_versions_are_named() {
    for version in [
        "0.8.0",
        "1.0.0",
        "abc",
        "0.4.9",
        "0.7",
        "0.5.0.1",
        "",
        " 0.5.4",
        "0.5.-1",
        "99999999999.0.0",
    ] {
        let mut doc = fixture_json("linear");
        doc["version"] = json!(version);
        let (kind, message) = load_err(&doc, "version.nam");
        match &kind {
            FormatError::UnsupportedVersion { version: found, .. } => assert_eq!(found, version),
            other => panic!("{version:?}: expected UnsupportedVersion, got {other:?}"),
        }
        assert_contains(
            &message,
            &["version.nam", &format!("`{version}`"), "0.5.0 to 0.7.x"],
        );
    }
    // Every supported version loads.
    for version in ["0.5.0", "0.5.4", "0.6.1", "0.7.0", "0.7.12"] {
        let mut doc = fixture_json("linear");
        doc["version"] = json!(version);
        NamFile::from_json_str(&doc.to_string(), "ok.nam")
            .unwrap_or_else(|e| panic!("{version}: {e}"));
    }
}

#[test]
fn unknown_architectures_are_named() {
    let mut doc = fixture_json("linear");
    doc["architecture"] = json!("Transformer");
    let (kind, message) = load_err(&doc, "arch.nam");
    assert!(
        matches!(&kind, FormatError::UnknownArchitecture { field, name } if field == "architecture" && name == "Transformer"),
        "{kind:?}"
    );
    assert_contains(&message, &["arch.nam", "`Transformer`"]);

    // Inside a container, by path; architecture names are case-sensitive.
    let mut doc = fixture_json("slimmable_container");
    doc["config"]["submodels"][0]["model"]["architecture"] = json!("wavenet");
    let (kind, message) = load_err(&doc, "nested_arch.nam");
    assert!(
        matches!(&kind, FormatError::UnknownArchitecture { field, name }
            if field == "config.submodels[0].model.architecture" && name == "wavenet"),
        "{kind:?}"
    );
    assert_contains(
        &message,
        &[
            "nested_arch.nam",
            "`wavenet`",
            "config.submodels[0].model.architecture",
        ],
    );
}

#[test]
fn unknown_activations_are_named() {
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, &str, &str); 4] = [
        (
            "wavenet_feather_legacy_format",
            |d| d["config"]["layers"][1]["activation"] = json!("Tanhh"),
            "config.layers[1].activation",
            "Tanhh",
        ),
        (
            "wavenet_activations",
            |d| d["config"]["layers"][0]["activation"][3] = json!("Swoosh"),
            "config.layers[0].activation[3]",
            "Swoosh",
        ),
        (
            "wavenet_activations",
            |d| d["config"]["layers"][0]["activation"][2]["type"] = json!("LeakyReLu"),
            "config.layers[0].activation[2].type",
            "LeakyReLu",
        ),
        (
            "convnet",
            |d| d["config"]["activation"] = json!({"name": "Cosh"}),
            "config.activation.name",
            "Cosh",
        ),
    ];
    for (fixture, edit, field, name) in cases {
        let mut doc = fixture_json(fixture);
        edit(&mut doc);
        let (kind, message) = load_err(&doc, "activation.nam");
        match &kind {
            FormatError::UnknownActivation { field: f, name: n } => {
                assert_eq!((f.as_str(), n.as_str()), (field, name));
            }
            other => panic!("{field}: expected UnknownActivation, got {other:?}"),
        }
        assert_contains(&message, &["activation.nam", &format!("`{name}`"), field]);
    }
}

#[test]
fn weight_count_mismatches_give_both_counts() {
    for case in common::cases() {
        let doc = fixture_json(&case.name);
        if doc["architecture"] == "SlimmableContainer" {
            container_weight_count_mismatches(&doc, &case.name);
        } else {
            top_level_weight_count_mismatches(&doc, &case.name);
        }
    }
}

/// One weight too few, one too many, none: each names both counts.
fn top_level_weight_count_mismatches(doc: &Value, name: &str) {
    let n = doc["weights"].as_array().map_or(0, Vec::len);
    assert!(n > 0, "{name}: a {} without weights", doc["architecture"]);
    for found in [n - 1, n + 1, 0] {
        let mut doc = doc.clone();
        weights_mut(&mut doc).resize(found, json!(0.25));
        let (kind, message) = load_err(&doc, name);
        assert!(
            matches!(&kind, FormatError::WeightCountMismatch { field, expected, found: f }
                if field == "weights" && *expected == n && *f == found),
            "{name}: {kind:?}"
        );
        assert_contains(
            &message,
            &[
                &format!("needs {n} weights"),
                &format!("has {found}"),
                "`weights`",
            ],
        );
    }
}

/// Inside a container: the path leads to the submodel's weights.
fn container_weight_count_mismatches(doc: &Value, name: &str) {
    let submodels = doc["config"]["submodels"].as_array().map_or(0, Vec::len);
    assert!(submodels > 0, "{name}: a container without submodels");
    for index in 0..submodels {
        let mut doc = doc.clone();
        let weights = weights_mut(&mut doc["config"]["submodels"][index]["model"]);
        let n = weights.len();
        weights.push(json!(0.25));
        let (kind, message) = load_err(&doc, name);
        let path = format!("config.submodels[{index}].model.weights");
        assert!(
            matches!(&kind, FormatError::WeightCountMismatch { field, expected, found }
                if *field == path && *expected == n && *found == n + 1),
            "{name}: {kind:?}"
        );
        assert_contains(&message, &[name, &n.to_string(), &(n + 1).to_string()]);
    }
}

#[test]
fn weights_that_overflow_f32_are_refused() {
    for (index, value) in [(0, 1e39_f64), (7, -3.5e38), (96, 1e300)] {
        let mut doc = fixture_json("linear");
        doc["weights"][index] = json!(value);
        let (kind, message) = load_err(&doc, "overflow.nam");
        match kind {
            FormatError::NonFiniteWeight {
                ref field,
                index: i,
                value: v,
            } => {
                assert_eq!((field.as_str(), i), ("weights", index));
                assert!(
                    v.is_infinite() && f64::from(v).signum() == value.signum(),
                    "{v}"
                );
            }
            other => panic!("{value}: expected NonFiniteWeight, got {other:?}"),
        }
        assert_contains(
            &message,
            &["overflow.nam", &format!("weights[{index}]"), "inf"],
        );
    }
    // The largest finite f32 is still a weight.
    let mut doc = fixture_json("linear");
    doc["weights"][0] = json!(3.4e38);
    NamFile::from_json_str(&doc.to_string(), "max.nam").expect("f32::MAX-sized weight loads");
}

#[test]
fn batchnorm_variance_must_be_positive() {
    // convnet_batchnorm: 6 channels; block 0 has a 6x1x2 conv, then running_mean
    // (12..18), running_var (18..24), weight, bias and eps (36).
    type Edit = fn(&mut Value);
    let cases: [(Edit, &str); 3] = [
        (|d| d["weights"][19] = json!(-0.5), "weights[19]"),
        (|d| d["weights"][23] = json!(-1e-5), "weights[23]"),
        (|d| d["weights"][36] = json!(-100.0), "weights[18]"),
    ];
    for (edit, field) in cases {
        let mut doc = fixture_json("convnet_batchnorm");
        edit(&mut doc);
        let (kind, message) = load_err(&doc, "bn.nam");
        assert!(
            matches!(&kind, FormatError::InvalidField { field: f, .. } if f == field),
            "{field}: {kind:?}"
        );
        assert_contains(&message, &["bn.nam", field, "variance"]);
    }
    // A zero variance is fine while eps is positive.
    let mut doc = fixture_json("convnet_batchnorm");
    doc["weights"][19] = json!(0.0);
    NamFile::from_json_str(&doc.to_string(), "bn.nam").expect("zero variance plus eps");
}

#[test]
fn activation_parameters_that_only_give_nan_are_refused() {
    let mut doc = fixture_json("convnet");
    doc["config"]["activation"] = json!({"type": "Softplus", "beta": 0.0});
    let (kind, message) = load_err(&doc, "softplus.nam");
    assert!(
        matches!(&kind, FormatError::InvalidField { field, .. } if field == "config.activation.beta"),
        "{kind:?}"
    );
    assert_contains(
        &message,
        &["softplus.nam", "config.activation.beta", "Softplus"],
    );
    // Any other beta runs, and gives finite output.
    for beta in [1.0, 0.5, -1.0] {
        doc["config"]["activation"] = json!({"type": "Softplus", "beta": beta});
        let file = NamFile::from_json_str(&doc.to_string(), "softplus.nam").unwrap();
        let mut model = Model::build(&file, BuildOptions::default()).unwrap();
        let input = sine(64);
        let mut output = vec![0.0; 64];
        model.process(&input, &mut output);
        assert!(
            output.iter().all(|x| x.is_finite()),
            "beta {beta}: {output:?}"
        );
    }
}

#[test]
fn a_model_that_cannot_be_built_is_a_build_error_naming_the_file() {
    // The condition DSP of `wavenet_condition_dsp` is a complete WaveNet with
    // two output channels: valid as a document, not playable on its own.
    let mut doc = fixture_json("wavenet_condition_dsp")["config"]["condition_dsp"].take();
    doc["version"] = json!("0.7.0");
    let text = doc.to_string();
    let file = NamFile::from_json_str(&text, "two_channels.nam").expect("the document is valid");
    let err = Model::build(&file, BuildOptions::default()).expect_err("a 2-channel model");
    assert!(matches!(err, BuildError::NotMono(2)), "{err:?}");

    let path = scratch_path("two_channels.nam");
    std::fs::write(&path, text).unwrap();
    let err = Model::load(&path).expect_err("a 2-channel model");
    assert!(
        matches!(err.kind, FormatError::Build(BuildError::NotMono(2))),
        "{err:?}"
    );
    assert_contains(
        &err.to_string(),
        &[&path.display().to_string(), "2 channels"],
    );
}

#[test]
fn absurd_dimensions_are_refused_before_allocating() {
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, &str, f64); 12] = [
        (
            "wavenet_nano",
            |d| d["config"]["layers"][0]["channels"] = json!(1_000_000_000),
            "config.layers[0].channels",
            1_000_000_000.0,
        ),
        (
            "wavenet_nano",
            |d| d["config"]["layers"][0]["channels"] = json!(1e9),
            "config.layers[0].channels",
            1_000_000_000.0,
        ),
        (
            "wavenet_nano",
            |d| d["config"]["layers"][1]["dilations"][2] = json!(1e12),
            "config.layers[1].dilations[2]",
            1_000_000_000_000.0,
        ),
        (
            "wavenet_nano",
            |d| d["config"]["layers"][0]["kernel_sizes"][0] = json!(u64::MAX),
            "config.layers[0].kernel_sizes[0]",
            u64::MAX as f64,
        ),
        (
            "wavenet_nano",
            |d| d["config"]["layers"][0]["bottleneck"] = json!(1e20),
            "config.layers[0].bottleneck",
            100_000_000_000_000_000_000.0,
        ),
        (
            "wavenet_feather_legacy_format",
            |d| d["config"]["layers"][0]["head_size"] = json!(1e9),
            "config.layers[0].head_size",
            1_000_000_000.0,
        ),
        (
            "wavenet_feather_legacy_format",
            |d| d["config"]["layers"][0]["kernel_size"] = json!(1e15),
            "config.layers[0].kernel_size",
            1_000_000_000_000_000.0,
        ),
        (
            "lstm_1x16",
            |d| d["config"]["hidden_size"] = json!(1e9),
            "config.hidden_size",
            1_000_000_000.0,
        ),
        (
            "lstm_2x8",
            |d| d["config"]["num_layers"] = json!(100_000),
            "config.num_layers",
            100_000.0,
        ),
        (
            "convnet",
            |d| d["config"]["channels"] = json!(1e9),
            "config.channels",
            1_000_000_000.0,
        ),
        (
            "convnet",
            |d| d["config"]["dilations"][0] = json!(1e12),
            "config.dilations[0]",
            1_000_000_000_000.0,
        ),
        (
            "linear",
            |d| d["config"]["receptive_field"] = json!(1e12),
            "config.receptive_field",
            1_000_000_000_000.0,
        ),
    ];
    // Canary: the allocation probe sees a large allocation on this thread.
    reset_largest_allocation();
    let canary = std::hint::black_box(vec![1u8; 1 << 22]);
    assert!(
        largest_allocation() >= 1 << 22,
        "the allocation probe is blind"
    );
    drop(canary);

    let check = |doc: &Value, field: &str, value: Option<f64>| {
        let text = doc.to_string();
        reset_largest_allocation();
        let start = Instant::now();
        let result = NamFile::from_json_str(&text, "huge.nam");
        let elapsed = start.elapsed();
        let largest = largest_allocation();
        let err = result.expect_err(field);
        match &err.kind {
            FormatError::TooLarge {
                field: f,
                value: v,
                limit,
            } => {
                assert!(f.starts_with(field), "{field}: {err}");
                assert!(*v > *limit as f64, "{err}");
                if let Some(value) = value {
                    assert_eq!(*v, value, "{err}");
                }
            }
            other => panic!("{field}: expected TooLarge, got {other:?}"),
        }
        assert_contains(&err.to_string(), &["huge.nam", field, "too large"]);
        assert!(
            elapsed < Duration::from_secs(1),
            "{field}: refusing took {elapsed:?}"
        );
        // Parsing the document itself allocates about its own size.
        let bound = 4 * text.len() + (1 << 16);
        assert!(
            largest <= bound,
            "{field}: an allocation of {largest} bytes (document {} bytes)",
            text.len()
        );
    };
    for (fixture, edit, field, value) in cases {
        let mut doc = fixture_json(fixture);
        edit(&mut doc);
        check(&doc, field, Some(value));
    }

    // A value beyond every integer type is shown as found, not saturated.
    let mut doc = fixture_json("linear");
    doc["config"]["receptive_field"] = json!(1e300);
    check(&doc, "config.receptive_field", Some(1e300));
    let (_, message) = load_err(&doc, "huge.nam");
    assert_contains(&message, &["= 1e300 is too large"]);

    // Many layers of the largest allowed dilation: each is fine, the receptive
    // field is not.
    let mut doc = fixture_json("convnet");
    doc["config"]["dilations"] = json!(vec![65_536; 1000]);
    check(&doc, "config (receptive field)", None);
    let mut doc = fixture_json("wavenet_feather_legacy_format");
    doc["config"]["layers"][1]["dilations"] = json!(vec![65_536; 100]);
    check(&doc, "config (receptive field)", None);

    // Condition DSPs nested beyond any sane depth.
    let mut doc = fixture_json("wavenet_condition_dsp");
    for _ in 0..8 {
        let outer = doc.clone();
        doc["config"]["condition_dsp"] = outer;
    }
    let (kind, message) = load_err(&doc, "nested.nam");
    assert!(matches!(kind, FormatError::TooLarge { .. }), "{kind:?}");
    assert_contains(&message, &["nested.nam", "condition_dsp"]);
}

#[test]
fn container_submodels_must_each_be_playable() {
    // A container whose small submodel outputs two channels must be refused
    // when loaded or built, not when the size is turned down on the audio thread.
    let mut two_channels = fixture_json("wavenet_condition_dsp")["config"]["condition_dsp"].take();
    two_channels["version"] = json!("0.7.0");
    let mut doc = fixture_json("slimmable_container");
    doc["config"]["submodels"][0]["model"] = two_channels;
    let text = doc.to_string();
    let outcome = panic::catch_unwind(|| match NamFile::from_json_str(&text, "c.nam") {
        Err(e) => Err(e.to_string()),
        Ok(file) => match Model::build(&file, BuildOptions::default()) {
            Err(e) => Err(e.to_string()),
            Ok(mut model) => {
                model.set_slimmable_size(0.0);
                let input = sine(64);
                let mut output = vec![0.0; 64];
                model.process(&input, &mut output);
                Ok(output)
            }
        },
    });
    match outcome {
        Ok(Err(message)) => assert_contains(
            &message,
            &["c.nam", "config.submodels[0].model", "2 channels"],
        ),
        Ok(Ok(output)) => panic!("a container with a 2-channel submodel played: {output:?}"),
        Err(payload) => panic!("panicked: {}", panic_message(&*payload)),
    }
}

// ---------------------------------------------------------------------------
// Fuzzing.

/// xorshift64: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// Uniform in `[-scale, scale)`.
    fn weight(&mut self, scale: f64) -> f64 {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * scale
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Writes a path the way [`FormatError`] fields do: `config.layers[0].channels`.
struct PathDisplay<'a>(&'a [Seg]);

impl fmt::Display for PathDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("<root>");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Parses a field path from an error (`config.submodels[1].model.weights`).
fn parse_field(field: &str) -> Option<Vec<Seg>> {
    let mut path = Vec::new();
    for part in field.split('.') {
        let (key, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if key.is_empty() {
            return None;
        }
        path.push(Seg::Key(key.to_owned()));
        while let Some(stripped) = rest.strip_prefix('[') {
            let close = stripped.find(']')?;
            path.push(Seg::Index(stripped[..close].parse().ok()?));
            rest = &stripped[close + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(path)
}

fn node_mut<'a>(doc: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(doc, |node, seg| match seg {
        Seg::Key(k) => node.as_object_mut()?.get_mut(k),
        Seg::Index(i) => node.as_array_mut()?.get_mut(*i),
    })
}

fn node<'a>(doc: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |node, seg| match seg {
        Seg::Key(k) => node.as_object()?.get(k),
        Seg::Index(i) => node.as_array()?.get(*i),
    })
}

/// Paths of every node worth mutating. Long arrays (weights) contribute
/// themselves and a few random elements, so they do not drown the config.
fn collect_paths(value: &Value, path: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>, rng: &mut Rng) {
    out.push(path.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(Seg::Key(k.clone()));
                collect_paths(v, path, out, rng);
                path.pop();
            }
        }
        Value::Array(items) if items.len() > 32 => {
            for _ in 0..4 {
                let i = rng.below(items.len());
                path.push(Seg::Index(i));
                out.push(path.clone());
                path.pop();
            }
            // The last weight is WaveNet's head_scale.
            path.push(Seg::Index(items.len() - 1));
            out.push(path.clone());
            path.pop();
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                collect_paths(v, path, out, rng);
                path.pop();
            }
        }
        _ => {}
    }
}

/// One edit of a JSON document.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the node by this value.
    Set(Vec<Seg>, Value),
    /// Remove the node (an object key or an array element).
    Delete(Vec<Seg>),
    /// Insert a copy of the array element next to it.
    Duplicate(Vec<Seg>),
    /// Add (or overwrite) a key of an object.
    Insert(Vec<Seg>, String, Value),
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = |v: &Value| {
            let mut s = v.to_string();
            if s.len() > 80 {
                s.truncate(77);
                s.push_str("...");
            }
            s
        };
        match self {
            Mutation::Set(p, v) => write!(f, "set {} = {}", PathDisplay(p), short(v)),
            Mutation::Delete(p) => write!(f, "delete {}", PathDisplay(p)),
            Mutation::Duplicate(p) => write!(f, "duplicate {}", PathDisplay(p)),
            Mutation::Insert(p, k, v) => {
                write!(f, "insert {}.{k} = {}", PathDisplay(p), short(v))
            }
        }
    }
}

impl Mutation {
    fn apply(&self, doc: &mut Value) -> bool {
        match self {
            Mutation::Set(path, value) => match node_mut(doc, path) {
                Some(node) => {
                    *node = value.clone();
                    true
                }
                None => false,
            },
            Mutation::Delete(path) | Mutation::Duplicate(path) => {
                let Some((last, parent)) = path.split_last() else {
                    return false;
                };
                let Some(parent) = node_mut(doc, parent) else {
                    return false;
                };
                match (self, last, parent) {
                    (Mutation::Delete(_), Seg::Key(k), Value::Object(map)) => {
                        map.remove(k).is_some()
                    }
                    (Mutation::Delete(_), Seg::Index(i), Value::Array(items))
                        if *i < items.len() =>
                    {
                        items.remove(*i);
                        true
                    }
                    (Mutation::Duplicate(_), Seg::Index(i), Value::Array(items))
                        if *i < items.len() =>
                    {
                        let copy = items[*i].clone();
                        items.insert(*i, copy);
                        true
                    }
                    _ => false,
                }
            }
            Mutation::Insert(path, key, value) => match node_mut(doc, path) {
                Some(Value::Object(map)) => {
                    map.insert(key.clone(), value.clone());
                    true
                }
                _ => false,
            },
        }
    }

    /// Whether the edit brings in a magnitude that can legitimately overflow
    /// `f32` arithmetic (then the output need not be finite).
    fn is_extreme(&self) -> bool {
        fn extreme(v: &Value) -> bool {
            match v {
                Value::Number(n) => n.as_f64().is_some_and(|x| x.abs() > 1e4),
                Value::Array(items) => items.iter().any(extreme),
                Value::Object(map) => map.values().any(extreme),
                _ => false,
            }
        }
        match self {
            Mutation::Set(_, v) | Mutation::Insert(_, _, v) => extreme(v),
            Mutation::Delete(_) | Mutation::Duplicate(_) => false,
        }
    }
}

const NUMBERS: [f64; 14] = [
    0.0, -1.0, 1.0, 2.0, 3.0, 3.5, 0.5, -0.0, 1e9, 1e12, 3e38, 1e39, 1e300, 1025.0,
];
const STRINGS: [&str; 20] = [
    "",
    "Tanh",
    "ReLU",
    "Sigmoid",
    "Hardtanh",
    "PReLU",
    "GELU",
    "Bogus",
    "0.5.4",
    "0.9.0",
    "WaveNet",
    "LSTM",
    "ConvNet",
    "Linear",
    "SlimmableContainer",
    "gated",
    "blended",
    "none",
    "slice_channels_uniform",
    "tanh",
];
/// Arrays whose elements are duplicated or removed on purpose.
const ARRAY_KEYS: [&str; 9] = [
    "dilations",
    "kernel_sizes",
    "activation",
    "weights",
    "gating_mode",
    "secondary_activation",
    "layers",
    "submodels",
    "allowed_channels",
];

/// Optional keys a layer array, a WaveNet config or any object may gain.
fn insertions(target: &Value, rng: &mut Rng) -> (String, Value) {
    if target.get("dilations").is_some() && target.get("input_size").is_some() {
        let options: [(&str, Value); 16] = [
            ("bottleneck", json!(2)),
            ("bottleneck", json!(3)),
            ("gating_mode", json!("gated")),
            ("gating_mode", json!("blended")),
            ("gated", json!(true)),
            (
                "head1x1",
                json!({"active": true, "out_channels": 2, "groups": 1}),
            ),
            ("layer1x1", json!({"active": false})),
            ("layer1x1", json!({"active": true, "groups": 2})),
            ("groups_input", json!(2)),
            ("groups_input_mixin", json!(1)),
            (
                "slimmable",
                json!({"method": "slice_channels_uniform", "kwargs": {"allowed_channels": [1, 2]}}),
            ),
            ("conv_pre_film", json!({"active": true, "shift": true})),
            (
                "activation_post_film",
                json!({"active": true, "shift": false}),
            ),
            ("kernel_size", json!(2)),
            ("secondary_activation", json!("ReLU")),
            (
                "activation",
                json!({"type": "PReLU", "negative_slopes": [0.1, 0.2]}),
            ),
        ];
        let (k, v) = rng.pick(&options);
        return ((*k).to_owned(), v.clone());
    }
    if target.get("layers").is_some() && target.get("head_scale").is_some() {
        let linear = json!({"version": "0.5.4", "architecture": "Linear",
            "config": {"receptive_field": 2, "bias": false}, "weights": [0.5, 0.25]});
        let options: [(&str, Value); 3] = [
            (
                "head",
                json!({"channels": 2, "activation": "ReLU", "out_channels": 1, "kernel_sizes": [2]}),
            ),
            ("condition_dsp", linear),
            ("head_scale", json!("0.02")),
        ];
        let (k, v) = rng.pick(&options);
        return ((*k).to_owned(), v.clone());
    }
    let options: [(&str, Value); 4] = [
        ("bogus", json!(1)),
        ("input_size", json!(2)),
        ("sample_rate", json!(44100.0)),
        ("type", json!("ELU")),
    ];
    let (k, v) = rng.pick(&options);
    ((*k).to_owned(), v.clone())
}

fn other_types(rng: &mut Rng) -> Value {
    rng.pick(&[
        Value::Null,
        json!("x"),
        json!({}),
        json!([]),
        json!(true),
        json!(7),
        json!([1, 2]),
    ])
    .clone()
}

/// A random structural or value mutation of `doc`.
fn random_mutation(doc: &Value, rng: &mut Rng) -> Mutation {
    // Targeted: an element of one of the per-layer arrays.
    if rng.chance(30) {
        let mut arrays = Vec::new();
        let mut paths = Vec::new();
        collect_paths(doc, &mut Vec::new(), &mut paths, rng);
        for path in paths {
            let is_target =
                matches!(path.last(), Some(Seg::Key(k)) if ARRAY_KEYS.contains(&k.as_str()));
            if is_target
                && node(doc, &path)
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
            {
                arrays.push(path);
            }
        }
        if !arrays.is_empty() {
            let mut path = rng.pick(&arrays).clone();
            let len = node(doc, &path)
                .and_then(Value::as_array)
                .map_or(1, Vec::len);
            path.push(Seg::Index(rng.below(len)));
            return if rng.chance(50) {
                Mutation::Delete(path)
            } else {
                Mutation::Duplicate(path)
            };
        }
    }
    let mut paths = Vec::new();
    collect_paths(doc, &mut Vec::new(), &mut paths, rng);
    let path = rng.pick(&paths).clone();
    let target = node(doc, &path).expect("collected path");
    let roll = rng.below(100);
    match target {
        Value::Number(_) if roll < 75 => Mutation::Set(path, json!(*rng.pick(&NUMBERS))),
        Value::String(_) if roll < 70 => Mutation::Set(path, json!(*rng.pick(&STRINGS))),
        Value::Bool(b) if roll < 70 => Mutation::Set(path, json!(!b)),
        Value::Object(_) if roll < 40 => {
            let (key, value) = insertions(target, rng);
            Mutation::Insert(path, key, value)
        }
        Value::Array(items) if roll < 40 && !items.is_empty() => {
            let mut path = path;
            path.push(Seg::Index(rng.below(items.len())));
            if rng.chance(50) {
                Mutation::Delete(path)
            } else {
                Mutation::Duplicate(path)
            }
        }
        _ if roll < 85 && !path.is_empty() => Mutation::Delete(path),
        _ => Mutation::Set(path, other_types(rng)),
    }
}

/// Spans of the number tokens of a JSON text (outside strings).
fn number_tokens(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let (mut i, mut in_string) = (0, false);
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
        } else if b == b'"' {
            in_string = true;
            i += 1;
        } else if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while i < bytes.len()
                && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
            {
                i += 1;
            }
            spans.push((start, i));
        } else {
            i += 1;
        }
    }
    spans
}

/// The panic payload as text.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

thread_local! {
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records where each panic happened (then defers to the default hook, whose
/// output the test harness captures).
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let location = info.location().map(|l| l.to_string());
            let _ = PANIC_LOCATION.try_with(|slot| *slot.borrow_mut() = location);
            default(info);
        }));
    });
}

fn sine(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| 0.5 * (i as f32 * 2.0 * std::f32::consts::PI * 997.0 / 48_000.0).sin())
        .collect()
}

/// What one fuzz input did.
#[derive(Default)]
struct Tally {
    inputs: usize,
    loaded: usize,
    built: usize,
    repaired: usize,
}

/// Most weights a repair may add (keeps the run short).
const MAX_REPAIR_WEIGHTS: usize = 200_000;

/// Loads `doc`; when the only problem is a weight count, resizes that weights
/// array to what the config needs (a few times, for nested models) so the
/// mutated config reaches `Model::build`. Builds and runs what loads.
/// `Err` describes a broken invariant (a panic is caught by the caller).
fn exercise(
    doc: &mut Value,
    extreme: bool,
    rng: &mut Rng,
    tally: &mut Tally,
) -> Result<(), String> {
    let mut result = Err(None);
    for _ in 0..4 {
        let text = serde_json::to_string(doc).map_err(|e| format!("serialize: {e}"))?;
        match NamFile::from_json_str(&text, "fuzz.nam") {
            Ok(file) => {
                result = Ok(file);
                break;
            }
            Err(LoadError {
                kind:
                    FormatError::WeightCountMismatch {
                        ref field,
                        expected,
                        ..
                    },
                ..
            }) if expected <= MAX_REPAIR_WEIGHTS => {
                let path = parse_field(field).ok_or_else(|| format!("bad field path `{field}`"))?;
                let weights = node_mut(doc, &path)
                    .and_then(Value::as_array_mut)
                    .ok_or_else(|| format!("`{field}` is not an array"))?;
                weights.resize_with(expected, || json!(rng.weight(0.2)));
                tally.repaired += 1;
            }
            Err(e) => {
                if e.source_name != "fuzz.nam" || !e.to_string().starts_with("fuzz.nam: ") {
                    return Err(format!("the error does not name the source: {e}"));
                }
                result = Err(Some(e));
                break;
            }
        }
    }
    let Ok(file) = result else {
        return Ok(());
    };
    tally.loaded += 1;
    let max_block_frames = *rng.pick(&[256, 64, 13]);
    let options = BuildOptions {
        max_block_frames,
        ..BuildOptions::default()
    };
    let Ok(mut model) = Model::build(&file, options) else {
        return Ok(());
    };
    tally.built += 1;
    let input = sine(64);
    let mut first = vec![0.0; input.len()];
    model.process(&input, &mut first);
    let check = |output: &[f32], what: &str| -> Result<(), String> {
        if !extreme {
            if let Some(i) = output.iter().position(|x| !x.is_finite()) {
                return Err(format!(
                    "{what}: non-finite output {} at sample {i} (max_block_frames {max_block_frames})",
                    output[i]
                ));
            }
        }
        Ok(())
    };
    check(&first, "process")?;
    // `reset` prewarms again: skipped for long receptive fields to save time.
    if model.prewarm_frames() > 1024 {
        return Ok(());
    }
    model.reset();
    let mut again = vec![0.0; input.len()];
    model.process(&input, &mut again);
    if first
        .iter()
        .zip(&again)
        .any(|(a, b)| a.to_bits() != b.to_bits())
    {
        return Err(format!(
            "output after reset() differs from the first run (max_block_frames {max_block_frames})"
        ));
    }
    if !model.slimmable_breakpoints().is_empty() {
        model.set_slimmable_size(0.0);
        model.process(&input, &mut again);
        check(&again, "smallest submodel")?;
        model.set_slimmable_size(1.0);
    }
    Ok(())
}

/// Runs `body` under `catch_unwind`; records a failure with enough to replay it.
fn guarded(
    failures: &mut Vec<String>,
    case: &str,
    label: &str,
    document: &str,
    body: impl FnOnce() -> Result<(), String>,
) {
    let outcome = panic::catch_unwind(AssertUnwindSafe(body));
    let problem = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(problem)) => problem,
        Err(payload) => {
            let location = PANIC_LOCATION
                .with(|slot| slot.borrow_mut().take())
                .unwrap_or_else(|| "unknown location".to_owned());
            format!("PANIC at {location}: {}", panic_message(&*payload))
        }
    };
    let file = scratch_path(&format!("fuzz-failure-{case}-{}.nam", failures.len()));
    let _ = std::fs::write(&file, document);
    failures.push(format!(
        "{case}: {label}: {problem}\n    document: {}",
        file.display()
    ));
}

#[test]
fn fuzzed_fixtures_never_panic() {
    install_panic_hook();
    let start = Instant::now();
    let cases = common::cases();
    assert!(!cases.is_empty(), "no fixture cases");
    let mut failures: Vec<String> = Vec::new();
    let mut tally = Tally::default();
    // Deterministic by default; `NAM_FUZZ_SEED` and `NAM_FUZZ_ROUNDS` (a
    // multiplier of the mutation counts) allow longer local runs.
    let env_number = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = env_number("NAM_FUZZ_SEED")
        .unwrap_or(0x9E37_79B9_7F4A_7C15)
        .max(1);
    let rounds = env_number("NAM_FUZZ_ROUNDS").unwrap_or(1).max(1) as usize;
    let mut rng = Rng(seed);
    for case in &cases {
        let text = std::fs::read_to_string(&case.model).unwrap();
        let original: Value = serde_json::from_str(&text).unwrap();
        let name = case.name.as_str();
        // Models with long receptive fields are slow to build (prewarm): fewer
        // mutations for them keep the test short.
        let budget = |n: usize| rounds * if text.len() > 50_000 { n / 3 } else { n };

        // 1. Truncations: ~200 evenly spaced cuts plus the first and last 50 bytes.
        let len = text.len();
        let mut cuts: Vec<usize> = (0..200).map(|i| i * len / 200).collect();
        cuts.extend(0..50.min(len));
        cuts.extend(len.saturating_sub(50)..len);
        cuts.sort_unstable();
        cuts.dedup();
        for cut in cuts {
            if !text.is_char_boundary(cut) {
                continue;
            }
            let prefix = &text[..cut];
            tally.inputs += 1;
            guarded(
                &mut failures,
                name,
                &format!("truncated at byte {cut} of {len}"),
                prefix,
                || match NamFile::from_json_str(prefix, name) {
                    Ok(_) if prefix.trim_end() == text.trim_end() => Ok(()),
                    Ok(_) => Err("a truncated document loaded".to_owned()),
                    Err(LoadError {
                        kind: FormatError::InvalidJson { .. },
                        ..
                    }) => Ok(()),
                    Err(e) => Err(format!("expected InvalidJson, got {e}")),
                },
            );
        }

        // 2. Number tokens replaced in the text, including tokens JSON forbids.
        let spans = number_tokens(&text);
        assert!(!spans.is_empty(), "{name}: no number tokens found");
        for _ in 0..budget(60) {
            let &(start, end) = rng.pick(&spans);
            let token = *rng.pick(&[
                "NaN",
                "Infinity",
                "-Infinity",
                "0",
                "-1",
                "1e9",
                "3.5",
                "1e39",
                "3e38",
                "1e400",
                "-0",
                "01",
                "1.",
                ".5",
                "+1",
                "1e",
                "0x10",
                "1E+2",
                "18446744073709551616",
            ]);
            let mutated = format!("{}{token}{}", &text[..start], &text[end..]);
            let original_token = &text[start..end];
            tally.inputs += 1;
            let label = format!("number `{original_token}` at byte {start} -> `{token}`");
            guarded(&mut failures, name, &label, &mutated, || {
                let result = NamFile::from_json_str(&mutated, name);
                let expect_non_finite = matches!(token, "NaN" | "Infinity" | "-Infinity");
                let expect_invalid =
                    matches!(token, "1e400" | "01" | "1." | ".5" | "+1" | "1e" | "0x10");
                match result {
                    Err(LoadError {
                        kind: FormatError::NonFiniteNumber { line: 1, column },
                        ..
                    }) if expect_non_finite => {
                        if column == start + 1 || column == start + 2 {
                            Ok(())
                        } else {
                            Err(format!(
                                "NonFiniteNumber at column {column}, token at byte {start}"
                            ))
                        }
                    }
                    Err(LoadError {
                        kind: FormatError::InvalidJson { .. },
                        ..
                    }) if expect_invalid => Ok(()),
                    Err(e) if expect_non_finite || expect_invalid => {
                        Err(format!("unexpected error kind: {e}"))
                    }
                    Ok(_) if expect_non_finite || expect_invalid => {
                        Err("a document with a forbidden number token loaded".to_owned())
                    }
                    Ok(file) => {
                        let mut model = match Model::build(&file, BuildOptions::default()) {
                            Ok(model) => model,
                            Err(_) => return Ok(()),
                        };
                        let input = sine(64);
                        let mut output = vec![0.0; 64];
                        model.process(&input, &mut output);
                        Ok(())
                    }
                    Err(_) => Ok(()),
                }
            });
        }

        // 3. Stray bytes: deleted, inserted or replaced.
        for _ in 0..budget(20) {
            let at = rng.below(len);
            let byte = *rng.pick(b"{}[],:\"\\ 0-eE.tfn");
            let mut bytes = text.clone().into_bytes();
            let label = match rng.below(3) {
                0 => {
                    bytes.remove(at);
                    format!("byte {at} deleted")
                }
                1 => {
                    bytes.insert(at, byte);
                    format!("byte {:?} inserted at {at}", byte as char)
                }
                _ => {
                    bytes[at] = byte;
                    format!("byte {at} replaced by {:?}", byte as char)
                }
            };
            let Ok(mutated) = String::from_utf8(bytes) else {
                continue;
            };
            tally.inputs += 1;
            guarded(&mut failures, name, &label, &mutated, || {
                if let Ok(mut doc) = serde_json::from_str::<Value>(&mutated) {
                    // Any number may have changed: only "no panic" is checked.
                    let mut local = Rng(at as u64 + 1);
                    exercise(&mut doc, true, &mut local, &mut Tally::default())
                } else {
                    let _ = NamFile::from_json_str(&mutated, name);
                    Ok(())
                }
            });
        }

        // 4. Structural and value mutations of the document tree, one to three
        //    at a time; weight counts repaired so the config reaches the model.
        for i in 0..budget(150) {
            let mut doc = original.clone();
            let mut applied = Vec::new();
            for _ in 0..1 + rng.below(3) {
                let mutation = random_mutation(&doc, &mut rng);
                if mutation.apply(&mut doc) {
                    applied.push(mutation);
                }
            }
            if applied.is_empty() {
                continue;
            }
            let extreme = applied.iter().any(Mutation::is_extreme);
            let label = format!(
                "mutation #{i}: {}",
                applied
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            tally.inputs += 1;
            let seed = rng.next();
            let mut local = Rng(seed | 1);
            let mut doc_after = doc.clone();
            let mut local_tally = Tally::default();
            let document = serde_json::to_string(&doc).unwrap();
            guarded(&mut failures, name, &label, &document, || {
                exercise(&mut doc_after, extreme, &mut local, &mut local_tally)
            });
            tally.loaded += local_tally.loaded;
            tally.built += local_tally.built;
            tally.repaired += local_tally.repaired;
        }
    }
    let elapsed = start.elapsed();
    println!(
        "seed {seed:#x}: {} cases, {} fuzz inputs: {} loaded ({} weight-count repairs), {} built and ran; {:.1?}",
        cases.len(),
        tally.inputs,
        tally.loaded,
        tally.repaired,
        tally.built,
        elapsed
    );
    assert!(
        failures.is_empty(),
        "{} of {} fuzz inputs failed (seed {seed:#x}):\n{}",
        failures.len(),
        tally.inputs,
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The fuzzer must reach the model, not only the parser.
    assert!(tally.inputs > 5_000, "only {} fuzz inputs", tally.inputs);
    assert!(
        tally.built > 500,
        "only {} mutated models were built",
        tally.built
    );
}
