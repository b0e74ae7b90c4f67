//! The matching lines, newest first, a page at a time: "Load older" asks
//! for the next page with the cursor of the last answer.

use leptos::prelude::*;
use leptos::task::spawn_local;
use partout_model::api::{LogHistogram, LogLine};

use super::line_view::LogRow;
use super::{LogsNav, Problem};
use crate::api::{self, ApiError, LogScope};
use crate::clock;
use crate::format;

/// Lines per request.
const PAGE_SIZE: usize = 100;
/// Most lines kept on the page; past this, narrowing the search is the
/// better way to find something, and the page stays quick.
const MAX_LOADED: usize = 5_000;

/// The lines fetched so far for the current scope.
#[derive(Debug, Clone, Default, PartialEq)]
struct Listing {
    lines: Vec<LogLine>,
    /// Where the next (older) page starts; `None` after the last page.
    next_cursor: Option<String>,
    /// Server time of the first page, in ms.
    took_ms: f64,
}

/// What is in flight or went wrong.
#[derive(Debug, Clone, PartialEq)]
enum Fetch {
    Idle,
    /// The first page of a new search.
    Searching,
    /// The next page of the same search.
    LoadingOlder,
    /// The first page failed: nothing is shown but the reason.
    SearchFailed(ApiError),
    /// An older page failed: the lines so far stay.
    OlderFailed(ApiError),
}

/// The results list with its summary and paging.
#[component]
pub fn ResultsList(
    /// What to search; a new value starts a new search.
    scope: Memo<LogScope>,
    /// The histogram of the same scope, for the number of matching lines.
    histogram: LocalResource<Result<LogHistogram, ApiError>>,
    nav: LogsNav,
) -> impl IntoView {
    let listing = RwSignal::new(Listing::default());
    let fetch = RwSignal::new(Fetch::Searching);
    // Answers can come back out of order when searches follow each other
    // quickly; each search takes a number, and only the latest one's
    // answers are kept.
    let generation = StoredValue::new(0u64);

    Effect::new(move |_| {
        let scope = scope.get();
        let search = generation.get_value() + 1;
        generation.set_value(search);
        fetch.set(Fetch::Searching);
        spawn_local(async move {
            let answer = api::log_search(&scope, PAGE_SIZE, None).await;
            if generation.try_get_value() != Some(search) {
                return;
            }
            match answer {
                Ok(page) => {
                    listing.try_set(Listing {
                        lines: page.lines,
                        next_cursor: page.next_cursor,
                        took_ms: page.took_ms,
                    });
                    fetch.try_set(Fetch::Idle);
                }
                Err(error) => {
                    listing.try_set(Listing::default());
                    fetch.try_set(Fetch::SearchFailed(error));
                }
            }
        });
    });

    let load_older = move |_| {
        let Some(cursor) = listing.with_untracked(|listing| listing.next_cursor.clone()) else {
            return;
        };
        let scope = scope.get_untracked();
        let search = generation.get_value();
        fetch.set(Fetch::LoadingOlder);
        spawn_local(async move {
            let answer = api::log_search(&scope, PAGE_SIZE, Some(&cursor)).await;
            if generation.try_get_value() != Some(search) {
                return;
            }
            match answer {
                Ok(page) => {
                    listing.try_update(|listing| {
                        listing.lines.extend(page.lines);
                        listing.next_cursor = page.next_cursor;
                    });
                    fetch.try_set(Fetch::Idle);
                }
                Err(error) => {
                    fetch.try_set(Fetch::OlderFailed(error));
                }
            }
        });
    };

    // The day goes in front of each time once lines from another day than
    // today are on screen.
    let show_day = Memo::new(move |_| {
        let today = clock::local_day(clock::now_ms());
        listing.with(|listing| {
            listing
                .lines
                .iter()
                .any(|line| clock::local_day(line.time_ms) != today)
        })
    });
    let matching = move || {
        histogram
            .get()
            .and_then(|answer| answer.ok())
            .map(|histogram| histogram.total)
    };
    let summary = move || {
        listing.with(|listing| {
            summary_text(
                listing.lines.len(),
                listing.next_cursor.is_some(),
                matching(),
                listing.took_ms,
            )
        })
    };
    let search_error = move || match fetch.get() {
        Fetch::SearchFailed(error) => Some(search_problem(&error)),
        _ => None,
    };
    let older_error = move || match fetch.get() {
        Fetch::OlderFailed(error) => Some(error.to_string()),
        _ => None,
    };
    let more = move || listing.with(|listing| listing.next_cursor.is_some());
    let full = move || listing.with(|listing| listing.lines.len() >= MAX_LOADED);

    view! {
        <section class="results" aria-label="Matching lines">
            {move || search_error().map(|(title, message)| view! {
                <Problem title message id="log-error" />
            })}
            <Show when=move || search_error().is_none()>
                <p class="results-summary muted" id="log-summary">
                    {summary}
                    {move || (fetch.get() == Fetch::Searching).then(|| view! { <span class="busy">" Searching…"</span> })}
                </p>
                <ol
                    class="log-lines"
                    id="log-results"
                    class:stale=move || fetch.get() == Fetch::Searching
                >
                    <For
                        each=move || listing.get().lines
                        key=|line| line.id.clone()
                        children=move |line| view! { <LogRow line nav show_day /> }
                    />
                </ol>
                <Show when=move || fetch.get() != Fetch::Searching && listing.with(|l| l.lines.is_empty())>
                    <div class="empty card">
                        <p>"No line matches in this range."</p>
                        <p class="muted">"Widen the range, or remove a filter from the query."</p>
                    </div>
                </Show>
                {move || older_error().map(|message| view! {
                    <Problem title="Could not load older lines" message />
                })}
                <Show when=move || more() && !full()>
                    <button
                        type="button"
                        class="load-older"
                        id="load-older"
                        disabled=move || fetch.get() == Fetch::LoadingOlder
                        on:click=load_older
                    >
                        {move || if fetch.get() == Fetch::LoadingOlder { "Loading…" } else { "Load older lines" }}
                    </button>
                </Show>
                <Show when=move || more() && full()>
                    <p class="muted">
                        {format!("{} lines are loaded, the most this page keeps: narrow the query or the range to see older ones.", format::count(MAX_LOADED as u64))}
                    </p>
                </Show>
            </Show>
        </section>
    }
}

/// The heading and text for a failed search. A query the server cannot
/// read is the reader's to fix, so it is said without the HTTP wrapping.
fn search_problem(error: &ApiError) -> (&'static str, String) {
    match error {
        ApiError::Status {
            status: 400,
            message,
        } => match message.strip_prefix("query ") {
            Some(reason) => ("The query has a mistake", reason.to_owned()),
            None => ("Could not search", message.clone()),
        },
        other => ("Could not search", other.to_string()),
    }
}

/// "Showing the newest 100 of 1,234 matching lines" and friends.
fn summary_text(shown: usize, more: bool, matching: Option<u64>, took_ms: f64) -> String {
    let shown = shown as u64;
    let took = format!(" ({took_ms:.0} ms)");
    match (more, matching) {
        (_, Some(0)) | (false, _) if shown == 0 => String::new(),
        (true, Some(total)) if total > shown => format!(
            "Showing the newest {} of {} matching lines{took}.",
            format::count(shown),
            format::count(total)
        ),
        (true, _) => format!(
            "Showing the newest {}; older ones follow{took}.",
            format::lines(shown)
        ),
        (false, _) if shown == 1 => format!("1 matching line{took}."),
        (false, _) => format!(
            "All {} matching lines, newest first{took}.",
            format::count(shown)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_mistakes_are_told_plainly() {
        let mistake = ApiError::Status {
            status: 400,
            message: "query at 7: unclosed '\"'".into(),
        };
        assert_eq!(
            search_problem(&mistake),
            ("The query has a mistake", "at 7: unclosed '\"'".to_owned())
        );
        let down = ApiError::Network("failed to fetch".into());
        assert_eq!(
            search_problem(&down),
            (
                "Could not search",
                "could not reach the server: failed to fetch".to_owned()
            )
        );
    }

    #[test]
    fn summaries() {
        assert_eq!(summary_text(0, false, Some(0), 1.0), "");
        assert_eq!(
            summary_text(100, true, Some(1_234), 3.4),
            "Showing the newest 100 of 1,234 matching lines (3 ms)."
        );
        assert_eq!(
            summary_text(100, true, None, 3.0),
            "Showing the newest 100 lines; older ones follow (3 ms)."
        );
        assert_eq!(
            summary_text(1, false, Some(1), 0.2),
            "1 matching line (0 ms)."
        );
        assert_eq!(
            summary_text(12, false, Some(12), 1.0),
            "All 12 matching lines, newest first (1 ms)."
        );
    }
}
