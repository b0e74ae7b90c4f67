//! Graphite's tag endpoints, which Grafana's query editor calls to offer
//! tag names and values: `/tags/autoComplete/tags`,
//! `/tags/autoComplete/values`, `/tags/findSeries`.
//!
//! Every leaf is a tagged series here: its tags plus `name` (the leaf's
//! Graphite name), as `seriesByTag` sees it.

use std::collections::{BTreeMap, BTreeSet};

use super::catalog::{leaves_of, Leaf};
use super::eval::RenderError;
use super::fetch::TagMatcher;
use crate::store::metrics::Series;

/// A leaf and its tags as `seriesByTag` sees them (with `name`).
pub type TaggedLeaf = (Leaf, BTreeMap<String, String>);

/// Most answers one call returns when no `limit` is given.
pub const DEFAULT_LIMIT: usize = 100;

/// The leaves matching every `seriesByTag` expression, each with its tag
/// map (including `name`). `seriesByTag` and the endpoints here share it.
pub fn matching_leaves(
    catalog: &[Series],
    expressions: &[String],
) -> Result<Vec<TaggedLeaf>, RenderError> {
    let matchers = expressions
        .iter()
        .map(|e| TagMatcher::parse(e))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for series in catalog {
        for leaf in leaves_of(series) {
            let mut tags: BTreeMap<&str, &str> = series
                .key
                .tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            tags.insert("name", &leaf.name);
            if matchers.iter().all(|m| m.matches(&tags)) {
                let owned = tags
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                out.push((leaf, owned));
            }
        }
    }
    Ok(out)
}

fn tagged_leaves(
    catalog: &[Series],
    expressions: &[String],
) -> Result<Vec<BTreeMap<String, String>>, RenderError> {
    Ok(matching_leaves(catalog, expressions)?
        .into_iter()
        .map(|(_, tags)| tags)
        .collect())
}

/// Tag names used by matching series, starting with `prefix`, leaving out
/// tags the expressions already constrain (Graphite does the same).
pub fn autocomplete_tags(
    catalog: &[Series],
    expressions: &[String],
    prefix: &str,
    limit: usize,
) -> Result<Vec<String>, RenderError> {
    let used: BTreeSet<&str> = expressions
        .iter()
        .filter_map(|e| e.split(['=', '!']).next())
        .collect();
    let mut names = BTreeSet::new();
    for tags in tagged_leaves(catalog, expressions)? {
        names.extend(
            tags.into_keys()
                .filter(|k| k.starts_with(prefix) && !used.contains(k.as_str())),
        );
    }
    Ok(names.into_iter().take(limit).collect())
}

/// Values of `tag` among matching series, starting with `prefix`.
pub fn autocomplete_values(
    catalog: &[Series],
    expressions: &[String],
    tag: &str,
    prefix: &str,
    limit: usize,
) -> Result<Vec<String>, RenderError> {
    let mut values = BTreeSet::new();
    for mut tags in tagged_leaves(catalog, expressions)? {
        if let Some(value) = tags.remove(tag).filter(|v| v.starts_with(prefix)) {
            values.insert(value);
        }
    }
    Ok(values.into_iter().take(limit).collect())
}

/// `name;k=v;...` of every matching series, sorted.
pub fn find_series(catalog: &[Series], expressions: &[String]) -> Result<Vec<String>, RenderError> {
    let mut found: Vec<String> = tagged_leaves(catalog, expressions)?
        .into_iter()
        .map(|mut tags| {
            let name = tags.remove("name").unwrap_or_default();
            let rest: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            if rest.is_empty() {
                name
            } else {
                format!("{name};{}", rest.join(";"))
            }
        })
        .collect();
    found.sort();
    found.dedup();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::SeriesKey;
    use crate::store::metrics::SeriesKind;

    fn catalog() -> Vec<Series> {
        let tagged = |id, name: &str, tags: &[(&str, &str)]| Series {
            id,
            key: SeriesKey::new(
                name.into(),
                tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            ),
            kind: SeriesKind::Gauge,
        };
        vec![
            tagged(1, "disk.used", &[("host", "db1"), ("mount", "/var")]),
            tagged(2, "disk.used", &[("host", "web1"), ("mount", "/")]),
            tagged(3, "cpu.load", &[("host", "web1")]),
        ]
    }

    #[test]
    fn tag_names_leave_out_the_constrained_ones() {
        let c = catalog();
        assert_eq!(
            autocomplete_tags(&c, &[], "", 100).unwrap(),
            ["host", "mount", "name"]
        );
        assert_eq!(
            autocomplete_tags(&c, &["name=disk.used".into()], "", 100).unwrap(),
            ["host", "mount"]
        );
        assert_eq!(autocomplete_tags(&c, &[], "m", 100).unwrap(), ["mount"]);
    }

    #[test]
    fn values_follow_the_expressions() {
        let c = catalog();
        assert_eq!(
            autocomplete_values(&c, &[], "host", "", 100).unwrap(),
            ["db1", "web1"]
        );
        assert_eq!(
            autocomplete_values(&c, &["name=cpu.load".into()], "host", "", 100).unwrap(),
            ["web1"]
        );
        assert_eq!(
            autocomplete_values(&c, &["host=~web.*".into()], "name", "d", 100).unwrap(),
            ["disk.used"]
        );
    }

    #[test]
    fn find_series_spells_tags_graphite_style() {
        let c = catalog();
        assert_eq!(
            find_series(&c, &["host=web1".into()]).unwrap(),
            ["cpu.load;host=web1", "disk.used;host=web1;mount=/"]
        );
        assert!(find_series(&c, &["nonsense".into()]).is_err());
    }
}
