//! A DAG of [`Node`]s with explicit connections, validated and scheduled once,
//! then run on any buffer length.
//!
//! [`GraphBuilder`] collects nodes and connections; [`GraphBuilder::build`]
//! checks them (unknown node, port out of range, unconnected or doubly connected
//! input, cycle), prepares every node, sorts them topologically and delays the
//! shorter branches wherever paths of different latency meet, so a split that
//! runs through a latent node (a resampled model, say) still mixes back in
//! phase. [`Graph::process`] splits the caller's buffers into blocks of at most
//! `max_block_frames`; every node handles any block length up to that, so the
//! graph adds no latency of its own and its output does not depend on how the
//! caller splits its buffers.

use thiserror::Error;

use crate::node::{Node, NodeError, NodeWarning, ProcessSpec};

/// The most ports one node may have (inputs or outputs).
pub const MAX_PORTS: usize = 16;

/// A node's handle inside a graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeId(usize);

/// Where a connection starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A graph input port.
    Input(usize),
    /// An output port of a node.
    Node(NodeId, usize),
}

/// Where a connection ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sink {
    /// An input port of a node.
    Node(NodeId, usize),
    /// A graph output port.
    Output(usize),
}

/// Why a graph could not be built.
#[derive(Debug, Error)]
pub enum GraphError {
    /// Two nodes share a name.
    #[error("node `{0}` is defined twice")]
    DuplicateName(String),
    /// A port index beyond what the node or graph has.
    #[error("{what} has {count} {direction} port(s); port {port} does not exist")]
    NoSuchPort {
        /// The node's name, or `the graph`.
        what: String,
        /// `input` or `output`.
        direction: &'static str,
        /// The port asked for.
        port: usize,
        /// How many there are.
        count: usize,
    },
    /// An input port nothing feeds.
    #[error("input {port} of {what} is not connected")]
    Unconnected {
        /// The node's name, or `the graph output`.
        what: String,
        /// The port.
        port: usize,
    },
    /// An input port fed twice (use a mixer node to sum signals).
    #[error("input {port} of {what} is connected twice (use a mix node to sum signals)")]
    DoublyConnected {
        /// The node's name, or `the graph output`.
        what: String,
        /// The port.
        port: usize,
    },
    /// The connections form a cycle.
    #[error("the connections form a cycle through {0}")]
    Cycle(String),
    /// Port counts of connected things differ.
    #[error("{0}")]
    ChannelMismatch(String),
    /// A node has more ports than [`MAX_PORTS`].
    #[error("node `{name}` has {count} ports (at most {MAX_PORTS})")]
    TooManyPorts {
        /// The node.
        name: String,
        /// Its port count.
        count: usize,
    },
    /// A node failed to prepare.
    #[error("node `{name}`: {source}")]
    Node {
        /// The node.
        name: String,
        /// Why.
        source: NodeError,
    },
    /// The spec is unusable (zero block size, bad sample rate).
    #[error("{0}")]
    Spec(String),
}

/// A node's warning (see [`Node::warnings`]), with the node's name.
#[derive(Clone, Debug, PartialEq, Error)]
#[error("node `{node}`: {warning}")]
pub struct GraphWarning {
    /// The node.
    pub node: String,
    /// What it works around.
    pub warning: NodeWarning,
}

/// Collects nodes and connections.
pub struct GraphBuilder {
    inputs: usize,
    outputs: usize,
    names: Vec<String>,
    nodes: Vec<Box<dyn Node>>,
    connections: Vec<(Source, Sink)>,
}

impl GraphBuilder {
    /// A graph with `inputs` input ports and `outputs` output ports.
    pub fn new(inputs: usize, outputs: usize) -> Self {
        Self {
            inputs,
            outputs,
            names: Vec::new(),
            nodes: Vec::new(),
            connections: Vec::new(),
        }
    }

    /// Adds a node under a unique name.
    pub fn add(
        &mut self,
        name: impl Into<String>,
        node: Box<dyn Node>,
    ) -> Result<NodeId, GraphError> {
        let name = name.into();
        if self.names.contains(&name) {
            return Err(GraphError::DuplicateName(name));
        }
        for count in [node.inputs(), node.outputs()] {
            if count > MAX_PORTS {
                return Err(GraphError::TooManyPorts { name, count });
            }
        }
        self.names.push(name);
        self.nodes.push(node);
        Ok(NodeId(self.nodes.len() - 1))
    }

    /// The node called `name`.
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.names.iter().position(|n| n == name).map(NodeId)
    }

    /// Port counts of a node: `(inputs, outputs)`.
    pub fn ports(&self, id: NodeId) -> (usize, usize) {
        let node = &self.nodes[id.0];
        (node.inputs(), node.outputs())
    }

    /// Connects `from` to `to` (checked at [`GraphBuilder::build`]).
    pub fn connect(&mut self, from: Source, to: Sink) {
        self.connections.push((from, to));
    }

    /// Connects every output port of `from` to the same-numbered input of `to`;
    /// their counts must match.
    pub fn chain(&mut self, from: NodeId, to: NodeId) -> Result<(), GraphError> {
        let (out, inp) = (self.nodes[from.0].outputs(), self.nodes[to.0].inputs());
        if out != inp {
            return Err(GraphError::ChannelMismatch(format!(
                "`{}` has {out} output(s) but `{}` has {inp} input(s)",
                self.names[from.0], self.names[to.0]
            )));
        }
        for port in 0..out {
            self.connect(Source::Node(from, port), Sink::Node(to, port));
        }
        Ok(())
    }

    fn describe(&self, sink: Sink) -> (String, usize, usize) {
        match sink {
            Sink::Node(id, port) => (
                format!("node `{}`", self.names[id.0]),
                port,
                self.nodes[id.0].inputs(),
            ),
            Sink::Output(port) => ("the graph output".to_owned(), port, self.outputs),
        }
    }

    /// Validates, prepares and schedules the graph.
    pub fn build(mut self, spec: ProcessSpec) -> Result<Graph, GraphError> {
        if spec.max_block_frames == 0 {
            return Err(GraphError::Spec(
                "max_block_frames must be at least 1".into(),
            ));
        }
        if !(spec.sample_rate_hz.is_finite() && spec.sample_rate_hz >= 1.0) {
            return Err(GraphError::Spec(format!(
                "invalid sample rate {}",
                spec.sample_rate_hz
            )));
        }
        let sources = self.resolve_sources()?;
        let order = self.topological_order(&sources)?;
        for (name, node) in self.names.iter().zip(&mut self.nodes) {
            node.prepare(&spec).map_err(|source| GraphError::Node {
                name: name.clone(),
                source,
            })?;
        }
        Ok(Graph::schedule(self, &sources, &order, spec))
    }

    /// For each node input port and graph output port, its single source.
    fn resolve_sources(&self) -> Result<Sources, GraphError> {
        let mut node_inputs: Vec<Vec<Option<Source>>> =
            self.nodes.iter().map(|n| vec![None; n.inputs()]).collect();
        let mut outputs = vec![None; self.outputs];
        for &(from, to) in &self.connections {
            match from {
                Source::Input(port) if port >= self.inputs => {
                    return Err(GraphError::NoSuchPort {
                        what: "the graph".into(),
                        direction: "input",
                        port,
                        count: self.inputs,
                    })
                }
                Source::Node(id, port) if port >= self.nodes[id.0].outputs() => {
                    return Err(GraphError::NoSuchPort {
                        what: format!("node `{}`", self.names[id.0]),
                        direction: "output",
                        port,
                        count: self.nodes[id.0].outputs(),
                    })
                }
                _ => {}
            }
            let (what, port, count) = self.describe(to);
            let slot = match to {
                Sink::Node(id, port) => node_inputs[id.0].get_mut(port),
                Sink::Output(port) => outputs.get_mut(port),
            }
            .ok_or_else(|| GraphError::NoSuchPort {
                what: what.clone(),
                direction: "input",
                port,
                count,
            })?;
            if slot.replace(from).is_some() {
                return Err(GraphError::DoublyConnected { what, port });
            }
        }
        let node_inputs = node_inputs
            .into_iter()
            .enumerate()
            .map(|(i, ports)| {
                ports
                    .into_iter()
                    .enumerate()
                    .map(|(port, source)| {
                        source.ok_or_else(|| GraphError::Unconnected {
                            what: format!("node `{}`", self.names[i]),
                            port,
                        })
                    })
                    .collect()
            })
            .collect::<Result<Vec<Vec<Source>>, _>>()?;
        let outputs = outputs
            .into_iter()
            .enumerate()
            .map(|(port, source)| {
                source.ok_or_else(|| GraphError::Unconnected {
                    what: "the graph output".into(),
                    port,
                })
            })
            .collect::<Result<Vec<Source>, _>>()?;
        Ok(Sources {
            node_inputs,
            outputs,
        })
    }

    /// Kahn's algorithm; reports a node on a cycle.
    fn topological_order(&self, sources: &Sources) -> Result<Vec<usize>, GraphError> {
        let n = self.nodes.len();
        let mut pending: Vec<usize> = vec![0; n];
        let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, inputs) in sources.node_inputs.iter().enumerate() {
            for source in inputs {
                if let Source::Node(from, _) = source {
                    pending[i] += 1;
                    consumers[from.0].push(i);
                }
            }
        }
        let mut ready: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).collect();
        ready.reverse();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop() {
            order.push(i);
            for &c in &consumers[i] {
                pending[c] -= 1;
                if pending[c] == 0 {
                    ready.push(c);
                }
            }
        }
        match (0..n).find(|&i| pending[i] > 0) {
            Some(i) => Err(GraphError::Cycle(format!("`{}`", self.names[i]))),
            None => Ok(order),
        }
    }
}

struct Sources {
    node_inputs: Vec<Vec<Source>>,
    outputs: Vec<Source>,
}

/// A fixed delay for latency compensation.
struct DelayLine {
    buffer: Vec<f32>,
    position: usize,
}

impl DelayLine {
    fn new(frames: usize) -> Self {
        Self {
            buffer: vec![0.0; frames],
            position: 0,
        }
    }

    fn process(&mut self, input: &[f32], output: &mut [f32]) {
        if self.buffer.is_empty() {
            output.copy_from_slice(input);
            return;
        }
        for (x, y) in input.iter().zip(output.iter_mut()) {
            *y = std::mem::replace(&mut self.buffer[self.position], *x);
            self.position += 1;
            if self.position == self.buffer.len() {
                self.position = 0;
            }
        }
    }

    fn clear(&mut self) {
        self.buffer.fill(0.0);
        self.position = 0;
    }
}

/// Where a scheduled input reads from.
#[derive(Clone, Copy)]
enum Read {
    Input(usize),
    /// (slot in schedule order, port)
    Slot(usize, usize),
}

/// One input of a scheduled node or graph output, with its compensation delay.
struct Feed {
    read: Read,
    delay: Option<(DelayLine, Vec<f32>)>,
}

struct Slot {
    name: String,
    node: Box<dyn Node>,
    feeds: Vec<Feed>,
    outputs: Vec<Vec<f32>>,
}

/// A node parameter of one built [`Graph`], found by name with
/// [`Graph::find_param`]; cheap to keep and to set from the audio thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamRef {
    slot: usize,
    index: usize,
}

/// A built graph, ready for the audio thread.
pub struct Graph {
    slots: Vec<Slot>,
    inputs: Vec<Vec<f32>>,
    outputs: Vec<Feed>,
    spec: ProcessSpec,
    latency_frames: usize,
    /// Slot of the node that first produced a non-finite sample.
    first_non_finite: Option<usize>,
}

impl Graph {
    fn schedule(
        builder: GraphBuilder,
        sources: &Sources,
        order: &[usize],
        spec: ProcessSpec,
    ) -> Graph {
        let n = builder.nodes.len();
        let max = spec.max_block_frames;
        let mut slot_of = vec![0; n];
        for (slot, &node) in order.iter().enumerate() {
            slot_of[node] = slot;
        }
        // Latency (in frames) at which each node output appears.
        let mut output_latency = vec![0usize; n];
        let source_latency = |source: &Source, output_latency: &[usize]| match source {
            Source::Input(_) => 0,
            Source::Node(id, _) => output_latency[id.0],
        };
        let read_of = |source: &Source| match *source {
            Source::Input(port) => Read::Input(port),
            Source::Node(id, port) => Read::Slot(slot_of[id.0], port),
        };
        let feeds_for = |sources: &[Source], output_latency: &[usize]| -> (Vec<Feed>, usize) {
            let arrival = sources
                .iter()
                .map(|s| source_latency(s, output_latency))
                .max()
                .unwrap_or(0);
            let feeds = sources
                .iter()
                .map(|s| {
                    let lag = arrival - source_latency(s, output_latency);
                    Feed {
                        read: read_of(s),
                        delay: (lag > 0).then(|| (DelayLine::new(lag), vec![0.0; max])),
                    }
                })
                .collect();
            (feeds, arrival)
        };

        let mut nodes: Vec<Option<Box<dyn Node>>> = builder.nodes.into_iter().map(Some).collect();
        let mut slots = Vec::with_capacity(n);
        for &i in order {
            let (feeds, arrival) = feeds_for(&sources.node_inputs[i], &output_latency);
            let node = nodes[i].take().expect("each node is scheduled once");
            output_latency[i] = arrival + node.latency_frames();
            slots.push(Slot {
                name: builder.names[i].clone(),
                outputs: vec![vec![0.0; max]; node.outputs()],
                node,
                feeds,
            });
        }
        let (outputs, latency_frames) = feeds_for(&sources.outputs, &output_latency);
        Graph {
            slots,
            inputs: vec![vec![0.0; max]; builder.inputs],
            outputs,
            spec,
            latency_frames,
            first_non_finite: None,
        }
    }

    /// Latency of the graph's outputs relative to its inputs, in frames.
    pub fn latency_frames(&self) -> usize {
        self.latency_frames
    }

    /// The spec the graph was prepared for.
    pub fn spec(&self) -> ProcessSpec {
        self.spec
    }

    /// Number of input ports.
    pub fn inputs(&self) -> usize {
        self.inputs.len()
    }

    /// Number of output ports.
    pub fn outputs(&self) -> usize {
        self.outputs.len()
    }

    /// Every node's warnings at its current settings. Off the audio thread.
    pub fn warnings(&self) -> Vec<GraphWarning> {
        self.slots
            .iter()
            .flat_map(|slot| {
                slot.node
                    .warnings()
                    .into_iter()
                    .map(|warning| GraphWarning {
                        node: slot.name.clone(),
                        warning,
                    })
            })
            .collect()
    }

    /// The node that first produced a NaN or infinite sample since the graph
    /// was built or last [`Graph::reset`] (the earliest in processing order
    /// within the first block that had one), if any. The graph passes such
    /// samples on; callers decide what to do (`nam-graph run` refuses to write
    /// them, the plugin resets the chain).
    pub fn first_non_finite(&self) -> Option<&str> {
        self.first_non_finite
            .map(|slot| self.slots[slot].name.as_str())
    }

    /// Names of the nodes, in processing order.
    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().map(|s| s.name.as_str())
    }

    /// Finds parameter `param` of the node named `node`, for [`Graph::set`].
    pub fn find_param(&self, node: &str, param: &str) -> Option<ParamRef> {
        let slot = self.slots.iter().position(|s| s.name == node)?;
        let index = self.slots[slot]
            .node
            .params()
            .iter()
            .position(|p| p.name == param)?;
        Some(ParamRef { slot, index })
    }

    /// Sets the parameter `param` found by [`Graph::find_param`] on this graph.
    /// Audio thread; allocation-free.
    pub fn set(&mut self, param: ParamRef, value: f32) {
        if let Some(slot) = self.slots.get_mut(param.slot) {
            slot.node.set_param(param.index, value);
        }
    }

    /// Jumps every node's smoothed parameters to their targets (see
    /// [`Node::snap_params`]). Audio thread.
    pub fn snap_params(&mut self) {
        for slot in &mut self.slots {
            slot.node.snap_params();
        }
    }

    /// Clears every node's and delay line's state, and the record of
    /// [`Graph::first_non_finite`]. Audio thread.
    pub fn reset(&mut self) {
        self.first_non_finite = None;
        for slot in &mut self.slots {
            slot.node.reset();
            for feed in &mut slot.feeds {
                if let Some((line, _)) = &mut feed.delay {
                    line.clear();
                }
            }
        }
        for feed in &mut self.outputs {
            if let Some((line, _)) = &mut feed.delay {
                line.clear();
            }
        }
    }

    /// Processes any number of frames: `inputs[p]` to `outputs[p]`, all the same
    /// length (missing ports read as silence; frames beyond the shortest buffer
    /// are zeroed). Audio thread; allocation-free.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let frames = inputs
            .iter()
            .map(|b| b.len())
            .chain(outputs.iter().map(|b| b.len()))
            .min()
            .unwrap_or(0);
        for out in outputs.iter_mut() {
            out[frames..].fill(0.0);
        }
        let max = self.spec.max_block_frames;
        let mut start = 0;
        while start < frames {
            let n = max.min(frames - start);
            for (port, buffer) in self.inputs.iter_mut().enumerate() {
                match inputs.get(port) {
                    Some(input) => buffer[..n].copy_from_slice(&input[start..start + n]),
                    None => buffer[..n].fill(0.0),
                }
            }
            self.process_block(n);
            for (port, out) in outputs.iter_mut().enumerate() {
                if let Some(feed) = self.outputs.get_mut(port) {
                    let data = read_feed(feed, &self.inputs, &self.slots, n);
                    out[start..start + n].copy_from_slice(data);
                }
            }
            start += n;
        }
    }

    fn process_block(&mut self, n: usize) {
        for i in 0..self.slots.len() {
            let (done, rest) = self.slots.split_at_mut(i);
            let slot = &mut rest[0];
            for feed in &mut slot.feeds {
                prepare_feed(feed, &self.inputs, done, n);
            }
            let mut ins: [&[f32]; MAX_PORTS] = [&[]; MAX_PORTS];
            for (port, feed) in slot.feeds.iter().enumerate() {
                ins[port] = feed_data(feed, &self.inputs, done, n);
            }
            let (inputs, outputs) = (slot.feeds.len(), slot.outputs.len());
            let mut outs: [&mut [f32]; MAX_PORTS] =
                std::array::from_fn(|_| <&mut [f32]>::default());
            for (port, buffer) in slot.outputs.iter_mut().enumerate() {
                outs[port] = &mut buffer[..n];
            }
            slot.node.process(n, &ins[..inputs], &mut outs[..outputs]);
            if self.first_non_finite.is_none()
                && !outs[..outputs]
                    .iter()
                    .all(|out| out.iter().all(|x| x.is_finite()))
            {
                self.first_non_finite = Some(i);
            }
        }
    }
}

fn source_data<'a>(read: Read, inputs: &'a [Vec<f32>], done: &'a [Slot], n: usize) -> &'a [f32] {
    match read {
        Read::Input(port) => &inputs[port][..n],
        Read::Slot(slot, port) => &done[slot].outputs[port][..n],
    }
}

/// Runs a feed's compensation delay for this block, if it has one.
fn prepare_feed(feed: &mut Feed, inputs: &[Vec<f32>], done: &[Slot], n: usize) {
    if let Some((line, buffer)) = &mut feed.delay {
        line.process(source_data(feed.read, inputs, done, n), &mut buffer[..n]);
    }
}

/// The block a feed delivers (after [`prepare_feed`]).
fn feed_data<'a>(feed: &'a Feed, inputs: &'a [Vec<f32>], done: &'a [Slot], n: usize) -> &'a [f32] {
    match &feed.delay {
        Some((_, buffer)) => &buffer[..n],
        None => source_data(feed.read, inputs, done, n),
    }
}

fn read_feed<'a>(
    feed: &'a mut Feed,
    inputs: &'a [Vec<f32>],
    done: &'a [Slot],
    n: usize,
) -> &'a [f32] {
    prepare_feed(feed, inputs, done, n);
    feed_data(feed, inputs, done, n)
}
