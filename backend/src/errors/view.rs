//! Stored events into API bodies. Free-form JSON (contexts, `extra`,
//! breadcrumb data) becomes text per key: strings as they are, anything
//! else as compact JSON, so the model crate needs no JSON type.

use std::collections::BTreeMap;

use partout_model::errors::{
    ErrorEvent, EventBreadcrumb, EventException, EventFrame, EventRequest, EventSdk,
    EventStacktrace, EventTag, EventUser,
};
use partout_protocols::sentry::event::{Frame, Stacktrace};
use serde_json::{Map, Value};

use super::events::StoredEvent;

/// The API body of a stored event.
pub fn error_event(stored: StoredEvent) -> ErrorEvent {
    let event = stored.event;
    ErrorEvent {
        event_id: stored.event_id,
        issue_id: stored.issue_id,
        project_id: stored.project_id,
        timestamp_ms: stored.timestamp_ms,
        received_at_ms: stored.received_at_ms,
        level: event.level.as_str().to_owned(),
        platform: event.platform,
        message: event
            .message
            .as_ref()
            .and_then(|message| message.text())
            .map(str::to_owned),
        logger: event.logger,
        release: event.release,
        dist: event.dist,
        environment: event.environment,
        server_name: event.server_name,
        transaction: event.transaction,
        exceptions: event
            .exceptions
            .into_iter()
            .map(|exception| {
                let (mechanism, handled) = match exception.mechanism {
                    Some(mechanism) => (mechanism.kind, mechanism.handled),
                    None => (None, None),
                };
                EventException {
                    kind: exception.kind,
                    value: exception.value,
                    module: exception.module,
                    mechanism,
                    handled,
                    stacktrace: exception.stacktrace.map(stacktrace),
                }
            })
            .collect(),
        stacktrace: event.stacktrace.map(stacktrace),
        tags: pairs(event.tags),
        user: event.user.map(|user| EventUser {
            id: user.id,
            email: user.email,
            username: user.username,
            ip_address: user.ip_address,
        }),
        request: event.request.map(|request| EventRequest {
            url: request.url,
            method: request.method,
            headers: pairs(request.headers),
        }),
        breadcrumbs: event
            .breadcrumbs
            .into_iter()
            .map(|crumb| EventBreadcrumb {
                timestamp_ms: crumb.timestamp_micros.map(|micros| micros.div_euclid(1000)),
                kind: crumb.kind,
                category: crumb.category,
                message: crumb.message,
                level: crumb.level.map(|level| level.as_str().to_owned()),
                data: crumb.data.as_ref().map(texts).unwrap_or_default(),
            })
            .collect(),
        contexts: event
            .contexts
            .iter()
            .map(|(name, context)| {
                let keys = context.as_object().map(texts).unwrap_or_default();
                (name.clone(), keys)
            })
            .collect(),
        extra: texts(&event.extra),
        sdk: event.sdk.map(|sdk| EventSdk {
            name: sdk.name,
            version: sdk.version,
        }),
        fingerprint: event.fingerprint,
    }
}

fn stacktrace(stack: Stacktrace) -> EventStacktrace {
    EventStacktrace {
        frames: stack.frames.iter().cloned().map(frame).collect(),
        frames_omitted: u64::try_from(stack.frames_omitted).unwrap_or(u64::MAX),
    }
}

fn frame(frame: Frame) -> EventFrame {
    EventFrame {
        filename: frame.filename,
        abs_path: frame.abs_path,
        function: frame.function,
        module: frame.module,
        lineno: frame.lineno,
        colno: frame.colno,
        in_app: frame.in_app,
        context_line: frame.context_line,
        pre_context: frame.pre_context,
        post_context: frame.post_context,
    }
}

fn pairs(pairs: Vec<(String, String)>) -> Vec<EventTag> {
    pairs
        .into_iter()
        .map(|(key, value)| EventTag { key, value })
        .collect()
}

/// An object's values as text.
fn texts(map: &Map<String, Value>) -> BTreeMap<String, String> {
    map.iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            (key.clone(), text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::envelope::parse_envelope_body;
    use crate::errors::prepare::tests::fixture;
    use crate::errors::ErrorsConfig;

    #[test]
    fn the_python_fixture_reads_back_whole() {
        let parsed = parse_envelope_body(
            &fixture("sentry-envelope-exception.wire.gz"),
            &ErrorsConfig::default(),
        )
        .unwrap();
        let event = parsed.events.into_iter().next().unwrap();
        let view = error_event(StoredEvent {
            id: 1,
            project_id: 42,
            issue_id: 7,
            event_id: "81ff5a4fefb44611815cfe1e0a0a0800".to_owned(),
            timestamp_ms: 5,
            received_at_ms: 6,
            event,
        });
        assert_eq!(view.release.as_deref(), Some("shop@1.4.2"));
        let exception = &view.exceptions[0];
        assert_eq!(
            (exception.mechanism.as_deref(), exception.handled),
            (Some("generic"), Some(true))
        );
        let frames = &exception.stacktrace.as_ref().unwrap().frames;
        let functions: Vec<_> = frames
            .iter()
            .map(|f| f.function.as_deref().unwrap())
            .collect();
        assert_eq!(functions, ["main", "checkout", "charge_card"]);
        assert_eq!(view.tags[0].key, "region");
        assert_eq!(
            view.breadcrumbs[0].message.as_deref(),
            Some("added 3 items")
        );
        assert_eq!(view.breadcrumbs[0].timestamp_ms, Some(1_795_348_030_060));
        assert_eq!(
            view.contexts["trace"]["trace_id"],
            "fd43ba7931654ae5b1c47b0e40e2e4aa"
        );
        assert_eq!(
            view.extra["sys.argv"],
            "[\"checkout.py\",\"/srv/shop/out\"]"
        );
        assert_eq!(
            view.sdk.as_ref().unwrap().name.as_deref(),
            Some("sentry.python")
        );
    }
}
