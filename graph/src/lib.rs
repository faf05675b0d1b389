//! `nam-graph`: a node-graph DSP library around `nam-kernel`.
//!
//! Nodes ([`Node`]) process blocks of mono ports; every allocation happens in
//! `prepare`, and `process` is real-time safe.

pub mod graph;
pub mod node;
pub mod param;

pub use graph::{Graph, GraphBuilder, GraphError, NodeId, Sink, Source};
pub use nam_kernel;
pub use node::{Node, NodeError, ParamSpec, ProcessSpec};
