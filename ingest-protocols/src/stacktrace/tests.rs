#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use proptest::prelude::*;
use serde_json::Value;

use super::*;

/// The lines of a fixture under `tests/fixtures/logs`: real output of
/// structlog 26.1, loguru 0.7.3 (Python 3.11) and Node 20, paths rewritten
/// to `/srv/shop`.
fn fixture_lines(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/logs/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn frame_summary(frames: &[TraceFrame]) -> Vec<(String, String, u32, bool)> {
    frames
        .iter()
        .map(|frame| {
            (
                frame.filename.clone().unwrap_or_default(),
                frame.function.clone().unwrap_or_default(),
                frame.lineno.unwrap_or(0),
                frame.in_app,
            )
        })
        .collect()
}

#[test]
fn structlog_format_exc_info() {
    let lines = fixture_lines("structlog-exceptions.jsonl");
    let text = lines[0]["exception"].as_str().unwrap();
    let exceptions = parse_python_traceback(text);
    assert_eq!(exceptions.len(), 1);
    let exception = &exceptions[0];
    assert_eq!(exception.type_name.as_deref(), Some("PaymentDeclined"));
    assert_eq!(exception.module.as_deref(), Some("payments"));
    assert_eq!(
        exception.value.as_deref(),
        Some("card declined for order A-1001")
    );
    assert_eq!(
        frame_summary(&exception.frames),
        [
            ("/srv/shop/sl.py".into(), "<module>".into(), 7, true),
            (
                "/srv/shop/app/payments.py".into(),
                "charge_card".into(),
                6,
                true
            ),
        ]
    );
    assert_eq!(
        exception.frames[1].context_line.as_deref(),
        Some("raise PaymentDeclined(\"card declined for order %s\" % order_id)")
    );
}

#[test]
fn chained_exceptions_come_cause_first() {
    let lines = fixture_lines("structlog-exceptions.jsonl");
    let exceptions = parse_python_traceback(lines[1]["exception"].as_str().unwrap());
    let types: Vec<_> = exceptions
        .iter()
        .map(|exception| exception.type_name.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(types, ["KeyError", "PaymentDeclined"]);
    assert_eq!(exceptions[0].value.as_deref(), Some("'LAMP-7'"));
    assert_eq!(exceptions[0].module, None);
    // Python 3.11's `~~~^^^` markers are not the source line.
    assert_eq!(
        exceptions[0].frames[1].context_line.as_deref(),
        Some("return prices[sku]")
    );
    assert_eq!(exceptions[1].frames.len(), 2);
}

#[test]
fn loguru_text_with_and_without_diagnose() {
    let lines = fixture_lines("loguru-exceptions.jsonl");
    let plain = parse_python_traceback(lines[0]["text"].as_str().unwrap());
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].frames.len(), 2);
    assert_eq!(plain[0].type_name.as_deref(), Some("PaymentDeclined"));

    let diagnosed = parse_python_traceback(lines[1]["text"].as_str().unwrap());
    assert_eq!(diagnosed.len(), 1);
    let exception = &diagnosed[0];
    assert_eq!(
        exception.value.as_deref(),
        Some("card declined for order A-1003")
    );
    let functions: Vec<_> = exception
        .frames
        .iter()
        .map(|frame| frame.function.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(functions, ["<module>", "run", "charge_card"]);
    // loguru's `│ └ value` notes are not source lines.
    let context: Vec<_> = exception
        .frames
        .iter()
        .map(|frame| frame.context_line.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        context,
        [
            "run()",
            "payments.charge_card(\"A-1003\")",
            "raise PaymentDeclined(\"card declined for order %s\" % order_id)"
        ]
    );
}

#[test]
fn library_and_standard_library_frames_are_not_in_app() {
    let text = "Traceback (most recent call last):\n  File \"/srv/app/main.py\", line 3, in handle\n    fetch()\n  File \"/usr/lib/python3.11/site-packages/requests/api.py\", line 73, in get\n    return request(\"get\", url)\n  File \"/usr/local/lib/python3.12/socket.py\", line 9, in connect\n  File \"<frozen importlib._bootstrap>\", line 1, in _find\nConnectionError: refused\n";
    let exceptions = parse_python_traceback(text);
    let in_app: Vec<bool> = exceptions[0]
        .frames
        .iter()
        .map(|frame| frame.in_app)
        .collect();
    assert_eq!(in_app, [true, false, false, false]);
    assert_eq!(exceptions[0].frames[2].context_line, None);
}

#[test]
fn multi_line_messages_and_bare_types() {
    let text = "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\nValueError: first line\nsecond line\n";
    let exceptions = parse_python_traceback(text);
    assert_eq!(
        exceptions[0].value.as_deref(),
        Some("first line\nsecond line")
    );
    let bare = parse_python_traceback(
        "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\nKeyboardInterrupt\n",
    );
    assert_eq!(bare[0].type_name.as_deref(), Some("KeyboardInterrupt"));
    assert_eq!(bare[0].value, None);
}

#[test]
fn node_stacks() {
    let lines = fixture_lines("node-exceptions.jsonl");
    let null_read = parse_js_stack(lines[0]["err"]["stack"].as_str().unwrap()).unwrap();
    assert_eq!(null_read.type_name.as_deref(), Some("TypeError"));
    assert_eq!(
        null_read.value.as_deref(),
        Some("Cannot read properties of null (reading 'x')")
    );
    assert_eq!(null_read.frames.len(), 7);
    let failing = null_read.frames.last().unwrap();
    assert_eq!(failing.filename.as_deref(), Some("/srv/shop/app.js"));
    assert_eq!(failing.function.as_deref(), Some("Object.<anonymous>"));
    assert_eq!((failing.lineno, failing.colno), (Some(6), Some(12)));
    assert!(failing.in_app);
    let outermost = &null_read.frames[0];
    assert_eq!(
        outermost.filename.as_deref(),
        Some("node:internal/main/run_main_module")
    );
    assert_eq!(outermost.function, None);
    assert!(!outermost.in_app);
    assert_eq!(
        null_read.frames[1].function.as_deref(),
        Some("Function.executeUserEntryPoint")
    );

    let declined = parse_js_stack(lines[1]["err"]["stack"].as_str().unwrap()).unwrap();
    assert_eq!(declined.type_name.as_deref(), Some("PaymentDeclined"));
    assert_eq!(
        frame_summary(&declined.frames),
        [
            (
                "node:internal/process/task_queues".into(),
                "process.processTicksAndRejections".into(),
                95,
                false
            ),
            ("/srv/shop/app.js".into(), "checkout".into(), 4, true),
            (
                "/srv/shop/node_modules/fake-lib/index.js".into(),
                "Object.call".into(),
                1,
                false
            ),
            ("/srv/shop/app.js".into(), String::new(), 4, true),
            ("/srv/shop/app.js".into(), "chargeCard".into(), 3, true),
        ]
    );

    let native = parse_js_stack(lines[2]["stack"].as_str().unwrap()).unwrap();
    assert_eq!(native.frames[2].filename.as_deref(), Some("<anonymous>"));
    assert_eq!(native.frames[2].function.as_deref(), Some("Array.map"));
    assert!(!native.frames[2].in_app);
}

#[test]
fn other_javascript_frame_forms() {
    let text = "Error: boom\n    at async Promise.all (index 0)\n    at new Shop (file:///app/shop.mjs:10:5)\n    at eval (eval at run (/app/x.js:1:2), <anonymous>:1:1)\nrender@https://example.com/app.js:12:34\n@https://example.com/app.js:1:1";
    let exception = parse_js_stack(text).unwrap();
    let functions: Vec<_> = exception
        .frames
        .iter()
        .map(|frame| frame.function.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(functions, ["", "render", "eval", "new Shop", "Promise.all"]);
    assert_eq!(
        exception.frames[3].filename.as_deref(),
        Some("file:///app/shop.mjs")
    );
    assert_eq!(exception.frames[2].filename.as_deref(), Some("<anonymous>"));
    assert_eq!(exception.frames[1].lineno, Some(12));
}

#[test]
fn texts_that_are_not_stacks() {
    for text in [
        "",
        "just a message",
        "Error: failed for ann@example.com:8080",
        "main.main()\n\t/app/main.go:42 +0x1d",
        "java.io.IOException: disk\n\tat com.shop.Main.run(Main.java:10)",
    ] {
        assert_eq!(parse_stack(text), None, "{text:?}");
    }
    assert!(parse_python_traceback("ValueError: no traceback header").is_empty());
}

#[test]
fn parse_stack_picks_the_shape() {
    let (kind, exceptions) = parse_stack(
        "Traceback (most recent call last):\n  File \"a.py\", line 1, in f\nValueError: x",
    )
    .unwrap();
    assert_eq!(kind, TraceKind::Python);
    assert_eq!(exceptions.len(), 1);
    let (kind, _) = parse_stack("TypeError: x\n    at f (/a.js:1:1)").unwrap();
    assert_eq!(kind, TraceKind::JavaScript);
}

#[test]
fn bounds_hold_on_huge_traces() {
    let mut text = String::from("Traceback (most recent call last):\n");
    for line in 0..(MAX_FRAMES + 50) {
        text.push_str(&format!("  File \"a.py\", line {line}, in f\n    f()\n"));
    }
    text.push_str("RecursionError: maximum recursion depth exceeded\n");
    let exceptions = parse_python_traceback(&text);
    assert_eq!(exceptions[0].frames.len(), MAX_FRAMES);
    // The frames nearest the failure are the ones kept.
    assert_eq!(
        exceptions[0].frames.last().unwrap().lineno,
        Some(u32::try_from(MAX_FRAMES + 49).unwrap())
    );
    let chain: String = (0..MAX_EXCEPTIONS + 5)
        .map(|n| format!("Traceback (most recent call last):\n  File \"a.py\", line {n}, in f\nE{n}: x\n\nDuring handling of the above exception, another exception occurred:\n\n"))
        .collect();
    let exceptions = parse_python_traceback(&chain);
    assert_eq!(exceptions.len(), MAX_EXCEPTIONS);
    assert_eq!(
        exceptions.last().unwrap().type_name.as_deref(),
        Some(format!("E{}", MAX_EXCEPTIONS + 4).as_str())
    );
}

fn frame_parts() -> impl Strategy<Value = (String, String, u32)> {
    (
        "/[a-z]{1,8}/[a-z_]{1,8}\\.py",
        "[a-z_]{1,10}",
        1u32..100_000,
    )
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = parse_stack(&text);
        let _ = parse_python_traceback(&text);
        let _ = parse_js_stack(&text);
    }

    #[test]
    fn stack_like_fragments_never_panic(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("Traceback (most recent call last):".to_owned()),
                Just("  File \"".to_owned()),
                Just("  File \"a\", line ".to_owned()),
                Just("    at (".to_owned()),
                Just("    at ) (:".to_owned()),
                Just("@:1".to_owned()),
                Just("The above exception was the direct cause".to_owned()),
                "[ a-zA-Z:()@\"'./0-9│└>^~]{0,30}",
            ],
            0..30,
        )
    ) {
        let text = lines.join("\n");
        if let Some((_, exceptions)) = parse_stack(&text) {
            prop_assert!(exceptions.len() <= MAX_EXCEPTIONS);
            for exception in exceptions {
                prop_assert!(exception.frames.len() <= MAX_FRAMES);
            }
        }
    }

    #[test]
    fn printed_python_frames_read_back(
        frames in proptest::collection::vec(frame_parts(), 1..20),
        message in "[a-z ]{0,20}[a-z]",
    ) {
        let mut text = String::from("Traceback (most recent call last):\n");
        for (file, function, line) in &frames {
            text.push_str(&format!("  File \"{file}\", line {line}, in {function}\n    {function}()\n"));
        }
        text.push_str(&format!("shop.Failure: {message}\n"));
        let exceptions = parse_python_traceback(&text);
        prop_assert_eq!(exceptions.len(), 1);
        let exception = &exceptions[0];
        prop_assert_eq!(exception.type_name.as_deref(), Some("Failure"));
        prop_assert_eq!(exception.value.as_deref(), Some(message.trim()));
        let read: Vec<(String, String, u32)> = exception
            .frames
            .iter()
            .map(|frame| (
                frame.filename.clone().unwrap_or_default(),
                frame.function.clone().unwrap_or_default(),
                frame.lineno.unwrap_or(0),
            ))
            .collect();
        prop_assert_eq!(read, frames);
    }

    #[test]
    fn printed_v8_frames_read_back_outermost_first(
        frames in proptest::collection::vec(("[a-zA-Z_]{1,10}", "/[a-z]{1,8}/[a-z]{1,8}\\.js", 1u32..10_000, 1u32..500), 1..20),
    ) {
        let mut text = String::from("TypeError: failed");
        for (function, file, line, column) in &frames {
            text.push_str(&format!("\n    at {function} ({file}:{line}:{column})"));
        }
        let exception = parse_js_stack(&text).unwrap();
        let read: Vec<(String, String, u32, u32)> = exception
            .frames
            .iter()
            .rev()
            .map(|frame| (
                frame.function.clone().unwrap_or_default(),
                frame.filename.clone().unwrap_or_default(),
                frame.lineno.unwrap_or(0),
                frame.colno.unwrap_or(0),
            ))
            .collect();
        prop_assert_eq!(read, frames);
    }
}
