use leptos::prelude::*;

use crate::components::upcoming::Upcoming;

/// `/ui/settings`: will show and change the server's settings; a placeholder until then.
#[component]
pub fn Settings() -> impl IntoView {
    view! {
        <Upcoming
            title="Settings"
            arrives="Viewing and changing settings from the browser arrives with the settings feature."
        />
    }
}
