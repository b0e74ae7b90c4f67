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
use crate::api::{self, ApiError};
use crate::format;

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
    let body = move || match detail.get() {
        None => view! { <p class="muted">"Loading the issue…"</p> }.into_any(),
        Some(Ok(Some((detail, first_hour)))) => {
            view! { <IssueBody detail first_hour /> }.into_any()
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
fn IssueBody(detail: IssueDetail, first_hour: i64) -> impl IntoView {
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
            <StatusNote id=issue.id status=issue.status.clone() />
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

/// The status, and how to change it: `PATCH` needs a token with scope
/// `write`, and the web app has no sign-in yet, so the page says so and
/// gives the command rather than asking for a secret.
#[component]
fn StatusNote(id: i64, #[prop(into)] status: String) -> impl IntoView {
    let origin = web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_default();
    let command = patch_command(&origin, id);
    view! {
        <div class="card status-note" id="issue-status" data-status=status.clone()>
            <p>
                "Status: " <strong>{super::status_label(&status).to_owned()}</strong>
            </p>
            <details>
                <summary>"Change the status"</summary>
                <p class="muted">
                    "Changing it needs a token with scope " <code>"write"</code>
                    ", and this web app has no sign-in yet. From a shell, with such a token:"
                </p>
                <pre class="code-example"><code>{command}</code></pre>
                <p class="muted">
                    "Statuses: " <code>"unresolved"</code> ", " <code>"resolved"</code> ", "
                    <code>"resolved_in_next_release"</code> ", " <code>"ignored"</code> "."
                </p>
            </details>
        </div>
    }
}

/// The `curl` that resolves issue `id` on the server at `origin`.
fn patch_command(origin: &str, id: i64) -> String {
    format!(
        "curl -X PATCH {origin}/api/v1/issues/{id} \\\n  \
         -H \"Authorization: Bearer $PARTOUT_TOKEN\" \\\n  \
         -H 'Content-Type: application/json' -d '{{\"status\":\"resolved\"}}'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_command() {
        assert_eq!(
            patch_command("http://h:8080", 7),
            "curl -X PATCH http://h:8080/api/v1/issues/7 \\\n  -H \"Authorization: Bearer $PARTOUT_TOKEN\" \\\n  -H 'Content-Type: application/json' -d '{\"status\":\"resolved\"}'"
        );
    }
}
