//! Shared helpers for the integration tests: the reference fixtures in
//! `../shared/fixtures` (override with `NAM_FIXTURES_DIR`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// One reference case: a model, an input and the trainer's output.
pub struct Case {
    pub name: String,
    pub model: PathBuf,
    pub input: Vec<f32>,
    pub expected: Vec<f32>,
    pub tolerance: f32,
}

/// The fixtures folder. Panics loudly when it is missing: a test that silently
/// checks nothing is a defect.
pub fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("NAM_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    assert!(
        dir.join("cases.json").is_file(),
        "reference fixtures not found at {} (set NAM_FIXTURES_DIR)",
        dir.display()
    );
    dir
}

pub fn read_wav(path: &Path) -> Vec<f32> {
    let mut reader = hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let spec = reader.spec();
    assert_eq!(spec.channels, 1, "{}: fixtures are mono", path.display());
    match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().map(Result::unwrap).collect(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1_i64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.unwrap() as f32 * scale)
                .collect()
        }
    }
}

/// Every `*.nam` in the fixtures folder with its input, output and tolerance
/// (from `cases.json`, 1e-5 when a case is not listed there).
pub fn cases() -> Vec<Case> {
    let dir = fixtures_dir();
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("cases.json")).expect("read cases.json"),
    )
    .expect("parse cases.json");
    let tolerance_of = |name: &str| -> f32 {
        index["cases"]
            .as_array()
            .and_then(|cases| cases.iter().find(|c| c["name"] == name))
            .and_then(|c| c["tolerance"].as_f64())
            .unwrap_or(1e-5) as f32
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("list fixtures")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "nam").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no .nam fixtures in {}", dir.display());
    names
        .into_iter()
        .map(|name| Case {
            model: dir.join(format!("{name}.nam")),
            input: read_wav(&dir.join(format!("{name}.input.wav"))),
            expected: read_wav(&dir.join(format!("{name}.output.wav"))),
            tolerance: tolerance_of(&name),
            name,
        })
        .collect()
}

/// Largest absolute difference, and where.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> (f32, usize) {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .enumerate()
        .fold(
            (0.0, 0),
            |(m, at), (i, d)| if d > m || d.is_nan() { (d, i) } else { (m, at) },
        )
}
