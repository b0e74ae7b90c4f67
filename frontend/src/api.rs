//! The only module that speaks HTTP: one typed function per server endpoint,
//! each returning a `partout-model` body or an [`ApiError`].
//!
//! Requests go to the page's own origin, so the app works behind whatever
//! host and port the server is reached on.

use std::cell::RefCell;
use std::rc::Rc;

use partout_model::access::{
    CreatedToken, LoginRequest, NewToken, NewUser, PasswordChange, SessionInfo, TokenInfo,
    UserInfo, UserUpdate,
};
use partout_model::api::{
    Deploy, ErrorBody, LogContext, LogHistogram, LogLine, LogSearch, LogTopValues, MetricPoints,
    MetricSeries, Quantiles, Status,
};
use partout_model::errors::{EventList, IssueDetail, IssueList, IssueUpdate, Project};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{EventSource, MessageEvent, Request, RequestInit, Response};

use crate::query_string;

/// Why an API call failed, worded so the text can be shown to a person.
///
/// `Clone` because a `LocalResource` hands out clones of its value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// No answer came back: the server is down, or the network is.
    #[error("could not reach the server: {0}")]
    Network(String),
    /// The server answered with a status other than 2xx.
    #[error("the server answered {status}: {message}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The `error` of the JSON body, or the status text when the body is
        /// not one of ours (a proxy's error page, for example).
        message: String,
    },
    /// The body was not the JSON this app expects, which usually means the
    /// app and the server come from different versions.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
}

/// `GET /api/v1/status`: the server's version, listeners and storage.
pub async fn status() -> Result<Status, ApiError> {
    get_json("/api/v1/status").await
}

/// Which log lines a logs call is about: the query language text and the
/// `from`/`until` texts the server reads (RFC 3339, epoch, `-1h`, `now`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogScope {
    pub query: String,
    pub from: String,
    pub until: String,
}

impl LogScope {
    fn pairs(&self) -> [(&str, &str); 3] {
        [
            ("q", self.query.as_str()),
            ("from", self.from.as_str()),
            ("until", self.until.as_str()),
        ]
    }
}

/// `GET /api/v1/logs/search`: up to `limit` matching lines, newest first,
/// continuing after `cursor` (a previous answer's `next_cursor`).
pub async fn log_search(
    scope: &LogScope,
    limit: usize,
    cursor: Option<&str>,
) -> Result<LogSearch, ApiError> {
    let limit = limit.to_string();
    let [q, from, until] = scope.pairs();
    let path = query_string::with_query(
        "/api/v1/logs/search",
        &[
            q,
            from,
            until,
            ("limit", &limit),
            ("cursor", cursor.unwrap_or_default()),
        ],
    );
    get_json(&path).await
}

/// `GET /api/v1/logs/histogram`: matching lines per time bucket and level,
/// about 100 buckets over the range.
pub async fn log_histogram(scope: &LogScope) -> Result<LogHistogram, ApiError> {
    get_json(&query_string::with_query(
        "/api/v1/logs/histogram",
        &scope.pairs(),
    ))
    .await
}

/// `GET /api/v1/logs/top`: the `limit` most frequent values of `field`
/// among matching lines.
pub async fn log_top(
    scope: &LogScope,
    field: &str,
    limit: usize,
) -> Result<LogTopValues, ApiError> {
    let limit = limit.to_string();
    let [q, from, until] = scope.pairs();
    let path = query_string::with_query(
        "/api/v1/logs/top",
        &[("field", field), q, from, until, ("limit", &limit)],
    );
    get_json(&path).await
}

/// `GET /api/v1/logs/context`: up to `before` and `after` lines around the
/// line `id`, from the same service and host.
pub async fn log_context(id: &str, before: usize, after: usize) -> Result<LogContext, ApiError> {
    let (before, after) = (before.to_string(), after.to_string());
    let path = query_string::with_query(
        "/api/v1/logs/context",
        &[("id", id), ("before", &before), ("after", &after)],
    );
    get_json(&path).await
}

/// One stored series, as the metrics API names it: its stored name and
/// its tags (`k:v`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeriesScope {
    pub name: String,
    pub tags: Vec<(String, String)>,
    /// The API's `from` and `until` texts (`-24h`, `now`, Unix seconds).
    pub from: String,
    pub until: String,
}

impl SeriesScope {
    /// `name`, `from`, `until` and one `tag=k:v` per tag.
    fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = vec![
            ("name".to_owned(), self.name.clone()),
            ("from".to_owned(), self.from.clone()),
            ("until".to_owned(), self.until.clone()),
        ];
        pairs.extend(
            self.tags
                .iter()
                .map(|(key, value)| ("tag".to_owned(), format!("{key}:{value}"))),
        );
        pairs
    }
}

/// `path?query` of owned pairs.
fn path_with(path: &str, pairs: &[(String, String)]) -> String {
    let borrowed: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    query_string::with_query(path, &borrowed)
}

/// `GET /api/v1/metrics/series`: up to `limit` series found by what a
/// person typed: a Graphite glob when it has one of `*?[{`, else the
/// names containing the text (empty: every series).
pub async fn metric_series(text: &str, limit: usize) -> Result<Vec<MetricSeries>, ApiError> {
    let limit = limit.to_string();
    let key = if text.contains(['*', '?', '[', '{']) {
        "match"
    } else {
        "contains"
    };
    // Written out, not through `query_string`, which leaves empty values
    // out: an empty `contains` (every series) must reach the server, which
    // reads no filter at all as the glob `*`.
    let path = format!(
        "/api/v1/metrics/series?{key}={}&limit={limit}",
        query_string::encode(text)
    );
    get_json(&path).await
}

/// `GET /api/v1/metrics/series?match=<name>`: the series stored under
/// exactly `name`, one per set of tags.
pub async fn metric_series_named(name: &str) -> Result<Vec<MetricSeries>, ApiError> {
    get_json(&query_string::with_query(
        "/api/v1/metrics/series",
        &[("match", name)],
    ))
    .await
}

/// `GET /api/v1/metrics/points`: one series' points, a point per `step`
/// seconds, each merged with `consolidation` (`avg`, `sum`, `p99` ...).
pub async fn metric_points(
    scope: &SeriesScope,
    step: i64,
    consolidation: &str,
) -> Result<MetricPoints, ApiError> {
    let mut pairs = scope.pairs();
    pairs.push(("step".to_owned(), step.to_string()));
    pairs.push(("consolidation".to_owned(), consolidation.to_owned()));
    get_json(&path_with("/api/v1/metrics/points", &pairs)).await
}

/// `GET /api/v1/metrics/quantiles`: a timer's quantiles `qs` over the
/// whole range, from its merged sketches.
pub async fn metric_quantiles(scope: &SeriesScope, qs: &str) -> Result<Quantiles, ApiError> {
    let mut pairs = scope.pairs();
    pairs.push(("q".to_owned(), qs.to_owned()));
    get_json(&path_with("/api/v1/metrics/quantiles", &pairs)).await
}

/// `GET /api/v1/deploys`: the newest 100 deploys of `service` in
/// `environment` (an empty text: any).
pub async fn deploys(service: &str, environment: &str) -> Result<Vec<Deploy>, ApiError> {
    get_json(&query_string::with_query(
        "/api/v1/deploys",
        &[
            ("service", service),
            ("environment", environment),
            ("limit", "100"),
        ],
    ))
    .await
}

/// `GET /api/v1/deploys`: up to 100 deploys in `[from_ms, until_ms)`,
/// newest first.
pub async fn deploys_between(from_ms: i64, until_ms: i64) -> Result<Vec<Deploy>, ApiError> {
    let (from, until) = (from_ms.to_string(), until_ms.to_string());
    get_json(&query_string::with_query(
        "/api/v1/deploys",
        &[("from", &from), ("until", &until), ("limit", "100")],
    ))
    .await
}

/// Which issues an issue list is about, as `GET /api/v1/issues` reads
/// them; an empty text leaves the filter out (the server's default).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IssueQuery {
    /// A project id, or empty for every project.
    pub project: String,
    /// `unresolved`, `resolved`, `resolved_in_next_release`, `ignored`, or
    /// empty for every status.
    pub status: String,
    pub environment: String,
    pub release: String,
    /// Words that must each appear in the title or culprit.
    pub text: String,
    /// `last_seen` (the server's default), `first_seen` or `count`.
    pub sort: String,
}

/// `GET /api/v1/issues`: up to `limit` issues from `offset` on.
pub async fn issues(query: &IssueQuery, limit: u64, offset: u64) -> Result<IssueList, ApiError> {
    let (limit, offset) = (limit.to_string(), offset.to_string());
    let path = query_string::with_query(
        "/api/v1/issues",
        &[
            ("project", query.project.as_str()),
            ("status", query.status.as_str()),
            ("environment", query.environment.as_str()),
            ("release", query.release.as_str()),
            ("q", query.text.as_str()),
            ("sort", query.sort.as_str()),
            ("limit", &limit),
            ("offset", if offset == "0" { "" } else { &offset }),
        ],
    );
    get_json(&path).await
}

/// `GET /api/v1/issues/{id}`: the issue, its latest event, tag values and
/// hourly counts since `from_ms`.
pub async fn issue(id: i64, from_ms: i64) -> Result<IssueDetail, ApiError> {
    let from = from_ms.to_string();
    let path = query_string::with_query(&format!("/api/v1/issues/{id}"), &[("from", &from)]);
    get_json(&path).await
}

/// `GET /api/v1/issues/{id}/events`: `limit` stored events, newest first,
/// continuing after `cursor` (a previous answer's `next_cursor`).
pub async fn issue_events(id: i64, limit: u64, cursor: Option<i64>) -> Result<EventList, ApiError> {
    let limit = limit.to_string();
    let cursor = cursor.map(|cursor| cursor.to_string()).unwrap_or_default();
    let path = query_string::with_query(
        &format!("/api/v1/issues/{id}/events"),
        &[("limit", &limit), ("cursor", &cursor)],
    );
    get_json(&path).await
}

/// `GET /api/v1/projects`: every error project with its keys and DSNs.
pub async fn projects() -> Result<Vec<Project>, ApiError> {
    get_json("/api/v1/projects").await
}

/// What the live tail reports, in the order it happens.
#[derive(Debug, Clone, PartialEq)]
pub enum TailEvent {
    /// The stream is open: lines arriving from now on will come.
    Open,
    /// A new matching line.
    Line(Box<LogLine>),
    /// The server skipped this many lines because the page read too slowly.
    Lagged(u64),
    /// A line event that was not a [`LogLine`] (different app and server
    /// versions, usually).
    Undecodable(String),
    /// The connection broke; the browser reconnects by itself.
    Reconnecting,
    /// The server refused the stream (a query that does not parse, for
    /// example) or the page closed it; no more events come.
    Closed,
}

/// An open `GET /api/v1/logs/tail` stream. Dropping it closes the stream.
pub struct LogTail {
    source: EventSource,
    // The listeners must live as long as the stream: dropping a `Closure`
    // frees the function the browser would call next.
    _listeners: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Drop for LogTail {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// Opens the live tail of lines matching `query` (Server-Sent Events) and
/// calls `on_event` for everything it reports, until the returned handle
/// is dropped.
pub fn log_tail(
    query: &str,
    on_event: impl FnMut(TailEvent) + 'static,
) -> Result<LogTail, ApiError> {
    let path = query_string::with_query("/api/v1/logs/tail", &[("q", query)]);
    let source = EventSource::new(&path).map_err(network_error)?;
    // Several listeners share the one callback; the browser calls them one
    // at a time, so the `RefCell` is never borrowed twice.
    let on_event = Rc::new(RefCell::new(on_event));
    let mut listeners = Vec::new();

    let mut listen = |name: &str, to_event: Box<dyn Fn(&web_sys::Event) -> TailEvent>| {
        let on_event = Rc::clone(&on_event);
        let listener = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let tail_event = to_event(&event);
            if let Ok(mut on_event) = on_event.try_borrow_mut() {
                on_event(tail_event);
            }
        });
        source
            .add_event_listener_with_callback(name, listener.as_ref().unchecked_ref())
            .map_err(network_error)?;
        listeners.push(listener);
        Ok::<(), ApiError>(())
    };

    listen("open", Box::new(|_| TailEvent::Open))?;
    listen(
        "line",
        Box::new(|event| {
            let data = message_data(event);
            match serde_json::from_str::<LogLine>(&data) {
                Ok(line) => TailEvent::Line(Box::new(line)),
                Err(error) => TailEvent::Undecodable(error.to_string()),
            }
        }),
    )?;
    listen(
        "lagged",
        Box::new(|event| TailEvent::Lagged(message_data(event).trim().parse().unwrap_or(0))),
    )?;
    let state_of = source.clone();
    listen(
        "error",
        Box::new(move |_| {
            // The browser retries on its own unless the stream is closed
            // for good (an answer other than 200 with an event stream).
            if state_of.ready_state() == EventSource::CLOSED {
                TailEvent::Closed
            } else {
                TailEvent::Reconnecting
            }
        }),
    )?;
    Ok(LogTail {
        source,
        _listeners: listeners,
    })
}

/// The text of a Server-Sent Event.
fn message_data(event: &web_sys::Event) -> String {
    event
        .dyn_ref::<MessageEvent>()
        .and_then(|message| message.data().as_string())
        .unwrap_or_default()
}

thread_local! {
    /// The signed-in session's CSRF token, echoed on every request that
    /// changes something (the server refuses those without it).
    static CSRF_TOKEN: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Called when the server answers 401: the session ended.
    static ON_SIGNED_OUT: RefCell<Option<Rc<dyn Fn()>>> = RefCell::new(None);
}

/// Remembers the session's CSRF token (after signing in or on load).
pub fn set_csrf_token(token: Option<String>) {
    CSRF_TOKEN.with(|slot| *slot.borrow_mut() = token);
}

/// Registers what to do when any call finds the session gone.
pub fn on_signed_out(callback: impl Fn() + 'static) {
    ON_SIGNED_OUT.with(|slot| *slot.borrow_mut() = Some(Rc::new(callback)));
}

/// `GET /api/v1/auth/session`: who is signed in (401 when nobody).
pub async fn session() -> Result<SessionInfo, ApiError> {
    get_json("/api/v1/auth/session").await
}

/// `POST /api/v1/auth/login`.
pub async fn login(username: &str, password: &str) -> Result<SessionInfo, ApiError> {
    let body = LoginRequest {
        username: username.to_owned(),
        password: password.to_owned(),
    };
    send_json("POST", "/api/v1/auth/login", Some(&body)).await
}

/// `POST /api/v1/auth/logout`.
pub async fn logout() -> Result<(), ApiError> {
    send_empty("POST", "/api/v1/auth/logout", None::<&()>).await
}

/// `POST /api/v1/auth/password`: the signed-in user's own password.
pub async fn change_password(current: &str, new: &str) -> Result<(), ApiError> {
    let body = PasswordChange {
        current_password: current.to_owned(),
        new_password: new.to_owned(),
    };
    send_empty("POST", "/api/v1/auth/password", Some(&body)).await
}

/// `GET /api/v1/tokens`: the caller's tokens (an admin's: all).
pub async fn tokens() -> Result<Vec<TokenInfo>, ApiError> {
    get_json("/api/v1/tokens").await
}

/// `POST /api/v1/tokens`: the answer holds the secret, shown only once.
pub async fn create_token(name: &str, scope: &str) -> Result<CreatedToken, ApiError> {
    let body = NewToken {
        name: name.to_owned(),
        scope: scope.to_owned(),
    };
    send_json("POST", "/api/v1/tokens", Some(&body)).await
}

/// `DELETE /api/v1/tokens/{id}`.
pub async fn revoke_token(id: i64) -> Result<(), ApiError> {
    send_empty("DELETE", &format!("/api/v1/tokens/{id}"), None::<&()>).await
}

/// `GET /api/v1/users` (admins).
pub async fn users() -> Result<Vec<UserInfo>, ApiError> {
    get_json("/api/v1/users").await
}

/// `POST /api/v1/users` (admins).
pub async fn create_user(user: &NewUser) -> Result<UserInfo, ApiError> {
    send_json("POST", "/api/v1/users", Some(user)).await
}

/// `PATCH /api/v1/users/{id}` (admins).
pub async fn update_user(id: i64, change: &UserUpdate) -> Result<UserInfo, ApiError> {
    send_json("PATCH", &format!("/api/v1/users/{id}"), Some(change)).await
}

/// `PATCH /api/v1/issues/{id}`: a new status.
pub async fn set_issue_status(id: i64, status: &str) -> Result<(), ApiError> {
    let body = IssueUpdate {
        status: status.to_owned(),
    };
    send_empty("PATCH", &format!("/api/v1/issues/{id}"), Some(&body)).await
}

async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    send_json("GET", path, None::<&()>).await
}

async fn send_json<B: Serialize, T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<&B>,
) -> Result<T, ApiError> {
    let text = fetch(method, path, body).await?;
    serde_json::from_str(&text).map_err(|error| ApiError::Decode(error.to_string()))
}

async fn send_empty<B: Serialize>(
    method: &str,
    path: &str,
    body: Option<&B>,
) -> Result<(), ApiError> {
    fetch(method, path, body).await.map(|_| ())
}

/// One request to the server; the body of a 2xx answer as text.
async fn fetch<B: Serialize>(
    method: &str,
    path: &str,
    body: Option<&B>,
) -> Result<String, ApiError> {
    let window =
        web_sys::window().ok_or_else(|| ApiError::Network("no browser window".to_owned()))?;

    let init = RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        let json =
            serde_json::to_string(body).map_err(|error| ApiError::Decode(error.to_string()))?;
        init.set_body(&JsValue::from_str(&json));
    }
    let request = Request::new_with_str_and_init(path, &init).map_err(network_error)?;
    let headers = request.headers();
    headers
        .set("accept", "application/json")
        .map_err(network_error)?;
    if body.is_some() {
        headers
            .set("content-type", "application/json")
            .map_err(network_error)?;
    }
    if method != "GET" {
        if let Some(token) = CSRF_TOKEN.with(|slot| slot.borrow().clone()) {
            headers.set("x-csrf-token", &token).map_err(network_error)?;
        }
    }

    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(network_error)?
        .dyn_into()
        .map_err(network_error)?;
    let body = JsFuture::from(response.text().map_err(network_error)?)
        .await
        .map_err(network_error)?
        .as_string()
        .unwrap_or_default();

    if !response.ok() {
        // Signing in answers 401 for a wrong password: that is not a
        // session ending.
        if response.status() == 401 && path != "/api/v1/auth/login" {
            if let Some(callback) = ON_SIGNED_OUT.with(|slot| slot.borrow().clone()) {
                callback();
            }
        }
        let message = match serde_json::from_str::<ErrorBody>(&body) {
            Ok(error_body) => error_body.error,
            Err(_) if !response.status_text().is_empty() => response.status_text().to_lowercase(),
            // HTTP/2 has no reason phrase, so the text may be empty.
            Err(_) => "no details given".to_owned(),
        };
        return Err(ApiError::Status {
            status: response.status(),
            message,
        });
    }
    Ok(body)
}

/// Turns a rejected JS promise into text. Browsers reject `fetch` with a
/// `TypeError` whose message is all they tell a page about network failures.
fn network_error(value: JsValue) -> ApiError {
    let text = if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        String::from(error.message())
    } else if let Some(text) = value.as_string() {
        text
    } else {
        format!("{value:?}")
    };
    ApiError::Network(text.to_lowercase())
}
