//! The log shippers' own APIs, so Vector, Fluent Bit, Filebeat, Logstash,
//! Promtail and Grafana Alloy send logs to partout with their stock
//! Elasticsearch or Loki outputs and no plugin.
//!
//! ```text
//! POST /_bulk, POST /{index}/_bulk   Elasticsearch bulk (NDJSON, gzip)   token: ingest
//! GET / (from an ES client)          cluster info                         no token
//! GET /_license, /_xpack, /_cluster/health,
//! GET|PUT /_index_template/{name}, /_template/{name}, /_ilm/policy/{name},
//!   /_data_stream/{name}, PUT|HEAD /{index}                            token: ingest
//! POST /loki/api/v1/push             Loki push (JSON, or snappy protobuf) token: ingest
//! GET /ready                         Loki's readiness (Vector's health check) token: ingest
//!
//! The access gate (`http::auth`) refuses callers without a token before
//! these handlers run, in the API's own error shape ([`refusal`]), unless
//! `auth.open_ingest` opened the API.
//! ```
//!
//! For example, what Filebeat sends once it has read `GET /`:
//!
//! ```text
//! POST /filebeat-8.11.0/_bulk   Authorization: Basic ZWxhc3RpYzpzM2NyZXQ=  (elastic:<token>)
//! {"create":{}}
//! {"@timestamp":"2026-11-22T11:18:20.113Z","message":"GET / 200","host":{"name":"web1"}}
//! -> 200 {"took":3,"errors":false,"items":[{"create":{"_index":"filebeat-8.11.0",
//!         "_id":"...","_version":1,"result":"created",...,"status":201}}]}
//! ```
//!
//! The token is the Basic-auth password (any user name) or a bearer token,
//! as [`super::auth`] reads it.
//!
//! # Layout
//! - `elastic`: the bulk API
//! - `discovery`: what Elasticsearch clients ask before they send, and
//!   [`elastic_root`], the middleware for the two paths the web app shares
//!   with Elasticsearch (`/` and `/{index}`)
//! - `loki`: the push API

mod discovery;
mod elastic;
mod loki;
#[cfg(test)]
mod tests;

use axum::response::{IntoResponse, Response};
use axum::Router;

pub use discovery::elastic_root;

use super::error::ApiError;
use super::AppState;
use crate::access::policy::IngestApi;

/// A refusal by the access gate, in the shape the API's clients expect:
/// Elasticsearch's error object, Loki's text line with a Basic challenge.
pub fn refusal(api: Option<IngestApi>, error: ApiError) -> Response {
    match api {
        Some(IngestApi::Elasticsearch) => {
            let mut response = elastic::error_response(error);
            elastic::mark_elastic(&mut response);
            response
        }
        Some(IngestApi::Loki) => loki::error_response(error),
        _ => error.into_response(),
    }
}

/// The shippers' routes. [`elastic_root`] must wrap the whole router too:
/// `GET /` and single-segment paths belong to the web app, so they cannot
/// be routes of their own.
pub fn routes() -> Router<AppState> {
    elastic::routes().merge(loki::routes())
}
