//! `/ui/logs`: search the logs this server received, so "every error of
//! service api in the last hour" or "what happened around 14:02?" needs no
//! grep.
//!
//! # Layout
//! - `url_state`: the query and range as read from and written to the URL.
//! - `time_range`: presets, custom ranges, relative times resolved (pure).
//! - `query_edit`: clicked values into `field:value` clauses (pure).
//! - `search_bar`: the query box, the range picker, refresh and live.
//! - `histogram` + `chart_layout`: lines over time, stacked by level;
//!   click or drag to narrow the range.
//! - `results`: the matching lines, paged with the cursor.
//! - `line_view`: one line, expandable into its fields (each a filter) and
//!   the lines around it.
//! - `facets`: the top services, hosts and levels, click to filter.
//! - `tail`: the live tail, a bounded buffer of new lines.
//!
//! Invariant: the URL holds the view (see `url_state`); every change is a
//! navigation, and what is fetched follows from the URL alone.

mod chart_layout;
mod facets;
mod histogram;
mod line_view;
mod query_edit;
mod results;
mod search_bar;
mod tail;
mod time_range;
mod url_state;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{self, LogScope};
use crate::clock;
use time_range::TimeRange;
pub use url_state::link;
use url_state::LogsView;

use crate::url_nav::UrlNav;

/// The page. Stable hooks for browser tests: `#log-query` (the query box),
/// `[data-range=<preset>]` and `#custom-range-toggle`,
/// `[data-testid=log-histogram]` (its bars are `rect.seg`, its heading
/// `#histogram-total`), `#log-results` (rows are `li.log-line`; the list
/// has the class `stale` while a search runs), `#log-summary`,
/// `#load-older`, `[data-testid=facet-<field>]` (values are buttons with
/// `data-value`), `#log-error` (a failed search), `#live-toggle`,
/// `#tail-status` and `#tail-lines`.
#[component]
pub fn Logs() -> impl IntoView {
    let params = use_query_map();
    let view =
        Memo::new(move |_| params.with(|params| LogsView::from_params(|key| params.get(key))));
    let nav = LogsNav::new(view);
    // Bumped by "Refresh" (or by searching again for the same thing): a
    // relative range then ends at a new "now".
    let refresh = RwSignal::new(0u64);
    // Every recomputation counts as a change, even to an equal scope: a
    // refresh of a fixed range must still fetch, since lines stamped
    // inside it can arrive late. It only recomputes when the view or
    // `refresh` change.
    let scope = Memo::new_with_compare(
        move |_| {
            refresh.track();
            let LogsView { query, range } = view.get();
            let resolved = range.resolve(clock::now_ms());
            LogScope {
                query,
                from: resolved.from,
                until: resolved.until,
            }
        },
        |_, _| true,
    );
    let histogram = LocalResource::new(move || {
        let scope = scope.get();
        async move { api::log_histogram(&scope).await }
    });
    let live = RwSignal::new(false);
    let on_refresh = Callback::new(move |()| refresh.update(|count| *count += 1));

    view! {
        <div class="logs-page">
            <h1>"Logs"</h1>
            <search_bar::SearchBar nav live on_refresh />
            <histogram::Histogram histogram nav />
            <div class="logs-body">
                <facets::Facets scope nav />
                <div class="logs-main">
                    <Show
                        when=move || live.get()
                        fallback=move || view! { <results::ResultsList scope histogram nav /> }
                    >
                        <tail::LiveTail query=Signal::derive(move || view.get().query) nav />
                    </Show>
                </div>
            </div>
        </div>
    }
}

/// Reads and changes the page's view.
pub type LogsNav = UrlNav<LogsView>;

// The logs page's own ways of changing its view.
impl LogsNav {
    /// Searches for `query` over the same range.
    pub fn set_query(&self, query: String) {
        let next = self.view().get_untracked().with_query(query);
        self.go(&next);
    }

    /// The same query over `range`.
    pub fn set_range(&self, range: TimeRange) {
        let next = self.view().get_untracked().with_range(range);
        self.go(&next);
    }

    /// Narrows the query by `clause`, or takes it out when it is there:
    /// a second click on a filter undoes the first.
    pub fn toggle_clause(&self, clause: &str) {
        let query = self.view().get_untracked().query;
        let next = if query_edit::has_clause(&query, clause) {
            query_edit::remove_clause(&query, clause)
        } else {
            query_edit::add_clause(&query, clause)
        };
        self.set_query(next);
    }

    /// Narrows the query by `clause` (nothing changes when it is there).
    pub fn add_clause(&self, clause: &str) {
        let query = self.view().get_untracked().query;
        self.set_query(query_edit::add_clause(&query, clause));
    }
}

/// A request that failed, said plainly, where its result would have been.
#[component]
fn Problem(
    /// What could not be done: "Could not search".
    title: &'static str,
    /// Why, as the API error says it.
    #[prop(into)]
    message: Signal<String>,
    /// `id` for tests to find the notice by.
    #[prop(optional)]
    id: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div class="card error problem" role="alert" id=id>
            <strong>{title}</strong>
            ": "
            <span>{message}</span>
        </div>
    }
}
