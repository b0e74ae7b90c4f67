//! What Elasticsearch clients ask before they send: the cluster's version
//! (`GET /`), license, features, health, and whether templates, ILM
//! policies, data streams and indices exist (or creating them). Each gets
//! a small plausible answer and changes nothing: partout indexes every
//! field of every line on its own.
//!
//! ```text
//! GET /  Accept: application/json  -> {"version":{"number":"8.11.0",...},
//!                                      "tagline":"You Know, for Search",...}
//! GET /  Accept: text/html,...     -> the web app, as before
//! PUT /_index_template/filebeat-8.11.0 -> {"acknowledged":true}
//! ```

use axum::body::Body;
use axum::extract::{MatchedPath, Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// The version clients read from `GET /`: recent enough for every 8.x
/// client's compatibility check, and what the docs were checked against.
const VERSION: &str = "8.11.0";
const CLUSTER_NAME: &str = "partout";

/// Whether a request comes from an Elasticsearch client rather than a
/// browser: the official clients say so in `X-Elastic-Client-Meta` or
/// their `Accept`; other shippers send no `Accept` or a JSON one, while
/// every browser navigation asks for `text/html`. A person probing with
/// `curl` or `wget` (which send `*/*`) is shown the app, as a browser is.
fn looks_like_elastic_client(headers: &HeaderMap) -> bool {
    if headers.contains_key("x-elastic-client-meta") {
        return true;
    }
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if user_agent.starts_with("curl/") || user_agent.starts_with("wget/") {
        return false;
    }
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase();
    accept.contains("application/vnd.elasticsearch") || !accept.contains("text/html")
}

/// Middleware over the whole router for the paths Elasticsearch shares
/// with the web app: `GET /` and `HEAD /` from an Elasticsearch client get
/// the cluster information (browsers keep getting the app), and a `PUT`
/// or client's `HEAD` of a one-segment path that no route claims is an
/// index creation or existence check, acknowledged. Anything a route
/// answers, and every other request, passes through untouched.
pub async fn elastic_root(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if method != Method::GET && method != Method::HEAD && method != Method::PUT {
        return next.run(request).await;
    }
    let path = request.uri().path();
    let from_client = looks_like_elastic_client(request.headers());
    if path == "/" && method != Method::PUT && from_client {
        return head_or_body(&method, cluster_info());
    }
    // The fallback is the only handler without a matched path.
    let unclaimed = request.extensions().get::<MatchedPath>().is_none();
    let Some(index) = path.strip_prefix('/').filter(|_| unclaimed) else {
        return next.run(request).await;
    };
    if !plausible_index_name(index) {
        return next.run(request).await;
    }
    let answer = match method {
        Method::PUT => json!({"acknowledged": true, "shards_acknowledged": true, "index": index}),
        Method::HEAD if from_client => json!({}),
        _ => return next.run(request).await,
    };
    head_or_body(&method, answer)
}

/// One path segment Elasticsearch could take as an index name, left as
/// sent (Logstash's date math comes percent-encoded:
/// `%3Clogstash-%7Bnow%2Fd%7D-000001%3E`). A leading `_` is Elasticsearch's
/// own API namespace: an unknown API there is not found, not acknowledged.
fn plausible_index_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('/') && !name.starts_with('_')
}

fn head_or_body(method: &Method, body: Value) -> Response {
    let mut response = if method == Method::HEAD {
        let mut response = Response::new(Body::empty());
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    } else {
        Json(body).into_response()
    };
    super::elastic::mark_elastic(&mut response);
    response
}

/// `GET /`: what clients read the version and flavor from.
fn cluster_info() -> Value {
    json!({
        "name": CLUSTER_NAME,
        "cluster_name": CLUSTER_NAME,
        "cluster_uuid": "partout-0000000000000",
        "version": {
            "number": VERSION,
            "build_flavor": "default",
            "build_type": "partout",
            "build_hash": env!("CARGO_PKG_VERSION"),
            "build_date": "2023-11-04T10:04:57.184859352Z",
            "build_snapshot": false,
            "lucene_version": "9.8.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0"
        },
        "tagline": "You Know, for Search"
    })
}

pub(super) async fn license() -> Json<Value> {
    Json(json!({
        "license": {
            "status": "active",
            "uid": "00000000-0000-0000-0000-000000000000",
            "type": "basic",
            "issue_date": "2023-11-04T00:00:00.000Z",
            "issue_date_in_millis": 1_699_056_000_000_i64,
            "max_nodes": 1000,
            "max_resource_units": null,
            "issued_to": CLUSTER_NAME,
            "issuer": "elasticsearch",
            "start_date_in_millis": -1
        }
    }))
}

/// `GET /_xpack`: every feature off, so clients that can (Beats, Logstash)
/// skip ILM and security set-up.
pub(super) async fn xpack() -> Json<Value> {
    let off = json!({"available": false, "enabled": false});
    let features: serde_json::Map<String, Value> = [
        "ilm",
        "security",
        "monitoring",
        "watcher",
        "ml",
        "graph",
        "data_streams",
        "searchable_snapshots",
    ]
    .into_iter()
    .map(|name| (name.to_owned(), off.clone()))
    .collect();
    Json(json!({
        "build": {"hash": env!("CARGO_PKG_VERSION"), "date": "2023-11-04T10:04:57.184859352Z"},
        "license": {
            "uid": "00000000-0000-0000-0000-000000000000",
            "type": "basic",
            "mode": "basic",
            "status": "active"
        },
        "features": features,
        "tagline": "You know, for X"
    }))
}

/// `GET /_cluster/health`: Vector's health check wants a 200.
pub(super) async fn cluster_health() -> Json<Value> {
    Json(json!({
        "cluster_name": CLUSTER_NAME,
        "status": "green",
        "timed_out": false,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": 0,
        "active_shards": 0,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
        "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": 100.0
    }))
}

/// `PUT` of a template, policy or data stream: accepted and forgotten,
/// since partout indexes every field of every line on its own.
pub(super) async fn acknowledged() -> Json<Value> {
    Json(json!({"acknowledged": true}))
}

/// `GET` of a template, policy or data stream: it exists, in the shape
/// its API answers, so clients do not try to create it again.
pub(super) async fn describe(matched: MatchedPath, Path(name): Path<String>) -> Json<Value> {
    let pattern = format!("{name}*");
    let body = match matched.as_str() {
        "/_index_template/{name}" => json!({"index_templates": [{
            "name": name,
            "index_template": {"index_patterns": [pattern], "composed_of": []}
        }]}),
        "/_template/{name}" => json!({ name: {
            "order": 0, "index_patterns": [pattern],
            "settings": {}, "mappings": {}, "aliases": {}
        }}),
        "/_ilm/policy/{name}" => json!({ name: {
            "version": 1,
            "modified_date": "2023-11-04T00:00:00.000Z",
            "policy": {"phases": {}}
        }}),
        _ => json!({"data_streams": [{
            "name": name,
            "timestamp_field": {"name": "@timestamp"},
            "indices": [],
            "generation": 1,
            "status": "GREEN",
            "template": name,
            "hidden": false,
            "system": false
        }]}),
    };
    Json(body)
}
