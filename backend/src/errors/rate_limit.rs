//! The per-project limit on ingested events: a token bucket per project
//! that holds a minute's worth of events and refills continuously, so a
//! burst up to the limit passes and a storm is cut to the limit's rate.
//!
//! Over the limit, the request is refused whole (nothing stored) and the
//! SDK is told when to come back, in `Retry-After` and Sentry's
//! `X-Sentry-Rate-Limits` (see `http::sentry_api`); SDKs then drop events
//! locally until that time instead of retrying.
//!
//! Buckets live in memory: a restart forgives, which is harmless. Only
//! authenticated requests reach the limiter, so there is one bucket per
//! project, never one per client-chosen value.

use std::collections::HashMap;
use std::sync::Mutex;

const MINUTE_MS: f64 = 60_000.0;

/// Token buckets by project id.
#[derive(Debug, Default)]
pub struct EventLimiter {
    buckets: Mutex<HashMap<i64, Bucket>>,
}

/// One project's bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bucket {
    /// Events that may still be taken.
    tokens: f64,
    /// When `tokens` was last brought up to date, Unix ms.
    at_ms: i64,
}

/// Refused: come back in this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

impl EventLimiter {
    /// Takes `events` from `project_id`'s bucket at `now_ms`, or says when
    /// there will be enough. `per_minute` 0 means no limit.
    pub fn take(
        &self,
        project_id: i64,
        events: usize,
        per_minute: u32,
        now_ms: i64,
    ) -> Result<(), RetryAfter> {
        if per_minute == 0 || events == 0 {
            return Ok(());
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let capacity = f64::from(per_minute);
        let bucket = buckets.entry(project_id).or_insert(Bucket {
            tokens: capacity,
            at_ms: now_ms,
        });
        take(bucket, events, capacity, now_ms)
    }
}

/// The bucket rule, apart from the map and the lock.
fn take(bucket: &mut Bucket, events: usize, capacity: f64, now_ms: i64) -> Result<(), RetryAfter> {
    let per_ms = capacity / MINUTE_MS;
    // A clock that went back refills nothing rather than draining.
    let elapsed = now_ms.saturating_sub(bucket.at_ms).max(0) as f64;
    bucket.tokens = (bucket.tokens + elapsed * per_ms).min(capacity);
    bucket.at_ms = bucket.at_ms.max(now_ms);
    // A request bigger than the whole bucket waits for a full bucket.
    let needed = (events as f64).min(capacity);
    if bucket.tokens >= needed {
        bucket.tokens -= needed;
        return Ok(());
    }
    let wait_ms = (needed - bucket.tokens) / per_ms;
    Err(RetryAfter(((wait_ms / 1000.0).ceil() as u64).max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000;

    #[test]
    fn a_burst_up_to_the_limit_passes_then_the_rate_holds() {
        let limiter = EventLimiter::default();
        for _ in 0..60 {
            assert_eq!(limiter.take(1, 1, 60, T0), Ok(()));
        }
        // 60 per minute is one a second: the next is a second away.
        assert_eq!(limiter.take(1, 1, 60, T0), Err(RetryAfter(1)));
        assert_eq!(limiter.take(1, 1, 60, T0 + 500), Err(RetryAfter(1)));
        assert_eq!(limiter.take(1, 1, 60, T0 + 1000), Ok(()));
        assert_eq!(limiter.take(1, 5, 60, T0 + 1000), Err(RetryAfter(5)));
        // Another project has its own bucket.
        assert_eq!(limiter.take(2, 60, 60, T0), Ok(()));
    }

    #[test]
    fn a_quiet_minute_refills_the_bucket_but_no_more() {
        let limiter = EventLimiter::default();
        assert_eq!(limiter.take(1, 10, 10, T0), Ok(()));
        assert_eq!(limiter.take(1, 10, 10, T0 + 600_000), Ok(()));
        assert!(limiter.take(1, 1, 10, T0 + 600_000).is_err());
    }

    #[test]
    fn zero_means_no_limit_and_huge_requests_wait_for_a_full_bucket() {
        let limiter = EventLimiter::default();
        assert_eq!(limiter.take(1, 1_000_000, 0, T0), Ok(()));
        assert_eq!(limiter.take(1, 100, 10, T0), Ok(()));
        assert_eq!(limiter.take(1, 100, 10, T0), Err(RetryAfter(60)));
    }

    #[test]
    fn a_clock_going_back_does_not_refill() {
        let limiter = EventLimiter::default();
        assert_eq!(limiter.take(1, 2, 2, T0), Ok(()));
        assert!(limiter.take(1, 1, 2, T0 - 60_000).is_err());
    }
}
