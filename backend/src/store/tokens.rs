//! API tokens: long random secrets, stored as SHA-256 digests.

use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::{unix_ms_now, StoreError};

/// What a token may do. `admin` includes every other scope; `write`
/// includes `read` and `ingest`; `ingest` only sends data in.
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

    pub fn parse(text: &str) -> Option<Scope> {
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
            (Scope::Write, Scope::Read | Scope::Write | Scope::Ingest) => true,
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

/// The stored form of a secret (tokens and session cookies).
pub(crate) fn digest(secret: &str) -> Vec<u8> {
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

/// A token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: i64,
    pub name: String,
    pub scope: Scope,
    pub created_at_ms: i64,
    pub created_by_user_id: Option<i64>,
    pub created_by: Option<String>,
    pub last_used_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
}

/// Records a new token made by a user (or by an admin token: `None`).
pub fn create(
    conn: &Connection,
    name: &str,
    scope: Scope,
    secret: &str,
    created_by_user_id: Option<i64>,
    now_ms: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO api_tokens (name, scope, secret_sha256, created_at_ms, created_by_user_id)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![
            name,
            scope.as_str(),
            digest(secret),
            now_ms,
            created_by_user_id
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Tokens, newest first: all of them, or those `made_by` made.
pub fn list(conn: &Connection, made_by: Option<i64>) -> Result<Vec<Listed>, StoreError> {
    query(
        conn,
        "WHERE ?1 IS NULL OR t.created_by_user_id = ?1",
        made_by,
    )
}

/// Tokens in the listed form, filtered by `filter` on parameter `?1`.
fn query(
    conn: &Connection,
    filter: &str,
    param: impl rusqlite::ToSql,
) -> Result<Vec<Listed>, StoreError> {
    let sql = format!(
        "SELECT t.id, t.name, t.scope, t.created_at_ms, t.created_by_user_id, u.username,
                t.last_used_at_ms, t.revoked_at_ms
         FROM api_tokens t LEFT JOIN users u ON u.id = t.created_by_user_id
         {filter} ORDER BY t.id DESC"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([param], |row| {
        let scope: String = row.get(2)?;
        Ok(Listed {
            id: row.get(0)?,
            name: row.get(1)?,
            // The CHECK constraint keeps scopes valid.
            scope: Scope::parse(&scope).unwrap_or(Scope::Read),
            created_at_ms: row.get(3)?,
            created_by_user_id: row.get(4)?,
            created_by: row.get(5)?,
            last_used_at_ms: row.get(6)?,
            revoked_at_ms: row.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One token by id, listed form.
pub fn get(conn: &Connection, id: i64) -> Result<Option<Listed>, StoreError> {
    Ok(query(conn, "WHERE t.id = ?1", id)?.pop())
}

/// Revokes a token; true if it was active.
pub fn revoke(conn: &Connection, id: i64, now_ms: i64) -> Result<bool, StoreError> {
    let changed = conn.execute(
        "UPDATE api_tokens SET revoked_at_ms = ?2 WHERE id = ?1 AND revoked_at_ms IS NULL",
        [id, now_ms],
    )?;
    Ok(changed > 0)
}

/// Notes that tokens were used (batched by the caller: not per request).
pub fn touch(conn: &Connection, ids: &[i64], now_ms: i64) -> Result<(), StoreError> {
    let mut stmt =
        conn.prepare_cached("UPDATE api_tokens SET last_used_at_ms = ?2 WHERE id = ?1")?;
    for id in ids {
        stmt.execute([*id, now_ms])?;
    }
    Ok(())
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
        assert!(Scope::Write.grants(Scope::Ingest));
        assert!(!Scope::Read.grants(Scope::Ingest));
        assert!(!Scope::Ingest.grants(Scope::Write));
    }
}
