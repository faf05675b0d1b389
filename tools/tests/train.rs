//! Training: the `tch` model and `nam-kernel` agree on exported weights, every
//! data-check error, latency detection, and a short end-to-end CPU training.
#![cfg(feature = "train")]

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use nam_kernel::{Model, NamFile};
use nam_tools::train::adam::{Adam, AdamState};
use nam_tools::train::align::{self, Method};
use nam_tools::train::arch::Architecture;
use nam_tools::train::command::TrainArgs;
use nam_tools::train::data::{self, DataError};
use nam_tools::train::export;
use nam_tools::train::learned_config;
use nam_tools::train::loss::LossConfig;
use nam_tools::train::loss::LossKind;
use nam_tools::train::model::{Mode, TrainModel};
use nam_tools::train::parallel::Workers;
use nam_tools::train::trainer::DeviceChoice;
use tch::{nn, Device, Tensor};

/// A seeded white-noise generator in [-1, 1).
fn noise(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// A temporary directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nam-tools-train-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_wav(path: &Path, samples: &[f32], rate: u32, channels: u16) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        for _ in 0..channels {
            w.write_sample(s).unwrap();
        }
    }
    w.finalize().unwrap();
}

fn arch_from_json(dir: &Path, name: &str, json: &str) -> Architecture {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, json).unwrap();
    Architecture::from_arg(path.to_str().unwrap()).unwrap()
}

/// Exports a random-initialized model, saves and reloads it, and compares
/// `nam-kernel`'s output with the `tch` model's on the same random input.
fn check_parity(architecture: &Architecture, dir: &Path, name: &str) {
    tch::manual_seed(7);
    let vs = nn::VarStore::new(Device::Cpu);
    let mut model = TrainModel::new(&vs.root(), architecture);
    // One training forward pass moves a batchnorm's running statistics off
    // their initial 0 and 1, so that the export of real statistics is checked.
    let rf = architecture.receptive_field();
    let batch = Tensor::from_slice(&noise(5, 2 * (rf + 500))).reshape([2, -1]);
    tch::no_grad(|| model.outputs(&batch, Mode::Train));
    let mut weights = model.export_weights();
    if let Architecture::WaveNet(config) = architecture {
        // head_scale (the file's last weight; learned slopes and a condition
        // DSP's weights follow it) 1 so the output is large enough for the
        // check to mean something.
        weights[config.weight_count() - 1] = 1.0;
    }
    // For the LSTM this makes the stored state the tch model's initial state.
    model.import_weights(&weights);
    assert_eq!(model.export_weights().len(), architecture.weight_count());
    let path = dir.join(format!("{name}.nam"));
    export::nam_file(architecture, weights, 48_000.0)
        .save(&path)
        .unwrap();
    let file = NamFile::load(&path).unwrap();
    let kernel = Model::build(&file, Default::default()).unwrap();
    let input: Vec<f32> = noise(3, 3000).iter().map(|x| 0.5 * x).collect();
    let mut padded = vec![0.0_f32; rf - 1];
    padded.extend_from_slice(&input);
    // Each size of a slimmable WaveNet; the model itself otherwise.
    let sizes = size_values(&kernel);
    for (expected, size) in kernel_outputs(&file, &input).iter().zip(sizes) {
        model.set_slimming(size.unwrap_or(1.0));
        let outputs =
            tch::no_grad(|| model.outputs(&Tensor::from_slice(&padded).unsqueeze(0), Mode::Eval));
        let [out] = outputs.as_slice() else {
            panic!("{name}: {} outputs from a single model", outputs.len());
        };
        let got = Vec::<f32>::try_from(&out.squeeze_dim(0)).unwrap();
        assert_eq!(got.len(), expected.len());
        let max_diff = got
            .iter()
            .zip(expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        let rms = (expected.iter().map(|y| y * y).sum::<f32>() / expected.len() as f32).sqrt();
        assert!(
            rms > 1e-3,
            "{name} at size {size:?}: output too small to compare (rms {rms})"
        );
        assert!(
            max_diff <= 1e-4,
            "{name} at size {size:?}: tch vs nam-kernel max diff {max_diff}"
        );
    }
}

#[test]
fn parity_nano_preset() {
    let dir = temp_dir("parity-nano");
    check_parity(&Architecture::from_arg("nano").unwrap(), &dir, "nano");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn parity_a2_presets_match_the_trainers_a2() {
    let dir = temp_dir("parity-a2");
    for name in ["a2", "a2_lite"] {
        let architecture = Architecture::from_arg(name).unwrap();
        check_parity(&architecture, &dir, name);
    }
    // `a2` is the fixture's A2 (written by the NAM trainer), weights aside.
    let Architecture::WaveNet(ours) = Architecture::from_arg("a2").unwrap() else {
        panic!("a2 is not a WaveNet");
    };
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/wavenet_a2.nam");
    let Architecture::WaveNet(theirs) = Architecture::from_arg(fixture.to_str().unwrap()).unwrap()
    else {
        panic!("the A2 fixture is not a WaveNet");
    };
    assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn parity_gated_and_plain_wavenets() {
    let dir = temp_dir("parity-wavenet");
    let gated = r#"{"architecture": "WaveNet", "config": {"layers": [
        {"input_size": 1, "condition_size": 1, "head_size": 3, "channels": 5, "kernel_size": 3,
         "dilations": [1, 2, 4, 8], "activation": "Tanh", "gated": true, "head_bias": true},
        {"input_size": 5, "condition_size": 1, "head_size": 1, "channels": 3, "kernel_size": 2,
         "dilations": [1, 3, 9], "activation": "Tanh", "gated": true, "head_bias": true}],
        "head": null, "head_scale": 0.02}}"#;
    check_parity(&arch_from_json(&dir, "gated", gated), &dir, "gated");
    let plain = r#"{"architecture": "WaveNet", "config": {"layers": [
        {"input_size": 1, "condition_size": 1, "head_size": 4, "channels": 6, "kernel_size": 4,
         "dilations": [1, 2, 4, 8, 16], "activation": "ReLU", "gated": false, "head_bias": false},
        {"input_size": 6, "condition_size": 1, "head_size": 1, "channels": 4, "kernel_size": 3,
         "dilations": [1, 2, 4], "activation": "Hardtanh", "gated": false, "head_bias": true}],
        "head": null, "head_scale": 0.02}}"#;
    check_parity(&arch_from_json(&dir, "plain", plain), &dir, "plain");
    std::fs::remove_dir_all(&dir).ok();
}

/// A head rechannel with `head_dilation` (NeuralAmpModelerCore's extension,
/// which the NAM trainer does not have): the training model's taps are as far
/// apart as the player's, on an array whose head feeds the next array's head
/// sum and on the last one, and a brief training writes a file that plays.
#[test]
fn a_dilated_head_rechannel_trains_and_plays_as_trained() {
    let dir = temp_dir("head-dilation");
    write_synthetic_pair(&dir);
    let config = serde_json::json!({"architecture": "WaveNet", "config": {"layers": [
        {"input_size": 1, "condition_size": 1, "channels": 4, "kernel_size": 2,
         "dilations": [1, 2], "activation": "Tanh",
         "head": {"out_channels": 3, "kernel_size": 3, "bias": true, "head_dilation": 5}},
        {"input_size": 4, "condition_size": 1, "channels": 3, "kernel_size": 2,
         "dilations": [1, 3], "activation": "Tanh",
         "head": {"out_channels": 1, "kernel_size": 4, "bias": true, "head_dilation": 7}}],
        "head": null, "head_scale": 0.5}});
    let architecture = arch_from_json(&dir, "dilated", &config.to_string());
    // Layers 1 + 1·2 and 1·4, heads 2·5 and 3·7: the dilations count.
    assert_eq!(architecture.receptive_field(), 1 + 3 + 4 + 10 + 21);
    check_parity(&architecture, &dir, "dilated");
    let arch = dir.join("dilated.json");
    let summary = brief_training(&dir, arch.to_str().unwrap(), "dilated-trained");
    let file = NamFile::load(&summary.output).unwrap();
    let nam_kernel::format::ModelSpec::WaveNet { config, .. } = &file.spec else {
        panic!("not a WaveNet: {}", file.architecture());
    };
    let dilations: Vec<usize> = config
        .layer_arrays
        .iter()
        .map(|a| a.head.dilation)
        .collect();
    assert_eq!(dilations, [5, 7]);
    let out = kernel_outputs(&file, &noise(9, 4_000)).remove(0);
    assert!(out.iter().all(|y| y.is_finite()) && out.iter().any(|&y| y != 0.0));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn parity_lstm() {
    let dir = temp_dir("parity-lstm");
    for (name, layers, hidden) in [("lstm1x8", 1, 8), ("lstm2x4", 2, 4)] {
        let json = format!(
            r#"{{"architecture": "LSTM", "config": {{"input_size": 1, "hidden_size": {hidden}, "num_layers": {layers}}}}}"#
        );
        check_parity(&arch_from_json(&dir, name, &json), &dir, name);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn refuses_unimplemented_features() {
    let dir = temp_dir("refuse");
    let path = dir.join("convnet.json");
    std::fs::write(
        &path,
        r#"{"architecture": "ConvNet", "config": {"channels": 2, "dilations": [1],
            "batchnorm": false, "activation": {"type": "PReLU", "negative_slope": 0.2}}}"#,
    )
    .unwrap();
    let error = Architecture::from_arg(path.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("PReLU") && error.contains("convnet.json"),
        "{error}"
    );
    let error = Architecture::from_arg("no-such-preset")
        .unwrap_err()
        .to_string();
    assert!(error.contains("no-such-preset"), "{error}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn data_checks_name_each_problem() {
    let dir = temp_dir("checks");
    let good: Vec<f32> = noise(1, 4800).iter().map(|x| 0.5 * x).collect();
    let input = dir.join("input.wav");
    write_wav(&input, &good, 48_000, 1);
    let check = |name: &str, samples: &[f32], rate: u32, channels: u16| {
        let path = dir.join(name);
        write_wav(&path, samples, rate, channels);
        data::read_pair(&input, &path).unwrap_err()
    };
    let e = check("stereo.wav", &good, 48_000, 2);
    assert!(matches!(e, DataError::NotMono { channels: 2, .. }), "{e}");
    assert!(e.to_string().contains("stereo.wav"));
    let e = check("rate.wav", &good, 44_100, 1);
    assert!(
        matches!(
            e,
            DataError::RateMismatch {
                target_hz: 44_100,
                ..
            }
        ),
        "{e}"
    );
    let e = check("short.wav", &good[..4700], 48_000, 1);
    assert!(e.to_string().contains("differ by 100 samples"), "{e}");
    let e = check("silent.wav", &vec![0.0; 4800], 48_000, 1);
    assert!(
        matches!(e, DataError::Silent { .. }) && e.to_string().contains("silent.wav"),
        "{e}"
    );
    let mut clipped = good.clone();
    clipped[2400] = 1.0;
    clipped[2401] = -1.0;
    let e = check("clipped.wav", &clipped, 48_000, 1);
    assert!(matches!(e, DataError::Clipped { count: 2, .. }), "{e}");
    let text = dir.join("text.wav");
    std::fs::write(&text, "not a wav").unwrap();
    let e = data::read_pair(&input, &text).unwrap_err();
    assert!(
        matches!(e, DataError::Unreadable { .. }) && e.to_string().contains("text.wav"),
        "{e}"
    );
    let e = data::read_pair(&dir.join("missing.wav"), &input).unwrap_err();
    assert!(e.to_string().contains("missing.wav"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A crude "amp": one-pole low-pass, soft clipping, delayed by `delay` samples.
fn amp(input: &[f32], delay: usize) -> Vec<f32> {
    let mut state = 0.0;
    let shaped: Vec<f32> = input
        .iter()
        .map(|&x| {
            state += 0.3 * (x - state);
            (3.0 * state).tanh() * 0.5
        })
        .collect();
    let mut out = vec![0.0; delay];
    out.extend_from_slice(&shaped[..input.len() - delay]);
    out
}

#[test]
fn alignment_removes_the_latency() {
    let x: Vec<f32> = noise(5, 200_000).iter().map(|v| 0.3 * v).collect();
    let found = align::detect(Path::new("di.wav"), &x, &amp(&x, 37), 48_000, None).unwrap();
    assert_eq!((found.samples, found.method), (37, Method::Deconvolution));
    let (a, b) = align::apply(&x, &amp(&x, 37), 37);
    assert_eq!(a.len(), x.len() - 37);
    assert_eq!(b[0], amp(&x, 0)[0]);
}

/// Set to run without `../shared/data`: the tests that need it then say so
/// and skip (or train on synthetic data) instead of failing.
const SKIP_SHARED_DATA: &str = "NAM_SKIP_SHARED_DATA";

/// The team's DI/amp pair in `../shared/data`. Fails loudly when it is
/// missing, unless [`SKIP_SHARED_DATA`] is set (then `None`, said on stderr).
fn shared_data() -> Option<(PathBuf, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    let pair = (dir.join("input.wav"), dir.join("target.wav"));
    if pair.0.exists() && pair.1.exists() {
        return Some(pair);
    }
    assert!(
        std::env::var_os(SKIP_SHARED_DATA).is_some(),
        "{} lacks input.wav and target.wav, which these tests need (set {SKIP_SHARED_DATA}=1 to run without them)",
        dir.display()
    );
    eprintln!(
        "{SKIP_SHARED_DATA} is set and {} is missing: running without the shared data",
        dir.display()
    );
    None
}

#[test]
fn shared_data_latency_is_zero_and_the_user_is_told_how_it_was_found() {
    let Some((input, target)) = shared_data() else {
        eprintln!("skipped: needs the shared data");
        return;
    };
    let (x, y) = data::read_pair(&input, &target).unwrap();
    let found = align::detect(&input, &x.samples, &y.samples, 48_000, None).unwrap();
    eprintln!(
        "{}\nlatency: {found}\nwarnings: {:?}",
        align::describe_input(&found),
        found.warnings
    );
    assert_eq!(found.samples, 0, "{found}");
    assert_eq!(found.method, Method::Deconvolution);
    // A real amp through an interface: the converters' pre-ringing is no doubt.
    assert!(!found.is_ambiguous(), "{:?}", found.warnings);
    assert_eq!(
        align::describe_input(&found),
        "not a NAM capture signal; latency from the response onset"
    );
    assert!(found.to_string().contains("peaks at"), "{found}");
}

#[test]
fn short_training_lowers_esr_and_exports_a_loadable_model() {
    let dir = temp_dir("end-to-end");
    let (input, target) = match shared_data() {
        Some((input, target)) => {
            // 8 s of notes and chords from the shared pair.
            let (x, y) = data::read_pair(&input, &target).unwrap();
            let range = 30 * 48_000..38 * 48_000;
            write_wav(&dir.join("di.wav"), &x.samples[range.clone()], 48_000, 1);
            write_wav(&dir.join("amp.wav"), &y.samples[range], 48_000, 1);
            (dir.join("di.wav"), dir.join("amp.wav"))
        }
        None => {
            let x: Vec<f32> = noise(11, 8 * 48_000).iter().map(|v| 0.3 * v).collect();
            write_wav(&dir.join("di.wav"), &x, 48_000, 1);
            write_wav(&dir.join("amp.wav"), &amp(&x, 0), 48_000, 1);
            (dir.join("di.wav"), dir.join("amp.wav"))
        }
    };
    let output = dir.join("model.nam");
    let args = TrainArgs {
        input,
        target,
        arch: "nano".into(),
        output: output.clone(),
        epochs: 6,
        lr: Some(0.004),
        lr_decay: Some(0.994),
        weight_decay: Some(0.0),
        average_decay: None,
        batch_size: Some(8),
        segment_length: Some(2048),
        seed: Some(1),
        validation_split: Some(0.25),
        device: DeviceChoice::Cpu,
        resume: None,
        latency: None,
        plot: Some(dir.join("plot.png")),
        loss: Some(LossKind::Mse),
        pre_emphasis: Some(0.85),
        pre_emphasis_weight: Some(1.0),
        mrstft_weight: Some(2e-4),
        pre_emphasis_mrstft: Some(0.85),
        pre_emphasis_mrstft_weight: Some(2e-4),
        threads: Some(1),
        quiet: true,
        name: Some("test".into()),
        modeled_by: None,
        gear_type: None,
        gear_make: None,
        gear_model: None,
        tone_type: None,
    };
    let summary = args.run_with_stop(&AtomicBool::new(false)).unwrap();
    let outcome = &summary.outcome;
    assert_eq!(outcome.epochs_completed, 6);
    assert_eq!(outcome.train_loss.len(), 6);
    // The summary a guitarist reads, and the plot.
    let report = summary.report();
    let latency = format!("latency: {} samples", summary.latency.samples);
    for words in [
        "ESR",
        "model written",
        "plot written",
        &latency,
        "not a NAM capture signal",
        "time per phase: data",
        "trained 6 epochs in ",
        " on the CPU (ESR before training ",
    ] {
        assert!(report.contains(words), "{words:?} missing from:\n{report}");
    }
    // Which weights were kept, as the outcome says.
    let kept = match outcome.kept.last() {
        Some(nam_tools::train::trainer::Kept::Average(epoch)) => {
            format!("kept: the weight average after epoch {epoch}")
        }
        Some(nam_tools::train::trainer::Kept::Weights(epoch)) => {
            format!("kept: the weights after epoch {epoch}")
        }
        other => panic!("six epochs of training kept {other:?}"),
    };
    assert!(report.contains(&kept), "{kept:?} missing from:\n{report}");
    // Every phase was timed, and together they fit in the run.
    let phases = outcome.phases.named();
    assert!(
        phases.iter().all(|&(_, seconds)| seconds > 0.0),
        "{phases:?}"
    );
    let timed: f64 = phases.iter().map(|(_, seconds)| seconds).sum();
    assert!(
        timed <= outcome.seconds,
        "{timed} s timed in a {} s run",
        outcome.seconds
    );
    assert!(report.contains(nam_tools::train::verdict::esr_verdict(
        outcome.best_validation_esr
    )));
    let png = std::fs::read(dir.join("plot.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "the plot is not a PNG");
    assert!(
        outcome.best_validation_esr < 0.7 * outcome.initial_validation_esr,
        "ESR {} -> {}",
        outcome.initial_validation_esr,
        outcome.best_validation_esr
    );

    // The file loads, carries the metadata, and nam-kernel reproduces the ESR.
    let file = NamFile::load(&output).unwrap();
    assert_eq!(file.metadata.name.as_deref(), Some("test"));
    assert!(file.metadata.loudness.is_some_and(f64::is_finite));
    let esr = file.metadata.validation_esr().unwrap();
    assert!((esr - outcome.best_validation_esr).abs() < 1e-9);
    let mut model = Model::build(&file, Default::default()).unwrap();
    let (x, y) = data::read_pair(&args.input, &args.target).unwrap();
    let (x, y) = align::apply(&x.samples, &y.samples, summary.latency.samples);
    let split = x.len() - (x.len() as f64 * 0.25).round() as usize;
    let (vx, vy) = (&x[split..], &y[split..]);
    let mut out = vec![0.0; vx.len()];
    model.process(vx, &mut out);
    let rf = model.receptive_field();
    // The trainer validates with nam-kernel on the validation part alone,
    // from the receptive field on (the outputs before have no full context):
    // the same computation on the saved file gives the saved ESR.
    let (mut err, mut energy) = (0.0_f64, 0.0_f64);
    for (o, t) in out[rf - 1..].iter().zip(&vy[rf - 1..]) {
        err += f64::from(o - t).powi(2);
        energy += f64::from(*t).powi(2);
    }
    let kernel_esr = err / energy;
    assert!(
        (kernel_esr - esr).abs() <= 1e-9 * esr,
        "kernel ESR {kernel_esr} vs trainer {esr}"
    );

    // Resume continues from the checkpoint's epoch count.
    let resumed = TrainArgs {
        resume: Some(nam_tools::train::command::checkpoint_path(&output)),
        epochs: 7,
        output: dir.join("resumed.nam"),
        ..args
    };
    let summary = resumed.run_with_stop(&AtomicBool::new(false)).unwrap();
    assert_eq!(summary.outcome.epochs_completed, 7);
    assert_eq!(summary.outcome.history.len(), 1);
    std::fs::remove_dir_all(&dir).ok();
}

/// The weight average is the exponential moving average of the weights after
/// each step, corrected for its start at zero, and the weights are back in
/// place after it was read.
#[test]
fn the_weight_average_is_the_corrected_moving_average_of_the_steps() {
    let vs = nn::VarStore::new(Device::Cpu);
    let w = vs.root().var("w", &[3], nn::Init::Const(0.0));
    let decay = 0.9;
    let mut optimizer = Adam::new(&vs, 0.1, 0.0, decay);
    assert!(
        optimizer.with_average(|| ()).is_none(),
        "an average before any step"
    );
    let mut seen: Vec<Vec<f32>> = Vec::new();
    for k in 1..=5 {
        let target = Tensor::from_slice(&[1.0_f32, -2.0, 3.0]) * f64::from(k);
        let loss = (&w - target).square().sum(tch::Kind::Float);
        let gradients = optimizer.gradients(&loss);
        optimizer.step(&gradients);
        seen.push(Vec::<f32>::try_from(&w).unwrap());
    }
    let n = seen.len();
    let average = optimizer
        .with_average(|| Vec::<f32>::try_from(&w).unwrap())
        .unwrap();
    for (i, &got) in average.iter().enumerate() {
        let sum: f64 = seen
            .iter()
            .enumerate()
            .map(|(k, step)| (1.0 - decay) * decay.powi((n - 1 - k) as i32) * f64::from(step[i]))
            .sum();
        let expected = sum / (1.0 - decay.powi(n as i32));
        assert!(
            (f64::from(got) - expected).abs() < 1e-5,
            "variable {i}: average {got}, expected {expected}"
        );
    }
    assert_eq!(
        Vec::<f32>::try_from(&w).unwrap(),
        seen[n - 1],
        "weights not put back"
    );
    // It is not the last step's weights (so the comparison above can fail).
    assert!((average[2] - seen[n - 1][2]).abs() > 1e-3);

    // Without an average (decay 0) there is none to read, and a state saved
    // from it restores into an averaging optimizer as a fresh average.
    let mut plain = Adam::new(&vs, 0.1, 0.0, 0.0);
    let gradients = plain.gradients(&w.square().sum(tch::Kind::Float));
    plain.step(&gradients);
    assert!(plain.with_average(|| ()).is_none());
    let dir = temp_dir("average-state");
    let path = dir.join("plain.adam");
    plain.state().save(&path).unwrap();
    let loaded = AdamState::load(&path).unwrap();
    assert!(loaded.average.is_empty());
    optimizer.restore(loaded).unwrap();
    assert!(
        optimizer.with_average(|| ()).is_none(),
        "a restored state without an average has one"
    );
    let gradients = optimizer.gradients(&w.square().sum(tch::Kind::Float));
    optimizer.step(&gradients);
    let restarted = optimizer
        .with_average(|| Vec::<f32>::try_from(&w).unwrap())
        .unwrap();
    let now = Vec::<f32>::try_from(&w).unwrap();
    for (a, b) in restarted.iter().zip(&now) {
        assert!(
            (a - b).abs() < 1e-6,
            "one step's average {a} is not that step's {b}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A run resumed with another `--average-decay` continues the saved average
/// under the new decay: every step's weight in it is what the decays in force
/// at and after that step give it, divided by their total.
#[test]
fn a_changed_average_decay_continues_the_saved_average() {
    let vs = nn::VarStore::new(Device::Cpu);
    let w = vs.root().var("w", &[3], nn::Init::Const(0.0));
    let decays = [0.9, 0.9, 0.9, 0.5, 0.5];
    let mut optimizer = Adam::new(&vs, 0.1, 0.0, decays[0]);
    let dir = temp_dir("average-decay-change");
    let mut seen: Vec<Vec<f32>> = Vec::new();
    for (k, &decay) in decays.iter().enumerate() {
        if k > 0 && decay != decays[k - 1] {
            // Saved and resumed with the new decay, as `--resume` does.
            let path = dir.join("state.adam");
            optimizer.state().save(&path).unwrap();
            optimizer = Adam::new(&vs, 0.1, 0.0, decay);
            optimizer.restore(AdamState::load(&path).unwrap()).unwrap();
        }
        let target = Tensor::from_slice(&[1.0_f32, -2.0, 3.0]) * (k + 1) as f64;
        let loss = (&w - target).square().sum(tch::Kind::Float);
        let gradients = optimizer.gradients(&loss);
        optimizer.step(&gradients);
        seen.push(Vec::<f32>::try_from(&w).unwrap());
    }
    let average = optimizer
        .with_average(|| Vec::<f32>::try_from(&w).unwrap())
        .unwrap();
    // Step k's weight: (1 − d_k) times every later step's decay.
    let weights: Vec<f64> = (0..decays.len())
        .map(|k| (1.0 - decays[k]) * decays[k + 1..].iter().product::<f64>())
        .collect();
    let total: f64 = weights.iter().sum();
    for (i, &got) in average.iter().enumerate() {
        let sum: f64 = weights
            .iter()
            .zip(&seen)
            .map(|(weight, step)| weight * f64::from(step[i]))
            .sum();
        let expected = sum / total;
        assert!(
            (f64::from(got) - expected).abs() < 1e-5,
            "variable {i}: average {got}, expected {expected}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A state written by the first version that kept an average (its step
/// count, not its weight) still resumes: moments as saved, a new average.
#[test]
fn a_state_with_the_average_counted_in_steps_starts_a_new_average() {
    let dir = temp_dir("average-in-steps");
    let path = dir.join("old.adam");
    let ones = Tensor::from_slice(&[1.0_f32, 2.0]);
    let named = [
        ("steps", Tensor::from(4_i64)),
        ("first.0", ones.copy()),
        ("second.0", ones.copy()),
        ("average_steps", Tensor::from(4_i64)),
        ("average.0", ones.copy()),
    ];
    Tensor::save_multi(&named, &path).unwrap();
    let state = AdamState::load(&path).unwrap();
    assert_eq!(state.steps, 4);
    assert_eq!(state.first.len(), 1);
    assert!(
        state.average.is_empty(),
        "an average read without its weight"
    );
    // Missing one of its averages, it is refused.
    Tensor::save_multi(&named[..4], &path).unwrap();
    let error = AdamState::load(&path).err().unwrap();
    assert!(error.contains("incomplete"), "{error}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The arguments of a short nano training on `dir`'s di.wav/amp.wav.
fn short_run(dir: &Path, output: &str, epochs: usize, resume: Option<PathBuf>) -> TrainArgs {
    TrainArgs {
        input: dir.join("di.wav"),
        target: dir.join("amp.wav"),
        arch: "nano".into(),
        output: dir.join(output),
        epochs,
        lr: Some(0.004),
        lr_decay: Some(0.9),
        weight_decay: Some(1e-4),
        average_decay: None,
        batch_size: Some(4),
        segment_length: Some(1024),
        seed: Some(3),
        validation_split: Some(0.25),
        device: DeviceChoice::Cpu,
        resume,
        latency: Some(0),
        plot: None,
        loss: Some(LossKind::Mse),
        pre_emphasis: None,
        pre_emphasis_weight: None,
        mrstft_weight: None,
        pre_emphasis_mrstft: None,
        pre_emphasis_mrstft_weight: None,
        threads: Some(1),
        quiet: true,
        name: None,
        modeled_by: None,
        gear_type: None,
        gear_make: None,
        gear_model: None,
        tone_type: None,
    }
}

fn weights_of(path: &Path) -> Vec<f32> {
    match NamFile::load(path).unwrap().spec {
        nam_kernel::format::ModelSpec::WaveNet { weights, .. } => weights,
        other => panic!(
            "{}: not a WaveNet: {}",
            path.display(),
            other.architecture()
        ),
    }
}

#[test]
fn resuming_a_checkpoint_continues_exactly_where_it_stopped() {
    let dir = temp_dir("resume");
    let x: Vec<f32> = noise(5, 3 * 48_000).iter().map(|v| 0.3 * v).collect();
    write_wav(&dir.join("di.wav"), &x, 48_000, 1);
    write_wav(&dir.join("amp.wav"), &amp(&x, 0), 48_000, 1);
    let stop = AtomicBool::new(false);

    // Four epochs in one go, and two then two more from the checkpoint, with
    // settings other than the defaults (and loss terms a preset or config
    // file would give).
    let run = |output: &str, epochs: usize| TrainArgs {
        mrstft_weight: Some(5e-4),
        pre_emphasis: Some(0.85),
        segment_length: Some(2048),
        ..short_run(&dir, output, epochs, None)
    };
    run("whole.nam", 4).run_with_stop(&stop).unwrap();
    run("half.nam", 2).run_with_stop(&stop).unwrap();
    let checkpoint = dir.join("half.checkpoint.nam");
    assert!(
        dir.join("half.checkpoint.adam").exists(),
        "no optimizer state saved"
    );
    // Resumed with none of them given again: the checkpoint records them.
    let resumed = TrainArgs {
        lr: None,
        lr_decay: None,
        weight_decay: None,
        batch_size: None,
        segment_length: None,
        seed: None,
        validation_split: None,
        loss: None,
        ..short_run(&dir, "resumed.nam", 4, Some(checkpoint.clone()))
    }
    .run_with_stop(&stop)
    .unwrap();
    assert_eq!(resumed.outcome.epochs_completed, 4);
    let whole = weights_of(&dir.join("whole.checkpoint.nam"));
    let continued = weights_of(&dir.join("resumed.checkpoint.nam"));
    let diff = whole
        .iter()
        .zip(&continued)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0_f32, f32::max);
    assert!(diff <= 1e-6, "resumed weights differ by {diff}");
    // The weight average is saved with the checkpoint and continues too (a
    // resumed run that started a new one would differ here).
    let average = |name: &str| AdamState::load(&dir.join(name)).unwrap().average;
    let (whole_average, resumed_average) = (
        average("whole.checkpoint.adam"),
        average("resumed.checkpoint.adam"),
    );
    assert!(!whole_average.is_empty(), "no weight average saved");
    assert_eq!(whole_average.len(), resumed_average.len());
    for (a, b) in whole_average.iter().zip(&resumed_average) {
        let diff = (a - b).abs().max().double_value(&[]);
        assert!(diff <= 1e-6, "resumed weight average differs by {diff}");
    }

    // Without the optimizer's state, the moments restart from zero: the
    // run goes elsewhere (so the comparison above can fail).
    std::fs::remove_file(dir.join("half.checkpoint.adam")).unwrap();
    TrainArgs {
        resume: Some(checkpoint),
        ..run("fresh.nam", 4)
    }
    .run_with_stop(&stop)
    .unwrap();
    let fresh = weights_of(&dir.join("fresh.checkpoint.nam"));
    let apart = whole
        .iter()
        .zip(&fresh)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0_f32, f32::max);
    assert!(apart > 1e-4, "fresh moments changed nothing ({apart})");

    // A state that does not fit the model is refused with the file named.
    std::fs::write(dir.join("half.checkpoint.adam"), b"not a tensor archive").unwrap();
    let error = short_run(&dir, "bad.nam", 4, Some(dir.join("half.checkpoint.nam")))
        .run_with_stop(&stop)
        .unwrap_err()
        .to_string();
    assert!(error.contains("half.checkpoint.adam"), "{error}");
}

/// The repository root.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The venv of [`nam_trainer_python`] (fails loudly when it is missing).
fn nam_venv() -> PathBuf {
    let python = nam_trainer_python();
    python
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("{} is not in a venv's bin/", python.display()))
        .to_path_buf()
}

/// The NAM trainer 0.13's default model config, from its package in the venv.
fn trainer_packed_config() -> PathBuf {
    let lib = nam_venv().join("lib");
    let site = std::fs::read_dir(&lib)
        .unwrap_or_else(|e| panic!("{}: {e}", lib.display()))
        .filter_map(Result::ok)
        .map(|e| {
            e.path()
                .join("site-packages/nam/train/_resources/config_model_packed.json")
        })
        .find(|p| p.exists());
    site.unwrap_or_else(|| {
        panic!(
            "no nam/train/_resources/config_model_packed.json under {}",
            lib.display()
        )
    })
}

/// The size values that play each size of `model` (one for a plain model).
fn size_values(model: &Model) -> Vec<Option<f64>> {
    let n = model.slimmable_size_count();
    if n <= 1 {
        return vec![None];
    }
    (0..n).map(|i| Some((i as f64 + 0.5) / n as f64)).collect()
}

/// nam-kernel's output of `file` for `input` at each size.
fn kernel_outputs(file: &NamFile, input: &[f32]) -> Vec<Vec<f32>> {
    let mut model = Model::build(file, Default::default()).unwrap();
    size_values(&model)
        .into_iter()
        .enumerate()
        .map(|(level, value)| {
            if let Some(value) = value {
                model.set_slimmable_size(value);
                assert_eq!(model.slimmable_size_index(), level);
            }
            model.reset();
            let mut out = vec![0.0_f32; input.len()];
            model.process(input, &mut out);
            out
        })
        .collect()
}

/// The fixed signal the trainer's code and nam-kernel play: noise at two levels.
fn check_signal() -> Vec<f32> {
    noise(21, 6000)
        .iter()
        .enumerate()
        .map(|(i, x)| if i < 3000 { 0.1 * x } else { 0.8 * x })
        .collect()
}

/// Loads `path` in the NAM trainer's own code (`init_from_nam`, each
/// submodel of a container) and checks it plays as in nam-kernel.
fn check_in_trainer(path: &Path) {
    let file = NamFile::load(path).unwrap();
    let input = check_signal();
    let dir = path.parent().unwrap();
    let stem = path.file_stem().unwrap().to_string_lossy();
    let input_path = dir.join(format!("{stem}.input.f32"));
    write_f32(&input_path, &input);
    let mut command = std::process::Command::new(nam_venv().join("bin/python"));
    command
        .env("OMP_NUM_THREADS", "1")
        .arg(repo_root().join("scripts/check-nam-export.py"))
        .arg(path)
        .arg(&input_path)
        .arg("1e-5");
    for (i, out) in kernel_outputs(&file, &input).iter().enumerate() {
        let rms = (out.iter().map(|y| y * y).sum::<f32>() / out.len() as f32).sqrt();
        assert!(
            rms > 1e-4,
            "{stem} size {i}: output too small to compare (rms {rms})"
        );
        let expected = dir.join(format!("{stem}.expected{i}.f32"));
        write_f32(&expected, out);
        command.arg(expected);
    }
    let output = command.output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprint!("{report}");
    assert!(
        output.status.success(),
        "the NAM trainer's code disagrees:\n{report}"
    );
}

/// A brief training of `arch` (a preset or config file) on `dir`'s
/// di.wav/amp.wav into `dir/<name>.nam`.
fn brief_training(dir: &Path, arch: &str, name: &str) -> nam_tools::train::command::Summary {
    TrainArgs {
        arch: arch.into(),
        epochs: 1,
        average_decay: None,
        batch_size: Some(2),
        // Longer than half the MRSTFT's largest FFT (the packed config's loss).
        segment_length: Some(2048),
        validation_split: Some(0.3),
        ..short_run(dir, &format!("{name}.nam"), 1, None)
    }
    .run_with_stop(&AtomicBool::new(false))
    .unwrap()
}

/// One second of synthetic DI and "amp" in `dir`.
fn write_synthetic_pair(dir: &Path) {
    let x: Vec<f32> = noise(17, 48_000).iter().map(|v| 0.3 * v).collect();
    write_wav(&dir.join("di.wav"), &x, 48_000, 1);
    write_wav(&dir.join("amp.wav"), &amp(&x, 0), 48_000, 1);
}

#[test]
fn packed_preset_is_the_trainers_default_model() {
    let trainer = trainer_packed_config();
    let (theirs, their_settings) = Architecture::with_settings(trainer.to_str().unwrap()).unwrap();
    let (ours, our_settings) = Architecture::with_settings("packed").unwrap();
    assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
    assert_eq!(our_settings, their_settings);
    assert_eq!(our_settings.mrstft_weight, Some(5e-4));
    assert_eq!(our_settings.learning_rate_decay, Some(0.994));
    let Architecture::Packed(packed) = ours else {
        panic!("the packed preset is not packed");
    };
    assert_eq!(packed.max_values, [0.5, 1.0]);
    // Its submodels are the a2_lite and a2 presets.
    for (submodel, preset) in packed.submodels.iter().zip(["a2_lite", "a2"]) {
        let Architecture::WaveNet(config) = Architecture::from_arg(preset).unwrap() else {
            panic!("{preset} is not a WaveNet");
        };
        assert_eq!(format!("{:?}", submodel.config), format!("{config:?}"));
    }
}

/// A tiny packed config in the trainer's layout: 2 and 4 channels, per-layer
/// kernel sizes, LeakyReLU, a 4-tap head rechannel with bias.
fn tiny_packed_config(dir: &Path) -> PathBuf {
    let submodel = |name: &str, channels: usize| {
        serde_json::json!({"name": name, "config": {"layers_configs": [{
            "input_size": 1, "condition_size": 1, "channels": channels,
            "kernel_sizes": [3, 6, 3], "dilations": [1, 3, 7],
            "activation": {"name": "LeakyReLU", "negative_slope": 0.05},
            "head": {"out_channels": 1, "kernel_size": 4, "bias": true}}],
            "head_scale": 0.5}})
    };
    let config = serde_json::json!({
        "net": {"name": "PackedWaveNet", "config": {
            "submodels": [submodel("small", 2), submodel("large", 4)],
            "export": {"container_max_values": "uniform"}}},
        "loss": {"val_loss": "esr", "mrstft_weight": 5e-4},
        "optimizer": {"lr": 0.004, "weight_decay": 3.17e-7},
        "lr_scheduler": {"class": "ExponentialLR", "kwargs": {"gamma": 0.994}}
    });
    let path = dir.join("tiny_packed.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// The `.nam` weights of a WaveNet or LSTM spec.
fn spec_weights(spec: &nam_kernel::format::ModelSpec) -> &[f32] {
    match spec {
        nam_kernel::format::ModelSpec::WaveNet { weights, .. }
        | nam_kernel::format::ModelSpec::Lstm { weights, .. } => weights,
        other => panic!("not a WaveNet or LSTM: {}", other.architecture()),
    }
}

#[test]
fn packed_training_exports_a_container_whose_sizes_play_as_trained() {
    let dir = temp_dir("packed");
    write_synthetic_pair(&dir);
    let config = tiny_packed_config(&dir);
    let summary = brief_training(&dir, config.to_str().unwrap(), "packed");
    assert_eq!(summary.outcome.best_validation_esrs.len(), 2);
    assert_eq!(
        summary.outcome.best_validation_esr,
        summary.outcome.best_validation_esrs[1]
    );

    let file = NamFile::load(&summary.output).unwrap();
    let nam_kernel::format::ModelSpec::SlimmableContainer { submodels } = &file.spec else {
        panic!("not a container: {}", file.architecture());
    };
    let max_values: Vec<f64> = submodels.iter().map(|s| s.max_value).collect();
    assert_eq!(max_values, [0.5, 1.0]);
    // The container carries the loudness of its full size, as the trainer's does.
    assert_eq!(file.metadata.loudness, submodels[1].model.metadata.loudness);
    let training = file.metadata.training.as_ref().unwrap();
    assert_eq!(
        training["nam_tools"]["validation_esr_of_each_submodel"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Each size in nam-kernel equals that submodel of the tch model.
    let architecture = Architecture::from_arg(config.to_str().unwrap()).unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let mut model = TrainModel::new(&vs.root(), &architecture);
    let weights: Vec<f32> = submodels
        .iter()
        .flat_map(|s| spec_weights(&s.model.spec).to_vec())
        .collect();
    model.import_weights(&weights);
    assert_eq!(model.export_weights(), weights);
    let input = check_signal();
    let mut padded = vec![0.0_f32; architecture.receptive_field() - 1];
    padded.extend_from_slice(&input);
    let outputs =
        tch::no_grad(|| model.outputs(&Tensor::from_slice(&padded).unsqueeze(0), Mode::Eval));
    let kernel = kernel_outputs(&file, &input);
    assert_eq!(kernel.len(), 2, "the container plays 2 sizes");
    for (i, (output, expected)) in outputs.iter().zip(&kernel).enumerate() {
        let got = Vec::<f32>::try_from(&output.squeeze_dim(0)).unwrap();
        let diff = got
            .iter()
            .zip(expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0_f32, f32::max);
        assert!(diff <= 1e-4, "size {i}: tch vs nam-kernel max diff {diff}");
    }
    check_in_trainer(&summary.output);

    // A checkpoint of a packed run resumes as a packed run, with the
    // preset's MRSTFT term and the run's segments.
    let resumed = TrainArgs {
        resume: Some(nam_tools::train::command::checkpoint_path(&summary.output)),
        epochs: 2,
        batch_size: None,
        segment_length: None,
        validation_split: None,
        ..short_run(&dir, "packed-resumed.nam", 2, None)
    }
    .run_with_stop(&AtomicBool::new(false))
    .unwrap();
    assert_eq!(resumed.outcome.best_validation_esrs.len(), 2);
    assert_eq!(resumed.outcome.epochs_completed, 2);
    let training = NamFile::load(&resumed.output).unwrap().metadata.training;
    let record = &training.as_ref().unwrap()["nam_tools"];
    assert_eq!(record["mrstft_weight"], 5e-4, "{record}");
    assert_eq!(record["segment_length"], 2048, "{record}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The gradient of one batch split between worker threads (an odd batch,
/// three workers, a packed model's two outputs, the MRSTFT term) equals the
/// whole batch's, and is the same bit for bit when computed again.
#[test]
fn worker_threads_give_the_whole_batch_gradient() {
    let dir = temp_dir("workers");
    let architecture = Architecture::from_arg(tiny_packed_config(&dir).to_str().unwrap()).unwrap();
    tch::manual_seed(11);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = TrainModel::new(&vs.root(), &architecture);
    let optimizer = Adam::new(&vs, 1e-3, 0.0, 0.0);
    let (rows, samples) = (5, 2100);
    let window = samples + architecture.receptive_field() - 1;
    let x = Tensor::from_slice(&noise(31, rows * window)).reshape([rows as i64, -1]) * 0.5;
    let y = Tensor::from_slice(&noise(32, rows * samples)).reshape([rows as i64, -1]) * 0.3;
    let loss = LossConfig {
        kind: LossKind::Mse,
        pre_emphasis: None,
        mrstft_weight: Some(5e-4),
        pre_emphasis_mrstft: None,
    };
    let whole = model
        .outputs(&x, Mode::Train)
        .iter()
        .map(|pred| loss.training_loss(pred, &y))
        .reduce(|a, b| a + b)
        .unwrap();
    let expected = optimizer.gradients(&whole);
    let workers = Workers::new(&architecture, 3);
    let step = workers
        .step(optimizer.parameters(), 1.0, &x, &y, &loss)
        .unwrap();
    let whole = whole.double_value(&[]);
    assert!(
        (step.loss - whole).abs() <= 1e-6 * whole,
        "loss {} from the workers, {whole} from the whole batch",
        step.loss
    );
    assert_eq!(step.gradients.len(), expected.len());
    for (i, (got, want)) in step.gradients.iter().zip(&expected).enumerate() {
        // The last layer's layer 1x1 feeds nothing: no gradient either way.
        assert_eq!(got.defined(), want.defined(), "variable {i}");
        if !want.defined() {
            continue;
        }
        let scale = want.abs().max().double_value(&[]);
        let diff = (got - want).abs().max().double_value(&[]);
        assert!(
            scale > 0.0 && diff <= 1e-4 * scale,
            "variable {i}: gradient differs by {diff} (largest {scale})"
        );
    }
    let again = workers
        .step(optimizer.parameters(), 1.0, &x, &y, &loss)
        .unwrap();
    for (i, (a, b)) in again.gradients.iter().zip(&step.gradients).enumerate() {
        assert!(
            !a.defined() && !b.defined() || a.equal(b),
            "variable {i}: a second step's gradient differs"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A slimmable WaveNet's step on worker threads at a small size is the whole
/// batch's at that size, and reaches fewer weights than at full size; with
/// `boosting`, the workers' step above the smallest size is the whole
/// batch's too.
#[test]
fn worker_threads_train_a_slimmable_wavenet_at_the_size_asked() {
    let dir = temp_dir("slim-workers");
    let plain = arch_from_json(
        &dir,
        "slimmable",
        &slimmable_document(serde_json::json!({})).to_string(),
    );
    let boosted = arch_from_json(
        &dir,
        "boosted",
        &slimmable_document(serde_json::json!({"boosting": true})).to_string(),
    );
    let (rows, samples) = (4, 600);
    let window = samples + plain.receptive_field() - 1;
    let x = Tensor::from_slice(&noise(41, rows * window)).reshape([rows as i64, -1]) * 0.5;
    let y = Tensor::from_slice(&noise(42, rows * samples)).reshape([rows as i64, -1]) * 0.3;
    let loss = LossConfig {
        kind: LossKind::Mse,
        pre_emphasis: None,
        mrstft_weight: None,
        pre_emphasis_mrstft: None,
    };
    let nonzero = |gradients: &[Tensor]| -> i64 {
        gradients
            .iter()
            .filter(|g| g.defined())
            .map(|g| g.ne(0.0).sum(tch::Kind::Int64).int64_value(&[]))
            .sum()
    };
    for (architecture, slimming) in [(&plain, 0.2), (&boosted, 0.9)] {
        tch::manual_seed(12);
        let vs = nn::VarStore::new(Device::Cpu);
        let mut model = TrainModel::new(&vs.root(), architecture);
        let optimizer = Adam::new(&vs, 1e-3, 0.0, 0.0);
        let mut whole_batch = |slimming: f64| {
            model.set_slimming(slimming);
            let [pred] = &model.outputs(&x, Mode::Train)[..] else {
                panic!("one output expected");
            };
            optimizer.gradients(&loss.training_loss(pred, &y))
        };
        let (at_size, full) = (whole_batch(slimming), whole_batch(1.0));
        if slimming < 0.5 {
            assert!(
                nonzero(&at_size) < nonzero(&full),
                "at size {slimming} {} weights get a gradient, at full size {}",
                nonzero(&at_size),
                nonzero(&full)
            );
        }
        let workers = Workers::new(architecture, 2);
        let step = workers
            .step(optimizer.parameters(), slimming, &x, &y, &loss)
            .unwrap();
        for (i, (got, want)) in step.gradients.iter().zip(&at_size).enumerate() {
            assert_eq!(got.defined(), want.defined(), "variable {i}");
            if want.defined() {
                let diff = (got - want).abs().max().double_value(&[]);
                let scale = want.abs().max().double_value(&[]);
                assert!(
                    diff <= 1e-4 * scale.max(1e-12),
                    "size {slimming}, variable {i}: differs by {diff}"
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Training with two worker threads learns, and two runs write the same model.
#[test]
fn training_on_worker_threads_learns_and_is_deterministic() {
    let dir = temp_dir("workers-train");
    write_synthetic_pair(&dir);
    let run = |output: &str| {
        TrainArgs {
            threads: Some(2),
            ..short_run(&dir, output, 2, None)
        }
        .run_with_stop(&AtomicBool::new(false))
        .unwrap()
    };
    let (first, second) = (run("first.nam"), run("second.nam"));
    assert!(
        first.outcome.best_validation_esr < first.outcome.initial_validation_esr,
        "validation ESR {} after training, {} before",
        first.outcome.best_validation_esr,
        first.outcome.initial_validation_esr
    );
    assert_eq!(weights_of(&first.output), weights_of(&second.output));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn packed_preset_trains_and_loads_in_the_trainers_code() {
    let dir = temp_dir("trainer-packed");
    write_synthetic_pair(&dir);
    let summary = brief_training(&dir, "packed", "packed");
    check_in_trainer(&summary.output);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn classic_and_a2_presets_load_in_the_trainers_code() {
    let dir = temp_dir("trainer-presets");
    write_synthetic_pair(&dir);
    for preset in ["nano", "feather", "lite", "standard", "a2_lite", "a2"] {
        let summary = brief_training(&dir, preset, preset);
        check_in_trainer(&summary.output);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn lstm_loads_in_the_trainers_code() {
    let dir = temp_dir("trainer-lstm");
    write_synthetic_pair(&dir);
    let path = dir.join("lstm.json");
    std::fs::write(
        &path,
        r#"{"net": {"name": "LSTM", "config": {"hidden_size": 6, "num_layers": 2}}}"#,
    )
    .unwrap();
    let summary = brief_training(&dir, path.to_str().unwrap(), "lstm");
    check_in_trainer(&summary.output);
    std::fs::remove_dir_all(&dir).ok();
}

/// WaveNet features from a trainer-layout config: per-layer kernel sizes,
/// dilations and parameterized activations, gating none/gated/blended,
/// bottleneck, grouped convolutions, head1x1, an inactive layer1x1, a head
/// rechannel with kernel and bias, head_scale, FiLM, the post-stack head, a
/// condition DSP, learned PReLU slopes.
fn feature_configs() -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    vec![
        (
            "gating",
            json!({"layers_configs": [{
                "input_size": 1, "condition_size": 1, "channels": 4, "bottleneck": 2,
                "kernel_sizes": [3, 2, 4], "dilations": [1, 2, 5],
                "activation": [
                    {"name": "PairMultiply", "primary": "Tanh", "secondary": "Sigmoid"},
                    // The trainer's pairs take bare names only, and reads back a
                    // parameterized one (nam-kernel writes LeakyReLU with its slope) as a dict.
                    {"name": "PairBlend", "primary": "ReLU", "secondary": "Hardsigmoid"},
                    {"name": "Hardtanh", "min_val": -0.5, "max_val": 0.7}],
                "head": {"out_channels": 2, "kernel_size": 3, "bias": true}
            }, {
                "input_size": 4, "condition_size": 1, "channels": 3,
                "kernel_size": 2, "dilations": [1, 4],
                "activation": "SiLU",
                "head_1x1_config": {"active": true, "out_channels": 2, "groups": 1},
                "head": {"out_channels": 1, "kernel_size": 1, "bias": false}
            }], "head": null, "head_scale": 0.3}),
        ),
        (
            "grouped",
            json!({"layers_configs": [{
                "input_size": 1, "condition_size": 1, "channels": 4, "bottleneck": 4,
                "kernel_sizes": [3, 3], "dilations": [1, 3],
                "activation": {"name": "LeakyReLU", "negative_slope": 0.1},
                "groups_input": 2, "groups_input_mixin": 1,
                "layer_1x1_config": {"active": true, "groups": 2},
                "head_1x1_config": {"active": true, "out_channels": 2, "groups": 2},
                "head": {"out_channels": 1, "kernel_size": 2, "bias": true}
            }], "head": null, "head_scale": 0.5}),
        ),
        (
            "no_layer1x1",
            json!({"layers_configs": [{
                "input_size": 1, "condition_size": 1, "channels": 3,
                "kernel_sizes": [2, 5], "dilations": [2, 1],
                "activation": ["ReLU", "Softsign"],
                "layer_1x1_config": {"active": false, "groups": 1},
                "head": {"out_channels": 1, "kernel_size": 1, "bias": true}
            }], "head": null, "head_scale": 0.5}),
        ),
        (
            "post_head",
            json!({"layers_configs": [{
                "input_size": 1, "condition_size": 1, "channels": 4,
                "kernel_sizes": [3, 2, 3], "dilations": [1, 2, 4],
                "activation": [
                    {"name": "ELU", "alpha": 0.5},
                    {"name": "Softplus", "beta": 2.0, "threshold": 5.0},
                    "Mish"],
                "head": {"out_channels": 3, "kernel_size": 2, "bias": true}
            }], "head": {"channels": 5, "activation": "Softsigmoid", "out_channels": 1,
                         "kernel_sizes": [3, 2]},
               "head_scale": 0.7}),
        ),
        (
            // Every FiLM position, with and without shift, in the trainer's
            // `film_params` (the gated layer's activation_pre FiLM spans both halves).
            "film",
            json!({"layers_configs": [{
                "input_size": 1, "condition_size": 1, "channels": 4, "bottleneck": 3,
                "kernel_sizes": [3, 2], "dilations": [1, 3],
                "activation": [{"name": "PairMultiply", "primary": "Tanh", "secondary": "Sigmoid"},
                               "ReLU"],
                "head_1x1_config": {"active": true, "out_channels": 2, "groups": 1},
                "film_params": {
                    "conv_pre_film": {"active": true, "shift": true},
                    "conv_post_film": {"active": true, "shift": false},
                    "input_mixin_pre_film": {"active": true, "shift": true},
                    "input_mixin_post_film": {"active": true, "shift": false},
                    "activation_pre_film": {"active": true, "shift": true},
                    "activation_post_film": true,
                    "layer1x1_post_film": {"active": true, "shift": false},
                    "head1x1_post_film": {"active": true, "shift": true}},
                "head": {"out_channels": 1, "kernel_size": 2, "bias": true}
            }], "head": null, "head_scale": 0.5}),
        ),
        (
            // A nested WaveNet (2 output channels) makes the condition, as the
            // trainer's `condition_dsp`.
            "condition_dsp",
            json!({"layers_configs": [{
                "input_size": 1, "condition_size": 2, "channels": 3,
                "kernel_sizes": [3, 2], "dilations": [1, 3],
                "activation": "Tanh",
                "head": {"out_channels": 1, "kernel_size": 1, "bias": true}
            }], "head": null, "head_scale": 0.5,
               "condition_dsp": {"name": "WaveNet", "config": {"layers_configs": [{
                   "input_size": 1, "condition_size": 1, "channels": 2,
                   "kernel_sizes": [3, 3], "dilations": [1, 2],
                   "activation": "SiLU",
                   // The last layer's 1x1 would feed nothing, so it would not train.
                   "layer_1x1_config": {"active": false, "groups": 1},
                   "head": {"out_channels": 2, "kernel_size": 2, "bias": true}
               }], "head": null, "head_scale": 1.0}}}),
        ),
        (
            // Learned slopes: per channel, one for all, and a gate's primary.
            "prelu",
            json!({"layers_configs": [{
                "input_size": 1, "condition_size": 1, "channels": 3,
                "kernel_sizes": [3, 2, 2], "dilations": [1, 2, 4],
                "activation": [{"name": "PReLU", "num_parameters": 3, "init": 0.1},
                               {"name": "PReLU"},
                               {"name": "PairMultiply", "primary": "PReLU", "secondary": "Sigmoid"}],
                "head": {"out_channels": 1, "kernel_size": 1, "bias": true}
            }], "head": null, "head_scale": 0.5}),
        ),
        (
            // Slimmable: each training step at a random size; every size of
            // the export plays as the trainer's `set_slimming` does.
            "slimmable",
            json!({"layers_configs": [{
                "input_size": 1, "condition_size": 1, "channels": 6,
                "kernel_sizes": [3, 3, 2], "dilations": [1, 2, 4],
                "activation": ["Tanh", {"name": "PairMultiply", "primary": "Tanh",
                                        "secondary": "Sigmoid"}, "ReLU"],
                "slimmable": {"method": "slice_channels_uniform",
                              "kwargs": {"allowed_channels": [2, 3, 5]}},
                "head": {"out_channels": 1, "kernel_size": 1, "bias": true}
            }], "head": null, "head_scale": 0.5}),
        ),
        (
            // With the trainer's training options: boosting (a size's loss
            // leaves the smaller size's weights alone) from the smallest
            // size's weights and zeros elsewhere.
            "slimmable_boosted",
            json!({"layers_configs": [{
                "input_size": 1, "condition_size": 1, "channels": 4,
                "kernel_sizes": [3, 2], "dilations": [1, 3],
                "activation": ["Tanh", "LeakyReLU"],
                "slimmable": {"method": "slice_channels_uniform",
                              "kwargs": {"allowed_channels": [2, 4], "boosting": true,
                                         "init_strategy": "smallest_and_zeros"}},
                "head": {"out_channels": 1, "kernel_size": 1, "bias": true}
            }], "head": null, "head_scale": 0.5}),
        ),
        (
            "leaky_hardtanh",
            json!({"layers_configs": [{
                "input_size": 1, "condition_size": 1, "channels": 3,
                "kernel_sizes": [3, 3], "dilations": [1, 3],
                "activation": {"name": "LeakyHardtanh", "min_val": -0.3, "max_val": 0.4,
                               "min_slope": 0.05, "max_slope": 0.2},
                "head": {"out_channels": 1, "kernel_size": 1, "bias": true}
            }], "head": null, "head_scale": 0.5}),
        ),
    ]
}

/// A ConvNet and a Linear from trainer-layout configs (the ConvNet with
/// batchnorm, the other ConvNet and the Linear with what the trainer defaults).
fn convnet_and_linear_configs() -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    vec![
        (
            "convnet_batchnorm",
            json!({"name": "ConvNet", "config": {"channels": 5, "dilations": [1, 2, 4, 8, 16],
                   "batchnorm": true, "activation": "ReLU"}}),
        ),
        (
            "convnet_defaults",
            json!({"name": "ConvNet", "config": {"channels": 3}}),
        ),
        (
            "linear",
            json!({"name": "Linear", "config": {"receptive_field": 48, "bias": true}}),
        ),
        (
            "linear_defaults",
            json!({"name": "Linear", "config": {"receptive_field": 7}}),
        ),
    ]
}

#[test]
fn config_file_convnet_and_linear_match_nam_kernel_and_the_trainers_code() {
    use nam_kernel::format::{Activation, ConvNetConfig, LinearConfig};
    let dir = temp_dir("trainer-convnet-linear");
    write_synthetic_pair(&dir);
    for (name, net) in convnet_and_linear_configs() {
        let path = dir.join(format!("{name}.json"));
        let document = serde_json::json!({"net": net});
        std::fs::write(&path, document.to_string()).unwrap();
        let architecture = Architecture::from_arg(path.to_str().unwrap()).unwrap();
        match (name, &architecture) {
            ("convnet_defaults", Architecture::ConvNet(config)) => assert_eq!(
                config,
                &ConvNetConfig {
                    channels: 3,
                    dilations: vec![1, 2, 4, 8],
                    batchnorm: false,
                    activation: Activation::Tanh,
                }
            ),
            ("linear_defaults", Architecture::Linear(config)) => assert_eq!(
                config,
                &LinearConfig {
                    receptive_field: 7,
                    bias: false,
                }
            ),
            (_, Architecture::ConvNet(_) | Architecture::Linear(_)) => {}
            (_, other) => panic!(
                "{name}: {} is not the configured architecture",
                other.name()
            ),
        }
        check_parity(&architecture, &dir, name);
        // Four epochs: batchnorm's running statistics, which the exported
        // model plays with, take a few epochs to settle.
        let summary = TrainArgs {
            arch: path.to_str().unwrap().into(),
            average_decay: None,
            batch_size: Some(2),
            segment_length: Some(2048),
            validation_split: Some(0.3),
            ..short_run(&dir, &format!("{name}.nam"), 4, None)
        }
        .run_with_stop(&AtomicBool::new(false))
        .unwrap();
        let outcome = &summary.outcome;
        assert!(
            outcome.best_validation_esr < outcome.initial_validation_esr,
            "{name}: training did not lower the validation ESR ({} to {})",
            outcome.initial_validation_esr,
            outcome.best_validation_esr
        );
        check_in_trainer(&summary.output);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn config_file_wavenet_features_match_nam_kernel_and_the_trainers_code() {
    let dir = temp_dir("trainer-features");
    write_synthetic_pair(&dir);
    for (name, config) in feature_configs() {
        let path = dir.join(format!("{name}.json"));
        let document = serde_json::json!({"net": {"name": "WaveNet", "config": config}});
        std::fs::write(&path, document.to_string()).unwrap();
        let architecture = Architecture::from_arg(path.to_str().unwrap()).unwrap();
        check_parity(&architecture, &dir, name);
        let summary = brief_training(&dir, path.to_str().unwrap(), name);
        check_in_trainer(&summary.output);
        check_config_weights_trained(&architecture, &summary.output, name);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Every value training learns into a WaveNet's config (PReLU slopes, a
/// condition DSP's weights) differs in the written file from its start (the
/// model [`brief_training`]'s seed initializes).
fn check_config_weights_trained(architecture: &Architecture, output: &Path, name: &str) {
    let Architecture::WaveNet(config) = architecture else {
        panic!("{name}: not a WaveNet");
    };
    tch::manual_seed(short_run(Path::new("."), "", 1, None).seed.unwrap() as i64);
    let vs = nn::VarStore::new(Device::Cpu);
    let initial = TrainModel::new(&vs.root(), architecture).export_weights();
    let nam_kernel::format::ModelSpec::WaveNet {
        config: written,
        weights,
    } = NamFile::load(output).unwrap().spec
    else {
        panic!("{name}: the file is not a WaveNet");
    };
    let trained = learned_config::training_weights(&written, &weights);
    assert_eq!(trained.len(), initial.len(), "{name}");
    // A condition DSP's head_scale (the last of its file weights) is a constant.
    let nested_scale = learned_config::nested(config).map(|inner| {
        initial.len() - learned_config::training_weight_count(inner) + inner.weight_count() - 1
    });
    let unchanged = (config.weight_count()..initial.len())
        .filter(|&i| Some(i) != nested_scale && trained[i] == initial[i])
        .count();
    assert_eq!(
        unchanged, 0,
        "{name}: {unchanged} values kept in the config did not train"
    );
    // What --resume does: the file's training weights into a model and back out.
    let mut model = TrainModel::new(&vs.root(), architecture);
    model.import_weights(&trained);
    assert_eq!(
        model.export_weights(),
        trained,
        "{name}: import and export differ"
    );
}

#[test]
fn config_files_name_what_the_trainer_does_not_implement() {
    use serde_json::json;
    let dir = temp_dir("refuse-features");
    let array = |extra: serde_json::Value| {
        let mut a = json!({"input_size": 1, "condition_size": 1, "channels": 2,
            "kernel_size": 2, "dilations": [1], "activation": "Tanh",
            "head": {"out_channels": 1, "kernel_size": 1, "bias": true}});
        a.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        a
    };
    let cases = [
        (
            json!({"layers_configs": [array(json!({"film_params": {"layer1x1_post_film": true},
                                                  "layer_1x1_config": {"active": false}}))],
                   "head_scale": 1.0}),
            "layer1x1_post_film is active but layer1x1 is not",
        ),
        (
            json!({"layers_configs": [array(json!({"slimmable": {"method": "slice_channels_uniform",
                                                                 "kwargs": {"init_strategy": "zeros"}}}))],
                   "head_scale": 1.0}),
            "slimmable `init_strategy` \"zeros\" (the NAM trainer's are smallest_and_zeros and channel_causal) (layer array 0)",
        ),
        (
            json!({"layers_configs": [
                array(json!({"slimmable": {"method": "slice_channels_uniform"},
                             "head": {"out_channels": 2, "kernel_size": 1, "bias": true}})),
                array(json!({"input_size": 2}))], "head_scale": 1.0}),
            "`slimmable`: more than one layer array",
        ),
        (
            json!({"layers_configs": [array(json!({}))], "head_scale": 1.0,
                   "head": {"channels": 2, "out_channels": 2, "kernel_sizes": [1], "activation": "Tanh"}}),
            "2 output channels",
        ),
        (
            json!({"layers_configs": [array(json!({}))], "head_scale": 1.0,
                   "head": {"channels": 2, "out_channels": 1, "kernel_sizes": [1],
                            "activation": {"type": "PReLU", "negative_slope": 0.2}}}),
            "PReLU activation (the post-stack `head`)",
        ),
    ];
    let lstm = json!({"name": "LSTM", "config": {"num_layers": 1, "hidden_size": 3,
                                                  "input_size": 1}});
    let cases = cases.into_iter().chain([(
        json!({"layers_configs": [array(json!({}))], "head_scale": 1.0, "condition_dsp": lstm}),
        "a `condition_dsp` of architecture LSTM (the trainer trains WaveNet ones)",
    )]);
    for (i, (config, field)) in cases.enumerate() {
        let path = dir.join(format!("case{i}.json"));
        let document = json!({"net": {"name": "WaveNet", "config": config}});
        std::fs::write(&path, document.to_string()).unwrap();
        let error = Architecture::from_arg(path.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(field) && error.contains(&format!("case{i}.json")),
            "{error}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A sample-aligned digital capture through a cabinet-like response that swells
/// over 32 samples (the issue's case): the onset is ambiguous, so the user is
/// warned and, after training, sees the model's ESR against the unshifted
/// target beside the shifted one.
#[test]
fn an_ambiguous_latency_reports_the_shifted_and_unshifted_esr() {
    let dir = temp_dir("ambiguous");
    let x: Vec<f32> = noise(21, 6 * 48_000).iter().map(|v| 0.3 * v).collect();
    let ir: Vec<f32> = (0..64)
        .map(|i| {
            if i < 32 {
                i as f32 / 32.0
            } else {
                0.9_f32.powi(i - 32)
            }
        })
        .collect();
    let y: Vec<f32> = (0..x.len())
        .map(|t| {
            let s: f32 = (0..ir.len().min(t + 1)).map(|k| ir[k] * x[t - k]).sum();
            (0.5 * s).tanh()
        })
        .collect();
    write_wav(&dir.join("di.wav"), &x, 48_000, 1);
    write_wav(&dir.join("amp.wav"), &y, 48_000, 1);
    let args = TrainArgs {
        latency: None,
        ..short_run(&dir, "model.nam", 2, None)
    };
    let summary = args.run_with_stop(&AtomicBool::new(false)).unwrap();
    assert!(summary.latency.is_ambiguous(), "{}", summary.latency);
    assert!(summary.latency.samples > 4, "{}", summary.latency);
    let (shifted, unshifted) = summary.shifted_vs_unshifted_esr.unwrap();
    assert!(shifted.is_finite() && unshifted.is_finite());
    // The shifted figure is the validation ESR of the exported model.
    assert!(
        (shifted - summary.outcome.best_validation_esr).abs()
            <= 1e-3 * summary.outcome.best_validation_esr.max(1e-3),
        "{shifted} vs {}",
        summary.outcome.best_validation_esr
    );
    let report = summary.report();
    assert!(report.contains("unshifted target"), "{report}");
    assert!(report.contains(&format!("{unshifted:.4}")), "{report}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The NAM trainer's python (`scripts/nam-venv.sh`): `NAM_VENV_PYTHON`, or the venv in the
/// repository's cache. Missing, the test fails saying how to make it.
fn nam_trainer_python() -> PathBuf {
    let python = std::env::var_os("NAM_VENV_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/nam-venv/bin/python")
        });
    assert!(
        python.exists(),
        "{} not found: run scripts/nam-venv.sh (scripts/test-train.sh does) or set NAM_VENV_PYTHON",
        python.display()
    );
    python
}

fn write_f32(path: &Path, samples: &[f32]) {
    let bytes: Vec<u8> = samples.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn mrstft_matches_the_nam_trainers_loss_and_gradient() {
    use nam_tools::train::loss::{mrstft, pre_emphasis};
    let python = nam_trainer_python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/auraloss-reference.py");
    let dir = temp_dir("mrstft");
    let (batch, samples) = (3, 8192);
    // Targets with a digitally silent stretch, where the magnitudes' clamp decides.
    let mut target = noise(11, batch * samples);
    for row in target.chunks_mut(samples) {
        row[samples - 2048..].fill(0.0);
    }
    let near: Vec<f32> = target
        .iter()
        .zip(noise(12, batch * samples))
        .map(|(t, n)| t + 0.05 * n)
        .collect();
    let unrelated: Vec<f32> = noise(13, batch * samples).iter().map(|x| 0.3 * x).collect();
    let cases = [
        ("near", near.clone(), None),
        ("unrelated", unrelated, None),
        ("near, pre-emphasized", near, Some(0.85)),
    ];
    for (name, pred, coef) in cases {
        let (pred_path, target_path, out_path) = (
            dir.join(format!("{name}-pred.f32").replace([' ', ','], "")),
            dir.join(format!("{name}-target.f32").replace([' ', ','], "")),
            dir.join(format!("{name}-out.f32").replace([' ', ','], "")),
        );
        write_f32(&pred_path, &pred);
        write_f32(&target_path, &target);
        let status = std::process::Command::new(&python)
            .arg(&script)
            .args([&pred_path, &target_path])
            .arg(batch.to_string())
            .arg(&out_path)
            .args(coef.map(|c: f64| c.to_string()))
            .env("OMP_NUM_THREADS", "1")
            .status()
            .expect("running the NAM trainer's python");
        assert!(status.success(), "{} failed", script.display());
        let reference = read_f32(&out_path);
        let (reference_loss, reference_grad) = (f64::from(reference[0]), &reference[1..]);

        let p = Tensor::from_slice(&pred)
            .view([batch as i64, samples as i64])
            .set_requires_grad(true);
        let t = Tensor::from_slice(&target).view([batch as i64, samples as i64]);
        // The trainer's `pre_emph_mrstft` term, as `LossConfig` adds it.
        let loss = match coef {
            None => mrstft(&p, &t),
            Some(coef) => mrstft(&pre_emphasis(&p, coef), &pre_emphasis(&t, coef)),
        };
        loss.backward();
        let ours = loss.double_value(&[]);
        let grad = Vec::<f32>::try_from(&p.grad().flatten(0, -1)).unwrap();

        let loss_error = (ours - reference_loss).abs() / reference_loss;
        assert!(
            loss_error < 1e-5,
            "{name}: MRSTFT {ours} vs the trainer's {reference_loss} (relative {loss_error:e})"
        );
        assert_eq!(grad.len(), reference_grad.len());
        let scale = reference_grad.iter().fold(0.0_f32, |m, g| m.max(g.abs()));
        let grad_error = grad
            .iter()
            .zip(reference_grad)
            .fold(0.0_f32, |m, (a, b)| m.max((a - b).abs()))
            / scale;
        assert!(
            scale > 0.0 && grad_error < 1e-4,
            "{name}: MRSTFT gradient differs from the trainer's by {grad_error:e} of its largest value {scale:e}"
        );
        println!("{name}: MRSTFT {ours:.7} (trainer {reference_loss:.7}), gradient within {grad_error:.1e}");
    }
}

#[test]
fn pre_emphasized_loss_terms_come_from_the_config_in_pairs() {
    let dir = temp_dir("pre-emphasis-config");
    let with_loss = |name: &str, loss: serde_json::Value| {
        let path = tiny_packed_config(&dir);
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config["loss"] = loss;
        let path = dir.join(name);
        std::fs::write(&path, config.to_string()).unwrap();
        Architecture::with_settings(path.to_str().unwrap())
    };
    let (_, settings) = with_loss(
        "both.json",
        serde_json::json!({"val_loss": "esr", "pre_emph_coef": 0.9, "pre_emph_weight": 0.5,
                           "pre_emph_mrstft_coef": 0.85, "pre_emph_mrstft_weight": 2e-4}),
    )
    .unwrap();
    assert_eq!(settings.pre_emphasis, Some((0.9, 0.5)));
    assert_eq!(settings.pre_emphasis_mrstft, Some((0.85, 2e-4)));
    assert_eq!(settings.mrstft_weight, None);
    let error = with_loss(
        "half.json",
        serde_json::json!({"pre_emph_mrstft_coef": 0.85}),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("pre_emph_mrstft_weight") && error.contains("half.json"),
        "{error}"
    );
}

/// The "slimmable" feature config with `kwargs` added to its slimmable
/// settings, as a trainer model config.
fn slimmable_document(kwargs: serde_json::Value) -> serde_json::Value {
    let mut config = feature_configs()
        .into_iter()
        .find(|(name, _)| *name == "slimmable")
        .unwrap()
        .1;
    config["layers_configs"][0]["slimmable"]["kwargs"]
        .as_object_mut()
        .unwrap()
        .extend(kwargs.as_object().unwrap().clone());
    serde_json::json!({"net": {"name": "WaveNet", "config": config}})
}

/// Runs `scripts/check-slim-training.py` with `args` in the NAM trainer's venv.
fn check_slim_training(args: &[&std::ffi::OsStr]) {
    let script = repo_root().join("scripts/check-slim-training.py");
    let status = std::process::Command::new(nam_trainer_python())
        .arg(&script)
        .args(args)
        .env("OMP_NUM_THREADS", "1")
        .status()
        .expect("running the NAM trainer's python");
    assert!(status.success(), "{} {args:?} failed", script.display());
}

/// Each slimmable `init_strategy` zeroes exactly the initial weights the NAM
/// trainer's zeroes (the same config built by its own code).
#[test]
fn slimmable_init_strategies_zero_the_weights_the_trainers_do() {
    let dir = temp_dir("slim-init");
    for strategy in ["smallest_and_zeros", "channel_causal"] {
        let document = slimmable_document(serde_json::json!({"init_strategy": strategy}));
        let config = dir.join(format!("{strategy}.json"));
        std::fs::write(&config, document.to_string()).unwrap();
        let architecture = Architecture::from_arg(config.to_str().unwrap()).unwrap();
        tch::manual_seed(3);
        let vs = nn::VarStore::new(Device::Cpu);
        let weights = TrainModel::new(&vs.root(), &architecture).export_weights();
        let zeros = weights.iter().filter(|&&w| w == 0.0).count();
        assert!(zeros > 0, "{strategy}: no weight is zero");
        let path = dir.join(format!("{strategy}.f32"));
        write_f32(&path, &weights);
        check_slim_training(&["init".as_ref(), config.as_os_str(), path.as_os_str()]);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `model`'s gradient of the MSE of its output for `x` against `y`, in the
/// `.nam` weight order (each parameter replaced by its gradient for the
/// export, then restored); the last entry, `head_scale`, is 0.
fn gradient_in_export_order(
    model: &mut TrainModel,
    optimizer: &Adam,
    x: &Tensor,
    y: &Tensor,
) -> Vec<f32> {
    let [pred] = &model.outputs(x, Mode::Train)[..] else {
        panic!("one output expected");
    };
    let gradients = optimizer.gradients(&nam_tools::train::loss::mse(pred, y));
    let weights = model.export_weights();
    tch::no_grad(|| {
        for (p, g) in optimizer.parameters().iter().zip(&gradients) {
            let mut p = p.shallow_clone();
            if g.defined() {
                p.copy_(g);
            } else {
                p.copy_(&p.zeros_like());
            }
        }
    });
    let mut exported = model.export_weights();
    model.import_weights(&weights);
    *exported.last_mut().unwrap() = 0.0;
    exported
}

/// Two rows of noise to compare gradients on: `x` (a receptive field longer
/// than `y`) and `y`, as tensors and as files for the NAM trainer's side.
struct GradientBatch {
    x: Tensor,
    y: Tensor,
    x_path: PathBuf,
    y_path: PathBuf,
    dir: PathBuf,
}

impl GradientBatch {
    const ROWS: usize = 2;
    const SAMPLES: usize = 300;

    /// The batch for a model of receptive field `rf`, its files in `dir`.
    fn new(dir: &Path, rf: usize) -> Self {
        let window = Self::SAMPLES + rf - 1;
        let (xs, ys) = (
            noise(51, Self::ROWS * window),
            noise(52, Self::ROWS * Self::SAMPLES),
        );
        let (x_path, y_path) = (dir.join("x.f32"), dir.join("y.f32"));
        write_f32(&x_path, &xs);
        write_f32(&y_path, &ys);
        Self {
            x: Tensor::from_slice(&xs).reshape([Self::ROWS as i64, -1]),
            y: Tensor::from_slice(&ys).reshape([Self::ROWS as i64, -1]),
            x_path,
            y_path,
            dir: dir.to_owned(),
        }
    }

    /// The NAM trainer's gradient (its code: `scripts/check-slim-training.py
    /// gradient`) of the MSE of the model in `model_path` on this batch, at
    /// size value `slimming` (`None`: a model that is not slimmable).
    fn trainers_gradient(&self, model_path: &Path, slimming: Option<f64>) -> Vec<f32> {
        let size = slimming.map_or("none".to_owned(), |s| s.to_string());
        let out = self.dir.join(format!("gradient-{size}.f32"));
        check_slim_training(&[
            "gradient".as_ref(),
            model_path.as_os_str(),
            self.x_path.as_os_str(),
            self.y_path.as_os_str(),
            Self::ROWS.to_string().as_ref(),
            size.as_ref(),
            out.as_os_str(),
        ]);
        read_f32(&out)
    }
}

/// Asserts that our gradient (`what` names it) is the NAM trainer's within
/// 1e-4 of its largest entry, and not all zero.
fn assert_same_gradient(ours: &[f32], theirs: &[f32], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: number of weights");
    let scale = theirs.iter().fold(0.0_f32, |m, g| m.max(g.abs()));
    let (worst, at) = ours
        .iter()
        .zip(theirs)
        .enumerate()
        .map(|(i, (a, b))| ((a - b).abs(), i))
        .fold((0.0, 0), |m, d| if d.0 > m.0 { d } else { m });
    assert!(
        scale > 0.0 && worst <= 1e-4 * scale,
        "{what}: gradient {at} is {} here, {} in the trainer (largest {scale})",
        ours[at],
        theirs[at]
    );
}

/// The classic presets' tanh layers run as `tanh(z) = 2σ(2z) − 1` with the
/// affine parts folded into the convolutions (a quarter off the forward pass
/// on a CPU where libtorch's `tanh`, MKL's, is slow): every weight's gradient
/// is still the NAM trainer's, on the nano and feather presets.
#[test]
fn tanh_wavenets_give_the_trainers_gradient() {
    let dir = temp_dir("tanh-gradient");
    for preset in ["nano", "feather"] {
        let architecture = Architecture::from_arg(preset).unwrap();
        tch::manual_seed(9);
        let vs = nn::VarStore::new(Device::Cpu);
        let mut model = TrainModel::new(&vs.root(), &architecture);
        let optimizer = Adam::new(&vs, 1e-3, 0.0, 0.0);
        let model_path = dir.join(format!("{preset}.nam"));
        export::nam_file(&architecture, model.export_weights(), 48_000.0)
            .save(&model_path)
            .unwrap();
        let batch = GradientBatch::new(&dir, architecture.receptive_field());
        let ours = gradient_in_export_order(&mut model, &optimizer, &batch.x, &batch.y);
        let theirs = batch.trainers_gradient(&model_path, None);
        assert_same_gradient(&ours, &theirs, preset);
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// With `boosting`, a step at each size gives the NAM trainer's gradient for
/// the same weights and data (its code, at the same size value): a size's
/// loss trains none of the weights the next smaller size uses. Without it,
/// those weights get a gradient; the smallest size is the same either way.
#[test]
fn slimmable_boosting_gives_the_trainers_gradient_at_each_size() {
    let dir = temp_dir("slim-boosting");
    let boosted_path = dir.join("boosted.json");
    std::fs::write(
        &boosted_path,
        slimmable_document(serde_json::json!({"boosting": true})).to_string(),
    )
    .unwrap();
    let boosted = Architecture::from_arg(boosted_path.to_str().unwrap()).unwrap();
    let plain = arch_from_json(
        &dir,
        "plain",
        &slimmable_document(serde_json::json!({})).to_string(),
    );
    tch::manual_seed(5);
    let (vs, plain_vs) = (
        nn::VarStore::new(Device::Cpu),
        nn::VarStore::new(Device::Cpu),
    );
    let mut model = TrainModel::new(&vs.root(), &boosted);
    let mut plain_model = TrainModel::new(&plain_vs.root(), &plain);
    plain_model.import_weights(&model.export_weights());
    let (optimizer, plain_optimizer) = (
        Adam::new(&vs, 1e-3, 0.0, 0.0),
        Adam::new(&plain_vs, 1e-3, 0.0, 0.0),
    );
    let model_path = dir.join("boosted.nam");
    export::nam_file(&boosted, model.export_weights(), 48_000.0)
        .save(&model_path)
        .unwrap();
    let batch = GradientBatch::new(&dir, boosted.receptive_field());
    let zeros = |g: &[f32]| g.iter().filter(|&&v| v == 0.0).count();
    // Size values of the three widths (2, 3 and 5 channels).
    for slimming in [0.2, 0.5, 0.9] {
        model.set_slimming(slimming);
        plain_model.set_slimming(slimming);
        let ours = gradient_in_export_order(&mut model, &optimizer, &batch.x, &batch.y);
        let unboosted =
            gradient_in_export_order(&mut plain_model, &plain_optimizer, &batch.x, &batch.y);
        let theirs = batch.trainers_gradient(&model_path, Some(slimming));
        assert_same_gradient(&ours, &theirs, &format!("size value {slimming}"));
        if slimming < 1.0 / 3.0 {
            assert_eq!(ours, unboosted, "the smallest size is not boosted");
        } else {
            assert!(
                zeros(&ours) > zeros(&unboosted),
                "size value {slimming}: {} zero gradients boosted, {} without",
                zeros(&ours),
                zeros(&unboosted)
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The STFT loss terms take segments just longer than half their largest
/// FFT, and a shorter --segment-length is refused before training with the
/// length it needs (libtorch would fail inside the loss).
#[test]
fn segments_too_short_for_the_stft_terms_are_refused() {
    let dir = temp_dir("short-segments");
    let x: Vec<f32> = noise(6, 48_000).iter().map(|v| 0.3 * v).collect();
    write_wav(&dir.join("di.wav"), &x, 48_000, 1);
    write_wav(&dir.join("amp.wav"), &amp(&x, 0), 48_000, 1);
    for (mrstft_weight, pre_emphasis_mrstft) in [(Some(5e-4), None), (None, Some(0.85))] {
        let loss = LossConfig {
            kind: LossKind::Mse,
            pre_emphasis: None,
            mrstft_weight,
            pre_emphasis_mrstft: pre_emphasis_mrstft.map(|c| (c, 2e-4)),
        };
        let shortest = loss.shortest_segment();
        let signal = |n: usize, seed| Tensor::from_slice(&noise(seed, 2 * n)).reshape([2, -1]);
        let value = loss
            .training_loss(&signal(shortest, 1), &signal(shortest, 2))
            .double_value(&[]);
        assert!(value.is_finite(), "{shortest} samples: loss {value}");
        let args = TrainArgs {
            mrstft_weight,
            pre_emphasis_mrstft,
            segment_length: Some(shortest - 1),
            ..short_run(&dir, "short.nam", 1, None)
        };
        let error = args
            .run_with_stop(&AtomicBool::new(false))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            format!(
                "--segment-length {} is too short for the multi-resolution STFT loss term: it takes at least {shortest} samples",
                shortest - 1
            )
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A slimmable array initialized `smallest_and_zeros` with activations that
/// keep 0 at 0 is trained with a warning that its extra channels never
/// train; with one that does not (Sigmoid), or another strategy, without.
#[test]
fn smallest_and_zeros_with_zero_keeping_activations_is_warned_about() {
    let dir = temp_dir("slim-warning");
    let warnings = |name: &str, kwargs: serde_json::Value, activation: Option<&str>| {
        let mut document = slimmable_document(kwargs);
        if let Some(activation) = activation {
            document["net"]["config"]["layers_configs"][0]["activation"] =
                serde_json::json!([activation, activation, activation]);
        }
        arch_from_json(&dir, name, &document.to_string()).warnings()
    };
    let zeros = serde_json::json!({"init_strategy": "smallest_and_zeros"});
    let warned = warnings("zeros", zeros.clone(), None);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].contains("never train"), "{}", warned[0]);
    assert!(warnings("sigmoid", zeros, Some("Sigmoid")).is_empty());
    let causal = serde_json::json!({"init_strategy": "channel_causal"});
    assert!(warnings("causal", causal, None).is_empty());
    std::fs::remove_dir_all(&dir).ok();
}
