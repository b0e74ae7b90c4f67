//! One event in full: when and where, its message and exceptions, then
//! its tags, breadcrumbs, request, user and contexts.

use std::collections::BTreeMap;

use leptos::prelude::*;
use partout_model::errors::{ErrorEvent, EventBreadcrumb, EventRequest, EventUser};

use super::stack::{Exceptions, StackTrace};
use super::when;

/// The event.
#[component]
pub fn EventView(event: ErrorEvent) -> impl IntoView {
    let facts = [
        ("Release", event.release.clone()),
        ("Environment", event.environment.clone()),
        ("Server", event.server_name.clone()),
        ("Transaction", event.transaction.clone()),
        ("Logger", event.logger.clone()),
        ("Platform", Some(event.platform.clone())),
        (
            "SDK",
            event.sdk.as_ref().map(|sdk| {
                format!(
                    "{} {}",
                    sdk.name.clone().unwrap_or_default(),
                    sdk.version.clone().unwrap_or_default()
                )
                .trim()
                .to_owned()
            }),
        ),
    ]
    .into_iter()
    .filter_map(|(label, value)| value.filter(|v| !v.is_empty()).map(|v| (label, v)))
    .map(|(label, value)| view! { <dt>{label}</dt><dd data-fact=label.to_lowercase()>{value}</dd> })
    .collect_view();
    let tags = (!event.tags.is_empty()).then(|| {
        let chips = event
            .tags
            .iter()
            .map(|tag| view! { <li><span class="muted">{tag.key.clone()}</span>" "{tag.value.clone()}</li> })
            .collect_view();
        view! { <ul class="event-tags">{chips}</ul> }
    });
    view! {
        <div class="event" data-event-id=event.event_id.clone()>
            <dl class="facts event-facts">
                <dt>"Time"</dt>
                <dd>{when::exact(event.timestamp_ms)}</dd>
                <dt>"Event id"</dt>
                <dd><code>{event.event_id.clone()}</code></dd>
                {facts}
            </dl>
            {tags}
            {event.message.clone().map(|message| view! { <pre class="event-message">{message}</pre> })}
            <Exceptions exceptions=event.exceptions.clone() />
            {event.stacktrace.clone().map(|trace| view! {
                <section class="exception card"><h3 class="exception-title">"Stack trace"</h3><StackTrace trace /></section>
            })}
            <Breadcrumbs crumbs=event.breadcrumbs.clone() />
            {event.request.clone().map(|request| view! { <Request request /> })}
            {event.user.clone().map(|user| view! { <User user /> })}
            <Contexts contexts=event.contexts.clone() extra=event.extra.clone() />
        </div>
    }
}

/// What happened before the event, oldest first.
#[component]
fn Breadcrumbs(crumbs: Vec<EventBreadcrumb>) -> impl IntoView {
    if crumbs.is_empty() {
        return ().into_any();
    }
    let rows = crumbs
        .into_iter()
        .map(|crumb| {
            let data = crumb
                .data
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join(" ");
            let what = [crumb.kind.clone(), crumb.category.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" / ");
            view! {
                <tr>
                    <td class="crumb-time">{crumb.timestamp_ms.map(when::exact).unwrap_or_default()}</td>
                    <td>{what}</td>
                    <td>{crumb.level.unwrap_or_default()}</td>
                    <td class="crumb-message">{crumb.message.unwrap_or_default()}" "<span class="muted">{data}</span></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="event-section" data-testid="breadcrumbs">
            <h3>"Breadcrumbs"</h3>
            <table class="breadcrumbs">
                <thead><tr><th>"Time"</th><th>"Type"</th><th>"Level"</th><th>"Message"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
    .into_any()
}

/// The HTTP request being served.
#[component]
fn Request(request: EventRequest) -> impl IntoView {
    let line = [request.method.clone(), request.url.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let headers = request
        .headers
        .into_iter()
        .map(|header| view! { <dt>{header.key}</dt><dd>{header.value}</dd> })
        .collect_view();
    view! {
        <section class="event-section">
            <h3>"Request"</h3>
            <p><code>{line}</code></p>
            <dl class="facts">{headers}</dl>
        </section>
    }
}

/// The user it happened to.
#[component]
fn User(user: EventUser) -> impl IntoView {
    let facts = [
        ("Id", user.id),
        ("Email", user.email),
        ("User name", user.username),
        ("IP address", user.ip_address),
    ]
    .into_iter()
    .filter_map(|(label, value)| value.map(|value| view! { <dt>{label}</dt><dd>{value}</dd> }))
    .collect_view();
    view! {
        <section class="event-section">
            <h3>"User"</h3>
            <dl class="facts">{facts}</dl>
        </section>
    }
}

/// Runtime, OS, trace and the other contexts, then `extra`.
#[component]
fn Contexts(
    contexts: BTreeMap<String, BTreeMap<String, String>>,
    extra: BTreeMap<String, String>,
) -> impl IntoView {
    if contexts.is_empty() && extra.is_empty() {
        return ().into_any();
    }
    let mut groups: Vec<(String, BTreeMap<String, String>)> = contexts.into_iter().collect();
    if !extra.is_empty() {
        groups.push(("extra".to_owned(), extra));
    }
    let groups = groups
        .into_iter()
        .map(|(name, values)| {
            let facts = values
                .into_iter()
                .map(|(key, value)| view! { <dt>{key}</dt><dd>{value}</dd> })
                .collect_view();
            view! {
                <div class="context">
                    <h4>{name}</h4>
                    <dl class="facts">{facts}</dl>
                </div>
            }
        })
        .collect_view();
    view! {
        <section class="event-section">
            <h3>"Contexts"</h3>
            <div class="contexts">{groups}</div>
        </section>
    }
    .into_any()
}
