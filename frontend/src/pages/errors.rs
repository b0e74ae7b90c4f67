use leptos::prelude::*;

use crate::components::upcoming::Upcoming;

/// `/ui/errors`: will list error reports grouped into issues; a placeholder until then.
#[component]
pub fn Errors() -> impl IntoView {
    view! {
        <Upcoming
            title="Errors"
            arrives="Error reports from Sentry SDKs, grouped into issues, arrive with the error tracking feature."
        />
    }
}
