//! Who is calling: the single place where API requests are authenticated.
//!
//! Today this checks `Authorization: Bearer <token>` against the API tokens
//! table (the bootstrap token is one). Users, sessions and basic auth come
//! with the access-control work and plug in here, so handlers keep asking
//! for [`Caller`] and [`Caller::require`] alone.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::error::ApiError;
use super::AppState;
use crate::store::tokens::{self, Scope, Token};

/// An authenticated API caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token: Token,
}

impl Caller {
    /// Fails with 403 unless the caller's scope grants `needed`.
    pub fn require(&self, needed: Scope) -> Result<(), ApiError> {
        if self.token.scope.grants(needed) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this token's scope ({}) does not allow {} access",
                self.token.scope.as_str(),
                needed.as_str()
            )))
        }
    }
}

/// The token a request carries: `Authorization: Bearer <token>`, or Basic
/// auth with the token as the password (what log shippers such as Vector,
/// Fluent Bit and Filebeat can send; the user name is ignored).
fn bearer_secret(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
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

/// A caller allowed to send data (logs now; events later): the one place
/// ingestion is authorized, so access control completes it here.
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

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(secret) = bearer_secret(parts) else {
            return Err(ApiError::Unauthorized(
                "authentication required: send Authorization: Bearer <api token>",
            ));
        };
        let token = state
            .store
            .read(move |conn| tokens::find_active(conn, &secret))
            .await?;
        match token {
            Some(token) => Ok(Caller { token }),
            None => Err(ApiError::Unauthorized("invalid or revoked api token")),
        }
    }
}
