//! Real-time safety: after `Model::build`, `process`, `reset`, `prewarm` and
//! `set_slimmable_size` never allocate or free, for every fixture architecture
//! and buffer lengths 1, 17, 64, 4096 and a long one. `assert_no_alloc`'s
//! allocator counts violations on this thread; a canary proves it does.

mod common;

use assert_no_alloc::{assert_no_alloc, violation_count, AllocDisabler};
use nam_kernel::{Model, NamFile};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

#[test]
fn the_detector_fires_on_an_allocation() {
    let before = violation_count();
    let v = assert_no_alloc(|| std::hint::black_box(vec![1_u8; 16]));
    assert!(violation_count() > before, "allocation was not detected");
    drop(v);
}

#[test]
fn processing_never_allocates() {
    let cases = common::cases();
    for case in &cases {
        let file = NamFile::load(&case.model).expect("fixture loads");
        let mut model = Model::build(&file, Default::default()).expect("fixture builds");
        let long: Vec<f32> = case.input.iter().cycle().take(48_000).copied().collect();
        let mut output = vec![0.0; long.len()];
        let before = violation_count();
        assert_no_alloc(|| {
            for length in [1, 17, 64, 4096, long.len()] {
                model.process(&long[..length], &mut output[..length]);
            }
            model.reset();
            model.prewarm();
            model.set_slimmable_size(0.0);
            model.process(&long[..999], &mut output[..999]);
            model.set_slimmable_size(1.0);
            model.process(&long[..999], &mut output[..999]);
        });
        assert_eq!(
            violation_count(),
            before,
            "{}: the audio path allocated",
            case.name
        );
        assert!(
            output.iter().all(|x| x.is_finite()),
            "{}: non-finite output",
            case.name
        );
    }
    assert!(!cases.is_empty());
}

#[test]
fn rtneural_and_guitarml_models_never_allocate() {
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut checked = 0;
    for name in [
        "rtneural/gen_gru16x2.json",
        "rtneural/gen_lstm20_dense_tanh.json",
        "rtneural/gen_lstm8x2_relu.json",
        "rtneural/gen_conv1d_groups_batchnorm.json",
        "rtneural/gen_gru8_softmax.json",
        "guitarml/gen_c6_k4_softgated.json",
        "guitarml/smartguitaramp_bluej_clean_p0088.json",
    ] {
        let file = NamFile::load(tests.join(name)).expect("model loads");
        for &kernels in nam_kernel::kernels::Kernels::available() {
            let options = nam_kernel::BuildOptions {
                kernels,
                ..Default::default()
            };
            let mut model = Model::build(&file, options).expect("model builds");
            let input: Vec<f32> = (0..4096).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
            let mut output = vec![0.0; input.len()];
            let before = violation_count();
            assert_no_alloc(|| {
                for length in [1, 17, 64, 4096] {
                    model.process(&input[..length], &mut output[..length]);
                }
                model.reset();
                model.process(&input, &mut output);
            });
            assert_eq!(
                violation_count(),
                before,
                "{name} on {}: allocated",
                kernels.name
            );
            assert!(output.iter().all(|x| x.is_finite()), "{name}");
            checked += 1;
        }
    }
    assert!(checked >= 7, "{checked}");
}
