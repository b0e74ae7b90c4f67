//! The last 24 hours on one card: the deploys, the error issues seen and
//! the log lines by severity, side by side, so "what changed?" starts
//! here and each part leads to its page. It reads itself again every
//! minute, so a screen left on the overview stays current.

use std::time::Duration;

use leptos::prelude::*;
use partout_model::api::{Deploy, LogHistogram};
use partout_model::errors::Issue;

use crate::api::{self, IssueQuery, LogScope};
use crate::components::refresh;
use crate::{clock, format};

const DAY_MS: i64 = 24 * 3_600_000;
/// How often the card reads its day again.
const REFRESH: Duration = Duration::from_secs(60);
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

/// The card. Hooks for browser tests: `#last-day`, `#last-day-deploys`,
/// `#last-day-issues`, `#last-day-logs`.
#[component]
pub fn LastDay() -> impl IntoView {
    let tick = refresh::ticks(Signal::stored(Some(REFRESH)));
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
            <h2>"The last 24 hours"</h2>
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
