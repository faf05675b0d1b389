//! The loader's resource limits: file size (checked before reading),
//! multiply-adds per sample (checked before building), and loading time that
//! grows linearly with the model (the prewarm does not cost a receptive field
//! of processing). Also a UTF-8 byte order mark, which editors add.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nam_kernel::format::limits::{MAX_FILE_BYTES, MAX_MACS_PER_SAMPLE};
use nam_kernel::{BuildOptions, FormatError, Model, NamFile};

fn scratch_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("limits");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A Linear model of `taps` taps without bias, every tap 1e-6.
fn linear(taps: usize) -> String {
    let weights = vec!["1e-6"; taps].join(",");
    format!(
        r#"{{"version": "0.5.4", "architecture": "Linear",
            "config": {{"receptive_field": {taps}, "bias": false}},
            "weights": [{weights}]}}"#
    )
}

#[test]
fn a_file_above_the_size_limit_is_refused_before_it_is_read() {
    let path = scratch_path("huge.nam");
    let file = std::fs::File::create(&path).unwrap();
    // Sparse: no disk space, but reading it would cost the whole size.
    file.set_len(MAX_FILE_BYTES + 1).unwrap();
    drop(file);
    let start = Instant::now();
    let err = NamFile::load(&path).expect_err("a file above the limit");
    assert!(start.elapsed() < Duration::from_millis(500), "{err}");
    assert!(
        matches!(err.kind, FormatError::FileTooLarge { bytes, limit }
            if bytes == MAX_FILE_BYTES + 1 && limit == MAX_FILE_BYTES),
        "{err:?}"
    );
    let message = Model::load(&path).expect_err("Model::load too").to_string();
    for part in [
        &path.display().to_string(),
        &(MAX_FILE_BYTES + 1).to_string(),
        &MAX_FILE_BYTES.to_string(),
    ] {
        assert!(message.contains(part.as_str()), "`{message}` lacks {part}");
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn a_utf8_byte_order_mark_is_accepted() {
    let case = &common::cases()[0];
    let text = std::fs::read_to_string(&case.model).unwrap();
    let with_bom = format!("\u{feff}{text}");
    NamFile::from_json_str(&with_bom, "bom.nam").unwrap_or_else(|e| panic!("{e}"));
    let path = scratch_path("bom.nam");
    std::fs::write(&path, with_bom).unwrap();
    Model::load(&path).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn models_above_the_compute_limit_are_refused_with_the_figure() {
    let limit = MAX_MACS_PER_SAMPLE as usize;
    let err = NamFile::from_json_str(&linear(limit + 1), "fir.nam").expect_err("over the limit");
    assert!(
        matches!(err.kind, FormatError::TooMuchCompute { macs, limit: l, .. }
            if macs == MAX_MACS_PER_SAMPLE + 1 && l == MAX_MACS_PER_SAMPLE),
        "{err:?}"
    );
    let message = err.to_string();
    for part in ["fir.nam", &(limit + 1).to_string(), &limit.to_string()] {
        assert!(message.contains(part), "`{message}` lacks {part}");
    }

    // A WaveNet with kernel 1024: 5 layers of 8 → 8 channels cost 327 680
    // multiply-adds per sample in their dilated convolutions alone.
    let (channels, kernel, layers) = (8usize, 1024usize, 5usize);
    // conv and its bias, input mixer, 1x1 and its bias.
    let per_layer = channels * channels * kernel + 3 * channels + channels * channels;
    // rechannel, layers, head rechannel and its bias, head_scale.
    let weights = channels + layers * per_layer + channels + 1 + 1;
    let text = format!(
        r#"{{"version": "0.5.4", "architecture": "WaveNet", "config": {{
            "layers": [{{"input_size": 1, "condition_size": 1, "channels": {channels},
                "head_size": 1, "kernel_size": {kernel}, "dilations": {:?},
                "activation": "Tanh", "gated": false, "head_bias": true}}],
            "head": null, "head_scale": 0.5}},
            "weights": [{}]}}"#,
        vec![1; layers],
        vec!["0"; weights].join(",")
    );
    let err = NamFile::from_json_str(&text, "wide.nam").expect_err("over the limit");
    assert!(
        matches!(err.kind, FormatError::TooMuchCompute { macs, .. } if macs > MAX_MACS_PER_SAMPLE),
        "{err:?}"
    );
}

#[test]
fn a_model_at_the_compute_limit_builds_in_linear_time() {
    // 2^18 taps: prewarming by feeding a receptive field of zeros would cost
    // 2^36 multiply-adds (seconds); settling costs two frames.
    let file = NamFile::from_json_str(&linear(MAX_MACS_PER_SAMPLE as usize), "fir.nam")
        .unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    let mut model = Model::build(&file, BuildOptions::default()).unwrap();
    model.reset();
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(1),
        "build and reset took {elapsed:?}"
    );
}

#[test]
fn prewarm_settles_as_feeding_zeros_does() {
    for case in common::cases() {
        let file = NamFile::load(&case.model).unwrap();
        let mut settled = Model::build(&file, BuildOptions::default()).unwrap();
        let mut fed = Model::build(&file, BuildOptions::default()).unwrap();
        let zeros = vec![0.0; fed.prewarm_frames()];
        let mut discard = vec![0.0; zeros.len()];
        fed.process(&zeros, &mut discard);
        let mut a = vec![0.0; case.input.len()];
        let mut b = vec![0.0; case.input.len()];
        settled.process(&case.input, &mut a);
        fed.process(&case.input, &mut b);
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(worst <= 1e-6, "{}: differs by {worst}", case.name);
    }
}
