//! The chosen series over the range: its line, round value ticks, the
//! deploys of the range as markers and a list, the range and the
//! consolidation to pick, and a summary line.

use leptos::prelude::*;
use partout_model::api::{Deploy, MetricPoints, Quantiles};

use super::plot::{self, plot, value_text, Plot, HEIGHT, WIDTH};
use super::quantiles::QuantileTable;
use super::url_state::{consolidations, default_consolidation, Chosen, MetricsView, PRESETS};
use super::MetricsNav;
use crate::api::{self, ApiError, SeriesScope};
use crate::components::refresh::{self, Refresh, OFF, REFRESHES};
use crate::url_nav::UrlView as _;
use crate::{clock, format};

/// Most time labels under the chart.
const TICKS: usize = 8;
/// The percentiles a timer's table shows.
const TIMER_QUANTILES: &str = "0.5,0.9,0.99,0.999,0.9999";

/// What the chart of one view needs, fetched together.
#[derive(Clone)]
struct ChartData {
    /// `counter`, `gauge`, `timer` or `set`.
    kind: String,
    /// The consolidation the points were merged with.
    by: String,
    points: MetricPoints,
    /// Unix seconds the chart spans.
    from: i64,
    until: i64,
    deploys: Vec<Deploy>,
    quantiles: Option<Quantiles>,
}

/// Fetches the series' kind (for its default consolidation), its points,
/// the range's deploys and, for a timer, its quantiles.
async fn fetch(view: MetricsView, chosen: Chosen) -> Result<ChartData, ApiError> {
    // One "now" for every request, so the line and the markers agree.
    let until = clock::now_ms() / 1000;
    let from = until - view.range.seconds;
    let scope = SeriesScope {
        name: chosen.name.clone(),
        tags: chosen.tags.clone(),
        from: from.to_string(),
        until: until.to_string(),
    };
    let kind = api::metric_series_named(&chosen.name)
        .await?
        .into_iter()
        .find(|series| {
            series.name == chosen.name
                && series.tags.len() == chosen.tags.len()
                && chosen
                    .tags
                    .iter()
                    .all(|(key, value)| series.tags.get(key) == Some(value))
        })
        .map_or_else(|| "gauge".to_owned(), |series| series.kind);
    let by = view
        .consolidation
        .clone()
        .unwrap_or_else(|| default_consolidation(&kind).to_owned());
    let points = api::metric_points(&scope, plot::step_for(view.range.seconds), &by).await?;
    // Markers are a help, not the answer: a chart without them is still
    // right, so a failed deploy list only leaves them out.
    let deploys = api::deploys_between(from * 1000, until * 1000)
        .await
        .unwrap_or_default();
    let quantiles = if kind == "timer" {
        Some(api::metric_quantiles(&scope, TIMER_QUANTILES).await?)
    } else {
        None
    };
    Ok(ChartData {
        kind,
        by,
        points,
        from,
        until,
        deploys,
        quantiles,
    })
}

/// The chart card of the chosen series.
#[component]
pub fn SeriesChart(view: MetricsView, chosen: Chosen, nav: MetricsNav) -> impl IntoView {
    let tick = refresh::ticks(Signal::stored(view.refresh.map(Refresh::duration)));
    // Each tick fetches again, ending at the new "now"; the chart on
    // screen stays until the new one is in.
    let data = LocalResource::new({
        let (view, chosen) = (view.clone(), chosen.clone());
        move || {
            tick.track();
            fetch(view.clone(), chosen.clone())
        }
    });
    let title = chosen.name.clone();
    let tags = chosen
        .tags
        .iter()
        .map(|(key, value)| view! { <span class="tag">{format!("{key}={value}")}</span> })
        .collect_view();
    let body = move || match data.get() {
        None => loading(),
        Some(Err(error)) => failed(&error),
        Some(Ok(data)) => view! { <Drawn data nav /> }.into_any(),
    };
    view! {
        <section class="card metric-chart" data-testid="metric-chart" aria-label="The series over time">
            <div class="chart-head">
                <span class="chart-title" id="metric-title">{title}" "{tags}</span>
                {chart_actions(&view)}
            </div>
            {body}
        </section>
    }
}

/// The "Each point:" choices for a kind of series, `current` pressed,
/// each a link to the view merging that way.
pub(super) fn consolidation_choices(kind: &str, current: &str, nav: MetricsNav) -> impl IntoView {
    let choices = consolidations(kind)
        .iter()
        .map(|by| {
            let next = nav
                .view()
                .get_untracked()
                .with_consolidation((*by).to_owned());
            let pressed = (*by == current).to_string();
            view! {
                <a class="range-button" href=next.href() data-by=*by aria-pressed=pressed>{*by}</a>
            }
        })
        .collect_view();
    view! {
        <div class="chart-controls">
            <span class="muted">"Each point: "</span>
            <span class="control-group">{choices}</span>
        </div>
    }
}

/// What a chart shows until its points are in.
pub(super) fn loading() -> AnyView {
    view! { <p class="muted chart-placeholder">"Loading points…"</p> }.into_any()
}

/// What a chart shows when its points could not be read.
pub(super) fn failed(error: &ApiError) -> AnyView {
    view! {
        <div class="card error problem" role="alert" id="metric-error">
            <strong>"Could not read the series"</strong>": "{error.to_string()}
        </div>
    }
    .into_any()
}

/// The range and refresh choices of a chart's head, each a link to the
/// view with that choice.
pub(super) fn chart_actions(view: &MetricsView) -> impl IntoView {
    let ranges = PRESETS
        .iter()
        .map(|preset| {
            let next = view.with_range(*preset);
            let pressed = (*preset == view.range).to_string();
            view! {
                <a class="range-button" href=next.href() data-range=preset.from aria-pressed=pressed>
                    {preset.label}
                </a>
            }
        })
        .collect_view();
    let refreshes = std::iter::once(None)
        .chain(REFRESHES.iter().copied().map(Some))
        .map(|refresh| {
            let next = view.with_refresh(refresh);
            let label = refresh.map_or(OFF, |refresh| refresh.every);
            let pressed = (refresh == view.refresh).to_string();
            view! {
                <a class="range-button" href=next.href() data-refresh=label aria-pressed=pressed>
                    {label}
                </a>
            }
        })
        .collect_view();
    view! {
        <span class="chart-actions">
            <span class="control-group">{ranges}</span>
            <span class="refresh-control">
                <span class="muted">"Refresh"</span>
                <span class="control-group" id="metric-refresh" aria-label="Refresh every">
                    {refreshes}
                </span>
            </span>
        </span>
    }
}

/// The drawn chart once its data is in.
#[component]
fn Drawn(data: ChartData, nav: MetricsNav) -> impl IntoView {
    let deploy_times: Vec<i64> = data.deploys.iter().map(|d| d.deployed_at_ms).collect();
    let chart = plot(
        &data.points.points,
        data.points.step,
        data.from,
        data.until,
        &deploy_times,
    );
    let choices = consolidation_choices(&data.kind, &data.by, nav);
    let summary = summary_text(&chart, &data);
    let frame = chart_frame(
        &chart,
        "",
        data.from,
        data.until,
        svg_content(&chart, &data.deploys),
    );
    let deploy_list = deploy_list(&data.deploys);
    let quantiles = data
        .quantiles
        .clone()
        .map(|quantiles| view! { <QuantileTable quantiles /> });

    view! {
        {choices}
        <p class="muted" id="metric-summary">{summary}</p>
        {frame}
        {deploy_list}
        {quantiles}
    }
}

/// A chart's SVG holding `content`, with `axis`'s value labels beside it
/// (each followed by `suffix`) and the time labels of `[from, until)` Unix
/// seconds under it.
pub(super) fn chart_frame(
    axis: &Plot,
    suffix: &'static str,
    from: i64,
    until: i64,
    content: impl IntoView + 'static,
) -> impl IntoView {
    view! {
        <div class="metric-frame">
            <div class="value-axis" aria-hidden="true">{value_labels(axis, suffix)}</div>
            <div class="chart-frame">
                <svg
                    class="chart line-chart"
                    viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                    preserveAspectRatio="none"
                    role="img"
                    aria-label="The series over time, with deploys marked"
                >
                    {content}
                </svg>
                <div class="chart-axis" aria-hidden="true">{time_ticks(from, until)}</div>
            </div>
        </div>
    }
}

/// The time labels under a chart of `[from, until)` Unix seconds.
fn time_ticks(from: i64, until: i64) -> impl IntoView {
    let span_ms = (until - from) * 1000;
    crate::time_axis::ticks(from * 1000, until * 1000, TICKS, clock::zone_offset_ms())
        .into_iter()
        .map(|(percent, ms)| {
            view! {
                <span class="tick" style=format!("left: {percent:.3}%")>{clock::axis_label(ms, span_ms)}</span>
            }
        })
        .collect_view()
}

/// The value labels beside a chart, at its ticks' heights.
fn value_labels(chart: &Plot, suffix: &'static str) -> impl IntoView {
    chart
        .value_ticks
        .iter()
        .map(|(y, value)| {
            view! {
                <span class="value-tick" style=format!("top: {:.3}%", y / HEIGHT * 100.0)>
                    {value_text(*value)}{suffix}
                </span>
            }
        })
        .collect_view()
}

/// Grid lines, the series' lines and dots, and the deploy markers.
fn svg_content(chart: &Plot, deploys: &[Deploy]) -> impl IntoView {
    let lines = chart
        .paths
        .iter()
        .map(
            |d| view! { <path class="line" d=d.clone() vector-effect="non-scaling-stroke"></path> },
        )
        .collect_view();
    let dots = chart
        .dots
        .iter()
        .map(|(x, y)| view! { <circle class="dot" cx=units(*x) cy=units(*y) r="2.5"></circle> })
        .collect_view();
    view! { {grid_and_markers(chart, deploys)}{lines}{dots} }
}

/// A chart's grid lines and deploy markers (the markers under the lines).
pub(super) fn grid_and_markers(chart: &Plot, deploys: &[Deploy]) -> impl IntoView {
    let grid = chart
        .value_ticks
        .iter()
        .map(|(y, _)| {
            view! { <line class="grid" x1="0" x2=WIDTH.to_string() y1=units(*y) y2=units(*y)></line> }
        })
        .collect_view();
    let markers = chart
        .deploys
        .iter()
        .filter_map(|(x, index)| deploys.get(*index).map(|deploy| (*x, deploy)))
        .map(|(x, deploy)| {
            let label = format!(
                "{} {} ({}) at {}",
                deploy.service,
                deploy.version,
                deploy.environment,
                deploy_time(deploy.deployed_at_ms)
            );
            view! {
                <line class="deploy" x1=units(x) x2=units(x) y1="0" y2=HEIGHT.to_string() vector-effect="non-scaling-stroke">
                    <title>{label}</title>
                </line>
            }
        })
        .collect_view();
    view! { {grid}{markers} }
}

/// `p99 per 5 min · 288 points · min 3 · max 87 · last 12`.
fn summary_text(chart: &Plot, data: &ChartData) -> String {
    let step = step_text(data.points.step);
    if chart.count == 0 {
        return format!("{} per {step}: no points in this range.", data.by);
    }
    let value = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), value_text);
    format!(
        "{} per {step} · {} · min {} · max {} · last {}",
        data.by,
        format::counted(
            u64::try_from(chart.count).unwrap_or(u64::MAX),
            "point",
            "points"
        ),
        value(chart.min),
        value(chart.max),
        value(chart.last)
    )
}

/// `10 s`, `5 min`, `1 h`, `1 d`.
pub(super) fn step_text(seconds: i64) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// The range's deploys, newest first, under the chart.
pub(super) fn deploy_list(deploys: &[Deploy]) -> impl IntoView {
    if deploys.is_empty() {
        return view! { <p class="muted" id="metric-deploys">"No deploys in this range."</p> }
            .into_any();
    }
    let items = deploys
        .iter()
        .map(|deploy| {
            let by = deploy
                .deployed_by
                .as_deref()
                .map(|by| format!(", by {by}"))
                .unwrap_or_default();
            view! {
                <li>
                    <span class="deploy-swatch" aria-hidden="true"></span>
                    <strong>{deploy.service.clone()}" "{deploy.version.clone()}</strong>
                    {format!(" ({}) at {}{by}", deploy.environment, deploy_time(deploy.deployed_at_ms))}
                </li>
            }
        })
        .collect_view();
    view! {
        <div id="metric-deploys">
            <h3>"Deploys in this range"</h3>
            <ul class="deploy-list">{items}</ul>
        </div>
    }
    .into_any()
}

/// When a deploy happened, to the minute, with its day.
fn deploy_time(unix_ms: i64) -> String {
    clock::axis_label(unix_ms, i64::MAX)
}

/// An SVG coordinate, rounded: the text stays short.
pub(super) fn units(value: f64) -> String {
    format!("{value:.1}")
}
