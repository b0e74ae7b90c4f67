use leptos::prelude::*;

use crate::components::upcoming::Upcoming;

/// `/ui/metrics`: will chart the metrics this server has received; a placeholder until then.
#[component]
pub fn Metrics() -> impl IntoView {
    view! {
        <Upcoming
            title="Metrics"
            arrives="Charts of the StatsD and Carbon metrics sent to this server arrive with the metrics feature."
        />
    }
}
