//! Arbitrary text through the Python traceback and V8 stack readers.
//! Invariants: no panic; exceptions and frames stay within their bounds;
//! a text without the traceback header gives no Python exception; every
//! kept text is within its cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partout_protocols::stacktrace::{
    parse_js_stack, parse_python_traceback, parse_stack, TraceException, MAX_EXCEPTIONS,
    MAX_FRAMES, MAX_TEXT_CHARS,
};

fn check(exception: &TraceException) {
    assert!(exception.frames.len() <= MAX_FRAMES);
    let texts = [&exception.type_name, &exception.value]
        .into_iter()
        .flatten()
        .chain(exception.frames.iter().flat_map(|frame| {
            [&frame.filename, &frame.function, &frame.context_line]
                .into_iter()
                .flatten()
        }));
    for text in texts {
        assert!(text.chars().count() <= MAX_TEXT_CHARS);
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let python = parse_python_traceback(&text);
    assert!(python.len() <= MAX_EXCEPTIONS);
    if !text.contains("Traceback (most recent call last):") {
        assert!(python.is_empty());
    }
    python.iter().for_each(check);
    if let Some(exception) = parse_js_stack(&text) {
        assert!(!exception.frames.is_empty());
        check(&exception);
    }
    let _ = parse_stack(&text);
});
