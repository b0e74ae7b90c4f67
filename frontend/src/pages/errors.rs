//! `/ui/errors` and `/ui/errors/{id}`: the errors that Sentry SDKs sent,
//! grouped into issues, so "what is breaking, since when, for whom?" is
//! one page, and "where exactly?" the next.
//!
//! # Layout
//! - `url_state`: the list's filters and sort, read from and written to
//!   the URL (pure).
//! - `filters`: the search box, environment, release, status and sort.
//! - `list`: the issue list, a page at a time, with a sparkline per row.
//! - `get_started`: what an empty list shows: the default project's DSN
//!   and how to point `sentry-sdk` at it.
//! - `detail`: one issue: its summary, facts, hourly chart and status.
//! - `hourly`: events per hour as inline SVG (sparkline and chart).
//! - `pager`: the issue's stored events, newest first, one at a time.
//! - `event`: one event: message, tags, breadcrumbs, request, user,
//!   contexts.
//! - `stack`: an event's exception chain and stack frames.
//! - `tags`: an issue's tag value distributions.
//! - `when`: relative and exact times.
//!
//! Invariant: the list's URL holds its view (see `url_state`); every
//! change is a navigation, and what is fetched follows from the URL.

mod detail;
mod event;
mod filters;
mod get_started;
mod hourly;
mod list;
mod pager;
mod stack;
mod tags;
mod url_state;
mod when;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

pub use detail::IssuePage;
use url_state::ListView;

use crate::url_nav::UrlNav;

/// The issue list. Stable hooks for browser tests: `#issue-query`,
/// `#issue-environment`, `#issue-release`, `#issue-status`, `#issue-sort`
/// (the filters), `#issue-list` (rows are `li.issue-row` with
/// `data-issue-id`; titles are `a.issue-title`, counts `.issue-count`),
/// `#issue-summary`, `#issue-empty` (no issue matches), `#get-started`
/// (nothing received yet, with `#default-dsn`), `#issue-error`.
#[component]
pub fn Errors() -> impl IntoView {
    let params = use_query_map();
    let view =
        Memo::new(move |_| params.with(|params| ListView::from_params(|key| params.get(key))));
    let nav = ListNav::new(view);
    view! {
        <div class="errors-page">
            <h1>"Errors"</h1>
            <filters::Filters nav />
            <list::IssueList nav />
        </div>
    }
}

/// Reads and changes the page's view.
pub type ListNav = UrlNav<ListView>;

/// The stylesheet's class for a Sentry level (`warning` shares the logs
/// page's `warn` colour).
fn level_class(level: &str) -> &'static str {
    match level {
        "fatal" => "lvl-fatal",
        "error" => "lvl-error",
        "warning" | "warn" => "lvl-warn",
        "info" => "lvl-info",
        "debug" => "lvl-debug",
        _ => "lvl-none",
    }
}

/// An issue's status for people.
fn status_label(status: &str) -> &str {
    url_state::STATUSES
        .iter()
        .find(|(name, _)| *name == status)
        .map_or(status, |(_, label)| label)
}

/// The level as a coloured badge.
#[component]
fn LevelBadge(#[prop(into)] level: String) -> impl IntoView {
    let class = format!("log-level issue-level {}", level_class(&level));
    view! { <span class=class>{level}</span> }
}

/// The status as a badge, with the "regressed" mark when a resolved issue
/// came back.
#[component]
fn StatusBadges(
    #[prop(into)] status: String,
    regressed: bool,
    /// The release it came back in, for the mark's tooltip.
    regressed_in_release: Option<String>,
) -> impl IntoView {
    let regressed_title = match regressed_in_release {
        Some(release) => format!("Resolved, then seen again in {release}"),
        None => "Resolved, then seen again".to_owned(),
    };
    view! {
        <span class=format!("status-badge status-{status}")>{status_label(&status).to_owned()}</span>
        {regressed.then(|| view! {
            <span class="status-badge regressed" title=regressed_title>"regressed"</span>
        })}
    }
}

/// An instant as "5 min ago", the exact local time on hover; it follows
/// `now_ms`, so a list read again says how long ago from the new now.
#[component]
fn Ago(unix_ms: i64, #[prop(into)] now_ms: Signal<i64>) -> impl IntoView {
    view! {
        <time title=when::exact(unix_ms)>{move || when::ago(now_ms.get(), unix_ms)}</time>
    }
}

/// A request that failed, said plainly, where its result would have been.
#[component]
fn Problem(
    /// What could not be done: "Could not list issues".
    title: &'static str,
    /// Why, as the API error says it.
    #[prop(into)]
    message: String,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_statuses() {
        assert_eq!(level_class("warning"), "lvl-warn");
        assert_eq!(level_class("whatever"), "lvl-none");
        assert_eq!(
            status_label("resolved_in_next_release"),
            "Resolved in next release"
        );
        assert_eq!(status_label("new_status"), "new_status");
    }
}
