//! `/ui/errors/{id}`: one issue: what it is, how often and since when,
//! its status, its tags, and its events in full.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use partout_model::errors::IssueDetail;

use super::hourly::{self, HourlyChart};
use super::pager::EventPager;
use super::tags::TagDistributions;
use super::url_state::PATH;
use super::{when, Ago, LevelBadge, Problem, StatusBadges};
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::format;
use crate::session::use_session;

/// Hours in the issue's chart: the last 14 days, the API's default.
const CHART_HOURS: usize = 14 * 24;

/// The page. Stable hooks for browser tests: `#issue-title`,
/// `#issue-facts` (`dd[data-fact=...]`), `[data-testid=issue-hourly]`,
/// `#issue-status`, `[data-testid=issue-tags]`, `[data-testid=stack-frames]`
/// (frames are `li.frame`, `.in-app` for the application's, function
/// names `.frame-function`), `#older-event`, `#newer-event`,
/// `#event-position`, `#issue-not-found`.
#[component]
pub fn IssuePage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| {
        params
            .with(|params| params.get("id"))
            .and_then(|id| id.parse::<i64>().ok())
    });
    let detail = LocalResource::new(move || {
        let id = id.get();
        async move {
            let first_hour = hourly::window_start(when::now_ms(), CHART_HOURS);
            match id {
                Some(id) => api::issue(id, first_hour)
                    .await
                    .map(|detail| Some((detail, first_hour))),
                None => Ok(None),
            }
        }
    });
    let detail_resource = detail;
    let body = move || match detail.get() {
        None => view! { <p class="muted">"Loading the issue…"</p> }.into_any(),
        Some(Ok(Some((detail, first_hour)))) => {
            let on_changed = Callback::new(move |()| detail_resource.refetch());
            view! { <IssueBody detail first_hour on_changed /> }.into_any()
        }
        Some(Ok(None)) | Some(Err(ApiError::Status { status: 404, .. })) => view! {
            <div class="card empty" id="issue-not-found">
                <p>"There is no such issue."</p>
                <p class="muted"><a href=PATH>"Back to the issues"</a></p>
            </div>
        }
        .into_any(),
        Some(Err(error)) => view! {
            <Problem title="Could not load the issue" message=error.to_string() id="issue-error" />
        }
        .into_any(),
    };
    view! {
        <div class="errors-page issue-page">
            <p class="back"><a href=PATH>"← All issues"</a></p>
            {body}
        </div>
    }
}

/// Everything about a loaded issue.
#[component]
fn IssueBody(detail: IssueDetail, first_hour: i64, on_changed: Callback<()>) -> impl IntoView {
    let IssueDetail {
        issue,
        grouping_components,
        latest_event,
        tags,
        hourly: hours,
    } = detail;
    let now = when::now_ms();
    let slots = hourly::slots(&hours, first_hour, CHART_HOURS);
    let release_or_none =
        |release: Option<String>| release.unwrap_or_else(|| "no release".to_owned());
    let regression = issue.regressed_at_ms.filter(|_| issue.regressed).map(|at| {
        view! {
            <dt>"Regressed"</dt>
            <dd data-fact="regressed">
                <Ago unix_ms=at now_ms=now />
                {issue.regressed_in_release.clone().map(|release| format!(" in {release}"))}
            </dd>
        }
    });
    let grouping = format!(
        "by {}: {}",
        issue.grouping_method,
        grouping_components.join(", ")
    );
    view! {
        <header class="issue-header">
            <div class="issue-line">
                <LevelBadge level=issue.level.clone() />
                <StatusBadges
                    status=issue.status.clone()
                    regressed=issue.regressed
                    regressed_in_release=issue.regressed_in_release.clone()
                />
            </div>
            <h1 id="issue-title">{issue.title.clone()}</h1>
            {issue.culprit.clone().map(|culprit| view! { <p class="issue-culprit">{culprit}</p> })}
        </header>
        <div class="issue-summary">
            <dl class="facts" id="issue-facts">
                <dt>"Events"</dt>
                <dd data-fact="count">{format::count(issue.count)}</dd>
                <dt>"Users"</dt>
                <dd data-fact="users">{format::count(issue.user_count)}</dd>
                <dt>"First seen"</dt>
                <dd data-fact="first-seen">
                    <Ago unix_ms=issue.first_seen_ms now_ms=now />
                    " in " <span class="release">{release_or_none(issue.first_release.clone())}</span>
                </dd>
                <dt>"Last seen"</dt>
                <dd data-fact="last-seen">
                    <Ago unix_ms=issue.last_seen_ms now_ms=now />
                    " in " <span class="release">{release_or_none(issue.last_release.clone())}</span>
                </dd>
                {regression}
                <dt>"Grouped"</dt>
                <dd data-fact="grouping" class="muted">{grouping}</dd>
            </dl>
            <StatusNote id=issue.id status=issue.status.clone() on_changed />
        </div>
        <div class="card chart-card">
            <HourlyChart slots first_hour_ms=first_hour />
        </div>
        <section class="issue-tags">
            <h2>"Tags"</h2>
            <TagDistributions tags />
        </section>
        <EventPager issue_id=issue.id latest=latest_event count=issue.count />
    }
}

/// The status, and buttons that change it for editors and admins.
/// Stable hooks: `#issue-status` (`data-status`), `button[data-set-status=...]`.
#[component]
fn StatusNote(id: i64, #[prop(into)] status: String, on_changed: Callback<()>) -> impl IntoView {
    let session = use_session();
    let failure = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let current = status.clone();
    let set = move |next: &'static str| {
        busy.set(true);
        spawn_local(async move {
            match api::set_issue_status(id, next).await {
                Ok(()) => {
                    failure.set(None);
                    on_changed.run(());
                }
                Err(error) => failure.set(Some(error.to_string())),
            }
            busy.set(false);
        });
    };
    let buttons = move || {
        if !session.can_write() {
            return view! { <p class="muted">"Viewers cannot change the status."</p> }.into_any();
        }
        CHOICES
            .iter()
            .filter(|(value, _)| *value != current)
            .map(|(value, label)| {
                let value: &'static str = value;
                view! {
                    <button type="button" data-set-status=value disabled=move || busy.get() on:click=move |_| set(value)>
                        {*label}
                    </button>
                }
            })
            .collect_view()
            .into_any()
    };
    view! {
        <div class="card status-note" id="issue-status" data-status=status.clone()>
            <p>
                "Status: " <strong>{super::status_label(&status).to_owned()}</strong>
            </p>
            <div class="status-buttons">{buttons}</div>
            {move || failure.get().map(|text| view! { <p class="form-error" role="alert">{text}</p> })}
        </div>
    }
}

/// The statuses a person can choose, as the API names them.
const CHOICES: [(&str, &str); 4] = [
    ("resolved", "Resolve"),
    ("resolved_in_next_release", "Resolve in next release"),
    ("ignored", "Ignore"),
    ("unresolved", "Unresolve"),
];
