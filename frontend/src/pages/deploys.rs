use leptos::prelude::*;

use crate::components::upcoming::Upcoming;

/// `/ui/deploys`: will list the deploys this server has recorded; a placeholder until then.
#[component]
pub fn Deploys() -> impl IntoView {
    view! {
        <Upcoming
            title="Deploys"
            arrives="The list of deploys, to line them up with metrics and errors, arrives with the deploys feature."
        />
    }
}
