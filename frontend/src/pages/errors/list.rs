//! The issues matching the URL's filters, a page at a time, each row with
//! its last day of events as a sparkline; read again every interval the
//! URL's `refresh` names.

use leptos::prelude::*;
use leptos::task::spawn_local;
use partout_model::errors::Issue;

use super::hourly::{self, Sparkline};
use super::url_state::{issue_href, ListView};
use super::{get_started::GetStarted, when, Ago, LevelBadge, ListNav, Problem, StatusBadges};
use crate::api::{self, ApiError};
use crate::components::refresh::{self, Refresh};
use crate::format;
use crate::url_nav::UrlView as _;

/// Issues per request.
const PAGE_SIZE: u64 = 50;
/// Hours in a row's sparkline.
const SPARK_HOURS: usize = 24;

/// The issues fetched so far for the current view.
#[derive(Debug, Clone, Default, PartialEq)]
struct Listing {
    issues: Vec<Issue>,
    /// Where the next page starts; `None` after the last page.
    next_offset: Option<u64>,
}

/// What is in flight or went wrong.
#[derive(Debug, Clone, PartialEq)]
enum Fetch {
    Idle,
    Listing,
    LoadingMore,
    ListFailed(ApiError),
    MoreFailed(ApiError),
}

/// The list with its summary, empty states and paging.
#[component]
pub fn IssueList(nav: ListNav) -> impl IntoView {
    let listing = RwSignal::new(Listing::default());
    let fetch = RwSignal::new(Fetch::Listing);
    // Only the latest request's answers are kept when filters change
    // quickly.
    let generation = StoredValue::new(0u64);
    // One "now" per listing, so every row's relative times and
    // sparkline agree; a refresh moves it, and every row's "ago" with it.
    let now_ms = RwSignal::new(when::now_ms());

    Effect::new(move |_| {
        let query = nav.view().get().query();
        let request = generation.get_value() + 1;
        generation.set_value(request);
        fetch.set(Fetch::Listing);
        spawn_local(async move {
            let answer = api::issues(&query, PAGE_SIZE, 0).await;
            if generation.try_get_value() != Some(request) {
                return;
            }
            now_ms.try_set(when::now_ms());
            match answer {
                Ok(page) => {
                    listing.try_set(Listing {
                        issues: page.issues,
                        next_offset: page.next_offset,
                    });
                    fetch.try_set(Fetch::Idle);
                }
                Err(error) => {
                    listing.try_set(Listing::default());
                    fetch.try_set(Fetch::ListFailed(error));
                }
            }
        });
    });

    let load_more = move |_| {
        let Some(offset) = listing.with_untracked(|listing| listing.next_offset) else {
            return;
        };
        let query = nav.view().get_untracked().query();
        let request = generation.get_value();
        fetch.set(Fetch::LoadingMore);
        spawn_local(async move {
            let answer = api::issues(&query, PAGE_SIZE, offset).await;
            if generation.try_get_value() != Some(request) {
                return;
            }
            match answer {
                Ok(page) => {
                    listing.try_update(|listing| {
                        listing.issues.extend(page.issues);
                        listing.next_offset = page.next_offset;
                    });
                    fetch.try_set(Fetch::Idle);
                }
                Err(error) => {
                    fetch.try_set(Fetch::MoreFailed(error));
                }
            }
        });
    };

    // Each tick of the URL's interval reads as many issues as are shown
    // again, without the "Loading…" of a new view: the rows stay until
    // the new ones are in, and a failed read leaves them as they were.
    let tick = refresh::ticks(Signal::derive(move || {
        nav.view().with(|view| view.refresh.map(Refresh::duration))
    }));
    Effect::new(move |_| {
        if tick.get() == 0 || matches!(fetch.get_untracked(), Fetch::Listing | Fetch::LoadingMore) {
            return;
        }
        let query = nav.view().get_untracked().query();
        let request = generation.get_value();
        let shown = listing.with_untracked(|listing| listing.issues.len() as u64);
        spawn_local(async move {
            let answer = api::issues(&query, shown.max(PAGE_SIZE), 0).await;
            let busy = matches!(
                fetch.try_get_untracked(),
                None | Some(Fetch::Listing | Fetch::LoadingMore)
            );
            if busy || generation.try_get_value() != Some(request) {
                return;
            }
            if let Ok(page) = answer {
                now_ms.try_set(when::now_ms());
                listing.try_set(Listing {
                    issues: page.issues,
                    next_offset: page.next_offset,
                });
                fetch.try_set(Fetch::Idle);
            }
        });
    });

    let list_error = move || match fetch.get() {
        Fetch::ListFailed(error) => Some(error.to_string()),
        _ => None,
    };
    let more_error = move || match fetch.get() {
        Fetch::MoreFailed(error) => Some(error.to_string()),
        _ => None,
    };
    let settled_empty =
        move || fetch.get() != Fetch::Listing && listing.with(|l| l.issues.is_empty());
    let summary = move || {
        let (shown, more) = listing.with(|l| (l.issues.len(), l.next_offset.is_some()));
        summary_text(shown as u64, more)
    };

    view! {
        <section class="issues" aria-label="Issues">
            {move || list_error().map(|message| view! {
                <Problem title="Could not list issues" message id="issue-error" />
            })}
            <Show when=move || list_error().is_none()>
                <p class="results-summary muted" id="issue-summary">
                    {summary}
                    {move || (fetch.get() == Fetch::Listing).then(|| view! { <span class="busy">" Loading…"</span> })}
                </p>
                <div class="issue-table" class:stale=move || fetch.get() == Fetch::Listing>
                    <Show when=move || listing.with(|l| !l.issues.is_empty())>
                        <div class="issue-head" aria-hidden="true">
                            <span>"Issue"</span>
                            <span>"Last 24 hours"</span>
                            <span class="num">"Events"</span>
                            <span class="num">"Users"</span>
                        </div>
                    </Show>
                    <ol class="issue-list" id="issue-list">
                        <For
                            each=move || listing.get().issues
                            key=|issue| (issue.id, issue.count, issue.status.clone(), issue.last_seen_ms)
                            children=move |issue| view! { <IssueRow issue now_ms /> }
                        />
                    </ol>
                </div>
                <Show when=move || settled_empty() && nav.view().with(ListView::is_filtered)>
                    <div class="empty card" id="issue-empty">
                        <p>"No issue matches these filters."</p>
                        <p class="muted">
                            <a href=ListView::default().href()>"Show every unresolved issue"</a>
                        </p>
                    </div>
                </Show>
                <Show when=move || settled_empty() && !nav.view().with(ListView::is_filtered)>
                    <GetStarted />
                </Show>
                {move || more_error().map(|message| view! {
                    <Problem title="Could not load more issues" message />
                })}
                <Show when=move || listing.with(|l| l.next_offset.is_some())>
                    <button
                        type="button"
                        class="load-older"
                        id="load-more-issues"
                        disabled=move || fetch.get() == Fetch::LoadingMore
                        on:click=load_more
                    >
                        {move || if fetch.get() == Fetch::LoadingMore { "Loading…" } else { "Load more issues" }}
                    </button>
                </Show>
            </Show>
        </section>
    }
}

/// One issue: what, where, its status and its numbers.
#[component]
fn IssueRow(issue: Issue, now_ms: RwSignal<i64>) -> impl IntoView {
    let id = issue.id;
    // The window moves with the listing's "now", so a row a refresh keeps
    // still ends at the current hour; it changes once an hour, not with
    // every refresh.
    let first_hour = Memo::new(move |_| hourly::window_start(now_ms.get(), SPARK_HOURS));
    // The list does not carry hourly counts: each row asks for its own
    // (the API's issue detail, from the window's first hour). The drawn
    // sparkline stays until the next one is read.
    let hours = LocalResource::new(move || {
        let first_hour = first_hour.get();
        async move {
            api::issue(id, first_hour)
                .await
                .map(|detail| hourly::slots(&detail.hourly, first_hour, SPARK_HOURS))
        }
    });
    let sparkline = move || match hours.get() {
        Some(Ok(slots)) => view! { <Sparkline slots /> }.into_any(),
        Some(Err(_)) => view! { <span class="muted">"–"</span> }.into_any(),
        None => view! { <span class="sparkline-loading"></span> }.into_any(),
    };
    let href = issue_href(id);
    let release = issue.last_release.clone();
    view! {
        <li class="issue-row" data-issue-id=id.to_string() data-status=issue.status.clone()>
            <div class="issue-main">
                <div class="issue-line">
                    <LevelBadge level=issue.level.clone() />
                    <a class="issue-title" href=href title=issue.title.clone()>{issue.title.clone()}</a>
                </div>
                {issue.culprit.clone().map(|culprit| view! { <div class="issue-culprit">{culprit}</div> })}
                <div class="issue-meta">
                    <StatusBadges
                        status=issue.status.clone()
                        regressed=issue.regressed
                        regressed_in_release=issue.regressed_in_release.clone()
                    />
                    <span>"first seen " <Ago unix_ms=issue.first_seen_ms now_ms /></span>
                    <span>"last seen " <Ago unix_ms=issue.last_seen_ms now_ms /></span>
                    {release.map(|release| view! {
                        <span class="issue-release" title="The release of the latest event">{release}</span>
                    })}
                </div>
            </div>
            <div class="issue-spark">{sparkline}</div>
            <div class="num issue-count" title="Events received">{format::count(issue.count)}</div>
            <div class="num issue-users" title="Distinct users affected">{format::count(issue.user_count)}</div>
        </li>
    }
}

/// "3 issues" or "The first 50 issues; more follow".
fn summary_text(shown: u64, more: bool) -> String {
    match (shown, more) {
        (0, _) => String::new(),
        (1, false) => "1 issue.".to_owned(),
        (n, false) => format!("{} issues.", format::count(n)),
        (n, true) => format!("The first {} issues; more follow.", format::count(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        assert_eq!(summary_text(0, false), "");
        assert_eq!(summary_text(1, false), "1 issue.");
        assert_eq!(summary_text(12, false), "12 issues.");
        assert_eq!(summary_text(50, true), "The first 50 issues; more follow.");
    }
}
