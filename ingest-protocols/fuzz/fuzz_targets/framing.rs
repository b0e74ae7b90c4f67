//! Feeds arbitrary bytes, in arbitrary chunk sizes, through every framing
//! mode. Invariants: no panic, every step consumes what exists, frames
//! respect the limit, and the buffer never holds more than one frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use partout_protocols::framing::{Framer, Mode, Step};

const MAX_FRAME: usize = 64;

fuzz_target!(|data: &[u8]| {
    let Some((&control, input)) = data.split_first() else { return };
    let mode = match control % 3 {
        0 => Mode::Lines,
        1 => Mode::Syslog,
        _ => Mode::LengthPrefixed,
    };
    let chunk = usize::from(control / 3).max(1);
    let mut framer = Framer::new(mode, MAX_FRAME);
    if control & 0x80 != 0 {
        framer = framer.truncating();
    }
    let mut buf = Vec::new();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            let consumed = match framer.next(&buf) {
                Step::Frame { frame, consumed } => {
                    assert!(frame.len() <= MAX_FRAME);
                    consumed
                }
                Step::Truncated { frame, consumed } => {
                    assert_eq!(frame.len(), MAX_FRAME);
                    consumed
                }
                Step::Skipped { consumed, .. } | Step::Discarded { consumed } => consumed,
                Step::NeedMore => break,
            };
            assert!(consumed > 0 && consumed <= buf.len());
            buf.drain(..consumed);
        }
        assert!(buf.len() <= MAX_FRAME + 12);
    }
    let _ = framer.finish(&buf);
});
