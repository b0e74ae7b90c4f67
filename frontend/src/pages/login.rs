//! The sign-in form, shown instead of any page while nobody is signed in.
//! The address stays as it was, so signing in lands on the page asked for.
//!
//! Stable hooks for browser tests: `#login-form`, `#login-username`,
//! `#login-password`, `#login-error`.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::session::use_session;

#[component]
pub fn Login() -> impl IntoView {
    let session = use_session();
    let username: NodeRef<html::Input> = NodeRef::new();
    let password: NodeRef<html::Input> = NodeRef::new();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let (Some(username), Some(password)) = (username.get(), password.get()) else {
            return;
        };
        let (name, secret) = (username.value(), password.value());
        busy.set(true);
        spawn_local(async move {
            match api::login(name.trim(), &secret).await {
                Ok(info) => session.signed_in(info),
                Err(failure) => {
                    error.set(Some(match failure {
                        ApiError::Status { status: 401, .. } => {
                            "Wrong user name or password.".to_owned()
                        }
                        ApiError::Status { status: 429, .. } => {
                            "Too many wrong passwords: wait a little, then try again.".to_owned()
                        }
                        other => other.to_string(),
                    }));
                    busy.set(false);
                }
            }
        });
    };
    view! {
        <div class="login-page">
            <form class="card login-card" id="login-form" on:submit=on_submit>
                <h1>"Partout"</h1>
                <p class="muted">"Sign in to see metrics, logs, errors and deploys."</p>
                <label for="login-username">"User name"</label>
                <input id="login-username" node_ref=username autocomplete="username" required=true autofocus=true />
                <label for="login-password">"Password"</label>
                <input
                    id="login-password"
                    type="password"
                    node_ref=password
                    autocomplete="current-password"
                    required=true
                />
                {move || error.get().map(|text| view! { <p class="form-error" id="login-error" role="alert">{text}</p> })}
                <button type="submit" class="primary" disabled=move || busy.get()>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
                <p class="muted small">
                    "The first user is " <code>"admin"</code>
                    ": its password is PARTOUT_ADMIN_PASSWORD, or the one partout printed to its log at first start."
                </p>
            </form>
        </div>
    }
}
