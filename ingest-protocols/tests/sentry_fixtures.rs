//! Sentry ingestion over envelopes real SDKs sent (see
//! `fixtures/sentry/README.md`): every field partout shows is asserted
//! exactly, and grouping is checked against edits a codebase goes through.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::Read;

use partout_protocols::sentry::auth::{parse_auth_header, parse_dsn};
use partout_protocols::sentry::envelope::{parse_envelope, EnvelopeLimits, ItemType};
use partout_protocols::sentry::event::{normalize_event, Event, Level, NormalizeLimits, Sdk};
use partout_protocols::sentry::grouping::{group_event, Grouping, GroupingMethod};
use serde_json::{json, Value};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/sentry/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap();
    if name.ends_with(".gz") {
        let mut body = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut body)
            .unwrap();
        body
    } else {
        bytes
    }
}

/// The one item of `kind` in a fixture, as JSON, so tests can edit it.
fn item_json(name: &str, kind: ItemType) -> Value {
    let body = fixture(name);
    let envelope = parse_envelope(&body, &EnvelopeLimits::default()).unwrap();
    let items: Vec<_> = envelope.items_of(kind).collect();
    assert_eq!(items.len(), 1);
    serde_json::from_slice(items[0].payload).unwrap()
}

fn normalize(payload: &Value) -> Event {
    normalize_event(payload.to_string().as_bytes(), &NormalizeLimits::default()).unwrap()
}

fn group(payload: &Value) -> Grouping {
    group_event(&normalize(payload))
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

#[test]
fn python_exception_envelope() {
    let body = fixture("sentry-envelope-exception.wire.gz");
    let envelope = parse_envelope(&body, &EnvelopeLimits::default()).unwrap();
    assert_eq!(
        envelope.header.event_id.as_deref(),
        Some("81ff5a4fefb44611815cfe1e0a0a0800")
    );
    assert_eq!(envelope.header.sent_at_micros, Some(1_795_348_030_071_104));
    assert_eq!(envelope.items.len(), 1);
    assert!(envelope.skipped.is_empty());
    let item = &envelope.items[0];
    assert_eq!(item.header.kind, ItemType::Event);
    assert_eq!(item.header.length, Some(3460));
    assert_eq!(
        item.header.content_type.as_deref(),
        Some("application/json")
    );
    assert_eq!(item.payload.len(), 3460);

    let event = normalize_event(item.payload, &NormalizeLimits::default()).unwrap();
    assert_eq!(
        event.event_id.as_deref(),
        Some("81ff5a4fefb44611815cfe1e0a0a0800")
    );
    assert_eq!(event.timestamp_micros, Some(1_795_348_030_061_164));
    assert_eq!(event.level, Level::Error);
    assert_eq!(event.platform, "python");
    assert_eq!(event.release.as_deref(), Some("shop@1.4.2"));
    assert_eq!(event.environment.as_deref(), Some("prod"));
    assert_eq!(event.server_name.as_deref(), Some("web-1"));
    assert_eq!(event.message, None);
    assert_eq!(event.stacktrace, None);
    assert!(event.fingerprint.is_empty());
    assert_eq!(
        event.sdk,
        Some(Sdk {
            name: Some("sentry.python".to_owned()),
            version: Some("2.75.0".to_owned()),
        })
    );

    assert_eq!(event.exceptions.len(), 1);
    let exception = &event.exceptions[0];
    assert_eq!(exception.kind.as_deref(), Some("PaymentDeclined"));
    assert_eq!(
        exception.value.as_deref(),
        Some("card declined for order A-1001")
    );
    assert_eq!(exception.module.as_deref(), Some("__main__"));
    let mechanism = exception.mechanism.as_ref().unwrap();
    assert_eq!(
        (mechanism.kind.as_deref(), mechanism.handled),
        (Some("generic"), Some(true))
    );
    let stack = exception.stacktrace.as_ref().unwrap();
    assert_eq!(stack.frames_omitted, 0);
    let summary: Vec<_> = stack
        .frames
        .iter()
        .map(|frame| {
            (
                frame.filename.as_deref().unwrap(),
                frame.abs_path.as_deref().unwrap(),
                frame.module.as_deref().unwrap(),
                frame.function.as_deref().unwrap(),
                frame.lineno.unwrap(),
                frame.in_app,
            )
        })
        .collect();
    let path = "/srv/shop/checkout.py";
    assert_eq!(
        summary,
        [
            ("checkout.py", path, "__main__", "main", 40, Some(true)),
            ("checkout.py", path, "__main__", "checkout", 27, Some(true)),
            (
                "checkout.py",
                path,
                "__main__",
                "charge_card",
                22,
                Some(true)
            ),
        ]
    );
    let raising = &stack.frames[2];
    assert_eq!(
        raising.context_line.as_deref(),
        Some("        raise PaymentDeclined(\"card declined for order %s\" % order_id)")
    );
    assert_eq!(raising.pre_context.len(), 5);
    assert_eq!(
        raising.pre_context[3],
        "def charge_card(order_id, amount_cents):"
    );
    assert_eq!(raising.post_context[0], "    return \"ok\"");
    assert_eq!(raising.colno, None);
    // Local variables are never kept.
    let stored = serde_json::to_value(&event).unwrap();
    assert!(stored["exceptions"][0]["stacktrace"]["frames"][2]
        .get("vars")
        .is_none());
    assert!(!stored.to_string().contains("'A-1001'"));

    let user = event.user.as_ref().unwrap();
    assert_eq!(
        (user.id.as_deref(), user.email.as_deref()),
        (Some("1234"), Some("ada@example.com"))
    );
    assert_eq!(event.tags, [("region".to_owned(), "eu-west".to_owned())]);
    assert_eq!(event.breadcrumbs.len(), 1);
    let crumb = &event.breadcrumbs[0];
    assert_eq!(crumb.category.as_deref(), Some("cart"));
    assert_eq!(crumb.message.as_deref(), Some("added 3 items"));
    assert_eq!(crumb.level, Some(Level::Info));
    assert_eq!(crumb.kind.as_deref(), Some("default"));
    assert_eq!(crumb.timestamp_micros, Some(1_795_348_030_060_314));
    assert_eq!(
        event.contexts.keys().collect::<Vec<_>>(),
        ["runtime", "trace"]
    );
    assert_eq!(
        event.contexts["trace"]["trace_id"],
        "fd43ba7931654ae5b1c47b0e40e2e4aa"
    );
    assert_eq!(
        event.extra["sys.argv"],
        json!(["checkout.py", "/srv/shop/out"])
    );

    let grouping = group_event(&event);
    assert_eq!(grouping.method, GroupingMethod::Exception);
    assert_eq!(
        grouping.components,
        strings(&[
            "type:PaymentDeclined",
            "frame:__main__|main",
            "frame:__main__|checkout",
            "frame:__main__|charge_card",
        ])
    );
    assert_eq!(
        grouping.title,
        "PaymentDeclined: card declined for order A-1001"
    );
    assert_eq!(grouping.culprit.as_deref(), Some("__main__ in charge_card"));
}

#[test]
fn the_python_sdk_auth_header() {
    let auth = parse_auth_header(
        "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7, sentry_client=sentry.python/2.75.0",
    )
    .unwrap();
    assert_eq!(auth.public_key, "0123456789abcdef0123456789abcdef");
    assert_eq!(auth.version, Some(7));
    assert_eq!(auth.client.as_deref(), Some("sentry.python/2.75.0"));
}

/// Moves every frame of the exception down by `lines`, as an edit above
/// the functions would.
fn moved_down(payload: &Value, lines: u64) -> Value {
    let mut moved = payload.clone();
    let frames = moved["exception"]["values"][0]["stacktrace"]["frames"]
        .as_array_mut()
        .unwrap();
    for frame in frames {
        let line = frame["lineno"].as_u64().unwrap();
        frame["lineno"] = json!(line + lines);
        frame["pre_context"][0] = json!("# a comment added above");
    }
    moved
}

#[test]
fn grouping_survives_code_moving_down() {
    let payload = item_json("sentry-envelope-exception.wire.gz", ItemType::Event);
    let original = group(&payload);
    let moved_payload = moved_down(&payload, 5);
    let moved = normalize(&moved_payload);
    assert_eq!(
        moved.exceptions[0].stacktrace.as_ref().unwrap().frames[2].lineno,
        Some(27)
    );
    assert_eq!(group_event(&moved).key, original.key);

    // Another order number is the same issue too.
    let mut other_order = payload.clone();
    other_order["exception"]["values"][0]["value"] = json!("card declined for order A-2002");
    assert_eq!(group(&other_order).key, original.key);
}

#[test]
fn grouping_splits_on_type_and_call_path() {
    let payload = item_json("sentry-envelope-exception.wire.gz", ItemType::Event);
    let original = group(&payload);

    let mut other_type = payload.clone();
    other_type["exception"]["values"][0]["type"] = json!("CardExpired");
    assert_ne!(group(&other_type).key, original.key);

    let mut other_function = payload.clone();
    other_function["exception"]["values"][0]["stacktrace"]["frames"][2]["function"] =
        json!("refund_card");
    assert_ne!(group(&other_function).key, original.key);

    let mut fingerprinted = payload.clone();
    fingerprinted["fingerprint"] = json!(["{{ default }}"]);
    assert_eq!(group(&fingerprinted).key, original.key);
    fingerprinted["fingerprint"] = json!(["payments", "{{ default }}"]);
    let custom = group(&fingerprinted);
    assert_ne!(custom.key, original.key);
    assert_eq!(custom.method, GroupingMethod::Fingerprint);
}

#[test]
fn python_message_envelope() {
    let payload = item_json("sentry-envelope-message.bin", ItemType::Event);
    let event = normalize(&payload);
    assert_eq!(event.level, Level::Warning);
    let message = event.message.as_ref().unwrap();
    assert_eq!(
        message.formatted.as_deref(),
        Some("inventory low for sku LAMP-7")
    );
    assert_eq!(message.message, None);
    assert!(event.exceptions.is_empty());
    assert_eq!(event.release.as_deref(), Some("shop@1.4.2"));
    assert_eq!(event.timestamp_micros, Some(1_795_348_030_071_964));

    let grouping = group_event(&event);
    assert_eq!(grouping.method, GroupingMethod::Message);
    assert_eq!(grouping.title, "inventory low for sku LAMP-7");
    assert_eq!(grouping.culprit, None);
    assert_eq!(
        grouping.components,
        strings(&["message:inventory low for sku LAMP-<int>"])
    );

    let with_message = |text: &str| {
        let mut edited = payload.clone();
        edited["message"] = json!(text);
        group(&edited).key
    };
    assert_eq!(with_message("inventory low for sku LAMP-12"), grouping.key);
    assert_eq!(
        with_message("inventory low for sku LAMP-7: 3 left, 0.5 days"),
        with_message("inventory low for sku LAMP-9: 12 left, 1.25 days")
    );
    assert_ne!(with_message("inventory high for sku LAMP-7"), grouping.key);
}

#[test]
fn python_transaction_envelope() {
    let body = fixture("sentry-envelope-transaction.bin");
    let envelope = parse_envelope(&body, &EnvelopeLimits::default()).unwrap();
    assert_eq!(envelope.items.len(), 1);
    assert_eq!(envelope.items[0].header.kind, ItemType::Transaction);
    let event = normalize_event(envelope.items[0].payload, &NormalizeLimits::default()).unwrap();
    assert_eq!(event.event_type.as_deref(), Some("transaction"));
    assert_eq!(event.transaction.as_deref(), Some("POST /checkout"));
    assert_eq!(event.level, Level::Info);
    assert_eq!(event.start_timestamp_micros, Some(1_795_348_030_072_521));
    assert_eq!(event.timestamp_micros, Some(1_795_348_030_083_868));
    assert_eq!(event.contexts["trace"]["op"], "http.server");
    let grouping = group_event(&event);
    assert_eq!(grouping.title, "POST /checkout");
    assert_eq!(grouping.culprit.as_deref(), Some("POST /checkout"));
}

#[test]
fn node_exception_envelope() {
    let body = fixture("node-envelope-exception.handwritten.bin");
    let envelope = parse_envelope(&body, &EnvelopeLimits::default()).unwrap();
    let kinds: Vec<_> = envelope
        .items
        .iter()
        .map(|item| item.header.kind.clone())
        .collect();
    assert_eq!(kinds, [ItemType::Event, ItemType::Session]);
    let dsn = parse_dsn(envelope.header.dsn.as_deref().unwrap()).unwrap();
    assert_eq!(
        (dsn.public_key.as_str(), dsn.project_id),
        ("0123456789abcdef0123456789abcdef", 42)
    );
    assert_eq!(
        envelope.header.sdk.as_ref().unwrap().name.as_deref(),
        Some("sentry.javascript.node")
    );

    let event = normalize_event(envelope.items[0].payload, &NormalizeLimits::default()).unwrap();
    assert_eq!(event.platform, "node");
    assert_eq!(event.timestamp_micros, Some(1_795_348_030_512_000));
    let exception = &event.exceptions[0];
    assert_eq!(exception.mechanism.as_ref().unwrap().handled, Some(false));
    let frames = &exception.stacktrace.as_ref().unwrap().frames;
    let in_app: Vec<_> = frames
        .iter()
        .filter(|frame| frame.in_app == Some(true))
        .map(|frame| (frame.filename.as_deref().unwrap(), frame.colno.unwrap()))
        .collect();
    assert_eq!(
        in_app,
        [("app:///dist/index.js", 18), ("app:///dist/index.js", 30)]
    );
    let request = event.request.as_ref().unwrap();
    assert_eq!(request.method.as_deref(), Some("POST"));
    let header_names: Vec<_> = request
        .headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(header_names, ["content-type", "host"]);
    assert_eq!(event.user.as_ref().unwrap().id.as_deref(), Some("981"));
    assert_eq!(
        event.breadcrumbs[0].data.as_ref().unwrap()["status_code"],
        200
    );

    let grouping = group_event(&event);
    assert_eq!(
        grouping.components,
        strings(&[
            "type:TypeError",
            "frame:index|handleCheckout",
            "frame:index|chargeCart"
        ])
    );
    assert_eq!(
        grouping.title,
        "TypeError: Cannot read properties of undefined (reading 'total')"
    );
    assert_eq!(grouping.culprit.as_deref(), Some("index in chargeCart"));
}
