//! `/api/v1`: JSON handlers. Thin: extract, call the store, serialize.

use axum::extract::{DefaultBodyLimit, FromRequest, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use partout_model::api::{Deploy, DeployQuery, NewDeployRequest, Status, StorageStatus, WhoAmI};

use super::auth::{Caller, Principal};
use super::error::ApiError;
use super::AppState;
use crate::store::tokens::Scope;
use crate::store::{deploys, unix_ms_now, SCHEMA_VERSION};

/// A deploy announcement is a few hundred bytes; anything near this is abuse.
const DEPLOY_BODY_LIMIT: usize = 64 * 1024;
/// Longest accepted text field of a deploy, in bytes.
const MAX_DEPLOY_FIELD_LEN: usize = 4096;

/// `axum::Json` whose rejections use our JSON error body.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/status", get(status))
        .route("/whoami", get(whoami))
        .route(
            "/deploys",
            get(list_deploys)
                .post(create_deploy)
                .layer(DefaultBodyLimit::max(DEPLOY_BODY_LIMIT)),
        )
        .fallback(|| async { ApiError::NotFound })
}

async fn status(State(state): State<AppState>) -> Json<Status> {
    let (sqlite_bytes, sqlite_wal_bytes) = state.store.file_sizes();
    Json(Status {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at_unix_ms: state.started_at_unix_ms,
        uptime_seconds: state.started.elapsed().as_secs(),
        data_dir: state.data_dir.display().to_string(),
        listeners: state.listeners.as_ref().clone(),
        storage: StorageStatus {
            schema_version: SCHEMA_VERSION,
            sqlite_bytes,
            sqlite_wal_bytes,
        },
    })
}

async fn whoami(caller: Caller) -> Json<WhoAmI> {
    let scope = caller.scope.as_str().to_owned();
    Json(match caller.principal {
        Principal::Token { name, .. } => WhoAmI {
            token_name: name,
            scope,
            username: None,
        },
        Principal::User { username, .. } => WhoAmI {
            token_name: String::new(),
            scope,
            username: Some(username),
        },
        Principal::Anonymous => WhoAmI {
            token_name: String::new(),
            scope,
            username: None,
        },
    })
}

async fn create_deploy(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewDeployRequest>,
) -> Result<(StatusCode, Json<Deploy>), ApiError> {
    caller.require(Scope::Ingest)?;
    let new = validate_deploy(request, unix_ms_now())?;
    let stored = state
        .store
        .write(move |conn| deploys::insert(conn, &new))
        .await?;
    state.telemetry.deploys_recorded.inc();
    tracing::info!(service = %stored.service, version = %stored.version, environment = %stored.environment, "deploy recorded");
    Ok((StatusCode::CREATED, Json(stored)))
}

async fn list_deploys(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<DeployQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Deploy>>, ApiError> {
    caller.require(Scope::Read)?;
    let Query(query) = query?;
    let found = state
        .store
        .read(move |conn| deploys::list(conn, &query))
        .await?;
    Ok(Json(found))
}

fn validate_deploy(request: NewDeployRequest, now_ms: i64) -> Result<deploys::NewDeploy, ApiError> {
    fn required(field: &str, value: String) -> Result<String, ApiError> {
        let value = value.trim().to_owned();
        if value.is_empty() {
            return Err(ApiError::BadRequest(format!("{field} must not be empty")));
        }
        bounded(field, value)
    }
    fn bounded(field: &str, value: String) -> Result<String, ApiError> {
        if value.len() > MAX_DEPLOY_FIELD_LEN {
            return Err(ApiError::BadRequest(format!(
                "{field} is longer than {MAX_DEPLOY_FIELD_LEN} bytes"
            )));
        }
        Ok(value)
    }
    let optional = |field: &str, value: Option<String>| -> Result<Option<String>, ApiError> {
        value
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .map(|v| bounded(field, v))
            .transpose()
    };
    Ok(deploys::NewDeploy {
        service: required("service", request.service)?,
        version: required("version", request.version)?,
        environment: optional("environment", request.environment)?
            .unwrap_or_else(|| "production".to_owned()),
        commit: optional("commit", request.commit)?,
        url: optional("url", request.url)?,
        description: optional("description", request.description)?,
        deployed_by: optional("deployed_by", request.deployed_by)?,
        deployed_at_ms: request.deployed_at_ms.unwrap_or(now_ms),
        received_at_ms: now_ms,
    })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{header, Request};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::super::{router, test_support};
    use crate::store::tokens::{self, Scope};

    async fn call(app: axum::Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, json)
    }
    use axum::http::StatusCode;

    fn post_deploy(token: &str, body: &str) -> Request<Body> {
        Request::post("/api/v1/deploys")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    }

    #[tokio::test]
    async fn deploys_need_a_token_with_the_right_scope() {
        let (state, _dir) = test_support::state().await;
        for (secret, scope) in [
            ("reader-token-0123456", Scope::Read),
            ("writer-token-0123456", Scope::Write),
        ] {
            state
                .store
                .write(move |conn| tokens::ensure(conn, "t", scope, secret))
                .await
                .unwrap();
        }
        let body = r#"{"service":"api","version":"1.2.3","commit":"abc"}"#;
        let app = router(state);

        let no_token = Request::post("/api/v1/deploys")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let (status, json) = call(app.clone(), no_token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(json["error"].as_str().unwrap().contains("Bearer"));

        let (status, _) = call(app.clone(), post_deploy("wrong-token-01234567", body)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = call(app.clone(), post_deploy("reader-token-0123456", body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, json) = call(app.clone(), post_deploy("writer-token-0123456", body)).await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
        assert_eq!(json["environment"], "production");

        let list = Request::get("/api/v1/deploys?service=api")
            .header(header::AUTHORIZATION, "Bearer reader-token-0123456")
            .body(Body::empty())
            .unwrap();
        let (status, json) = call(app, list).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json[0]["version"], "1.2.3");
        assert_eq!(json[0]["commit"], "abc");
    }

    #[tokio::test]
    async fn bad_deploy_bodies_get_clear_json_errors() {
        let (state, _dir) = test_support::state().await;
        state
            .store
            .write(|conn| tokens::ensure(conn, "t", Scope::Admin, "admin-token-0123456"))
            .await
            .unwrap();
        let app = router(state);
        // Syntax errors, missing or unknown fields and blank values are all
        // the client's fault: 400 with a message saying which.
        let cases = [
            "{not json",
            r#"{"service":"api"}"#,
            r#"{"service":" ","version":"1"}"#,
            r#"{"service":"a","version":"1","colour":"red"}"#,
        ];
        for body in cases {
            let (status, json) = call(app.clone(), post_deploy("admin-token-0123456", body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {json}");
            assert!(!json["error"].as_str().unwrap().is_empty(), "{body}");
        }
        let huge = format!(r#"{{"service":"a","version":"{}"}}"#, "x".repeat(70_000));
        let (status, _) = call(app, post_deploy("admin-token-0123456", &huge)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn status_reports_version_listeners_and_schema() {
        let (state, _dir) = test_support::state().await;
        let app = router(state);
        let (status, json) = call(
            app.clone(),
            Request::get("/api/v1/status")
                .header(test_support::admin_auth().0, test_support::admin_auth().1)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(json["listeners"]["http"], "127.0.0.1:1");
        assert_eq!(
            json["storage"]["schema_version"],
            crate::store::SCHEMA_VERSION
        );
        let (status, json) = call(
            app,
            Request::get("/api/v1/nope")
                .header(test_support::admin_auth().0, test_support::admin_auth().1)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(json["error"], "no such resource");
    }
}
