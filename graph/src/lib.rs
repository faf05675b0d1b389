//! `nam-graph`: a node-graph DSP library around `nam-kernel`.
//!
//! Nodes ([`Node`]) process blocks of mono ports; every allocation happens in
//! `prepare`, and `process` is real-time safe.

pub mod chain;
pub mod graph;
pub mod node;
pub mod nodes;
pub mod param;

pub use chain::{Chain, ChainError};
pub use graph::{Graph, GraphBuilder, GraphError, GraphWarning, NodeId, ParamRef, Sink, Source};
pub use nam_kernel;
pub use node::{Node, NodeError, NodeWarning, ParamSpec, ProcessSpec};
