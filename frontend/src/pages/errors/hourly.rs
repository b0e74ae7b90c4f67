//! Events per hour as inline SVG bars: a sparkline in each list row and
//! the chart on an issue's page. The slotting and bar geometry are pure
//! (tested on the host).

use leptos::prelude::*;
use partout_model::errors::HourCount;

use super::when;
use crate::format;

/// One hour, in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;

/// The start of the hour holding `unix_ms`.
pub fn hour_start(unix_ms: i64) -> i64 {
    unix_ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// The first hour of a window of `hours` hours that ends with the hour
/// holding `now_ms`.
pub fn window_start(now_ms: i64, hours: usize) -> i64 {
    let hours = i64::try_from(hours).unwrap_or(i64::MAX / HOUR_MS);
    hour_start(now_ms) - (hours - 1).max(0) * HOUR_MS
}

/// The counts of `hours` consecutive hours from `first_hour_ms`, zero
/// where the server sent nothing (it only sends hours with events);
/// hours outside the window are ignored.
pub fn slots(hourly: &[HourCount], first_hour_ms: i64, hours: usize) -> Vec<u64> {
    let mut slots = vec![0; hours];
    for hour in hourly {
        let offset = hour.start_ms.saturating_sub(first_hour_ms);
        if offset < 0 {
            continue;
        }
        let index = offset / HOUR_MS;
        if let Some(slot) = usize::try_from(index).ok().and_then(|i| slots.get_mut(i)) {
            *slot += hour.count;
        }
    }
    slots
}

/// One bar: its left edge and height in chart units (the chart is one
/// unit wide per slot and `height` tall).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub index: usize,
    pub x: f64,
    pub height: f64,
    pub count: u64,
}

/// Bars for the non-empty slots, scaled so the largest fills `height`;
/// a slot with events is at least a sliver tall, so one event among
/// thousands still shows.
pub fn bars(slots: &[u64], height: f64) -> Vec<Bar> {
    let max = slots.iter().copied().max().unwrap_or(0);
    if max == 0 {
        return Vec::new();
    }
    slots
        .iter()
        .enumerate()
        .filter(|(_, count)| **count > 0)
        .map(|(index, count)| Bar {
            index,
            x: index as f64,
            height: (*count as f64 / max as f64 * height).max(height * 0.08),
            count: *count,
        })
        .collect()
}

/// A small bar chart of the last 24 hours for a list row.
#[component]
pub fn Sparkline(
    /// Counts per hour, oldest first.
    slots: Vec<u64>,
) -> impl IntoView {
    const HEIGHT: f64 = 20.0;
    let total: u64 = slots.iter().sum();
    let width = slots.len();
    let bars = bars(&slots, HEIGHT)
        .into_iter()
        .map(|bar| {
            view! {
                <rect x=format!("{:.2}", bar.x + 0.1) y=format!("{:.2}", HEIGHT - bar.height)
                    width="0.8" height=format!("{:.2}", bar.height)></rect>
            }
        })
        .collect_view();
    view! {
        <svg
            class="sparkline"
            viewBox=format!("0 0 {width} {HEIGHT}")
            preserveAspectRatio="none"
            role="img"
            aria-label=format!("{} in the last 24 hours", events_text(total))
        >
            <title>{format!("{} in the last 24 hours", events_text(total))}</title>
            <line class="baseline" x1="0" y1=HEIGHT x2=width y2=HEIGHT></line>
            {bars}
        </svg>
    }
}

/// The issue page's chart: one bar per hour from `first_hour_ms`, with
/// a tooltip per bar and the days marked below.
#[component]
pub fn HourlyChart(
    /// Counts per hour, oldest first.
    slots: Vec<u64>,
    /// The start of the first slot, Unix ms.
    first_hour_ms: i64,
) -> impl IntoView {
    const HEIGHT: f64 = 60.0;
    let hours = slots.len();
    let peak = slots.iter().copied().max().unwrap_or(0);
    let total: u64 = slots.iter().sum();
    let bars = bars(&slots, HEIGHT)
        .into_iter()
        .map(|bar| {
            let start = first_hour_ms + bar.index as i64 * HOUR_MS;
            let tooltip = format!("{}: {}", when::exact(start), events_text(bar.count));
            view! {
                <rect x=format!("{:.2}", bar.x + 0.1) y=format!("{:.2}", HEIGHT - bar.height)
                    width="0.8" height=format!("{:.2}", bar.height)>
                    <title>{tooltip}</title>
                </rect>
            }
        })
        .collect_view();
    // A label at a few day boundaries, as a share of the width.
    let days = hours / 24;
    let step = (days / 7).max(1);
    let ticks = (0..=days)
        .step_by(step)
        .map(|day| {
            let at = window_day_start(first_hour_ms, day);
            let percent = (at - first_hour_ms) as f64 / (hours as f64 * HOUR_MS as f64) * 100.0;
            view! {
                <span class="tick" style=format!("left: {:.2}%", percent.clamp(0.0, 100.0))>
                    {when::day(at)}
                </span>
            }
        })
        .collect_view();
    view! {
        <div class="issue-chart" data-testid="issue-hourly">
            <div class="chart-head">
                <span class="chart-title">
                    {format!("{} in the last {} days", events_text(total), hours / 24)}
                </span>
                <span class="muted">{format!("hourly, peak {} per hour", format::count(peak))}</span>
            </div>
            <svg
                class="hour-bars"
                viewBox=format!("0 0 {hours} {HEIGHT}")
                preserveAspectRatio="none"
                role="img"
                aria-label="Events per hour"
            >
                <line class="baseline" x1="0" y1=HEIGHT x2=hours y2=HEIGHT></line>
                {bars}
            </svg>
            <div class="chart-axis" aria-hidden="true">{ticks}</div>
        </div>
    }
}

/// Roughly the start of the `day`-th day of a window (in UTC hours; the
/// label itself is the local day).
fn window_day_start(first_hour_ms: i64, day: usize) -> i64 {
    first_hour_ms + i64::try_from(day).unwrap_or(0) * 24 * HOUR_MS
}

/// `1 event`, `1,234 events`.
pub fn events_text(count: u64) -> String {
    if count == 1 {
        "1 event".to_owned()
    } else {
        format!("{} events", format::count(count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour(start_ms: i64, count: u64) -> HourCount {
        HourCount { start_ms, count }
    }

    #[test]
    fn hours_fall_into_their_slots() {
        let now = 10 * HOUR_MS + 1_234;
        let first = window_start(now, 4);
        assert_eq!(first, 7 * HOUR_MS);
        let hourly = [
            hour(6 * HOUR_MS, 9), // before the window
            hour(7 * HOUR_MS, 2),
            hour(9 * HOUR_MS, 5),
            hour(10 * HOUR_MS, 1),
            hour(11 * HOUR_MS, 9), // after it
        ];
        assert_eq!(slots(&hourly, first, 4), [2, 0, 5, 1]);
        assert_eq!(slots(&[], first, 3), [0, 0, 0]);
    }

    #[test]
    fn bars_scale_to_the_peak() {
        assert!(bars(&[0, 0], 20.0).is_empty());
        let drawn = bars(&[0, 1000, 0, 1], 20.0);
        assert_eq!(drawn.len(), 2);
        assert_eq!((drawn[0].index, drawn[0].height), (1, 20.0));
        // One event beside a thousand still shows.
        assert!(drawn[1].height > 1.0);
        assert_eq!(events_text(1), "1 event");
        assert_eq!(events_text(1234), "1,234 events");
    }
}
