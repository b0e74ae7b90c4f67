//! Arbitrary bodies through the Elasticsearch bulk parser. Invariants: no
//! panic; items come in the order of their action lines, at most one per
//! non-blank line; an item has an error or a source, never both, and
//! without an error a source exactly when its action has one; every
//! source lies inside the body and holds no line end; an `index` or
//! `create` source is a whole line, an `update` source a JSON object.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partout_protocols::esbulk::{parse_bulk, BulkAction};

fuzz_target!(|data: &[u8]| {
    let non_blank_lines = data
        .split(|&byte| byte == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .count();
    let range = data.as_ptr_range();
    let mut previous_line = 0;
    let mut count = 0;
    for item in parse_bulk(data) {
        count += 1;
        assert!(item.line > previous_line);
        previous_line = item.line;
        assert!(item.index.as_deref() != Some("") && item.id.as_deref() != Some(""));
        let Some(source) = item.source else {
            assert!(item.error.is_some() || !item.action.has_source());
            continue;
        };
        assert!(item.error.is_none() && item.action.has_source());
        assert!(range.start <= source.as_ptr() && source.as_ptr_range().end <= range.end);
        assert!(!source.is_empty() && !source.contains(&b'\n'));
        let start = source.as_ptr() as usize - range.start as usize;
        if item.action == BulkAction::Update {
            assert!(matches!(
                serde_json::from_slice::<serde_json::Value>(source),
                Ok(serde_json::Value::Object(_))
            ));
        } else {
            let before = &data[..start];
            let after = &data[start + source.len()..];
            assert!(before.is_empty() || before.ends_with(b"\n") || before == b"\xEF\xBB\xBF");
            assert!(matches!(
                after,
                [] | [b'\r'] | [b'\n', ..] | [b'\r', b'\n', ..]
            ));
            assert!(!source.ends_with(b"\r"));
        }
    }
    assert!(count <= non_blank_lines);
});
