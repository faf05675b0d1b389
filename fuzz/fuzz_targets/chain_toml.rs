//! `chain.toml` chains: parse, build the graph (loading the files it names)
//! and play a short signal through it.
//!
//! The chain sits in a scratch folder holding the demo model and cabinet IR
//! (as `drive.nam`, `cab.wav` and `demo/…`, so the chains of `examples/`
//! build); a chain whose strings name anything outside that folder (an
//! absolute path or `..`) is skipped, so no input reads the rest of the
//! filesystem. Any other input must give either an error or a graph whose
//! output is finite; never a panic.
#![no_main]

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nam_fuzz::{assert_finite, pick, scratch_dir, test_signal, write_file, LimitedAllocator};
use nam_graph::Chain;

#[global_allocator]
static ALLOCATOR: LimitedAllocator = LimitedAllocator;

/// Frames played (the graph splits them into its own blocks).
const FRAMES: usize = 300;

const MODEL: &[u8] = include_bytes!("../../examples/demo/drive.nam");
const IR: &[u8] = include_bytes!("../../examples/demo/cab.wav");

/// The chain file's path (never written: the input is parsed from memory),
/// in a folder holding the files chains may name.
fn chain_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = scratch_dir("chain_toml");
        for sub in ["", "demo"] {
            let folder = dir.join(sub);
            std::fs::create_dir_all(&folder).expect("cannot make the scratch folder");
            write_file(&folder.join("drive.nam"), MODEL);
            write_file(&folder.join("cab.wav"), IR);
        }
        dir.join("chain.toml")
    })
}

/// Whether every string in `value` stays inside the chain's folder when taken
/// as a path relative to it.
fn confined(value: &toml::Value) -> bool {
    match value {
        toml::Value::String(text) => Path::new(text)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir)),
        toml::Value::Array(items) => items.iter().all(confined),
        toml::Value::Table(table) => table.values().all(confined),
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = chain_path();
    let Ok(chain) = Chain::parse(text, path) else {
        return;
    };
    // The chain parsed, so the text is a TOML table.
    let table: toml::Table = toml::from_str(text).expect("a parsed chain is TOML");
    if !table.values().all(confined) {
        return;
    }
    let (rate, channels) = pick(data, &[(48_000.0, 1), (44_100.0, 2), (96_000.0, 1)]);
    let Ok(mut graph) = chain.build(rate, channels) else {
        return;
    };
    let input = test_signal(FRAMES);
    let mut outputs = vec![vec![0.0; FRAMES]; channels];
    let inputs = vec![input.as_slice(); channels];
    let mut output_refs: Vec<&mut [f32]> = outputs.iter_mut().map(Vec::as_mut_slice).collect();
    graph.process(&inputs, &mut output_refs);
    for output in &outputs {
        assert_finite(output, "the graph's output");
    }
});
