//! `nam-graph`: a node-graph DSP library around `nam-kernel`.
//!
//! Nodes ([`Node`]) process blocks of mono ports; every allocation happens in
//! `prepare`, and `process` is real-time safe.

pub mod audio_file;
pub mod chain;
pub mod files;
pub mod graph;
pub mod node;
pub mod nodes;
pub mod param;
pub mod registry;
pub mod spec;

pub use chain::{Chain, ChainError};
pub use files::{FileCache, FileSource, ReadFiles};
pub use graph::{Graph, GraphBuilder, GraphError, GraphWarning, NodeId, ParamRef, Sink, Source};
pub use nam_kernel;
pub use node::{Node, NodeError, NodeWarning, ParamSpec, ProcessSpec};
pub use spec::{BuildError, ChainSpec, NodeKind, NodeRef, NodeSpec, StereoMode};
