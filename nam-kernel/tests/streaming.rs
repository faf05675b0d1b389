//! The streaming contract: output does not depend on how the input is split
//! into buffers or on the internal block size, and `reset` returns a model to
//! the state of a fresh one.

mod common;

use nam_kernel::{BuildOptions, Model, NamFile};

/// Enough input to pass every fixture's receptive field (at most 6 347) and
/// exercise the history buffers' rewinds, while keeping 1-frame calls quick.
const FRAMES: usize = 9_000;

fn build(file: &NamFile, max_block_frames: usize) -> Model {
    let options = BuildOptions {
        max_block_frames,
        ..BuildOptions::default()
    };
    Model::build(file, options).expect("fixture builds")
}

fn run_in_pieces(
    model: &mut Model,
    input: &[f32],
    sizes: &mut dyn Iterator<Item = usize>,
) -> Vec<f32> {
    let mut output = vec![0.0; input.len()];
    let mut start = 0;
    while start < input.len() {
        let n = sizes
            .next()
            .expect("endless sizes")
            .min(input.len() - start);
        model.process(&input[start..start + n], &mut output[start..start + n]);
        start += n;
    }
    output
}

/// A deterministic mix of block sizes from 0 to 600, zero included.
fn mixed_sizes() -> impl Iterator<Item = usize> {
    let mut state = 0x2545_f491_u32;
    std::iter::repeat_with(move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 601) as usize
    })
}

#[test]
fn output_does_not_depend_on_buffer_sizes() {
    let cases = common::cases();
    for case in &cases {
        let file = NamFile::load(&case.model).expect("fixture loads");
        let input = &case.input[..FRAMES.min(case.input.len())];
        let whole = run_in_pieces(
            &mut build(&file, 256),
            input,
            &mut std::iter::repeat(input.len()),
        );
        let splits: [(&str, Box<dyn Iterator<Item = usize>>); 5] = [
            ("1", Box::new(std::iter::repeat(1))),
            ("7", Box::new(std::iter::repeat(7))),
            ("64", Box::new(std::iter::repeat(64))),
            ("4096", Box::new(std::iter::repeat(4096))),
            ("mixed", Box::new(mixed_sizes())),
        ];
        for (label, mut sizes) in splits {
            let pieces = run_in_pieces(&mut build(&file, 256), input, &mut sizes);
            let (diff, at) = common::max_abs_diff(&pieces, &whole);
            assert!(
                diff <= 1e-7,
                "{}: blocks of {label} differ by {diff:e} at {at}",
                case.name
            );
        }
    }
    assert!(!cases.is_empty());
}

#[test]
fn output_does_not_depend_on_the_internal_block_size() {
    let cases = common::cases();
    for case in &cases {
        let file = NamFile::load(&case.model).expect("fixture loads");
        let input = &case.input[..FRAMES.min(case.input.len())];
        let reference = run_in_pieces(&mut build(&file, 256), input, &mut std::iter::repeat(333));
        for max_block in [1, 37, 64, 4096] {
            let output = run_in_pieces(
                &mut build(&file, max_block),
                input,
                &mut std::iter::repeat(333),
            );
            let (diff, at) = common::max_abs_diff(&output, &reference);
            assert!(
                diff <= 1e-7,
                "{}: max block {max_block} differs by {diff:e} at {at}",
                case.name
            );
        }
    }
}

#[test]
fn reset_returns_to_the_fresh_state() {
    let cases = common::cases();
    for case in &cases {
        let file = NamFile::load(&case.model).expect("fixture loads");
        let input = &case.input[..FRAMES.min(case.input.len())];
        let mut fresh = build(&file, 128);
        let expected = run_in_pieces(&mut fresh, input, &mut std::iter::repeat(100));
        // Disturb the state with loud noise, then reset.
        let noise: Vec<f32> = mixed_sizes()
            .take(3000)
            .map(|x| x as f32 / 300.0 - 1.0)
            .collect();
        let mut used = build(&file, 128);
        run_in_pieces(&mut used, &noise, &mut std::iter::repeat(100));
        used.reset();
        let after_reset = run_in_pieces(&mut used, input, &mut std::iter::repeat(100));
        let (diff, at) = common::max_abs_diff(&after_reset, &expected);
        assert!(
            diff <= 1e-7,
            "{}: output after reset differs by {diff:e} at {at}",
            case.name
        );
    }
}

#[test]
fn impulse_response_starts_at_sample_zero() {
    // NAM models add no latency: an impulse moves the output at its own sample.
    for case in common::cases() {
        let file = NamFile::load(&case.model).expect("fixture loads");
        let mut model = build(&file, 64);
        assert_eq!(model.latency_frames(), 0);
        let mut silence_out = vec![0.0; 200];
        model.process(&[0.0; 200], &mut silence_out);
        model.reset();
        let mut impulse = vec![0.0; 200];
        impulse[100] = 0.5;
        let mut out = vec![0.0; 200];
        model.process(&impulse, &mut out);
        let first_change = out
            .iter()
            .zip(&silence_out)
            .position(|(a, b)| (a - b).abs() > 1e-9);
        assert_eq!(
            first_change,
            Some(100),
            "{}: impulse response onset",
            case.name
        );
    }
}

#[test]
fn mismatched_lengths_process_the_common_prefix_and_zero_the_rest() {
    let case = &common::cases()[0];
    let mut model = Model::load(&case.model).expect("fixture loads");
    let mut output = vec![9.0; 20];
    model.process(&case.input[..10], &mut output);
    assert!(output[10..].iter().all(|&x| x == 0.0));
    let mut expected = vec![0.0; 10];
    model.reset();
    model.process(&case.input[..10], &mut expected);
    assert_eq!(&output[..10], &expected[..]);
}
