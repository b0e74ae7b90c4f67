//! The router and the navigation shell shared by every page.
//!
//! Invariant: every client route except the overview lives under `/ui/`. The
//! server owns `/metrics`, `/render` and `/api/...`, and answers any other
//! `/ui/...` path with `index.html` so a reload lands back in the app.

use leptos::prelude::*;
use leptos_router::{
    components::{Route, Router, Routes, A},
    path,
};

use crate::pages;

/// The whole app: a header, the navigation and the current page.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router>
            <div class="shell">
                <header class="sidebar">
                    <a class="brand" href="/">"Partout"</a>
                    <Nav />
                </header>
                <main class="content">
                    <Routes fallback=pages::not_found::NotFound>
                        <Route path=path!("/") view=pages::overview::Overview />
                        <Route path=path!("/ui/metrics") view=pages::metrics::Metrics />
                        <Route path=path!("/ui/logs") view=pages::logs::Logs />
                        <Route path=path!("/ui/errors") view=pages::errors::Errors />
                        <Route path=path!("/ui/errors/:id") view=pages::errors::IssuePage />
                        <Route path=path!("/ui/deploys") view=pages::deploys::Deploys />
                        <Route path=path!("/ui/alerts") view=pages::alerts::Alerts />
                        <Route path=path!("/ui/settings") view=pages::settings::Settings />
                    </Routes>
                </main>
            </div>
        </Router>
    }
}

/// Links to every page; `<A>` marks the current one with `aria-current`,
/// which the stylesheet highlights.
#[component]
fn Nav() -> impl IntoView {
    view! {
        <nav aria-label="main">
            <ul>
                // `exact`, or the overview at `/` would count as active on
                // every page.
                <li><A href="/" exact=true>"Overview"</A></li>
                <li><A href="/ui/metrics">"Metrics"</A></li>
                <li><A href="/ui/logs">"Logs"</A></li>
                <li><A href="/ui/errors">"Errors"</A></li>
                <li><A href="/ui/deploys">"Deploys"</A></li>
                <li><A href="/ui/alerts">"Alerts"</A></li>
                <li><A href="/ui/settings">"Settings"</A></li>
            </ul>
        </nav>
    }
}
