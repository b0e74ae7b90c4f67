//! The live tail: new lines matching the query as the server receives
//! them, newest first, in a bounded buffer so a busy server cannot fill
//! the page's memory.

use std::collections::VecDeque;

use leptos::prelude::*;
use partout_model::api::LogLine;

use super::line_view::LogRow;
use super::{LogsNav, Problem};
use crate::api::{self, ApiError, LogTail, TailEvent};
use crate::clock;
use crate::format;

/// Most lines the live view keeps; older ones are dropped (and counted).
pub const TAIL_CAPACITY: usize = 1_000;

/// The newest lines of the tail, at most `capacity`, with counts of what
/// was not kept.
#[derive(Debug, Clone, PartialEq)]
pub struct TailBuffer {
    /// Newest first.
    lines: VecDeque<LogLine>,
    capacity: usize,
    /// Lines received since the tail started.
    pub received: u64,
    /// Received lines pushed out by newer ones.
    pub dropped: u64,
    /// Lines the server skipped because the page read too slowly.
    pub skipped: u64,
}

impl TailBuffer {
    pub fn new(capacity: usize) -> TailBuffer {
        TailBuffer {
            lines: VecDeque::new(),
            capacity: capacity.max(1),
            received: 0,
            dropped: 0,
            skipped: 0,
        }
    }

    /// Keeps `line` as the newest, dropping the oldest past the capacity.
    pub fn push(&mut self, line: LogLine) {
        self.received += 1;
        self.lines.push_front(line);
        while self.lines.len() > self.capacity {
            self.lines.pop_back();
            self.dropped += 1;
        }
    }

    /// Notes lines the server skipped.
    pub fn skip(&mut self, count: u64) {
        self.skipped = self.skipped.saturating_add(count);
    }

    /// The kept lines, newest first.
    pub fn lines(&self) -> impl Iterator<Item = &LogLine> {
        self.lines.iter()
    }
}

/// Where the stream is.
#[derive(Debug, Clone, PartialEq)]
enum TailState {
    Connecting,
    Open,
    Reconnecting,
    /// Refused or ended by the server; the browser does not retry.
    Closed,
    /// The browser could not even start it.
    Failed(ApiError),
}

/// The live view, replacing the search results while it is on.
#[component]
pub fn LiveTail(
    /// The query whose new lines to show; a new query starts a new tail.
    query: Signal<String>,
    nav: LogsNav,
) -> impl IntoView {
    let buffer = RwSignal::new(TailBuffer::new(TAIL_CAPACITY));
    let state = RwSignal::new(TailState::Connecting);
    let since_ms = RwSignal::new(clock::now_ms());
    let undecodable = RwSignal::new(None::<String>);
    // The open stream. Replacing or dropping it closes it, which is what
    // ends the tail when the query changes or the view goes away.
    let connection = StoredValue::new_local(None::<LogTail>);

    Effect::new(move |_| {
        let query = query.get();
        connection.set_value(None);
        buffer.set(TailBuffer::new(TAIL_CAPACITY));
        state.set(TailState::Connecting);
        since_ms.set(clock::now_ms());
        let opened = api::log_tail(&query, move |event| match event {
            TailEvent::Open => {
                state.try_set(TailState::Open);
            }
            TailEvent::Line(line) => {
                buffer.try_update(|buffer| buffer.push(*line));
            }
            TailEvent::Lagged(count) => {
                buffer.try_update(|buffer| buffer.skip(count));
            }
            TailEvent::Undecodable(error) => {
                undecodable.try_set(Some(error));
            }
            TailEvent::Reconnecting => {
                state.try_set(TailState::Reconnecting);
            }
            TailEvent::Closed => {
                state.try_set(TailState::Closed);
            }
        });
        match opened {
            Ok(tail) => connection.set_value(Some(tail)),
            Err(error) => state.set(TailState::Failed(error)),
        }
    });
    on_cleanup(move || {
        connection.try_update_value(|connection| *connection = None);
    });

    let status = move || {
        let since = clock::line_time(since_ms.get(), false);
        match state.get() {
            TailState::Connecting => "Connecting…".to_owned(),
            TailState::Reconnecting => "Connection lost; reconnecting…".to_owned(),
            TailState::Open | TailState::Closed | TailState::Failed(_) => buffer.with(|buffer| {
                if buffer.received == 0 {
                    format!("Live since {since}: waiting for new matching lines.")
                } else {
                    format!(
                        "Live since {since}: {} received, newest first.",
                        format::lines(buffer.received)
                    )
                }
            }),
        }
    };
    let dropped = move || {
        buffer.with(|buffer| {
            (buffer.dropped > 0).then(|| {
                format!(
                    "Showing the newest {}; {} older ones were dropped from this page.",
                    format::count(TAIL_CAPACITY as u64),
                    format::count(buffer.dropped)
                )
            })
        })
    };
    let skipped = move || {
        buffer.with(|buffer| {
            (buffer.skipped > 0).then(|| {
                format!(
                    "The server skipped {} because this page fell behind.",
                    format::lines(buffer.skipped)
                )
            })
        })
    };
    let problem = move || {
        match state.get() {
        TailState::Closed => Some(
            "the server ended the live tail (a query it cannot read, or it is shutting down); turn Live off and on to try again"
                .to_owned(),
        ),
        TailState::Failed(error) => Some(error.to_string()),
        _ => undecodable
            .get()
            .map(|error| format!("a new line could not be read: {error}")),
    }
    };

    view! {
        <section class="live-tail" data-testid="live-tail" aria-label="Live tail" aria-live="polite">
            <p class="tail-status" id="tail-status">
                <span class="live-dot" class:on=move || state.get() == TailState::Open></span>
                {status}
            </p>
            {move || dropped().map(|text| view! { <p class="tail-note">{text}</p> })}
            {move || skipped().map(|text| view! { <p class="tail-note">{text}</p> })}
            {move || problem().map(|message| view! { <Problem title="Live tail" message /> })}
            <ol class="log-lines" id="tail-lines">
                <For
                    each=move || buffer.with(|buffer| buffer.lines().cloned().collect::<Vec<_>>())
                    key=|line| line.id.clone()
                    children=move |line| view! { <LogRow line nav show_day=false /> }
                />
            </ol>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn line(id: u32) -> LogLine {
        LogLine {
            id: id.to_string(),
            time: String::new(),
            time_ms: 0,
            level: None,
            service: None,
            host: None,
            message: format!("line {id}"),
            fields: BTreeMap::new(),
            source: "json".into(),
            flags: Vec::new(),
        }
    }

    #[test]
    fn the_buffer_keeps_the_newest_and_counts_the_rest() {
        let mut buffer = TailBuffer::new(3);
        for id in 1..=5 {
            buffer.push(line(id));
        }
        buffer.skip(7);
        let kept: Vec<&str> = buffer.lines().map(|line| line.id.as_str()).collect();
        assert_eq!(kept, ["5", "4", "3"]);
        assert_eq!((buffer.received, buffer.dropped, buffer.skipped), (5, 2, 7));
    }

    #[test]
    fn a_zero_capacity_still_shows_the_newest() {
        let mut buffer = TailBuffer::new(0);
        buffer.push(line(1));
        buffer.push(line(2));
        assert_eq!(buffer.lines().count(), 1);
        assert_eq!(buffer.dropped, 1);
    }
}
