//! What the logs page shows, as read from and written to its URL, so a
//! link reproduces the view: `/ui/logs?q=service:api%20level:error&from=-6h`.
//! Pure, so it is tested on the host.
//!
//! Invariant: the URL is the only place the query and the range live. The
//! page changes them by navigating to a new URL, and everything shown is
//! derived from the URL, so back and forward, reloads and shared links
//! all agree with what is on screen.

use super::time_range::TimeRange;
use crate::query_string;
use crate::url_nav::UrlView;

/// The page's client route.
pub const PATH: &str = "/ui/logs";

/// The query and time range of the logs page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogsView {
    /// The query language text, as typed (empty: every line).
    pub query: String,
    pub range: TimeRange,
}

impl LogsView {
    /// The view of a URL's parameters `q`, `from` and `until`.
    pub fn from_params(param: impl Fn(&str) -> Option<String>) -> LogsView {
        LogsView {
            query: param("q").map(|q| q.trim().to_owned()).unwrap_or_default(),
            range: TimeRange::from_params(param("from"), param("until")),
        }
    }

    /// The page's URL for this view, leaving out what is default.
    fn href_text(&self) -> String {
        let (from, until) = self.range.url_params();
        query_string::with_query(
            PATH,
            &[("q", self.query.as_str()), ("from", from), ("until", until)],
        )
    }

    /// This view with another query.
    pub fn with_query(&self, query: String) -> LogsView {
        LogsView {
            query,
            range: self.range.clone(),
        }
    }

    /// This view with another range.
    pub fn with_range(&self, range: TimeRange) -> LogsView {
        LogsView {
            query: self.query.clone(),
            range,
        }
    }
}

/// The logs page showing `query`'s lines from `from_ms` to `until_ms`:
/// how other pages link here (a deploy's lines around it).
pub fn link(query: &str, from_ms: i64, until_ms: i64) -> String {
    LogsView {
        query: query.to_owned(),
        range: TimeRange::between(from_ms, until_ms),
    }
    .href_text()
}

impl UrlView for LogsView {
    fn href(&self) -> String {
        self.href_text()
    }
}

#[cfg(test)]
mod tests {
    use crate::url_nav::UrlView as _;

    use std::collections::BTreeMap;

    use super::*;

    fn view_of(pairs: &[(&str, &str)]) -> LogsView {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        LogsView::from_params(|key| map.get(key).cloned())
    }

    #[test]
    fn defaults_make_the_plain_link() {
        let view = view_of(&[]);
        assert_eq!(view, LogsView::default());
        assert_eq!(view.href(), "/ui/logs");
    }

    #[test]
    fn the_link_holds_query_and_range() {
        let view = view_of(&[("q", " service:api level:error "), ("from", "-6h")]);
        assert_eq!(view.query, "service:api level:error");
        assert_eq!(
            view.href(),
            "/ui/logs?q=service%3Aapi%20level%3Aerror&from=-6h"
        );

        let fixed = view.with_range(TimeRange::between(0, 60_000));
        assert_eq!(
            fixed.href(),
            "/ui/logs?q=service%3Aapi%20level%3Aerror&from=1970-01-01T00%3A00%3A00Z&until=1970-01-01T00%3A01%3A00Z"
        );
        assert_eq!(fixed.with_query(String::new()).query, "");
    }

    #[test]
    fn other_pages_link_to_a_query_over_two_instants() {
        assert_eq!(
            link("service:api", 0, 60_000),
            "/ui/logs?q=service%3Aapi&from=1970-01-01T00%3A00%3A00Z&until=1970-01-01T00%3A01%3A00Z"
        );
    }
}
