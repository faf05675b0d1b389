//! Lightning checkpoints for `nam-tools import`: the input is read as a
//! `torch.save` archive, or, when it is not a zip, as the pickle inside one
//! (so the fuzzer reaches the pickle reader without a zip's checksums). A
//! checkpoint that reads is imported with the configs of the reference
//! checkpoints in tools/tests/ckpt/; an import that succeeds must give a model
//! that builds and plays a finite signal (unless its weights are extreme, see
//! [`nam_fuzz::holds_extreme_numbers`]). Any input must give an error or
//! that; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nam_fuzz::{assert_finite_unless_extreme, test_signal, LimitedAllocator};
use nam_kernel::{BuildOptions, Model};
use nam_tools::ckpt::archive::Checkpoint;
use nam_tools::ckpt::pickle::Pickle;

#[global_allocator]
static ALLOCATOR: LimitedAllocator = LimitedAllocator;

/// The model configs of the reference checkpoints, one per architecture
/// and WaveNet feature.
const CONFIGS: [&str; 9] = [
    include_str!("../../tools/tests/ckpt/linear.json"),
    include_str!("../../tools/tests/ckpt/convnet.json"),
    include_str!("../../tools/tests/ckpt/lstm.json"),
    include_str!("../../tools/tests/ckpt/wavenet.json"),
    include_str!("../../tools/tests/ckpt/wavenet_a2.json"),
    include_str!("../../tools/tests/ckpt/wavenet_prelu.json"),
    include_str!("../../tools/tests/ckpt/wavenet_slimmable.json"),
    include_str!("../../tools/tests/ckpt/wavenet_condition_dsp.json"),
    include_str!("../../tools/tests/ckpt/packed_two_arrays.json"),
];

fuzz_target!(|data: &[u8]| {
    if !data.starts_with(b"PK") {
        let _ = Pickle::parse(data);
        return;
    }
    let Ok(checkpoint) = Checkpoint::from_bytes(data, "fuzz.ckpt") else {
        return;
    };
    for config in CONFIGS {
        let config: serde_json::Value = serde_json::from_str(config).expect("a reference config");
        let Ok(file) = nam_tools::ckpt::from_checkpoints(
            &checkpoint,
            "fuzz.ckpt",
            &[],
            &config,
            "config.json",
        ) else {
            continue;
        };
        let mut model =
            Model::build(&file, BuildOptions::default()).expect("an imported model builds");
        let input = test_signal(100);
        let mut output = vec![0.0; input.len()];
        model.process(&input, &mut output);
        assert_finite_unless_extreme(&output, "the imported model's output", &file);
    }
});
