//! `/api/v1/auth`, `/api/v1/users` and `/api/v1/tokens`: signing in and
//! out of the web app, managing people and API tokens.
//!
//! Only `POST /auth/login` is public (`access::policy`); it is throttled
//! per user name and client address. Users are managed by admins. Anyone
//! may make tokens up to their own scope and list or revoke the ones they
//! made; admins see and revoke all. A token's secret is shown once, in the
//! answer that creates it.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use partout_model::access::{
    CreatedToken, LoginRequest, NewToken, NewUser, PasswordChange, SessionInfo, TokenInfo,
    UserInfo, UserUpdate,
};

use super::api::ApiJson;
use super::auth::{Caller, Principal, SESSION_COOKIE};
use super::error::ApiError;
use super::AppState;
use crate::access::{password, SESSION_LIFETIME};
use crate::store::tokens::{self, Scope};
use crate::store::users::{self, Role, User, UserError};
use crate::store::{unix_ms_now, StoreError};

/// Longest user or token name, in characters.
const MAX_NAME_CHARS: usize = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/session", get(session))
        .route("/auth/password", post(change_password))
        .route("/users", get(list_users).post(create_user))
        .route("/users/{id}", patch(update_user))
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{id}", delete(revoke_token))
}

/// The client's address, when the server knows it (router tests do not).
struct ClientAddr(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0.ip()),
        ))
    }
}

async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let throttle = &state.access.throttle;
    let username = request.username.trim().to_owned();
    if let Err(wait) = throttle.check(&username, addr, Instant::now()) {
        state.telemetry.count_login("throttled");
        return Err(ApiError::TooManyRequests {
            message: "too many wrong passwords: wait before trying again",
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    let name = username.clone();
    let found = state
        .store
        .read(move |conn| users::credentials(conn, &name))
        .await?;
    let password = request.password;
    let user = tokio::task::spawn_blocking(move || match found {
        Some(found) if !found.user.disabled => {
            password::verify(&password, &found.password_hash).then_some(found.user)
        }
        _ => {
            password::verify_nobody(&password);
            None
        }
    })
    .await
    .map_err(|err| ApiError::Internal(StoreError::Task(err.to_string())))?;
    let Some(user) = user else {
        state.telemetry.count_login("rejected");
        if let Some(lock) = throttle.failed(&username, addr, Instant::now()) {
            tracing::warn!(user = %username, ?addr, lock_secs = lock.as_secs(), "sign-in locked after repeated wrong passwords");
        }
        return Err(ApiError::Unauthorized("wrong user name or password"));
    };
    throttle.succeeded(&username);
    state.telemetry.count_login("accepted");
    let secret = random(32)?;
    let csrf_token = random(24)?;
    let now = unix_ms_now();
    let lifetime_ms = i64::try_from(SESSION_LIFETIME.as_millis()).unwrap_or(i64::MAX);
    let expires_at_ms = now.saturating_add(lifetime_ms);
    let (user_id, cookie_secret, csrf) = (user.id, secret.clone(), csrf_token.clone());
    state
        .store
        .write(move |conn| {
            users::create_session(conn, user_id, &cookie_secret, &csrf, now, expires_at_ms)
        })
        .await?;
    tracing::info!(user = %user.username, "signed in");
    let body = SessionInfo {
        user_id: user.id,
        username: user.username,
        role: user.role.as_str().to_owned(),
        csrf_token,
        expires_at_ms,
    };
    let cookie = session_cookie(
        &secret,
        SESSION_LIFETIME.as_secs(),
        state.access.config.secure_cookies,
    );
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    if let Principal::User { session_id, .. } = caller.principal {
        state
            .store
            .write(move |conn| users::delete_session(conn, session_id))
            .await?;
    }
    let cookie = session_cookie("", 0, state.access.config.secure_cookies);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

async fn session(caller: Caller) -> Result<Json<SessionInfo>, ApiError> {
    match caller.principal {
        Principal::User {
            id,
            username,
            role,
            csrf_token,
            expires_at_ms,
            ..
        } => Ok(Json(SessionInfo {
            user_id: id,
            username,
            role: role.as_str().to_owned(),
            csrf_token,
            expires_at_ms,
        })),
        _ => Err(ApiError::BadRequest(
            "this request is authenticated by an api token, not a web-app session; see /api/v1/whoami"
                .into(),
        )),
    }
}

async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let Principal::User { id, session_id, .. } = caller.principal else {
        return Err(ApiError::BadRequest(
            "only a signed-in user changes their own password; admins use PATCH /api/v1/users/{id}"
                .into(),
        ));
    };
    let stored = state
        .store
        .read(move |conn| users::password_hash(conn, id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let PasswordChange {
        current_password,
        new_password,
    } = request;
    let hash = tokio::task::spawn_blocking(move || {
        if !password::verify(&current_password, &stored) {
            return Err(ApiError::Forbidden("the current password is wrong".into()));
        }
        password::hash(&new_password).map_err(|err| ApiError::BadRequest(err.to_string()))
    })
    .await
    .map_err(|err| ApiError::Internal(StoreError::Task(err.to_string())))??;
    state
        .store
        .write(move |conn| users::set_own_password(conn, id, &hash, session_id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UserInfo>>, ApiError> {
    caller.require(Scope::Admin)?;
    let users = state.store.read(users::list).await?;
    Ok(Json(users.into_iter().map(user_body).collect()))
}

async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<UserInfo>), ApiError> {
    caller.require(Scope::Admin)?;
    let username = checked_name("username", &request.username)?;
    let role = parse_role(&request.role)?;
    let hash = hash_off_thread(request.password).await?;
    let user = state
        .store
        .write(move |conn| Ok(users::create(conn, &username, role, &hash, unix_ms_now())))
        .await?
        .map_err(user_error)?;
    tracing::info!(user = %user.username, role = user.role.as_str(), by = %caller.describe(), "user created");
    Ok((StatusCode::CREATED, Json(user_body(user))))
}

async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
    ApiJson(request): ApiJson<UserUpdate>,
) -> Result<Json<UserInfo>, ApiError> {
    caller.require(Scope::Admin)?;
    let Path(id) = path.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let role = request.role.as_deref().map(parse_role).transpose()?;
    let password_hash = match request.password {
        Some(password) => Some(hash_off_thread(password).await?),
        None => None,
    };
    let change = users::Change {
        role,
        password_hash,
        disabled: request.disabled,
    };
    let user = state
        .store
        .write(move |conn| Ok(users::update(conn, id, &change, unix_ms_now())))
        .await?
        .map_err(user_error)?;
    tracing::info!(user = %user.username, by = %caller.describe(), "user changed");
    Ok(Json(user_body(user)))
}

async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    let made_by = token_owner_filter(&caller)?;
    let listed = state
        .store
        .read(move |conn| tokens::list(conn, made_by))
        .await?;
    Ok(Json(listed.into_iter().map(token_body).collect()))
}

async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    token_owner_filter(&caller)?;
    let name = checked_name("name", &request.name)?;
    let Some(scope) = Scope::parse(request.scope.trim()) else {
        return Err(ApiError::BadRequest(format!(
            "unknown scope {:?}: expected read, write, ingest or admin",
            request.scope
        )));
    };
    if !caller.scope.grants(scope) {
        return Err(ApiError::Forbidden(format!(
            "{} cannot make a token of scope {}: more than it holds",
            caller.describe(),
            scope.as_str()
        )));
    }
    let secret = format!("pt_{}", random(32)?);
    let owner = caller.user_id();
    let stored_secret = secret.clone();
    let token = state
        .store
        .write(move |conn| {
            let id = tokens::create(conn, &name, scope, &stored_secret, owner, unix_ms_now())?;
            tokens::get(conn, id)
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    tracing::info!(token = %token.name, scope = scope.as_str(), by = %caller.describe(), "api token created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: token_body(token),
            secret,
        }),
    ))
}

async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let made_by = token_owner_filter(&caller)?;
    let Path(id) = path.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let revoked = state
        .store
        .write(move |conn| {
            let Some(token) = tokens::get(conn, id)? else {
                return Ok(false);
            };
            if made_by.is_some() && token.created_by_user_id != made_by {
                return Ok(false);
            }
            tokens::revoke(conn, id, unix_ms_now())?;
            Ok(true)
        })
        .await?;
    if !revoked {
        // Someone else's token is "not found" to a non-admin: its
        // existence is not theirs to learn.
        return Err(ApiError::NotFound);
    }
    tracing::info!(token = id, by = %caller.describe(), "api token revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Whose tokens a caller manages: admins all (`None`), a signed-in user
/// their own; other tokens none.
fn token_owner_filter(caller: &Caller) -> Result<Option<i64>, ApiError> {
    if caller.scope.grants(Scope::Admin) {
        return Ok(None);
    }
    match caller.user_id() {
        Some(id) => Ok(Some(id)),
        None => Err(ApiError::Forbidden(
            "managing api tokens needs a signed-in user or an admin token".into(),
        )),
    }
}

async fn hash_off_thread(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|err| ApiError::Internal(StoreError::Task(err.to_string())))?
        .map_err(|err| ApiError::BadRequest(err.to_string()))
}

fn random(bytes: usize) -> Result<String, ApiError> {
    password::random_secret(bytes)
        .map_err(|err| ApiError::Internal(StoreError::Task(format!("no randomness: {err}"))))
}

fn session_cookie(secret: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    );
    // The secret is URL-safe base64, so the value is always valid.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn checked_name(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::BadRequest(format!(
            "{field} must be 1 to {MAX_NAME_CHARS} characters long"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(value.to_owned())
}

fn parse_role(text: &str) -> Result<Role, ApiError> {
    Role::parse(text.trim()).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "unknown role {text:?}: expected admin, editor or viewer"
        ))
    })
}

fn user_error(err: UserError) -> ApiError {
    match err {
        UserError::Exists(_) | UserError::LastAdmin => ApiError::Conflict(err.to_string()),
        UserError::NotFound => ApiError::NotFound,
        UserError::Store(err) => err.into(),
    }
}

fn user_body(user: User) -> UserInfo {
    UserInfo {
        id: user.id,
        username: user.username,
        role: user.role.as_str().to_owned(),
        created_at_ms: user.created_at_ms,
        disabled: user.disabled,
    }
}

fn token_body(token: tokens::Listed) -> TokenInfo {
    TokenInfo {
        id: token.id,
        name: token.name,
        scope: token.scope.as_str().to_owned(),
        created_at_ms: token.created_at_ms,
        created_by: token.created_by,
        last_used_at_ms: token.last_used_at_ms,
        revoked_at_ms: token.revoked_at_ms,
    }
}

#[cfg(test)]
mod tests;
