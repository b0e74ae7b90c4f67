//! Masking the variable parts of a message, so that `order 1001 failed`
//! and `order 1002 failed` fall in one issue.
//!
//! Replaced, each with a placeholder naming what it was: quoted strings
//! (`<quoted>`), UUIDs (`<uuid>`), emails (`<email>`), IPv4 and IPv6
//! addresses with an optional port (`<ip>`), RFC 3339 timestamps
//! (`<date>`), hex numbers (`0x1f`, or 8+ hex digits mixing letters and
//! digits, as hashes and ids: `<hex>`), and decimal numbers (`<int>`,
//! `<float>`).
//!
//! Numbers inside a word are masked only at the word's start or after a
//! non-word character, so `LAMP-7` becomes `LAMP-<int>` and `15ms` becomes
//! `<int>ms`, while `sha256` and `utf8` stay as they are: they are names,
//! not values.

use crate::sentry::timestamp;

/// Longest quoted string recognized; past this a quote is probably an
/// apostrophe with its partner far away, not a quoted value.
const MAX_QUOTED_BYTES: usize = 512;

/// `text` with its variable parts replaced by placeholders.
pub fn mask_variables(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut previous: Option<char> = None;
    while let Some(first) = rest.chars().next() {
        if matches!(first, '\'' | '"') && !previous.is_some_and(is_word_char) {
            if let Some(len) = quoted_len(rest, first) {
                out.push_str("<quoted>");
                previous = Some(first);
                rest = rest.get(len..).unwrap_or_default();
                continue;
            }
        }
        if is_separator(first) {
            out.push(first);
            previous = Some(first);
            rest = rest.get(first.len_utf8()..).unwrap_or_default();
            continue;
        }
        let end = rest.find(is_separator).unwrap_or(rest.len());
        let token = rest.get(..end).unwrap_or_default();
        mask_token(token, &mut out);
        previous = token.chars().last();
        rest = rest.get(end..).unwrap_or_default();
    }
    out
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Characters that end a token: whitespace, brackets, quotes and list
/// punctuation. `=` too, so `id=42` masks its value.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\'' | '"' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | ',' | ';' | '='
        )
}

/// The byte length of a quoted string at the start of `text`, both quotes
/// included, when the closing quote ends a word and comes on the same line.
fn quoted_len(text: &str, quote: char) -> Option<usize> {
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((at, c)) = chars.next() {
        if c == '\n' || at > MAX_QUOTED_BYTES {
            return None;
        }
        if c == quote {
            let next = chars.peek().map(|&(_, next)| next);
            if !next.is_some_and(is_word_char) {
                return Some(at + c.len_utf8());
            }
        }
    }
    None
}

/// Masks one token: whole-token forms first, then numbers inside it.
fn mask_token(token: &str, out: &mut String) {
    // Sentence punctuation after a value (`failed for 10.0.0.1.`).
    let core = token.trim_end_matches(['.', ':', '!', '?']);
    let suffix = token.get(core.len()..).unwrap_or_default();
    if let Some(placeholder) = whole_token_kind(core) {
        out.push_str(placeholder);
        out.push_str(suffix);
        return;
    }
    mask_numbers(token, out);
}

fn whole_token_kind(token: &str) -> Option<&'static str> {
    if token.is_empty() {
        return None;
    }
    if is_uuid(token) {
        Some("<uuid>")
    } else if is_email(token) {
        Some("<email>")
    } else if is_ip(token) {
        Some("<ip>")
    } else if token.len() >= 19 && timestamp::parse_rfc3339(token).is_some() {
        Some("<date>")
    } else if is_hex(token) {
        Some("<hex>")
    } else if is_float(token) {
        Some("<float>")
    } else if is_int(token) {
        Some("<int>")
    } else {
        None
    }
}

fn is_uuid(token: &str) -> bool {
    let groups: Vec<&str> = token.split('-').collect();
    groups.iter().map(|group| group.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|group| group.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_email(token: &str) -> bool {
    let Some((local, domain)) = token.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
}

fn is_ip(token: &str) -> bool {
    let is_v4 = |text: &str| {
        let parts: Vec<&str> = text.split('.').collect();
        parts.len() == 4
            && parts.iter().all(|part| {
                (1..=3).contains(&part.len())
                    && part.chars().all(|c| c.is_ascii_digit())
                    && part.parse::<u16>().is_ok_and(|octet| octet <= 255)
            })
    };
    let is_port = |text: &str| !text.is_empty() && text.parse::<u16>().is_ok();
    if is_v4(token) {
        return true;
    }
    if let Some((address, port)) = token.rsplit_once(':') {
        if is_v4(address) && is_port(port) {
            return true;
        }
    }
    // IPv6: at least two colons, only hex digits, colons and dots (for an
    // embedded IPv4 tail), and at least one hex digit.
    token.matches(':').count() >= 2
        && token
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        && token.chars().any(|c| c.is_ascii_hexdigit())
}

fn is_hex(token: &str) -> bool {
    if let Some(digits) = token
        .strip_prefix("0x")
        .or_else(|| token.strip_prefix("0X"))
    {
        return !digits.is_empty() && digits.chars().all(|c| c.is_ascii_hexdigit());
    }
    token.len() >= 8
        && token.chars().all(|c| c.is_ascii_hexdigit())
        && token.chars().any(|c| c.is_ascii_digit())
        && token.chars().any(|c| c.is_ascii_alphabetic())
}

fn is_int(token: &str) -> bool {
    let digits = token.strip_prefix(['-', '+']).unwrap_or(token);
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

fn is_float(token: &str) -> bool {
    let unsigned = token.strip_prefix(['-', '+']).unwrap_or(token);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            (!whole.is_empty() || !fraction.is_empty())
                && whole.chars().all(|c| c.is_ascii_digit())
                && fraction.chars().all(|c| c.is_ascii_digit())
        }
        None => exponent.is_some() && is_int(mantissa),
    };
    mantissa_ok && exponent.is_none_or(is_int)
}

/// Digit runs that start a word (or follow a non-word character) become
/// `<int>`, or `<float>` with a fraction; letters after them stay (units).
fn mask_numbers(token: &str, out: &mut String) {
    let mut previous: Option<char> = None;
    let mut chars = token.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() && !previous.is_some_and(is_word_char) {
            while chars.next_if(char::is_ascii_digit).is_some() {}
            let mut float = false;
            let mut lookahead = chars.clone();
            if lookahead.next() == Some('.') && lookahead.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
                while chars.next_if(char::is_ascii_digit).is_some() {}
                float = true;
            }
            out.push_str(if float { "<float>" } else { "<int>" });
            previous = Some('0');
            continue;
        }
        out.push(c);
        previous = Some(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        assert_eq!(mask_variables(input), expected, "{input}");
    }

    #[test]
    fn numbers() {
        check(
            "inventory low for sku LAMP-7",
            "inventory low for sku LAMP-<int>",
        );
        check("took 15ms, 2.5s total", "took <int>ms, <float>s total");
        check("retry 3 of 5.", "retry <int> of <int>.");
        check(
            "balance -12.50 (limit 1e6)",
            "balance <float> (limit <float>)",
        );
        check("/orders/123/items?page=2", "/orders/<int>/items?page=<int>");
        check("sha256 utf8 order123 v2", "sha256 utf8 order123 v2");
    }

    #[test]
    fn identifiers_and_addresses() {
        check(
            "user 9ec79c33-ec99-42ab-8353-589fcb2e04dc not found",
            "user <uuid> not found",
        );
        check("mail to ada@example.com failed", "mail to <email> failed");
        check(
            "connect to 10.0.0.12:5432 refused.",
            "connect to <ip> refused.",
        );
        check("peer 2001:db8::1 and ::1", "peer <ip> and <ip>");
        check("object at 0x7fa7f421b550>", "object at <hex>>");
        check("commit 3fa2b9c0d1 pushed", "commit <hex> pushed");
        check("at 2026-11-22T11:47:10.061164Z", "at <date>");
        check("Foo::bar() failed", "Foo::bar() failed");
    }

    #[test]
    fn quoted_strings() {
        check("no such key 'A-1001'", "no such key <quoted>");
        check(
            "KeyError: \"user name\" missing",
            "KeyError: <quoted> missing",
        );
        check("can't open 'x'", "can't open <quoted>");
        check("it's O'Reilly's", "it's O'Reilly's");
        check("unclosed 'quote here", "unclosed 'quote here");
    }

    #[test]
    fn messages_differing_only_in_values_mask_alike() {
        assert_eq!(
            mask_variables("card declined for order A-1001 (amount 127.00)"),
            mask_variables("card declined for order A-2002 (amount 99.50)")
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,60}") {
            // Each input byte becomes at most one 5-byte placeholder.
            proptest::prop_assert!(mask_variables(&text).len() <= 5 * text.len());
        }
    }
}
