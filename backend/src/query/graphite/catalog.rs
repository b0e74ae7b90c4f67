//! The Graphite tree over stored series.
//!
//! A gauge (carbon or StatsD) is one leaf under its own name. A StatsD
//! counter `stats.counters.X` has leaves `.count` and `.rate`; a set
//! `stats.sets.X` has `.count`; a timer `stats.timers.X` has statsd's
//! leaves: `count`, `count_ps`, `sum`, `mean`, `lower`, `upper`, `median`,
//! `std`, and `upper_N` for each configured percentile (`upper_99_9` is
//! p99.9). Any `upper_N` resolves even when not listed.
//!
//! Paths match untagged series only, as in Graphite; tagged series are
//! found with `seriesByTag`.

use regex::Regex;

use super::functions::Aggregate;
use crate::store::metrics::{Series, SeriesKind};

/// Percentiles listed under every timer.
pub const LISTED_PERCENTILES: &[f64] = &[90.0, 95.0, 99.0, 99.9];

/// What a leaf reads from its series' points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field {
    /// The stored value (gauges).
    Value,
    /// A counter's total per bucket.
    Count,
    /// A counter's or timer's count per second.
    Rate,
    /// A set's unique count.
    Unique,
    /// A timer's statistic, computed from merged sketches.
    Timer(TimerField),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimerField {
    Count,
    Sum,
    Mean,
    Lower,
    Upper,
    Median,
    Std,
    /// 0-100.
    Percentile(f64),
}

impl Field {
    /// How buckets of this leaf are consolidated by default: what a person
    /// means by "the count over an hour" or "the max over an hour".
    pub fn default_consolidation(self) -> Aggregate {
        match self {
            Field::Count | Field::Timer(TimerField::Count | TimerField::Sum) => Aggregate::Sum,
            Field::Unique | Field::Timer(TimerField::Upper) => Aggregate::Max,
            Field::Timer(TimerField::Lower) => Aggregate::Min,
            _ => Aggregate::Average,
        }
    }
}

/// A queryable leaf: a Graphite name and where its data comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    pub name: String,
    pub series: Series,
    pub field: Field,
}

/// The leaf suffixes of a series kind, with their fields.
fn children(kind: SeriesKind) -> Vec<(String, Field)> {
    match kind {
        SeriesKind::Gauge => Vec::new(),
        SeriesKind::Counter => vec![("count".into(), Field::Count), ("rate".into(), Field::Rate)],
        SeriesKind::Set => vec![("count".into(), Field::Unique)],
        SeriesKind::Timer => {
            let mut fields = vec![
                ("count".into(), Field::Timer(TimerField::Count)),
                ("count_ps".into(), Field::Rate),
                ("sum".into(), Field::Timer(TimerField::Sum)),
                ("mean".into(), Field::Timer(TimerField::Mean)),
                ("lower".into(), Field::Timer(TimerField::Lower)),
                ("upper".into(), Field::Timer(TimerField::Upper)),
                ("median".into(), Field::Timer(TimerField::Median)),
                ("std".into(), Field::Timer(TimerField::Std)),
            ];
            for &p in LISTED_PERCENTILES {
                fields.push((percentile_leaf(p), Field::Timer(TimerField::Percentile(p))));
            }
            fields
        }
    }
}

/// `99.9` -> `upper_99_9`, statsd's spelling.
fn percentile_leaf(p: f64) -> String {
    format!("upper_{}", p.to_string().replace('.', "_"))
}

/// `upper_99_9` -> 99.9.
fn parse_percentile_leaf(leaf: &str) -> Option<f64> {
    let number: f64 = leaf
        .strip_prefix("upper_")?
        .replace('_', ".")
        .parse()
        .ok()?;
    (number > 0.0 && number <= 100.0).then_some(number)
}

/// Every listed leaf of every untagged series.
pub fn leaves(catalog: &[Series]) -> Vec<Leaf> {
    let mut out = Vec::new();
    for series in catalog.iter().filter(|s| s.key.tags.is_empty()) {
        out.extend(leaves_of(series));
    }
    out
}

/// The leaves of one series, tagged or not.
pub fn leaves_of(series: &Series) -> Vec<Leaf> {
    let children = children(series.kind);
    if children.is_empty() {
        return vec![Leaf {
            name: series.key.name.clone(),
            series: series.clone(),
            field: Field::Value,
        }];
    }
    children
        .into_iter()
        .map(|(suffix, field)| Leaf {
            name: format!("{}.{suffix}", series.key.name),
            series: series.clone(),
            field,
        })
        .collect()
}

/// Leaves matching a Graphite path pattern, sorted by name. Unlisted
/// `upper_N` leaves of timers resolve when named exactly.
pub fn resolve(catalog: &[Series], pattern: &str) -> Result<Vec<Leaf>, regex::Error> {
    let matcher = glob_regex(pattern)?;
    // Names are matched before anything is cloned: a pattern usually
    // picks a few series out of many thousands.
    let mut found: Vec<Leaf> = Vec::new();
    for series in catalog.iter().filter(|s| s.key.tags.is_empty()) {
        let children = children(series.kind);
        if children.is_empty() {
            if matcher.is_match(&series.key.name) {
                found.push(Leaf {
                    name: series.key.name.clone(),
                    series: series.clone(),
                    field: Field::Value,
                });
            }
            continue;
        }
        for (suffix, field) in children {
            let name = format!("{}.{suffix}", series.key.name);
            if matcher.is_match(&name) {
                found.push(Leaf {
                    name,
                    series: series.clone(),
                    field,
                });
            }
        }
    }
    if found.is_empty() {
        if let Some((parent, leaf)) = pattern.rsplit_once('.') {
            if let Some(p) = parse_percentile_leaf(leaf) {
                let parent_matcher = glob_regex(parent)?;
                for series in catalog
                    .iter()
                    .filter(|s| s.kind == SeriesKind::Timer && s.key.tags.is_empty())
                {
                    if parent_matcher.is_match(&series.key.name) {
                        found.push(Leaf {
                            name: format!("{}.{leaf}", series.key.name),
                            series: series.clone(),
                            field: Field::Timer(TimerField::Percentile(p)),
                        });
                    }
                }
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// A node of the tree as `/metrics/find` lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Node {
    /// The full path of the node.
    pub path: String,
    /// Whether data hangs here (a leaf) rather than below.
    pub leaf: bool,
}

/// The nodes at the pattern's depth whose path matches it.
pub fn find(catalog: &[Series], pattern: &str) -> Result<Vec<Node>, regex::Error> {
    let depth = pattern.split('.').count();
    let matcher = glob_regex(pattern)?;
    let mut nodes: Vec<Node> = Vec::new();
    for leaf in leaves(catalog) {
        let parts: Vec<&str> = leaf.name.split('.').collect();
        let Some(prefix) = parts.get(..depth) else {
            continue;
        };
        let path = prefix.join(".");
        if matcher.is_match(&path) {
            nodes.push(Node {
                leaf: parts.len() == depth,
                path,
            });
        }
    }
    nodes.sort();
    nodes.dedup();
    Ok(nodes)
}

/// Graphite's glob as an anchored regex: `*` and `?` stay within a node,
/// `[...]` is a character class, `{a,b}` an alternation.
pub fn glob_regex(pattern: &str) -> Result<Regex, regex::Error> {
    let mut out = String::from("^");
    let mut chars = pattern.chars().peekable();
    let mut in_braces = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str("[^.]*"),
            '?' => out.push_str("[^.]"),
            '[' => {
                out.push('[');
                for inner in chars.by_ref() {
                    if inner == ']' {
                        break;
                    }
                    if inner == '\\' || inner == '[' {
                        out.push('\\');
                    }
                    out.push(inner);
                }
                out.push(']');
            }
            '{' => {
                in_braces += 1;
                out.push_str("(?:");
            }
            '}' if in_braces > 0 => {
                in_braces -= 1;
                out.push(')');
            }
            ',' if in_braces > 0 => out.push('|'),
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    out.push('$');
    Regex::new(&out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::SeriesKey;

    fn series(id: i64, name: &str, kind: SeriesKind) -> Series {
        Series {
            id,
            key: SeriesKey::new(name.into(), []),
            kind,
        }
    }

    fn catalog() -> Vec<Series> {
        vec![
            series(1, "servers.web1.load", SeriesKind::Gauge),
            series(2, "servers.web2.load", SeriesKind::Gauge),
            series(3, "servers.db1.load", SeriesKind::Gauge),
            series(4, "stats.counters.api.hits", SeriesKind::Counter),
            series(5, "stats.timers.api.latency", SeriesKind::Timer),
            Series {
                id: 6,
                key: SeriesKey::new("servers.web3.load".into(), [("dc".into(), "eu".into())]),
                kind: SeriesKind::Gauge,
            },
        ]
    }

    fn names(leaves: Vec<Leaf>) -> Vec<String> {
        leaves.into_iter().map(|l| l.name).collect()
    }

    #[test]
    fn globs_match_within_nodes() {
        let c = catalog();
        assert_eq!(
            names(resolve(&c, "servers.*.load").unwrap()),
            ["servers.db1.load", "servers.web1.load", "servers.web2.load"]
        );
        assert_eq!(
            names(resolve(&c, "servers.web[2-9].load").unwrap()),
            ["servers.web2.load"]
        );
        assert_eq!(
            names(resolve(&c, "servers.{db1,web1}.load").unwrap()),
            ["servers.db1.load", "servers.web1.load"]
        );
        assert_eq!(
            names(resolve(&c, "servers.web?.load").unwrap()),
            ["servers.web1.load", "servers.web2.load"]
        );
        assert!(
            resolve(&c, "servers.*").unwrap().is_empty(),
            "* does not cross dots"
        );
    }

    #[test]
    fn statsd_kinds_have_their_leaves() {
        let c = catalog();
        assert_eq!(
            names(resolve(&c, "stats.counters.api.hits.*").unwrap()),
            [
                "stats.counters.api.hits.count",
                "stats.counters.api.hits.rate"
            ]
        );
        let timer = resolve(&c, "stats.timers.api.latency.upper_99_9").unwrap();
        assert_eq!(timer[0].field, Field::Timer(TimerField::Percentile(99.9)));
        let unlisted = resolve(&c, "stats.timers.api.latency.upper_99_99").unwrap();
        assert_eq!(
            unlisted[0].field,
            Field::Timer(TimerField::Percentile(99.99))
        );
    }

    #[test]
    fn find_lists_branches_and_leaves_at_the_pattern_depth() {
        let c = catalog();
        let nodes = find(&c, "servers.*").unwrap();
        assert_eq!(
            nodes.iter().map(|n| n.path.as_str()).collect::<Vec<_>>(),
            ["servers.db1", "servers.web1", "servers.web2"]
        );
        assert!(nodes.iter().all(|n| !n.leaf));
        let leaves = find(&c, "stats.counters.api.hits.*").unwrap();
        assert!(leaves.iter().all(|n| n.leaf));
        assert_eq!(find(&c, "*").unwrap().len(), 2);
    }

    #[test]
    fn regex_metacharacters_in_names_are_literal() {
        let c = vec![series(1, "a+b.c(d)", SeriesKind::Gauge)];
        assert_eq!(names(resolve(&c, "a+b.c(d)").unwrap()), ["a+b.c(d)"]);
        assert!(resolve(&c, "a.b").unwrap().is_empty());
    }
}
