//! An event's stack traces as one unit: those of its exceptions, in
//! order, and the event-level one.
//!
//! Events of one issue nearly always carry the stack traces of their
//! issue's first event, frame for frame: the same code failed the same
//! way. Those traces are most of an event's bytes (a Python event of
//! 30 KB is about 28 KB of frames and their source lines), so an event
//! whose traces equal its issue's dictionary's is stored without them
//! ([`super::events::KIND_SHARED_TRACES`]): neither serialized nor
//! compressed, which is most of what storing an event costs, and put
//! back from the dictionary when it is read.
//!
//! "Equal" is decided by a 128-bit digest of the traces, keyed with a
//! secret drawn when the process starts: comparing field by field walks
//! the dictionary's copy, cold in memory, and took as long as
//! serializing the event (in a profile, about 11 µs of the 36 µs an
//! event took to prepare). Digests are never stored, so the key can
//! change with every start, and a sender who cannot know it cannot make
//! two traces collide on purpose. The digest of each trace's frames is
//! remembered by where they are in memory: events of one issue share
//! their frames (`payload/frames.rs`), so most are hashed once.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError, Weak};

use partout_protocols::sentry::event::{with_layout_buffer, Event, Frame, FrameLayout, Stacktrace};
use xxhash_rust::xxh3::xxh3_128_with_seed;

/// The stack traces taken out of an event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StackTraces {
    /// One per exception, in the chain's order.
    per_exception: Vec<Option<Stacktrace>>,
    event_level: Option<Stacktrace>,
}

impl StackTraces {
    /// Takes `event`'s stack traces out of it.
    pub fn take(event: &mut Event) -> StackTraces {
        StackTraces {
            per_exception: event
                .exceptions
                .iter_mut()
                .map(|exception| exception.stacktrace.take())
                .collect(),
            event_level: event.stacktrace.take(),
        }
    }

    /// Puts the traces back into `event`, which must have as many
    /// exceptions as they came from; `false` (and `event` unchanged) when
    /// it has not.
    pub fn put(self, event: &mut Event) -> bool {
        if self.per_exception.len() != event.exceptions.len() {
            return false;
        }
        for (exception, trace) in event.exceptions.iter_mut().zip(self.per_exception) {
            exception.stacktrace = trace;
        }
        event.stacktrace = self.event_level;
        true
    }
}

/// The keyed digest of `event`'s stack traces, and of how many exceptions
/// carry them; `None` when no trace has a frame, as there is nothing to
/// share.
pub fn digest(event: &Event) -> Option<u128> {
    let traces = || {
        event
            .exceptions
            .iter()
            .map(|exception| exception.stacktrace.as_ref())
            .chain(std::iter::once(event.stacktrace.as_ref()))
    };
    if !traces().flatten().any(|trace| !trace.frames.is_empty()) {
        return None;
    }
    let mut bytes = Vec::with_capacity(64);
    bytes.extend_from_slice(&(event.exceptions.len() as u64).to_le_bytes());
    for trace in traces() {
        match trace {
            None => bytes.push(0),
            Some(trace) => {
                bytes.push(1);
                bytes.extend_from_slice(&(trace.frames_omitted as u64).to_le_bytes());
                bytes.extend_from_slice(&frames_digest(&trace.frames).to_le_bytes());
            }
        }
    }
    Some(xxh3_128_with_seed(&bytes, key()))
}

/// Frames whose digest is remembered at most.
const MAX_REMEMBERED: usize = 1024;

/// Digests of frames by where they are in memory. The payload reader
/// shares an issue's frames between its events (`payload/frames.rs`), so
/// most events' frames were digested before: hashing them again was
/// most of what deciding to share an event's traces cost. A `Weak` keeps
/// the address from being reused while it is remembered, and frames
/// behind an `Arc` are never changed in place (nothing takes them with
/// `Arc::get_mut` or `make_mut`), so a digest stays true while it upgrades.
type Remembered = HashMap<usize, (Weak<[Frame]>, u128)>;

static REMEMBERED: LazyLock<Mutex<Remembered>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The keyed digest of one trace's frames.
fn frames_digest(frames: &Arc<[Frame]>) -> u128 {
    let address = Arc::as_ptr(frames).cast::<()>() as usize;
    // Nothing panics while holding it; were it poisoned, what it holds
    // is still whole.
    let lock = || REMEMBERED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((held, digest)) = lock().get(&address) {
        if held
            .upgrade()
            .is_some_and(|held| Arc::ptr_eq(&held, frames))
        {
            return *digest;
        }
    }
    let digest = digest_frames(frames);
    let mut remembered = lock();
    if remembered.len() >= MAX_REMEMBERED {
        // Forgotten frames first, then any: a frequent trace comes back.
        remembered.retain(|_, (held, _)| held.strong_count() > 0);
        while remembered.len() >= MAX_REMEMBERED {
            let Some(&any) = remembered.keys().next() else {
                break;
            };
            remembered.remove(&any);
        }
    }
    remembered.insert(address, (Arc::downgrade(frames), digest));
    digest
}

fn digest_frames(frames: &[Frame]) -> u128 {
    with_layout_buffer(|bytes| {
        bytes.extend_from_slice(&(frames.len() as u64).to_le_bytes());
        for frame in frames {
            FrameLayout::of(frame).append_to(bytes);
        }
        xxh3_128_with_seed(bytes, key())
    })
}

/// This process's digest key.
fn key() -> u64 {
    static KEY: OnceLock<u64> = OnceLock::new();
    // The standard library seeds each `RandomState` from the OS.
    *KEY.get_or_init(|| {
        std::collections::hash_map::RandomState::new().hash_one(0x7472_6163_6573_u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use partout_protocols::sentry::event::{normalize_event, NormalizeLimits};

    fn event(payload: &str) -> Event {
        normalize_event(payload.as_bytes(), &NormalizeLimits::default()).unwrap()
    }

    const CHAINED: &str = r#"{"exception":{"values":[
        {"type":"KeyError","stacktrace":{"frames":[{"function":"load","lineno":3,"context_line":"x = d[k]"}]}},
        {"type":"RuntimeError","stacktrace":{"frames":[{"function":"main","lineno":9},{"function":"run","lineno":12}]}}]}}"#;

    #[test]
    fn traces_taken_and_put_back_leave_the_event_as_it_was() {
        let original = event(CHAINED);
        let mut stripped = original.clone();
        let traces = StackTraces::take(&mut stripped);
        assert!(stripped.exceptions.iter().all(|e| e.stacktrace.is_none()));
        assert_eq!(stripped.exceptions.len(), 2, "the exceptions stay");
        assert_eq!(digest(&stripped), None, "no frame is left to share");
        assert!(traces.clone().put(&mut stripped));
        assert_eq!(stripped, original);
        let shorter = event(r#"{"exception":{"values":[{"type":"KeyError"}]}}"#);
        let mut target = shorter.clone();
        assert!(
            !traces.put(&mut target),
            "a chain of another length refuses them"
        );
        assert_eq!(target, shorter);
    }

    #[test]
    fn the_digest_changes_with_any_field_of_any_frame() {
        let first = event(CHAINED);
        let same = digest(&first);
        assert!(same.is_some());
        assert_eq!(
            digest(&event(CHAINED)),
            same,
            "another event, the same traces"
        );
        let other_value =
            CHAINED.replace(r#""type":"KeyError""#, r#""type":"KeyError","value":"'b'""#);
        assert_eq!(digest(&event(&other_value)), same, "only traces count");
        for (from, to) in [
            (r#""lineno":12"#, r#""lineno":13"#),
            (r#""function":"run""#, r#""function":"rum""#),
            (
                r#""context_line":"x = d[k]""#,
                r#""context_line":"x = d[j]""#,
            ),
            (r#""lineno":9}"#, r#""lineno":9,"in_app":true}"#),
            (r#""lineno":9}"#, r#""lineno":9,"colno":1}"#),
            (r#""lineno":9}"#, r#""lineno":9,"pre_context":["a"]}"#),
            (r#""lineno":9}"#, r#""lineno":9,"post_context":["a"]}"#),
            (
                r#""function":"load","#,
                r#""function":"load","module":"m","#,
            ),
            (
                r#""function":"load","#,
                r#""function":"load","filename":"f.py","#,
            ),
        ] {
            let changed = CHAINED.replace(from, to);
            assert_ne!(changed, CHAINED);
            assert_ne!(digest(&event(&changed)), same, "{to}");
        }
        // The same frames split otherwise between the exceptions.
        let moved = CHAINED.replace(
            r#"[{"function":"main","lineno":9},{"function":"run","lineno":12}]"#,
            r#"[{"function":"main","lineno":9}]"#,
        ).replace(
            r#"[{"function":"load","lineno":3,"context_line":"x = d[k]"}]"#,
            r#"[{"function":"load","lineno":3,"context_line":"x = d[k]"},{"function":"run","lineno":12}]"#,
        );
        assert_ne!(digest(&event(&moved)), same);
    }

    /// `event` with each trace's frames copied into new memory.
    fn deep_copy(event: &Event) -> Event {
        let mut copy = event.clone();
        for trace in copy
            .exceptions
            .iter_mut()
            .filter_map(|exception| exception.stacktrace.as_mut())
            .chain(copy.stacktrace.as_mut())
        {
            trace.frames = trace.frames.iter().cloned().collect();
        }
        copy
    }

    #[test]
    fn shared_and_copied_frames_digest_alike() {
        let first = event(CHAINED);
        let same = digest(&first);
        let copy = deep_copy(&first);
        let frames =
            |event: &Event| Arc::clone(&event.exceptions[0].stacktrace.as_ref().unwrap().frames);
        assert!(!Arc::ptr_eq(&frames(&first), &frames(&copy)));
        assert_eq!(digest(&copy), same, "remembered or not, the same digest");
        assert_eq!(digest(&first.clone()), same);
        let mut changed = deep_copy(&first);
        if let Some(trace) = changed.exceptions[0].stacktrace.as_mut() {
            let mut edited = trace.frames.to_vec();
            edited[0].lineno = Some(4);
            trace.frames = edited.into();
        }
        assert_ne!(digest(&changed), same);
        assert_eq!(digest(&first), same, "still remembered alike");
    }

    #[test]
    fn a_message_without_frames_has_nothing_to_share() {
        assert_eq!(digest(&event(r#"{"message":"disk full"}"#)), None);
    }
}
