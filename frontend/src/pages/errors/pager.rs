//! The issue's stored events, newest first, shown one at a time: "Older"
//! walks back through them, fetching the next page with the cursor when
//! the ones loaded run out.

use leptos::prelude::*;
use leptos::task::spawn_local;
use partout_model::errors::ErrorEvent;

use super::event::EventView;
use super::Problem;
use crate::api;
use crate::format;

/// Events per request.
const PAGE_SIZE: u64 = 20;

/// The event being looked at, with buttons to the older and newer ones.
#[component]
pub fn EventPager(
    issue_id: i64,
    /// The newest event, shown until the first page arrives.
    latest: Option<ErrorEvent>,
    /// Every event the issue received, stored or not.
    count: u64,
) -> impl IntoView {
    let events = RwSignal::new(latest.into_iter().collect::<Vec<_>>());
    let next_cursor = RwSignal::new(None::<i64>);
    let index = RwSignal::new(0usize);
    let loading = RwSignal::new(true);
    let problem = RwSignal::new(None::<String>);

    let load = move |cursor: Option<i64>, then_advance: bool| {
        loading.set(true);
        spawn_local(async move {
            match api::issue_events(issue_id, PAGE_SIZE, cursor).await {
                Ok(page) => {
                    if cursor.is_none() {
                        events.try_set(page.events);
                    } else {
                        events.try_update(|events| events.extend(page.events));
                    }
                    next_cursor.try_set(page.next_cursor);
                    if then_advance {
                        index.try_update(|index| *index += 1);
                    }
                    problem.try_set(None);
                }
                Err(error) => {
                    problem.try_set(Some(error.to_string()));
                }
            }
            loading.try_set(false);
        });
    };
    load(None, false);

    let loaded = move || events.with(Vec::len);
    let has_older = move || index.get() + 1 < loaded() || next_cursor.get().is_some();
    let older = move |_| {
        if index.get_untracked() + 1 < loaded() {
            index.update(|index| *index += 1);
        } else if let Some(cursor) = next_cursor.get_untracked() {
            load(Some(cursor), true);
        }
    };
    let newer = move |_| index.update(|index| *index = index.saturating_sub(1));
    let position = move || {
        let stored = if next_cursor.get().is_some() {
            format!("{}+", loaded())
        } else {
            loaded().to_string()
        };
        format!(
            "Event {} of {stored} stored ({} received in all)",
            index.get() + 1,
            format::count(count)
        )
    };
    // A memo, so a page that brings the same event back does not redraw it.
    let shown = Memo::new(move |_| events.with(|events| events.get(index.get()).cloned()));

    view! {
        <section class="event-pager" aria-label="Events">
            <div class="pager-head">
                <h2>{move || if index.get() == 0 { "Latest event" } else { "Older event" }}</h2>
                <span class="muted" id="event-position">{position}</span>
                <div class="control-group">
                    <button type="button" id="newer-event" disabled=move || index.get() == 0 on:click=newer>
                        "← Newer"
                    </button>
                    <button type="button" id="older-event" disabled=move || !has_older() || loading.get() on:click=older>
                        "Older →"
                    </button>
                </div>
            </div>
            {move || problem.get().map(|message| view! { <Problem title="Could not load events" message /> })}
            {move || match shown.get() {
                Some(event) => view! { <EventView event /> }.into_any(),
                None if loading.get() => view! { <p class="muted">"Loading events…"</p> }.into_any(),
                None => view! { <p class="muted">"No event of this issue is stored any more."</p> }.into_any(),
            }}
        </section>
    }
}
