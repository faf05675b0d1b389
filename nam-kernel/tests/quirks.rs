//! Real published `.nam` files load (the "Quirks of real published files" in
//! `../shared/fixtures/README.md`), and still match the reference output.
//!
//! Every variant is derived from the fixtures at run time: `sample_rate`
//! missing or written as `48000.0` (also inside container submodels), no
//! `metadata`, keys in another order (`config` first), numbers in exponent
//! notation (Rust's `1.2e-5`, Python's `1.2e-05`, and every number, integers
//! included, as `4.8E4`), pretty-printed text, and a 0.7.0 `SlimmableContainer`
//! of 0.5.x legacy-layout submodels of mixed architectures with an empty
//! top-level `weights`. Each runs the fixture's input through `Model::build` +
//! `process` and is compared with `<name>.output.wav` within the case's
//! tolerance. Metadata parsing is checked too, including fields of unexpected
//! types, which must not refuse the model.

mod common;

use common::Case;
use nam_kernel::format::{Metadata, ModelSpec};
use nam_kernel::{BuildOptions, Model, NamFile};
use serde_json::{json, Value};

fn fixture_json(name: &str) -> Value {
    let path = common::fixtures_dir().join(format!("{name}.nam"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixtures are valid JSON")
}

fn case<'a>(cases: &'a [Case], name: &str) -> &'a Case {
    cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("fixture case `{name}` not found"))
}

/// Runs `input` through a freshly built `model` and compares with `expected`.
fn compare(
    model: &mut Model,
    input: &[f32],
    expected: &[f32],
    tolerance: f32,
) -> Result<f32, String> {
    let mut output = vec![0.0; input.len()];
    model.process(input, &mut output);
    let (diff, at) = common::max_abs_diff(&output, expected);
    if diff.is_nan() || diff > tolerance {
        Err(format!(
            "max |diff| {diff:e} at sample {at} exceeds {tolerance:e}"
        ))
    } else {
        Ok(diff)
    }
}

/// Loads `text`, builds it and compares its output with the case's reference.
fn load_and_compare(case: &Case, variant: &str, text: &str) -> Result<NamFile, String> {
    let source = format!("{}/{variant}", case.name);
    let file = NamFile::from_json_str(text, &source).map_err(|e| e.to_string())?;
    let mut model =
        Model::build(&file, BuildOptions::default()).map_err(|e| format!("{source}: {e}"))?;
    compare(&mut model, &case.input, &case.expected, case.tolerance)
        .map_err(|e| format!("{source}: {e}"))?;
    Ok(file)
}

/// Applies `edit` to the document and to every nested document (container
/// submodels, condition DSPs).
fn edit_documents(doc: &mut Value, edit: &dyn Fn(&mut serde_json::Map<String, Value>)) {
    if let Value::Object(map) = doc {
        if map.contains_key("architecture") {
            edit(map);
        }
        for value in map.values_mut() {
            edit_documents(value, edit);
        }
    } else if let Value::Array(items) = doc {
        for item in items.iter_mut().filter(|i| i.is_object()) {
            edit_documents(item, edit);
        }
    }
}

/// Every document's declared sample rate, outermost first.
fn declared_rates(file: &NamFile) -> Vec<Option<f64>> {
    let mut rates = vec![file.declared_sample_rate_hz];
    match &file.spec {
        ModelSpec::SlimmableContainer { submodels } => {
            for s in submodels {
                rates.extend(declared_rates(&s.model));
            }
        }
        ModelSpec::WaveNet { config, .. } => {
            if let Some(nested) = &config.condition_dsp {
                rates.extend(declared_rates(nested));
            }
        }
        _ => {}
    }
    rates
}

/// How numbers are written by [`write_json`].
#[derive(Clone, Copy, PartialEq)]
enum Numbers {
    /// As serde_json writes them.
    Plain,
    /// Non-integers with Rust's `{:e}`: `-1.0856294631958008e-1`.
    Exponent,
    /// Non-integers as Python would in exponent form: `-1.0856294631958008e-01`, `4.8e+04`.
    PythonExponent,
    /// Every number, integers included, with `{:E}`: `8E0`, `4.8E4`.
    AllUpperExponent,
}

fn write_number(n: &serde_json::Number, numbers: Numbers, out: &mut String) {
    let is_integer = n.is_u64() || n.is_i64();
    let x = n.as_f64().expect("finite");
    match numbers {
        Numbers::Plain => out.push_str(&n.to_string()),
        _ if is_integer && numbers != Numbers::AllUpperExponent => out.push_str(&n.to_string()),
        Numbers::Exponent => out.push_str(&format!("{x:e}")),
        Numbers::AllUpperExponent => out.push_str(&format!("{x:E}")),
        Numbers::PythonExponent => {
            let text = format!("{x:e}");
            let (mantissa, exponent) = text.split_once('e').expect("exponent form");
            let exponent: i32 = exponent.parse().unwrap();
            let sign = if exponent < 0 { '-' } else { '+' };
            out.push_str(&format!("{mantissa}e{sign}{:02}", exponent.abs()));
        }
    }
}

/// A JSON writer with a chosen key order and number style. `rank` orders keys
/// (ties alphabetically, as serde_json's map iterates).
fn write_json(value: &Value, numbers: Numbers, rank: &dyn Fn(&str) -> usize, out: &mut String) {
    match value {
        Value::Number(n) => write_number(n, numbers, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(item, numbers, rank, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| rank(k));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&serde_json::to_string(key).unwrap());
                out.push_str(": ");
                write_json(&map[key], numbers, rank, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn write_with(value: &Value, numbers: Numbers, rank: &dyn Fn(&str) -> usize) -> String {
    let mut out = String::new();
    write_json(value, numbers, rank, &mut out);
    out
}

fn alphabetical(_: &str) -> usize {
    0
}

/// `config` first, `version` last: the reverse of what the exporter writes.
fn config_first(key: &str) -> usize {
    [
        "config",
        "weights",
        "sample_rate",
        "architecture",
        "metadata",
    ]
    .iter()
    .position(|k| *k == key)
    .unwrap_or(if key == "version" { 7 } else { 6 })
}

/// A check a variant adds on top of matching the reference.
type Extra = fn(&NamFile, &str) -> Result<(), String>;

/// The variants of one document: (name, text, extra check).
fn variants(doc: &Value) -> Vec<(&'static str, String, Extra)> {
    let mut out: Vec<(&'static str, String, Extra)> = Vec::new();

    let mut no_rate = doc.clone();
    edit_documents(&mut no_rate, &|m| {
        m.remove("sample_rate");
    });
    out.push(("sample_rate removed", no_rate.to_string(), |file, _| {
        let rates = declared_rates(file);
        if rates.iter().any(Option::is_some) {
            return Err(format!("declared rates {rates:?}, expected none"));
        }
        if file.sample_rate_hz() != 48_000.0 {
            return Err(format!("sample_rate_hz {} != 48000", file.sample_rate_hz()));
        }
        let model = Model::build(file, BuildOptions::default()).map_err(|e| e.to_string())?;
        if model.sample_rate_hz() != 48_000.0 {
            return Err(format!("Model::sample_rate_hz {}", model.sample_rate_hz()));
        }
        Ok(())
    }));

    let mut float_rate = doc.clone();
    edit_documents(&mut float_rate, &|m| {
        m.insert("sample_rate".to_owned(), json!(48_000.0));
    });
    out.push((
        "sample_rate 48000.0",
        float_rate.to_string(),
        |file, text| {
            if !text.contains("\"sample_rate\":48000.0") {
                return Err("the text does not hold `\"sample_rate\":48000.0`".to_owned());
            }
            let rates = declared_rates(file);
            if rates.iter().any(|r| *r != Some(48_000.0)) {
                return Err(format!(
                    "declared rates {rates:?}, expected 48000 everywhere"
                ));
            }
            Ok(())
        },
    ));

    let mut no_metadata = doc.clone();
    edit_documents(&mut no_metadata, &|m| {
        m.remove("metadata");
    });
    out.push(("metadata removed", no_metadata.to_string(), |file, text| {
        if text.contains("\"metadata\"") {
            return Err("metadata still present".to_owned());
        }
        if file.metadata != Metadata::default() {
            return Err(format!(
                "metadata {:?}, expected the default",
                file.metadata
            ));
        }
        Ok(())
    }));

    out.push((
        "config first",
        write_with(doc, Numbers::Plain, &config_first),
        |_, text| {
            if text.starts_with("{\"config\": ") {
                Ok(())
            } else {
                Err(format!("starts with {:?}", &text[..20]))
            }
        },
    ));

    out.push((
        "floats as 1.2e-5",
        write_with(doc, Numbers::Exponent, &alphabetical),
        |_, text| expect_exponents(text, "e-"),
    ));
    out.push((
        "floats as 1.2e-05",
        write_with(doc, Numbers::PythonExponent, &alphabetical),
        |_, text| expect_exponents(text, "e-0"),
    ));
    out.push((
        "every number as 4.8E4",
        write_with(doc, Numbers::AllUpperExponent, &config_first),
        |_, text| {
            if !text.contains("\"sample_rate\": 4.8E4") {
                return Err("integers are not in exponent notation".to_owned());
            }
            expect_exponents(text, "E")
        },
    ));
    out.push((
        "pretty-printed",
        serde_json::to_string_pretty(doc).unwrap(),
        |_, text| {
            if text.lines().count() > 10 {
                Ok(())
            } else {
                Err("not multi-line".to_owned())
            }
        },
    ));
    out
}

/// The weights really are in exponent notation (so the variant tests something).
fn expect_exponents(text: &str, marker: &str) -> Result<(), String> {
    let weights = &text[text.find("\"weights\"").ok_or("no weights")?..];
    let list = &weights[..weights.find(']').unwrap()];
    let count = list.matches(marker).count();
    let numbers = list.matches(',').count() + 1;
    if list.contains('[') && numbers > 1 && count * 2 < numbers {
        return Err(format!(
            "only {count} of {numbers} weights contain `{marker}`"
        ));
    }
    Ok(())
}

#[test]
fn every_fixture_loads_in_every_published_variant() {
    let cases = common::cases();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &cases {
        let doc = fixture_json(&case.name);
        for (variant, text, extra) in variants(&doc) {
            checked += 1;
            let result =
                load_and_compare(case, variant, &text).and_then(|file| extra(&file, &text));
            if let Err(problem) = result {
                failures.push(format!("{} [{variant}]: {problem}", case.name));
            }
        }
    }
    println!("{checked} variants of {} cases checked", cases.len());
    assert!(
        checked >= 8 * cases.len() && !cases.is_empty(),
        "{checked} variants checked"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The 0.5.x layout of a fixture: relabelled `version`, no `sample_rate` (most
/// 0.5.x files state none) unless `rate` is given.
fn legacy(name: &str, version: &str, rate: Option<Value>) -> Value {
    let mut doc = fixture_json(name);
    doc["version"] = json!(version);
    let map = doc.as_object_mut().unwrap();
    map.remove("sample_rate");
    if let Some(rate) = rate {
        map.insert("sample_rate".to_owned(), rate);
    }
    doc
}

/// A 0.7.0 container of 0.5.x submodels: LSTM 1x16 (below 0.3), LSTM 2x8
/// (below 0.6) and the legacy-layout feather WaveNet (the rest, the default).
fn mixed_container() -> Value {
    json!({
        "version": "0.7.0",
        "metadata": {"name": "mixed", "gear_type": "amp"},
        "architecture": "SlimmableContainer",
        "config": {"submodels": [
            {"max_value": 0.3, "model": legacy("lstm_1x16", "0.5.4", None)},
            {"max_value": 0.6, "model": legacy("lstm_2x8", "0.5.2", Some(json!(48_000.0)))},
            {"max_value": 1.0, "model": legacy("wavenet_feather_legacy_format", "0.5.4", Some(json!(48_000.0)))},
        ]},
        "weights": [],
        "sample_rate": 48000
    })
}

#[test]
fn container_of_legacy_submodels_plays_its_last_submodel() {
    let cases = common::cases();
    let last = case(&cases, "wavenet_feather_legacy_format");
    let container = mixed_container();
    assert_eq!(container["weights"], json!([]));
    let mut failures = Vec::new();
    let mut checked = 0;
    for (variant, text, extra) in variants(&container) {
        checked += 1;
        let result = load_and_compare(last, variant, &text).and_then(|file| extra(&file, &text));
        if let Err(problem) = result {
            failures.push(format!("mixed container [{variant}]: {problem}"));
        }
    }
    assert_eq!(checked, 8);
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let file = NamFile::from_json_str(&container.to_string(), "mixed.nam")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.architecture(), "SlimmableContainer");
    let ModelSpec::SlimmableContainer { submodels } = &file.spec else {
        panic!("not a container");
    };
    let kinds: Vec<_> = submodels.iter().map(|s| s.model.architecture()).collect();
    assert_eq!(kinds, ["LSTM", "LSTM", "WaveNet"]);
    assert_eq!(file.sample_rate_hz(), 48_000.0);
}

#[test]
fn container_size_selects_each_submodel() {
    let cases = common::cases();
    let file = NamFile::from_json_str(&mixed_container().to_string(), "mixed.nam")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut model = Model::build(&file, BuildOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.slimmable_breakpoints(), [0.3, 0.6]);
    let check = |model: &mut Model, name: &str, what: &str| {
        let case = case(&cases, name);
        let diff = compare(model, &case.input, &case.expected, case.tolerance)
            .unwrap_or_else(|e| panic!("{what} ({name}): {e}"));
        println!("{what:40} {name:32} max |diff| {diff:.2e}");
    };

    check(&mut model, "wavenet_feather_legacy_format", "default size");
    for (size, name) in [
        (0.1, "lstm_1x16"),
        (0.45, "lstm_2x8"),
        (0.0, "lstm_1x16"),
        (0.3, "lstm_2x8"),
        (1.0, "wavenet_feather_legacy_format"),
        (0.6, "wavenet_feather_legacy_format"),
        (0.29, "lstm_1x16"),
    ] {
        model.set_slimmable_size(size);
        model.reset();
        check(
            &mut model,
            name,
            &format!("set_slimmable_size({size}) + reset"),
        );
        // A second reset brings back the same start state.
        model.reset();
        check(
            &mut model,
            name,
            &format!("set_slimmable_size({size}) + 2nd reset"),
        );
    }
    // The receptive field follows the active submodel.
    model.set_slimmable_size(0.1);
    assert_eq!(model.receptive_field(), 1);
    model.set_slimmable_size(1.0);
    assert_eq!(model.receptive_field(), 4093);
}

#[test]
fn metadata_fields_are_parsed() {
    let cases = common::cases();
    let linear = case(&cases, "linear");
    let mut doc = fixture_json("linear");
    doc["metadata"] = json!({
        "date": {"year": 2024, "month": 3, "day": 9, "hour": 21, "minute": 5, "second": 0},
        "name": "Plexi — bright channel",
        "modeled_by": "Jane Doe",
        "gear_type": "amp",
        "gear_make": "Marshall",
        "gear_model": "1959SLP",
        "tone_type": "crunch",
        "loudness": -18.25,
        "input_level_dbu": 12.5,
        "output_level_dbu": 4,
        "training": {
            "settings": {"ignore_checks": false},
            "data": {"latency": {"manual": null, "calibration": {"recommended": 0}}},
            "validation_esr": 0.0123
        }
    });
    let file =
        load_and_compare(linear, "metadata", &doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let m = &file.metadata;
    assert_eq!(m.name.as_deref(), Some("Plexi — bright channel"));
    assert_eq!(m.modeled_by.as_deref(), Some("Jane Doe"));
    assert_eq!(m.gear_type.as_deref(), Some("amp"));
    assert_eq!(m.gear_make.as_deref(), Some("Marshall"));
    assert_eq!(m.gear_model.as_deref(), Some("1959SLP"));
    assert_eq!(m.tone_type.as_deref(), Some("crunch"));
    assert_eq!(m.loudness, Some(-18.25));
    assert_eq!(m.input_level_dbu, Some(12.5));
    assert_eq!(m.output_level_dbu, Some(4.0));
    assert_eq!(m.validation_esr(), Some(0.0123));
    assert_eq!(
        m.training.as_ref().unwrap()["settings"]["ignore_checks"],
        json!(false)
    );
    assert_eq!(m.other.get("date").unwrap()["year"], json!(2024));
    let model = Model::build(&file, BuildOptions::default()).unwrap();
    assert_eq!(model.metadata(), m);
}

#[test]
fn metadata_of_unexpected_types_does_not_refuse_the_model() {
    let cases = common::cases();
    let linear = case(&cases, "linear");
    let mut doc = fixture_json("linear");
    doc["metadata"] = json!({
        "name": ["not", "a", "string"],
        "modeled_by": null,
        "gear_type": 3,
        "gear_make": "Fender",
        "tone_type": {"primary": "clean"},
        "loudness": "loud",
        "input_level_dbu": "12",
        "output_level_dbu": true,
        "training": {"validation_esr": "low"}
    });
    let file = load_and_compare(linear, "odd metadata", &doc.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    let m = &file.metadata;
    assert_eq!(
        m.gear_make.as_deref(),
        Some("Fender"),
        "well-typed fields still parse"
    );
    assert_eq!(
        (m.name.as_ref(), m.modeled_by.as_ref(), m.gear_type.as_ref()),
        (None, None, None)
    );
    assert_eq!(
        (m.loudness, m.input_level_dbu, m.output_level_dbu),
        (None, None, None)
    );
    assert_eq!(m.validation_esr(), None);
    assert_eq!(
        m.other.get("loudness"),
        Some(&json!("loud")),
        "kept as found"
    );
    assert_eq!(m.other.get("gear_type"), Some(&json!(3)));

    // `training` that is not an object, and `metadata` that is not an object.
    for metadata in [
        json!({"training": "none", "loudness": -20}),
        json!("hello"),
        json!([1, 2]),
        json!(7),
    ] {
        let mut doc = fixture_json("linear");
        doc["metadata"] = metadata.clone();
        let file = load_and_compare(linear, "odd metadata", &doc.to_string())
            .unwrap_or_else(|e| panic!("metadata {metadata}: {e}"));
        assert_eq!(file.metadata.validation_esr(), None);
    }
}

#[test]
fn requested_container_sizes_hand_over_lstms_at_once_and_wavenets_after_warm_up() {
    let cases = common::cases();
    let file = NamFile::from_json_str(&mixed_container().to_string(), "mixed.nam")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut model = Model::build(&file, BuildOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    // An LSTM has no receptive field to settle: it takes over at once, from
    // its stored initial state (the reference's start state).
    model.request_slimmable_size(0.1);
    assert_eq!(model.slimmable_size_index(), 0);
    let lstm = case(&cases, "lstm_1x16");
    let diff = compare(&mut model, &lstm.input, &lstm.expected, lstm.tolerance)
        .unwrap_or_else(|e| panic!("requested LSTM: {e}"));
    println!("requested LSTM max |diff| {diff:.2e}");
    // The feather WaveNet warms up for its receptive field (4093) first.
    model.request_slimmable_size(1.0);
    assert_eq!(model.slimmable_size_target(), 2);
    let mut output = vec![0.0; 4000];
    model.process(&lstm.input[..4000], &mut output);
    assert_eq!(model.slimmable_size_index(), 0, "still warming up");
    model.process(&lstm.input[..400], &mut output[..400]);
    assert_eq!(model.slimmable_size_index(), 2, "took over");
}
