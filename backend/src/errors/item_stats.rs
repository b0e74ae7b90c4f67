//! The items of a body that are counted rather than stored: transactions
//! (`transactions`), sessions (`sessions`) and client reports
//! (`client_reports`).
//!
//! `envelope` hands each item to [`ItemStats::take`] as it reads the body;
//! [`prepare`] applies the time policy and sums them on the blocking
//! thread that read the body; [`record`] writes them in one writer job.
//! An item that does not parse is left out and counted by reason
//! ([`ItemStats::invalid`]): it never fails the request, since the SDK
//! can do nothing better with it and its events must still be stored.

use std::collections::BTreeMap;

use partout_protocols::sentry::client_report::{parse_client_report, ClientReport};
use partout_protocols::sentry::envelope::{Item, ItemType};
use partout_protocols::sentry::session::{
    parse_session, parse_sessions, SessionAggregates, SessionUpdate,
};
use partout_protocols::sentry::transaction::{parse_transaction, Transaction};
use rusqlite::Connection;

use super::client_reports::{self, ReportKey};
use super::sessions::{self, PreparedSessions};
use super::transactions::{self, TransactionCounts, TransactionKey};
use crate::store::{Store, StoreError};
use crate::telemetry::{RejectLabels, Telemetry};

/// The counted items of one body, as parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemStats {
    pub transactions: Vec<Transaction>,
    pub sessions: Vec<SessionUpdate>,
    pub aggregates: Vec<SessionAggregates>,
    pub client_reports: Vec<ClientReport>,
    /// Items, session buckets and report entries left out, by reason
    /// (`bad_transaction`, `bad_session`, `bad_client_report`).
    pub invalid: BTreeMap<&'static str, u64>,
}

impl ItemStats {
    /// Takes an item of a type counted here; false for any other type.
    pub fn take(&mut self, item: &Item<'_>) -> bool {
        match item.header.kind {
            ItemType::Transaction => self.take_transaction(item.payload),
            ItemType::Session => match parse_session(item.payload) {
                Ok(update) => self.sessions.push(update),
                Err(error) => self.count_invalid(error.reason(), 1),
            },
            ItemType::Sessions => match parse_sessions(item.payload) {
                Ok(aggregates) => {
                    self.count_invalid("bad_session", aggregates.dropped_buckets);
                    self.aggregates.push(aggregates);
                }
                Err(error) => self.count_invalid(error.reason(), 1),
            },
            ItemType::ClientReport => match parse_client_report(item.payload) {
                Ok(report) => {
                    self.count_invalid("bad_client_report", report.dropped_entries);
                    self.client_reports.push(report);
                }
                Err(error) => self.count_invalid(error.reason(), 1),
            },
            _ => return false,
        }
        true
    }

    /// Takes a transaction's payload: a `transaction` item, or an event
    /// of type `transaction` (the old `store` endpoint).
    pub fn take_transaction(&mut self, payload: &[u8]) {
        match parse_transaction(payload) {
            Ok(transaction) => self.transactions.push(transaction),
            Err(error) => self.count_invalid(error.reason(), 1),
        }
    }

    fn count_invalid(&mut self, reason: &'static str, count: usize) {
        if count > 0 {
            let counted = self.invalid.entry(reason).or_default();
            *counted = counted.saturating_add(u64::try_from(count).unwrap_or(u64::MAX));
        }
    }
}

/// A body's counted items, ready for the writer.
#[derive(Debug, Clone, Default)]
pub struct PreparedStats {
    pub transactions: BTreeMap<TransactionKey, TransactionCounts>,
    pub sessions: PreparedSessions,
    pub client_reports: BTreeMap<ReportKey, u64>,
    /// As in [`ItemStats::invalid`].
    pub invalid: BTreeMap<&'static str, u64>,
}

impl PreparedStats {
    /// Whether there is anything to write.
    pub fn has_writes(&self) -> bool {
        !self.transactions.is_empty()
            || !self.sessions.is_empty()
            || !self.client_reports.is_empty()
    }
}

/// Applies the time policy and sums per stored row. Pure.
pub fn prepare(
    stats: ItemStats,
    sent_at_micros: Option<i64>,
    received_at_ms: i64,
) -> PreparedStats {
    PreparedStats {
        transactions: transactions::aggregate(&stats.transactions, sent_at_micros, received_at_ms),
        sessions: sessions::prepare(
            &stats.sessions,
            &stats.aggregates,
            sent_at_micros,
            received_at_ms,
        ),
        client_reports: client_reports::aggregate(
            &stats.client_reports,
            sent_at_micros,
            received_at_ms,
        ),
        invalid: stats.invalid,
    }
}

/// Writes a body's counted items for `project_id` in one writer job,
/// and counts the items left out in `partout_rejected_items_total`
/// (`protocol="sentry"`, the reason; `session_too_old` for sessions that
/// started too long ago).
pub async fn store(
    store: &Store,
    telemetry: &Telemetry,
    project_id: i64,
    mut prepared: PreparedStats,
) -> Result<(), StoreError> {
    let mut rejected = std::mem::take(&mut prepared.invalid);
    if prepared.has_writes() {
        let too_old = store
            .write(move |conn| record(conn, project_id, &prepared))
            .await?;
        if too_old > 0 {
            rejected.insert("session_too_old", too_old);
        }
    }
    for (reason, count) in rejected {
        telemetry
            .rejected_items
            .get_or_create(&RejectLabels {
                protocol: "sentry".to_owned(),
                reason: reason.to_owned(),
            })
            .inc_by(count);
    }
    Ok(())
}

/// Writes a body's counted items for `project_id`, in a writer job;
/// returns the session updates and buckets dropped for being too old.
pub fn record(
    conn: &Connection,
    project_id: i64,
    prepared: &PreparedStats,
) -> Result<u64, StoreError> {
    transactions::record(conn, project_id, &prepared.transactions)?;
    client_reports::record(conn, project_id, &prepared.client_reports)?;
    if prepared.sessions.is_empty() {
        return Ok(0);
    }
    sessions::record(conn, project_id, &prepared.sessions)
}
