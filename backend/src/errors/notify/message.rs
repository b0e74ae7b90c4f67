//! What a notification says, and the bodies webhooks are sent. Pure: the
//! context is a snapshot taken in the writer when the issue changed, and
//! the bodies are rendered from it at send time with the public URL, so a
//! notification sent after a restart says what it said when recorded.

use partout_protocols::sentry::event::{Event, Frame};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Longest frame description kept, in characters.
const MAX_FRAME_CHARS: usize = 300;
/// Longest title shown in a Slack message, in characters; Slack cuts long
/// messages anyway, and a page of exception text helps nobody in a chat.
const MAX_SLACK_TITLE_CHARS: usize = 500;

/// The state change a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The first event of a new issue.
    New,
    /// A resolved issue came back.
    Regressed,
}

impl Change {
    /// The name stored in `error_notifications.change`.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Regressed => "regressed",
        }
    }

    /// The `event` field of the generic body.
    fn event_name(self) -> &'static str {
        match self {
            Change::New => "issue.new",
            Change::Regressed => "issue.regressed",
        }
    }
}

/// Everything a person needs to judge the issue without opening it,
/// stored as JSON with the notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub change: Change,
    pub project_id: i64,
    pub project: String,
    pub issue_id: i64,
    pub title: String,
    pub culprit: Option<String>,
    /// The in-app frame the error was raised in, `file:line in function`.
    pub first_in_app_frame: Option<String>,
    pub level: String,
    /// The release of the event that made the change.
    pub release: Option<String>,
    pub environment: Option<String>,
    /// Events of the issue when it changed.
    pub count: i64,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
}

/// Where the issue is in the web app: `{public_url}/ui/errors/{id}`.
pub fn issue_link(public_url: &str, issue_id: i64) -> String {
    format!("{}/ui/errors/{issue_id}", public_url.trim_end_matches('/'))
}

/// partout's own body: every field, times in Unix ms and RFC 3339.
pub fn generic_body(context: &Context, public_url: &str) -> serde_json::Value {
    json!({
        "event": context.change.event_name(),
        "project": {"id": context.project_id, "name": context.project},
        "issue": {
            "id": context.issue_id,
            "title": context.title,
            "culprit": context.culprit,
            "first_in_app_frame": context.first_in_app_frame,
            "level": context.level,
            "release": context.release,
            "environment": context.environment,
            "count": context.count,
            "first_seen_ms": context.first_seen_ms,
            "last_seen_ms": context.last_seen_ms,
            "first_seen": rfc3339_ms(context.first_seen_ms),
            "last_seen": rfc3339_ms(context.last_seen_ms),
            "url": issue_link(public_url, context.issue_id),
        },
    })
}

/// `{"text": ...}` in Slack's markup: a linked title line, then where and
/// in which release it happened.
pub fn slack_body(context: &Context, public_url: &str) -> serde_json::Value {
    let headline = match context.change {
        Change::New => "New issue",
        Change::Regressed => "Regression",
    };
    let title: String = context.title.chars().take(MAX_SLACK_TITLE_CHARS).collect();
    let mut text = format!(
        "*{headline}* in {}: <{}|{}>",
        slack_escape(&context.project),
        issue_link(public_url, context.issue_id),
        slack_escape(&title)
    );
    if let Some(culprit) = &context.culprit {
        text.push_str(&format!("\n`{}`", slack_escape(culprit)));
    }
    if let Some(frame) = &context.first_in_app_frame {
        text.push_str(&format!("\nat `{}`", slack_escape(frame)));
    }
    let mut facts = vec![format!("level {}", context.level)];
    if let Some(release) = &context.release {
        facts.push(format!("release {}", slack_escape(release)));
    }
    if let Some(environment) = &context.environment {
        facts.push(format!("environment {}", slack_escape(environment)));
    }
    facts.push(format!(
        "{} event{}",
        context.count,
        if context.count == 1 { "" } else { "s" }
    ));
    text.push('\n');
    text.push_str(&facts.join(" · "));
    json!({ "text": text })
}

/// Slack's three control characters; everything else is shown as is.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn rfc3339_ms(ms: i64) -> String {
    crate::logs::day::rfc3339(ms.saturating_mul(1_000_000))
}

/// The frame the error was raised in: the newest in-app frame of the
/// exception raised last (else of the event's stack trace), or its newest
/// frame when none is marked in-app. Frames come oldest first.
pub fn first_in_app_frame(event: &Event) -> Option<String> {
    let frames = event
        .exceptions
        .iter()
        .rev()
        .find_map(|exception| exception.stacktrace.as_ref())
        .or(event.stacktrace.as_ref())
        .map(|stacktrace| &stacktrace.frames[..])?;
    let frame = frames
        .iter()
        .rev()
        .find(|frame| frame.in_app == Some(true))
        .or_else(|| frames.last())?;
    describe(frame)
}

/// `app/pay.py:42 in charge_card`.
fn describe(frame: &Frame) -> Option<String> {
    let place = frame
        .filename
        .as_deref()
        .or(frame.module.as_deref())
        .or(frame.abs_path.as_deref());
    let mut text = match (place, frame.lineno) {
        (Some(place), Some(line)) => format!("{place}:{line}"),
        (Some(place), None) => place.to_owned(),
        (None, _) => String::new(),
    };
    if let Some(function) = frame.function.as_deref() {
        if !text.is_empty() {
            text.push_str(" in ");
        }
        text.push_str(function);
    }
    (!text.is_empty()).then(|| text.chars().take(MAX_FRAME_CHARS).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use partout_protocols::sentry::event::{normalize_event, NormalizeLimits};

    fn context(change: Change) -> Context {
        Context {
            change,
            project_id: 1,
            project: "shop".into(),
            issue_id: 7,
            title: "KeyError: 'a<b>&c'".into(),
            culprit: Some("app.cart in load".into()),
            first_in_app_frame: Some("app/cart.py:12 in load".into()),
            level: "error".into(),
            release: Some("1.4.2".into()),
            environment: Some("production".into()),
            count: 1,
            first_seen_ms: 1_800_000_000_123,
            last_seen_ms: 1_800_000_000_123,
        }
    }

    #[test]
    fn the_generic_body_has_every_field_and_the_link() {
        let body = generic_body(&context(Change::New), "https://partout.example/");
        assert_eq!(body["event"], "issue.new");
        assert_eq!(body["project"]["name"], "shop");
        assert_eq!(body["issue"]["url"], "https://partout.example/ui/errors/7");
        assert_eq!(
            body["issue"]["first_in_app_frame"],
            "app/cart.py:12 in load"
        );
        assert_eq!(body["issue"]["release"], "1.4.2");
        assert_eq!(body["issue"]["first_seen"], "2027-01-15T08:00:00.123Z");
        let body = generic_body(&context(Change::Regressed), "http://h:1");
        assert_eq!(body["event"], "issue.regressed");
    }

    #[test]
    fn the_slack_body_links_the_escaped_title() {
        let body = slack_body(&context(Change::Regressed), "http://h:1");
        let text = body["text"].as_str().unwrap();
        assert!(
            text.starts_with(
                "*Regression* in shop: <http://h:1/ui/errors/7|KeyError: 'a&lt;b&gt;&amp;c'>"
            ),
            "{text}"
        );
        assert!(
            text.contains("release 1.4.2 · environment production · 1 event"),
            "{text}"
        );
        assert!(text.contains("at `app/cart.py:12 in load`"), "{text}");
    }

    #[test]
    fn the_first_in_app_frame_is_the_newest_in_app_one() {
        let payload = serde_json::json!({
            "exception": {"values": [{"type": "KeyError", "stacktrace": {"frames": [
                {"filename": "app/main.py", "function": "main", "lineno": 3, "in_app": true},
                {"filename": "app/cart.py", "function": "load", "lineno": 12, "in_app": true},
                {"filename": "lib/dict.py", "function": "get", "lineno": 99, "in_app": false}
            ]}}]}
        });
        let event =
            normalize_event(payload.to_string().as_bytes(), &NormalizeLimits::default()).unwrap();
        assert_eq!(
            first_in_app_frame(&event).as_deref(),
            Some("app/cart.py:12 in load")
        );
        let bare = normalize_event(br#"{"message": "hi"}"#, &NormalizeLimits::default()).unwrap();
        assert_eq!(first_in_app_frame(&bare), None);
    }
}
