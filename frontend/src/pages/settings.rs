//! `/ui/settings`: the signed-in user's account, API tokens, and (for
//! admins) users.
//!
//! Stable hooks for browser tests: `#change-password-form`,
//! `#token-form` (`#token-name`, `#token-scope`), `#new-token-secret`,
//! `#tokens-table` (rows `tr[data-token=name]`, `.revoke`),
//! `#users-table` (rows `tr[data-user=name]`), `#user-form`
//! (`#new-user-name`, `#new-user-password`, `#new-user-role`),
//! `.form-error`, `.form-done`.

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use partout_model::access::{NewUser, TokenInfo, UserInfo, UserUpdate};

use crate::api;
use crate::session::{use_session, SessionState};

#[component]
pub fn Settings() -> impl IntoView {
    let session = use_session();
    view! {
        <div class="settings-page">
            <h1>"Settings"</h1>
            <Account />
            <Tokens />
            {move || session.is_admin().then(|| view! { <Users /> })}
        </div>
    }
}

/// A form's outcome line: an error, or what was done.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Done(String),
    Failed(String),
}

fn outcome_view(outcome: RwSignal<Option<Outcome>>) -> impl IntoView {
    move || {
        outcome.get().map(|outcome| match outcome {
            Outcome::Done(text) => {
                view! { <p class="form-done" role="status">{text}</p> }.into_any()
            }
            Outcome::Failed(text) => {
                view! { <p class="form-error" role="alert">{text}</p> }.into_any()
            }
        })
    }
}

fn value(input: NodeRef<html::Input>) -> String {
    input.get().map(|input| input.value()).unwrap_or_default()
}

fn select_value(select: NodeRef<html::Select>) -> String {
    select
        .get()
        .map(|select| select.value())
        .unwrap_or_default()
}

/// Who is signed in, and a new password.
#[component]
fn Account() -> impl IntoView {
    let session = use_session();
    let current: NodeRef<html::Input> = NodeRef::new();
    let new: NodeRef<html::Input> = NodeRef::new();
    let outcome = RwSignal::new(None::<Outcome>);
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let (old_password, new_password) = (value(current), value(new));
        spawn_local(async move {
            outcome.set(Some(
                match api::change_password(&old_password, &new_password).await {
                    Ok(()) => Outcome::Done(
                        "Password changed. Your other sessions are signed out.".to_owned(),
                    ),
                    Err(error) => Outcome::Failed(error.to_string()),
                },
            ));
        });
    };
    let who = move || match session.state() {
        SessionState::SignedIn(info) => format!("Signed in as {} ({}).", info.username, info.role),
        _ => String::new(),
    };
    view! {
        <section class="card settings-section">
            <h2>"Your account"</h2>
            <p>{who}</p>
            <form id="change-password-form" class="inline-form" on:submit=on_submit>
                <input id="current-password" type="password" node_ref=current placeholder="Current password" autocomplete="current-password" required=true />
                <input id="new-password" type="password" node_ref=new placeholder="New password (8 or more characters)" autocomplete="new-password" minlength="8" required=true />
                <button type="submit">"Change password"</button>
            </form>
            {outcome_view(outcome)}
        </section>
    }
}

/// API tokens: the caller's own (an admin's: everyone's).
#[component]
fn Tokens() -> impl IntoView {
    let session = use_session();
    let tokens = LocalResource::new(api::tokens);
    let name: NodeRef<html::Input> = NodeRef::new();
    let scope: NodeRef<html::Select> = NodeRef::new();
    let outcome = RwSignal::new(None::<Outcome>);
    let secret = RwSignal::new(None::<(String, String)>);
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let (token_name, token_scope) = (value(name), select_value(scope));
        spawn_local(async move {
            match api::create_token(&token_name, &token_scope).await {
                Ok(created) => {
                    outcome.set(None);
                    secret.set(Some((created.token.name, created.secret)));
                    tokens.refetch();
                }
                Err(error) => outcome.set(Some(Outcome::Failed(error.to_string()))),
            }
        });
    };
    let revoke = move |id: i64| {
        spawn_local(async move {
            match api::revoke_token(id).await {
                Ok(()) => tokens.refetch(),
                Err(error) => outcome.set(Some(Outcome::Failed(error.to_string()))),
            }
        });
    };
    // Nobody makes a token with more than they hold.
    let scopes = move || -> Vec<(&'static str, &'static str)> {
        let mut scopes = vec![("read", "read: query data (Grafana)")];
        if session.can_write() {
            scopes.push(("ingest", "ingest: send data (CI, log shippers)"));
            scopes.push(("write", "write: read and change"));
        }
        if session.is_admin() {
            scopes.push(("admin", "admin: everything"));
        }
        scopes
    };
    let table = move || match tokens.get() {
        None => view! { <p class="muted">"Loading tokens…"</p> }.into_any(),
        Some(Err(error)) => view! { <p class="form-error">{error.to_string()}</p> }.into_any(),
        Some(Ok(list)) if list.is_empty() => {
            view! { <p class="muted" id="tokens-empty">"No tokens yet."</p> }.into_any()
        }
        Some(Ok(list)) => view! { <TokenTable list revoke=Callback::new(revoke) /> }.into_any(),
    };
    view! {
        <section class="card settings-section">
            <h2>"API tokens"</h2>
            <p class="muted">
                "For scripts, CI and tools: send "
                <code>"Authorization: Bearer <token>"</code>
                ", or the token as the Basic-auth password (Grafana, log shippers)."
            </p>
            <form id="token-form" class="inline-form" on:submit=on_submit>
                <input id="token-name" node_ref=name placeholder="Name, e.g. grafana" required=true maxlength="100" />
                <select id="token-scope" node_ref=scope>
                    {move || scopes().into_iter().map(|(value, label)| view! { <option value=value>{label}</option> }).collect_view()}
                </select>
                <button type="submit" class="primary">"Create token"</button>
            </form>
            {outcome_view(outcome)}
            {move || secret.get().map(|(name, secret)| view! {
                <div class="new-secret" role="status">
                    <p>"Token " <strong>{name}</strong> " created. Copy it now: it is not shown again."</p>
                    <code id="new-token-secret">{secret}</code>
                </div>
            })}
            {table}
        </section>
    }
}

#[component]
fn TokenTable(list: Vec<TokenInfo>, revoke: Callback<i64>) -> impl IntoView {
    // Float milliseconds since the epoch fit an i64 for ages to come.
    let now = js_sys::Date::now() as i64;
    let rows = list
        .into_iter()
        .map(|token| {
            let id = token.id;
            let state = if token.revoked_at_ms.is_some() {
                "revoked"
            } else {
                "active"
            };
            let used = token.last_used_at_ms.map_or_else(
                || "never".to_owned(),
                |at| crate::format::ago(now - at),
            );
            view! {
                <tr data-token=token.name.clone() data-state=state>
                    <td>{token.name.clone()}</td>
                    <td>{token.scope.clone()}</td>
                    <td>{token.created_by.clone().unwrap_or_else(|| "bootstrap".to_owned())}</td>
                    <td>{crate::format::ago(now - token.created_at_ms)}</td>
                    <td>{used}</td>
                    <td>
                        {if token.revoked_at_ms.is_some() {
                            view! { <span class="muted">"revoked"</span> }.into_any()
                        } else {
                            view! { <button type="button" class="revoke" on:click=move |_| revoke.run(id)>"Revoke"</button> }.into_any()
                        }}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data-table" id="tokens-table">
            <thead>
                <tr><th>"Name"</th><th>"Scope"</th><th>"Made by"</th><th>"Created"</th><th>"Last used"</th><th></th></tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// Users (admins only): who may sign in, and with which role.
#[component]
fn Users() -> impl IntoView {
    let users = LocalResource::new(api::users);
    let name: NodeRef<html::Input> = NodeRef::new();
    let password: NodeRef<html::Input> = NodeRef::new();
    let role: NodeRef<html::Select> = NodeRef::new();
    let outcome = RwSignal::new(None::<Outcome>);
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let user = NewUser {
            username: value(name),
            password: value(password),
            role: select_value(role),
        };
        spawn_local(async move {
            match api::create_user(&user).await {
                Ok(made) => {
                    outcome.set(Some(Outcome::Done(format!(
                        "{} can sign in now, as {}.",
                        made.username, made.role
                    ))));
                    users.refetch();
                }
                Err(error) => outcome.set(Some(Outcome::Failed(error.to_string()))),
            }
        });
    };
    let change = Callback::new(move |(id, update): (i64, UserUpdate)| {
        spawn_local(async move {
            match api::update_user(id, &update).await {
                Ok(_) => {
                    outcome.set(None);
                    users.refetch();
                }
                Err(error) => outcome.set(Some(Outcome::Failed(error.to_string()))),
            }
        });
    });
    let table = move || match users.get() {
        None => view! { <p class="muted">"Loading users…"</p> }.into_any(),
        Some(Err(error)) => view! { <p class="form-error">{error.to_string()}</p> }.into_any(),
        Some(Ok(list)) => view! { <UserTable list change /> }.into_any(),
    };
    view! {
        <section class="card settings-section">
            <h2>"Users"</h2>
            <p class="muted">"Viewers read; editors also change issue statuses and post deploys; admins also manage users, tokens, projects and webhooks."</p>
            <form id="user-form" class="inline-form" on:submit=on_submit>
                <input id="new-user-name" node_ref=name placeholder="User name" required=true maxlength="100" />
                <input id="new-user-password" type="password" node_ref=password placeholder="Password (8 or more)" autocomplete="new-password" minlength="8" required=true />
                <select id="new-user-role" node_ref=role>
                    <option value="viewer">"viewer"</option>
                    <option value="editor">"editor"</option>
                    <option value="admin">"admin"</option>
                </select>
                <button type="submit" class="primary">"Add user"</button>
            </form>
            {outcome_view(outcome)}
            {table}
        </section>
    }
}

#[component]
fn UserTable(list: Vec<UserInfo>, change: Callback<(i64, UserUpdate)>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|user| {
            let id = user.id;
            let disabled = user.disabled;
            let current_role = user.role.clone();
            let on_role = move |event: leptos::ev::Event| {
                let role = event_target_value(&event);
                change.run((
                    id,
                    UserUpdate {
                        role: Some(role),
                        ..UserUpdate::default()
                    },
                ));
            };
            let toggle = move |_| {
                change.run((
                    id,
                    UserUpdate {
                        disabled: Some(!disabled),
                        ..UserUpdate::default()
                    },
                ));
            };
            let options = ["viewer", "editor", "admin"]
                .into_iter()
                .map(|role| {
                    view! { <option value=role selected=current_role == role>{role}</option> }
                })
                .collect_view();
            view! {
                <tr data-user=user.username.clone() data-disabled=disabled.to_string()>
                    <td>{user.username.clone()}</td>
                    <td><select class="user-role" on:change=on_role>{options}</select></td>
                    <td>{if disabled { "disabled" } else { "active" }}</td>
                    <td>
                        <button type="button" class="toggle-user" on:click=toggle>
                            {if disabled { "Enable" } else { "Disable" }}
                        </button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="data-table" id="users-table">
            <thead><tr><th>"User"</th><th>"Role"</th><th>"State"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}
