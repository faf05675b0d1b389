//! Impulse-response files: the graph's audio-file reader
//! (`nam_graph::audio_file`: WAV, FLAC, AIFF, told by content) and the
//! convolver built on it (`Convolver::from_file`, as an `ir` node of a chain
//! loads its file), prepared at the IR's rate or at 44.1 kHz (resampling the
//! IR) and played.
//!
//! Any input must give either an error naming the file or a convolver whose
//! output is finite (its documented contract); never a panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nam_fuzz::{assert_finite, pick, scratch_dir, test_signal, write_file, LimitedAllocator};
use nam_graph::nodes::convolver::{Convolver, ConvolverSettings};
use nam_graph::{Node, ProcessSpec};

#[global_allocator]
static ALLOCATOR: LimitedAllocator = LimitedAllocator;

/// Frames played, in blocks of at most [`BLOCK`].
const FRAMES: usize = 300;
const BLOCK: usize = 64;

/// Where each input is written: the reader opens files by path.
fn wav_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    // Named .wav whatever it holds: the reader goes by content.
    PATH.get_or_init(|| scratch_dir("ir_wav").join("ir.wav"))
}

fuzz_target!(|data: &[u8]| {
    let path = wav_path();
    write_file(path, data);
    let settings = ConvolverSettings {
        normalize: pick(data, &[false, true]),
        ..ConvolverSettings::default()
    };
    let mut convolver = match Convolver::from_file(path, settings) {
        Ok(convolver) => convolver,
        Err(error) => {
            let text = error.to_string();
            assert!(
                text.contains("ir.wav"),
                "an error not naming the file: {text}"
            );
            return;
        }
    };
    // Mostly at the IR's own rate: resampling an IR costs about 100 ms.
    let own_rate = convolver.impulse_response_rate_hz();
    let spec = ProcessSpec {
        sample_rate_hz: pick(data, &[own_rate, own_rate, 44_100.0]),
        max_block_frames: BLOCK,
    };
    if convolver.prepare(&spec).is_err() {
        return;
    }
    let input = test_signal(FRAMES);
    let mut output = vec![0.0; FRAMES];
    for (input, output) in input.chunks(BLOCK).zip(output.chunks_mut(BLOCK)) {
        convolver.process(input.len(), &[input], &mut [output]);
    }
    assert_finite(&output, "the convolver's output");
});
