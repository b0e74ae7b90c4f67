//! The words tokenizer: runs of letters and digits, except that a UUID
//! stays one word.
//!
//! Request, job and trace ids are mostly UUIDs. Cut at every `-`, each
//! would give five words, two of them unique to the line: the term
//! dictionaries would grow by two entries a line, and a search for the id
//! would need all five. Whole, an id is one term, and searching for it
//! (as the query side cuts it the same way) is one lookup.
//!
//! ```text
//! "job 86c2ae29-56e5-4395-806e-18ba0f2f53e2 done" -> job | 86c2ae29-56e5-4395-806e-18ba0f2f53e2 | done
//! "GET /api/v1/orders/113030"                     -> get | api | v1 | orders | 113030
//! ```

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Hex digits per group of a UUID's canonical text.
const UUID_GROUPS: [usize; 5] = [8, 4, 4, 4, 12];

#[derive(Clone, Default)]
pub struct WordTokenizer {
    token: Token,
}

pub struct WordStream<'a> {
    text: &'a str,
    /// Where the next word is looked for.
    offset: usize,
    token: &'a mut Token,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream<'a> {
        self.token.reset();
        WordStream {
            text,
            offset: 0,
            token: &mut self.token,
        }
    }
}

impl TokenStream for WordStream<'_> {
    fn advance(&mut self) -> bool {
        self.token.text.clear();
        self.token.position = self.token.position.wrapping_add(1);
        let rest = &self.text[self.offset..];
        let Some(start) = rest
            .char_indices()
            .find(|(_, c)| c.is_alphanumeric())
            .map(|(at, _)| self.offset + at)
        else {
            self.offset = self.text.len();
            return false;
        };
        let end = uuid_end(self.text, start).unwrap_or_else(|| word_end(self.text, start));
        self.token.offset_from = start;
        self.token.offset_to = end;
        self.token.text.push_str(&self.text[start..end]);
        self.offset = end;
        true
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// Shortest id ([`is_id`]): a 64-bit id in hex, a trace id's half.
const MIN_ID_LEN: usize = 16;

/// Whether a field value is an id: one word (as [`is_one_word`]) of at
/// least 16 ASCII letters and digits, digits among them: a UUID, a trace
/// or span id in hex, a ULID, a long number. Ids are mostly unique to
/// their line, so each is a term of its own, and the index keeps them once,
/// whole under their field, not also among the field words.
///
/// The test gives the same answer for a text and its lowercase (ASCII
/// only), so the query side can ask it of the lowercased word it searches.
pub fn is_id(text: &str) -> bool {
    text.len() >= MIN_ID_LEN
        && text.is_ascii()
        && text.bytes().any(|byte| byte.is_ascii_digit())
        && is_one_word(text)
}

/// Whether the tokenizer cuts `text` into exactly one word that is all of
/// it.
fn is_one_word(text: &str) -> bool {
    match text.chars().next() {
        Some(first) if first.is_alphanumeric() => {
            uuid_end(text, 0).unwrap_or_else(|| word_end(text, 0)) == text.len()
        }
        _ => false,
    }
}

/// End of the run of letters and digits starting at `start`.
fn word_end(text: &str, start: usize) -> usize {
    text[start..]
        .char_indices()
        .find(|(_, c)| !c.is_alphanumeric())
        .map_or(text.len(), |(at, _)| start + at)
}

/// End of the UUID starting at `start`, if one does and the word ends
/// with it (`...-18ba0f2f53e2x` is not a UUID but a longer word).
fn uuid_end(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = start;
    for (group, len) in UUID_GROUPS.iter().enumerate() {
        if group > 0 {
            if bytes.get(at) != Some(&b'-') {
                return None;
            }
            at += 1;
        }
        let digits = bytes.get(at..at + len)?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        at += len;
    }
    match text[at..].chars().next() {
        Some(next) if next.is_alphanumeric() => None,
        _ => Some(at),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use tantivy::tokenizer::{TokenStream, Tokenizer};

    use super::{is_id, is_one_word, WordTokenizer};

    fn cut(text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut tokenizer = WordTokenizer::default();
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let token = stream.token();
            out.push((
                token.text.clone(),
                token.offset_from,
                token.offset_to,
                token.position,
            ));
        }
        out
    }

    fn texts(text: &str) -> Vec<String> {
        cut(text).into_iter().map(|(word, ..)| word).collect()
    }

    #[test]
    fn uuids_stay_whole_and_other_words_split_on_punctuation() {
        assert_eq!(
            texts("job 86c2ae29-56e5-4395-806E-18ba0f2f53e2 done"),
            ["job", "86c2ae29-56e5-4395-806E-18ba0f2f53e2", "done"]
        );
        assert_eq!(
            texts("GET /api/v1/orders/113030 HTTP/1.1"),
            ["GET", "api", "v1", "orders", "113030", "HTTP", "1", "1"]
        );
        assert_eq!(
            texts("id=282c3340-198d-48ec-9f97-f360a4e05199,next"),
            ["id", "282c3340-198d-48ec-9f97-f360a4e05199", "next"]
        );
    }

    #[test]
    fn ids_are_long_single_words_with_digits() {
        for id in [
            "86c2ae29-56e5-4395-806e-18ba0f2f53e2",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00f067aa0ba902b7",
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "12345678901234567",
        ] {
            assert!(is_id(id), "{id}");
        }
        for not_id in [
            "00f067aa0ba902b",       // 15 characters
            "abcdefghijklmnopqrstu", // no digit
            "cus_00042-0000000001",  // several words
            "ÉÉÉÉÉÉÉÉ12345678",      // not ASCII
            "/api/v1/orders/1234567890",
        ] {
            assert!(!is_id(not_id), "{not_id}");
        }
    }

    #[test]
    fn near_uuids_split_like_any_word() {
        // A group too short, a non-hex digit, a longer word.
        assert_eq!(texts("86c2ae2-56e5-4395-806e-18ba0f2f53e2").len(), 5);
        assert_eq!(texts("86c2ae29-56e5-4395-806e-18ba0f2f53eg").len(), 5);
        assert_eq!(texts("86c2ae29-56e5-4395-806e-18ba0f2f53e2ab").len(), 5);
        assert_eq!(texts("86c2ae29-56e5-4395-806e").len(), 4);
    }

    #[test]
    fn positions_count_words_and_offsets_point_at_them() {
        let text = "é  caf\u{e9}-ok 86c2ae29-56e5-4395-806e-18ba0f2f53e2";
        let tokens = cut(text);
        for (index, (word, from, to, position)) in tokens.iter().enumerate() {
            assert_eq!(&text[*from..*to], word);
            assert_eq!(*position, index);
        }
        assert_eq!(tokens.len(), 4);
    }

    proptest! {
        /// Without a UUID in it, the text is cut exactly as runs of
        /// letters and digits.
        #[test]
        fn plain_text_is_cut_into_alphanumeric_runs(text in "[a-zA-Z0-9 ./_:é-]{0,60}") {
            let expected: Vec<String> = text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|word| !word.is_empty())
                .map(str::to_owned)
                .collect();
            let got = texts(&text);
            if got.iter().all(|word| !word.contains('-')) {
                prop_assert_eq!(got, expected);
            }
        }

        /// `is_one_word` says exactly when the cut is the whole text.
        #[test]
        fn one_word_means_the_cut_is_the_whole_text(
            text in "[a-fA-F0-9 ._é-]{0,40}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}[ x-]?",
        ) {
            let whole = texts(&text) == [text.clone()];
            prop_assert_eq!(is_one_word(&text), whole, "{:?}", texts(&text));
        }

        /// The index asks about a value as sent, the query side about the
        /// lowercased word: both must get the same answer.
        #[test]
        fn an_id_is_an_id_whatever_its_case(text in "[a-zA-Z0-9_é-]{0,40}") {
            prop_assert_eq!(is_id(&text), is_id(&text.to_lowercase()));
        }

        /// Any text: every word is a slice of it at its offsets, in order,
        /// without overlap.
        #[test]
        fn words_are_ordered_slices(text in "\\PC{0,80}") {
            let mut previous_end = 0;
            for (word, from, to, _) in cut(&text) {
                prop_assert!(from >= previous_end);
                prop_assert_eq!(&text[from..to], word.as_str());
                previous_end = to;
            }
        }
    }
}
