//! The name search and the series it finds, each a link that charts it
//! and a box that picks it to be charted with others.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use partout_model::api::MetricSeries;

use super::url_state::{Chosen, MAX_COMPARED};
use super::MetricsNav;
use crate::api;
use crate::url_nav::UrlView as _;

/// Series listed at most: more would only be scrolled past; a narrower
/// search finds the rest.
const MAX_LISTED: usize = 200;

/// The search box and its results.
#[component]
pub fn SeriesList(nav: MetricsNav) -> impl IntoView {
    let input: NodeRef<html::Input> = NodeRef::new();
    let pattern = Memo::new(move |_| nav.view().with(|view| view.pattern.clone()));
    let found = LocalResource::new(move || {
        let pattern = pattern.get();
        async move { api::metric_series(&pattern, MAX_LISTED).await }
    });
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        if let Some(input) = input.get() {
            let next = nav
                .view()
                .get_untracked()
                .with_pattern(input.value().trim().to_owned());
            nav.go(&next);
        }
    };
    let results = move || match found.get() {
        None => view! { <p class="muted">"Searching…"</p> }.into_any(),
        Some(Err(error)) => {
            view! { <p class="card error" role="alert">{error.to_string()}</p> }.into_any()
        }
        Some(Ok(series)) if series.is_empty() => {
            view! { <p class="muted" id="series-none">"No series match."</p> }.into_any()
        }
        Some(Ok(series)) => {
            let count = if series.len() >= MAX_LISTED {
                format!("The first {MAX_LISTED} series: narrow the search for more")
            } else {
                format!("{} series", series.len())
            };
            let compare = compare_links(series.len(), nav);
            let items = series
                .into_iter()
                .map(|series| view! { <SeriesLink series nav /> })
                .collect_view();
            view! {
                <p class="muted series-count">{count}" "{compare}</p>
                <ul id="series-list">{items}</ul>
            }
            .into_any()
        }
    };
    view! {
        <aside class="series-panel card">
            <form class="series-search" role="search" on:submit=on_submit>
                <input
                    id="metric-search"
                    type="search"
                    node_ref=input
                    prop:value=pattern
                    placeholder="checkout, or a glob: servers.*.load"
                    aria-label="Series name: a text or a glob"
                    spellcheck="false"
                    autocomplete="off"
                />
                <button type="submit">"Find"</button>
            </form>
            {results}
        </aside>
    }
}

/// The link that charts series together: the picked ones when there
/// are picks (with a link that clears them), else the first ones found.
fn compare_links(found: usize, nav: MetricsNav) -> impl IntoView {
    move || {
        let (picked, pressed, compare_href, clear_href) = nav.view().with(|view| {
            (
                view.picks.len(),
                view.compare.to_string(),
                view.with_compare().href(),
                view.without_picks().href(),
            )
        });
        if picked > 0 {
            let label = match picked {
                1 => "Chart the picked series".to_owned(),
                n => format!("Chart the {n} picked together"),
            };
            view! {
                <a class="range-button" id="compare-link" href=compare_href aria-pressed=pressed>{label}</a>
                " "
                <a class="range-button" id="clear-picks" href=clear_href>"Clear picks"</a>
            }
            .into_any()
        } else if found > 1 {
            let shown = found.min(MAX_COMPARED);
            view! {
                <a class="range-button" id="compare-link" href=compare_href aria-pressed=pressed>
                    {format!("Chart the first {shown} together")}
                </a>
            }
            .into_any()
        } else {
            ().into_any()
        }
    }
}

/// One series: a box that picks it, its name, kind and tags, a link to
/// its chart.
#[component]
fn SeriesLink(series: MetricSeries, nav: MetricsNav) -> impl IntoView {
    let chosen = Chosen {
        name: series.name.clone(),
        tags: series.tags.clone().into_iter().collect(),
    };
    let picked = {
        let chosen = chosen.clone();
        move || nav.view().with(|view| view.picks.contains(&chosen))
    };
    // Nothing more can be picked once as many as a chart holds are.
    let full = {
        let picked = picked.clone();
        move || !picked() && nav.view().with(|view| view.picks.len() >= MAX_COMPARED)
    };
    let toggle = {
        let chosen = chosen.clone();
        move |_| {
            let next = nav.view().get_untracked().with_pick_toggled(&chosen);
            nav.go(&next);
        }
    };
    let pick_label = format!("Pick {} to chart with others", chosen.key());
    let active = {
        let chosen = chosen.clone();
        move || {
            nav.view()
                .with(|view| view.chosen.as_ref() == Some(&chosen))
        }
    };
    let href = move || {
        nav.view()
            .with(|view| view.with_chosen(chosen.clone()).href())
    };
    let tags = series
        .tags
        .iter()
        .map(|(key, value)| view! { <span class="tag">{format!("{key}={value}")}</span> })
        .collect_view();
    view! {
        <li>
            <input
                type="checkbox"
                class="pick"
                data-name=series.name.clone()
                prop:checked=picked
                disabled=full
                aria-label=pick_label
                on:change=toggle
            />
            <a class="series" class:active=active href=href data-name=series.name.clone()>
                <span class="series-name">{series.name.clone()}</span>
                <span class=format!("kind kind-{}", series.kind)>{series.kind.clone()}</span>
                {tags}
            </a>
        </li>
    }
}
