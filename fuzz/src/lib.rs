//! What the fuzz targets in `fuzz_targets/` share: an allocator that turns a
//! huge allocation into a crash, a scratch folder for the files a target
//! needs, and the signal the targets play through what they build.
//!
//! The targets are built on stable Rust without a sanitizer (see
//! `scripts/fuzz.sh`), so libFuzzer's `-malloc_limit_mb` has no effect: an
//! allocation sized from a corrupt header that is never touched would go
//! unnoticed. [`LimitedAllocator`] makes it a crash instead.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The largest single allocation a target may make: a quarter more than the
/// 1 GiB of state `nam-kernel` allows one model.
pub const MAX_ALLOCATION_BYTES: usize = 1_280 << 20;

/// The system allocator, aborting on any allocation larger than
/// [`MAX_ALLOCATION_BYTES`] (libFuzzer reports the abort as a crash and saves
/// the input). Each target installs it with `#[global_allocator]`.
pub struct LimitedAllocator;

impl LimitedAllocator {
    fn check(size: usize) {
        if size > MAX_ALLOCATION_BYTES {
            // No allocation here: format into a stack buffer.
            let mut message = [0u8; 128];
            let mut cursor = std::io::Cursor::new(&mut message[..]);
            let _ = writeln!(
                cursor,
                "nam-fuzz: allocation of {size} bytes (limit {MAX_ALLOCATION_BYTES})"
            );
            let end = cursor.position() as usize;
            let _ = std::io::stderr().write_all(&message[..end]);
            std::process::abort();
        }
    }
}

// SAFETY: every call is forwarded unchanged to `System` after the size check,
// which only aborts.
unsafe impl GlobalAlloc for LimitedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        // SAFETY: the caller's contract for `layout`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout (caller's contract).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::check(new_size);
        // SAFETY: as in `dealloc`; `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// A fresh folder for this process's files: `nam-fuzz-<pid>/<name>` in the
/// system's temporary folder (`TMPDIR`; `scripts/fuzz.sh` points it into its
/// working folder, which it removes).
///
/// # Panics
/// If the folder cannot be made (a broken setup, not a finding).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("nam-fuzz-{}", std::process::id()))
        .join(name);
    std::fs::create_dir_all(&dir).expect("cannot make the scratch folder");
    dir
}

/// Writes `bytes` to `path`.
///
/// # Panics
/// If the file cannot be written (a broken setup, not a finding).
pub fn write_file(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// `frames` frames of the test signal the targets play: a full-scale impulse,
/// then a sine at about 1 kHz (48 kHz) at −6 dBFS.
pub fn test_signal(frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|i| {
            if i == 0 {
                1.0
            } else {
                0.5 * (i as f32 * 0.13).sin()
            }
        })
        .collect()
}

/// Picks one of `options` from the input's length, so each input always
/// chooses the same (a reproducer replays it) and mutations reach them all.
pub fn pick<T: Copy>(data: &[u8], options: &[T]) -> T {
    options[data.len() % options.len()]
}

/// Panics unless every sample is finite; `what` names the output.
pub fn assert_finite(samples: &[f32], what: &str) {
    if let Some(i) = samples.iter().position(|x| !x.is_finite()) {
        panic!("{what}: sample {i} is {} (not finite)", samples[i]);
    }
}

/// The magnitude beyond which a number in a model document counts as extreme.
/// Trained weights stay far below it; a model holding one (a weight of
/// `1e38`, a `head_scale` of `1e30`) overflows `f32` honestly, in NAM's own
/// players as here, and its output may be infinite. The plugin and
/// `nam-graph run` catch such output; the kernel computes what the file says.
pub const EXTREME_MAGNITUDE: f64 = 1e4;

/// Keys whose numbers are counts, not values the model multiplies by: sample
/// rates and dilations may exceed [`EXTREME_MAGNITUDE`] in a sound model, and
/// the metadata does not reach the output.
const NOT_MULTIPLIED: [&str; 5] = [
    "metadata",
    "sample_rate",
    "samplerate",
    "dilation",
    "dilations",
];

/// Whether `doc` (a model document) holds a number beyond
/// ±[`EXTREME_MAGNITUDE`] that the model multiplies by.
pub fn holds_extreme_numbers(doc: &serde_json::Value) -> bool {
    use serde_json::Value;
    match doc {
        Value::Number(n) => n.as_f64().is_none_or(|x| x.abs() > EXTREME_MAGNITUDE),
        Value::Array(items) => items.iter().any(holds_extreme_numbers),
        Value::Object(fields) => fields.iter().any(|(key, value)| {
            !NOT_MULTIPLIED.contains(&key.as_str()) && holds_extreme_numbers(value)
        }),
        Value::Null | Value::Bool(_) | Value::String(_) => false,
    }
}

/// Panics unless every sample is finite, where `file` holds no extreme number
/// ([`holds_extreme_numbers`]); `what` names the output.
pub fn assert_finite_unless_extreme(samples: &[f32], what: &str, file: &nam_kernel::NamFile) {
    if samples.iter().all(|x| x.is_finite()) {
        return;
    }
    if !holds_extreme_numbers(&file.to_json_value()) {
        assert_finite(samples, what);
    }
}
