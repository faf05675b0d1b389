//! The graph engine: validation errors, scheduling, latency compensation on
//! split/mix paths, independence from the caller's buffer sizes, and no
//! allocation while processing. The nodes here are tiny exact ones (delay,
//! scale, sum) so every expected output can be computed by hand.

use assert_no_alloc::{assert_no_alloc, violation_count, AllocDisabler};
use nam_graph::{GraphBuilder, GraphError, Node, NodeError, ProcessSpec, Sink, Source};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

/// Delays its input by a fixed number of frames and reports it as latency.
struct Delay {
    frames: usize,
    line: Vec<f32>,
    position: usize,
}

impl Delay {
    fn boxed(frames: usize) -> Box<dyn Node> {
        Box::new(Self {
            frames,
            line: Vec::new(),
            position: 0,
        })
    }
}

impl Node for Delay {
    fn inputs(&self) -> usize {
        1
    }
    fn outputs(&self) -> usize {
        1
    }
    fn prepare(&mut self, _: &ProcessSpec) -> Result<(), NodeError> {
        self.line = vec![0.0; self.frames.max(1)];
        Ok(())
    }
    fn reset(&mut self) {
        self.line.fill(0.0);
        self.position = 0;
    }
    fn latency_frames(&self) -> usize {
        self.frames
    }
    fn process(&mut self, frames: usize, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        for t in 0..frames {
            if self.frames == 0 {
                outputs[0][t] = inputs[0][t];
                continue;
            }
            outputs[0][t] = std::mem::replace(&mut self.line[self.position], inputs[0][t]);
            self.position = (self.position + 1) % self.frames;
        }
    }
}

/// Multiplies each of its `ports` inputs by a factor.
struct Scale(f32, usize);

impl Node for Scale {
    fn inputs(&self) -> usize {
        self.1
    }
    fn outputs(&self) -> usize {
        self.1
    }
    fn prepare(&mut self, _: &ProcessSpec) -> Result<(), NodeError> {
        Ok(())
    }
    fn reset(&mut self) {}
    fn process(&mut self, frames: usize, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        for (i, o) in inputs.iter().zip(outputs.iter_mut()) {
            for t in 0..frames {
                o[t] = i[t] * self.0;
            }
        }
    }
}

/// Sums two inputs.
struct Sum;

impl Node for Sum {
    fn inputs(&self) -> usize {
        2
    }
    fn outputs(&self) -> usize {
        1
    }
    fn prepare(&mut self, _: &ProcessSpec) -> Result<(), NodeError> {
        Ok(())
    }
    fn reset(&mut self) {}
    fn process(&mut self, frames: usize, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        for t in 0..frames {
            outputs[0][t] = inputs[0][t] + inputs[1][t];
        }
    }
}

/// Fails to prepare.
struct Broken;

impl Node for Broken {
    fn inputs(&self) -> usize {
        1
    }
    fn outputs(&self) -> usize {
        1
    }
    fn prepare(&mut self, _: &ProcessSpec) -> Result<(), NodeError> {
        Err(NodeError::Invalid("cannot prepare".into()))
    }
    fn reset(&mut self) {}
    fn process(&mut self, _: usize, _: &[&[f32]], _: &mut [&mut [f32]]) {}
}

const SPEC: ProcessSpec = ProcessSpec {
    sample_rate_hz: 48_000.0,
    max_block_frames: 64,
};

fn ramp(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
        .collect()
}

/// input → [dry: scale 0.5] + [wet: delay 10 → scale 2] → sum → output.
fn split_and_mix() -> GraphBuilder {
    let mut b = GraphBuilder::new(1, 1);
    let dry = b.add("dry", Box::new(Scale(0.5, 1))).unwrap();
    let delay = b.add("delay", Delay::boxed(10)).unwrap();
    let wet = b.add("wet", Box::new(Scale(2.0, 1))).unwrap();
    let sum = b.add("sum", Box::new(Sum)).unwrap();
    b.connect(Source::Input(0), Sink::Node(dry, 0));
    b.connect(Source::Input(0), Sink::Node(delay, 0));
    b.chain(delay, wet).unwrap();
    b.connect(Source::Node(dry, 0), Sink::Node(sum, 0));
    b.connect(Source::Node(wet, 0), Sink::Node(sum, 1));
    b.connect(Source::Node(sum, 0), Sink::Output(0));
    b
}

fn run(
    graph: &mut nam_graph::Graph,
    input: &[f32],
    sizes: &mut dyn Iterator<Item = usize>,
) -> Vec<f32> {
    let mut output = vec![0.0; input.len()];
    let mut start = 0;
    while start < input.len() {
        let n = sizes.next().unwrap().min(input.len() - start);
        graph.process(
            &[&input[start..start + n]],
            &mut [&mut output[start..start + n]],
        );
        start += n;
    }
    output
}

#[test]
fn parallel_paths_of_different_latency_are_aligned() {
    let mut graph = split_and_mix().build(SPEC).unwrap();
    assert_eq!(graph.latency_frames(), 10);
    let input = ramp(500);
    let output = run(&mut graph, &input, &mut std::iter::repeat(500));
    for t in 0..500 {
        let expected = if t >= 10 { 2.5 * input[t - 10] } else { 0.0 };
        assert!(
            (output[t] - expected).abs() < 1e-6,
            "frame {t}: {} vs {expected}",
            output[t]
        );
    }
}

#[test]
fn output_does_not_depend_on_the_callers_buffer_sizes() {
    let input = ramp(3000);
    let whole = run(
        &mut split_and_mix().build(SPEC).unwrap(),
        &input,
        &mut std::iter::repeat(3000),
    );
    for sizes in [
        vec![1],
        vec![17],
        vec![64],
        vec![65],
        vec![1000, 3, 0, 129, 7],
    ] {
        let mut graph = split_and_mix().build(SPEC).unwrap();
        let output = run(&mut graph, &input, &mut sizes.iter().copied().cycle());
        assert_eq!(output, whole, "call sizes {sizes:?}");
    }
}

#[test]
fn reset_clears_nodes_and_compensation_delays() {
    let mut graph = split_and_mix().build(SPEC).unwrap();
    let input = ramp(300);
    let first = run(&mut graph, &input, &mut std::iter::repeat(300));
    graph.reset();
    let second = run(&mut graph, &input, &mut std::iter::repeat(300));
    assert_eq!(first, second);
}

#[test]
fn processing_does_not_allocate() {
    let before = violation_count();
    let canary = assert_no_alloc(|| std::hint::black_box(vec![0u8; 8]));
    assert!(
        violation_count() > before,
        "the allocation detector must fire"
    );
    drop(canary);

    let mut graph = split_and_mix().build(SPEC).unwrap();
    let input = ramp(5000);
    let mut output = vec![0.0; 5000];
    let before = violation_count();
    assert_no_alloc(|| {
        for n in [1, 17, 64, 4096] {
            graph.process(&[&input[..n]], &mut [&mut output[..n]]);
        }
        graph.reset();
    });
    assert_eq!(violation_count(), before);
}

#[test]
fn stereo_nodes_keep_their_channels() {
    let mut b = GraphBuilder::new(2, 2);
    let scale = b.add("scale", Box::new(Scale(3.0, 2))).unwrap();
    b.connect(Source::Input(0), Sink::Node(scale, 0));
    b.connect(Source::Input(1), Sink::Node(scale, 1));
    b.connect(Source::Node(scale, 1), Sink::Output(0));
    b.connect(Source::Node(scale, 0), Sink::Output(1));
    let mut graph = b.build(SPEC).unwrap();
    let (left, right) = ([1.0, 2.0], [10.0, 20.0]);
    let (mut out0, mut out1) = ([0.0; 2], [0.0; 2]);
    graph.process(&[&left, &right], &mut [&mut out0, &mut out1]);
    assert_eq!(out0, [30.0, 60.0]);
    assert_eq!(out1, [3.0, 6.0]);
}

fn build_error(b: GraphBuilder) -> String {
    match b.build(SPEC) {
        Ok(_) => panic!("the graph should not build"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn invalid_graphs_are_refused_with_clear_errors() {
    // Unconnected node input.
    let mut b = GraphBuilder::new(1, 1);
    let s = b.add("gain", Box::new(Scale(1.0, 1))).unwrap();
    b.connect(Source::Node(s, 0), Sink::Output(0));
    assert_eq!(build_error(b), "input 0 of node `gain` is not connected");

    // Unconnected graph output.
    let b = GraphBuilder::new(1, 1);
    assert_eq!(
        build_error(b),
        "input 0 of the graph output is not connected"
    );

    // Doubly connected input.
    let mut b = GraphBuilder::new(1, 1);
    b.connect(Source::Input(0), Sink::Output(0));
    b.connect(Source::Input(0), Sink::Output(0));
    assert!(build_error(b).contains("connected twice"));

    // Port out of range.
    let mut b = GraphBuilder::new(1, 1);
    let s = b.add("gain", Box::new(Scale(1.0, 1))).unwrap();
    b.connect(Source::Input(0), Sink::Node(s, 3));
    b.connect(Source::Node(s, 0), Sink::Output(0));
    assert_eq!(
        build_error(b),
        "node `gain` has 1 input port(s); port 3 does not exist"
    );

    // Cycle.
    let mut b = GraphBuilder::new(1, 1);
    let sum = b.add("sum", Box::new(Sum)).unwrap();
    let back = b.add("feedback", Box::new(Scale(0.5, 1))).unwrap();
    b.connect(Source::Input(0), Sink::Node(sum, 0));
    b.connect(Source::Node(back, 0), Sink::Node(sum, 1));
    b.connect(Source::Node(sum, 0), Sink::Node(back, 0));
    b.connect(Source::Node(sum, 0), Sink::Output(0));
    assert!(build_error(b).starts_with("the connections form a cycle through"));

    // Duplicate name, channel mismatch, failing node.
    let mut b = GraphBuilder::new(1, 1);
    b.add("x", Box::new(Scale(1.0, 1))).unwrap();
    assert!(matches!(
        b.add("x", Box::new(Sum)),
        Err(GraphError::DuplicateName(_))
    ));
    let stereo = b.add("stereo", Box::new(Scale(1.0, 2))).unwrap();
    let mono = b.find("x").unwrap();
    assert!(matches!(
        b.chain(mono, stereo),
        Err(GraphError::ChannelMismatch(_))
    ));
    let mut b = GraphBuilder::new(1, 1);
    let broken = b.add("broken", Box::new(Broken)).unwrap();
    b.connect(Source::Input(0), Sink::Node(broken, 0));
    b.connect(Source::Node(broken, 0), Sink::Output(0));
    assert_eq!(build_error(b), "node `broken`: cannot prepare");
}

#[test]
fn the_node_that_first_made_a_non_finite_sample_is_named() {
    // in → loud (×1e30) → louder (×1e30: overflows to infinity) → last (×0.5).
    let mut b = GraphBuilder::new(1, 1);
    let loud = b.add("loud", Box::new(Scale(1e30, 1))).unwrap();
    let louder = b.add("louder", Box::new(Scale(1e30, 1))).unwrap();
    let last = b.add("last", Box::new(Scale(0.5, 1))).unwrap();
    b.connect(Source::Input(0), Sink::Node(loud, 0));
    b.chain(loud, louder).unwrap();
    b.chain(louder, last).unwrap();
    b.connect(Source::Node(last, 0), Sink::Output(0));
    let mut graph = b.build(SPEC).unwrap();

    let mut output = vec![0.0; 200];
    graph.process(&[&[1e-30; 200]], &mut [&mut output]);
    assert_eq!(graph.first_non_finite(), None, "all finite so far");
    let mut input = vec![1e-30; 200];
    input[150] = 1.0;
    graph.process(&[&input], &mut [&mut output]);
    assert_eq!(graph.first_non_finite(), Some("louder"));
    graph.reset();
    assert_eq!(graph.first_non_finite(), None, "reset forgets it");
}
