//! Stack traces as loggers print them, read back into exceptions and
//! frames, so a log line's traceback can be grouped like an SDK's event.
//!
//! Two shapes are read:
//! - Python tracebacks ([`parse_python_traceback`]), as `traceback`
//!   formats them (structlog's `format_exc_info`, python-json-logger's
//!   `exc_info`, loguru's text, with or without its `diagnose` notes):
//!   ```text
//!   Traceback (most recent call last):
//!     File "/srv/shop/app/payments.py", line 6, in charge_card
//!       raise PaymentDeclined("card declined")
//!   payments.PaymentDeclined: card declined
//!   ```
//!   Chained exceptions ("The above exception was the direct cause...")
//!   give one exception each, in the order printed: the cause first, the
//!   exception that was caught last, which is Sentry's order too.
//! - V8 stacks ([`parse_js_stack`]), as `Error.stack` holds them in Node
//!   and Chromium (and Firefox's `fn@file:line:col` lines):
//!   ```text
//!   TypeError: Cannot read properties of null (reading 'x')
//!       at chargeCard (/srv/shop/app.js:3:38)
//!       at async checkout (/srv/shop/app.js:4:72)
//!   ```
//!   V8 prints the failing frame first; frames are returned outermost
//!   first, as Sentry orders them.
//!
//! Frames are marked in-app unless their file is a library's or the
//! runtime's (`site-packages`, `dist-packages`, the standard library,
//! `node_modules`, `node:internal`...): grouping then keys on the
//! application's own frames.
//!
//! Bounds: at most [`MAX_EXCEPTIONS`] exceptions and [`MAX_FRAMES`] frames
//! each (the frames nearest the failure are kept), texts cut to
//! [`MAX_TEXT_CHARS`]. Invariant: nothing here panics on any input, and
//! the work is linear in the text.

/// Most exceptions read from one chained traceback; the last ones (the
/// exception caught and its nearest causes) are kept.
pub const MAX_EXCEPTIONS: usize = 25;
/// Most frames per exception; the ones nearest the failure are kept.
pub const MAX_FRAMES: usize = 250;
/// Longest exception value, file name, function or source line kept.
pub const MAX_TEXT_CHARS: usize = 2048;

/// One exception of a printed trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceException {
    /// The type without its module (`PaymentDeclined`, `TypeError`).
    pub type_name: Option<String>,
    /// The module of a dotted Python type (`payments` of
    /// `payments.PaymentDeclined`).
    pub module: Option<String>,
    /// The exception's message.
    pub value: Option<String>,
    /// Outermost call first, the failing frame last.
    pub frames: Vec<TraceFrame>,
}

/// One frame of a printed trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceFrame {
    /// As printed: a path, a URL or `node:internal/...`.
    pub filename: Option<String>,
    pub function: Option<String>,
    pub lineno: Option<u32>,
    pub colno: Option<u32>,
    /// Python prints the source line under its frame.
    pub context_line: Option<String>,
    /// Not a library's or the runtime's file.
    pub in_app: bool,
}

/// Which parser a text is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceKind {
    Python,
    JavaScript,
}

/// The exceptions of a stack trace in either shape, and which shape it
/// was; `None` when the text is neither (a Java or Go stack, a message).
pub fn parse_stack(text: &str) -> Option<(TraceKind, Vec<TraceException>)> {
    if text.contains(PYTHON_HEADER) {
        let exceptions = parse_python_traceback(text);
        return (!exceptions.is_empty()).then_some((TraceKind::Python, exceptions));
    }
    parse_js_stack(text).map(|exception| (TraceKind::JavaScript, vec![exception]))
}

const PYTHON_HEADER: &str = "Traceback (most recent call last):";

/// The exceptions of a Python traceback, cause first; empty when the text
/// holds no `Traceback (most recent call last):` block. Text before the
/// first block (loguru's formatted record) is ignored.
pub fn parse_python_traceback(text: &str) -> Vec<TraceException> {
    let mut exceptions: Vec<TraceException> = Vec::new();
    // The exception being read: inside a block, its frames so far; after
    // its headline, more lines of a multi-line message.
    let mut current: Option<TraceException> = None;
    let mut in_frames = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.ends_with(PYTHON_HEADER) {
            finish(&mut exceptions, current.take());
            current = Some(TraceException::default());
            in_frames = true;
            continue;
        }
        let Some(exception) = current.as_mut() else {
            continue;
        };
        if in_frames {
            if let Some(frame) = python_frame(trimmed) {
                push_frame(&mut exception.frames, frame);
                continue;
            }
            if trimmed.is_empty() || line.starts_with(char::is_whitespace) {
                if let Some(frame) = exception.frames.last_mut() {
                    if frame.context_line.is_none() && is_source_line(trimmed) {
                        frame.context_line = Some(cut(trimmed));
                    }
                }
                continue;
            }
            // The first line at the margin ends the frames: the headline.
            let (type_name, value) = headline(trimmed);
            let (module, type_name) = split_module(type_name);
            exception.module = module;
            exception.type_name = type_name;
            exception.value = value;
            in_frames = false;
            continue;
        }
        if trimmed.is_empty() || is_chain_separator(trimmed) {
            finish(&mut exceptions, current.take());
            continue;
        }
        // A message of several lines continues at the margin.
        if !line.starts_with(char::is_whitespace) {
            let value = exception.value.get_or_insert_with(String::new);
            if value.chars().count() < MAX_TEXT_CHARS {
                value.push('\n');
                value.push_str(trimmed);
                *value = cut(value);
            }
        }
    }
    finish(&mut exceptions, current);
    exceptions
}

/// Keeps a finished exception when it says anything.
fn finish(exceptions: &mut Vec<TraceException>, exception: Option<TraceException>) {
    let Some(exception) = exception else {
        return;
    };
    if exception.frames.is_empty() && exception.type_name.is_none() && exception.value.is_none() {
        return;
    }
    if exceptions.len() == MAX_EXCEPTIONS {
        exceptions.remove(0);
    }
    exceptions.push(exception);
}

/// Adds a frame, keeping the [`MAX_FRAMES`] nearest the failure (the last
/// ones).
fn push_frame(frames: &mut Vec<TraceFrame>, frame: TraceFrame) {
    if frames.len() == MAX_FRAMES {
        frames.remove(0);
    }
    frames.push(frame);
}

fn is_chain_separator(line: &str) -> bool {
    line.starts_with("During handling of the above exception")
        || line.starts_with("The above exception was the direct cause")
}

/// `File "/app/x.py", line 3, in main`, also behind loguru's `>` marker.
fn python_frame(line: &str) -> Option<TraceFrame> {
    let line = line.trim_start_matches('>').trim_start();
    let rest = line.strip_prefix("File \"")?;
    let (filename, rest) = rest.split_once("\", line ")?;
    let (lineno, function) = match rest.split_once(", in ") {
        Some((lineno, function)) => (lineno, Some(function.trim())),
        None => (rest, None),
    };
    Some(TraceFrame {
        in_app: python_in_app(filename),
        filename: Some(cut(filename)),
        function: function.filter(|name| !name.is_empty()).map(cut),
        lineno: lineno.trim().parse().ok(),
        colno: None,
        context_line: None,
    })
}

/// A source line, not Python 3.11's `~~~^^^` markers nor loguru's
/// `│ └ value` notes.
fn is_source_line(line: &str) -> bool {
    !line.is_empty()
        && !line.starts_with(['│', '└'])
        && !line
            .chars()
            .all(|character| matches!(character, '~' | '^' | ' '))
}

fn python_in_app(filename: &str) -> bool {
    !(filename.contains("site-packages")
        || filename.contains("dist-packages")
        || filename.contains("/lib/python")
        || filename.starts_with("<frozen")
        || filename.starts_with('<'))
}

/// `payments.PaymentDeclined` into its module and type.
fn split_module(type_name: Option<String>) -> (Option<String>, Option<String>) {
    let Some(type_name) = type_name else {
        return (None, None);
    };
    match type_name.rsplit_once('.') {
        Some((module, name)) if !module.is_empty() && !name.is_empty() => {
            (Some(module.to_owned()), Some(name.to_owned()))
        }
        _ => (None, Some(type_name)),
    }
}

/// `Type: message`, `Type` or a bare message: the type only when it looks
/// like one.
fn headline(line: &str) -> (Option<String>, Option<String>) {
    let line = line.trim();
    if let Some((type_name, value)) = line.split_once(':') {
        if looks_like_type_name(type_name) {
            let value = value.trim();
            return (
                Some(cut(type_name)),
                (!value.is_empty()).then(|| cut(value)),
            );
        }
    }
    if looks_like_type_name(line) {
        return (Some(cut(line)), None);
    }
    (None, (!line.is_empty()).then(|| cut(line)))
}

/// `ValueError`, `payments.PaymentDeclined`, `Outer$Inner`.
fn looks_like_type_name(text: &str) -> bool {
    let starts_well = text
        .chars()
        .next()
        .is_some_and(|first| first.is_alphabetic() || first == '_');
    starts_well
        && text.chars().count() <= 200
        && text
            .chars()
            .all(|character| character.is_alphanumeric() || matches!(character, '_' | '.' | '$'))
}

/// The exception of a V8 (or Firefox) stack, frames outermost first;
/// `None` when no line is a frame.
pub fn parse_js_stack(text: &str) -> Option<TraceException> {
    let mut headline_lines: Vec<&str> = Vec::new();
    let mut frames: Vec<TraceFrame> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(frame) = js_frame(trimmed) {
            // V8 prints the failing frame first: the first MAX_FRAMES are
            // the nearest to the failure.
            if frames.len() < MAX_FRAMES {
                frames.push(frame);
            }
            continue;
        }
        if frames.is_empty() && !trimmed.is_empty() && headline_lines.len() < 64 {
            headline_lines.push(trimmed);
        }
    }
    if frames.is_empty() {
        return None;
    }
    frames.reverse();
    let (type_name, value) = match headline_lines.split_first() {
        Some((first, rest)) => {
            let (type_name, value) = headline(first);
            let value = if rest.is_empty() {
                value
            } else {
                let mut text = value.unwrap_or_default();
                for line in rest {
                    text.push('\n');
                    text.push_str(line);
                }
                Some(cut(text.trim()))
            };
            (type_name, value)
        }
        None => (None, None),
    };
    Some(TraceException {
        type_name,
        module: None,
        value,
        frames,
    })
}

/// `at fn (file:line:col)`, `at file:line:col`, `at async fn (...)`,
/// `at new Foo (...)`, or Firefox's `fn@file:line:col`.
fn js_frame(line: &str) -> Option<TraceFrame> {
    if let Some(rest) = line.strip_prefix("at ") {
        let rest = rest.trim();
        let (function, location) = match rest.strip_suffix(')') {
            Some(inner) => {
                let open = matching_open(inner)?;
                let before = inner.get(..open)?;
                // `fn (file)` has a space before the parenthesis; Java's
                // `at pkg.Class.method(File.java:10)` has none.
                if !before.is_empty() && !before.ends_with(' ') {
                    return None;
                }
                let location = inner.get(open + 1..)?;
                // `eval at f (a.js:1:2), <anonymous>:1:1`: the eval'd code.
                let location = match location.strip_prefix("eval at ") {
                    Some(nested) => nested.rsplit_once(", ").map_or(location, |(_, own)| own),
                    None => location,
                };
                (Some(before.trim()), location)
            }
            None => (None, rest),
        };
        let function = function
            .map(|name| name.strip_prefix("async ").unwrap_or(name))
            .map(strip_alias)
            .filter(|name| !name.is_empty());
        return Some(js_location(function, location));
    }
    // Firefox and Safari: `name@url:line:col`, `@url:line:col`.
    let (function, location) = line.split_once('@')?;
    let (_, position) = location.rsplit_once(':')?;
    let plausible = !position.is_empty()
        && position.chars().all(|c| c.is_ascii_digit())
        && !function.contains(char::is_whitespace)
        && location.contains(['/', '.']);
    if !plausible {
        return None;
    }
    let function = Some(function.trim()).filter(|name| !name.is_empty());
    Some(js_location(function, location))
}

/// The byte offset of the `(` that opens the location: the last `(` at
/// nesting depth zero, counting from the end (`eval at f (a.js:1:2),
/// <anonymous>:1:1` nests).
fn matching_open(inner: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (at, character) in inner.char_indices().rev() {
        match character {
            ')' => depth += 1,
            '(' if depth == 0 => return Some(at),
            '(' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// `Function.executeUserEntryPoint [as runMain]` without the alias.
fn strip_alias(name: &str) -> &str {
    match name.rsplit_once(" [as ") {
        Some((name, alias)) if alias.ends_with(']') => name.trim(),
        _ => name,
    }
}

/// `file:line:col`, `file:line`, `<anonymous>`, `native`.
fn js_location(function: Option<&str>, location: &str) -> TraceFrame {
    let location = location.trim();
    let mut filename = location;
    let mut numbers: Vec<u32> = Vec::with_capacity(2);
    while numbers.len() < 2 {
        let Some((head, tail)) = filename.rsplit_once(':') else {
            break;
        };
        match tail.parse::<u32>() {
            Ok(number) if !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit()) => {
                numbers.push(number);
                filename = head;
            }
            _ => break,
        }
    }
    let (lineno, colno) = match numbers.as_slice() {
        [col, line] => (Some(*line), Some(*col)),
        [line] => (Some(*line), None),
        _ => (None, None),
    };
    TraceFrame {
        in_app: js_in_app(filename),
        filename: (!filename.is_empty()).then(|| cut(filename)),
        function: function.map(cut),
        lineno,
        colno,
        context_line: None,
    }
}

fn js_in_app(filename: &str) -> bool {
    !(filename.contains("node_modules")
        || filename.starts_with("node:")
        || filename.starts_with("internal/")
        || filename.starts_with('<')
        || filename == "native"
        || filename.is_empty())
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((at, _)) => text.get(..at).unwrap_or_default().to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
