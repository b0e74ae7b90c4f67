//! A view that reads its data again on its own: a counter that goes up
//! every interval, for a page's fetches to depend on.

use std::time::Duration;

use leptos::prelude::*;

/// A signal that goes up by one every `every` (never when `None`) while
/// the tab is shown: a hidden tab asks the server for nothing, and the
/// first tick after it is shown again brings the view up to date. The
/// timer stops with the component that asked for it.
pub fn ticks(every: Option<Duration>) -> ReadSignal<u64> {
    let (tick, set_tick) = signal(0u64);
    let Some(every) = every else {
        return tick;
    };
    let timer = set_interval_with_handle(
        move || {
            if !document().hidden() {
                // `try_`: a tick that races the component's end is dropped.
                set_tick.try_update(|count| *count += 1);
            }
        },
        every,
    );
    match timer {
        Ok(timer) => on_cleanup(move || timer.clear()),
        // Without a timer the view is still right, only not refreshed.
        Err(_) => leptos::logging::warn!("no timer: the view will not refresh on its own"),
    }
    tick
}
