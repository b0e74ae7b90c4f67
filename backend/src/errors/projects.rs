//! Projects and their DSN keys: the `error_projects` and
//! `error_project_keys` tables.
//!
//! A DSN is `http://<public_key>@<host>/<project_id>`. The public key is
//! the only credential an SDK presents; it is stored as is (not hashed)
//! because it is public by design: browser SDKs ship it in their code,
//! and the API must show it back to build DSNs. Revoked keys keep their
//! row, so an SDK still using one gets 403 rather than 401.
//!
//! Every ingested request presents a key, so [`KeyCache`] keeps what known
//! keys are in memory. Whatever changes a key row must call
//! [`KeyCache::invalidate`] once its write has committed, so a revocation
//! holds for the very next request.

use std::collections::HashMap;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension};

use crate::store::{Store, StoreError};

/// The name of the project made on first start.
pub const DEFAULT_PROJECT: &str = "default";
/// Longest project name or key label, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// A project row with its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRow {
    pub id: i64,
    pub name: String,
    pub created_at_ms: i64,
    pub keys: Vec<KeyRow>,
}

/// A key row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub id: i64,
    pub project_id: i64,
    pub public_key: String,
    pub label: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// What a presented public key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLookup {
    Unknown,
    Revoked { project_id: i64 },
    Active { project_id: i64 },
}

/// The DSN of a key for a server at `base` (`http://host:port`, no
/// trailing slash).
pub fn dsn(base: &str, public_key: &str, project_id: i64) -> String {
    match base.split_once("://") {
        Some((scheme, host)) => format!("{scheme}://{public_key}@{host}/{project_id}"),
        None => format!("http://{public_key}@{base}/{project_id}"),
    }
}

/// 32 random hex digits, the shape of Sentry's public keys.
pub fn new_public_key() -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|error| StoreError::Task(format!("no randomness for a new key: {error}")))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Makes the default project (with one key) when there is no project at
/// all, so a fresh install takes events at once. Returns the first
/// project and its first active key, for the start-up log.
pub fn ensure_default(
    conn: &Connection,
    now_ms: i64,
) -> Result<(ProjectRow, Option<KeyRow>), StoreError> {
    let existing = list(conn)?.into_iter().next();
    let project = match existing {
        Some(project) => project,
        None => {
            let project = create(conn, DEFAULT_PROJECT, now_ms)?;
            tracing::info!(project = project.id, "default error project created");
            project
        }
    };
    let key = project
        .keys
        .iter()
        .find(|key| key.revoked_at_ms.is_none())
        .cloned();
    Ok((project, key))
}

/// Every project with its keys, by id.
pub fn list(conn: &Connection) -> Result<Vec<ProjectRow>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT id, name, created_at_ms FROM error_projects ORDER BY id")?;
    let projects = stmt.query_map([], |row| {
        Ok(ProjectRow {
            id: row.get(0)?,
            name: row.get(1)?,
            created_at_ms: row.get(2)?,
            keys: Vec::new(),
        })
    })?;
    let mut projects: Vec<ProjectRow> = projects.collect::<Result<_, _>>()?;
    for project in &mut projects {
        project.keys = keys_of(conn, project.id)?;
    }
    Ok(projects)
}

/// One project with its keys.
pub fn get(conn: &Connection, id: i64) -> Result<Option<ProjectRow>, StoreError> {
    let project = conn
        .query_row(
            "SELECT id, name, created_at_ms FROM error_projects WHERE id = ?1",
            [id],
            |row| {
                Ok(ProjectRow {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    created_at_ms: row.get(2)?,
                    keys: Vec::new(),
                })
            },
        )
        .optional()?;
    match project {
        Some(mut project) => {
            project.keys = keys_of(conn, id)?;
            Ok(Some(project))
        }
        None => Ok(None),
    }
}

/// Whether project `id` exists.
pub fn exists(conn: &Connection, id: i64) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM error_projects WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Whether a project of this name exists.
pub fn name_taken(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT id FROM error_projects WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .optional()?;
    Ok(found.is_some())
}

/// Creates a project with one key labelled `default`. The caller checks
/// the name is free ([`name_taken`]); a taken name fails the insert.
pub fn create(conn: &Connection, name: &str, now_ms: i64) -> Result<ProjectRow, StoreError> {
    conn.execute(
        "INSERT INTO error_projects (name, created_at_ms) VALUES (?1, ?2)",
        rusqlite::params![name, now_ms],
    )?;
    let id = conn.last_insert_rowid();
    let key = insert_key(conn, id, "default", now_ms)?;
    Ok(ProjectRow {
        id,
        name: name.to_owned(),
        created_at_ms: now_ms,
        keys: vec![key],
    })
}

/// Adds a key to a project; `None` when there is no such project.
pub fn create_key(
    conn: &Connection,
    project_id: i64,
    label: &str,
    now_ms: i64,
) -> Result<Option<KeyRow>, StoreError> {
    if get(conn, project_id)?.is_none() {
        return Ok(None);
    }
    insert_key(conn, project_id, label, now_ms).map(Some)
}

/// Revokes a key of a project (again is harmless); `None` when the
/// project has no such key.
pub fn revoke_key(
    conn: &Connection,
    project_id: i64,
    key_id: i64,
    now_ms: i64,
) -> Result<Option<KeyRow>, StoreError> {
    conn.execute(
        "UPDATE error_project_keys SET revoked_at_ms = coalesce(revoked_at_ms, ?3)
         WHERE id = ?1 AND project_id = ?2",
        rusqlite::params![key_id, project_id, now_ms],
    )?;
    Ok(keys_of(conn, project_id)?
        .into_iter()
        .find(|key| key.id == key_id))
}

/// What `public_key` is.
pub fn lookup(conn: &Connection, public_key: &str) -> Result<KeyLookup, StoreError> {
    let found: Option<(i64, Option<i64>)> = conn
        .prepare_cached(
            "SELECT project_id, revoked_at_ms FROM error_project_keys WHERE public_key = ?1",
        )?
        .query_row([public_key], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(match found {
        None => KeyLookup::Unknown,
        Some((project_id, Some(_))) => KeyLookup::Revoked { project_id },
        Some((project_id, None)) => KeyLookup::Active { project_id },
    })
}

/// Known keys the cache holds at most; past it, it starts over.
pub const KEY_CACHE_CAPACITY: usize = 4096;

/// What known public keys are (active or revoked, and whose), so ingestion
/// does not read SQLite for every request.
///
/// Unknown keys are not kept: every entry is a row of
/// `error_project_keys`, so garbage keys cannot fill the cache, and a key
/// created later cannot be hidden by an earlier miss. The bound still
/// holds against many real keys.
///
/// Invariant: an entry never outlives a committed change of its row.
/// [`KeyCache::invalidate`] (called after the commit) empties the cache
/// and bumps a generation; a lookup stores what it read only if the
/// generation did not move between its start and its end, so a read that
/// raced a change (and may have seen the row before it) is not kept.
#[derive(Debug, Default)]
pub struct KeyCache {
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    generation: u64,
    keys: HashMap<String, KeyLookup>,
}

impl KeyCache {
    /// What `public_key` is: from memory when known, else from the store.
    pub async fn lookup(&self, store: &Store, public_key: &str) -> Result<KeyLookup, StoreError> {
        let generation = {
            let state = self.lock();
            if let Some(found) = state.keys.get(public_key) {
                return Ok(*found);
            }
            state.generation
        };
        let key = public_key.to_owned();
        let found = store.read(move |conn| lookup(conn, &key)).await?;
        self.remember(generation, public_key, found);
        Ok(found)
    }

    /// Forgets every key. Call after a change of any key row committed.
    pub fn invalidate(&self) {
        let mut state = self.lock();
        state.generation = state.generation.wrapping_add(1);
        state.keys.clear();
    }

    /// Keeps what a read begun at `generation` found, unless a change
    /// committed since or the key is unknown.
    fn remember(&self, generation: u64, public_key: &str, found: KeyLookup) {
        if found == KeyLookup::Unknown {
            return;
        }
        let mut state = self.lock();
        if state.generation != generation {
            return;
        }
        if state.keys.len() >= KEY_CACHE_CAPACITY {
            state.keys.clear();
        }
        state.keys.insert(public_key.to_owned(), found);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // The state is valid whatever a panicking holder did: at worst an
        // entry is missing.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn insert_key(
    conn: &Connection,
    project_id: i64,
    label: &str,
    now_ms: i64,
) -> Result<KeyRow, StoreError> {
    let public_key = new_public_key()?;
    conn.execute(
        "INSERT INTO error_project_keys (project_id, public_key, label, created_at_ms)
         VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![project_id, public_key, label, now_ms],
    )?;
    Ok(KeyRow {
        id: conn.last_insert_rowid(),
        project_id,
        public_key,
        label: label.to_owned(),
        created_at_ms: now_ms,
        revoked_at_ms: None,
    })
}

fn keys_of(conn: &Connection, project_id: i64) -> Result<Vec<KeyRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, project_id, public_key, label, created_at_ms, revoked_at_ms
         FROM error_project_keys WHERE project_id = ?1 ORDER BY id",
    )?;
    let keys = stmt.query_map([project_id], |row| {
        Ok(KeyRow {
            id: row.get(0)?,
            project_id: row.get(1)?,
            public_key: row.get(2)?,
            label: row.get(3)?,
            created_at_ms: row.get(4)?,
            revoked_at_ms: row.get(5)?,
        })
    })?;
    Ok(keys.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[tokio::test]
    async fn the_default_project_is_made_once_and_keys_can_be_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (first, key) = store.write(|c| ensure_default(c, 10)).await.unwrap();
        let key = key.unwrap();
        assert_eq!((first.id, first.name.as_str()), (1, DEFAULT_PROJECT));
        assert_eq!(key.public_key.len(), 32);
        assert!(key.public_key.bytes().all(|b| b.is_ascii_hexdigit()));
        let (again, same_key) = store.write(|c| ensure_default(c, 20)).await.unwrap();
        assert_eq!(again.id, first.id);
        assert_eq!(same_key.unwrap().public_key, key.public_key);

        let public = key.public_key.clone();
        let found = store.read(move |c| lookup(c, &public)).await.unwrap();
        assert_eq!(found, KeyLookup::Active { project_id: 1 });
        let revoked = store
            .write(move |c| revoke_key(c, 1, key.id, 30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(revoked.revoked_at_ms, Some(30));
        let public = revoked.public_key.clone();
        let found = store.read(move |c| lookup(c, &public)).await.unwrap();
        assert_eq!(found, KeyLookup::Revoked { project_id: 1 });
        let unknown = store.read(|c| lookup(c, "nope")).await.unwrap();
        assert_eq!(unknown, KeyLookup::Unknown);
        assert_eq!(
            store.write(|c| revoke_key(c, 2, 1, 40)).await.unwrap(),
            None
        );
        // With its only key revoked, the project has no key to log.
        let (_, none) = store.write(|c| ensure_default(c, 50)).await.unwrap();
        assert_eq!(none, None);
    }

    #[tokio::test]
    async fn the_key_cache_answers_from_memory_until_invalidated() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (_, key) = store.write(|c| ensure_default(c, 10)).await.unwrap();
        let key = key.unwrap();
        let cache = KeyCache::default();
        let active = KeyLookup::Active { project_id: 1 };
        assert_eq!(cache.lookup(&store, &key.public_key).await.unwrap(), active);
        // Revoked behind the cache's back: it still answers from memory,
        // which shows it did not read the store again.
        let key_id = key.id;
        store
            .write(move |c| revoke_key(c, 1, key_id, 20))
            .await
            .unwrap();
        assert_eq!(cache.lookup(&store, &key.public_key).await.unwrap(), active);
        // As the API does after a revocation commits: the next request
        // sees it.
        cache.invalidate();
        let revoked = KeyLookup::Revoked { project_id: 1 };
        assert_eq!(
            cache.lookup(&store, &key.public_key).await.unwrap(),
            revoked
        );
        assert_eq!(cache.lock().keys.get(&key.public_key), Some(&revoked));
        // Unknown keys are looked up each time, never kept.
        assert_eq!(
            cache.lookup(&store, "nope").await.unwrap(),
            KeyLookup::Unknown
        );
        assert_eq!(cache.lock().keys.len(), 1);
    }

    #[test]
    fn a_lookup_that_raced_a_change_is_not_kept_and_the_cache_is_bounded() {
        let cache = KeyCache::default();
        let active = KeyLookup::Active { project_id: 1 };
        let before = cache.lock().generation;
        // A revocation commits while the lookup reads: what it read may
        // be the row before the change.
        cache.invalidate();
        cache.remember(before, "k", active);
        assert!(cache.lock().keys.is_empty());
        let now = cache.lock().generation;
        cache.remember(now, "k", active);
        assert_eq!(cache.lock().keys.get("k"), Some(&active));
        for n in 0..KEY_CACHE_CAPACITY + 10 {
            cache.remember(now, &format!("key{n}"), active);
        }
        assert!(cache.lock().keys.len() <= KEY_CACHE_CAPACITY);
    }

    #[test]
    fn dsns_parse_back() {
        let text = dsn("http://127.0.0.1:8080", "abc123", 7);
        assert_eq!(text, "http://abc123@127.0.0.1:8080/7");
        let parsed = partout_protocols::sentry::auth::parse_dsn(&text).unwrap();
        assert_eq!(
            (parsed.public_key.as_str(), parsed.project_id),
            ("abc123", 7)
        );
        assert_eq!(dsn("h:1", "k", 2), "http://k@h:1/2");
    }

    #[tokio::test]
    async fn projects_get_a_key_each_and_more_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let shop = store.write(|c| create(c, "shop", 1)).await.unwrap();
        assert!(store.read(|c| name_taken(c, "shop")).await.unwrap());
        let extra = store
            .write(move |c| create_key(c, shop.id, "browser", 2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(extra.label, "browser");
        let listed = store.read(list).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].keys.len(), 2);
        assert_eq!(
            store.write(|c| create_key(c, 99, "x", 3)).await.unwrap(),
            None
        );
    }
}
