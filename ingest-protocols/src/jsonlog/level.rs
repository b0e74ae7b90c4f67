//! Log levels as loggers spell them, onto one scale.

use serde_json::Value;

/// The normalized level of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

/// The level a JSON value names: a string (any case), a number, or
/// loguru's `{"name": "INFO", "no": 20, ...}`.
pub(super) fn from_json(value: &Value) -> Option<Level> {
    match value {
        Value::String(text) => from_text(text),
        Value::Number(number) => from_number(number.as_u64()?),
        Value::Object(object) => from_text(object.get("name")?.as_str()?),
        _ => None,
    }
}

/// The level a text names (`WARN`, `warning`, `30`, `E`...).
pub fn from_text(text: &str) -> Option<Level> {
    let text = text.trim();
    if let Ok(number) = text.parse::<u64>() {
        return from_number(number);
    }
    // Long enough for every spelling below; anything longer is not a level.
    if text.len() > 13 {
        return None;
    }
    let level = match text.to_ascii_lowercase().as_str() {
        // java.util.logging has FINER/FINEST, Serilog "Verbose".
        "trace" | "trc" | "t" | "verbose" | "finest" | "finer" => Level::Trace,
        // logrus abbreviates to four letters (DEBU, ERRO, FATA, PANI).
        "debug" | "dbg" | "debu" | "d" | "fine" | "config" => Level::Debug,
        // Syslog's "notice" and loguru's "SUCCESS" are informational.
        "info" | "inf" | "i" | "information" | "informational" | "notice" | "success" => {
            Level::Info
        }
        "warn" | "warning" | "wrn" | "w" => Level::Warn,
        // java.util.logging's SEVERE is its error level.
        "error" | "err" | "erro" | "e" | "severe" => Level::Error,
        // Syslog's three top severities, Python's CRITICAL, zap's panics.
        "fatal" | "fata" | "ftl" | "f" | "critical" | "crit" | "alert" | "emerg" | "emergency"
        | "panic" | "pani" | "dpanic" => Level::Fatal,
        _ => return None,
    };
    Some(level)
}

/// pino's and bunyan's numeric levels (10 trace to 60 fatal, custom levels
/// in between round down); 0 to 7 are syslog severities, as GELF sends.
pub(super) fn from_number(number: u64) -> Option<Level> {
    let level = match number {
        0..=2 => Level::Fatal,
        3 => Level::Error,
        4 => Level::Warn,
        5 | 6 => Level::Info,
        7 => Level::Debug,
        8..=19 => Level::Trace,
        20..=29 => Level::Debug,
        30..=39 => Level::Info,
        40..=49 => Level::Warn,
        50..=59 => Level::Error,
        _ => Level::Fatal,
    };
    Some(level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spellings() {
        let cases = [
            (json!("warn"), Some(Level::Warn)),
            (json!("WARNING"), Some(Level::Warn)),
            (json!("err"), Some(Level::Error)),
            (json!("critical"), Some(Level::Fatal)),
            (json!("Information"), Some(Level::Info)),
            (json!("DEBU"), Some(Level::Debug)),
            (json!("dpanic"), Some(Level::Fatal)),
            (json!(" info "), Some(Level::Info)),
            (json!("30"), Some(Level::Info)),
            (json!("audit"), None),
            (json!(""), None),
            (json!(true), None),
        ];
        for (value, expected) in cases {
            assert_eq!(from_json(&value), expected, "{value}");
        }
    }

    #[test]
    fn pino_numbers_and_loguru_objects() {
        let pino: Vec<_> = [10, 20, 30, 40, 50, 60]
            .into_iter()
            .map(|number| from_json(&json!(number)))
            .collect();
        assert_eq!(
            pino,
            [
                Level::Trace,
                Level::Debug,
                Level::Info,
                Level::Warn,
                Level::Error,
                Level::Fatal
            ]
            .map(Some)
        );
        assert_eq!(from_json(&json!(3)), Some(Level::Error));
        assert_eq!(from_json(&json!(-1)), None);
        assert_eq!(from_json(&json!(30.5)), None);
        assert_eq!(
            from_json(&json!({"icon": "⚠️", "name": "WARNING", "no": 30})),
            Some(Level::Warn)
        );
    }
}
