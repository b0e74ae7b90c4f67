use leptos::prelude::*;
use leptos_router::components::A;

/// Any path the router does not know, such as a mistyped `/ui/...` link.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <h1>"Page not found"</h1>
        <p>"There is no page at this address. " <A href="/">"Back to the overview"</A>"."</p>
    }
}
