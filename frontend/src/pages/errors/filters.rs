//! The controls above the issue list: words to search for, environment
//! and release (applied with the button or Enter), status, sort and how
//! often the list reads itself again (applied when changed).

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use super::url_state::{ListView, SORTS, STATUSES};
use super::ListNav;
use crate::components::refresh::{Refresh, RefreshSelect};

/// The filter bar.
#[component]
pub fn Filters(nav: ListNav) -> impl IntoView {
    let view = nav.view();
    let text: NodeRef<html::Input> = NodeRef::new();
    let environment: NodeRef<html::Input> = NodeRef::new();
    let release: NodeRef<html::Input> = NodeRef::new();
    let value_of = |input: NodeRef<html::Input>| {
        input
            .get()
            .map(|input| input.value().trim().to_owned())
            .unwrap_or_default()
    };
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let next = ListView {
            text: value_of(text),
            environment: value_of(environment),
            release: value_of(release),
            ..view.get_untracked()
        };
        nav.go(&next);
    };
    let set_status = move |status: String| {
        nav.go(&ListView {
            status,
            ..view.get_untracked()
        });
    };
    let set_sort = move |sort: String| {
        nav.go(&ListView {
            sort,
            ..view.get_untracked()
        });
    };
    let set_refresh = move |refresh: Option<Refresh>| {
        nav.go(&ListView {
            refresh,
            ..view.get_untracked()
        });
    };
    let refresh = Signal::derive(move || view.with(|view| view.refresh));
    let status_options = options(&STATUSES, move |name| view.with(|view| view.status == name));
    let sort_options = options(&SORTS, move |name| view.with(|view| view.sort == name));

    view! {
        <form class="issue-filters" role="search" on:submit=on_submit>
            <input
                id="issue-query"
                class="grow"
                type="search"
                node_ref=text
                prop:value=move || view.with(|view| view.text.clone())
                placeholder="Search titles and culprits"
                aria-label="Words in the title or culprit"
                autocomplete="off"
            />
            <input
                id="issue-environment"
                type="text"
                node_ref=environment
                prop:value=move || view.with(|view| view.environment.clone())
                placeholder="Environment"
                aria-label="Environment"
                autocomplete="off"
            />
            <input
                id="issue-release"
                type="text"
                node_ref=release
                prop:value=move || view.with(|view| view.release.clone())
                placeholder="Release"
                aria-label="Release"
                autocomplete="off"
            />
            <button type="submit" class="primary">"Filter"</button>
            <label class="select">
                <span class="muted">"Status"</span>
                <select id="issue-status" on:change=move |event| set_status(event_target_value(&event))>
                    {status_options}
                </select>
            </label>
            <label class="select">
                <span class="muted">"Sort"</span>
                <select id="issue-sort" on:change=move |event| set_sort(event_target_value(&event))>
                    {sort_options}
                </select>
            </label>
            <RefreshSelect id="issue-refresh" current=refresh on_change=set_refresh />
        </form>
    }
}

/// The `<option>`s of a select, `(value, label)` each, the one
/// `selected` says marked as chosen.
fn options(
    choices: &[(&'static str, &'static str)],
    selected: impl Fn(&str) -> bool + Copy + Send + Sync + 'static,
) -> impl IntoView {
    choices
        .iter()
        .map(|&(value, label)| {
            view! {
                <option value=value prop:selected=move || selected(value)>{label}</option>
            }
        })
        .collect_view()
}
