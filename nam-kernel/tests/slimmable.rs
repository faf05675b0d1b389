//! Slimmable models at every size match the NAM trainer's output at that size
//! (`tests/slimmable/`, made by `scripts/make-slim-references.sh` with
//! `neural-amp-modeler` 0.13.0), from the first sample, with every kernel
//! table; switching sizes is allocation-free and lands in the reference state.

mod common;

use std::path::{Path, PathBuf};

use assert_no_alloc::{assert_no_alloc, violation_count, AllocDisabler};
use nam_kernel::format::slim;
use nam_kernel::format::ModelSpec;
use nam_kernel::kernels::Kernels;
use nam_kernel::{BuildOptions, Model, NamFile};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

struct Size {
    value: f64,
    channels: usize,
    expected: Vec<f32>,
}

struct Case {
    name: String,
    file: NamFile,
    tolerance: f32,
    sizes: Vec<Size>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slimmable")
}

/// The input and every case of `tests/slimmable/cases.json`. Panics when the
/// data is missing: a test that checks nothing is a defect.
fn cases() -> (Vec<f32>, Vec<Case>) {
    let dir = dir();
    let text = std::fs::read_to_string(dir.join("cases.json")).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/make-slim-references.sh)",
            dir.display()
        )
    });
    let index: serde_json::Value = serde_json::from_str(&text).expect("parse cases.json");
    let input = common::read_wav(&dir.join(index["input"].as_str().expect("input")));
    let cases: Vec<Case> = index["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let model = dir.join(c["model"].as_str().expect("model"));
            Case {
                name: c["name"].as_str().expect("name").to_owned(),
                file: NamFile::load(&model).unwrap_or_else(|e| panic!("{e}")),
                tolerance: c["tolerance"].as_f64().expect("tolerance") as f32,
                sizes: c["sizes"]
                    .as_array()
                    .expect("sizes")
                    .iter()
                    .map(|s| Size {
                        value: s["value"].as_f64().expect("value"),
                        channels: s["channels"].as_u64().expect("channels") as usize,
                        expected: common::read_wav(
                            &dir.join(s["output"].as_str().expect("output")),
                        ),
                    })
                    .collect(),
            }
        })
        .collect();
    // Every model in the folder is a listed case (none silently skipped).
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("list tests/slimmable")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "nam").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = cases.iter().map(|c| c.name.clone()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "the .nam files and cases.json disagree");
    assert!(
        cases.len() >= 6 && cases.iter().all(|c| c.sizes.len() >= 2),
        "expected at least 6 cases of at least 2 sizes in {}",
        dir.display()
    );
    (input, cases)
}

#[test]
fn every_size_matches_the_trainer_with_every_kernel_table() {
    let (input, cases) = cases();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &cases {
        for kernels in Kernels::available() {
            let options = BuildOptions {
                kernels,
                ..BuildOptions::default()
            };
            let mut model = Model::build(&case.file, options).expect("builds");
            assert_eq!(
                model.slimmable_size_count(),
                case.sizes.len(),
                "{}",
                case.name
            );
            assert_eq!(
                model.slimmable_size_index(),
                case.sizes.len() - 1,
                "{}: the default is the full size",
                case.name
            );
            // Largest first, so every step is a switch from another size.
            for (level, size) in case.sizes.iter().enumerate().rev() {
                model.set_slimmable_size(size.value);
                assert_eq!(model.slimmable_size_index(), level, "{}", case.name);
                let mut output = vec![0.0; input.len()];
                model.process(&input, &mut output);
                let (diff, at) = common::max_abs_diff(&output, &size.expected);
                println!(
                    "{:18} size {level} ({} ch, value {:.3}) {:8} max |diff| = {diff:.3e} at {at}",
                    case.name, size.channels, size.value, kernels.name
                );
                checked += 1;
                if diff.is_nan() || diff > case.tolerance {
                    failures.push(format!(
                        "{} size {level} ({}): max |diff| {diff:e} at sample {at} exceeds {:e}",
                        case.name, kernels.name, case.tolerance
                    ));
                }
            }
        }
    }
    println!("{checked} sizes checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_sliced_configs_have_the_trainers_channel_counts() {
    let (_, cases) = cases();
    for case in &cases {
        let sizes = slim::sizes(&case.file.spec);
        assert_eq!(sizes.len(), case.sizes.len(), "{}", case.name);
        for (size, reference) in sizes.iter().zip(&case.sizes) {
            assert!(
                size.min_value <= reference.value && reference.value < size.max_value
                    || reference.value >= 1.0,
                "{}: value {} outside [{}, {})",
                case.name,
                reference.value,
                size.min_value,
                size.max_value
            );
            let ModelSpec::WaveNet { config, .. } = &size.spec else {
                panic!("{}: a size is not a WaveNet", case.name);
            };
            assert_eq!(config.layer_arrays[0].channels, reference.channels);
            assert!(config.layer_arrays.iter().all(|a| a.slimmable.is_none()));
        }
    }
}

#[test]
fn switching_sizes_is_allocation_free_and_restarts_from_silence() {
    let (input, cases) = cases();
    let before = violation_count();
    for case in &cases {
        let mut model = Model::build(&case.file, BuildOptions::default()).expect("builds");
        let mut output = vec![0.0; input.len()];
        let mut scratch = vec![0.0; 300];
        for (level, size) in case.sizes.iter().enumerate() {
            // Play another size mid-stream, then switch: the new size starts
            // from the reference state (silence forever before).
            let other = &case.sizes[(level + 1) % case.sizes.len()];
            assert_no_alloc(|| {
                model.set_slimmable_size(other.value);
                model.process(&input[..300], &mut scratch);
                model.set_slimmable_size(size.value);
                for (i, o) in input.chunks(61).zip(output.chunks_mut(61)) {
                    model.process(i, o);
                }
            });
            let (diff, at) = common::max_abs_diff(&output, &size.expected);
            assert!(
                diff <= case.tolerance,
                "{} size {level} after a switch: {diff:e} at {at}",
                case.name
            );
        }
    }
    assert_eq!(violation_count(), before, "switching sizes allocated");
}

#[test]
fn requested_sizes_take_over_after_one_receptive_field_in_the_exact_state() {
    let (input, cases) = cases();
    let before = violation_count();
    let block = 61;
    for case in &cases {
        for (level, size) in case.sizes.iter().enumerate() {
            for from in 0..case.sizes.len() {
                if from == level {
                    continue;
                }
                let mut model = Model::build(&case.file, BuildOptions::default()).expect("builds");
                model.set_slimmable_size(case.sizes[from].value);
                let split = 7 * block;
                let mut output = vec![0.0; input.len()];
                assert_no_alloc(|| {
                    model.process(&input[..split], &mut output[..split]);
                    model.request_slimmable_size(size.value);
                    for (i, o) in input[split..]
                        .chunks(block)
                        .zip(output[split..].chunks_mut(block))
                    {
                        model.process(i, o);
                    }
                });
                assert_eq!(model.slimmable_size_index(), level, "{}", case.name);
                // The old size plays until the new one has heard one receptive
                // field of live input; from the next block on, the new size's
                // output is the trainer's for the whole input.
                let (diff, at) =
                    common::max_abs_diff(&output[..split], &case.sizes[from].expected[..split]);
                assert!(diff <= case.tolerance, "{}: {diff:e} at {at}", case.name);
                // The old size keeps playing, undisturbed, while the new one
                // warms up (no restart from silence).
                let warm_until = split + model.receptive_field() - 1;
                let (diff, at) = common::max_abs_diff(
                    &output[split..warm_until],
                    &case.sizes[from].expected[split..warm_until],
                );
                assert!(
                    diff <= case.tolerance,
                    "{} size {from} during the warm-up: {diff:e} at {}",
                    case.name,
                    at + split
                );
                let settled = warm_until + block;
                let (diff, at) =
                    common::max_abs_diff(&output[settled..], &size.expected[settled..]);
                assert!(
                    diff <= case.tolerance,
                    "{} size {from} -> {level}: {diff:e} at {} after the switch",
                    case.name,
                    at + settled
                );
            }
        }
    }
    assert_eq!(violation_count(), before, "requesting sizes allocated");
}

#[test]
fn the_shared_slimmable_fixture_has_three_sizes_and_others_one() {
    let fixtures = common::fixtures_dir();
    let model = Model::load(fixtures.join("wavenet_slimmable.nam")).expect("loads");
    assert_eq!(model.slimmable_size_count(), 3);
    assert_eq!(
        model.slimmable_breakpoints(),
        vec![1.0 / 3.0, 2.0 / 3.0],
        "uniform breakpoints"
    );
    let mut plain = Model::load(fixtures.join("wavenet_nano.nam")).expect("loads");
    assert_eq!(plain.slimmable_size_count(), 1);
    plain.set_slimmable_size(0.0);
    assert_eq!(plain.slimmable_size_index(), 0);
    assert!(plain.slimmable_breakpoints().is_empty());
}

/// Every fixture loaded and built, with its architecture.
fn built_fixtures() -> Vec<(PathBuf, NamFile, Model)> {
    let dir = common::fixtures_dir();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures folder")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|x| x == "nam"))
        .collect();
    entries.sort();
    entries
        .into_iter()
        .map(|path| {
            let file = NamFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let model = Model::build(&file, BuildOptions::default()).expect("builds");
            (path, file, model)
        })
        .collect()
}

#[test]
fn the_files_receptive_field_is_the_loaded_models_for_every_fixture() {
    let fixtures = built_fixtures();
    assert!(!fixtures.is_empty(), "no fixtures");
    for (path, file, model) in &fixtures {
        assert_eq!(
            file.spec.receptive_field(),
            model.receptive_field(),
            "{}",
            path.display()
        );
    }
}

#[test]
fn a_containers_receptive_field_is_its_playing_submodels() {
    let mut containers = 0;
    for (path, file, mut model) in built_fixtures() {
        if file.architecture() != "SlimmableContainer" {
            continue;
        }
        containers += 1;
        let sizes = slim::sizes(&file.spec);
        let fields: Vec<usize> = sizes.iter().map(|s| s.spec.receptive_field()).collect();
        assert!(
            fields.windows(2).any(|w| w[0] != w[1]),
            "{}: the submodels' receptive fields should differ for this test to mean anything",
            path.display()
        );
        // By default the last submodel plays, and the file's answer is its.
        assert_eq!(file.spec.receptive_field(), *fields.last().unwrap());
        for (size, &field) in sizes.iter().zip(&fields) {
            model.set_slimmable_size(size.min_value);
            assert_eq!(model.receptive_field(), field, "{}", path.display());
            assert_eq!(model.prewarm_frames(), field - 1, "{}", path.display());
        }
    }
    assert!(containers > 0, "no SlimmableContainer among the fixtures");
}
