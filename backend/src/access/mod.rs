//! Access control: who may use partout's HTTP API and web app.
//!
//! Two kinds of caller: people, signed in to the web app with a user name
//! and password (a session cookie), and programs, with an API token
//! (`Authorization: Bearer`, or the Basic-auth password for clients that
//! only speak Basic). Users have a role, tokens a scope; both come down to
//! one [`Scope`](crate::store::tokens::Scope) that `policy` compares with
//! what a route needs. The HTTP side is `http::auth` (the gate every
//! request passes) and `http::access_api` (sign-in, users, tokens).
//!
//! # Layout
//! - `policy`: the table of which routes are public and what the others
//!   need (pure).
//! - `password`: argon2id hashing, random secrets and passwords.
//! - `throttle`: brute-force locks on sign-in, in memory, bounded.
//! - this file: settings, the runtime state, and the first admin.

pub mod password;
pub mod policy;
pub mod throttle;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::store::users::{self, Role};
use crate::store::{unix_ms_now, Store, StoreError};

/// How long a web-app session lasts after signing in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// The first admin's user name.
pub const FIRST_ADMIN: &str = "admin";
/// A token's last use is written at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

/// Access settings, from the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessConfig {
    pub open: policy::OpenRoutes,
    /// Session cookies get `Secure` (served over TLS, or behind an
    /// https:// public URL).
    pub secure_cookies: bool,
}

/// What every request shares: settings, sign-in throttle, token uses.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub config: Arc<AccessConfig>,
    pub throttle: Arc<throttle::LoginThrottle>,
    last_touch: Arc<Mutex<HashMap<i64, i64>>>,
}

impl Access {
    pub fn new(config: AccessConfig) -> Access {
        Access {
            config: Arc::new(config),
            ..Access::default()
        }
    }

    /// Notes that token `id` was used now, writing it at most once a
    /// minute per token so authentication adds no write per request.
    pub fn token_used(&self, store: &Store, id: i64) {
        let now = unix_ms_now();
        {
            let mut last = self
                .last_touch
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.get(&id).is_some_and(|at| now - at < TOUCH_EVERY_MS) {
                return;
            }
            if last.len() > 10_000 {
                last.clear();
            }
            last.insert(id, now);
        }
        let store = store.clone();
        tokio::spawn(async move {
            let result = store
                .write(move |conn| crate::store::tokens::touch(conn, &[id], now))
                .await;
            if let Err(err) = result {
                tracing::debug!(%err, "cannot record a token's last use");
            }
        });
    }
}

/// What happened to the first admin at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstAdmin {
    /// Users existed already: nothing done.
    Existing,
    /// Created with the password from `PARTOUT_ADMIN_PASSWORD`.
    FromEnvironment,
    /// Created with this generated password, to be shown once.
    Generated(String),
}

/// Why the first admin could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FirstAdminError {
    #[error("PARTOUT_ADMIN_PASSWORD: {0}")]
    Password(#[from] password::PasswordError),
    #[error("no randomness for a password: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates the admin user `admin` if there are no users yet, with
/// `given` as its password or a generated one.
pub async fn ensure_first_admin(
    store: &Store,
    given: Option<String>,
) -> Result<FirstAdmin, FirstAdminError> {
    if store.read(users::count).await? > 0 {
        return Ok(FirstAdmin::Existing);
    }
    let (password, outcome) = match given {
        Some(password) => (password, FirstAdmin::FromEnvironment),
        None => {
            let password = password::random_password()
                .map_err(|err| FirstAdminError::Random(err.to_string()))?;
            (password.clone(), FirstAdmin::Generated(password))
        }
    };
    let hash = tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|err| StoreError::Task(err.to_string()))??;
    let created = store
        .write(move |conn| {
            if users::count(conn)? > 0 {
                return Ok(false);
            }
            users::create(conn, FIRST_ADMIN, Role::Admin, &hash, unix_ms_now())
                .map_err(|err| StoreError::Task(err.to_string()))?;
            Ok(true)
        })
        .await?;
    Ok(if created {
        outcome
    } else {
        FirstAdmin::Existing
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_admin_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let first = ensure_first_admin(&store, None).await.unwrap();
        let FirstAdmin::Generated(password) = first else {
            panic!("expected a generated password, got {first:?}");
        };
        let again = ensure_first_admin(&store, Some("another-password".into()))
            .await
            .unwrap();
        assert_eq!(again, FirstAdmin::Existing);
        let stored = store
            .read(|conn| users::credentials(conn, FIRST_ADMIN))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.user.role, Role::Admin);
        assert!(!stored.password_hash.contains(&password), "never in clear");
        assert!(password::verify(&password, &stored.password_hash));
    }

    #[tokio::test]
    async fn a_too_short_environment_password_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let result = ensure_first_admin(&store, Some("short".into())).await;
        assert!(matches!(result, Err(FirstAdminError::Password(_))));
    }
}
