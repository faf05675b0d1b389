//! The `.nam` writer: every fixture round-trips (load → write → load gives the
//! same config, weights and output), the trainer's current layout by default, the
//! legacy layout on request, and documents carry the trainer's keys in its order.

mod common;

use nam_kernel::format::{ModelSpec, WaveNetLayout};
use nam_kernel::{BuildOptions, Model, NamFile};
use serde_json::Value;

/// The top-level keys the trainer writes, in its order.
const TRAINER_KEYS: [&str; 6] = [
    "version",
    "metadata",
    "architecture",
    "config",
    "weights",
    "sample_rate",
];

/// The keys of a legacy (0.5) layer array, in the 0.5 trainer's order.
const LEGACY_ARRAY_KEYS: [&str; 9] = [
    "input_size",
    "condition_size",
    "channels",
    "head_size",
    "kernel_size",
    "dilations",
    "activation",
    "gated",
    "head_bias",
];

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// Sets every version in the document tree to 0.0.0, so specs compare on
/// config and weights alone (the writer chooses the version by layout).
fn without_versions(mut file: NamFile) -> NamFile {
    file.version = nam_kernel::format::Version::new(0, 0, 0);
    match &mut file.spec {
        ModelSpec::WaveNet { config, .. } => {
            if let Some(nested) = config.condition_dsp.take() {
                config.condition_dsp = Some(Box::new(without_versions(*nested)));
            }
        }
        ModelSpec::SlimmableContainer { submodels } => {
            for s in submodels {
                s.model = without_versions(s.model.clone());
            }
        }
        _ => {}
    }
    file
}

fn output(file: &NamFile, input: &[f32]) -> Vec<f32> {
    let mut model = Model::build(file, BuildOptions::default()).expect("builds");
    let mut out = vec![0.0; input.len()];
    model.process(input, &mut out);
    out
}

/// JSON equality with numbers compared as `f32` (the weights' precision).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64().map(|v| v as f32) == y.as_f64().map(|v| v as f32),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.keys().eq(y.keys()) && x.values().zip(y.values()).all(|(x, y)| same_json(x, y))
        }
        _ => a == b,
    }
}

#[test]
fn every_fixture_round_trips_with_the_same_config_weights_and_output() {
    let cases = common::cases();
    for case in &cases {
        let original = NamFile::load(&case.model).unwrap_or_else(|e| panic!("{e}"));
        let text = original.to_json_string();
        let reread = NamFile::from_json_str(&text, &case.name)
            .unwrap_or_else(|e| panic!("{}: written document does not load: {e}", case.name));
        assert_eq!(
            format!("{:?}", without_versions(original.clone())),
            format!("{:?}", without_versions(reread.clone())),
            "{}: config, weights or metadata changed",
            case.name
        );
        let (diff, at) = common::max_abs_diff(
            &output(&original, &case.input),
            &output(&reread, &case.input),
        );
        assert!(
            diff <= 1e-7,
            "{}: output differs by {diff:e} at {at}",
            case.name
        );
        // Writing again gives the same text.
        assert_eq!(text, reread.to_json_string(), "{}: not stable", case.name);
    }
    println!("{} fixtures round-tripped", cases.len());
}

#[test]
fn documents_have_the_trainer_keys_in_its_order() {
    let mut compared = Vec::new();
    for case in common::cases() {
        let original: Value =
            serde_json::from_str(&std::fs::read_to_string(&case.model).unwrap()).unwrap();
        let written = NamFile::load(&case.model).unwrap().to_json_value();
        assert_eq!(keys(&written), TRAINER_KEYS, "{}", case.name);
        // Where the layout is unchanged the whole document is the trainer's,
        // key for key and number for number.
        if written["version"] == original["version"] {
            assert!(
                same_json(&written, &original),
                "{}: written document differs from the trainer's:\n{written}",
                case.name
            );
            compared.push(case.name);
        }
    }
    println!("identical to the trainer's document: {compared:?}");
    assert!(
        compared.len() >= 10,
        "too few documents compared: {compared:?}"
    );
}

#[test]
fn legacy_compatible_wavenets_are_written_in_the_legacy_layout_on_request() {
    let dir = common::fixtures_dir();
    for name in [
        "wavenet_standard",
        "wavenet_nano",
        "wavenet_feather_legacy_format",
        "wavenet_gated",
    ] {
        let file = NamFile::load(dir.join(format!("{name}.nam"))).unwrap();
        // By default: the trainer's current layout, which it can read back.
        let current = file.to_json_value();
        assert_eq!(current["version"], "0.7.0", "{name}");
        assert!(current["config"]["layers"][0]["head"].is_object(), "{name}");
        let written = file.to_json_value_with(WaveNetLayout::LegacyWhenPossible);
        assert_eq!(written["version"], "0.5.4", "{name}");
        let reread = NamFile::from_json_value(&written, name).unwrap();
        assert_eq!(
            reread.to_json_value(),
            current,
            "{name}: same model either way"
        );
        assert_eq!(written["config"]["head"], Value::Null, "{name}");
        for array in written["config"]["layers"].as_array().unwrap() {
            assert_eq!(keys(array), LEGACY_ARRAY_KEYS, "{name}");
            assert!(array["activation"].is_string(), "{name}");
        }
    }
    let gated = NamFile::load(dir.join("wavenet_gated.nam")).unwrap();
    let legacy = gated.to_json_value_with(WaveNetLayout::LegacyWhenPossible);
    assert_eq!(legacy["config"]["layers"][0]["gated"], true);
}

#[test]
fn other_wavenets_keep_the_current_layout() {
    let dir = common::fixtures_dir();
    for name in [
        "wavenet_a2",
        "wavenet_kernel4_leakyrelu",
        "wavenet_film",
        "wavenet_post_head",
        "wavenet_condition_dsp",
        "wavenet_bottleneck_head1x1",
        "wavenet_slimmable",
    ] {
        let written = NamFile::load(dir.join(format!("{name}.nam")))
            .unwrap()
            .to_json_value();
        assert_eq!(written["version"], "0.7.0", "{name}");
        assert!(written["config"]["layers"][0]["head"].is_object(), "{name}");
    }
    // Nested documents always use the current layout.
    let container = NamFile::load(dir.join("slimmable_container.nam"))
        .unwrap()
        .to_json_value();
    for submodel in container["config"]["submodels"].as_array().unwrap() {
        assert_eq!(submodel["model"]["version"], "0.7.0");
    }
}

#[test]
fn metadata_keeps_every_field_and_drops_non_finite_numbers() {
    let dir = common::fixtures_dir();
    let mut file = NamFile::load(dir.join("wavenet_nano.nam")).unwrap();
    file.metadata.name = Some("Test amp".into());
    file.metadata.gear_type = Some("amp".into());
    file.metadata.input_level_dbu = Some(12.5);
    file.metadata.output_level_dbu = Some(f64::NAN);
    file.metadata.loudness = Some(f64::INFINITY);
    file.metadata.training = Some(serde_json::json!({"validation_esr": 0.0125}));
    file.metadata
        .other
        .insert("custom".into(), serde_json::json!({"a": [1, 2]}));
    let written = file.to_json_value();
    let metadata = &written["metadata"];
    assert_eq!(
        keys(metadata),
        [
            "date",
            "gain",
            "name",
            "gear_type",
            "input_level_dbu",
            "custom",
            "training"
        ]
    );
    let reread = NamFile::from_json_value(&written, "written").unwrap();
    assert_eq!(reread.metadata.validation_esr(), Some(0.0125));
    assert_eq!(reread.metadata.name.as_deref(), Some("Test amp"));
    assert_eq!(reread.metadata.input_level_dbu, Some(12.5));
    assert_eq!(reread.metadata.output_level_dbu, None);
    assert_eq!(reread.metadata.loudness, None);
    assert_eq!(
        reread.metadata.other["custom"],
        file.metadata.other["custom"]
    );
}

#[test]
fn metadata_round_trips_with_unknown_and_mistyped_fields_kept() {
    let metadata = serde_json::json!({
        "date": {"year": 2025, "month": 1, "day": 2, "hour": 3, "minute": 4, "second": 5},
        "loudness": -18.25,
        "gain": 0.5,
        "name": "Amp",
        "modeled_by": "me",
        "gear_type": "amp",
        "gear_make": "Make",
        "gear_model": 7,
        "tone_type": "crunch",
        "input_level_dbu": 12.5,
        "output_level_dbu": "loud",
        "custom": {"nested": [1, 2.5, "x"]},
        "training": {"validation_esr": 0.0125}
    });
    let dir = common::fixtures_dir();
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("linear.nam")).unwrap()).unwrap();
    doc["metadata"] = metadata.clone();
    let parsed = NamFile::from_json_value(&doc, "doc").unwrap().metadata;
    // Mistyped known fields are kept as found, like unknown ones.
    assert_eq!(parsed.gear_model, None);
    assert_eq!(parsed.other["gear_model"], 7);
    assert_eq!(parsed.other["output_level_dbu"], "loud");
    // Every key comes back with its value (a mistyped one among the others).
    let written = parsed.to_json();
    assert_eq!(written, metadata);
    doc["metadata"] = written;
    let reparsed = NamFile::from_json_value(&doc, "written").unwrap().metadata;
    assert_eq!(reparsed, parsed);
}

#[test]
fn save_writes_a_loadable_file_and_refuses_a_broken_one() {
    let dir = common::fixtures_dir();
    let file = NamFile::load(dir.join("lstm_2x8.nam")).unwrap();
    let out = std::env::temp_dir().join(format!("nam-write-test-{}.nam", std::process::id()));
    file.save(&out).unwrap();
    let reread = NamFile::load(&out).unwrap();
    assert_eq!(format!("{:?}", reread.spec), format!("{:?}", file.spec));
    std::fs::remove_file(&out).unwrap();

    let mut broken = file.clone();
    if let ModelSpec::Lstm { weights, .. } = &mut broken.spec {
        weights[3] = f32::NAN;
    }
    let error = broken.save(&out).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert!(!out.exists(), "nothing is written for a broken document");
}

#[test]
fn weights_are_written_in_their_shortest_exact_form() {
    let dir = common::fixtures_dir();
    let mut file = NamFile::load(dir.join("linear.nam")).unwrap();
    let ModelSpec::Linear { weights, .. } = &mut file.spec else {
        panic!("linear.nam is a Linear model")
    };
    let tricky = [
        0.1_f32,
        -1.0e-30,
        3.402_823_5e38,
        f32::MIN_POSITIVE,
        1.0e-45,
        0.0,
        -0.0,
    ];
    weights[..tricky.len()].copy_from_slice(&tricky);
    let text = file.to_json_string();
    assert!(
        text.contains("[0.1,"),
        "shortest form: {}",
        &text[..200.min(text.len())]
    );
    let reread = NamFile::from_json_str(&text, "written").unwrap();
    let ModelSpec::Linear { weights: back, .. } = &reread.spec else {
        panic!("still Linear")
    };
    for (a, b) in tricky.iter().zip(back) {
        assert_eq!(a.to_bits(), b.to_bits(), "{a:e} read back as {b:e}");
    }
}

#[test]
fn a_hand_built_config_that_cannot_load_is_written_without_panic_and_not_saved() {
    let dir = common::fixtures_dir();
    let mut file = NamFile::load(dir.join("wavenet_nano.nam")).unwrap();
    if let ModelSpec::WaveNet { config, .. } = &mut file.spec {
        config.layer_arrays[0].layers.clear();
    }
    let written = file.to_json_value();
    assert!(written["config"]["layers"].is_array());
    let out = std::env::temp_dir().join(format!("nam-write-empty-{}.nam", std::process::id()));
    let error = file.save(&out).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    assert!(!out.exists());
}

/// The fixtures that are WaveNets with a slimmable layer array: each
/// document with the index of that array.
fn slimmable_fixtures() -> Vec<(String, Value, usize)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(common::fixtures_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("nam") {
            continue;
        }
        let document: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let arrays = document["config"]["layers"].as_array().cloned();
        let slimmable = arrays
            .unwrap_or_default()
            .iter()
            .position(|a| a["slimmable"].is_object());
        if let (Some(array), "WaveNet") =
            (slimmable, document["architecture"].as_str().unwrap_or(""))
        {
            found.push((path.display().to_string(), document, array));
        }
    }
    assert!(!found.is_empty(), "no slimmable WaveNet among the fixtures");
    found
}

/// A slimmable array's training options (`boosting`, `init_strategy`) are
/// read, written back into its `kwargs` (so a resumed training keeps them)
/// and change nothing played; a mistyped one is refused by its field.
#[test]
fn slimmable_training_options_are_kept_and_checked() {
    for (name, mut document, array) in slimmable_fixtures() {
        let plain = NamFile::from_json_value(&document, &name).unwrap();
        let slimmable = &mut document["config"]["layers"][array]["slimmable"];
        if !slimmable["kwargs"].is_object() {
            slimmable["kwargs"] = serde_json::json!({});
        }
        slimmable["kwargs"]["boosting"] = serde_json::json!(true);
        slimmable["kwargs"]["init_strategy"] = serde_json::json!("channel_causal");
        let file = NamFile::from_json_value(&document, &name).unwrap();
        let ModelSpec::WaveNet { config, .. } = &file.spec else {
            panic!("{name}: a WaveNet expected");
        };
        let slim = config.layer_arrays[array].slimmable.as_ref().unwrap();
        assert!(slim.boosting, "{name}");
        assert_eq!(
            slim.init_strategy.as_deref(),
            Some("channel_causal"),
            "{name}"
        );
        let written = file.to_json_value();
        let kwargs = &written["config"]["layers"][array]["slimmable"]["kwargs"];
        assert_eq!(kwargs["boosting"], true, "{name}");
        assert_eq!(kwargs["init_strategy"], "channel_causal", "{name}");
        let input: Vec<f32> = (0..512).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        assert_eq!(output(&file, &input), output(&plain, &input), "{name}");
        // Without them nothing is added.
        let written = plain.to_json_value();
        let kwargs = written["config"]["layers"][array]["slimmable"]["kwargs"]
            .as_object()
            .unwrap();
        assert_eq!(
            kwargs.keys().collect::<Vec<_>>(),
            ["allowed_channels"],
            "{name}"
        );

        document["config"]["layers"][array]["slimmable"]["kwargs"]["boosting"] =
            serde_json::json!("yes");
        let error = NamFile::from_json_value(&document, &name)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("boosting") && error.contains("expected true or false"),
            "{error}"
        );
    }
}
