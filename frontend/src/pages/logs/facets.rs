//! The sidebar of top values: which levels, services and hosts the
//! matching lines come from, each a filter to click (and click again to
//! take off).

use leptos::prelude::*;
use partout_model::api::LogTopValues;

use super::query_edit::{field_clause, has_clause, missing_clause};
use super::LogsNav;
use crate::api::{self, LogScope};
use crate::format;

/// The fields with a facet, in the order shown, with their headings. The
/// server counts every matching line for these three (no sampling).
const FACETS: [(&str, &str); 3] = [("level", "Level"), ("service", "Service"), ("host", "Host")];
/// Values listed per facet.
const FACET_VALUES: usize = 8;

/// All facets.
#[component]
pub fn Facets(scope: Memo<LogScope>, nav: LogsNav) -> impl IntoView {
    view! {
        <aside class="facets" aria-label="Top values">
            {FACETS
                .iter()
                .map(|&(field, title)| view! { <Facet field title scope nav /> })
                .collect_view()}
        </aside>
    }
}

/// One field's top values.
#[component]
fn Facet(
    field: &'static str,
    title: &'static str,
    scope: Memo<LogScope>,
    nav: LogsNav,
) -> impl IntoView {
    let top = LocalResource::new(move || {
        let scope = scope.get();
        async move { api::log_top(&scope, field, FACET_VALUES).await }
    });
    view! {
        <section class="facet" data-testid=format!("facet-{field}")>
            <h3>{title}</h3>
            {move || match top.get() {
                None => view! { <p class="muted">"…"</p> }.into_any(),
                Some(Ok(top)) => view! { <FacetValues top field nav /> }.into_any(),
                // Quietly: the results list says what went wrong.
                Some(Err(error)) => {
                    view! { <p class="muted" title=error.to_string()>"Not available"</p> }.into_any()
                }
            }}
        </section>
    }
}

/// The values as buttons, each with its count and a bar of its share.
#[component]
fn FacetValues(top: LogTopValues, field: &'static str, nav: LogsNav) -> impl IntoView {
    if top.values.is_empty() {
        return view! { <p class="muted">"No values"</p> }.into_any();
    }
    let counted = top.counted.max(1);
    let items = top
        .values
        .into_iter()
        .filter_map(|value| {
            // Lines without a level are counted under `none`, which the
            // query says as "has no level".
            let clause = if field == "level" && value.value == "none" {
                missing_clause(field)
            } else {
                field_clause(field, &value.value)
            }?;
            let share = value.count as f64 / counted as f64 * 100.0;
            let active_clause = clause.clone();
            let active = move || {
                nav.view()
                    .with(|view| has_clause(&view.query, &active_clause))
            };
            let level_class = (field == "level").then(|| format!("swatch lvl-{}", value.value));
            let name = value.value.clone();
            Some(view! {
                <li>
                    <button
                        type="button"
                        class="facet-value"
                        class:active=active.clone()
                        aria-pressed=move || active().to_string()
                        data-value=value.value
                        title=format!("Filter by {clause} (click again to remove)")
                        style=format!("--share: {share:.1}%")
                        on:click=move |_| nav.toggle_clause(&clause)
                    >
                        {level_class.map(|class| view! { <span class=class></span> })}
                        <span class="facet-name">{name}</span>
                        <span class="facet-count">{format::count(value.count)}</span>
                    </button>
                </li>
            })
        })
        .collect_view();
    view! { <ul class="facet-values">{items}</ul> }.into_any()
}
