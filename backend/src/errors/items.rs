//! The check-ins and attachments of one request: read from their items
//! while the envelope is parsed (on the blocking thread: attachments are
//! compressed there), then written in one writer job after the request's
//! events, so the SDK's 200 means they are durable too.
//!
//! An item that cannot be kept (a check-in that does not parse, an
//! attachment over the size limit or without an event to belong to, a
//! check-in for a monitor past the project's limit) is skipped and
//! counted in `partout_sentry_items_skipped_total` by its type; it never
//! fails the request.

use partout_protocols::sentry::check_in::parse_check_in;
use partout_protocols::sentry::envelope::{Item, ItemType};

use super::attachments::{self, NewAttachment};
use super::checkins::{self, CheckInOutcome, NewCheckIn};
use super::envelope::Parsed;
use super::ErrorsConfig;
use crate::store::{Store, StoreError};
use crate::telemetry::{ItemTypeLabels, Telemetry};

/// What a request holds besides events, ready for the writer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Items {
    pub check_ins: Vec<NewCheckIn>,
    /// The event the attachments belong to.
    pub event_id: Option<String>,
    pub attachments: Vec<NewAttachment>,
}

impl Items {
    pub fn is_empty(&self) -> bool {
        self.check_ins.is_empty() && self.attachments.is_empty()
    }
}

/// Reads a `check_in` or `attachment` item into `parsed`; any other item
/// type is left alone (returns false).
pub fn read_item(parsed: &mut Parsed, item: &Item<'_>, config: &ErrorsConfig) -> bool {
    let kind = &item.header.kind;
    match kind {
        ItemType::CheckIn => match parse_check_in(item.payload) {
            Ok(check_in) => {
                if let Some(error) = &check_in.config_error {
                    tracing::debug!(reason = error.reason(), slug = %check_in.monitor_slug, "monitor config ignored");
                }
                parsed.check_ins.push(check_in);
            }
            Err(error) => {
                tracing::debug!(reason = error.reason(), "check-in skipped");
                parsed.skipped.push(kind.label());
            }
        },
        ItemType::Attachment => {
            match attachments::prepare(&item.header, item.payload, &config.attachments) {
                Ok(attachment) => parsed.attachments.push(attachment),
                Err(refused) => {
                    tracing::debug!(?refused, bytes = item.payload.len(), "attachment skipped");
                    parsed.skipped.push(kind.label());
                }
            }
        }
        _ => return false,
    }
    true
}

/// Moves the check-ins and attachments out of `parsed`. Attachments
/// belong to the envelope header's `event_id`, else to the first event's;
/// with neither they are skipped.
pub fn take(parsed: &mut Parsed) -> Items {
    let event_id = parsed.header_event_id.clone().or_else(|| {
        parsed
            .events
            .first()
            .and_then(|event| event.event_id.clone())
    });
    let mut attachments = std::mem::take(&mut parsed.attachments);
    if event_id.is_none() {
        for _ in attachments.drain(..) {
            parsed.skipped.push(ItemType::Attachment.label());
        }
    }
    let sent_at_micros = parsed.sent_at_micros;
    Items {
        check_ins: std::mem::take(&mut parsed.check_ins)
            .into_iter()
            .map(|check_in| NewCheckIn {
                check_in,
                sent_at_micros,
            })
            .collect(),
        event_id,
        attachments,
    }
}

/// What the writer did with a request's items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    pub check_ins: Vec<CheckInOutcome>,
    pub attachments: attachments::Recorded,
}

/// Writes the items of a request of `project_id` in one writer job and
/// counts the ones dropped there.
pub async fn store(
    store: &Store,
    telemetry: &Telemetry,
    project_id: i64,
    items: Items,
    received_at_ms: i64,
    config: &ErrorsConfig,
) -> Result<Stored, StoreError> {
    if items.is_empty() {
        return Ok(Stored::default());
    }
    let check_in_limits = config.check_ins;
    let attachment_limits = config.attachments;
    let stored = store
        .write(move |conn| {
            let mut stored = Stored::default();
            for check_in in &items.check_ins {
                stored.check_ins.push(checkins::record_check_in(
                    conn,
                    project_id,
                    check_in,
                    received_at_ms,
                    check_in_limits,
                )?);
            }
            if let Some(event_id) = &items.event_id {
                stored.attachments = attachments::record_attachments(
                    conn,
                    project_id,
                    event_id,
                    &items.attachments,
                    received_at_ms,
                    &attachment_limits,
                )?;
            }
            Ok(stored)
        })
        .await?;
    let over_limit = stored
        .check_ins
        .iter()
        .filter(|outcome| **outcome == CheckInOutcome::TooManyMonitors)
        .count();
    if over_limit > 0 {
        tracing::info!(
            project = project_id,
            check_ins = over_limit,
            "check-ins dropped: the project has too many monitors"
        );
        telemetry
            .sentry_items_skipped
            .get_or_create(&ItemTypeLabels {
                item_type: ItemType::CheckIn.label().to_owned(),
            })
            .inc_by(u64::try_from(over_limit).unwrap_or(u64::MAX));
    }
    if stored.attachments.evicted > 0 {
        tracing::debug!(
            project = project_id,
            evicted = stored.attachments.evicted,
            "oldest attachments deleted: over the project's limit"
        );
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::envelope::parse_envelope_body;

    fn parse(body: &[u8]) -> Parsed {
        parse_envelope_body(body, &ErrorsConfig::default()).unwrap()
    }

    #[test]
    fn attachments_belong_to_the_header_event_else_the_first_event() {
        let body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"attachment\",\"filename\":\"a\"}\nxyz\n";
        let mut parsed = parse(body);
        let items = take(&mut parsed);
        assert_eq!(
            items.event_id.as_deref(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        assert_eq!(items.attachments.len(), 1);
        assert_eq!(items.attachments[0].filename, "a");
        let body = b"{}\n{\"type\":\"event\"}\n{\"event_id\":\"0123456789abcdef0123456789abcdef\"}\n{\"type\":\"attachment\"}\nxyz\n";
        let items = take(&mut parse(body));
        assert_eq!(
            items.event_id.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        );
        // With no event to belong to, attachments are skipped.
        let mut parsed = parse(b"{}\n{\"type\":\"attachment\"}\nxyz\n");
        let items = take(&mut parsed);
        assert!(items.is_empty());
        assert_eq!(parsed.skipped, ["attachment"]);
    }

    #[test]
    fn check_ins_keep_the_envelope_time_and_bad_ones_are_skipped() {
        let body = b"{\"sent_at\":\"2023-11-14T22:13:20Z\"}\n{\"type\":\"check_in\"}\n{\"monitor_slug\":\"job\",\"status\":\"ok\"}\n{\"type\":\"check_in\"}\n{\"status\":\"ok\"}\n";
        let mut parsed = parse(body);
        assert_eq!(parsed.skipped, ["check_in"]);
        let items = take(&mut parsed);
        assert_eq!(items.check_ins.len(), 1);
        assert_eq!(items.check_ins[0].check_in.monitor_slug, "job");
        assert_eq!(
            items.check_ins[0].sent_at_micros,
            Some(1_700_000_000_000_000)
        );
    }
}
