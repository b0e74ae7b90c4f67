//! The shippers' APIs through the whole router, as the shippers send:
//! bodies shaped like Vector's, Filebeat's, Promtail's and Fluent Bit's,
//! then a search for what was stored.

use std::io::Write;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use partout_protocols::jsonlog::FieldValue;
use serde_json::Value;
use tower::ServiceExt;

use super::super::{router, test_support, AppState};
use crate::logs::day::rfc3339;
use crate::logs::lang;
use crate::logs::record::LogRecord;
use crate::logs::search::Scope;
use crate::store::tokens::{self, Scope as TokenScope};

const TOKEN: &str = "ship-token-0123456789";

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn is_elastic(&self) -> bool {
        self.headers
            .get("x-elastic-product")
            .is_some_and(|value| value == "Elasticsearch")
    }
}

async fn app() -> (Router, AppState, tempfile::TempDir) {
    let (state, dir) = test_support::state().await;
    for (secret, scope) in [
        (TOKEN, TokenScope::Ingest),
        ("read-token-0123456789", TokenScope::Read),
    ] {
        state
            .store
            .write(move |conn| tokens::ensure(conn, "t", scope, secret))
            .await
            .unwrap();
    }
    (router(state.clone()), state, dir)
}

async fn call(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// A bulk request with the ingest token.
fn post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(body.into())
        .unwrap()
}

/// Every stored line matching `query`, newest first.
async fn search(state: &AppState, query: &str) -> Vec<LogRecord> {
    state.logs.commit().await.unwrap();
    let scope = Scope {
        query: lang::parse(query).unwrap(),
        from_nanos: 0,
        until_nanos: i64::MAX,
    };
    let (hits, _) = state.logs.search(&scope, 1000, None).unwrap();
    hits.into_iter().map(|hit| hit.record).collect()
}

fn field<'a>(record: &'a LogRecord, name: &str) -> Option<&'a FieldValue> {
    record
        .fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

fn rejected(state: &AppState, protocol: &str, reason: &str) -> u64 {
    state
        .telemetry
        .rejected_items
        .get_or_create(&crate::telemetry::RejectLabels {
            protocol: protocol.to_owned(),
            reason: reason.to_owned(),
        })
        .get()
}

fn text(value: &str) -> Option<FieldValue> {
    Some(FieldValue::Text(value.to_owned()))
}

fn now_nanos() -> i64 {
    super::super::logs_api::now_nanos()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vector_bulk_with_index_is_stored_and_answered_per_item() {
    let (app, state, _dir) = app().await;
    let at = rfc3339(now_nanos() - 5_000_000_000);
    let body = format!(
        "{{\"create\":{{\"_index\":\"vector-2026.11.22\"}}}}\n\
         {{\"@timestamp\":\"{at}\",\"message\":\"vector first line\",\"host\":\"web1\",\"level\":\"warn\"}}\n\
         {{\"index\":{{\"_index\":\"vector-2026.11.22\",\"_id\":\"given-7\"}}}}\n\
         {{\"@timestamp\":\"{at}\",\"message\":\"vector second line\",\"host\":\"web1\"}}\n"
    );
    let answer = call(&app, post("/_bulk?timeout=60s", body)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert!(answer.is_elastic());
    let json = answer.json();
    assert_eq!(json["errors"], false);
    assert!(json["took"].is_u64());
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let created = &items[0]["create"];
    assert_eq!(created["status"], 201);
    assert_eq!(created["result"], "created");
    assert_eq!(created["_index"], "vector-2026.11.22");
    assert_eq!(created["_version"], 1);
    assert_eq!(created["_primary_term"], 1);
    assert_eq!(created["_shards"]["successful"], 1);
    assert!(!created["_id"].as_str().unwrap().is_empty());
    let indexed = &items[1]["index"];
    assert_eq!(indexed["_id"], "given-7");
    assert_eq!(indexed["status"], 201);
    assert!(indexed["_seq_no"].as_u64() > created["_seq_no"].as_u64());

    let found = search(&state, "vector").await;
    assert_eq!(found.len(), 2, "{found:?}");
    let first = found
        .iter()
        .find(|record| record.message == "vector first line")
        .unwrap();
    assert_eq!(first.host.as_deref(), Some("web1"));
    assert_eq!(first.level.map(|level| level.as_str()), Some("warn"));
    assert_eq!(field(first, "es_index"), text("vector-2026.11.22").as_ref());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_ids_are_unique() {
    let (app, _state, _dir) = app().await;
    let body = "{\"index\":{}}\n{\"message\":\"a\"}\n".repeat(50);
    let json = call(&app, post("/logs/_bulk", body)).await.json();
    let mut ids: Vec<&str> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["index"]["_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filebeat_gzip_bulk_takes_the_index_from_the_path_and_basic_auth() {
    let (app, state, _dir) = app().await;
    let at = rfc3339(now_nanos() - 1_000_000_000);
    let body = format!(
        "{{\"create\":{{}}}}\n\
         {{\"@timestamp\":\"{at}\",\"message\":\"filebeat harvested line\",\
           \"log\":{{\"file\":{{\"path\":\"/var/log/app.log\"}}}},\"host\":{{\"name\":\"db2\"}}}}\n"
    );
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body.as_bytes()).unwrap();
    let gzipped = encoder.finish().unwrap();
    let request = Request::post("/filebeat-8.11.0/_bulk")
        .header(header::AUTHORIZATION, basic("elastic", TOKEN))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .header(header::USER_AGENT, "Elastic-filebeat/8.11.0 (linux; amd64)")
        .body(Body::from(gzipped))
        .unwrap();
    let answer = call(&app, request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let json = answer.json();
    assert_eq!(json["errors"], false);
    assert_eq!(json["items"][0]["create"]["_index"], "filebeat-8.11.0");

    let found = search(&state, "harvested").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].host.as_deref(), Some("db2"));
    assert_eq!(
        field(&found[0], "es_index"),
        text("filebeat-8.11.0").as_ref()
    );
    assert_eq!(
        field(&found[0], "log.file.path"),
        text("/var/log/app.log").as_ref()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_items_get_their_own_status_and_the_rest_is_stored() {
    let (app, state, _dir) = app().await;
    let body = "{\"index\":{\"_index\":\"mixed\"}}\n{\"message\":\"kept before\"}\n\
                {\"update\":{\"_id\":\"1\"}}\n{\"doc\":{\"message\":\"never updated\"}}\n\
                {\"delete\":{\"_id\":\"2\"}}\n\
                not json at all\n\
                {\"create\":{}}\n{\"message\":\"kept after\"}\n\
                {\"create\":{\"_index\":[1]}}\n{\"message\":\"bad metadata\"}\n\
                {\"index\":{}}\n";
    let answer = call(&app, post("/_bulk", body)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let json = answer.json();
    assert_eq!(json["errors"], true);
    let statuses: Vec<(String, u64)> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let (action, result) = item.as_object().unwrap().iter().next().unwrap();
            (action.clone(), result["status"].as_u64().unwrap())
        })
        .collect();
    let expected = [
        ("index", 201),
        ("update", 400),
        ("delete", 400),
        ("index", 400),
        ("create", 201),
        ("create", 400),
        ("index", 400),
    ];
    let expected: Vec<(String, u64)> = expected
        .iter()
        .map(|(action, status)| ((*action).to_owned(), *status))
        .collect();
    assert_eq!(statuses, expected);
    let update = &json["items"][1]["update"];
    assert_eq!(update["_id"], "1");
    assert_eq!(update["error"]["type"], "illegal_argument_exception");
    assert!(update["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("update"));
    assert!(json["items"][3]["index"]["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("[line 6]"));
    assert_eq!(
        json["items"][6]["index"]["error"]["type"],
        "action_request_validation_exception"
    );

    let mut kept: Vec<String> = search(&state, "")
        .await
        .into_iter()
        .map(|record| record.message)
        .collect();
    kept.sort();
    assert_eq!(kept, ["kept after", "kept before"]);
    assert_eq!(rejected(&state, "elasticsearch", "unsupported_update"), 1);
    assert_eq!(rejected(&state, "elasticsearch", "bad_bulk_action"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_items_are_refused_whole() {
    let (app, state, _dir) = app().await;
    let body = "{\"index\":{}}\n{}\n".repeat(super::elastic::MAX_BULK_ITEMS + 1);
    let answer = call(&app, post("/_bulk", body)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.json()["status"], 413);
    assert!(search(&state, "").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_needs_an_ingest_token() {
    let (app, _state, _dir) = app().await;
    let body = "{\"index\":{}}\n{\"message\":\"x\"}\n";
    for path in ["/_bulk", "/loki/api/v1/push"] {
        let no_token = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let answer = call(&app, no_token).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{path}");
        let challenges: Vec<_> = answer
            .headers
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect();
        assert!(challenges[0].starts_with("Basic"), "{path}: {challenges:?}");
        assert_eq!(answer.is_elastic(), path == "/_bulk");

        let wrong = Request::post(path)
            .header(
                header::AUTHORIZATION,
                basic("elastic", "not-a-token-000000"),
            )
            .body(Body::from(body))
            .unwrap();
        assert_eq!(call(&app, wrong).await.status, StatusCode::UNAUTHORIZED);
        let reader = Request::post(path)
            .header(header::AUTHORIZATION, "Bearer read-token-0123456789")
            .body(Body::from(body))
            .unwrap();
        assert_eq!(call(&app, reader).await.status, StatusCode::FORBIDDEN);
    }
    let answer = call(
        &app,
        Request::post("/_bulk").body(Body::from(body)).unwrap(),
    )
    .await;
    assert_eq!(answer.json()["error"]["type"], "security_exception");
}

fn get(path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    request(Method::GET, path, headers)
}

fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).unwrap()
}

const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";

#[tokio::test]
async fn root_is_the_web_app_for_browsers_and_cluster_info_for_clients() {
    let (app, _state, _dir) = app().await;
    let browser = call(&app, get("/", &[("accept", BROWSER_ACCEPT)])).await;
    // The web app, or the page saying it was not built: as before.
    assert!(
        browser.status == StatusCode::OK || browser.status == StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        browser.status
    );
    assert!(browser
        .text()
        .to_ascii_lowercase()
        .contains("<!doctype html"));
    assert!(!browser.is_elastic());
    for user_agent in ["curl/8.5.0", "Wget/1.21.4"] {
        let person = call(
            &app,
            get("/", &[("user-agent", user_agent), ("accept", "*/*")]),
        )
        .await;
        assert!(!person.is_elastic(), "{user_agent}");
    }

    let clients: [&[(&str, &str)]; 4] = [
        // The official clients.
        &[
            (
                "accept",
                "application/vnd.elasticsearch+json; compatible-with=8",
            ),
            (
                "x-elastic-client-meta",
                "es=8.11.0,py=3.11.4,t=8.10.0,ur=2.0.7",
            ),
        ],
        // Filebeat, Logstash.
        &[("accept", "application/json")],
        // Vector: no Accept at all.
        &[("user-agent", "Vector/0.34.0")],
        // A client that asks for HTML anyway but says who it is.
        &[
            ("accept", "text/html"),
            ("x-elastic-client-meta", "es=8.11.0"),
        ],
    ];
    for headers in clients {
        let answer = call(&app, get("/", headers)).await;
        assert_eq!(answer.status, StatusCode::OK, "{headers:?}");
        assert!(answer.is_elastic(), "{headers:?}");
        let json = answer.json();
        assert_eq!(json["version"]["number"], "8.11.0");
        assert_eq!(json["version"]["build_flavor"], "default");
        assert_eq!(json["tagline"], "You Know, for Search");
        assert!(json["cluster_name"].is_string() && json["name"].is_string());
    }
    let head = call(&app, request(Method::HEAD, "/", &[])).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.is_elastic());
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn discovery_endpoints_answer_an_ingest_token_and_refuse_anonymous_callers() {
    let (app, _state, _dir) = app().await;
    let auth = basic("filebeat", TOKEN);
    let with_token = [("authorization", auth.as_str())];
    for (method, path) in [
        (Method::GET, "/_license"),
        (Method::PUT, "/_index_template/filebeat-8.11.0"),
        (Method::PUT, "/vector-2026.11.22"),
        (Method::HEAD, "/filebeat-8.11.0"),
    ] {
        let anonymous = call(&app, request(method.clone(), path, &[])).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert!(anonymous.is_elastic(), "{method} {path}");
    }
    let cases = [
        (Method::GET, "/_license", "license"),
        (Method::GET, "/_xpack", "features"),
        (Method::GET, "/_cluster/health", "status"),
        (
            Method::GET,
            "/_index_template/filebeat-8.11.0",
            "index_templates",
        ),
        (
            Method::PUT,
            "/_index_template/filebeat-8.11.0",
            "acknowledged",
        ),
        (Method::GET, "/_template/logstash", "logstash"),
        (Method::PUT, "/_template/logstash", "acknowledged"),
        (Method::GET, "/_ilm/policy/filebeat", "filebeat"),
        (Method::PUT, "/_ilm/policy/filebeat", "acknowledged"),
        (
            Method::GET,
            "/_data_stream/logs-app-default",
            "data_streams",
        ),
        (
            Method::PUT,
            "/_data_stream/logs-app-default",
            "acknowledged",
        ),
        (Method::PUT, "/vector-2026.11.22", "acknowledged"),
        (
            Method::PUT,
            "/%3Clogstash-%7Bnow%2Fd%7D-000001%3E",
            "acknowledged",
        ),
    ];
    for (method, path, key) in cases {
        let answer = call(&app, request(method.clone(), path, &with_token)).await;
        assert_eq!(answer.status, StatusCode::OK, "{method} {path}");
        assert!(answer.is_elastic(), "{method} {path}");
        assert!(
            answer.json().get(key).is_some(),
            "{method} {path}: {}",
            answer.text()
        );
    }
    assert_eq!(
        call(&app, request(Method::GET, "/_license", &with_token))
            .await
            .json()["license"]["type"],
        "basic"
    );
    let exists = call(&app, request(Method::HEAD, "/filebeat-8.11.0", &with_token)).await;
    assert_eq!(exists.status, StatusCode::OK);
    assert!(exists.is_elastic());
    let template = call(
        &app,
        request(Method::HEAD, "/_index_template/filebeat", &with_token),
    )
    .await;
    assert_eq!(template.status, StatusCode::OK);
    assert!(template.is_elastic());
}

#[tokio::test]
async fn index_paths_shadow_nothing_that_exists() {
    let (app, _state, _dir) = app().await;
    let admin = format!("Bearer {}", test_support::ADMIN_TOKEN);
    let ingest = basic("filebeat", TOKEN);
    // Existing routes keep their answers, whatever the method.
    let put_metrics = call(
        &app,
        request(Method::PUT, "/metrics", &[("authorization", &admin)]),
    )
    .await;
    assert_eq!(put_metrics.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(!put_metrics.is_elastic());
    let healthz = call(&app, get("/healthz", &[])).await;
    assert_eq!(healthz.status, StatusCode::OK);
    assert!(!healthz.is_elastic());
    let metrics = call(&app, get("/metrics", &[("authorization", &admin)])).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(!metrics.is_elastic());
    // One-segment pages and client routes still get the web app.
    for path in ["/some-page", "/ui/logs", "/favicon.ico"] {
        let page = call(
            &app,
            get(
                path,
                &[("accept", BROWSER_ACCEPT), ("authorization", &admin)],
            ),
        )
        .await;
        assert!(
            page.text().to_ascii_lowercase().contains("<!doctype html"),
            "{path}"
        );
        assert!(!page.is_elastic(), "{path}");
    }
    // An unknown Elasticsearch API is not acknowledged.
    let unknown = call(
        &app,
        request(Method::PUT, "/_unknown_api", &[("authorization", &ingest)]),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    // The bulk route under a path that is also a route's prefix.
    let bulk = call(&app, request(Method::POST, "/metrics/_bulk", &[])).await;
    assert_eq!(bulk.status, StatusCode::UNAUTHORIZED);
    assert!(bulk.is_elastic());
}

/// A Loki push the way Fluent Bit's `loki` output sends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_json_push_is_stored_with_labels_as_fields() {
    let (app, state, _dir) = app().await;
    let at = now_nanos() - 2_000_000_000;
    let body = format!(
        r#"{{"streams":[{{"stream":{{"job":"varlogs","instance":"web3","env":"prod"}},
            "values":[["{at}","json pushed line"],
                      ["{}","json pushed with metadata",{{"trace_id":"4bf92f"}}]]}}]}}"#,
        at + 1
    );
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body.as_bytes()).unwrap();
    let request = Request::post("/loki/api/v1/push")
        .header(header::AUTHORIZATION, basic("loki", TOKEN))
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(encoder.finish().unwrap()))
        .unwrap();
    let answer = call(&app, request).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text());
    assert!(answer.body.is_empty());

    let found = search(&state, "job:varlogs").await;
    assert_eq!(found.len(), 2, "{found:?}");
    let plain = found
        .iter()
        .find(|record| record.message == "json pushed line")
        .unwrap();
    assert_eq!(plain.timestamp_nanos, at);
    assert_eq!(plain.service.as_deref(), Some("varlogs"));
    assert_eq!(plain.host.as_deref(), Some("web3"));
    assert_eq!(field(plain, "env"), text("prod").as_ref());
    let with_metadata = found
        .iter()
        .find(|record| record.message == "json pushed with metadata")
        .unwrap();
    assert_eq!(field(with_metadata, "trace_id"), text("4bf92f").as_ref());
    assert_eq!(search(&state, "trace_id:4bf92f").await.len(), 1);
}

/// Protobuf in Loki's `push.proto` shape, encoded by hand.
mod proto {
    fn varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push((value as u8) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    pub fn bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
        varint(out, field << 3 | 2);
        varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }

    pub fn number(out: &mut Vec<u8>, field: u64, value: u64) {
        varint(out, field << 3);
        varint(out, value);
    }

    /// An `EntryAdapter`: timestamp, line, structured metadata.
    pub fn entry(unix_nanos: i64, line: &str, metadata: &[(&str, &str)]) -> Vec<u8> {
        let mut timestamp = Vec::new();
        number(&mut timestamp, 1, (unix_nanos / 1_000_000_000) as u64);
        number(&mut timestamp, 2, (unix_nanos % 1_000_000_000) as u64);
        let mut out = Vec::new();
        bytes(&mut out, 1, &timestamp);
        bytes(&mut out, 2, line.as_bytes());
        for (name, value) in metadata {
            let mut pair = Vec::new();
            bytes(&mut pair, 1, name.as_bytes());
            bytes(&mut pair, 2, value.as_bytes());
            bytes(&mut out, 3, &pair);
        }
        out
    }
}

/// A push the way Promtail and Alloy send it: snappy-compressed protobuf.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_protobuf_push_is_found_by_label() {
    let (app, state, _dir) = app().await;
    let at = now_nanos() - 3_000_000_000;
    let mut stream = Vec::new();
    proto::bytes(
        &mut stream,
        1,
        br#"{job="promtail-test", host="node7", level="error"}"#,
    );
    for n in 0..3 {
        let line = format!("protobuf entry {n} with some repeated text repeated text");
        let entry = proto::entry(at + n, &line, &[("trace_id", "ab12")]);
        proto::bytes(&mut stream, 2, &entry);
    }
    proto::number(&mut stream, 3, 12345);
    let mut push = Vec::new();
    proto::bytes(&mut push, 1, &stream);
    let compressed = snap::raw::Encoder::new().compress_vec(&push).unwrap();
    let request = Request::post("/loki/api/v1/push")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .header(header::USER_AGENT, "promtail/2.9.2")
        .body(Body::from(compressed))
        .unwrap();
    let answer = call(&app, request).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text());

    let found = search(&state, "job:promtail-test").await;
    assert_eq!(found.len(), 3, "{found:?}");
    let first = found
        .iter()
        .find(|record| record.message.starts_with("protobuf entry 0"))
        .unwrap();
    assert_eq!(first.timestamp_nanos, at);
    assert_eq!(first.service.as_deref(), Some("promtail-test"));
    assert_eq!(first.host.as_deref(), Some("node7"));
    assert_eq!(first.level.map(|level| level.as_str()), Some("error"));
    assert_eq!(field(first, "trace_id"), text("ab12").as_ref());
    assert_eq!(search(&state, "service:promtail-test").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_loki_bodies_get_400_with_a_plain_reason() {
    let (app, state, _dir) = app().await;
    let cases: [(&str, Vec<u8>); 4] = [
        ("application/json", b"{\"streams\":[{\"stream\":".to_vec()),
        (
            "application/json",
            br#"{"streams":[{"stream":{"a":"1"},"values":[["soon","x"]]}]}"#.to_vec(),
        ),
        ("application/x-protobuf", b"not snappy at all".to_vec()),
        (
            "application/x-protobuf",
            snap::raw::Encoder::new().compress_vec(b"\x0a\xff").unwrap(),
        ),
    ];
    for (content_type, body) in cases {
        let request = Request::post("/loki/api/v1/push")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let answer = call(&app, request).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text());
        assert!(answer.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        assert!(answer.text().trim().len() > 5, "{}", answer.text());
    }
    assert!(search(&state, "").await.is_empty());
    assert_eq!(rejected(&state, "loki", "bad_snappy"), 1);
}
