//! Read paths over the stores, returning plain values for the HTTP layer.
//!
//! # Layout
//! - [`graphite`]: the Graphite render engine (targets, globs, functions)
//! - [`metrics`]: the native metrics API (series search, quantiles)

pub mod graphite;
pub mod metrics;
