//! Series charted together on one value axis ("is web1 loaded like the
//! others?", "did the queue grow with the requests?"): the ones picked
//! one by one, from any search, or else the first ones the search finds.
//! Each line has its own colour, and a legend that opens any one of them
//! alone.

use leptos::prelude::*;
use partout_model::api::{Deploy, MetricPoints, MetricSeries};

use super::chart::{chart_actions, chart_frame, consolidation_choices, deploy_list, failed};
use super::chart::{grid_and_markers, loading, step_text, units};
use super::plot::{self, plot_scaled, plot_together, value_text, Plot};
use super::url_state::{consolidations, default_consolidation, Chosen, MetricsView, MAX_COMPARED};
use super::MetricsNav;
use crate::api::{self, ApiError, SeriesScope};
use crate::clock;
use crate::components::refresh::{self, Refresh};
use crate::url_nav::UrlView as _;

/// One compared series and its points.
#[derive(Clone)]
struct Line {
    series: MetricSeries,
    /// The consolidation its points were merged with.
    by: String,
    points: MetricPoints,
}

#[derive(Clone)]
struct Compared {
    lines: Vec<Line>,
    /// The search found more than [`MAX_COMPARED`].
    more: bool,
    /// Picked series that are no longer stored.
    missing: usize,
    /// Each series is drawn on its own scale ([`MetricsView::own_scales`]).
    own_scales: bool,
    /// The kind of every series, when they are all of one kind: then
    /// they are merged alike, and the merge can be chosen.
    kind: Option<String>,
    step: i64,
    from: i64,
    until: i64,
    deploys: Vec<Deploy>,
}

/// How the series of a comparison are merged: the view's choice when it
/// is one their common kind offers, else each kind's default.
fn merge_for(view: &MetricsView, kind: Option<&str>, series_kind: &str) -> String {
    kind.and_then(|kind| {
        view.consolidation
            .clone()
            .filter(|by| consolidations(kind).contains(&by.as_str()))
    })
    .unwrap_or_else(|| default_consolidation(series_kind).to_owned())
}

/// The stored series `pick` names, among those stored under its name.
fn picked_among(pick: &Chosen, named: Vec<MetricSeries>) -> Option<MetricSeries> {
    let mut tags = pick.tags.clone();
    tags.sort();
    named.into_iter().find(|series| {
        series.name == pick.name
            && series
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .eq(tags.iter().cloned())
    })
}

/// The picked series that are still stored, in the order picked.
async fn picked_series(picks: &[Chosen]) -> Result<Vec<MetricSeries>, ApiError> {
    let reads = picks.iter().map(|pick| async move {
        let named = api::metric_series_named(&pick.name).await?;
        Ok::<_, ApiError>(picked_among(pick, named))
    });
    let found = futures::future::join_all(reads)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok(found.into_iter().flatten().collect())
}

/// Reads the picked series, or without picks the first [`MAX_COMPARED`]
/// series the search finds, their points (all at once) and the range's
/// deploys.
async fn fetch(view: MetricsView) -> Result<Compared, ApiError> {
    let until = clock::now_ms() / 1000;
    let from = until - view.range.seconds;
    let step = plot::step_for(view.range.seconds);
    let (found, more) = if view.picks.is_empty() {
        let mut found = api::metric_series(&view.pattern, MAX_COMPARED + 1).await?;
        let more = found.len() > MAX_COMPARED;
        found.truncate(MAX_COMPARED);
        (found, more)
    } else {
        (picked_series(&view.picks).await?, false)
    };
    let missing = view.picks.len().saturating_sub(found.len());
    let kind = found
        .first()
        .map(|series| series.kind.clone())
        .filter(|kind| found.iter().all(|series| &series.kind == kind));
    let reads = found.into_iter().map(|series| {
        let by = merge_for(&view, kind.as_deref(), &series.kind);
        async move {
            let scope = SeriesScope {
                name: series.name.clone(),
                tags: series.tags.clone().into_iter().collect(),
                from: from.to_string(),
                until: until.to_string(),
            };
            let points = api::metric_points(&scope, step, &by).await?;
            Ok::<_, ApiError>(Line { series, by, points })
        }
    });
    let lines = futures::future::join_all(reads)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let deploys = api::deploys_between(from * 1000, until * 1000)
        .await
        .unwrap_or_default();
    Ok(Compared {
        lines,
        more,
        missing,
        own_scales: view.own_scales,
        kind,
        step,
        from,
        until,
        deploys,
    })
}

/// The comparison card.
#[component]
pub fn CompareChart(view: MetricsView, nav: MetricsNav) -> impl IntoView {
    let tick = refresh::ticks(Signal::stored(view.refresh.map(Refresh::duration)));
    let data = LocalResource::new({
        let view = view.clone();
        move || {
            tick.track();
            fetch(view.clone())
        }
    });
    let title = if !view.picks.is_empty() {
        "Picked series".to_owned()
    } else if view.pattern.is_empty() {
        "Every series".to_owned()
    } else {
        format!("Series matching {}", view.pattern)
    };
    let body = move || match data.get() {
        None => loading(),
        Some(Err(error)) => failed(&error),
        Some(Ok(compared)) => view! { <Drawn compared nav /> }.into_any(),
    };
    view! {
        <section class="card metric-chart" data-testid="metric-chart" aria-label="Series compared over time">
            <div class="chart-head">
                <span class="chart-title" id="metric-title">{title}</span>
                {chart_actions(&view)}
            </div>
            {body}
        </section>
    }
}

#[component]
fn Drawn(compared: Compared, nav: MetricsNav) -> impl IntoView {
    let deploy_times: Vec<i64> = compared.deploys.iter().map(|d| d.deployed_at_ms).collect();
    let points: Vec<&[(i64, Option<f64>)]> = compared
        .lines
        .iter()
        .map(|line| line.points.points.as_slice())
        .collect();
    let lay_out = if compared.own_scales {
        plot_scaled
    } else {
        plot_together
    };
    let plots = lay_out(
        &points,
        compared.step,
        compared.from,
        compared.until,
        &deploy_times,
    );
    // The search may find nothing: no plot, no chart.
    let Some(first) = plots.first().cloned() else {
        return view! { <p class="muted" id="metric-summary">"No series match."</p> }.into_any();
    };
    let merged = match (&compared.kind, compared.lines.first()) {
        (Some(_), Some(line)) => format!("{} per {}", line.by, step_text(compared.step)),
        _ => format!(
            "a point per {} · counters summed, timers at p99, the rest averaged",
            step_text(compared.step)
        ),
    };
    let scales = if compared.own_scales {
        " · each on its own scale: 0% is its lowest point, 100% its highest"
    } else {
        ""
    };
    let summary = format!(
        "{} series{}{} · {merged}{scales}",
        compared.lines.len(),
        if compared.more {
            format!(" (the first {MAX_COMPARED}: narrow the search for others, or pick them)")
        } else {
            String::new()
        },
        match compared.missing {
            0 => String::new(),
            1 => " (a picked series is no longer stored)".to_owned(),
            n => format!(" ({n} picked series are no longer stored)"),
        },
    );
    let choices = compared
        .kind
        .as_deref()
        .zip(compared.lines.first())
        .map(|(kind, line)| consolidation_choices(kind, &line.by, nav));
    let scale = scale_choices(compared.own_scales, nav);
    let drawn = plots
        .iter()
        .enumerate()
        .map(|(index, plot)| series_svg(index, plot))
        .collect_view();
    let legend = compared
        .lines
        .iter()
        .zip(&plots)
        .enumerate()
        .map(|(index, (line, plot))| legend_item(index, line, plot, compared.own_scales, nav))
        .collect_view();
    let content = view! { {grid_and_markers(&first, &compared.deploys)}{drawn} };
    let suffix = if compared.own_scales { "%" } else { "" };
    let frame = chart_frame(&first, suffix, compared.from, compared.until, content);
    view! {
        {choices}
        {scale}
        <p class="muted" id="metric-summary">{summary}</p>
        {frame}
        <ul id="metric-legend" class="metric-legend">{legend}</ul>
        {deploy_list(&compared.deploys)}
    }
    .into_any()
}

/// The lines and lone points of the `index`th series, in its colour.
fn series_svg(index: usize, plot: &Plot) -> impl IntoView {
    let colour = series_class(index);
    let lines = plot
        .paths
        .iter()
        .map(|d| {
            view! {
                <path class=format!("line {colour}") d=d.clone() vector-effect="non-scaling-stroke"></path>
            }
        })
        .collect_view();
    let dots = plot
        .dots
        .iter()
        .map(|(x, y)| {
            view! { <circle class=format!("dot {colour}") cx=units(*x) cy=units(*y) r="2.5"></circle> }
        })
        .collect_view();
    view! { {lines}{dots} }
}

/// The value axis choices: one shared by every series, or each series on
/// its own scale.
fn scale_choices(own_scales: bool, nav: MetricsNav) -> impl IntoView {
    let choice = |own: bool, scale: &'static str, label: &'static str| {
        let href = nav
            .view()
            .with_untracked(|view| view.with_own_scales(own).href());
        let pressed = (own == own_scales).to_string();
        view! {
            <a class="range-button" href=href data-scale=scale aria-pressed=pressed>{label}</a>
        }
    };
    view! {
        <div class="chart-controls">
            <span class="muted">"Value axis: "</span>
            <span class="control-group">
                {choice(false, "shared", "One for all")}
                {choice(true, "each", "Each its own")}
            </span>
        </div>
    }
}

/// A legend row: the colour, the series (a link to chart it alone), and
/// its last value; on its own scale, also its lowest and highest.
fn legend_item(
    index: usize,
    line: &Line,
    plot: &Plot,
    own_scales: bool,
    nav: MetricsNav,
) -> impl IntoView {
    let chosen = Chosen {
        name: line.series.name.clone(),
        tags: line.series.tags.clone().into_iter().collect(),
    };
    let href = nav
        .view()
        .with_untracked(|view| view.with_chosen(chosen).href());
    let tags = line
        .series
        .tags
        .iter()
        .map(|(key, value)| view! { <span class="tag">{format!("{key}={value}")}</span> })
        .collect_view();
    let mut last = plot.last.map_or_else(
        || "no points".to_owned(),
        |last| format!("{} {}", line.by, value_text(last)),
    );
    if let (true, Some(min), Some(max)) = (own_scales, plot.min, plot.max) {
        last.push_str(&format!(
            " · from {} to {}",
            value_text(min),
            value_text(max)
        ));
    }
    view! {
        <li data-name=line.series.name.clone()>
            <span class=format!("legend-swatch {}", series_class(index)) aria-hidden="true"></span>
            <a class="series-name" href=href>{line.series.name.clone()}</a>
            {tags}
            <span class="muted">" · last "{last}</span>
        </li>
    }
}

/// The CSS class that colours the `index`th series.
fn series_class(index: usize) -> String {
    format!("series-{}", index % MAX_COMPARED)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, tags: &[(&str, &str)]) -> MetricSeries {
        MetricSeries {
            name: name.into(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            kind: "gauge".into(),
            graphite_names: Vec::new(),
        }
    }

    #[test]
    fn a_pick_is_the_series_of_its_name_and_exactly_its_tags() {
        let named = || {
            vec![
                series("req", &[("env", "prod")]),
                series("req", &[("env", "prod"), ("region", "eu")]),
                series("req", &[]),
            ]
        };
        let pick = |tags: &[(&str, &str)]| Chosen {
            name: "req".into(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        };
        // Tags in a link may come in any order.
        let found = picked_among(&pick(&[("region", "eu"), ("env", "prod")]), named());
        assert_eq!(found.map(|s| s.tags.len()), Some(2));
        assert_eq!(
            picked_among(&pick(&[]), named()).map(|s| s.tags.len()),
            Some(0)
        );
        assert!(picked_among(&pick(&[("env", "dev")]), named()).is_none());
        let other = Chosen {
            name: "req.count".into(),
            tags: Vec::new(),
        };
        assert!(picked_among(&other, named()).is_none());
    }

    #[test]
    fn series_of_one_kind_merge_as_chosen_and_mixed_ones_their_own_way() {
        let view = MetricsView::default().with_consolidation("max".into());
        assert_eq!(merge_for(&view, Some("gauge"), "gauge"), "max");
        assert_eq!(merge_for(&view, None, "counter"), "sum");
        assert_eq!(merge_for(&view, None, "timer"), "p99");
        // A choice the kind does not offer is its default.
        let p99 = MetricsView::default().with_consolidation("p99".into());
        assert_eq!(merge_for(&p99, Some("gauge"), "gauge"), "avg");
        assert_eq!(
            merge_for(&MetricsView::default(), Some("timer"), "timer"),
            "p99"
        );
    }
}
