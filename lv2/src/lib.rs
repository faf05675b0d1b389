//! `nam-lv2`: the LV2 plugin that runs a `nam-graph` chain in real time.
//!
//! Built under the LV2 plugin issue; nothing is exported yet.
