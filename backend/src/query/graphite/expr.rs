//! Graphite target expressions: a series path (with globs) or a function
//! call whose arguments are expressions, numbers, strings or booleans,
//! positional or `name=value`.
//!
//! ```text
//! aliasByNode(sumSeries(stats.timers.{api,web}.*.count), 2)
//! summarize(servers.web[1-3].load, "1h", "max", alignToFrom=true)
//! ```

/// A parsed target.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A series path, possibly with `*`, `?`, `[..]` and `{a,b}`.
    Path(String),
    Call {
        name: String,
        args: Vec<Expr>,
        kwargs: Vec<(String, Expr)>,
    },
    Number(f64),
    Str(String),
    Bool(bool),
}

/// Why a target could not be parsed; says where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad target at character {at}: {message}")]
pub struct ExprError {
    pub at: usize,
    pub message: String,
}

/// Deepest nesting of calls accepted, so a hostile target cannot exhaust
/// the stack.
const MAX_DEPTH: usize = 64;

pub fn parse_target(text: &str) -> Result<Expr, ExprError> {
    let mut parser = Parser {
        text,
        at: 0,
        depth: 0,
    };
    let expr = parser.expr()?;
    parser.skip_space();
    if parser.at < text.len() {
        return Err(parser.error("unexpected text after the target"));
    }
    Ok(expr)
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> ExprError {
        ExprError {
            at: self.at,
            message: message.to_owned(),
        }
    }

    fn rest(&self) -> &str {
        self.text.get(self.at..).unwrap_or_default()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        self.skip_space();
        match self.peek() {
            None => Err(self.error("expected a series or a function")),
            Some(quote @ ('\'' | '"')) => self.string(quote),
            Some(_) => self.word(),
        }
    }

    fn string(&mut self, quote: char) -> Result<Expr, ExprError> {
        let body = self.rest().get(1..).unwrap_or_default();
        let Some(end) = body.find(quote) else {
            return Err(self.error("unterminated string"));
        };
        let value = body.get(..end).unwrap_or_default().to_owned();
        self.at += end + 2;
        Ok(Expr::Str(value))
    }

    /// A path, number, boolean or call: read up to a delimiter, tracking
    /// braces so `{a,b}` stays inside the path.
    fn word(&mut self) -> Result<Expr, ExprError> {
        let start = self.at;
        let mut braces = 0usize;
        let mut end = self.text.len();
        for (offset, c) in self.rest().char_indices() {
            match c {
                '{' => braces += 1,
                '}' => braces = braces.saturating_sub(1),
                ',' | ')' if braces == 0 => {
                    end = start + offset;
                    break;
                }
                '(' if braces == 0 => {
                    end = start + offset;
                    break;
                }
                c if c.is_whitespace() && braces == 0 => {
                    end = start + offset;
                    break;
                }
                '\'' | '"' => return Err(self.error("unexpected quote in a series path")),
                _ => {}
            }
        }
        let word = self.text.get(start..end).unwrap_or_default();
        self.at = end;
        if word.is_empty() {
            return Err(self.error("expected a series or a function"));
        }
        if self.peek() == Some('(') {
            return self.call(word);
        }
        if let Ok(number) = word.parse::<f64>() {
            return Ok(Expr::Number(number));
        }
        match word {
            "true" | "True" => Ok(Expr::Bool(true)),
            "false" | "False" => Ok(Expr::Bool(false)),
            _ => Ok(Expr::Path(word.to_owned())),
        }
    }

    fn call(&mut self, name: &str) -> Result<Expr, ExprError> {
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(self.error("a function name has letters, digits and _ only"));
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("functions nested too deeply"));
        }
        self.at += 1; // '('
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        self.skip_space();
        if self.peek() == Some(')') {
            self.at += 1;
        } else {
            loop {
                self.skip_space();
                if let Some(keyword) = self.keyword() {
                    kwargs.push((keyword, self.expr()?));
                } else if !kwargs.is_empty() {
                    return Err(self.error("positional argument after a keyword argument"));
                } else {
                    args.push(self.expr()?);
                }
                self.skip_space();
                match self.peek() {
                    Some(',') => self.at += 1,
                    Some(')') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(self.error("expected , or )")),
                }
            }
        }
        self.depth -= 1;
        Ok(Expr::Call {
            name: name.to_owned(),
            args,
            kwargs,
        })
    }

    /// `name=` before an argument: consumes it and returns the name.
    fn keyword(&mut self) -> Option<String> {
        let rest = self.rest();
        let length = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
        let name = rest.get(..length)?;
        let after = rest.get(length..)?.trim_start();
        if name.is_empty() || !after.starts_with('=') || after.starts_with("==") {
            return None;
        }
        let skipped = rest.len() - after.len() + 1;
        let name = name.to_owned();
        self.at += skipped;
        Some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Expr {
        Expr::Path(p.to_owned())
    }

    #[test]
    fn plain_and_globbed_paths() {
        assert_eq!(parse_target("a.b.c"), Ok(path("a.b.c")));
        assert_eq!(
            parse_target(" servers.{web,db}[0-9].*.load "),
            Ok(path("servers.{web,db}[0-9].*.load"))
        );
    }

    #[test]
    fn nested_calls_with_every_argument_kind() {
        let parsed =
            parse_target("aliasByNode(sumSeries(a.*.count, b.c), 1, 'x', \"y\", true, -2.5)")
                .unwrap();
        let Expr::Call { name, args, kwargs } = parsed else {
            panic!()
        };
        assert_eq!(name, "aliasByNode");
        assert!(kwargs.is_empty());
        assert_eq!(
            args,
            [
                Expr::Call {
                    name: "sumSeries".into(),
                    args: vec![path("a.*.count"), path("b.c")],
                    kwargs: vec![]
                },
                Expr::Number(1.0),
                Expr::Str("x".into()),
                Expr::Str("y".into()),
                Expr::Bool(true),
                Expr::Number(-2.5),
            ]
        );
    }

    #[test]
    fn keyword_arguments() {
        let parsed = parse_target("summarize(a.b, '1h', 'max', alignToFrom=true)").unwrap();
        let Expr::Call { args, kwargs, .. } = parsed else {
            panic!()
        };
        assert_eq!(args.len(), 3);
        assert_eq!(kwargs, [("alignToFrom".to_owned(), Expr::Bool(true))]);
    }

    #[test]
    fn errors_say_where() {
        let err = parse_target("sumSeries(a.b").unwrap_err();
        assert_eq!(err.at, 13);
        assert!(parse_target("sumSeries(a.b))").is_err());
        assert!(parse_target("alias(a.b, 'unterminated)").is_err());
        assert!(parse_target("").is_err());
        assert!(parse_target("f(x=1, a.b)").is_err());
        let deep = format!("{}a{}", "f(".repeat(100), ")".repeat(100));
        assert!(parse_target(&deep).unwrap_err().message.contains("deeply"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,80}") {
            let _ = parse_target(&text);
        }
    }
}
