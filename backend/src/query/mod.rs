//! Read paths over the stores, returning plain values for the HTTP layer.
//!
//! # Layout
//! - [`graphite`]: the Graphite render engine (targets, globs, functions)

pub mod graphite;
