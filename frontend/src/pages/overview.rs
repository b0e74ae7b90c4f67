mod last_day;

use leptos::prelude::*;
use partout_model::api::Status;

use crate::{api, format};

/// `/`: what the server is and how it is doing, from `GET /api/v1/status`.
///
/// The rendered status carries stable hooks for browser tests: `#server-status`
/// contains the text `Partout <version>`, each listener row has
/// `data-testid="listener-<name>"`, and a failure renders `#status-error`.
#[component]
pub fn Overview() -> impl IntoView {
    let resource = LocalResource::new(api::status);
    // `LocalResource` is `Copy`, so this closure is too and can be handed to
    // every view that offers a way to fetch again.
    let refetch = move || resource.refetch();

    view! {
        <h1>"Overview"</h1>
        <last_day::LastDay />
        // `Transition` keeps the previous status on screen while a refresh is
        // in flight, instead of flashing the loading text.
        <Transition fallback=|| view! { <p class="muted">"Loading the server status…"</p> }>
            <ErrorBoundary fallback=move |errors| {
                view! { <StatusError errors on_retry=refetch /> }
            }>
                {move || Suspend::new(async move {
                    resource
                        .await
                        .map(|status| view! { <StatusView status on_refresh=refetch /> })
                })}
            </ErrorBoundary>
        </Transition>
    }
}

/// The server status as facts and two tables.
#[component]
fn StatusView(
    /// The body of `GET /api/v1/status`.
    status: Status,
    /// Fetches the status again.
    on_refresh: impl Fn() + 'static,
) -> impl IntoView {
    let Status {
        version,
        started_at_unix_ms,
        uptime_seconds,
        data_dir,
        listeners,
        storage,
    } = status;

    let listener_rows = if listeners.is_empty() {
        view! { <tr><td colspan="2" class="muted">"No listener is bound."</td></tr> }.into_any()
    } else {
        listeners
            .into_iter()
            .map(|(name, address)| {
                let testid = format!("listener-{name}");
                view! {
                    <tr data-testid=testid>
                        <td>{name}</td>
                        <td><code>{address}</code></td>
                    </tr>
                }
            })
            .collect_view()
            .into_any()
    };

    view! {
        <section id="server-status" class="card">
            // One text node, so tests can match `Partout <version>` as written.
            <h2>{format!("Partout {version}")}</h2>
            <dl class="facts">
                <dt>"Uptime"</dt>
                <dd>{format::duration(uptime_seconds)}</dd>
                <dt>"Started"</dt>
                <dd>{started_at(started_at_unix_ms)}</dd>
                <dt>"Data directory"</dt>
                <dd><code>{data_dir}</code></dd>
            </dl>

            <h3>"Listeners"</h3>
            <table>
                <thead>
                    <tr><th scope="col">"Name"</th><th scope="col">"Address"</th></tr>
                </thead>
                <tbody>{listener_rows}</tbody>
            </table>

            <h3>"Storage"</h3>
            <dl class="facts" data-testid="storage">
                <dt>"Schema version"</dt>
                <dd>{storage.schema_version}</dd>
                <dt>"SQLite database"</dt>
                <dd>{format::bytes(storage.sqlite_bytes)}</dd>
                <dt>"Write-ahead log"</dt>
                <dd>{format::bytes(storage.sqlite_wal_bytes)}</dd>
            </dl>
            <button type="button" on:click=move |_| on_refresh()>"Refresh"</button>
        </section>
    }
}

/// What went wrong while fetching the status, with a way to try again.
#[component]
fn StatusError(
    /// The errors caught by the surrounding `ErrorBoundary`.
    errors: ArcRwSignal<Errors>,
    /// Fetches the status again.
    on_retry: impl Fn() + 'static,
) -> impl IntoView {
    view! {
        <section id="status-error" class="card error" role="alert">
            <h2>"Could not load the server status"</h2>
            <ul>
                {move || {
                    errors
                        .get()
                        .into_iter()
                        .map(|(_, error)| view! { <li>{error.to_string()}</li> })
                        .collect_view()
                }}
            </ul>
            <button type="button" on:click=move |_| on_retry()>"Try again"</button>
        </section>
    }
}

/// The start time in UTC, to the second: `2026-11-22 15:12:03 UTC`.
fn started_at(unix_ms: i64) -> String {
    // The browser's Date does the calendar arithmetic, so no date crate has
    // to be shipped in the wasm.
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix_ms as f64));
    // Outside about ±275,000 years a Date is invalid and `toISOString` throws,
    // which would abort the whole app.
    if date.get_time().is_nan() {
        return format!("{unix_ms} ms after the Unix epoch");
    }
    let iso = String::from(date.to_iso_string());
    // `to_iso_string` gives `YYYY-MM-DDTHH:MM:SS.sssZ`.
    match (iso.get(..10), iso.get(11..19)) {
        (Some(day), Some(time)) => format!("{day} {time} UTC"),
        _ => iso,
    }
}
