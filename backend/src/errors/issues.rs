//! Issue queries: the filtered list, one issue, its aggregates (tag
//! values, hourly counts, grouping components), and status changes made
//! by a person.
//!
//! Text search is `LIKE` on title and culprit, every word having to
//! match one of them: issues number in the thousands, not millions, so a
//! scan of the issue table is cheap and needs no second index to keep.

use partout_model::errors::{HourCount, Issue, TagDistribution, TagValueCount};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row};

use super::status::IssueStatus;
use crate::store::StoreError;

/// Issues per page when no limit is asked for.
pub const DEFAULT_LIMIT: usize = 100;
/// Most issues per page.
pub const MAX_LIMIT: usize = 1000;
/// Words of a text query used; more are ignored.
const MAX_QUERY_WORDS: usize = 10;
const HOUR_MS: i64 = 3_600_000;

/// How the list is ordered, newest or largest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IssueSort {
    #[default]
    LastSeen,
    FirstSeen,
    Count,
}

impl IssueSort {
    /// A sort from its API name: `last_seen`, `first_seen` or `count`.
    pub fn parse(name: &str) -> Option<IssueSort> {
        match name {
            "last_seen" => Some(IssueSort::LastSeen),
            "first_seen" => Some(IssueSort::FirstSeen),
            "count" => Some(IssueSort::Count),
            _ => None,
        }
    }

    fn order_by(self) -> &'static str {
        match self {
            IssueSort::LastSeen => "last_seen_ms DESC, id DESC",
            IssueSort::FirstSeen => "first_seen_ms DESC, id DESC",
            IssueSort::Count => "event_count DESC, id DESC",
        }
    }
}

/// Which issues to list; every filter is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueFilter {
    pub project_id: Option<i64>,
    pub status: Option<IssueStatus>,
    /// Issues with at least one event of this release.
    pub release: Option<String>,
    /// Issues with at least one event in this environment.
    pub environment: Option<String>,
    /// Words that must each appear in the title or the culprit.
    pub text: Option<String>,
    /// Issues with events in `[from_ms, until_ms)`, to the hour.
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub sort: IssueSort,
    /// At most [`MAX_LIMIT`]; 0 means [`DEFAULT_LIMIT`].
    pub limit: usize,
    pub offset: u64,
}

const ISSUE_COLUMNS: &str = "id, project_id, title, culprit, level, platform, status,
    resolved_in_release, regressed_at_ms, regressed_in_release, first_seen_ms, last_seen_ms,
    event_count, user_count, first_release, last_release, grouping_method";

fn issue_from_row(row: &Row<'_>) -> rusqlite::Result<Issue> {
    let count: i64 = row.get(12)?;
    let users: i64 = row.get(13)?;
    let regressed_at_ms: Option<i64> = row.get(8)?;
    Ok(Issue {
        id: row.get(0)?,
        project_id: row.get(1)?,
        title: row.get(2)?,
        culprit: row.get(3)?,
        level: row.get(4)?,
        platform: row.get(5)?,
        status: row.get(6)?,
        resolved_in_release: row.get(7)?,
        regressed: regressed_at_ms.is_some(),
        regressed_at_ms,
        regressed_in_release: row.get(9)?,
        first_seen_ms: row.get(10)?,
        last_seen_ms: row.get(11)?,
        count: u64::try_from(count).unwrap_or(0),
        user_count: u64::try_from(users).unwrap_or(0),
        first_release: row.get(14)?,
        last_release: row.get(15)?,
        grouping_method: row.get(16)?,
    })
}

/// A page of issues and the offset of the next page, when there is one.
pub fn list(
    conn: &Connection,
    filter: &IssueFilter,
) -> Result<(Vec<Issue>, Option<u64>), StoreError> {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    let bind = |params: &mut Vec<Value>, value: Value| {
        params.push(value);
        format!("?{}", params.len())
    };
    if let Some(project) = filter.project_id {
        let at = bind(&mut params, Value::Integer(project));
        conditions.push(format!("project_id = {at}"));
    }
    if let Some(status) = filter.status {
        let at = bind(&mut params, Value::Text(status.as_str().to_owned()));
        conditions.push(format!("status = {at}"));
    }
    for (key, value) in [
        ("release", &filter.release),
        ("environment", &filter.environment),
    ] {
        if let Some(value) = value {
            let key_at = bind(&mut params, Value::Text(key.to_owned()));
            let value_at = bind(&mut params, Value::Text(value.clone()));
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM error_issue_tags t
                         WHERE t.issue_id = i.id AND t.key = {key_at} AND t.value = {value_at})"
            ));
        }
    }
    for word in filter
        .text
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .take(MAX_QUERY_WORDS)
    {
        let at = bind(
            &mut params,
            Value::Text(format!("%{}%", like_escaped(word))),
        );
        conditions.push(format!(
            "(title LIKE {at} ESCAPE '\\' OR coalesce(culprit, '') LIKE {at} ESCAPE '\\')"
        ));
    }
    if filter.from_ms.is_some() || filter.until_ms.is_some() {
        let from = filter.from_ms.unwrap_or(i64::MIN);
        let from_hour = from.saturating_sub(from.rem_euclid(HOUR_MS));
        let from_at = bind(&mut params, Value::Integer(from_hour));
        let until_at = bind(
            &mut params,
            Value::Integer(filter.until_ms.unwrap_or(i64::MAX)),
        );
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM error_issue_hours h
                     WHERE h.issue_id = i.id AND h.hour_ms >= {from_at} AND h.hour_ms < {until_at})"
        ));
    }
    let limit = match filter.limit {
        0 => DEFAULT_LIMIT,
        limit => limit.min(MAX_LIMIT),
    };
    let limit_at = bind(
        &mut params,
        Value::Integer(i64::try_from(limit + 1).unwrap_or(i64::MAX)),
    );
    let offset_at = bind(
        &mut params,
        Value::Integer(i64::try_from(filter.offset).unwrap_or(i64::MAX)),
    );
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT {ISSUE_COLUMNS} FROM error_issues i {where_clause}
         ORDER BY {} LIMIT {limit_at} OFFSET {offset_at}",
        filter.sort.order_by()
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params), issue_from_row)?;
    let mut issues: Vec<Issue> = rows.collect::<Result<_, _>>()?;
    let next = if issues.len() > limit {
        issues.truncate(limit);
        Some(filter.offset.saturating_add(limit as u64))
    } else {
        None
    };
    Ok((issues, next))
}

/// `%`, `_` and the escape character itself, escaped for `LIKE ... ESCAPE '\'`.
fn like_escaped(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One issue.
pub fn get(conn: &Connection, id: i64) -> Result<Option<Issue>, StoreError> {
    let sql = format!("SELECT {ISSUE_COLUMNS} FROM error_issues WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], issue_from_row)
        .optional()?)
}

/// What an issue's grouping key was computed from.
pub fn grouping_components(conn: &Connection, id: i64) -> Result<Vec<String>, StoreError> {
    let text: Option<String> = conn
        .query_row(
            "SELECT grouping_components FROM error_issues WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .optional()?;
    // Written by `record` as a JSON array of strings; anything else is
    // shown as nothing rather than failing the whole detail page.
    Ok(text
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default())
}

/// Per tag key (alphabetical), the total and the `top` most frequent
/// values.
pub fn tag_distribution(
    conn: &Connection,
    id: i64,
    top: usize,
) -> Result<Vec<TagDistribution>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT key, value, count FROM error_issue_tags WHERE issue_id = ?1
         ORDER BY key, count DESC, value",
    )?;
    let rows = stmt.query_map([id], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
        ))
    })?;
    let mut tags: Vec<TagDistribution> = Vec::new();
    for row in rows {
        let (key, value, count) = row?;
        let count = u64::try_from(count).unwrap_or(0);
        let same_key = tags.last().is_some_and(|tag| tag.key == key);
        if !same_key {
            tags.push(TagDistribution {
                key,
                total: 0,
                values: Vec::new(),
            });
        }
        if let Some(tag) = tags.last_mut() {
            tag.total = tag.total.saturating_add(count);
            if tag.values.len() < top {
                tag.values.push(TagValueCount { value, count });
            }
        }
    }
    Ok(tags)
}

/// Events per hour from `from_ms` on, oldest first.
pub fn hours(conn: &Connection, id: i64, from_ms: i64) -> Result<Vec<HourCount>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT hour_ms, count FROM error_issue_hours
         WHERE issue_id = ?1 AND hour_ms >= ?2 ORDER BY hour_ms",
    )?;
    let from_hour = from_ms.saturating_sub(from_ms.rem_euclid(HOUR_MS));
    let rows = stmt.query_map([id, from_hour], |row| {
        Ok(HourCount {
            start_ms: row.get(0)?,
            count: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Sets an issue's status by hand; `None` when there is no such issue.
/// `resolved_in_next_release` records the issue's last release as the one
/// whose events are still expected. Leaving `unresolved` clears the
/// regression mark: a person has seen it.
pub fn set_status(
    conn: &Connection,
    id: i64,
    status: IssueStatus,
) -> Result<Option<Issue>, StoreError> {
    conn.execute(
        "UPDATE error_issues SET
             status = ?2,
             resolved_in_release =
                 CASE WHEN ?2 = 'resolved_in_next_release' THEN last_release ELSE NULL END,
             regressed_at_ms = CASE WHEN ?2 = 'unresolved' THEN regressed_at_ms ELSE NULL END,
             regressed_in_release =
                 CASE WHEN ?2 = 'unresolved' THEN regressed_in_release ELSE NULL END
         WHERE id = ?1",
        rusqlite::params![id, status.as_str()],
    )?;
    get(conn, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_literally() {
        assert_eq!(like_escaped("100%_a\\b"), "100\\%\\_a\\\\b");
        let conn = Connection::open_in_memory().unwrap();
        let matches = |text: &str, word: &str| -> bool {
            conn.query_row(
                "SELECT ?1 LIKE ?2 ESCAPE '\\'",
                [text, &format!("%{}%", like_escaped(word))],
                |row| row.get(0),
            )
            .unwrap()
        };
        assert!(matches("disk 100% full", "100%"));
        assert!(!matches("disk 1000 full", "100%"));
        assert!(matches("KeyError: 'cart_id'", "CART_ID"));
        assert!(!matches("KeyError: 'cartXid'", "cart_id"));
    }
}
