//! Lines over time as an inline SVG bar chart, stacked by level. A click on
//! a bar narrows the range to that bucket, a drag to the buckets it
//! covers.

use leptos::ev::MouseEvent;
use leptos::prelude::*;
use partout_model::api::LogHistogram;
use wasm_bindgen::JsCast;

use super::chart_layout::{layout, ChartLayout, HEIGHT, WIDTH};
use super::time_range::TimeRange;
use super::LogsNav;
use crate::api::ApiError;
use crate::clock;
use crate::format;

/// A press and release closer than this (in fractions of the chart's
/// width) is a click, not a drag: hands shake.
const CLICK_SLOP: f64 = 0.006;
/// Most axis labels under the chart.
const TICKS: usize = 8;

/// The chart card, with its loading and error states.
#[component]
pub fn Histogram(
    /// `GET /api/v1/logs/histogram` for the page's scope, shared with the
    /// results list (which shows the total).
    histogram: LocalResource<Result<LogHistogram, ApiError>>,
    nav: LogsNav,
) -> impl IntoView {
    view! {
        <section class="card histogram" data-testid="log-histogram" aria-label="Matching lines over time">
            // While a new count loads, the resource still holds the old one,
            // so the chart stays instead of flashing the loading text.
            {move || match histogram.get() {
                None => view! { <p class="muted chart-placeholder">"Counting lines…"</p> }.into_any(),
                Some(Ok(histogram)) => view! { <Chart histogram nav /> }.into_any(),
                // Quietly: the results list below says the same loudly.
                Some(Err(error)) => {
                    let text = match error {
                        ApiError::Status { status: 400, .. } => "No chart for this query.".to_owned(),
                        other => format!("No chart: {other}"),
                    };
                    view! { <p class="muted chart-placeholder">{text}</p> }.into_any()
                }
            }}
        </section>
    }
}

/// The drawn chart, its legend and its axis.
#[component]
fn Chart(histogram: LogHistogram, nav: LogsNav) -> impl IntoView {
    let chart = layout(&histogram);
    let span_ms = chart.end_ms - chart.start_ms;
    let heading = format!(
        "{} from {} ({})",
        format::lines(histogram.total),
        clock::range_text(histogram.from_ms, histogram.until_ms),
        clock::zone_label()
    );
    let legend = chart
        .levels
        .iter()
        .map(|level| {
            view! {
                <span class="legend-item">
                    <span class=format!("swatch lvl-{level}")></span>
                    {level.clone()}
                </span>
            }
        })
        .collect_view();
    let ticks = chart
        .ticks(TICKS, clock::zone_offset_ms())
        .into_iter()
        .map(|(percent, ms)| {
            view! {
                <span class="tick" style=format!("left: {percent:.3}%")>
                    {clock::axis_label(ms, span_ms)}
                </span>
            }
        })
        .collect_view();
    let peak = format!(
        "up to {} per {}",
        format::lines(chart.max_total),
        step_text(chart.step_ms)
    );
    let bars = bars_view(&chart);
    let chart = StoredValue::new(chart);

    // The press position and where the pointer is now, as fractions of the
    // chart's width, while a button is held on the chart.
    let drag = RwSignal::new(None::<(f64, f64)>);
    let finish = move |end: f64| {
        let Some((start, _)) = drag.get_untracked() else {
            return;
        };
        drag.set(None);
        let end = if (end - start).abs() < CLICK_SLOP {
            start
        } else {
            end
        };
        let (from, until) = chart.with_value(|chart| chart.selection(start, end));
        nav.set_range(TimeRange::between(from, until));
    };
    let selection = move || {
        drag.get().map(|(start, now)| {
            let (left, right) = (start.min(now) * WIDTH, start.max(now) * WIDTH);
            view! {
                <rect class="selection" x=units(left) y="0" width=units((right - left).max(1.0)) height=units(HEIGHT)></rect>
            }
        })
    };

    view! {
        <div class="chart-head">
            <span class="chart-title" id="histogram-total">{heading}</span>
            <span class="legend">{legend}</span>
        </div>
        <div class="chart-frame">
            <span class="chart-peak muted">{peak}</span>
            <svg
                class="chart"
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                preserveAspectRatio="none"
                role="img"
                aria-label="Matching lines over time; click or drag to zoom in"
                on:mousedown=move |event: MouseEvent| {
                    // Otherwise the drag also selects the text around.
                    event.prevent_default();
                    if let Some(at) = pointer_fraction(&event) {
                        drag.set(Some((at, at)));
                    }
                }
                on:mousemove=move |event: MouseEvent| {
                    if drag.with_untracked(Option::is_some) {
                        if let Some(at) = pointer_fraction(&event) {
                            drag.update(|drag| {
                                if let Some((_, now)) = drag {
                                    *now = at;
                                }
                            });
                        }
                    }
                }
                on:mouseup=move |event: MouseEvent| {
                    if let Some(at) = pointer_fraction(&event) {
                        finish(at);
                    }
                }
                // Leaving mid-drag ends the drag at the edge it crossed,
                // so a range up to the chart's end is easy to take.
                on:mouseleave=move |_| {
                    if let Some((_, now)) = drag.get_untracked() {
                        finish(now);
                    }
                }
            >
                {bars}
                {selection}
            </svg>
            <div class="chart-axis" aria-hidden="true">{ticks}</div>
        </div>
    }
}

/// Every bucket: a transparent full-height column (so the tooltip shows
/// above short bars too) and the level segments.
fn bars_view(chart: &ChartLayout) -> impl IntoView {
    let span_ms = chart.end_ms - chart.start_ms;
    chart
        .bars
        .iter()
        .map(|bar| {
            let mut tooltip = format!(
                "{} to {}: {}",
                clock::axis_label(bar.start_ms, span_ms),
                clock::axis_label(bar.end_ms, span_ms),
                format::lines(bar.total)
            );
            for segment in bar.segments.iter().rev() {
                tooltip.push_str(&format!("\n{}: {}", segment.level, format::count(segment.count)));
            }
            let segments = bar
                .segments
                .iter()
                .map(|segment| {
                    view! {
                        <rect
                            class=format!("seg lvl-{}", segment.level)
                            x=units(bar.x)
                            y=units(segment.y)
                            width=units(bar.width)
                            height=units(segment.height)
                        ></rect>
                    }
                })
                .collect_view();
            view! {
                <g class="bar">
                    <title>{tooltip}</title>
                    <rect class="hit" x=units(bar.x) y="0" width=units(bar.width) height=units(HEIGHT)></rect>
                    {segments}
                </g>
            }
        })
        .collect_view()
}

/// Where the pointer is across the chart, `0.0` to `1.0`.
fn pointer_fraction(event: &MouseEvent) -> Option<f64> {
    let chart = event
        .current_target()?
        .dyn_into::<web_sys::Element>()
        .ok()?;
    let rect = chart.get_bounding_client_rect();
    if rect.width() <= 0.0 {
        return None;
    }
    Some(((f64::from(event.client_x()) - rect.left()) / rect.width()).clamp(0.0, 1.0))
}

/// An SVG coordinate, to a precision no screen shows more of.
fn units(value: f64) -> String {
    format!("{value:.2}")
}

/// A bucket width for people: `30s`, `5 min`, `1 h`, `1 d`.
fn step_text(step_ms: i64) -> String {
    let seconds = step_ms / 1_000;
    match seconds {
        s if s > 0 && s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{} min", s / 60),
        s if s > 0 => format!("{s} s"),
        _ => format!("{step_ms} ms"),
    }
}
