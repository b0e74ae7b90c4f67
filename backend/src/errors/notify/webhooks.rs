//! A project's webhooks: the `error_webhooks` table.
//!
//! Removing a webhook drops its deliveries too (sent, pending or given
//! up): nothing is sent to it any more, and its history goes with it.

use partout_model::errors::WebhookKind;
use rusqlite::{Connection, OptionalExtension};

use crate::store::StoreError;

/// Longest webhook URL accepted, bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Webhooks per project: each notification is one delivery per webhook.
pub const MAX_PER_PROJECT: i64 = 20;

/// A webhook row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub id: i64,
    pub project_id: i64,
    pub url: String,
    pub kind: WebhookKind,
    pub created_at_ms: i64,
}

/// Why a webhook was not added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddError {
    #[error("no such project")]
    NoProject,
    #[error("a project has at most {MAX_PER_PROJECT} webhooks")]
    TooMany,
}

/// The stored name of a kind.
pub fn kind_name(kind: WebhookKind) -> &'static str {
    match kind {
        WebhookKind::Generic => "generic",
        WebhookKind::Slack => "slack",
    }
}

/// A kind from its stored name; the CHECK constraint allows no other.
pub fn parse_kind(name: &str) -> WebhookKind {
    match name {
        "slack" => WebhookKind::Slack,
        _ => WebhookKind::Generic,
    }
}

/// Checks a webhook URL: `http` or `https`, with a host, at most
/// [`MAX_URL_BYTES`]. Returns it trimmed, or what is wrong with it.
pub fn checked_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.len() > MAX_URL_BYTES {
        return Err(format!("url is longer than {MAX_URL_BYTES} bytes"));
    }
    let url = reqwest::Url::parse(text).map_err(|error| format!("url is not a URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("url must start with http:// or https://".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("url has no host".into());
    }
    Ok(text.to_owned())
}

/// Adds a webhook to `project_id`.
pub fn add(
    conn: &Connection,
    project_id: i64,
    url: &str,
    kind: WebhookKind,
    now_ms: i64,
) -> Result<Result<WebhookRow, AddError>, StoreError> {
    if !crate::errors::projects::exists(conn, project_id)? {
        return Ok(Err(AddError::NoProject));
    }
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM error_webhooks WHERE project_id = ?1")?
        .query_row([project_id], |row| row.get(0))?;
    if count >= MAX_PER_PROJECT {
        return Ok(Err(AddError::TooMany));
    }
    conn.prepare_cached(
        "INSERT INTO error_webhooks (project_id, url, kind, created_at_ms) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(rusqlite::params![project_id, url, kind_name(kind), now_ms])?;
    Ok(Ok(WebhookRow {
        id: conn.last_insert_rowid(),
        project_id,
        url: url.to_owned(),
        kind,
        created_at_ms: now_ms,
    }))
}

/// The webhooks of `project_id`, oldest first.
pub fn list(conn: &Connection, project_id: i64) -> Result<Vec<WebhookRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, project_id, url, kind, created_at_ms FROM error_webhooks
         WHERE project_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([project_id], |row| {
        Ok(WebhookRow {
            id: row.get(0)?,
            project_id: row.get(1)?,
            url: row.get(2)?,
            kind: parse_kind(&row.get::<_, String>(3)?),
            created_at_ms: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes a webhook of `project_id` and its deliveries; false when there
/// is no such webhook.
pub fn remove(conn: &Connection, project_id: i64, webhook_id: i64) -> Result<bool, StoreError> {
    let owned = conn
        .prepare_cached("SELECT 1 FROM error_webhooks WHERE id = ?1 AND project_id = ?2")?
        .query_row([webhook_id, project_id], |_| Ok(()))
        .optional()?
        .is_some();
    if !owned {
        return Ok(false);
    }
    conn.prepare_cached("DELETE FROM error_deliveries WHERE webhook_id = ?1")?
        .execute([webhook_id])?;
    conn.prepare_cached("DELETE FROM error_webhooks WHERE id = ?1")?
        .execute([webhook_id])?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert_eq!(
            checked_url(" https://hooks.slack.com/services/T/B/x ").unwrap(),
            "https://hooks.slack.com/services/T/B/x"
        );
        assert!(checked_url("http://127.0.0.1:9/hook").is_ok());
        for bad in [
            "ftp://x/y",
            "hooks.slack.com",
            "http://",
            "file:///etc/passwd",
        ] {
            assert!(checked_url(bad).is_err(), "{bad}");
        }
        assert!(checked_url(&format!("http://h/{}", "a".repeat(MAX_URL_BYTES))).is_err());
    }
}
