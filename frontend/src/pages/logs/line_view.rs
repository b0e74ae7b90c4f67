//! One log line: a one-row summary that opens into the whole message, its
//! structured fields (each value a filter), and the lines around it.

use leptos::prelude::*;
use partout_model::api::{LogContext, LogFieldValue, LogLine};

use super::query_edit::{exists_clause, field_clause, missing_clause};
use super::time_range::TimeRange;
use super::{LogsNav, Problem};
use crate::api;
use crate::clock;

/// Lines asked for on each side of a line's context.
const CONTEXT_LINES: usize = 10;
/// "All lines around this one" spans this much either side.
const AROUND_MS: i64 = 60_000;

/// A line in a list, collapsed to one row until clicked.
#[component]
pub fn LogRow(
    line: LogLine,
    nav: LogsNav,
    /// Whether times carry their day (lines from several days are shown).
    #[prop(into)]
    show_day: Signal<bool>,
) -> impl IntoView {
    let expanded = RwSignal::new(false);
    let time_ms = line.time_ms;
    let level = line.level.clone().unwrap_or_default();
    let level_class = format!(
        "log-level lvl-{}",
        if level.is_empty() { "none" } else { &level }
    );
    let summary = view! {
        <button
            type="button"
            class="log-summary"
            aria-expanded=move || expanded.get().to_string()
            on:click=move |_| expanded.update(|open| *open = !*open)
        >
            <time class="log-time" datetime=line.time.clone() title=format!("{} UTC", line.time)>
                {move || clock::line_time(time_ms, show_day.get())}
            </time>
            <span class=level_class>{level.clone()}</span>
            <span class="log-service" title=line.service.clone()>{line.service.clone()}</span>
            <span class="log-host" title=line.host.clone()>{line.host.clone()}</span>
            <span class="log-message">{first_line(&line.message)}</span>
        </button>
    };
    let details = StoredValue::new(line);
    view! {
        <li class="log-line" class:expanded=move || expanded.get() data-level=level>
            {summary}
            <Show when=move || expanded.get()>
                <LineDetails line=details.get_value() nav />
            </Show>
        </li>
    }
}

/// The whole line: message, fields and actions.
#[component]
fn LineDetails(line: LogLine, nav: LogsNav) -> impl IntoView {
    let context_open = RwSignal::new(false);
    let id = line.id.clone();
    let time_ms = line.time_ms;

    // The line's own attributes first, then its fields by name.
    let mut rows: Vec<(String, String, Option<String>)> = Vec::new();
    rows.push((
        "time".into(),
        format!("{} ({} UTC)", clock::line_time(time_ms, true), line.time),
        None,
    ));
    let level_clause = match &line.level {
        Some(level) => field_clause("level", level),
        None => missing_clause("level"),
    };
    rows.push((
        "level".into(),
        line.level.clone().unwrap_or_else(|| "none".into()),
        level_clause,
    ));
    for (name, value) in [("service", &line.service), ("host", &line.host)] {
        if let Some(value) = value {
            rows.push((name.into(), value.clone(), field_clause(name, value)));
        }
    }
    rows.push((
        "source".into(),
        line.source.clone(),
        field_clause("source", &line.source),
    ));
    for flag in &line.flags {
        rows.push(("flag".into(), flag.clone(), field_clause("flag", flag)));
    }
    for (name, value) in &line.fields {
        let (text, clause) = match value {
            // A null has no value to match; "has the field" is the filter.
            LogFieldValue::Null(()) => ("null".to_owned(), exists_clause(name)),
            other => {
                let text = field_text(other);
                let clause = field_clause(name, &text);
                (text, clause)
            }
        };
        rows.push((name.clone(), text, clause));
    }
    let rows = rows
        .into_iter()
        .map(|(name, text, clause)| {
            let value = match clause {
                Some(clause) => {
                    let title = format!("Add {clause} to the query");
                    view! {
                        <button
                            type="button"
                            class="filter-value"
                            title=title
                            data-clause=clause.clone()
                            on:click=move |_| nav.add_clause(&clause)
                        >
                            {text}
                        </button>
                    }
                    .into_any()
                }
                None => view! { <span>{text}</span> }.into_any(),
            };
            view! {
                <tr>
                    <th scope="row">{name}</th>
                    <td>{value}</td>
                </tr>
            }
        })
        .collect_view();

    let around = move |_| {
        // Everything near this moment, whatever the query said.
        let next = nav
            .view()
            .get_untracked()
            .with_query(String::new())
            .with_range(TimeRange::between(time_ms - AROUND_MS, time_ms + AROUND_MS));
        nav.go(&next);
    };

    view! {
        <div class="log-details">
            <pre class="log-full-message">{line.message.clone()}</pre>
            <table class="log-fields">
                <tbody>{rows}</tbody>
            </table>
            <div class="log-actions">
                <button
                    type="button"
                    class="show-context"
                    aria-expanded=move || context_open.get().to_string()
                    on:click=move |_| context_open.update(|open| *open = !*open)
                >
                    {move || if context_open.get() { "Hide context" } else { "Show context" }}
                </button>
                <button type="button" on:click=around title="Every line from a minute before to a minute after this one">
                    "All lines ±1 min"
                </button>
            </div>
            <Show when=move || context_open.get()>
                <LineContext id=id.clone() />
            </Show>
        </div>
    }
}

/// The lines just before and after one line, from the same service and
/// host, oldest first, the line itself marked.
#[component]
fn LineContext(id: String) -> impl IntoView {
    let context = LocalResource::new(move || {
        let id = id.clone();
        async move { api::log_context(&id, CONTEXT_LINES, CONTEXT_LINES).await }
    });
    view! {
        <div class="log-context" data-testid="log-context">
            {move || match context.get() {
                None => view! { <p class="muted">"Loading the lines around…"</p> }.into_any(),
                Some(Ok(context)) => context_view(&context).into_any(),
                Some(Err(error)) => {
                    view! { <Problem title="Could not load the context" message=error.to_string() /> }
                        .into_any()
                }
            }}
        </div>
    }
}

/// The context's lines, oldest first, the line itself marked.
fn context_view(context: &LogContext) -> impl IntoView {
    let first = context.before.first().unwrap_or(&context.line);
    let last = context.after.last().unwrap_or(&context.line);
    let show_day = clock::local_day(first.time_ms) != clock::local_day(last.time_ms);
    let rows = context
        .before
        .iter()
        .map(|line| context_row(line, false, show_day))
        .chain(std::iter::once(context_row(&context.line, true, show_day)))
        .chain(
            context
                .after
                .iter()
                .map(|line| context_row(line, false, show_day)),
        )
        .collect_view();
    let caption = format!(
        "{} before and {} after, from the same service and host",
        context.before.len(),
        context.after.len()
    );
    view! {
        <p class="muted context-caption">{caption}</p>
        <ol class="context-lines">{rows}</ol>
    }
}

/// One compact row of a context.
fn context_row(line: &LogLine, current: bool, show_day: bool) -> impl IntoView {
    let level = line.level.clone().unwrap_or_default();
    let level_class = format!(
        "log-level lvl-{}",
        if level.is_empty() { "none" } else { &level }
    );
    view! {
        <li class:current=current>
            <time class="log-time">{clock::line_time(line.time_ms, show_day)}</time>
            <span class=level_class>{level}</span>
            <span class="log-message">{line.message.clone()}</span>
        </li>
    }
}

/// A field's value as text, the way a query would name it.
fn field_text(value: &LogFieldValue) -> String {
    match value {
        LogFieldValue::Bool(flag) => flag.to_string(),
        LogFieldValue::Integer(number) => number.to_string(),
        LogFieldValue::Unsigned(number) => number.to_string(),
        LogFieldValue::Float(number) => number.to_string(),
        LogFieldValue::Text(text) => text.clone(),
        LogFieldValue::Null(()) => "null".to_owned(),
    }
}

/// The first line of a message, for the one-row summary; the rest shows
/// when the line is opened.
fn first_line(message: &str) -> String {
    match message.split_once('\n') {
        Some((first, _)) => format!("{} …", first.trim_end()),
        None => message.to_owned(),
    }
}
