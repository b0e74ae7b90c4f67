//! `/ui/deploys`: what was released, where and when, newest first, with
//! each deploy's log lines around it one click away: the first place to
//! look when asking "what changed?".
//!
//! The filters live in the URL (`/ui/deploys?service=api&environment=prod`).

use leptos::ev::SubmitEvent;
use leptos::html;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use partout_model::api::Deploy;

use crate::api;
use crate::clock;
use crate::format;
use crate::query_string;

/// The page's client route.
const PATH: &str = "/ui/deploys";
/// How far around a deploy its log link looks, each side.
const AROUND_MS: i64 = 30 * 60_000;

/// The page. Stable hooks for browser tests: `#deploy-service`,
/// `#deploy-environment`, `#deploy-list` (rows `tr.deploy` with
/// `data-service`; each has `a.deploy-logs`) and `#deploys-none`.
#[component]
pub fn Deploys() -> impl IntoView {
    let params = use_query_map();
    let filter = Memo::new(move |_| {
        params.with(|params| {
            (
                params.get("service").unwrap_or_default(),
                params.get("environment").unwrap_or_default(),
            )
        })
    });
    let list = LocalResource::new(move || {
        let (service, environment) = filter.get();
        async move { api::deploys(&service, &environment).await }
    });
    let service_input: NodeRef<html::Input> = NodeRef::new();
    let environment_input: NodeRef<html::Input> = NodeRef::new();
    let navigate = use_navigate();
    let on_submit = move |event: SubmitEvent| {
        event.prevent_default();
        let read = |input: NodeRef<html::Input>| {
            input
                .get()
                .map(|input| input.value().trim().to_owned())
                .unwrap_or_default()
        };
        let (service, environment) = (read(service_input), read(environment_input));
        navigate(
            &query_string::with_query(
                PATH,
                &[("service", &service), ("environment", &environment)],
            ),
            Default::default(),
        );
    };
    let table = move || match list.get() {
        None => view! { <p class="muted">"Loading deploys…"</p> }.into_any(),
        Some(Err(error)) => {
            view! { <p class="card error" role="alert">{error.to_string()}</p> }.into_any()
        }
        Some(Ok(deploys)) if deploys.is_empty() => view! {
            <p class="muted" id="deploys-none">
                "No deploys recorded. CI records one with "
                <code>"POST /api/v1/deploys"</code>
                " (service, version, environment; see the API docs)."
            </p>
        }
        .into_any(),
        Some(Ok(deploys)) => {
            let now = clock::now_ms();
            let rows = deploys
                .into_iter()
                .map(|deploy| deploy_row(deploy, now))
                .collect_view();
            view! {
                <table id="deploy-list">
                    <thead>
                        <tr>
                            <th>"When"</th>
                            <th>"Service"</th>
                            <th>"Version"</th>
                            <th>"Environment"</th>
                            <th>"By"</th>
                            <th>"Commit"</th>
                            <th>"Description"</th>
                            <th></th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            }
            .into_any()
        }
    };
    view! {
        <h1>"Deploys"</h1>
        <form class="deploy-filter" on:submit=on_submit>
            <FilterBox
                name="service"
                label="Service"
                node_ref=service_input
                value=Signal::derive(move || filter.get().0)
            />
            <FilterBox
                name="environment"
                label="Environment"
                node_ref=environment_input
                value=Signal::derive(move || filter.get().1)
            />
            <button type="submit">"Filter"</button>
        </form>
        <section class="card">{table}</section>
    }
}

/// One deploy; its commit links to `url` when the deploy gave one.
fn deploy_row(deploy: Deploy, now_ms: i64) -> impl IntoView {
    let when = clock::line_time(deploy.deployed_at_ms, true);
    let ago = format::ago(now_ms - deploy.deployed_at_ms);
    let commit_text = deploy
        .commit
        .as_deref()
        .map(|commit| commit.chars().take(10).collect::<String>())
        .unwrap_or_default();
    let commit = match deploy.url.clone() {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            let text = if commit_text.is_empty() {
                "link".to_owned()
            } else {
                commit_text
            };
            view! { <a href=url rel="noopener noreferrer" target="_blank">{text}</a> }.into_any()
        }
        _ => view! { <code>{commit_text}</code> }.into_any(),
    };
    let logs = crate::pages::logs::link(
        &format!("service:{}", deploy.service),
        deploy.deployed_at_ms - AROUND_MS,
        deploy.deployed_at_ms + AROUND_MS,
    );
    view! {
        <tr class="deploy" data-service=deploy.service.clone()>
            <td title=when>{ago}</td>
            <td>{deploy.service.clone()}</td>
            <td><strong>{deploy.version.clone()}</strong></td>
            <td>{deploy.environment.clone()}</td>
            <td>{deploy.deployed_by.clone().unwrap_or_default()}</td>
            <td>{commit}</td>
            <td>{deploy.description.clone().unwrap_or_default()}</td>
            <td>
                <a class="deploy-logs" href=logs title="The service's log lines 30 minutes either side">
                    "Logs around it"
                </a>
            </td>
        </tr>
    }
}

/// One box of the filter form (`#deploy-<name>`), showing the URL's value.
#[component]
fn FilterBox(
    name: &'static str,
    label: &'static str,
    node_ref: NodeRef<html::Input>,
    value: Signal<String>,
) -> impl IntoView {
    view! {
        <input
            id=format!("deploy-{name}")
            type="search"
            node_ref=node_ref
            prop:value=move || value.get()
            placeholder=name
            aria-label=label
        />
    }
}
