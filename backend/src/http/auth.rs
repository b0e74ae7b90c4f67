//! Who is calling: the gate every request passes, and the extractors that
//! tell handlers who passed it.
//!
//! [`gate`] asks `access::policy` what the route needs, authenticates the
//! request (an API token in `Authorization`, else the web app's session
//! cookie), checks the caller's scope and, for a browser changing
//! something, the CSRF token; then it leaves a [`Caller`] in the
//! request's extensions. Handlers take `Caller` (or [`IngestCaller`]) and
//! may require more, never less. Because the gate runs for every route,
//! a new route is closed until `policy` says otherwise.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::ship_api::refusal;
use super::AppState;
use crate::access::policy::{self, Rule};
use crate::store::tokens::{self, Scope};
use crate::store::unix_ms_now;
use crate::store::users::{self, Role};

/// The web app's session cookie.
pub const SESSION_COOKIE: &str = "partout_session";
/// The header a signed-in browser echoes its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How a caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An API token.
    Token { id: i64, name: String },
    /// A person signed in to the web app.
    User {
        id: i64,
        username: String,
        role: Role,
        session_id: i64,
        csrf_token: String,
        expires_at_ms: i64,
    },
    /// Nobody: an ingestion API the configuration opened.
    Anonymous,
}

/// An authenticated caller and the scope they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    pub scope: Scope,
}

impl Caller {
    /// Fails with 403 unless the caller's scope grants `needed`.
    pub fn require(&self, needed: Scope) -> Result<(), ApiError> {
        if self.scope.grants(needed) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{} ({}) does not allow {} access",
                self.describe(),
                self.scope.as_str(),
                needed.as_str()
            )))
        }
    }

    /// The signed-in user's id, if a person called.
    pub fn user_id(&self) -> Option<i64> {
        match &self.principal {
            Principal::User { id, .. } => Some(*id),
            _ => None,
        }
    }

    /// Who called, for messages and logs.
    pub fn describe(&self) -> String {
        match &self.principal {
            Principal::Token { name, .. } => format!("the api token {name:?}"),
            Principal::User { username, role, .. } => {
                format!("the user {username:?}, role {}", role.as_str())
            }
            Principal::Anonymous => "an anonymous sender".to_owned(),
        }
    }
}

/// The middleware in front of every route; see the module docs.
pub async fn gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let rule = policy::rule(&method, request.uri().path(), &state.access.config.open);
    let Rule::Needs { scope, open_to } = rule else {
        return next.run(request).await;
    };
    let caller = match authenticate(&state, request.headers()).await {
        Ok(Some(caller)) => caller,
        Ok(None) if open_to.is_some_and(|api| state.access.config.open.ingest.contains(&api)) => {
            Caller {
                principal: Principal::Anonymous,
                scope: Scope::Ingest,
            }
        }
        Ok(None) => {
            let err = ApiError::Unauthorized(
                "authentication required: sign in, or send Authorization: Bearer <api token>",
            );
            return refusal(open_to, err);
        }
        Err(err) => return refusal(open_to, err),
    };
    if let Err(err) = caller.require(scope) {
        return refusal(open_to, err);
    }
    if let Err(err) = check_csrf(&caller, &method, request.headers()) {
        return err.into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The caller a request's credentials name: `Ok(None)` when it carries
/// none, an error when they are wrong (never falling back to another
/// kind: a bad token is a mistake to report, not to paper over).
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
    if headers.contains_key(AUTHORIZATION) {
        let Some(secret) = authorization_secret(headers) else {
            return Err(ApiError::Unauthorized(
                "malformed Authorization header: expected Bearer <token> or Basic with the token as password",
            ));
        };
        let token = state
            .store
            .read(move |conn| tokens::find_active(conn, &secret))
            .await?;
        let Some(token) = token else {
            return Err(ApiError::Unauthorized("invalid or revoked api token"));
        };
        state.access.token_used(&state.store, token.id);
        return Ok(Some(Caller {
            principal: Principal::Token {
                id: token.id,
                name: token.name,
            },
            scope: token.scope,
        }));
    }
    let Some(secret) = session_cookie(headers) else {
        return Ok(None);
    };
    let now = unix_ms_now();
    let session = state
        .store
        .read(move |conn| users::find_session(conn, &secret, now))
        .await?;
    let Some(session) = session else {
        return Err(ApiError::Unauthorized(
            "your session has ended: sign in again",
        ));
    };
    Ok(Some(Caller {
        scope: session.user.role.scope(),
        principal: Principal::User {
            id: session.user.id,
            username: session.user.username,
            role: session.user.role,
            session_id: session.id,
            csrf_token: session.csrf_token,
            expires_at_ms: session.expires_at_ms,
        },
    }))
}

/// A browser changing something must echo its session's CSRF token: a
/// page on another site can make the browser send the cookie, but cannot
/// read the token. Tokens in `Authorization` are never sent by a browser
/// on its own, so they need no such proof.
fn check_csrf(caller: &Caller, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
    let Principal::User { csrf_token, .. } = &caller.principal else {
        return Ok(());
    };
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if constant_time_eq(sent.as_bytes(), csrf_token.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "missing or wrong {CSRF_HEADER} header: reload the page and try again"
        )))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token in `Authorization: Bearer <token>`, or Basic auth with the
/// token as the password (what log shippers and Grafana's Graphite data
/// source can send; the user name is ignored).
fn authorization_secret(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (kind, secret) = value.trim().split_once(' ')?;
    let secret = secret.trim();
    let secret = if kind.eq_ignore_ascii_case("bearer") {
        secret.to_owned()
    } else if kind.eq_ignore_ascii_case("basic") {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(secret)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        text.split_once(':')?.1.to_owned()
    } else {
        return None;
    };
    (!secret.is_empty()).then_some(secret)
}

/// The session cookie's value, if the request has one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        // Only the gate puts a caller here; a route it let through as
        // public has none, and a handler asking for one there is closed.
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(ApiError::Unauthorized("authentication required"))
    }
}

/// A caller allowed to send data in.
#[derive(Debug, Clone)]
pub struct IngestCaller(pub Caller);

impl FromRequestParts<AppState> for IngestCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(Scope::Ingest)?;
        Ok(IngestCaller(caller))
    }
}

#[cfg(test)]
mod route_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn tokens_come_from_bearer_or_the_basic_password() {
        let bearer = headers(&[("authorization", "Bearer abc123")]);
        assert_eq!(authorization_secret(&bearer).as_deref(), Some("abc123"));
        // "grafana:s3cret:x" in base64: the password may hold colons.
        let basic = headers(&[("authorization", "Basic Z3JhZmFuYTpzM2NyZXQ6eA==")]);
        assert_eq!(authorization_secret(&basic).as_deref(), Some("s3cret:x"));
        for bad in ["Bearer ", "Digest abc", "Basic !!!", "Basic Z3JhZmFuYQ=="] {
            let map = headers(&[("authorization", bad)]);
            assert_eq!(authorization_secret(&map), None, "{bad}");
        }
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let map = headers(&[
            ("cookie", "theme=dark; partout_session=s3cret"),
            ("cookie", "other=1"),
        ]);
        assert_eq!(session_cookie(&map).as_deref(), Some("s3cret"));
        let none = headers(&[("cookie", "partout_session=; x_partout_session=no")]);
        assert_eq!(session_cookie(&none), None);
    }

    #[test]
    fn browsers_must_echo_the_csrf_token_to_change_things() {
        let user = Caller {
            principal: Principal::User {
                id: 1,
                username: "ann".into(),
                role: Role::Editor,
                session_id: 7,
                csrf_token: "tok-123".into(),
                expires_at_ms: 0,
            },
            scope: Scope::Write,
        };
        let none = HeaderMap::new();
        let right = headers(&[(CSRF_HEADER, "tok-123")]);
        let wrong = headers(&[(CSRF_HEADER, "tok-124")]);
        assert!(check_csrf(&user, &Method::GET, &none).is_ok());
        assert!(check_csrf(&user, &Method::PATCH, &right).is_ok());
        assert!(check_csrf(&user, &Method::PATCH, &none).is_err());
        assert!(check_csrf(&user, &Method::POST, &wrong).is_err());
        let token = Caller {
            principal: Principal::Token {
                id: 1,
                name: "ci".into(),
            },
            scope: Scope::Write,
        };
        assert!(check_csrf(&token, &Method::POST, &none).is_ok());
    }
}
