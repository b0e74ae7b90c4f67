//! Bytes from a sender as text.

use std::borrow::Cow;

/// `bytes` as UTF-8, invalid sequences replaced by U+FFFD (owned only
/// then). The same result as `String::from_utf8_lossy`, which walks the
/// bytes one at a time even when all are valid; `str::from_utf8` checks
/// a word at a time, and nearly every log line is valid (mostly ASCII),
/// so it is tried first.
pub fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn lossy_is_what_the_standard_library_gives(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let ours = lossy(&bytes);
            let std = String::from_utf8_lossy(&bytes);
            prop_assert_eq!(&ours, &std);
            prop_assert_eq!(matches!(ours, Cow::Owned(_)), matches!(std, Cow::Owned(_)));
        }
    }

    #[test]
    fn valid_text_is_borrowed_and_invalid_is_replaced() {
        assert!(matches!(
            lossy(b"plain ascii"),
            Cow::Borrowed("plain ascii")
        ));
        assert!(matches!(lossy("café".as_bytes()), Cow::Borrowed("café")));
        assert_eq!(lossy(b"caf\xe9!"), "caf\u{fffd}!");
    }
}
