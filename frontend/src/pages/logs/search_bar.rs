//! The controls above the chart: the query box, the range presets and the
//! custom range, refresh, and the live-tail switch.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;

use super::time_range::{TimeRange, PRESETS};
use super::LogsNav;
use crate::clock;

/// Example shown in the empty query box: the most common question.
const QUERY_PLACEHOLDER: &str = "service:api level:error timeout";

/// The query box and the range picker.
#[component]
pub fn SearchBar(
    /// The page's view.
    nav: LogsNav,
    /// Whether the live tail is shown instead of the search results.
    live: RwSignal<bool>,
    /// Runs the same search again, a relative range ending at a new now.
    on_refresh: Callback<()>,
) -> impl IntoView {
    let input: NodeRef<html::Input> = NodeRef::new();
    // Only a new query rewrites the box: picking a range must not wipe
    // what is being typed.
    let query = Memo::new(move |_| nav.view().with(|view| view.query.clone()));
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let Some(input) = input.get() else {
            return;
        };
        let query = input.value().trim().to_owned();
        // Searching again for the same thing still means "look again".
        if query == nav.view().get_untracked().query {
            on_refresh.run(());
        } else {
            nav.set_query(query);
        }
    };

    view! {
        <div class="log-controls">
            <form class="log-search" role="search" on:submit=on_submit>
                <input
                    id="log-query"
                    type="search"
                    node_ref=input
                    prop:value=query
                    placeholder=QUERY_PLACEHOLDER
                    aria-label="Query"
                    spellcheck="false"
                    autocomplete="off"
                />
                <button type="submit" class="primary">"Search"</button>
            </form>
            <RangePicker nav />
            <div class="control-group">
                <button type="button" on:click=move |_| on_refresh.run(()) title="Search again up to now">
                    "Refresh"
                </button>
                <button
                    type="button"
                    id="live-toggle"
                    class="live-toggle"
                    aria-pressed=move || live.get().to_string()
                    title="Show new matching lines as they arrive"
                    on:click=move |_| {
                        let was_live = live.get_untracked();
                        live.set(!was_live);
                        // Back from the tail, the results should hold what
                        // arrived meanwhile: search again up to now.
                        if was_live {
                            on_refresh.run(());
                        }
                    }
                >
                    <span class="live-dot" aria-hidden="true"></span>
                    {move || if live.get() { "Live: on" } else { "Live" }}
                </button>
            </div>
        </div>
        <p class="query-help muted">
            "Words match anywhere; "
            <code>"field:value"</code>
            " filters a field; "
            <code>"level:>=warn"</code>
            ", "
            <code>"NOT"</code>
            ", "
            <code>"OR"</code>
            " and "
            <code>"\"quoted phrases\""</code>
            " work too. Click a bar to zoom in, a value to filter by it."
        </p>
    }
}

/// Presets, and a custom range in the browser's time zone.
#[component]
fn RangePicker(nav: LogsNav) -> impl IntoView {
    let custom_open = RwSignal::new(false);
    let is_custom = move || nav.view().with(|view| view.range.as_preset().is_none());
    let presets = PRESETS
        .iter()
        .map(|preset| {
            let pressed = move || {
                nav.view()
                    .with(|view| view.range.as_preset() == Some(preset))
                    .to_string()
            };
            view! {
                <button
                    type="button"
                    class="seg"
                    aria-pressed=pressed
                    title=format!("Show {}", preset.title)
                    data-range=preset.label
                    on:click=move |_| {
                        custom_open.set(false);
                        nav.set_range(TimeRange::preset(preset));
                    }
                >
                    {preset.label}
                </button>
            }
        })
        .collect_view();

    view! {
        <div class="control-group segmented" role="group" aria-label="Time range">
            {presets}
            <button
                type="button"
                class="seg"
                id="custom-range-toggle"
                aria-pressed=move || is_custom().to_string()
                aria-expanded=move || custom_open.get().to_string()
                on:click=move |_| custom_open.update(|open| *open = !*open)
            >
                "Custom"
            </button>
        </div>
        <Show when=move || custom_open.get()>
            <CustomRange nav on_done=Callback::new(move |()| custom_open.set(false)) />
        </Show>
    }
}

/// Two date-time inputs, filled with the range shown now.
#[component]
fn CustomRange(nav: LogsNav, on_done: Callback<()>) -> impl IntoView {
    let from_input: NodeRef<html::Input> = NodeRef::new();
    let until_input: NodeRef<html::Input> = NodeRef::new();
    let problem = RwSignal::new(None::<&'static str>);
    // The range on screen, as instants: resolved now, the way a search
    // would resolve it.
    let (from_ms, until_ms) = nav.view().with_untracked(|view| {
        let resolved = view.range.resolve(clock::now_ms());
        (clock::parse(&resolved.from), clock::parse(&resolved.until))
    });
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let read = |input: NodeRef<html::Input>| {
            input
                .get()
                .and_then(|input| clock::parse_input(&input.value()))
        };
        match (read(from_input), read(until_input)) {
            (Some(from), Some(until)) if until > from => {
                problem.set(None);
                nav.set_range(TimeRange::between(from, until));
                on_done.run(());
            }
            (Some(_), Some(_)) => problem.set(Some("The end must be after the start.")),
            _ => problem.set(Some("Give both a start and an end.")),
        }
    };

    view! {
        <form class="custom-range" on:submit=on_submit>
            <label>
                "From "
                <input
                    type="datetime-local"
                    id="range-from"
                    node_ref=from_input
                    value=from_ms.map(clock::input_value)
                />
            </label>
            <label>
                "to "
                <input
                    type="datetime-local"
                    id="range-until"
                    node_ref=until_input
                    value=until_ms.map(clock::input_value)
                />
            </label>
            <span class="muted">{format!("({})", clock::zone_label())}</span>
            <button type="submit" class="primary">"Apply"</button>
            {move || problem.get().map(|text| view! { <span class="field-problem" role="alert">{text}</span> })}
        </form>
    }
}
