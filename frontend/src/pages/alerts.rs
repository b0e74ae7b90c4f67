use leptos::prelude::*;

use crate::components::upcoming::Upcoming;

/// `/ui/alerts`: will show alert rules and their state; a placeholder until then.
#[component]
pub fn Alerts() -> impl IntoView {
    view! {
        <Upcoming
            title="Alerts"
            arrives="Alert rules and their current state arrive with the alerting feature."
        />
    }
}
