//! Pure parsers for the wire protocols partout ingests: bytes in, protocol
//! values out.
//!
//! # Layout
//! - [`framing`]: splitting TCP byte streams into frames: newline-delimited,
//!   and RFC 6587 octet counting as syslog senders use it.
//! - [`carbon`]: carbon plaintext points, with Graphite 1.1 tags.
//! - [`statsd`]: StatsD and DogStatsD lines.
//! - [`error`]: the one error type; each variant has a stable `reason()`
//!   used as the label of partout's reject counters.
//!
//! Invariant: nothing here does I/O, reads a clock, or panics on any input.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod carbon;
pub mod error;
pub mod framing;
pub mod statsd;

pub use error::ParseError;
