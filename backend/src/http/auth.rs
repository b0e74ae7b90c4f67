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

fn bearer_secret(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (kind, secret) = value.trim().split_once(' ')?;
    kind.eq_ignore_ascii_case("bearer")
        .then(|| secret.trim())
        .filter(|secret| !secret.is_empty())
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
        let secret = secret.to_owned();
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
