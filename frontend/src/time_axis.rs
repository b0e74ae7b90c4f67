//! Labels of a time axis: round local times (every 5 min, every hour,
//! each midnight...) across a chart. Pure, so it is tested on the host;
//! shared by the logs histogram and the metrics chart.

/// Axis labels: at most `max` instants at round times (every 5 min,
/// every hour, each midnight...) in a zone `zone_offset_ms` ahead of
/// UTC, each with its position in percent. Labels too near an edge
/// to be read whole are left out.
pub fn ticks(start_ms: i64, end_ms: i64, max: usize, zone_offset_ms: i64) -> Vec<(f64, i64)> {
    const SECOND: i64 = 1_000;
    const MINUTE: i64 = 60 * SECOND;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    const STEPS: [i64; 22] = [
        SECOND,
        2 * SECOND,
        5 * SECOND,
        10 * SECOND,
        15 * SECOND,
        30 * SECOND,
        MINUTE,
        2 * MINUTE,
        5 * MINUTE,
        10 * MINUTE,
        15 * MINUTE,
        30 * MINUTE,
        HOUR,
        2 * HOUR,
        3 * HOUR,
        6 * HOUR,
        12 * HOUR,
        DAY,
        2 * DAY,
        7 * DAY,
        14 * DAY,
        30 * DAY,
    ];
    let span = end_ms - start_ms;
    let max = i64::try_from(max.max(1)).unwrap_or(i64::MAX);
    let step = STEPS
        .iter()
        .copied()
        .find(|step| span / step < max)
        .unwrap_or_else(|| (span / max / DAY + 1) * DAY);
    // The first round local time at or after the left edge.
    let local_start = start_ms + zone_offset_ms;
    let mut tick = local_start.div_euclid(step) * step - zone_offset_ms;
    if tick < start_ms {
        tick += step;
    }
    let mut ticks = Vec::new();
    while tick <= end_ms {
        let percent = (tick - start_ms) as f64 / span as f64 * 100.0;
        if (EDGE_MARGIN..=100.0 - EDGE_MARGIN).contains(&percent) {
            ticks.push((percent, tick));
        }
        tick += step;
    }
    ticks
}

/// How near an edge (in percent of the width) an axis label may sit.
const EDGE_MARGIN: f64 = 3.0;
