//! Deploys posted from CI: what was released where, and when.

use partout_model::api::{Deploy, DeployQuery};
use rusqlite::Connection;

use super::StoreError;

/// Most deploys one query returns.
pub const MAX_LIST_LIMIT: u32 = 1000;

/// A validated deploy ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeploy {
    pub service: String,
    pub version: String,
    pub environment: String,
    pub commit: Option<String>,
    pub url: Option<String>,
    pub description: Option<String>,
    pub deployed_by: Option<String>,
    pub deployed_at_ms: i64,
    pub received_at_ms: i64,
}

pub fn insert(conn: &Connection, deploy: &NewDeploy) -> Result<Deploy, StoreError> {
    conn.execute(
        "INSERT INTO deploys (service, version, environment, commit_sha, url, description,
                              deployed_by, deployed_at_ms, received_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        rusqlite::params![
            deploy.service,
            deploy.version,
            deploy.environment,
            deploy.commit,
            deploy.url,
            deploy.description,
            deploy.deployed_by,
            deploy.deployed_at_ms,
            deploy.received_at_ms,
        ],
    )?;
    Ok(Deploy {
        id: conn.last_insert_rowid(),
        service: deploy.service.clone(),
        version: deploy.version.clone(),
        environment: deploy.environment.clone(),
        commit: deploy.commit.clone(),
        url: deploy.url.clone(),
        description: deploy.description.clone(),
        deployed_by: deploy.deployed_by.clone(),
        deployed_at_ms: deploy.deployed_at_ms,
    })
}

/// Deploys matching `query`, newest first.
pub fn list(conn: &Connection, query: &DeployQuery) -> Result<Vec<Deploy>, StoreError> {
    let limit = query.limit.unwrap_or(100).min(MAX_LIST_LIMIT);
    let mut stmt = conn.prepare_cached(
        "SELECT id, service, version, environment, commit_sha, url, description, deployed_by,
                deployed_at_ms
         FROM deploys
         WHERE (?1 IS NULL OR service = ?1)
           AND (?2 IS NULL OR environment = ?2)
           AND (?3 IS NULL OR deployed_at_ms >= ?3)
           AND (?4 IS NULL OR deployed_at_ms < ?4)
         ORDER BY deployed_at_ms DESC, id DESC
         LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        rusqlite::params![
            query.service,
            query.environment,
            query.from_ms,
            query.until_ms,
            limit
        ],
        |row| {
            Ok(Deploy {
                id: row.get(0)?,
                service: row.get(1)?,
                version: row.get(2)?,
                environment: row.get(3)?,
                commit: row.get(4)?,
                url: row.get(5)?,
                description: row.get(6)?,
                deployed_by: row.get(7)?,
                deployed_at_ms: row.get(8)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn deploy(service: &str, at: i64) -> NewDeploy {
        NewDeploy {
            service: service.into(),
            version: format!("v{at}"),
            environment: "production".into(),
            commit: None,
            url: None,
            description: None,
            deployed_by: None,
            deployed_at_ms: at,
            received_at_ms: at,
        }
    }

    #[tokio::test]
    async fn list_filters_by_service_and_time_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for (service, at) in [("api", 10), ("web", 20), ("api", 30), ("api", 40)] {
            let new = deploy(service, at);
            store.write(move |conn| insert(conn, &new)).await.unwrap();
        }
        let query = DeployQuery {
            service: Some("api".into()),
            from_ms: Some(10),
            until_ms: Some(40),
            ..DeployQuery::default()
        };
        let found = store.read(move |conn| list(conn, &query)).await.unwrap();
        let times: Vec<i64> = found.iter().map(|d| d.deployed_at_ms).collect();
        assert_eq!(times, [30, 10]);
        let everything = store
            .read(|conn| {
                list(
                    conn,
                    &DeployQuery {
                        limit: Some(2),
                        ..DeployQuery::default()
                    },
                )
            })
            .await
            .unwrap();
        assert_eq!(everything.len(), 2);
        assert_eq!(everything[0].deployed_at_ms, 40);
    }
}
