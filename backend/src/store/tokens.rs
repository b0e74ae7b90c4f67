//! API tokens: long random secrets, stored as SHA-256 digests.

use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::{unix_ms_now, StoreError};

/// What a token may do. `admin` includes every other scope; `write`
/// includes `read`; `ingest` only sends data in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
    Ingest,
    Admin,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Ingest => "ingest",
            Scope::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Option<Scope> {
        match text {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            "ingest" => Some(Scope::Ingest),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    /// Whether a token of this scope may do what `needed` allows.
    pub fn grants(self, needed: Scope) -> bool {
        match (self, needed) {
            (Scope::Admin, _) => true,
            (Scope::Write, Scope::Read | Scope::Write) => true,
            (held, needed) => held == needed,
        }
    }
}

/// A token as found by [`find_active`]: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: i64,
    pub name: String,
    pub scope: Scope,
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Makes sure an active token with this secret exists, with `name` and
/// `scope`; re-activates it if it had been revoked. Used by the bootstrap
/// token, so running with the same value again is harmless.
pub fn ensure(
    conn: &Connection,
    name: &str,
    scope: Scope,
    secret: &str,
) -> Result<i64, StoreError> {
    let hash = digest(secret);
    let existing: Option<i64> = conn
        .query_row(
            "SELECT id FROM api_tokens WHERE secret_sha256 = ?1",
            [&hash],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        conn.execute(
            "UPDATE api_tokens SET name = ?2, scope = ?3, revoked_at_ms = NULL WHERE id = ?1",
            rusqlite::params![id, name, scope.as_str()],
        )?;
        return Ok(id);
    }
    conn.execute(
        "INSERT INTO api_tokens (name, scope, secret_sha256, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![name, scope.as_str(), hash, unix_ms_now()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The active (not revoked) token whose secret this is, if any.
pub fn find_active(conn: &Connection, secret: &str) -> Result<Option<Token>, StoreError> {
    let row: Option<(i64, String, String)> = conn
        .query_row(
            "SELECT id, name, scope FROM api_tokens
             WHERE secret_sha256 = ?1 AND revoked_at_ms IS NULL",
            [digest(secret)],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    Ok(row
        .and_then(|(id, name, scope)| Scope::parse(&scope).map(|scope| Token { id, name, scope })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[tokio::test]
    async fn ensure_is_idempotent_and_find_never_matches_other_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let secret = "a-long-bootstrap-secret";
        let first = store
            .write(move |conn| ensure(conn, "bootstrap", Scope::Admin, secret))
            .await
            .unwrap();
        let second = store
            .write(move |conn| ensure(conn, "bootstrap", Scope::Admin, secret))
            .await
            .unwrap();
        assert_eq!(first, second);
        let found = store
            .read(move |conn| find_active(conn, secret))
            .await
            .unwrap();
        assert_eq!(
            found,
            Some(Token {
                id: first,
                name: "bootstrap".into(),
                scope: Scope::Admin
            })
        );
        let other = store
            .read(|conn| find_active(conn, "a-long-bootstrap-secreT"))
            .await
            .unwrap();
        assert_eq!(other, None);
    }

    #[tokio::test]
    async fn revoked_tokens_are_not_found_until_ensured_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = store
            .write(|conn| ensure(conn, "ci", Scope::Write, "ci-secret-0123456789"))
            .await
            .unwrap();
        store
            .write(move |conn| {
                conn.execute(
                    "UPDATE api_tokens SET revoked_at_ms = 1 WHERE id = ?1",
                    [id],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        let found = store
            .read(|conn| find_active(conn, "ci-secret-0123456789"))
            .await
            .unwrap();
        assert_eq!(found, None);
        store
            .write(|conn| ensure(conn, "ci", Scope::Write, "ci-secret-0123456789"))
            .await
            .unwrap();
        let found = store
            .read(|conn| find_active(conn, "ci-secret-0123456789"))
            .await
            .unwrap();
        assert!(found.is_some());
    }

    #[test]
    fn scopes_grant_what_they_include() {
        assert!(Scope::Admin.grants(Scope::Write));
        assert!(Scope::Write.grants(Scope::Read));
        assert!(!Scope::Read.grants(Scope::Write));
        assert!(!Scope::Ingest.grants(Scope::Read));
        assert!(Scope::Ingest.grants(Scope::Ingest));
        assert!(!Scope::Write.grants(Scope::Admin));
    }
}
