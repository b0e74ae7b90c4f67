//! A view that reads its data again on its own: the intervals offered,
//! the select that picks one, and a counter that goes up every interval,
//! for a page's fetches to depend on.

use std::time::Duration;

use leptos::prelude::*;

/// How often a view reads its data again, as a wall screen or a watched
/// deploy needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refresh {
    /// What the control says, and the URL's `refresh`.
    pub every: &'static str,
    pub seconds: u32,
}

impl Refresh {
    /// The offered interval a URL's `refresh` names; `None` (off) for
    /// anything else.
    pub fn named(every: &str) -> Option<Refresh> {
        REFRESHES
            .iter()
            .copied()
            .find(|refresh| refresh.every == every.trim())
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(self.seconds.into())
    }
}

/// What a URL's `refresh` and the select say for no refreshing.
pub const OFF: &str = "off";

/// The intervals offered, shortest first; no `refresh` in a URL is off
/// (on the pages that say so: the overview refreshes by default).
pub static REFRESHES: [Refresh; 5] = [
    Refresh {
        every: "5s",
        seconds: 5,
    },
    Refresh {
        every: "10s",
        seconds: 10,
    },
    Refresh {
        every: "30s",
        seconds: 30,
    },
    Refresh {
        every: "1m",
        seconds: 60,
    },
    Refresh {
        every: "5m",
        seconds: 300,
    },
];

/// A "Refresh" select offering off and every interval, `current` chosen;
/// `on_change` hears the one picked (`None` for off).
#[component]
pub fn RefreshSelect(
    /// The select's element id, a hook for browser tests.
    id: &'static str,
    #[prop(into)] current: Signal<Option<Refresh>>,
    on_change: impl Fn(Option<Refresh>) + 'static,
) -> impl IntoView {
    let options = std::iter::once(OFF)
        .chain(REFRESHES.iter().map(|refresh| refresh.every))
        .map(|every| {
            let chosen = move || current.with(|current| current.map_or(OFF, |r| r.every) == every);
            view! { <option value=every prop:selected=chosen>{every}</option> }
        })
        .collect_view();
    view! {
        <label class="select">
            <span class="muted">"Refresh"</span>
            <select id=id on:change=move |event| on_change(Refresh::named(&event_target_value(&event)))>
                {options}
            </select>
        </label>
    }
}

/// A signal that goes up by one every `every` (never while it is `None`)
/// while the tab is shown: a hidden tab asks the server for nothing, and
/// the first tick after it is shown again brings the view up to date. A
/// new interval replaces the old one's timer; the timer stops with the
/// component that asked for it.
pub fn ticks(every: Signal<Option<Duration>>) -> ReadSignal<u64> {
    let (tick, set_tick) = signal(0u64);
    let timer: StoredValue<Option<IntervalHandle>> = StoredValue::new(None);
    // The timer restarts when the interval changes, not whenever what it
    // is derived from does (a list's other filters).
    let every = Memo::new(move |_| every.get());
    Effect::new(move |_| {
        if let Some(old) = timer.get_value() {
            old.clear();
        }
        let started = every.get().and_then(|every| {
            let tick = move || {
                if !document().hidden() {
                    // `try_`: a tick that races the component's end is
                    // dropped.
                    set_tick.try_update(|count| *count += 1);
                }
            };
            // Without a timer the view is still right, only not refreshed.
            set_interval_with_handle(tick, every)
                .map_err(|_| leptos::logging::warn!("no timer: the view will not refresh"))
                .ok()
        });
        timer.set_value(started);
    });
    on_cleanup(move || {
        if let Some(Some(timer)) = timer.try_get_value() {
            timer.clear();
        }
    });
    tick
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_offered_intervals_are_named() {
        assert_eq!(
            Refresh::named("30s").map(Refresh::duration),
            Some(Duration::from_secs(30))
        );
        assert_eq!(Refresh::named(" 5m ").map(|r| r.seconds), Some(300));
        assert_eq!(Refresh::named("7s"), None);
        assert_eq!(Refresh::named("off"), None);
        assert_eq!(Refresh::named(""), None);
    }
}
