//! `nam-tools`: training (libtorch through `tch`, behind a feature), `info` and
//! `bench` for `.nam` models.
//!
//! Built under the nam-tools issue; nothing is exported yet.
