//! chain.toml end to end: a NAM chain reproduces the trainer's reference
//! output, stereo modes, output modes, and clear errors for broken chains.

use std::path::{Path, PathBuf};

use nam_graph::nodes::nam::{NamNode, NamSettings, OutputMode};
use nam_graph::{Chain, ChainSpec, FileCache, Node, NodeKind, NodeSpec, ProcessSpec, ReadFiles};

fn fixtures() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures");
    assert!(
        dir.join("cases.json").is_file(),
        "fixtures missing at {}",
        dir.display()
    );
    dir
}

fn read_wav(path: &Path) -> Vec<f32> {
    let mut reader = hound::WavReader::open(path).expect("fixture wav");
    reader.samples::<f32>().map(Result::unwrap).collect()
}

/// Writes `text` as a chain file in a fresh folder and parses it.
fn chain(name: &str, text: &str) -> Result<Chain, nam_graph::ChainError> {
    let dir = std::env::temp_dir().join(format!("nam-graph-chain-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("chain.toml");
    std::fs::write(&path, text).unwrap();
    Chain::load(&path)
}

fn nam_chain(name: &str, model: &str, extra: &str) -> Chain {
    let model = fixtures().join(format!("{model}.nam"));
    chain(
        name,
        &format!(
            "[[node]]\nkind = \"nam\"\nmodel = \"{}\"\n{extra}",
            model.display()
        ),
    )
    .unwrap()
}

#[test]
fn a_nam_chain_reproduces_the_reference_output() {
    let dir = fixtures();
    let input = read_wav(&dir.join("wavenet_a2.input.wav"));
    let expected = read_wav(&dir.join("wavenet_a2.output.wav"));
    let mut graph = nam_chain("reference", "wavenet_a2", "")
        .build(48_000.0, 1)
        .unwrap();
    assert_eq!(graph.latency_frames(), 0);
    let mut output = vec![0.0; input.len()];
    for (i, o) in input.chunks(100).zip(output.chunks_mut(100)) {
        graph.process(&[i], &mut [o]);
    }
    let diff = output
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(diff <= 1e-5, "max |diff| {diff}");
}

/// Settings every instance of a dual-mono node must receive.
const GAINS: &str = "input_gain_db = 2.0\noutput_gain_db = -6.0\n";

#[test]
fn dual_mono_runs_each_channel_on_its_own_and_mixdown_shares_one() {
    let dir = fixtures();
    let left = read_wav(&dir.join("wavenet_nano.input.wav"));
    let right: Vec<f32> = left.iter().map(|x| -0.5 * x).collect();
    let mono = |signal: &[f32]| {
        let mut graph = nam_chain("mono", "wavenet_nano", GAINS)
            .build(48_000.0, 1)
            .unwrap();
        let mut out = vec![0.0; signal.len()];
        graph.process(&[signal], &mut [&mut out]);
        out
    };
    let mut dual = nam_chain("dual", "wavenet_nano", GAINS)
        .build(48_000.0, 2)
        .unwrap();
    let (mut out_l, mut out_r) = (vec![0.0; left.len()], vec![0.0; left.len()]);
    dual.process(&[&left, &right], &mut [&mut out_l, &mut out_r]);
    assert_eq!(out_l, mono(&left));
    assert_eq!(out_r, mono(&right));

    let text = format!(
        "[chain]\nstereo = \"mixdown\"\n[[node]]\nkind = \"nam\"\nmodel = \"{}\"\n{GAINS}",
        dir.join("wavenet_nano.nam").display()
    );
    let mut mixdown = chain("mixdown", &text).unwrap().build(48_000.0, 2).unwrap();
    mixdown.process(&[&left, &right], &mut [&mut out_l, &mut out_r]);
    let sum: Vec<f32> = left
        .iter()
        .zip(&right)
        .map(|(l, r)| 0.5 * (l + r))
        .collect();
    let expected = mono(&sum);
    assert_eq!(out_l, out_r);
    let diff = out_l
        .iter()
        .zip(&expected)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(diff <= 1e-6, "mixdown differs by {diff}");
}

fn model_with(
    loudness: f64,
    input_level_dbu: f64,
    output_level_dbu: f64,
) -> nam_graph::nam_kernel::NamFile {
    let text = std::fs::read_to_string(fixtures().join("wavenet_nano.nam")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["metadata"]["loudness"] = loudness.into();
    json["metadata"]["input_level_dbu"] = input_level_dbu.into();
    json["metadata"]["output_level_dbu"] = output_level_dbu.into();
    nam_graph::nam_kernel::NamFile::from_json_value(&json, "levels.nam").unwrap()
}

fn model_with_levels() -> nam_graph::nam_kernel::NamFile {
    model_with(-20.0, 10.0, 16.0)
}

#[test]
fn output_modes_set_the_gains_the_nam_plugin_would() {
    let file = model_with_levels();
    let gains = |mode: OutputMode| {
        let settings = NamSettings {
            output_mode: mode,
            target_loudness_db: -18.0,
            interface_input_dbu: 12.0,
            interface_output_dbu: 18.0,
            ..NamSettings::default()
        };
        let node = NamNode::from_file(&file, "levels.nam", settings).unwrap();
        (node.total_input_gain_db(), node.total_output_gain_db())
    };
    assert_eq!(gains(OutputMode::Raw), (0.0, 0.0));
    assert_eq!(gains(OutputMode::Normalized), (0.0, 2.0)); // -18 - (-20)
    assert_eq!(gains(OutputMode::Calibrated), (2.0, -2.0)); // 12 - 10, 16 - 18
}

#[test]
fn metadata_that_would_give_an_absurd_gain_is_ignored_with_a_warning() {
    let node = |file: &nam_graph::nam_kernel::NamFile, mode: OutputMode| {
        let settings = NamSettings {
            output_mode: mode,
            ..NamSettings::default()
        };
        NamNode::from_file(file, "levels.nam", settings).unwrap()
    };
    let sane = model_with_levels();
    assert!(node(&sane, OutputMode::Normalized).warnings().is_empty());

    // loudness -300 dB would need +282 dB; ±1e308 overflows f32.
    for loudness in [-300.0, 1e308, -1e308] {
        let file = model_with(loudness, 10.0, 16.0);
        let normalized = node(&file, OutputMode::Normalized);
        assert_eq!(normalized.total_output_gain_db(), 0.0, "{loudness}: raw");
        let warnings = normalized.metadata_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(
            (warnings[0].field, warnings[0].mode, warnings[0].value),
            ("loudness", OutputMode::Normalized, loudness)
        );
        let text = warnings[0].to_string();
        assert!(
            text.contains("levels.nam") && text.contains("ignored"),
            "{text}"
        );
        // Reported whatever the mode, since the mode may change while running.
        assert_eq!(node(&file, OutputMode::Raw).warnings().len(), 1);
    }

    let file = model_with(-20.0, -500.0, 1e9);
    let calibrated = node(&file, OutputMode::Calibrated);
    assert_eq!(
        (
            calibrated.total_input_gain_db(),
            calibrated.total_output_gain_db()
        ),
        (0.0, 0.0)
    );
    let fields: Vec<&str> = calibrated
        .metadata_warnings()
        .iter()
        .map(|w| w.field)
        .collect();
    assert_eq!(fields, ["input_level_dbu", "output_level_dbu"]);
    assert!(calibrated.metadata_warnings()[0].gain_db > 500.0);

    // The chain's graph reports them by node.
    let dir = std::env::temp_dir().join(format!("nam-graph-loud-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("loud.nam");
    model_with(-300.0, 10.0, 16.0).save(&model).unwrap();
    let chain = chain(
        "loud",
        &format!("[[node]]\nid = \"amp\"\nkind = \"nam\"\nmodel = \"{}\"\noutput_mode = \"normalized\"\n", model.display()),
    )
    .unwrap();
    let warnings = chain.build(48_000.0, 1).unwrap().warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].to_string().starts_with("node `amp`: "),
        "{}",
        warnings[0]
    );
}

#[test]
fn gain_changes_are_smoothed() {
    // Two identical nodes, one told to raise its output by 20 dB: their output
    // ratio is the applied gain, which must ramp up without a jump.
    let file = model_with_levels();
    let spec = ProcessSpec {
        sample_rate_hz: 48_000.0,
        max_block_frames: 256,
    };
    let mut nodes: Vec<NamNode> = (0..2)
        .map(|_| NamNode::from_file(&file, "levels.nam", NamSettings::default()).unwrap())
        .collect();
    let input: Vec<f32> = (0..2048).map(|i| 0.3 * (i as f32 * 0.05).sin()).collect();
    let mut outputs = vec![vec![0.0; 2048]; 2];
    for node in &mut nodes {
        node.prepare(&spec).unwrap();
    }
    nodes[1].set_param(nam_graph::nodes::nam::param::OUTPUT_GAIN_DB, 20.0);
    for (node, out) in nodes.iter_mut().zip(&mut outputs) {
        for (i, o) in input.chunks(256).zip(out.chunks_mut(256)) {
            node.process(i.len(), &[i], &mut [o]);
        }
    }
    let mut previous = 1.0_f32;
    for (t, (&plain, &raised)) in outputs[0].iter().zip(&outputs[1]).enumerate() {
        if plain.abs() < 1e-3 {
            continue;
        }
        let gain = raised / plain;
        assert!(
            gain >= previous - 1e-3 && gain - previous < 0.05,
            "frame {t}: gain {gain} after {previous}"
        );
        previous = gain;
    }
    assert!(
        (previous - 10.0).abs() < 1e-3,
        "the ramp ends at +20 dB, got {previous}"
    );
}

fn error_of(text: &str) -> String {
    match chain("errors", text).and_then(|c| c.build(48_000.0, 1)) {
        Ok(_) => panic!("chain should fail:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn broken_chains_give_one_clear_message_with_file_and_line() {
    let model = fixtures().join("wavenet_nano.nam");
    let model = model.display();
    let e = error_of("[[node]]\nkind = \"nam\"\nmodel = \"missing.nam\"\n");
    assert!(
        e.contains("chain.toml:3:") && e.contains("no file at"),
        "{e}"
    );
    let e = error_of("[[node]]\nkind = \"fuzz\"\n");
    assert!(e.contains("unknown node kind `fuzz`"), "{e}");
    let e = error_of("[[node]]\nmodel = \"x\"\n");
    assert!(e.contains("has no `kind`"), "{e}");
    let e = error_of("[[node]\nkind = \"nam\"\n");
    assert!(e.contains("chain.toml:1:"), "{e}");
    let e = error_of(&format!(
        "[[node]]\nkind = \"nam\"\nmodel = \"{model}\"\ninput_gain_db = 99\n"
    ));
    assert!(e.contains("chain.toml:4:") && e.contains("outside"), "{e}");
    let e = error_of(&format!(
        "[[node]]\nkind = \"nam\"\nmodel = \"{model}\"\ninputs = [\"nowhere\"]\n"
    ));
    assert!(e.contains("no node has the id `nowhere`"), "{e}");
    let e = error_of(&format!(
        "[[node]]\nid = \"a\"\nkind = \"nam\"\nmodel = \"{model}\"\n[[node]]\nid = \"a\"\nkind = \"nam\"\nmodel = \"{model}\"\n"
    ));
    assert!(
        e.contains("chain.toml:5:") && e.contains("used twice"),
        "{e}"
    );
    let e = error_of("");
    assert!(e.contains("no [[node]]"), "{e}");
    let e = error_of(&format!(
        "[[node]]\nid = \"a\"\nkind = \"nam\"\nmodel = \"{model}\"\ninputs = [\"b\"]\n[[node]]\nid = \"b\"\nkind = \"nam\"\nmodel = \"{model}\"\n"
    ));
    assert!(e.contains("cycle"), "{e}");
    let e = error_of(&format!(
        "[chain]\nblock_frames = 0\n[[node]]\nkind = \"nam\"\nmodel = \"{model}\"\n"
    ));
    assert!(e.contains("block_frames"), "{e}");
}

#[test]
fn parameters_are_found_by_node_and_name_and_set_while_running() {
    let text = "[[node]]\nid = \"level\"\nkind = \"gain\"\ngain_db = 0.0\n";
    let mut mono = chain("find-param", text)
        .unwrap()
        .build(48_000.0, 1)
        .unwrap();
    let gain = mono.find_param("level", "gain_db").expect("found");
    assert_eq!(mono.find_param("level", "nope"), None);
    assert_eq!(mono.find_param("nope", "gain_db"), None);
    mono.set(gain, -20.0);
    let input = vec![1.0f32; 48_000];
    let mut output = vec![0.0f32; 48_000];
    mono.process(&[&input], &mut [&mut output]);
    // Smoothed towards the new gain, landing on exactly -20 dB.
    assert!((output[0] - 1.0).abs() < 0.01, "starts at the old gain");
    assert!(
        (output[47_999] - 0.1).abs() < 1e-6,
        "ends at -20 dB: {}",
        output[47_999]
    );

    // Dual mono: one instance per channel, named `id[lane]`.
    let stereo = chain("find-param-stereo", text)
        .unwrap()
        .build(48_000.0, 2)
        .unwrap();
    assert!(stereo.find_param("level[0]", "gain_db").is_some());
    assert!(stereo.find_param("level[1]", "gain_db").is_some());
    assert_eq!(stereo.find_param("level", "gain_db"), None);
}

#[test]
fn snapped_parameters_jump_to_their_values_without_a_ramp() {
    let text = |bass: f32, gain: f32, mix: f32| {
        format!(
            "[[node]]\nid = \"eq\"\nkind = \"tone_stack\"\nbass = {bass:?}\n\n\
             [[node]]\nid = \"level\"\nkind = \"gain\"\ngain_db = {gain:?}\n"
        ) + &format!("\n[[node]]\nid = \"mix\"\nkind = \"mix\"\ninputs = [\"level\"]\ninput_0_gain_db = {mix:?}\n")
    };
    let build = |name: &str, t: String| chain(name, &t).unwrap().build(48_000.0, 1).unwrap();
    let mut snapped = build("snap-a", text(5.0, 0.0, 0.0));
    for (node, param, value) in [
        ("eq", "bass", 9.0),
        ("level", "gain_db", -12.0),
        ("mix", "input_0_gain_db", -6.0),
    ] {
        let found = snapped
            .find_param(node, param)
            .unwrap_or_else(|| panic!("{node}.{param}"));
        snapped.set(found, value);
    }
    snapped.snap_params();
    let mut fresh = build("snap-b", text(9.0, -12.0, -6.0));
    let input: Vec<f32> = (0..4800).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
    let (mut a, mut b) = (vec![0.0; input.len()], vec![0.0; input.len()]);
    snapped.process(&[&input], &mut [&mut a]);
    fresh.process(&[&input], &mut [&mut b]);
    assert_eq!(a, b, "snapped at once, as if built with the values");
}

/// Every `.toml` under `examples/`.
fn example_chains() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                found.push(path);
            }
        }
    }
    assert!(found.len() >= 2, "examples: {found:?}");
    found
}

#[test]
fn every_example_is_a_chain_spec_that_survives_toml_and_builds() {
    for path in example_chains() {
        let chain = Chain::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&path).unwrap();
        let direct: ChainSpec = toml::from_str(&text).unwrap();
        assert_eq!(&direct, chain.spec(), "{}", path.display());
        let written = toml::to_string(chain.spec()).unwrap();
        let back: ChainSpec = toml::from_str(&written).unwrap();
        assert_eq!(&back, chain.spec(), "{}:\n{written}", path.display());
        chain.build(48_000.0, 2).unwrap();
    }
}

/// A chain of a model and an IR, by absolute paths.
fn amp_and_cab(model: &Path, cab: &Path) -> ChainSpec {
    let mut spec = ChainSpec::default();
    spec.nodes.push(NodeSpec::new(
        "amp",
        NodeKind::Nam {
            model: model.to_owned(),
            output_mode: OutputMode::Raw,
        },
    ));
    spec.nodes.push(NodeSpec::new(
        "cab",
        NodeKind::Ir {
            file: cab.to_owned(),
            normalize: false,
        },
    ));
    spec
}

fn render(graph: &mut nam_graph::Graph, input: &[f32]) -> Vec<f32> {
    let mut out = vec![0.0; input.len()];
    graph.process(&[input], &mut [&mut out]);
    out
}

#[test]
fn a_file_cache_reads_only_the_files_that_changed() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo");
    let dir = std::env::temp_dir().join(format!("nam-graph-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("amp.nam");
    std::fs::copy(demo.join("drive.nam"), &model).unwrap();
    let cab = demo.join("cab.wav");
    let other_cab = dir.join("other-cab.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(&other_cab, spec).unwrap();
    for i in 0..500 {
        writer.write_sample(0.3 * 0.99f32.powi(i)).unwrap();
    }
    writer.finalize().unwrap();
    let input: Vec<f32> = (0..4800).map(|i| 0.3 * (i as f32 * 0.02).sin()).collect();

    let mut cache = FileCache::default();
    let build = |cache: &mut FileCache, spec: &ChainSpec| {
        cache.build(|files| spec.build(Path::new(""), 48_000.0, 1, files))
    };
    // Stereo reads each file once for both lanes.
    let first = amp_and_cab(&model, &cab);
    cache
        .build(|files| first.build(Path::new(""), 48_000.0, 2, files))
        .unwrap();
    assert_eq!(cache.reads(), 2);

    // The cab changes: only it is read; the model is served even though its
    // file is gone.
    std::fs::remove_file(&model).unwrap();
    let second = amp_and_cab(&model, &other_cab);
    let mut graph = build(&mut cache, &second).unwrap();
    assert_eq!(cache.reads(), 3);
    assert_eq!(cache.len(), 2, "the first cab is no longer kept");
    let fresh = amp_and_cab(&demo.join("drive.nam"), &other_cab);
    let mut expected = fresh
        .build(Path::new(""), 48_000.0, 1, &mut ReadFiles)
        .unwrap();
    assert_eq!(render(&mut graph, &input), render(&mut expected, &input));

    // A failed build keeps what the playing chain uses.
    let broken = amp_and_cab(&model, &dir.join("missing.wav"));
    let error = build(&mut cache, &broken).err().expect("missing IR");
    assert_eq!(error.node.as_ref().map(|n| n.id.as_str()), Some("cab"));
    assert_eq!(
        error.file.as_deref(),
        Some(dir.join("missing.wav").as_path())
    );
    assert_eq!(error.key.as_deref(), Some("file"));
    assert!(error.to_string().contains("missing.wav"), "{error}");
    build(&mut cache, &second).unwrap();
    assert_eq!(cache.reads(), 3);

    // A file changed on disk is read again.
    std::fs::copy(demo.join("cab.wav"), &other_cab).unwrap();
    build(&mut cache, &second).unwrap();
    assert_eq!(cache.reads(), 4);
}
