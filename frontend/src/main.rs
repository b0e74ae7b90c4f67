//! Entry point of the Partout web app (wasm32 only).
//!
//! # Layout
//! - `app`: the router and the navigation shell around every page.
//! - `api`: the only module that speaks HTTP to the server.
//! - `pages`: one module per route.
//! - `components`: presentational pieces that pages share; they never fetch.
//! - `format`: pure helpers that turn numbers into text for people.
//! - `query_string`: pure percent-encoding for API calls and the app's links.
//! - `session`: who is signed in; the sign-in page shows until someone is.

mod api;
mod app;
mod clock;
mod components;
mod format;
mod pages;
mod query_string;
mod session;
mod time_axis;
mod url_nav;

fn main() {
    // Without the hook a Rust panic reaches the console as an opaque
    // `unreachable` trap; with it the message and location are logged.
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
