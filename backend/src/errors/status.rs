//! Issue statuses and what a new event does to them. Pure, so the rules
//! are tested apart from SQL.
//!
//! - `unresolved`: new events just count.
//! - `ignored`: new events count; the issue stays out of the way.
//! - `resolved`: any new event means the bug is back: the issue becomes
//!   `unresolved` and is marked regressed, with the event's release.
//! - `resolved_in_next_release`: the fix ships with the next release, so
//!   events from the release that was current when it was resolved (or
//!   without a release) are expected and only count; an event from any
//!   other release is a regression. Releases are compared for equality,
//!   not order: an event from an older release still running somewhere
//!   counts as a regression too.

/// Where an issue stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueStatus {
    Unresolved,
    Resolved,
    ResolvedInNextRelease,
    Ignored,
}

impl IssueStatus {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueStatus::Unresolved => "unresolved",
            IssueStatus::Resolved => "resolved",
            IssueStatus::ResolvedInNextRelease => "resolved_in_next_release",
            IssueStatus::Ignored => "ignored",
        }
    }

    /// A status from its name; `None` for anything else.
    pub fn parse(name: &str) -> Option<IssueStatus> {
        match name {
            "unresolved" => Some(IssueStatus::Unresolved),
            "resolved" => Some(IssueStatus::Resolved),
            "resolved_in_next_release" => Some(IssueStatus::ResolvedInNextRelease),
            "ignored" => Some(IssueStatus::Ignored),
            _ => None,
        }
    }

    /// Every status, for messages that list them.
    pub const ALL: [IssueStatus; 4] = [
        IssueStatus::Unresolved,
        IssueStatus::Resolved,
        IssueStatus::ResolvedInNextRelease,
        IssueStatus::Ignored,
    ];
}

/// What one event does to its issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub status: IssueStatus,
    /// The issue was resolved and is back.
    pub regressed: bool,
}

/// The issue's status after an event of `event_release` arrives.
/// `resolved_in_release` is the release recorded when the issue was set to
/// `resolved_in_next_release`.
pub fn on_event(
    status: IssueStatus,
    resolved_in_release: Option<&str>,
    event_release: Option<&str>,
) -> Change {
    let regression = Change {
        status: IssueStatus::Unresolved,
        regressed: true,
    };
    let unchanged = Change {
        status,
        regressed: false,
    };
    match status {
        IssueStatus::Unresolved | IssueStatus::Ignored => unchanged,
        IssueStatus::Resolved => regression,
        IssueStatus::ResolvedInNextRelease => match event_release {
            Some(release) if Some(release) != resolved_in_release => regression,
            _ => unchanged,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for status in IssueStatus::ALL {
            assert_eq!(IssueStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(IssueStatus::parse("Resolved"), None);
    }

    #[test]
    fn open_and_ignored_issues_only_count() {
        for status in [IssueStatus::Unresolved, IssueStatus::Ignored] {
            assert_eq!(
                on_event(status, None, Some("1.0")),
                Change {
                    status,
                    regressed: false
                }
            );
        }
    }

    #[test]
    fn a_resolved_issue_that_recurs_regresses_whatever_the_release() {
        for release in [None, Some("1.0")] {
            let change = on_event(IssueStatus::Resolved, None, release);
            assert_eq!(change.status, IssueStatus::Unresolved);
            assert!(change.regressed);
        }
    }

    #[test]
    fn resolved_in_next_release_waits_for_another_release() {
        let next = IssueStatus::ResolvedInNextRelease;
        assert!(!on_event(next, Some("1.0"), Some("1.0")).regressed);
        assert!(!on_event(next, Some("1.0"), None).regressed);
        assert_eq!(on_event(next, Some("1.0"), None).status, next);
        let back = on_event(next, Some("1.0"), Some("1.1"));
        assert_eq!(back.status, IssueStatus::Unresolved);
        assert!(back.regressed);
        assert!(on_event(next, None, Some("1.0")).regressed);
    }
}
