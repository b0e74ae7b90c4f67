//! The words tokenizer: runs of letters and digits, lowercased, except
//! that a UUID stays one word; words of [`MAX_WORD`] bytes or more are
//! skipped (base64 blobs, hashes), though they still count as a position.
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
//!
//! It does in one pass what tantivy's `RemoveLongFilter` and `LowerCaser`
//! after it did, with the same result (a test keeps them equal), and scans
//! ASCII a byte at a time: the three stages took a tenth of the indexing
//! thread, most of it in the filters' extra passes and in decoding chars.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Hex digits per group of a UUID's canonical text.
const UUID_GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
/// Words this long (in bytes, as sent) or longer are not indexed.
pub const MAX_WORD: usize = 80;

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
        loop {
            let Some(start) = word_start(self.text, self.offset) else {
                self.offset = self.text.len();
                return false;
            };
            let end = uuid_end(self.text, start).unwrap_or_else(|| word_end(self.text, start));
            self.offset = end;
            // A skipped word keeps its position, so a phrase around it
            // does not match as if the words were adjacent.
            self.token.position = self.token.position.wrapping_add(1);
            if end - start >= MAX_WORD {
                continue;
            }
            self.token.offset_from = start;
            self.token.offset_to = end;
            push_lowercase(&mut self.token.text, &self.text[start..end]);
            return true;
        }
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

/// Where the first letter or digit at or after `from` (a char boundary)
/// is.
fn word_start(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = from;
    while let Some(&byte) = bytes.get(at) {
        if byte.is_ascii() {
            if byte.is_ascii_alphanumeric() {
                return Some(at);
            }
            at += 1;
        } else {
            let c = text.get(at..)?.chars().next()?;
            if c.is_alphanumeric() {
                return Some(at);
            }
            at += c.len_utf8();
        }
    }
    None
}

/// End of the run of letters and digits starting at `start`.
fn word_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut at = start;
    while let Some(&byte) = bytes.get(at) {
        if byte.is_ascii() {
            if !byte.is_ascii_alphanumeric() {
                return at;
            }
            at += 1;
        } else {
            match text.get(at..).and_then(|rest| rest.chars().next()) {
                Some(c) if c.is_alphanumeric() => at += c.len_utf8(),
                _ => return at,
            }
        }
    }
    text.len()
}

/// Appends `word` lowercased as tantivy's `LowerCaser` does it: char by
/// char, without the final-sigma rule.
fn push_lowercase(out: &mut String, word: &str) {
    if word.is_ascii() {
        let from = out.len();
        out.push_str(word);
        out[from..].make_ascii_lowercase();
    } else {
        for c in word.chars() {
            out.extend(c.to_lowercase());
        }
    }
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

    use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, TextAnalyzer, Token};

    use super::{is_id, is_one_word, uuid_end, WordTokenizer, MAX_WORD};

    /// The tokenizer as it was before it lowercased and skipped long words
    /// itself: a char at a time, then tantivy's filters. What it cuts is
    /// what partitions already written hold, so the one-pass tokenizer
    /// must cut exactly the same.
    #[derive(Clone, Default)]
    struct Reference {
        token: Token,
    }

    struct ReferenceStream<'a> {
        text: &'a str,
        offset: usize,
        token: &'a mut Token,
    }

    impl Tokenizer for Reference {
        type TokenStream<'a> = ReferenceStream<'a>;

        fn token_stream<'a>(&'a mut self, text: &'a str) -> ReferenceStream<'a> {
            self.token.reset();
            ReferenceStream {
                text,
                offset: 0,
                token: &mut self.token,
            }
        }
    }

    impl TokenStream for ReferenceStream<'_> {
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
            let end = uuid_end(self.text, start).unwrap_or_else(|| {
                self.text[start..]
                    .char_indices()
                    .find(|(_, c)| !c.is_alphanumeric())
                    .map_or(self.text.len(), |(at, _)| start + at)
            });
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

    fn all_tokens(mut analyzer: TextAnalyzer, text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut stream = analyzer.token_stream(text);
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

    fn reference(text: &str) -> Vec<(String, usize, usize, usize)> {
        let analyzer = TextAnalyzer::builder(Reference::default())
            .filter(RemoveLongFilter::limit(MAX_WORD))
            .filter(LowerCaser)
            .build();
        all_tokens(analyzer, text)
    }

    #[test]
    fn it_cuts_as_the_reference_on_hard_cases() {
        let long = "a".repeat(MAX_WORD);
        let short = "b".repeat(MAX_WORD - 1);
        for text in [
            "",
            "GET /Api HTTP/1.1",
            "ÉCOLE Straße İstanbul ΣΊΣΥΦΟΣ ǅ",
            "x 86C2AE29-56E5-4395-806E-18BA0F2F53E2 y",
            &format!("before {long} after {short} end"),
            &format!("ÉÉ{} ok", "é".repeat(40)),
            "日本語のログ 123 ١٢٣ ½ ⅷ",
        ] {
            assert_eq!(
                all_tokens(TextAnalyzer::from(WordTokenizer::default()), text),
                reference(text),
                "{text:?}"
            );
        }
    }

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
            ["job", "86c2ae29-56e5-4395-806e-18ba0f2f53e2", "done"]
        );
        assert_eq!(
            texts("GET /api/v1/orders/113030 HTTP/1.1"),
            ["get", "api", "v1", "orders", "113030", "http", "1", "1"]
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
                .map(str::to_lowercase)
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
            let whole = texts(&text) == [text.to_lowercase()];
            prop_assert_eq!(is_one_word(&text), whole, "{:?}", texts(&text));
        }

        /// The index asks about a value as sent, the query side about the
        /// lowercased word: both must get the same answer.
        #[test]
        fn an_id_is_an_id_whatever_its_case(text in "[a-zA-Z0-9_é-]{0,40}") {
            prop_assert_eq!(is_id(&text), is_id(&text.to_lowercase()));
        }

        /// Any text: every word is a slice of it at its offsets, in order,
        /// without overlap, lowercased.
        #[test]
        fn words_are_ordered_slices(text in "\\PC{0,80}") {
            let mut previous_end = 0;
            for (word, from, to, _) in cut(&text) {
                prop_assert!(from >= previous_end);
                let lowercase: String = text[from..to].chars().flat_map(char::to_lowercase).collect();
                prop_assert_eq!(lowercase, word);
                previous_end = to;
            }
        }

        /// Any text, and words near the length limit: the same words,
        /// offsets and positions as the reference.
        #[test]
        fn it_cuts_any_text_as_the_reference(
            text in "\\PC{0,120}|([A-Za-z0-9é]{70,90}[ .-]){1,4}|[0-9a-fA-F-]{30,45}",
        ) {
            prop_assert_eq!(
                all_tokens(TextAnalyzer::from(WordTokenizer::default()), &text),
                reference(&text)
            );
        }
    }
}
