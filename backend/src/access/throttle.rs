//! Brute-force throttling of sign-ins, per user name and per client
//! address.
//!
//! A few wrong passwords cost nothing; past that, each further failure
//! locks the key for twice as long as the last, up to a cap. The user-name
//! key stops guessing one account from many addresses; the address key,
//! with a higher allowance, stops one address trying many accounts. A
//! correct password clears the user name's failures but never bypasses a
//! lock that is running, or guessing would only need one right answer to
//! reset.
//!
//! The table is in memory and bounded: a restart forgets it, which is
//! fine for a lock measured in minutes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per user name before locks start.
const FREE_FAILURES_PER_USER: u32 = 5;
/// Failures allowed per client address (it may be a shared NAT).
const FREE_FAILURES_PER_ADDR: u32 = 20;
/// The first lock; each further failure doubles it.
const FIRST_LOCK: Duration = Duration::from_secs(1);
/// The longest lock.
const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// Failures older than this are forgotten.
const WINDOW: Duration = Duration::from_secs(60 * 60);
/// Most keys kept; past it, forgotten ones are swept, then the oldest.
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Addr(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

/// Sign-in attempts, shared by every request.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl LoginThrottle {
    /// `Err(wait)` while `username` or `addr` is locked.
    pub fn check(
        &self,
        username: &str,
        addr: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Duration> {
        let entries = self.lock();
        let wait = keys(username, addr)
            .filter_map(|key| entries.get(&key)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        wait.map_or(Ok(()), Err)
    }

    /// Counts a wrong password; returns how long the keys are now locked,
    /// if they are.
    pub fn failed(&self, username: &str, addr: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let mut entries = self.lock();
        if entries.len() >= MAX_KEYS {
            sweep(&mut entries, now);
        }
        let mut longest = None;
        for key in keys(username, addr) {
            let free = match key {
                Key::User(_) => FREE_FAILURES_PER_USER,
                Key::Addr(_) => FREE_FAILURES_PER_ADDR,
            };
            let entry = entries.entry(key).or_insert(Entry {
                failures: 0,
                last_failure: now,
                locked_until: None,
            });
            if now.duration_since(entry.last_failure) > WINDOW {
                entry.failures = 0;
                entry.locked_until = None;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure = now;
            if entry.failures > free {
                let doublings = (entry.failures - free - 1).min(20);
                let lock = FIRST_LOCK.saturating_mul(1 << doublings).min(MAX_LOCK);
                entry.locked_until = Some(now + lock);
                longest = longest.max(Some(lock));
            }
        }
        longest
    }

    /// A correct password: the user name's failures are forgotten (the
    /// address's stay: it may still be trying other names).
    pub fn succeeded(&self, username: &str) {
        self.lock().remove(&Key::User(normalize(username)));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // A panic while holding this lock leaves plain counters behind,
        // still usable.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn normalize(username: &str) -> String {
    username.trim().to_lowercase()
}

fn keys(username: &str, addr: Option<IpAddr>) -> impl Iterator<Item = Key> {
    std::iter::once(Key::User(normalize(username))).chain(addr.map(Key::Addr))
}

/// Forgets entries past the window, then, if still full, the oldest half.
fn sweep(entries: &mut HashMap<Key, Entry>, now: Instant) {
    entries.retain(|_, entry| {
        now.duration_since(entry.last_failure) <= WINDOW
            || entry.locked_until.is_some_and(|until| until > now)
    });
    if entries.len() >= MAX_KEYS {
        let mut ages: Vec<Instant> = entries.values().map(|entry| entry.last_failure).collect();
        ages.sort_unstable();
        let cutoff = ages[ages.len() / 2];
        entries.retain(|_, entry| entry.last_failure > cutoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const ADDR: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));

    #[test]
    fn locks_start_after_the_free_failures_and_double() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES_PER_USER {
            assert_eq!(throttle.failed("alice", ADDR, t0), None);
            assert!(throttle.check("alice", ADDR, t0).is_ok());
        }
        assert_eq!(throttle.failed("Alice", ADDR, t0), Some(FIRST_LOCK));
        assert_eq!(throttle.check("ALICE ", None, t0), Err(FIRST_LOCK));
        assert!(throttle.check("alice", ADDR, t0 + FIRST_LOCK).is_ok());
        let t1 = t0 + FIRST_LOCK;
        assert_eq!(throttle.failed("alice", ADDR, t1), Some(FIRST_LOCK * 2));
        assert!(throttle.check("bob", ADDR, t1).is_ok(), "other names open");
    }

    #[test]
    fn success_clears_the_name_but_not_a_running_lock_elsewhere() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..=FREE_FAILURES_PER_USER {
            throttle.failed("alice", ADDR, t0);
        }
        throttle.succeeded("alice");
        assert!(throttle.check("alice", None, t0).is_ok());
    }

    #[test]
    fn one_address_trying_many_names_is_locked() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for n in 0..FREE_FAILURES_PER_ADDR {
            assert_eq!(throttle.failed(&format!("user{n}"), ADDR, t0), None);
        }
        assert!(throttle.failed("another", ADDR, t0).is_some());
        assert!(throttle.check("fresh-name", ADDR, t0).is_err());
        assert!(throttle.check("fresh-name", None, t0).is_ok());
    }

    #[test]
    fn locks_are_capped_and_old_failures_forgotten() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        let mut last = None;
        for _ in 0..100 {
            last = throttle.failed("alice", None, t0);
        }
        assert_eq!(last, Some(MAX_LOCK));
        let later = t0 + WINDOW + Duration::from_secs(1);
        assert!(throttle.check("alice", None, later).is_ok());
        assert_eq!(throttle.failed("alice", None, later), None);
    }

    #[test]
    fn the_table_stays_bounded() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for n in 0..(MAX_KEYS + 500) {
            let at = t0 + Duration::from_millis(n as u64);
            throttle.failed(&format!("user{n}"), None, at);
        }
        assert!(throttle.lock().len() <= MAX_KEYS);
    }
}
