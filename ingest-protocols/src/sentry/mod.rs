//! Sentry ingestion, the pure part: what the real Sentry SDKs send, turned
//! into values partout can store and group. The HTTP side (routes, gzip,
//! body limits, project tokens) lives in the backend.
//!
//! The flow for one `POST /api/<project_id>/envelope/`:
//! 1. [`auth::parse_auth_header`] (or [`auth::parse_auth_query`] for browser
//!    SDKs) gives the public key the backend checks;
//! 2. [`envelope::parse_envelope`] splits the decompressed body into items,
//!    within [`envelope::EnvelopeLimits`];
//! 3. [`event::normalize_event`] turns each `event` (or `transaction`) item
//!    into a typed, size-capped [`event::Event`];
//! 4. [`grouping::group_event`] gives its issue key, title and culprit.
//!
//! # Layout
//! - [`auth`]: the `X-Sentry-Auth` header, `?sentry_key=` query auth and
//!   DSN strings.
//! - [`envelope`]: the envelope wire format: a header line, then items.
//! - [`check_in`]: cron monitor check-ins (`check_in` items) and the
//!   monitor config that comes with them.
//! - [`event`]: tolerant normalization of event JSON into typed structs.
//! - [`grouping`]: the issue grouping key, title and culprit.
//! - [`logs`]: the `log` item's structured log records (SDK loggers).
//! - [`message`]: masking the variable parts of messages, for grouping.
//! - [`timestamp`]: RFC 3339 and epoch timestamps as Unix microseconds.
//! - [`transaction`]: `transaction` items read for their name,
//!   operation, duration and failure.
//! - [`session`]: release health: `session` updates and `sessions`
//!   aggregates.
//! - [`client_report`]: `client_report` items, what SDKs dropped and why.
//! - [`error`]: [`SentryError`], with a stable `reason()` per variant.
//!
//! Invariant: nothing here panics, allocates without a bound set by the
//! limits, or reads a clock; clock-dependent checks (clock drift from
//! `sent_at`, far-future timestamps) are the caller's.

pub mod auth;
pub mod check_in;
pub mod client_report;
pub mod envelope;
pub mod error;
pub mod event;
mod fields;
pub mod grouping;
pub mod logs;
pub mod message;
mod payload;
pub mod session;
#[cfg(test)]
mod testing;
pub mod timestamp;
pub mod transaction;
mod value;

pub use error::SentryError;
