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

use leptos::task::spawn_local;

use crate::api;
use crate::pages;
use crate::session::{use_session, Session, SessionState};

/// The whole app: the sign-in page until someone is signed in, then a
/// header, the navigation and the current page.
#[component]
pub fn App() -> impl IntoView {
    let session = Session::provide();
    view! {
        <Router>
            {move || match session.state() {
                SessionState::Checking => view! { <p class="muted loading-app">"Loading…"</p> }.into_any(),
                SessionState::SignedOut => view! { <pages::login::Login /> }.into_any(),
                SessionState::SignedIn(info) => view! { <Shell username=info.username role=info.role /> }.into_any(),
            }}
        </Router>
    }
}

/// The signed-in app.
#[component]
fn Shell(username: String, role: String) -> impl IntoView {
    let session = use_session();
    let sign_out = move |_| {
        spawn_local(async move {
            // Signed out here whatever the server says: at worst the
            // session outlives the page until it expires.
            let _ = api::logout().await;
            session.signed_out();
        });
    };
    view! {
            <div class="shell">
                <header class="sidebar">
                    <a class="brand" href="/">"Partout"</a>
                    <Nav />
                    <div class="who" id="signed-in-as">
                        <span class="who-name">{username}</span>
                        <span class="who-role muted">{role}</span>
                        <button type="button" id="sign-out" class="link" on:click=sign_out>"Sign out"</button>
                    </div>
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
