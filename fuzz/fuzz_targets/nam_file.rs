//! `.nam` files: parse, validate and build a model, then play a short signal.
//!
//! Any input must give either an error or a model whose output is finite
//! (unless the file holds extreme numbers, see
//! [`nam_fuzz::holds_extreme_numbers`]) and that, after `reset`, plays the
//! same signal bit for bit; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nam_fuzz::{assert_finite_unless_extreme, pick, test_signal, LimitedAllocator};
use nam_kernel::{BuildOptions, Model, NamFile};

#[global_allocator]
static ALLOCATOR: LimitedAllocator = LimitedAllocator;

/// Frames played: more than one block, and not a multiple of it.
const FRAMES: usize = 150;

/// Call sizes (cycled): odd ones, to cross block edges.
const SPLITS: [usize; 4] = [1, 7, 64, 13];

/// Plays `input` through `model` in calls of [`SPLITS`] frames.
fn play(model: &mut Model, input: &[f32]) -> Vec<f32> {
    let mut output = vec![0.0; input.len()];
    let mut start = 0;
    for &size in SPLITS.iter().cycle() {
        if start == input.len() {
            break;
        }
        let end = (start + size).min(input.len());
        model.process(&input[start..end], &mut output[start..end]);
        start = end;
    }
    output
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(file) = NamFile::from_json_str(text, "fuzz.nam") else {
        return;
    };
    let options = BuildOptions {
        max_block_frames: pick(data, &[64, 1, 32]),
        ..BuildOptions::default()
    };
    let Ok(mut model) = Model::build(&file, options) else {
        return;
    };
    if model.slimmable_size_count() > 1 {
        model.set_slimmable_size(pick(data, &[0.0, 0.3, 0.6, 1.0]));
    }

    let input = test_signal(FRAMES);
    let first = play(&mut model, &input);
    assert_finite_unless_extreme(&first, "the model's output", &file);
    model.reset();
    let again = play(&mut model, &input);
    assert!(
        first
            .iter()
            .zip(&again)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "the output after reset differs from the first"
    );
});
