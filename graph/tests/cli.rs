//! The `nam-graph` command as a user runs it: every WAV format in and out,
//! latency-aligned output, useful help, and one clear error (non-zero exit, no
//! output file) for each kind of bad input.

use std::path::{Path, PathBuf};
use std::process::Command;

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nam-graph"))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nam-graph-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo")
}

fn write_wav(path: &Path, spec: hound::WavSpec, frames: &[Vec<f32>]) {
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for t in 0..frames[0].len() {
        for channel in frames {
            match spec.sample_format {
                hound::SampleFormat::Float => w.write_sample(channel[t]).unwrap(),
                hound::SampleFormat::Int => {
                    let full = (1_i64 << (spec.bits_per_sample - 1)) as f32;
                    w.write_sample((channel[t] * full).round() as i32).unwrap()
                }
            }
        }
    }
    w.finalize().unwrap();
}

fn read_wav(path: &Path) -> (hound::WavSpec, Vec<Vec<f32>>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => r.samples::<f32>().map(Result::unwrap).collect(),
        hound::SampleFormat::Int => {
            let full = (1_i64 << (spec.bits_per_sample - 1)) as f32;
            r.samples::<i32>()
                .map(|s| s.unwrap() as f32 / full)
                .collect()
        }
    };
    let c = usize::from(spec.channels);
    let planar = (0..c)
        .map(|k| samples.iter().skip(k).step_by(c).copied().collect())
        .collect();
    (spec, planar)
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = binary().args(args).output().expect("run nam-graph");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `nam-graph run CHAIN INPUT -o OUTPUT`.
fn run_to(chain: &Path, input: &Path, output: &Path) -> (bool, String, String) {
    let arg = |path: &Path| path.to_str().expect("test paths are UTF-8").to_owned();
    let (chain, input, output) = (arg(chain), arg(input), arg(output));
    run(&["run", &chain, &input, "-o", &output])
}

fn tone(n: usize, phase: f32) -> Vec<f32> {
    (0..n)
        .map(|i| 0.3 * (i as f32 * 0.02 + phase).sin())
        .collect()
}

#[test]
fn every_wav_format_round_trips_in_its_own_format() {
    let dir = temp_dir("formats");
    let chain = demo().join("chain.toml");
    let reference = {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 48_000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let input = dir.join("reference.wav");
        write_wav(&input, spec, &[tone(4800, 0.0)]);
        let output = dir.join("reference.out.wav");
        let (ok, _, err) = run_to(&chain, &input, &output);
        assert!(ok, "{err}");
        read_wav(&output).1
    };
    for (bits, format, channels, tolerance) in [
        (16, hound::SampleFormat::Int, 1, 2e-3),
        (24, hound::SampleFormat::Int, 1, 1e-4),
        (32, hound::SampleFormat::Int, 1, 1e-5),
        (32, hound::SampleFormat::Float, 2, 1e-6),
        (24, hound::SampleFormat::Int, 2, 1e-4),
    ] {
        let spec = hound::WavSpec {
            channels,
            sample_rate: 48_000,
            bits_per_sample: bits,
            sample_format: format,
        };
        let signals: Vec<Vec<f32>> = (0..channels).map(|_| tone(4800, 0.0)).collect();
        let input = dir.join(format!("in-{bits}-{channels}.wav"));
        write_wav(&input, spec, &signals);
        let output = dir.join(format!("in-{bits}-{channels}.out.wav"));
        let (ok, stdout, err) = run_to(&chain, &input, &output);
        assert!(ok, "{bits}-bit {channels} ch: {err}");
        assert!(
            stdout.contains("real time"),
            "the final line gives the real-time factor: {stdout}"
        );
        let (out_spec, out) = read_wav(&output);
        assert_eq!(out_spec, spec, "the output keeps the input's format");
        for channel in &out {
            assert_eq!(channel.len(), 4800, "the output is as long as the input");
            let diff = channel
                .iter()
                .zip(&reference[0])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                diff <= tolerance,
                "{bits}-bit {channels} ch differs from float by {diff}"
            );
        }
    }
}

#[test]
fn format_can_be_chosen_and_the_default_output_sits_beside_the_input() {
    let dir = temp_dir("default");
    let input = dir.join("take.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    write_wav(&input, spec, &[tone(1000, 0.0)]);
    let chain = dir.join("chain.toml");
    std::fs::write(
        &chain,
        "[[node]]\nkind = \"nam\"\nmodel = \"../shared-model.nam\"\n",
    )
    .unwrap();
    let _ = std::fs::remove_file(dir.join("take.out.wav"));
    // A chain whose model is missing fails and leaves no output.
    let (ok, _, err) = run(&["run", chain.to_str().unwrap(), input.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.starts_with("error: ") && err.contains("chain.toml:3") && err.contains("no file at"),
        "{err}"
    );
    assert!(!dir.join("take.out.wav").exists());

    let model = demo().join("drive.nam");
    std::fs::write(
        &chain,
        format!(
            "[[node]]\nkind = \"nam\"\nmodel = \"{}\"\n",
            model.display()
        ),
    )
    .unwrap();
    let spec48 = hound::WavSpec {
        sample_rate: 48_000,
        ..spec
    };
    write_wav(&input, spec48, &[tone(1000, 0.0)]);
    let (ok, _, err) = run(&[
        "run",
        chain.to_str().unwrap(),
        input.to_str().unwrap(),
        "--format",
        "f32",
    ]);
    assert!(ok, "{err}");
    let (out_spec, _) = read_wav(&dir.join("take.out.wav"));
    assert_eq!(out_spec.sample_format, hound::SampleFormat::Float);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn bad_inputs_give_one_clear_error_and_no_output() {
    let dir = temp_dir("errors");
    let chain = demo().join("chain.toml");
    let chain = chain.to_str().unwrap();
    let not_wav = dir.join("notes.wav");
    std::fs::write(&not_wav, "this is not audio").unwrap();
    let bad_toml = dir.join("bad.toml");
    std::fs::write(&bad_toml, "[[node]\nkind = 1\n").unwrap();
    let surround = dir.join("surround.wav");
    let spec = hound::WavSpec {
        channels: 6,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    write_wav(&surround, spec, &vec![tone(10, 0.0); 6]);
    let missing = dir.join("missing.wav");
    let output = dir.join("out.wav");
    let cases: [(&str, &str, &str); 4] = [
        (
            chain,
            not_wav.to_str().unwrap(),
            "notes.wav: not an audio file this program reads (WAV, FLAC, AIFF): it looks like text",
        ),
        (
            bad_toml.to_str().unwrap(),
            not_wav.to_str().unwrap(),
            "bad.toml:1",
        ),
        (
            chain,
            surround.to_str().unwrap(),
            "surround.wav: 6 channels",
        ),
        (
            chain,
            missing.to_str().unwrap(),
            "missing.wav: cannot read the file",
        ),
    ];
    for (chain, input, expected) in cases {
        let (ok, _, err) = run(&["run", chain, input, "-o", output.to_str().unwrap()]);
        assert!(!ok, "{input} should fail");
        assert!(err.contains(expected), "expected `{expected}` in: {err}");
        assert_eq!(err.lines().count(), 1, "one line of error: {err}");
        assert!(!err.contains("panicked"));
        assert!(!output.exists(), "no output file after a failure");
    }
}

#[test]
fn help_describes_every_subcommand() {
    let (ok, out, _) = run(&["--help"]);
    assert!(ok && out.contains("run") && out.contains("check"));
    let (ok, out, _) = run(&["run", "--help"]);
    assert!(
        ok && out.contains("--output") && out.contains("--format") && out.contains("sample rate")
    );
    let (ok, out, _) = run(&["check", "--help"]);
    assert!(ok && out.contains("--rate"));
    let (ok, out, err) = run(&["check", demo().join("chain.toml").to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("latency 0 frames"), "{out}");
}

#[test]
fn a_48k_model_plays_in_a_44k_file_through_the_resampler() {
    // The same 220 Hz tone at both rates: the 44.1 kHz run goes through the
    // automatic resampling around the 48 kHz model and must come out as long
    // as its input, aligned, and at the same level as the native-rate run.
    let dir = temp_dir("rates");
    let chain = demo().join("chain.toml");
    let rms = |rate: u32| -> (usize, f32) {
        let n = rate as usize; // one second
        let tone: Vec<f32> = (0..n)
            .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 220.0 * i as f32 / rate as f32).sin())
            .collect();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let input = dir.join(format!("tone-{rate}.wav"));
        write_wav(&input, spec, &[tone]);
        let output = dir.join(format!("tone-{rate}.out.wav"));
        let (ok, stdout, err) = run_to(&chain, &input, &output);
        assert!(ok, "{err}");
        if rate != 48_000 {
            assert!(
                !stdout.contains("latency 0 frames"),
                "resampling adds latency, reported: {stdout}"
            );
        }
        let (_, out) = read_wav(&output);
        let settled = &out[0][n / 2..];
        (
            out[0].len(),
            (settled.iter().map(|x| x * x).sum::<f32>() / settled.len() as f32).sqrt(),
        )
    };
    let (len48, rms48) = rms(48_000);
    let (len44, rms44) = rms(44_100);
    assert_eq!((len48, len44), (48_000, 44_100));
    let difference_db = 20.0 * (rms44 / rms48).log10();
    assert!(
        difference_db.abs() < 0.5,
        "level at 44.1 kHz differs by {difference_db} dB"
    );
}

/// A mono float WAV of a quiet tone in `dir`.
fn tone_wav(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    write_wav(&path, spec, &[tone(4800, 0.0)]);
    path
}

/// A chain of one `nam` node `amp` playing `model` (a fixture edited by `edit`).
fn model_chain(dir: &Path, edit: impl FnOnce(&mut serde_json::Value), extra: &str) -> PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures");
    let text = std::fs::read_to_string(fixtures.join("linear.nam")).expect("fixture linear.nam");
    let mut model: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut model);
    std::fs::write(dir.join("model.nam"), model.to_string()).unwrap();
    let chain = dir.join("chain.toml");
    std::fs::write(
        &chain,
        format!("[[node]]\nid = \"amp\"\nkind = \"nam\"\nmodel = \"model.nam\"\n{extra}"),
    )
    .unwrap();
    chain
}

#[test]
fn the_output_is_never_the_input_under_another_name() {
    let dir = temp_dir("same-file");
    let chain = demo().join("chain.toml");
    let input = tone_wav(&dir, "in.wav");
    let original = std::fs::read(&input).unwrap();
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let dotted = dir.join("sub/../in.wav");
    let absolute = std::fs::canonicalize(&input).unwrap();
    let link = dir.join("link.wav");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    let hard = dir.join("hard.wav");
    std::fs::hard_link(&input, &hard).unwrap();
    for output in [&dotted, &absolute, &link, &hard] {
        let (ok, _, err) = run_to(&chain, &input, output);
        assert!(!ok, "{} overwrote the input", output.display());
        assert!(err.contains("this is the input file"), "{err}");
        assert_eq!(std::fs::read(&input).unwrap(), original, "input untouched");
    }
}

#[test]
fn a_symbolic_link_as_output_is_written_through_and_kept() {
    let dir = temp_dir("symlink");
    let chain = demo().join("chain.toml");
    let input = tone_wav(&dir, "in.wav");
    let target = dir.join("target.wav");
    std::fs::write(&target, "old").unwrap();
    let link = dir.join("link.wav");
    std::os::unix::fs::symlink("target.wav", &link).unwrap();
    let (ok, _, err) = run_to(&chain, &input, &link);
    assert!(ok, "{err}");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        read_wav(&target).1[0].len(),
        4800,
        "the target holds the output"
    );

    let dangling = dir.join("dangling.wav");
    std::os::unix::fs::symlink("nowhere/x.wav", &dangling).unwrap();
    let (ok, _, err) = run_to(&chain, &input, &dangling);
    assert!(!ok && err.contains("symbolic link"), "{err}");
    assert!(std::fs::symlink_metadata(&dangling)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn temporaries_of_killed_runs_are_removed() {
    let dir = temp_dir("partial");
    let chain = demo().join("chain.toml");
    let input = tone_wav(&dir, "in.wav");
    // What a run killed while writing leaves (no process has this id: Linux
    // ids stop at 2^22).
    let stale = dir.join(".out.wav.partial-999999999");
    std::fs::write(&stale, "").unwrap();
    let output = dir.join("out.wav");
    let (ok, _, err) = run_to(&chain, &input, &output);
    assert!(ok, "{err}");
    assert!(!stale.exists(), "the stale temporary is removed");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn non_finite_output_fails_naming_the_node() {
    let dir = temp_dir("non-finite");
    let input = tone_wav(&dir, "in.wav");
    let output = dir.join("out.wav");
    // Weights of 1e38 are finite, their sums are not.
    let chain = model_chain(
        &dir,
        |m| {
            for w in m["weights"].as_array_mut().unwrap() {
                *w = serde_json::json!(1e38);
            }
        },
        "",
    );
    let (ok, _, err) = run_to(&chain, &input, &output);
    assert!(!ok, "non-finite output was written");
    assert!(
        err.contains("node `amp`") && err.contains("non-finite"),
        "{err}"
    );
    assert!(!output.exists());
}

#[test]
fn absurd_metadata_gains_are_ignored_with_a_warning() {
    let dir = temp_dir("loudness");
    let input = tone_wav(&dir, "in.wav");
    let output = dir.join("out.wav");
    for loudness in [-300.0, 1e308] {
        let chain = model_chain(
            &dir,
            |m| m["metadata"]["loudness"] = serde_json::json!(loudness),
            "output_mode = \"normalized\"\n",
        );
        let (ok, _, err) = run_to(&chain, &input, &output);
        assert!(ok, "{err}");
        assert!(
            err.contains("warning: node `amp`") && err.contains("`loudness`"),
            "{err}"
        );
        let peak = read_wav(&output).1[0]
            .iter()
            .fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(peak < 10.0, "played raw, not amplified: peak {peak}");
    }
}

#[test]
fn a_wav_header_announcing_no_audio_is_an_error() {
    let dir = temp_dir("zero-data");
    let input = tone_wav(&dir, "in.wav");
    let mut bytes = std::fs::read(&input).unwrap();
    let data = bytes.windows(4).position(|w| w == b"data").unwrap();
    bytes[data + 4..data + 8].copy_from_slice(&0u32.to_le_bytes());
    std::fs::write(&input, bytes).unwrap();
    let output = dir.join("out.wav");
    let (ok, _, err) = run_to(&demo().join("chain.toml"), &input, &output);
    assert!(!ok, "a 0-frame output was written");
    let size = std::fs::metadata(&input).unwrap().len();
    assert!(
        err.contains("in.wav: the file has no samples") && err.contains(&format!("{size} bytes")),
        "{err}"
    );
    assert!(!output.exists());
}

/// The demo chain with its cabinet IR replaced by `cab` (and its model by
/// the demo's, by absolute path), written to `dir/NAME.toml`.
fn demo_chain_with_cab(dir: &Path, name: &str, cab: &Path) -> PathBuf {
    let text = std::fs::read_to_string(demo().join("chain.toml")).unwrap();
    let model = demo().join("drive.nam");
    let text = text
        .replace("\"drive.nam\"", &format!("{:?}", model.to_str().unwrap()))
        .replace("\"cab.wav\"", &format!("{:?}", cab.to_str().unwrap()));
    assert!(
        text.contains(cab.to_str().unwrap()),
        "the demo chain names cab.wav"
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn flac_and_aiff_cabs_and_inputs_render_like_their_wavs() {
    let dir = temp_dir("containers");
    let audio = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/audio");
    let input = demo().join("di.wav");
    let render = |cab: &str, input: &Path| {
        let chain = demo_chain_with_cab(&dir, cab, &audio.join(cab));
        let output = dir.join(format!("{cab}.out.wav"));
        let (ok, _, err) = run_to(&chain, input, &output);
        assert!(ok, "{cab}: {err}");
        read_wav(&output).1
    };
    let wav = render("cab_s24.wav", &input);
    assert!(
        wav[0].iter().any(|&x| x.abs() > 0.01),
        "the render is not silent"
    );
    for cab in ["cab_s24.flac", "cab_s24.aiff", "cab_f32.wav"] {
        assert_eq!(render(cab, &input), wav, "{cab} renders unlike cab_s24.wav");
    }
    // Inputs too: the IR itself as input, in each container.
    let as_input = render("cab_s24.wav", &audio.join("cab_s24.wav"));
    assert_eq!(as_input[0].len(), 2048);
    for name in ["cab_s24.flac", "cab_s24.aiff"] {
        let other = render("cab_s24.wav", &audio.join(name));
        assert_eq!(other, as_input, "{name} as input");
    }
}

/// A generated AIDA-X model of `nam-kernel/tests/rtneural`.
fn aidax_model(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../nam-kernel/tests/rtneural/{name}"))
}

#[test]
fn an_aida_x_model_plays_in_a_chain_as_the_kernel_plays_it() {
    // Named `.aidax` (the loader goes by content), at its own 48 kHz rate.
    let dir = temp_dir("aidax");
    let model = dir.join("capture.aidax");
    std::fs::copy(aidax_model("gen_gru8.json"), &model).unwrap();
    let chain = dir.join("chain.toml");
    std::fs::write(
        &chain,
        "[[node]]\nkind = \"nam\"\nmodel = \"capture.aidax\"\n",
    )
    .unwrap();
    let input_samples = tone(4800, 0.0);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let input = dir.join("in.wav");
    write_wav(&input, spec, std::slice::from_ref(&input_samples));
    let output = dir.join("out.wav");
    let (ok, _, err) = run_to(&chain, &input, &output);
    assert!(ok, "{err}");
    let (_, out) = read_wav(&output);
    let mut kernel = nam_graph::nam_kernel::Model::load(&model).expect("loads");
    let mut want = vec![0.0; input_samples.len()];
    kernel.process(&input_samples, &mut want);
    assert_eq!(out[0].len(), want.len());
    for (got, want) in out[0].iter().zip(&want) {
        assert!((got - want).abs() <= 1e-6, "{got} vs {want}");
    }
    assert!(want.iter().any(|x| x.abs() > 1e-3), "the model is silent");
}

#[test]
fn an_aida_x_model_s_sample_rate_is_honoured_through_the_resampler() {
    // gen_gru40 states 44.1 kHz: a 48 kHz file is resampled around it.
    let dir = temp_dir("aidax-rate");
    let chain = dir.join("chain.toml");
    let model = aidax_model("gen_gru40.json");
    std::fs::write(
        &chain,
        format!(
            "[[node]]\nkind = \"nam\"\nmodel = \"{}\"\n",
            model.display()
        ),
    )
    .unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let input = dir.join("in.wav");
    write_wav(&input, spec, &[tone(48_000, 0.0)]);
    let output = dir.join("out.wav");
    let (ok, stdout, err) = run_to(&chain, &input, &output);
    assert!(ok, "{err}");
    assert!(
        !stdout.contains("latency 0 frames"),
        "resampling adds latency, reported: {stdout}"
    );
    let (out_spec, out) = read_wav(&output);
    assert_eq!((out_spec.sample_rate, out[0].len()), (48_000, 48_000));
    assert!(out[0].iter().all(|x| x.is_finite()));
}

#[test]
fn a_guitarml_wavenet_plays_in_a_chain_as_the_kernel_plays_it() {
    // A real SmartGuitarAmp model at its own 44.1 kHz: no resampling.
    let dir = temp_dir("guitarml");
    let model = dir.join("amp.json");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../nam-kernel/tests/guitarml/smartguitaramp_bluej_fullD_p0153.json"),
        &model,
    )
    .unwrap();
    let chain = dir.join("chain.toml");
    std::fs::write(&chain, "[[node]]\nkind = \"nam\"\nmodel = \"amp.json\"\n").unwrap();
    let input_samples = tone(4410, 0.0);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 44_100,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let input = dir.join("in.wav");
    write_wav(&input, spec, std::slice::from_ref(&input_samples));
    let output = dir.join("out.wav");
    let (ok, stdout, err) = run_to(&chain, &input, &output);
    assert!(ok, "{err}");
    assert!(stdout.contains("latency 0 frames"), "{stdout}");
    let (_, out) = read_wav(&output);
    let mut kernel = nam_graph::nam_kernel::Model::load(&model).expect("loads");
    assert_eq!(kernel.sample_rate_hz(), 44_100.0);
    let mut want = vec![0.0; input_samples.len()];
    kernel.process(&input_samples, &mut want);
    assert_eq!(out[0].len(), want.len());
    for (got, want) in out[0].iter().zip(&want) {
        assert!((got - want).abs() <= 1e-6, "{got} vs {want}");
    }
    assert!(want.iter().any(|x| x.abs() > 1e-2), "the model is silent");
}

#[test]
fn a_file_no_loader_reads_is_refused_with_what_it_looked_like() {
    let dir = temp_dir("not-a-model");
    std::fs::write(dir.join("model.json"), "{\"name\": \"x\", \"gain\": 3}").unwrap();
    let chain = dir.join("chain.toml");
    std::fs::write(&chain, "[[node]]\nkind = \"nam\"\nmodel = \"model.json\"\n").unwrap();
    let input = dir.join("in.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    write_wav(&input, spec, &[tone(480, 0.0)]);
    let output = dir.join("out.wav");
    let (ok, _, err) = run_to(&chain, &input, &output);
    assert!(!ok);
    assert!(err.contains("model.json"), "{err}");
    assert!(
        err.contains("not a model file: found a JSON object with keys name, gain"),
        "{err}"
    );
    assert!(!output.exists());
}
