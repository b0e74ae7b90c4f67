//! `/ui/metrics`: find a series by name and chart it over a range, with
//! the deploys of that range on the chart, so "did the deploy at 14:02
//! slow the API down?" is one look; a timer also gets its percentiles over
//! the whole range from merged sketches ("the worst 0.01%").
//!
//! # Layout
//! - `url_state`: the search, series, range, consolidation and refresh
//!   interval as read from and written to the URL (pure).
//! - `plot`: points into SVG geometry, value ticks, deploy positions
//!   (pure).
//! - `series_list`: the name search (a text or a glob) and the series it
//!   finds.
//! - `chart`: the chosen series' chart, its controls and deploys.
//! - `compare`: series charted together: the picked ones, or the first
//!   ones a search finds.
//! - `quantiles`: a timer's percentiles over the whole range.
//!
//! Invariant: the URL holds the view; every change is a navigation, and
//! what is fetched follows from the URL alone.

mod chart;
mod compare;
mod plot;
mod quantiles;
mod series_list;
mod url_state;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::url_nav::UrlNav;
use url_state::MetricsView;

/// The page. Stable hooks for browser tests: `#metric-search` (the name
/// glob box), `#series-list` (its links are `a.series` with `data-name`),
/// `[data-testid=metric-chart]` (lines are `path.line`, lone points
/// `circle.dot`, deploys `line.deploy`), `[data-range=<from>]`,
/// `[data-by=<consolidation>]`, `[data-refresh=<5s|10s|30s|1m|5m|off>]`,
/// `#metric-summary`, `#metric-deploys`,
/// `#metric-quantiles` (rows `tr[data-q]`) and `#metric-error`; for a
/// comparison, `#compare-link` in the list, each series' pick box
/// `input.pick` with `data-name`, `#clear-picks`, `[data-scale=<shared|each>]`, lines
/// `path.line.series-<i>` and `#metric-legend` (rows `li` with
/// `data-name`).
#[component]
pub fn Metrics() -> impl IntoView {
    let params = use_query_map();
    let view = Memo::new(move |_| {
        params.with(|params| {
            MetricsView::from_params(
                |key| params.get(key),
                |key| params.get_all(key).unwrap_or_default(),
            )
        })
    });
    let nav = MetricsNav::new(view);
    // What the chart depends on: a new search leaves a chosen series'
    // chart (and a comparison of picks) as it is, and changes what a
    // comparison of the search charts; picking changes a comparison of
    // picks only.
    let charted = Memo::new(move |_| {
        view.with(|view| {
            let compared = view.compare.then(|| {
                let pattern = view.picks.is_empty().then(|| view.pattern.clone());
                (pattern, view.picks.clone(), view.own_scales)
            });
            (
                view.chosen.clone(),
                compared,
                view.range,
                view.consolidation.clone(),
                view.refresh,
            )
        })
    });
    let chart = move || {
        // Read, not only tracked: a memo recomputes when it is read.
        let (_, _, _, _, _) = charted.get();
        let view = view.get_untracked();
        match view.chosen.clone() {
            Some(chosen) => view! { <chart::SeriesChart view chosen nav /> }.into_any(),
            None if view.compare => view! { <compare::CompareChart view nav /> }.into_any(),
            None => view! {
                <p class="muted metrics-hint">
                    "Pick a series on the left to chart it. Search by any part of its name ("
                    <code>"checkout"</code>"), or with Graphite's globs ("
                    <code>"stats.timers.api.*"</code>", "<code>"servers.{web1,web2}.load"</code>")."
                </p>
            }
            .into_any(),
        }
    };
    view! {
        <div class="metrics-page">
            <h1>"Metrics"</h1>
            <div class="metrics-body">
                <series_list::SeriesList nav />
                <div class="metrics-main">{chart}</div>
            </div>
        </div>
    }
}

/// Reads and changes the page's view.
pub type MetricsNav = UrlNav<MetricsView>;
