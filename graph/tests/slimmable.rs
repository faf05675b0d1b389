//! The `size` setting of a `nam` node plays a slimmable model at the size the
//! NAM trainer plays (references in `../nam-kernel/tests/slimmable`), from
//! `chain.toml` and changed while running; other models ignore it.

use std::path::{Path, PathBuf};

use nam_graph::Chain;

fn slim_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nam-kernel/tests/slimmable");
    assert!(
        dir.join("cases.json").is_file(),
        "slimmable references missing at {}",
        dir.display()
    );
    dir
}

fn read_wav(path: &Path) -> Vec<f32> {
    let mut reader =
        hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader.samples::<f32>().map(Result::unwrap).collect()
}

fn chain(name: &str, model: &Path, extra: &str) -> Chain {
    let dir = std::env::temp_dir().join(format!("nam-graph-slim-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("chain.toml");
    let text = format!(
        "[[node]]\nid = \"amp\"\nkind = \"nam\"\nmodel = \"{}\"\n{extra}",
        model.display()
    );
    std::fs::write(&path, text).unwrap();
    Chain::load(&path).unwrap()
}

fn run(graph: &mut nam_graph::Graph, input: &[f32]) -> Vec<f32> {
    let mut output = vec![0.0; input.len()];
    for (i, o) in input.chunks(100).zip(output.chunks_mut(100)) {
        graph.process(&[i], &mut [o]);
    }
    output
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn chain_size_plays_that_size_and_defaults_to_full() {
    let dir = slim_dir();
    let model = dir.join("slim_tanh.nam");
    let input = read_wav(&dir.join("input.wav"));
    for (extra, reference) in [
        ("size = 0.2\n", "slim_tanh.size0.wav"),
        ("size = 0.5\n", "slim_tanh.size1.wav"),
        ("size = 1.0\n", "slim_tanh.size2.wav"),
        ("", "slim_tanh.size2.wav"),
    ] {
        let mut graph = chain("size", &model, extra).build(48_000.0, 1).unwrap();
        let output = run(&mut graph, &input);
        let diff = max_diff(&output, &read_wav(&dir.join(reference)));
        assert!(
            diff <= 1e-5,
            "`{extra}`: max |diff| {diff} against {reference}"
        );
    }
}

#[test]
fn size_changes_while_running_take_over_seamlessly_after_one_receptive_field() {
    let dir = slim_dir();
    let input = read_wav(&dir.join("input.wav"));
    let mut graph = chain("switch", &dir.join("slim_gating.nam"), "")
        .build(48_000.0, 1)
        .unwrap();
    let size = graph.find_param("amp", "size").expect("size parameter");
    run(&mut graph, &input[..500]);
    graph.set(size, 0.5);
    let output = run(&mut graph, &input);
    // slim_gating's receptive field is 30 samples; the graph runs 100-frame
    // blocks: from the second block on the new size plays as if it had
    // played all along.
    let settled = 100;
    let expected = read_wav(&dir.join("slim_gating.size2.wav"));
    let diff = max_diff(&output[settled..], &expected[settled..]);
    assert!(diff <= 1e-5, "max |diff| {diff} after the switch");
    let full = read_wav(&dir.join("slim_gating.size4.wav"));
    assert!(max_diff(&output[settled..], &full[settled..]) > 1e-3);

    // Snapping (a recalled setting) switches at once, from silence.
    graph.set(size, 0.1);
    graph.snap_params();
    graph.reset();
    let output = run(&mut graph, &input);
    let diff = max_diff(&output, &read_wav(&dir.join("slim_gating.size0.wav")));
    assert!(diff <= 1e-5, "snapped: max |diff| {diff}");
}

#[test]
fn size_does_nothing_to_a_model_that_is_not_slimmable() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures");
    let model = fixtures.join("wavenet_nano.nam");
    let input = read_wav(&fixtures.join("wavenet_nano.input.wav"));
    let mut small = chain("plain-small", &model, "size = 0.0\n")
        .build(48_000.0, 1)
        .unwrap();
    let mut full = chain("plain-full", &model, "").build(48_000.0, 1).unwrap();
    assert_eq!(run(&mut small, &input), run(&mut full, &input));
}
