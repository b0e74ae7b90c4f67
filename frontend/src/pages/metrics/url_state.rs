//! What the metrics page shows, as read from and written to its URL, so a
//! link reproduces the view:
//! `/ui/metrics?match=servers.*&name=servers.web1.load&from=-6h&by=max&refresh=30s`,
//! or, to chart the series a search finds together,
//! `/ui/metrics?match=servers.*.load&compare=1`, or series picked one by
//! one, from any search,
//! `/ui/metrics?compare=1&pick=servers.web1.load&pick=http.requests;env=prod`.
//! Pure, so it is tested on the host.
//!
//! Invariant: as on the logs page, the URL is the only place the view
//! lives; the page navigates to change it.

use crate::components::refresh::Refresh;
use crate::query_string;
use crate::url_nav::UrlView;

/// The page's client route.
pub const PATH: &str = "/ui/metrics";

/// A quick choice of range, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// What the button says, and the URL's `from`.
    pub from: &'static str,
    pub label: &'static str,
    /// The range's length.
    pub seconds: i64,
}

const HOUR: i64 = 3_600;
const DAY: i64 = 24 * HOUR;

/// The ranges offered, shortest first: raw points up to a day, then the
/// rollups' resolutions.
pub static PRESETS: [Preset; 5] = [
    Preset {
        from: "-1h",
        label: "1h",
        seconds: HOUR,
    },
    Preset {
        from: "-6h",
        label: "6h",
        seconds: 6 * HOUR,
    },
    Preset {
        from: "-24h",
        label: "24h",
        seconds: DAY,
    },
    Preset {
        from: "-7d",
        label: "7d",
        seconds: 7 * DAY,
    },
    Preset {
        from: "-30d",
        label: "30d",
        seconds: 30 * DAY,
    },
];

/// Series a comparison charts at most: more lines than this are no longer
/// told apart.
pub const MAX_COMPARED: usize = 8;

/// The range when the URL names none (or one not offered).
pub const DEFAULT_PRESET: Preset = PRESETS[2];

/// The series the page charts: its stored name and tags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chosen {
    pub name: String,
    pub tags: Vec<(String, String)>,
}

impl Chosen {
    /// The series in Graphite's tagged form, `name;key=value;...`: one
    /// URL parameter per picked series.
    pub fn key(&self) -> String {
        let mut key = self.name.clone();
        for (tag, value) in &self.tags {
            key.push(';');
            key.push_str(tag);
            key.push('=');
            key.push_str(value);
        }
        key
    }

    /// The series a [`Chosen::key`] names; `None` without a name. A part
    /// after the name without `=` is not a tag, and is left out.
    pub fn from_key(key: &str) -> Option<Chosen> {
        let mut parts = key.split(';');
        let name = parts.next()?.trim();
        if name.is_empty() {
            return None;
        }
        let tags = parts
            .filter_map(|part| part.split_once('='))
            .map(|(tag, value)| (tag.to_owned(), value.to_owned()))
            .collect();
        Some(Chosen {
            name: name.to_owned(),
            tags,
        })
    }
}

/// The search, the chosen series, the range and the consolidation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsView {
    /// The glob series names are searched with, as typed (empty: all).
    pub pattern: String,
    pub chosen: Option<Chosen>,
    /// No series chosen: the picked series, or without picks the first
    /// ones the search finds, are charted together ([`MAX_COMPARED`]).
    pub compare: bool,
    /// Series picked to be charted together, in the order picked, at most
    /// [`MAX_COMPARED`]; kept while searching and choosing.
    pub picks: Vec<Chosen>,
    /// A comparison scales each series to its own range (its lowest value
    /// at the bottom, its highest at the top) instead of one shared axis:
    /// series of different units then compare by shape.
    pub own_scales: bool,
    pub range: Preset,
    /// How each point merges its bucket (`avg`, `sum`, `p99` ...); `None`
    /// takes the kind's default ([`default_consolidation`]).
    pub consolidation: Option<String>,
    /// `None`: the chart is read once.
    pub refresh: Option<Refresh>,
}

impl Default for MetricsView {
    fn default() -> MetricsView {
        MetricsView {
            pattern: String::new(),
            chosen: None,
            compare: false,
            picks: Vec::new(),
            own_scales: false,
            range: DEFAULT_PRESET,
            consolidation: None,
            refresh: None,
        }
    }
}

impl MetricsView {
    /// The view of a URL's parameters: `match`, `name`, each `tag=k:v`,
    /// `from`, `by`, `refresh`, `compare`, `scale` and each `pick`. `all` gives every value of a
    /// repeated parameter. A chosen series wins over `compare`.
    pub fn from_params(
        param: impl Fn(&str) -> Option<String>,
        all: impl Fn(&str) -> Vec<String>,
    ) -> MetricsView {
        let text = |key: &str| {
            param(key)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        let chosen = text("name").map(|name| Chosen {
            name,
            tags: all("tag")
                .iter()
                .filter_map(|tag| tag.split_once(':'))
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect(),
        });
        let range = text("from")
            .and_then(|from| PRESETS.iter().copied().find(|preset| preset.from == from))
            .unwrap_or(DEFAULT_PRESET);
        let mut picks: Vec<Chosen> = Vec::new();
        for pick in all("pick").iter().filter_map(|key| Chosen::from_key(key)) {
            if !picks.contains(&pick) && picks.len() < MAX_COMPARED {
                picks.push(pick);
            }
        }
        MetricsView {
            pattern: text("match").unwrap_or_default(),
            picks,
            own_scales: text("scale").as_deref() == Some("each"),
            compare: chosen.is_none() && text("compare").as_deref() == Some("1"),
            chosen,
            range,
            consolidation: text("by"),
            refresh: text("refresh").and_then(|every| Refresh::named(&every)),
        }
    }

    /// This view searching for `pattern`; the chart stays.
    pub fn with_pattern(&self, pattern: String) -> MetricsView {
        MetricsView {
            pattern,
            ..self.clone()
        }
    }

    /// This view charting `chosen`, merged the way its kind is by default.
    pub fn with_chosen(&self, chosen: Chosen) -> MetricsView {
        MetricsView {
            chosen: Some(chosen),
            compare: false,
            consolidation: None,
            ..self.clone()
        }
    }

    /// This view charting the search's first series together, each merged
    /// the way its kind is by default.
    pub fn with_compare(&self) -> MetricsView {
        MetricsView {
            chosen: None,
            compare: true,
            consolidation: None,
            ..self.clone()
        }
    }

    /// This view with `series` picked, or no longer picked if it was.
    /// Nothing more is picked once [`MAX_COMPARED`] are.
    pub fn with_pick_toggled(&self, series: &Chosen) -> MetricsView {
        let mut picks = self.picks.clone();
        if let Some(at) = picks.iter().position(|pick| pick == series) {
            picks.remove(at);
        } else if picks.len() < MAX_COMPARED {
            picks.push(series.clone());
        }
        MetricsView {
            picks,
            ..self.clone()
        }
    }

    /// This view with nothing picked, and no comparison of picks.
    pub fn without_picks(&self) -> MetricsView {
        MetricsView {
            picks: Vec::new(),
            compare: self.compare && self.picks.is_empty(),
            ..self.clone()
        }
    }

    /// This view comparing series each on its own scale, or on one.
    pub fn with_own_scales(&self, own_scales: bool) -> MetricsView {
        MetricsView {
            own_scales,
            ..self.clone()
        }
    }

    pub fn with_range(&self, range: Preset) -> MetricsView {
        MetricsView {
            range,
            ..self.clone()
        }
    }

    pub fn with_consolidation(&self, consolidation: String) -> MetricsView {
        MetricsView {
            consolidation: Some(consolidation),
            ..self.clone()
        }
    }

    pub fn with_refresh(&self, refresh: Option<Refresh>) -> MetricsView {
        MetricsView {
            refresh,
            ..self.clone()
        }
    }
}

impl UrlView for MetricsView {
    /// The page's URL for this view, leaving out what is default.
    fn href(&self) -> String {
        let tags: Vec<String> = self
            .chosen
            .iter()
            .flat_map(|chosen| chosen.tags.iter())
            .map(|(key, value)| format!("{key}:{value}"))
            .collect();
        let mut pairs: Vec<(&str, &str)> = vec![("match", self.pattern.as_str())];
        if let Some(chosen) = &self.chosen {
            pairs.push(("name", chosen.name.as_str()));
        }
        pairs.extend(tags.iter().map(|tag| ("tag", tag.as_str())));
        if self.compare {
            pairs.push(("compare", "1"));
        }
        let picks: Vec<String> = self.picks.iter().map(Chosen::key).collect();
        pairs.extend(picks.iter().map(|key| ("pick", key.as_str())));
        if self.own_scales {
            pairs.push(("scale", "each"));
        }
        if self.range != DEFAULT_PRESET {
            pairs.push(("from", self.range.from));
        }
        pairs.push(("by", self.consolidation.as_deref().unwrap_or_default()));
        if let Some(refresh) = self.refresh {
            pairs.push(("refresh", refresh.every));
        }
        query_string::with_query(PATH, &pairs)
    }
}

/// The consolidations offered for a kind of series, the default first:
/// a counter's points add up, a timer is read by its percentiles.
pub fn consolidations(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["sum", "avg", "max", "min"],
        "timer" => &["p99", "p50", "p90", "p99.9", "avg", "max", "min", "count"],
        _ => &["avg", "max", "min", "last"],
    }
}

/// How a kind of series is merged when the URL does not say.
pub fn default_consolidation(kind: &str) -> &'static str {
    consolidations(kind).first().copied().unwrap_or("avg")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn view_of(pairs: &[(&str, &str)]) -> MetricsView {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, value) in pairs {
            map.entry((*key).to_owned())
                .or_default()
                .push((*value).to_owned());
        }
        MetricsView::from_params(
            |key| map.get(key).and_then(|values| values.first().cloned()),
            |key| map.get(key).cloned().unwrap_or_default(),
        )
    }

    #[test]
    fn defaults_make_the_plain_link() {
        let view = view_of(&[]);
        assert_eq!(view, MetricsView::default());
        assert_eq!(view.href(), "/ui/metrics");
    }

    #[test]
    fn the_link_holds_search_series_tags_range_and_consolidation() {
        let view = view_of(&[
            ("match", " api.* "),
            ("name", "api.latency"),
            ("tag", "env:prod"),
            ("tag", "region:eu:west"),
            ("tag", "no colon"),
            ("from", "-7d"),
            ("by", "p99.9"),
            ("refresh", "30s"),
        ]);
        assert_eq!(view.pattern, "api.*");
        assert_eq!(
            view.chosen,
            Some(Chosen {
                name: "api.latency".into(),
                tags: vec![
                    ("env".into(), "prod".into()),
                    ("region".into(), "eu:west".into())
                ],
            })
        );
        assert_eq!(view.range.seconds, 7 * DAY);
        assert_eq!(view.consolidation.as_deref(), Some("p99.9"));
        assert_eq!(view.refresh.map(|r| r.seconds), Some(30));
        assert_eq!(
            view.href(),
            "/ui/metrics?match=api.%2A&name=api.latency&tag=env%3Aprod&tag=region%3Aeu%3Awest&from=-7d&by=p99.9&refresh=30s"
        );
        assert_eq!(view_of_href(&view.href()), view, "the link reads back");
    }

    #[test]
    fn choosing_a_series_resets_the_consolidation_and_keeps_the_rest() {
        let view = view_of(&[("match", "a.*"), ("from", "-1h"), ("by", "max")]);
        let chosen = view.with_chosen(Chosen {
            name: "a.b".into(),
            tags: Vec::new(),
        });
        assert_eq!(chosen.consolidation, None);
        assert_eq!(chosen.pattern, "a.*");
        assert_eq!(chosen.range.from, "-1h");
        assert_eq!(chosen.href(), "/ui/metrics?match=a.%2A&name=a.b&from=-1h");
    }

    #[test]
    fn refresh_is_off_unless_the_link_names_an_offered_interval() {
        assert_eq!(view_of(&[]).refresh, None);
        assert_eq!(view_of(&[("refresh", "7s")]).refresh, None);
        assert_eq!(
            view_of(&[("refresh", "1m")]).refresh.map(|r| r.seconds),
            Some(60)
        );
        let view = view_of(&[("name", "a.b"), ("refresh", "5s")]);
        let other_range = view.with_range(PRESETS[0]);
        assert_eq!(
            other_range.refresh, view.refresh,
            "a new range keeps refreshing"
        );
        let off = view.with_refresh(None);
        assert_eq!(off.href(), "/ui/metrics?name=a.b");
        assert_eq!(view_of_href(&view.href()), view, "the link reads back");
    }

    #[test]
    fn a_comparison_is_in_the_link_until_a_series_is_chosen() {
        let view = view_of(&[("match", "servers.*.load"), ("by", "max")]).with_compare();
        assert!(view.compare && view.chosen.is_none());
        assert_eq!(view.consolidation, None, "each kind merges its own way");
        assert_eq!(view.href(), "/ui/metrics?match=servers.%2A.load&compare=1");
        assert_eq!(view_of_href(&view.href()), view, "the link reads back");
        let one = view.with_chosen(Chosen {
            name: "servers.web1.load".into(),
            tags: Vec::new(),
        });
        assert!(!one.compare);
        assert_eq!(
            one.href(),
            "/ui/metrics?match=servers.%2A.load&name=servers.web1.load"
        );
        assert!(
            !view_of(&[("name", "a.b"), ("compare", "1")]).compare,
            "a chosen series wins"
        );
        assert!(!view_of(&[("compare", "yes")]).compare);
    }

    #[test]
    fn picks_are_in_the_link_in_order_and_survive_searching_and_choosing() {
        let web1 = Chosen {
            name: "servers.web1.load".into(),
            tags: Vec::new(),
        };
        let requests = Chosen {
            name: "http.requests".into(),
            tags: vec![
                ("env".into(), "prod".into()),
                ("region".into(), "eu".into()),
            ],
        };
        let view = view_of(&[("match", "servers.*")])
            .with_pick_toggled(&web1)
            .with_pattern("http.*".into())
            .with_pick_toggled(&requests)
            .with_compare();
        assert_eq!(view.picks, [web1.clone(), requests.clone()]);
        assert_eq!(
            view.href(),
            "/ui/metrics?match=http.%2A&compare=1&pick=servers.web1.load&pick=http.requests%3Benv%3Dprod%3Bregion%3Deu"
        );
        assert_eq!(view_of_href(&view.href()), view, "the link reads back");
        let one = view.with_chosen(requests.clone());
        assert!(!one.compare);
        assert_eq!(one.picks, view.picks, "choosing one keeps the picks");
        let unpicked = view.with_pick_toggled(&web1);
        assert_eq!(unpicked.picks, std::slice::from_ref(&requests));
        assert!(unpicked.compare);
        let cleared = view.without_picks();
        assert!(cleared.picks.is_empty() && !cleared.compare);
        assert!(
            view_of(&[("compare", "1")]).without_picks().compare,
            "a comparison of the search stays"
        );
    }

    #[test]
    fn own_scales_are_in_the_link_and_kept_until_turned_off() {
        let view = view_of(&[("match", "servers.*"), ("compare", "1"), ("scale", "each")]);
        assert!(view.own_scales);
        assert_eq!(
            view.href(),
            "/ui/metrics?match=servers.%2A&compare=1&scale=each"
        );
        assert_eq!(view_of_href(&view.href()), view, "the link reads back");
        assert!(view.with_range(PRESETS[0]).own_scales);
        let shared = view.with_own_scales(false);
        assert_eq!(shared.href(), "/ui/metrics?match=servers.%2A&compare=1");
        assert!(!view_of(&[("scale", "own")]).own_scales);
    }

    #[test]
    fn picks_are_bounded_unique_and_need_a_name() {
        let keys: Vec<String> = (0..MAX_COMPARED + 3).map(|i| format!("s.{i}")).collect();
        let mut pairs: Vec<(&str, &str)> = keys.iter().map(|key| ("pick", key.as_str())).collect();
        pairs.insert(1, ("pick", "s.0"));
        pairs.insert(2, ("pick", ";env=prod"));
        pairs.insert(3, ("pick", ""));
        let view = view_of(&pairs);
        let names: Vec<&str> = view.picks.iter().map(|pick| pick.name.as_str()).collect();
        assert_eq!(
            names,
            keys[..MAX_COMPARED]
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        let full = view.with_pick_toggled(&Chosen {
            name: "one.more".into(),
            tags: Vec::new(),
        });
        assert_eq!(full.picks, view.picks, "no ninth pick");
        assert_eq!(
            Chosen::from_key("a.b;env=prod;stray;k=v=w"),
            Some(Chosen {
                name: "a.b".into(),
                tags: vec![("env".into(), "prod".into()), ("k".into(), "v=w".into())],
            })
        );
    }

    #[test]
    fn an_unknown_range_reads_as_the_default() {
        assert_eq!(view_of(&[("from", "-3y")]).range, DEFAULT_PRESET);
    }

    #[test]
    fn each_kind_defaults_to_its_first_consolidation() {
        assert_eq!(default_consolidation("counter"), "sum");
        assert_eq!(default_consolidation("timer"), "p99");
        assert_eq!(default_consolidation("gauge"), "avg");
        assert_eq!(default_consolidation("set"), "avg");
    }

    /// Parses an href the way the router hands its query to the page.
    fn view_of_href(href: &str) -> MetricsView {
        let query = href.split_once('?').map_or("", |(_, query)| query);
        let pairs: Vec<(String, String)> = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (decode(key), decode(value)))
            .collect();
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        view_of(&borrowed)
    }

    fn decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            if bytes[at] == b'%' && at + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[at + 1..at + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                at += 3;
            } else {
                out.push(bytes[at]);
                at += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
}
