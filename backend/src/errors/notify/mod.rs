//! Notifications of new and regressed issues to each project's webhooks:
//! fast, once per state change, with the context a person needs.
//!
//! The flow: the writer job that opens or reopens an issue also records
//! its notification in the outbox (`outbox::enqueue`), so the two commit
//! together; the ingest handler then wakes the sender, which POSTs each
//! delivery and records the result, retrying with backoff.
//!
//! # Layout
//! - `webhooks`: the `error_webhooks` table and URL checks.
//! - `message`: the notification's context and the bodies sent (pure).
//! - `outbox`: recording notifications, the per-project limit, due
//!   deliveries, and the retry policy.
//! - `sender`: the task that delivers.

pub mod message;
pub mod outbox;
pub mod sender;
pub mod webhooks;

/// Default of `errors.notifications_per_minute`.
pub const DEFAULT_NOTIFICATIONS_PER_MINUTE: u32 = 10;
