//! What the issue list shows, as read from and written to its URL, so a
//! link reproduces the view:
//! `/ui/errors?status=all&environment=prod&q=payment&sort=count&refresh=30s`. Pure, so
//! it is tested on the host.
//!
//! Invariant: the URL is the only place the filters live; the page changes
//! them by navigating, and the list is fetched from the URL alone.

use crate::api::IssueQuery;
use crate::components::refresh::Refresh;
use crate::query_string;
use crate::url_nav::UrlView;

/// The list's client route; an issue is at `PATH/{id}`.
pub const PATH: &str = "/ui/errors";

/// The status filter's choices, `(URL value, label)`; the first is the
/// default. `all` is the page's own: the API leaves the filter out.
pub const STATUSES: [(&str, &str); 5] = [
    ("unresolved", "Unresolved"),
    ("resolved", "Resolved"),
    ("resolved_in_next_release", "Resolved in next release"),
    ("ignored", "Ignored"),
    ("all", "Any status"),
];

/// The sort choices, `(URL value, label)`; the first is the default.
pub const SORTS: [(&str, &str); 3] = [
    ("last_seen", "Last seen"),
    ("first_seen", "First seen"),
    ("count", "Most events"),
];

/// The filters and sort of the issue list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListView {
    /// A project id, or empty for every project.
    pub project: String,
    /// One of [`STATUSES`].
    pub status: String,
    pub environment: String,
    pub release: String,
    /// Words that must each appear in the title or culprit.
    pub text: String,
    /// One of [`SORTS`].
    pub sort: String,
    /// How often the list reads itself again; `None`: only when the view
    /// changes.
    pub refresh: Option<Refresh>,
}

impl Default for ListView {
    fn default() -> ListView {
        ListView {
            project: String::new(),
            status: STATUSES[0].0.to_owned(),
            environment: String::new(),
            release: String::new(),
            text: String::new(),
            sort: SORTS[0].0.to_owned(),
            refresh: None,
        }
    }
}

/// `value` when it is one of `choices`, else the first choice.
fn one_of(value: Option<String>, choices: &[(&str, &str)]) -> String {
    let value = value
        .map(|value| value.trim().to_owned())
        .unwrap_or_default();
    choices
        .iter()
        .find(|(name, _)| *name == value)
        .map_or(choices[0].0, |(name, _)| *name)
        .to_owned()
}

impl ListView {
    /// The view of a URL's parameters; unknown choices fall back to the
    /// defaults rather than failing.
    pub fn from_params(param: impl Fn(&str) -> Option<String>) -> ListView {
        let text = |key: &str| param(key).map(|v| v.trim().to_owned()).unwrap_or_default();
        ListView {
            project: text("project"),
            status: one_of(param("status"), &STATUSES),
            environment: text("environment"),
            release: text("release"),
            text: text("q"),
            sort: one_of(param("sort"), &SORTS),
            refresh: param("refresh").and_then(|every| Refresh::named(&every)),
        }
    }

    /// The page's URL for this view, leaving out what is default.
    fn href_text(&self) -> String {
        let unless_default = |value: &str, default: &str| {
            if value == default {
                String::new()
            } else {
                value.to_owned()
            }
        };
        let status = unless_default(&self.status, STATUSES[0].0);
        let sort = unless_default(&self.sort, SORTS[0].0);
        query_string::with_query(
            PATH,
            &[
                ("project", self.project.as_str()),
                ("status", &status),
                ("environment", self.environment.as_str()),
                ("release", self.release.as_str()),
                ("q", self.text.as_str()),
                ("sort", &sort),
                ("refresh", self.refresh.map_or("", |refresh| refresh.every)),
            ],
        )
    }

    /// Whether anything narrows the list beyond the default "unresolved":
    /// an empty list then means "nothing matches", not "nothing yet".
    pub fn is_filtered(&self) -> bool {
        let unfiltered = ListView {
            sort: self.sort.clone(),
            refresh: self.refresh,
            ..ListView::default()
        };
        *self != unfiltered
    }

    /// What to ask the API for.
    pub fn query(&self) -> IssueQuery {
        IssueQuery {
            project: self.project.clone(),
            status: if self.status == "all" {
                String::new()
            } else {
                self.status.clone()
            },
            environment: self.environment.clone(),
            release: self.release.clone(),
            text: self.text.clone(),
            sort: self.sort.clone(),
        }
    }
}

/// The URL of one issue's page.
pub fn issue_href(id: i64) -> String {
    format!("{PATH}/{id}")
}

impl UrlView for ListView {
    fn href(&self) -> String {
        self.href_text()
    }
}

#[cfg(test)]
mod tests {
    use crate::url_nav::UrlView as _;

    use std::collections::BTreeMap;

    use super::*;

    fn view_of(pairs: &[(&str, &str)]) -> ListView {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ListView::from_params(|key| map.get(key).cloned())
    }

    #[test]
    fn defaults_make_the_plain_link() {
        let view = view_of(&[]);
        assert_eq!(view, ListView::default());
        assert_eq!(view.href(), "/ui/errors");
        assert!(!view.is_filtered());
        assert_eq!(view.query().status, "unresolved");
    }

    #[test]
    fn the_link_holds_every_filter() {
        let view = view_of(&[
            ("status", "all"),
            ("environment", "prod"),
            ("release", "shop@1.4.2"),
            ("q", " card declined "),
            ("sort", "count"),
            ("refresh", "10s"),
        ]);
        assert_eq!(view.text, "card declined");
        assert_eq!(view.refresh.map(|refresh| refresh.seconds), Some(10));
        assert_eq!(
            view.href(),
            "/ui/errors?status=all&environment=prod&release=shop%401.4.2&q=card%20declined&sort=count&refresh=10s"
        );
        assert!(view.is_filtered());
        // "Any status" leaves the filter out of the API call.
        assert_eq!(view.query().status, "");
    }

    #[test]
    fn unknown_choices_fall_back() {
        let view = view_of(&[("status", "bogus"), ("sort", "bogus")]);
        assert_eq!(view, ListView::default());
        // Sorting and refreshing do not filter anything out.
        assert!(!view_of(&[("sort", "count")]).is_filtered());
        assert!(!view_of(&[("refresh", "30s")]).is_filtered());
        assert_eq!(view_of(&[("refresh", "7s")]).refresh, None);
        assert_eq!(issue_href(7), "/ui/errors/7");
    }
}
