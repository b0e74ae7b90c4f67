//! Signing in, roles, CSRF, token scopes and throttling, through the
//! whole router as a browser or a script would use them.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::super::auth::CSRF_HEADER;
use super::super::test_support::ADMIN_TOKEN;
use super::super::{router, test_support};
use crate::access::password;
use crate::store::unix_ms_now;
use crate::store::users::{self, Role};

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

/// How a request authenticates.
#[derive(Clone, Copy)]
enum As<'a> {
    Nobody,
    Token(&'a str),
    /// A browser: the session cookie, and the CSRF token if given.
    Browser(&'a Session, bool),
}

struct Session {
    cookie: String,
    csrf: String,
}

async fn call(app: &Router, method: Method, path: &str, who: As<'_>, body: Value) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    match who {
        As::Nobody => {}
        As::Token(token) => {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        As::Browser(session, with_csrf) => {
            request = request.header(header::COOKIE, &session.cookie);
            if with_csrf {
                request = request.header(CSRF_HEADER, &session.csrf);
            }
        }
    }
    let body = if body.is_null() {
        Body::empty()
    } else {
        Body::from(body.to_string())
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        json,
    }
}

async fn setup() -> (Router, crate::http::AppState, tempfile::TempDir) {
    let (state, dir) = test_support::state().await;
    for (name, role) in [
        ("vera", Role::Viewer),
        ("eddie", Role::Editor),
        ("ada", Role::Admin),
    ] {
        let hash = password::hash(&format!("{name}-password")).unwrap();
        state
            .store
            .write(move |conn| Ok(users::create(conn, name, role, &hash, unix_ms_now()).unwrap()))
            .await
            .unwrap();
    }
    (router(state.clone()), state, dir)
}

async fn sign_in(app: &Router, name: &str) -> Session {
    let answer = call(
        app,
        Method::POST,
        "/api/v1/auth/login",
        As::Nobody,
        json!({"username": name, "password": format!("{name}-password")}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    let set_cookie = answer.headers[header::SET_COOKIE].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "no TLS here: {set_cookie}");
    Session {
        cookie: set_cookie.split(';').next().unwrap().to_owned(),
        csrf: answer.json["csrf_token"].as_str().unwrap().to_owned(),
    }
}

fn deploy() -> Value {
    json!({"service": "api", "version": "1.2.3"})
}

#[tokio::test]
async fn a_session_reads_by_role_and_changes_need_the_csrf_token() {
    let (app, _state, _dir) = setup().await;
    let vera = sign_in(&app, "vera").await;
    let eddie = sign_in(&app, "eddie").await;

    let me = call(
        &app,
        Method::GET,
        "/api/v1/auth/session",
        As::Browser(&vera, false),
        Value::Null,
    )
    .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json["username"], "vera");
    assert_eq!(me.json["role"], "viewer");

    // A viewer reads, and cannot change anything.
    let read = call(
        &app,
        Method::GET,
        "/api/v1/issues",
        As::Browser(&vera, false),
        Value::Null,
    )
    .await;
    assert_eq!(read.status, StatusCode::OK);
    let post = call(
        &app,
        Method::POST,
        "/api/v1/deploys",
        As::Browser(&vera, true),
        deploy(),
    )
    .await;
    assert_eq!(post.status, StatusCode::FORBIDDEN);

    // An editor changes things, only with the CSRF token.
    let no_csrf = call(
        &app,
        Method::POST,
        "/api/v1/deploys",
        As::Browser(&eddie, false),
        deploy(),
    )
    .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    assert!(no_csrf.json["error"]
        .as_str()
        .unwrap()
        .contains(CSRF_HEADER));
    let other_csrf = Session {
        cookie: eddie.cookie.clone(),
        csrf: vera.csrf.clone(),
    };
    let wrong = call(
        &app,
        Method::POST,
        "/api/v1/deploys",
        As::Browser(&other_csrf, true),
        deploy(),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let made = call(
        &app,
        Method::POST,
        "/api/v1/deploys",
        As::Browser(&eddie, true),
        deploy(),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);

    // Managing users is for admins.
    let users = call(
        &app,
        Method::GET,
        "/api/v1/users",
        As::Browser(&eddie, false),
        Value::Null,
    )
    .await;
    assert_eq!(users.status, StatusCode::FORBIDDEN);
    let ada = sign_in(&app, "ada").await;
    let users = call(
        &app,
        Method::GET,
        "/api/v1/users",
        As::Browser(&ada, false),
        Value::Null,
    )
    .await;
    assert_eq!(users.status, StatusCode::OK);
    let names: Vec<&str> = users
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ada", "eddie", "vera"]);
    assert!(users.json[0].get("password_hash").is_none());
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let (app, _state, _dir) = setup().await;
    let eddie = sign_in(&app, "eddie").await;
    let out = call(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        As::Browser(&eddie, true),
        Value::Null,
    )
    .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = call(
        &app,
        Method::GET,
        "/api/v1/issues",
        As::Browser(&eddie, false),
        Value::Null,
    )
    .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn wrong_passwords_are_throttled_even_for_the_right_one_afterwards() {
    let (app, state, _dir) = setup().await;
    let attempt = |password: &'static str| {
        call(
            &app,
            Method::POST,
            "/api/v1/auth/login",
            As::Nobody,
            json!({"username": "eddie", "password": password}),
        )
    };
    for _ in 0..5 {
        assert_eq!(
            attempt("guess-guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // The sixth wrong one starts a lock; during it, even the right
    // password is refused, with the wait in Retry-After.
    assert_eq!(
        attempt("guess-guess").await.status,
        StatusCode::UNAUTHORIZED
    );
    let locked = attempt("eddie-password").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = locked.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    // An unknown user and a wrong password look alike.
    let nobody = call(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        As::Nobody,
        json!({"username": "mallory", "password": "whatever-it-is"}),
    )
    .await;
    assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
    assert_eq!(nobody.json["error"], "wrong user name or password");
    let counted = state.telemetry.encode();
    assert!(
        counted.contains("partout_sign_ins_total{outcome=\"throttled\"} 1"),
        "{counted}"
    );
}

#[tokio::test]
async fn tokens_are_shown_once_scoped_and_revocable() {
    let (app, _state, _dir) = setup().await;
    let vera = sign_in(&app, "vera").await;
    // No more than one holds.
    let too_much = call(
        &app,
        Method::POST,
        "/api/v1/tokens",
        As::Browser(&vera, true),
        json!({"name": "x", "scope": "write"}),
    )
    .await;
    assert_eq!(too_much.status, StatusCode::FORBIDDEN);
    let made = call(
        &app,
        Method::POST,
        "/api/v1/tokens",
        As::Browser(&vera, true),
        json!({"name": "grafana", "scope": "read"}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    let secret = made.json["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("pt_") && secret.len() > 40);
    assert_eq!(made.json["token"]["created_by"], "vera");
    let id = made.json["token"]["id"].as_i64().unwrap();

    // The token reads; it cannot write, and it cannot manage tokens.
    let read = call(
        &app,
        Method::GET,
        "/api/v1/issues",
        As::Token(&secret),
        Value::Null,
    )
    .await;
    assert_eq!(read.status, StatusCode::OK);
    let write = call(
        &app,
        Method::POST,
        "/api/v1/deploys",
        As::Token(&secret),
        deploy(),
    )
    .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    let manage = call(
        &app,
        Method::GET,
        "/api/v1/tokens",
        As::Token(&secret),
        Value::Null,
    )
    .await;
    assert_eq!(manage.status, StatusCode::FORBIDDEN);

    // Listed without the secret; others' tokens are not vera's to see.
    let listed = call(
        &app,
        Method::GET,
        "/api/v1/tokens",
        As::Browser(&vera, false),
        Value::Null,
    )
    .await;
    assert_eq!(listed.json.as_array().unwrap().len(), 1, "{}", listed.json);
    assert!(!listed.json.to_string().contains(&secret));
    let all = call(
        &app,
        Method::GET,
        "/api/v1/tokens",
        As::Token(ADMIN_TOKEN),
        Value::Null,
    )
    .await;
    assert_eq!(all.json.as_array().unwrap().len(), 2, "{}", all.json);
    let admins = all
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scope"] == "admin")
        .unwrap();
    let admin_id = admins["id"].as_i64().unwrap();
    let not_hers = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/tokens/{admin_id}"),
        As::Browser(&vera, true),
        Value::Null,
    )
    .await;
    assert_eq!(not_hers.status, StatusCode::NOT_FOUND);

    let revoked = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/tokens/{id}"),
        As::Browser(&vera, true),
        Value::Null,
    )
    .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let after = call(
        &app,
        Method::GET,
        "/api/v1/issues",
        As::Token(&secret),
        Value::Null,
    )
    .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_ingest_token_only_sends() {
    let (app, _state, _dir) = setup().await;
    let made = call(
        &app,
        Method::POST,
        "/api/v1/tokens",
        As::Token(ADMIN_TOKEN),
        json!({"name": "ci", "scope": "ingest"}),
    )
    .await;
    let secret = made.json["secret"].as_str().unwrap().to_owned();
    let sent = call(
        &app,
        Method::POST,
        "/api/v1/deploys",
        As::Token(&secret),
        deploy(),
    )
    .await;
    assert_eq!(sent.status, StatusCode::CREATED);
    let read = call(
        &app,
        Method::GET,
        "/api/v1/deploys",
        As::Token(&secret),
        Value::Null,
    )
    .await;
    assert_eq!(read.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn admins_manage_users_and_keep_one_admin() {
    let (app, _state, _dir) = setup().await;
    let ada = sign_in(&app, "ada").await;
    let made = call(
        &app,
        Method::POST,
        "/api/v1/users",
        As::Browser(&ada, true),
        json!({"username": "nina", "password": "nina-password", "role": "viewer"}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    let nina = sign_in(&app, "nina").await;
    let nina_id = made.json["id"].as_i64().unwrap();

    let short = call(
        &app,
        Method::POST,
        "/api/v1/users",
        As::Browser(&ada, true),
        json!({"username": "x", "password": "short", "role": "viewer"}),
    )
    .await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    let twice = call(
        &app,
        Method::POST,
        "/api/v1/users",
        As::Browser(&ada, true),
        json!({"username": "NINA", "password": "another-one", "role": "viewer"}),
    )
    .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);

    // Disabling signs nina out at once.
    let disabled = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/users/{nina_id}"),
        As::Browser(&ada, true),
        json!({"disabled": true}),
    )
    .await;
    assert_eq!(disabled.status, StatusCode::OK);
    assert_eq!(disabled.json["disabled"], true);
    let gone = call(
        &app,
        Method::GET,
        "/api/v1/issues",
        As::Browser(&nina, false),
        Value::Null,
    )
    .await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);

    // Ada cannot demote herself while she is the only admin.
    let me = call(
        &app,
        Method::GET,
        "/api/v1/auth/session",
        As::Browser(&ada, false),
        Value::Null,
    )
    .await;
    let ada_id = me.json["user_id"].as_i64().unwrap();
    let demote = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/users/{ada_id}"),
        As::Browser(&ada, true),
        json!({"role": "viewer"}),
    )
    .await;
    assert_eq!(demote.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn users_change_their_own_password_and_other_sessions_end() {
    let (app, _state, _dir) = setup().await;
    let laptop = sign_in(&app, "eddie").await;
    let phone = sign_in(&app, "eddie").await;
    let wrong = call(
        &app,
        Method::POST,
        "/api/v1/auth/password",
        As::Browser(&laptop, true),
        json!({"current_password": "not-it-at-all", "new_password": "a-new-password"}),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let changed = call(
        &app,
        Method::POST,
        "/api/v1/auth/password",
        As::Browser(&laptop, true),
        json!({"current_password": "eddie-password", "new_password": "a-new-password"}),
    )
    .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT);
    let here = call(
        &app,
        Method::GET,
        "/api/v1/issues",
        As::Browser(&laptop, false),
        Value::Null,
    )
    .await;
    assert_eq!(here.status, StatusCode::OK);
    let there = call(
        &app,
        Method::GET,
        "/api/v1/issues",
        As::Browser(&phone, false),
        Value::Null,
    )
    .await;
    assert_eq!(there.status, StatusCode::UNAUTHORIZED);
    let old = call(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        As::Nobody,
        json!({"username": "eddie", "password": "eddie-password"}),
    )
    .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
}
