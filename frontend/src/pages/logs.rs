use leptos::prelude::*;

use crate::components::upcoming::Upcoming;

/// `/ui/logs`: will search the logs this server has received; a placeholder until then.
#[component]
pub fn Logs() -> impl IntoView {
    view! {
        <Upcoming
            title="Logs"
            arrives="Searching the syslog and JSON logs sent to this server arrives with the logs feature."
        />
    }
}
