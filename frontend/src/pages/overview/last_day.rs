//! The last 24 hours on one card: the deploys, the error issues seen and
//! the log lines by severity, side by side, so "what changed?" starts
//! here and each part leads to its page. It reads itself again every
//! minute, so a screen left on the overview stays current; the URL's
//! `refresh` (`/?refresh=10s`, `/?refresh=off`) and the card's select
//! change that.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use partout_model::api::{Deploy, LogHistogram};
use partout_model::errors::Issue;

use crate::api::{self, IssueQuery, LogScope};
use crate::components::refresh::{self, Refresh, RefreshSelect, OFF};
use crate::{clock, format, query_string};

const DAY_MS: i64 = 24 * 3_600_000;
/// How often the card reads its day again when the URL does not say: the
/// overview is what a wall screen shows.
const DEFAULT_REFRESH: Refresh = Refresh {
    every: "1m",
    seconds: 60,
};
/// Rows each column lists at most.
const ROWS: usize = 5;

/// Lines of a day by severity: every line, errors (`error`, `fatal`) and
/// warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Severities {
    pub total: u64,
    pub errors: u64,
    pub warnings: u64,
}

/// Adds up a histogram's buckets by severity.
pub fn severities(histogram: &LogHistogram) -> Severities {
    let level = |bucket: &partout_model::api::LogHistogramBucket, name: &str| {
        bucket.levels.get(name).copied().unwrap_or(0)
    };
    histogram
        .buckets
        .iter()
        .fold(Severities::default(), |sum, bucket| Severities {
            total: sum.total + bucket.total,
            errors: sum.errors + level(bucket, "error") + level(bucket, "fatal"),
            warnings: sum.warnings + level(bucket, "warn"),
        })
}

/// The card's interval for a URL's `refresh`: the default when it names
/// none of the offered ones, `None` for `off`.
pub fn card_refresh(param: Option<&str>) -> Option<Refresh> {
    match param.map(str::trim) {
        Some(OFF) => None,
        Some(every) => Some(Refresh::named(every).unwrap_or(DEFAULT_REFRESH)),
        None => Some(DEFAULT_REFRESH),
    }
}

/// The overview's URL for an interval: the default needs no parameter.
pub fn overview_href(refresh: Option<Refresh>) -> String {
    match refresh {
        Some(refresh) if refresh == DEFAULT_REFRESH => "/".to_owned(),
        Some(refresh) => query_string::with_query("/", &[("refresh", refresh.every)]),
        None => query_string::with_query("/", &[("refresh", OFF)]),
    }
}

/// The card. Hooks for browser tests: `#last-day`, `#last-day-deploys`,
/// `#last-day-issues`, `#last-day-logs`, the select `#overview-refresh`.
#[component]
pub fn LastDay() -> impl IntoView {
    let params = use_query_map();
    let every = Memo::new(move |_| params.with(|params| card_refresh(params.get_str("refresh"))));
    let tick = refresh::ticks(Signal::derive(move || every.get().map(Refresh::duration)));
    let navigate = use_navigate();
    let set_refresh = move |refresh: Option<Refresh>| {
        let options = NavigateOptions {
            scroll: false,
            ..NavigateOptions::default()
        };
        navigate(&overview_href(refresh), options);
    };
    // The day ends at each tick's "now"; every column reads it again then.
    let now = Memo::new(move |_| {
        tick.track();
        clock::now_ms()
    });
    let deploys = LocalResource::new(move || {
        let now = now.get();
        api::deploys_between(now - DAY_MS, now + 1)
    });
    let issues = LocalResource::new(move || {
        tick.track();
        async { api::issues(&IssueQuery::default(), 20, 0).await }
    });
    let logs = LocalResource::new(move || {
        tick.track();
        async {
            let scope = LogScope {
                query: String::new(),
                from: "-24h".to_owned(),
                // Left out, the server ends the range at this millisecond;
                // `now` would end it at the start of this second, and leave
                // out what arrived since.
                until: String::new(),
            };
            api::log_histogram(&scope).await
        }
    });
    view! {
        <section class="card last-day" id="last-day" aria-label="The last 24 hours">
            <div class="last-day-heading">
                <h2>"The last 24 hours"</h2>
                <RefreshSelect id="overview-refresh" current=every on_change=set_refresh />
            </div>
            <div class="last-day-columns">
                <div id="last-day-deploys">
                    <h3><a href="/ui/deploys">"Deploys"</a></h3>
                    {move || deploys.get().map(|answer| match answer {
                        Ok(deploys) => deploy_rows(&deploys, now.get_untracked()).into_any(),
                        Err(error) => view! { <p class="muted">{error.to_string()}</p> }.into_any(),
                    })}
                </div>
                <div id="last-day-issues">
                    <h3><a href="/ui/errors">"Errors"</a></h3>
                    {move || issues.get().map(|answer| match answer {
                        Ok(list) => {
                            let now = now.get_untracked();
                            issue_rows(&list.issues, now - DAY_MS, now).into_any()
                        }
                        Err(error) => view! { <p class="muted">{error.to_string()}</p> }.into_any(),
                    })}
                </div>
                <div id="last-day-logs">
                    <h3><a href="/ui/logs?from=-24h">"Logs"</a></h3>
                    {move || logs.get().map(|answer| match answer {
                        Ok(histogram) => log_summary(severities(&histogram)).into_any(),
                        Err(error) => view! { <p class="muted">{error.to_string()}</p> }.into_any(),
                    })}
                </div>
            </div>
        </section>
    }
}

fn deploy_rows(deploys: &[Deploy], now_ms: i64) -> impl IntoView {
    if deploys.is_empty() {
        return view! { <p class="muted">"No deploys."</p> }.into_any();
    }
    let rows = deploys
        .iter()
        .take(ROWS)
        .map(|deploy| {
            view! {
                <li>
                    <strong>{deploy.service.clone()}" "{deploy.version.clone()}</strong>
                    {format!(" ({}) · {}", deploy.environment, format::ago(now_ms - deploy.deployed_at_ms))}
                </li>
            }
        })
        .collect_view();
    view! { <ul class="last-day-list">{rows}</ul> }.into_any()
}

/// Issues seen since `from_ms`, newest activity first; new and regressed
/// ones say so.
fn issue_rows(issues: &[Issue], from_ms: i64, now_ms: i64) -> impl IntoView {
    let recent: Vec<&Issue> = issues
        .iter()
        .filter(|issue| issue.last_seen_ms >= from_ms)
        .take(ROWS)
        .collect();
    if recent.is_empty() {
        return view! { <p class="muted">"No errors seen."</p> }.into_any();
    }
    let rows = recent
        .into_iter()
        .map(|issue| {
            let badge = if issue.regressed {
                Some(view! { <span class="status-badge regressed">"regressed"</span> })
            } else if issue.first_seen_ms >= from_ms {
                Some(view! { <span class="status-badge">"new"</span> })
            } else {
                None
            };
            view! {
                <li>
                    <a href=format!("/ui/errors/{}", issue.id)>{issue.title.clone()}</a>
                    " "{badge}
                    <span class="muted">
                        {format!(" · {} events · last {}", format::count(issue.count), format::ago(now_ms - issue.last_seen_ms))}
                    </span>
                </li>
            }
        })
        .collect_view();
    view! { <ul class="last-day-list">{rows}</ul> }.into_any()
}

fn log_summary(counts: Severities) -> impl IntoView {
    view! {
        <p>{format::lines(counts.total)}</p>
        <p>
            <a href="/ui/logs?q=level%3Aerror&from=-24h">
                {format::counted(counts.errors, "error", "errors")}
            </a>
            " · "
            <a href="/ui/logs?q=level%3Awarn&from=-24h">
                {format::counted(counts.warnings, "warning", "warnings")}
            </a>
        </p>
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use partout_model::api::LogHistogramBucket;

    use super::*;

    #[test]
    fn the_card_refreshes_every_minute_unless_the_url_says_otherwise() {
        let seconds = |param| card_refresh(param).map(|refresh| refresh.seconds);
        assert_eq!(seconds(None), Some(60));
        assert_eq!(seconds(Some("10s")), Some(10));
        assert_eq!(seconds(Some(" 5m ")), Some(300));
        assert_eq!(seconds(Some("7s")), Some(60));
        assert_eq!(seconds(Some("off")), None);
        assert!(crate::components::refresh::REFRESHES.contains(&DEFAULT_REFRESH));
    }

    #[test]
    fn the_overview_url_names_only_what_is_not_the_default() {
        assert_eq!(overview_href(card_refresh(None)), "/");
        assert_eq!(overview_href(None), "/?refresh=off");
        assert_eq!(overview_href(Refresh::named("30s")), "/?refresh=30s");
        for param in ["off", "5s", "1m"] {
            let href = overview_href(card_refresh(Some(param)));
            let back = href.split_once("refresh=").map(|(_, every)| every);
            assert_eq!(card_refresh(back), card_refresh(Some(param)), "{href}");
        }
    }

    #[test]
    fn a_day_of_lines_adds_up_by_severity() {
        let bucket = |levels: &[(&str, u64)]| LogHistogramBucket {
            start_ms: 0,
            total: levels.iter().map(|(_, n)| n).sum(),
            levels: levels
                .iter()
                .map(|(level, n)| ((*level).to_owned(), *n))
                .collect::<BTreeMap<_, _>>(),
        };
        let histogram = LogHistogram {
            from_ms: 0,
            until_ms: 1,
            step_ms: 1,
            total: 0,
            buckets: vec![
                bucket(&[("info", 10), ("error", 2), ("warn", 1)]),
                bucket(&[("fatal", 1), ("none", 4), ("debug", 3)]),
            ],
            took_ms: 0.0,
        };
        assert_eq!(
            severities(&histogram),
            Severities {
                total: 21,
                errors: 3,
                warnings: 1
            }
        );
    }
}
