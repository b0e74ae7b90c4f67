//! Reading one word or one quoted string at a byte offset, escapes
//! resolved. Which characters end a word is the caller's choice, because
//! it depends on where the word is (`]` ends a range bound, nothing else).
//!
//! ```text
//! http\://x*   -> text "http://x*", star at 9: a prefix of "http://x"
//! "a \"b\" c"  -> a "b" c
//! ```

use super::LangError;

/// A word as read by [`word`].
pub(super) struct Word<'a> {
    /// The word with escapes resolved.
    pub(super) text: String,
    /// Byte offset where the word starts.
    pub(super) start: usize,
    /// Byte offset just past the word (past the colon for a field name).
    pub(super) end: usize,
    /// Byte offsets of the unescaped `*`s.
    pub(super) stars: Vec<usize>,
    /// Set when the word stopped at a field colon: the name before it.
    pub(super) field: Option<&'a str>,
}

/// How a word uses `*`.
pub(super) enum Shape {
    /// No wildcard.
    Plain(String),
    /// Ends with `*`; the text without it.
    Prefix(String),
    /// Exactly `*`.
    Star,
}

/// Reads the word at `start` up to a character for which `stop` holds,
/// resolving backslash escapes. With `field_names`, stops after the first
/// unescaped colon that follows a valid field name.
pub(super) fn word(
    input: &str,
    start: usize,
    stop: fn(char) -> bool,
    field_names: bool,
) -> Word<'_> {
    let rest = input.get(start..).unwrap_or_default();
    let mut text = String::new();
    let mut stars = Vec::new();
    // Whether everything so far could be a field name: no escapes, only
    // field-name characters. Tracked as we go so each colon is O(1).
    let mut name_so_far = field_names;
    let mut end = input.len();
    let mut field = None;
    let mut chars = rest.char_indices();
    while let Some((offset, c)) = chars.next() {
        let at = start + offset;
        if c == '\\' {
            name_so_far = false;
            // A lone trailing backslash is kept: there is nothing to
            // escape, and refusing it would only annoy.
            text.push(chars.next().map_or('\\', |(_, escaped)| escaped));
            continue;
        }
        if stop(c) {
            end = at;
            break;
        }
        if c == ':' && name_so_far && !text.is_empty() {
            field = rest.get(..offset);
            end = at + 1;
            break;
        }
        // A leading '-' is a negation everywhere else, so a name cannot
        // start with one.
        name_so_far = name_so_far && is_field_char(c) && !(text.is_empty() && c == '-');
        if c == '*' {
            stars.push(at);
        }
        text.push(c);
    }
    Word {
        text,
        start,
        end,
        stars,
        field,
    }
}

impl Word<'_> {
    /// Classifies the word's use of `*`, refusing a `*` anywhere but at the
    /// end: a silent literal would surprise whoever meant a wildcard.
    pub(super) fn shape(self) -> Result<Shape, LangError> {
        let Word {
            mut text,
            start,
            end,
            stars,
            ..
        } = self;
        match stars.as_slice() {
            [] => Ok(Shape::Plain(text)),
            [only] if *only == start && end == start + 1 => Ok(Shape::Star),
            [only] if *only + 1 == end => {
                // The star is the word's last character, so also the text's.
                text.pop();
                Ok(Shape::Prefix(text))
            }
            [first, ..] => Err(LangError {
                position: *first,
                message:
                    "'*' is a wildcard only at the end of a word (write '\\*' for a literal star)"
                        .to_owned(),
            }),
        }
    }
}

/// Reads the quoted string whose opening quote is at `open`; returns the
/// text and the offset past the closing quote. Only `\"` and `\\` are
/// escapes, so a Windows path needs no doubling. A `*` right after the
/// closing quote is refused rather than silently meaning "everything".
pub(super) fn quoted(input: &str, open: usize) -> Result<(String, usize), LangError> {
    let rest = input.get(open..).unwrap_or_default();
    let mut text = String::new();
    let mut chars = rest.char_indices().skip(1).peekable();
    while let Some((offset, c)) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some(&(_, escaped @ ('"' | '\\'))) => {
                    text.push(escaped);
                    chars.next();
                }
                _ => text.push('\\'),
            },
            '"' => {
                let end = open + offset + 1;
                if input.get(end..).is_some_and(|after| after.starts_with('*')) {
                    return Err(LangError {
                        position: end,
                        message:
                            "'*' after quotes is not a wildcard: quoted text is matched as typed"
                                .to_owned(),
                    });
                }
                return Ok((text, end));
            }
            c => text.push(c),
        }
    }
    Err(LangError {
        position: open,
        message: "unclosed '\"'".to_owned(),
    })
}

/// Where a word (or a keyword) ends.
pub(super) fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

/// Where a range bound (or `TO`) ends.
pub(super) fn ends_bound(c: char) -> bool {
    ends_word(c) || matches!(c, ']' | '}')
}

/// Field names are letters, digits and `_ . - @` (`http.status`,
/// `@timestamp`, `trace-id`).
pub(super) fn is_field_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '@')
}
