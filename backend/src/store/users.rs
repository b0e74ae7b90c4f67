//! People who sign in to the web app, and their browser sessions.
//!
//! Passwords arrive here already hashed (argon2, by `access::password`):
//! hashing is slow on purpose and must not run in the writer thread.
//! Session secrets are stored as SHA-256 digests, like API tokens, so a
//! copy of the database does not let anyone in.

use rusqlite::{Connection, OptionalExtension, Row};

use super::tokens::{digest, Scope};
use super::StoreError;

/// What a user may do in the web app and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, including users, tokens, projects and webhooks.
    Admin,
    /// Reads and changes data (issue statuses, deploys), not access.
    Editor,
    /// Reads only.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "admin" => Some(Role::Admin),
            "editor" => Some(Role::Editor),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// The API scope a signed-in user of this role holds.
    pub fn scope(self) -> Scope {
        match self {
            Role::Admin => Scope::Admin,
            Role::Editor => Scope::Write,
            Role::Viewer => Scope::Read,
        }
    }
}

/// A user row, without the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub created_at_ms: i64,
    pub disabled: bool,
}

/// A user with the hash to check a password against (sign-in only).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// A signed-in browser, as found from its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub user: User,
    pub csrf_token: String,
    pub expires_at_ms: i64,
}

/// Why a user change was refused.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("a user named {0:?} exists already")]
    Exists(String),
    #[error("no such user")]
    NotFound,
    #[error("partout must keep at least one active admin")]
    LastAdmin,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for UserError {
    fn from(err: rusqlite::Error) -> Self {
        UserError::Store(err.into())
    }
}

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<(User, String)> {
    let role: String = row.get(2)?;
    let disabled: Option<i64> = row.get(4)?;
    Ok((
        User {
            id: row.get(0)?,
            username: row.get(1)?,
            // The CHECK constraint keeps roles valid; a row edited by hand
            // into something else gets the least access.
            role: Role::parse(&role).unwrap_or(Role::Viewer),
            created_at_ms: row.get(3)?,
            disabled: disabled.is_some(),
        },
        row.get(5)?,
    ))
}

const USER_COLUMNS: &str = "id, username, role, created_at_ms, disabled_at_ms, password_hash";

/// How many users exist, disabled ones included.
pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM users", [], |row| row.get(0))?)
}

/// Adds a user; fails if the name (case-insensitive) is taken.
pub fn create(
    conn: &Connection,
    username: &str,
    role: Role,
    password_hash: &str,
    now_ms: i64,
) -> Result<User, UserError> {
    let inserted = conn.execute(
        "INSERT INTO users (username, role, password_hash, created_at_ms)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (username) DO NOTHING",
        rusqlite::params![username, role.as_str(), password_hash, now_ms],
    )?;
    if inserted == 0 {
        return Err(UserError::Exists(username.to_owned()));
    }
    Ok(User {
        id: conn.last_insert_rowid(),
        username: username.to_owned(),
        role,
        created_at_ms: now_ms,
        disabled: false,
    })
}

/// The user of this name with its password hash, disabled or not.
pub fn credentials(conn: &Connection, username: &str) -> Result<Option<Credentials>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1");
    let found = conn.query_row(&sql, [username], user_from_row).optional()?;
    Ok(found.map(|(user, password_hash)| Credentials {
        user,
        password_hash,
    }))
}

/// The password hash of a user, by id.
pub fn password_hash(conn: &Connection, id: i64) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT password_hash FROM users WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .optional()?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1");
    let found = conn.query_row(&sql, [id], user_from_row).optional()?;
    Ok(found.map(|(user, _)| user))
}

pub fn list(conn: &Connection) -> Result<Vec<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY username");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], user_from_row)?;
    let mut users = Vec::new();
    for row in rows {
        users.push(row?.0);
    }
    Ok(users)
}

/// A change to a user; `None` fields stay.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub role: Option<Role>,
    pub password_hash: Option<String>,
    pub disabled: Option<bool>,
}

/// Applies `change` to user `id`. Refuses to leave no active admin.
/// A new password or disabling signs the user out everywhere.
pub fn update(conn: &Connection, id: i64, change: &Change, now_ms: i64) -> Result<User, UserError> {
    let Some(before) = get(conn, id)? else {
        return Err(UserError::NotFound);
    };
    let stays_admin = change.role.unwrap_or(before.role) == Role::Admin
        && !change.disabled.unwrap_or(before.disabled);
    if before.role == Role::Admin && !before.disabled && !stays_admin && active_admins(conn)? <= 1 {
        return Err(UserError::LastAdmin);
    }
    if let Some(role) = change.role {
        conn.execute(
            "UPDATE users SET role = ?2 WHERE id = ?1",
            rusqlite::params![id, role.as_str()],
        )?;
    }
    if let Some(hash) = &change.password_hash {
        conn.execute(
            "UPDATE users SET password_hash = ?2 WHERE id = ?1",
            rusqlite::params![id, hash],
        )?;
    }
    if let Some(disabled) = change.disabled {
        conn.execute(
            "UPDATE users SET disabled_at_ms = ?2 WHERE id = ?1",
            rusqlite::params![id, disabled.then_some(now_ms)],
        )?;
    }
    if change.password_hash.is_some() || change.disabled == Some(true) {
        conn.execute("DELETE FROM user_sessions WHERE user_id = ?1", [id])?;
    }
    get(conn, id)?.ok_or(UserError::NotFound)
}

fn active_admins(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at_ms IS NULL",
        [],
        |row| row.get(0),
    )?)
}

/// Most sessions one user keeps; signing in again past it ends the
/// oldest, so a script that logs in in a loop cannot grow the table.
const MAX_SESSIONS_PER_USER: i64 = 20;

/// Records a new session for `user_id`.
pub fn create_session(
    conn: &Connection,
    user_id: i64,
    secret: &str,
    csrf_token: &str,
    now_ms: i64,
    expires_at_ms: i64,
) -> Result<i64, StoreError> {
    conn.execute(
        "DELETE FROM user_sessions WHERE expires_at_ms <= ?1",
        [now_ms],
    )?;
    conn.execute(
        "INSERT INTO user_sessions (user_id, secret_sha256, csrf_token, created_at_ms, expires_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![user_id, digest(secret), csrf_token, now_ms, expires_at_ms],
    )?;
    let id = conn.last_insert_rowid();
    conn.execute(
        "DELETE FROM user_sessions WHERE user_id = ?1 AND id NOT IN
           (SELECT id FROM user_sessions WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2)",
        rusqlite::params![user_id, MAX_SESSIONS_PER_USER],
    )?;
    Ok(id)
}

/// The unexpired session of an enabled user whose cookie secret this is.
pub fn find_session(
    conn: &Connection,
    secret: &str,
    now_ms: i64,
) -> Result<Option<Session>, StoreError> {
    let found = conn
        .query_row(
            "SELECT u.id, u.username, u.role, u.created_at_ms, u.disabled_at_ms, u.password_hash,
                    s.id, s.csrf_token, s.expires_at_ms
             FROM user_sessions s JOIN users u ON u.id = s.user_id
             WHERE s.secret_sha256 = ?1 AND s.expires_at_ms > ?2 AND u.disabled_at_ms IS NULL",
            rusqlite::params![digest(secret), now_ms],
            |row| {
                let (user, _) = user_from_row(row)?;
                Ok(Session {
                    id: row.get(6)?,
                    user,
                    csrf_token: row.get(7)?,
                    expires_at_ms: row.get(8)?,
                })
            },
        )
        .optional()?;
    Ok(found)
}

/// Ends one session (sign-out).
pub fn delete_session(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM user_sessions WHERE id = ?1", [id])?;
    Ok(())
}

/// A user's new password, chosen by themselves: every other session of
/// theirs ends, the one they changed it from stays.
pub fn set_own_password(
    conn: &Connection,
    user_id: i64,
    password_hash: &str,
    keep_session: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        rusqlite::params![user_id, password_hash],
    )?;
    conn.execute(
        "DELETE FROM user_sessions WHERE user_id = ?1 AND id != ?2",
        [user_id, keep_session],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    async fn store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        (Store::open(dir.path()).unwrap(), dir)
    }

    #[tokio::test]
    async fn names_are_unique_regardless_of_case() {
        let (store, _dir) = store().await;
        store
            .write(|conn| Ok(create(conn, "Alice", Role::Admin, "h", 1).unwrap()))
            .await
            .unwrap();
        let again = store
            .write(|conn| Ok(create(conn, "alice", Role::Viewer, "h", 2)))
            .await
            .unwrap();
        assert!(matches!(again, Err(UserError::Exists(_))));
        let found = store
            .read(|conn| credentials(conn, "ALICE"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.user.username, "Alice");
    }

    #[tokio::test]
    async fn the_last_active_admin_cannot_be_demoted_or_disabled() {
        let (store, _dir) = store().await;
        let admin = store
            .write(|conn| Ok(create(conn, "root", Role::Admin, "h", 1).unwrap()))
            .await
            .unwrap();
        let id = admin.id;
        for change in [
            Change {
                role: Some(Role::Editor),
                ..Change::default()
            },
            Change {
                disabled: Some(true),
                ..Change::default()
            },
        ] {
            let result = store
                .write(move |conn| Ok(update(conn, id, &change, 5)))
                .await
                .unwrap();
            assert!(matches!(result, Err(UserError::LastAdmin)), "{result:?}");
        }
        store
            .write(|conn| Ok(create(conn, "second", Role::Admin, "h", 1).unwrap()))
            .await
            .unwrap();
        let demoted = store
            .write(move |conn| {
                Ok(update(
                    conn,
                    id,
                    &Change {
                        role: Some(Role::Viewer),
                        ..Change::default()
                    },
                    5,
                )
                .unwrap())
            })
            .await
            .unwrap();
        assert_eq!(demoted.role, Role::Viewer);
    }

    #[tokio::test]
    async fn sessions_end_on_expiry_disable_and_password_change() {
        let (store, _dir) = store().await;
        let user = store
            .write(|conn| Ok(create(conn, "bob", Role::Editor, "h", 1).unwrap()))
            .await
            .unwrap();
        let id = user.id;
        store
            .write(move |conn| create_session(conn, id, "secret-one", "csrf", 10, 100))
            .await
            .unwrap();
        let at = |now: i64| {
            let store = store.clone();
            async move {
                store
                    .read(move |conn| find_session(conn, "secret-one", now))
                    .await
                    .unwrap()
            }
        };
        assert_eq!(at(50).await.unwrap().user.username, "bob");
        assert!(at(100).await.is_none(), "expired at its expiry time");
        assert!(store
            .read(|conn| find_session(conn, "secret-two", 50))
            .await
            .unwrap()
            .is_none());
        store
            .write(move |conn| {
                let change = Change {
                    password_hash: Some("new".into()),
                    ..Change::default()
                };
                update(conn, id, &change, 60).map_err(|err| StoreError::Task(err.to_string()))
            })
            .await
            .unwrap();
        assert!(at(50).await.is_none(), "a new password signs out");
    }
}
