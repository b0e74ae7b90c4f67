use leptos::prelude::*;

/// The body of a page whose feature has not been built yet: its title and
/// one sentence saying so, rather than made-up sample data.
#[component]
pub fn Upcoming(
    /// The page's name, shown as its heading.
    title: &'static str,
    /// What the page will show once its feature lands.
    arrives: &'static str,
) -> impl IntoView {
    view! {
        <h1>{title}</h1>
        <p class="upcoming">{arrives}</p>
    }
}
