//! StatsD lines, with the DogStatsD extensions real clients send.
//!
//! ```text
//! <name>:<value>[:<value>...]|<type>[|@<sample rate>][|#<tag>[:<v>],...][|T<unix seconds>]
//! ```
//! Types: `c` counter, `g` gauge (a leading `+` or `-` makes it a delta, as
//! in statsd), `ms` timer, `h` histogram, `d` distribution, `s` set, and
//! `m` meter (events marked, as metricsd and Coda Hale-style reporters
//! send; aggregated as a counter is).
//! Several lines per datagram, separated by `\n`. Multiple values per line
//! (`a:1:2:3|ms`) are DogStatsD's packing of one metric's samples; for sets
//! everything after the name is one member. DogStatsD's other `x:` fields
//! (container id `c:`, external data `e:`) are accepted and ignored.
//!
//! Specs: <https://github.com/statsd/statsd/blob/master/docs/metric_types.md>,
//! <https://docs.datadoghq.com/developers/dogstatsd/datagram_shell>.
//!
//! The parser borrows from the input and allocates nothing: it is the
//! hottest code in partout.

use std::borrow::Cow;

use crate::ParseError;

/// The metric type of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Counter,
    /// Events marked: counted, and reported as a rate, like a counter.
    Meter,
    Gauge,
    Timer,
    Histogram,
    Distribution,
    Set,
}

impl Kind {
    fn parse(text: &str) -> Result<Kind, ParseError> {
        match text {
            "c" => Ok(Kind::Counter),
            "m" => Ok(Kind::Meter),
            "g" => Ok(Kind::Gauge),
            "ms" => Ok(Kind::Timer),
            "h" => Ok(Kind::Histogram),
            "d" => Ok(Kind::Distribution),
            "s" => Ok(Kind::Set),
            _ => Err(ParseError::BadType),
        }
    }

    /// The type as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "c",
            Kind::Meter => "m",
            Kind::Gauge => "g",
            Kind::Timer => "ms",
            Kind::Histogram => "h",
            Kind::Distribution => "d",
            Kind::Set => "s",
        }
    }
}

/// One sample of a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// A counter increment, timer/histogram/distribution sample, or
    /// absolute gauge value.
    Number(f64),
    /// A gauge written with a leading sign: add it to the current value.
    GaugeDelta(f64),
    /// A set member.
    SetMember(&'a str),
}

/// A parsed, validated line borrowing from the input.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsdLine<'a> {
    /// The name as sent (see [`sanitize_name`] for the Graphite-safe form).
    pub name: &'a str,
    pub kind: Kind,
    /// In (0, 1]; 1 when absent.
    pub sample_rate: f64,
    /// DogStatsD `|T` timestamp, unix seconds.
    pub timestamp: Option<u64>,
    /// Validated `:`-separated values (one member for sets).
    values: &'a str,
    /// Validated `,`-separated tags, empty when none.
    tags: &'a str,
}

impl<'a> StatsdLine<'a> {
    /// The line's samples; at least one.
    pub fn values(&self) -> impl Iterator<Item = Value<'a>> + '_ {
        let kind = self.kind;
        // Validated at parse time, so every part converts.
        self.value_parts()
            .filter_map(move |part| value(kind, part).ok())
    }

    /// The number of samples on the line.
    pub fn value_count(&self) -> usize {
        self.value_parts().count()
    }

    /// A set member may contain `:`; other types pack samples with it.
    fn value_parts(&self) -> std::str::SplitN<'a, char> {
        let pieces = if self.kind == Kind::Set {
            1
        } else {
            usize::MAX
        };
        self.values.splitn(pieces, ':')
    }

    /// Tags as `(key, value)`; a bare tag has an empty value.
    pub fn tags(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let tags = self.tags;
        tags.split(',')
            .filter(|tag| !tag.is_empty())
            .map(|tag| tag.split_once(':').unwrap_or((tag, "")))
    }

    /// The raw tag text (`k:v,k2`), empty when none.
    pub fn raw_tags(&self) -> &'a str {
        self.tags
    }
}

fn value(kind: Kind, text: &str) -> Result<Value<'_>, ParseError> {
    if kind == Kind::Set {
        return if text.is_empty() {
            Err(ParseError::BadValue)
        } else {
            Ok(Value::SetMember(text))
        };
    }
    let number = number(text)?;
    let signed = matches!(text.as_bytes().first(), Some(b'+' | b'-'));
    Ok(if kind == Kind::Gauge && signed {
        Value::GaugeDelta(number)
    } else {
        Value::Number(number)
    })
}

fn number(text: &str) -> Result<f64, ParseError> {
    let parsed: f64 = text.parse().map_err(|_| ParseError::BadValue)?;
    if parsed.is_finite() {
        Ok(parsed)
    } else {
        Err(ParseError::NonFinite)
    }
}

/// Parses one line (without its `\n`).
pub fn parse_line(line: &[u8]) -> Result<StatsdLine<'_>, ParseError> {
    let line = std::str::from_utf8(line).map_err(|_| ParseError::NotUtf8)?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    let (name, rest) = line.split_once(':').ok_or(ParseError::MissingValue)?;
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(ParseError::BadName);
    }
    let mut fields = rest.split('|');
    let values = fields.next().unwrap_or_default();
    let kind = Kind::parse(fields.next().ok_or(ParseError::MissingType)?)?;
    if values.is_empty() {
        return Err(ParseError::BadValue);
    }
    let mut parsed = StatsdLine {
        name,
        kind,
        sample_rate: 1.0,
        timestamp: None,
        values,
        tags: "",
    };
    for part in parsed.value_parts() {
        value(kind, part)?;
    }
    for field in fields {
        match field.as_bytes().first() {
            Some(b'@') => {
                let rate = field.get(1..).unwrap_or_default();
                let rate: f64 = rate.parse().map_err(|_| ParseError::BadSampleRate)?;
                if !(rate > 0.0 && rate <= 1.0) {
                    return Err(ParseError::BadSampleRate);
                }
                parsed.sample_rate = rate;
            }
            Some(b'#') => {
                let tags = field.get(1..).unwrap_or_default();
                if tags
                    .split(',')
                    .any(|tag| tag.is_empty() || tag.starts_with(':'))
                {
                    return Err(ParseError::BadTag);
                }
                parsed.tags = tags;
            }
            Some(b'T') => {
                let seconds = field.get(1..).unwrap_or_default();
                parsed.timestamp = Some(seconds.parse().map_err(|_| ParseError::BadTimestamp)?);
            }
            // DogStatsD extension fields (`c:` container id, `e:` external
            // data): newer clients send them; they carry nothing we store.
            Some(b'a'..=b'z') if field.as_bytes().get(1) == Some(&b':') => {}
            _ => return Err(ParseError::ExtraField),
        }
    }
    Ok(parsed)
}

/// Parses every line of a datagram (or any `\n`-separated chunk). Empty
/// lines are skipped; a bad line yields its error and the rest go on.
pub fn parse_datagram(datagram: &[u8]) -> impl Iterator<Item = Result<StatsdLine<'_>, ParseError>> {
    datagram
        .split(|&byte| byte == b'\n')
        .filter(|line| !line.is_empty() && *line != b"\r")
        .map(parse_line)
}

/// The name as statsd would store it for Graphite: runs of whitespace become
/// `_`, `/` becomes `-`, and anything but ASCII letters, digits, `_`, `-`
/// and `.` is dropped. Borrows when nothing changes (the common case).
pub fn sanitize_name(name: &str) -> Cow<'_, str> {
    let clean = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if name.chars().all(clean) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len());
    let mut in_space = false;
    for c in name.chars() {
        if c.is_whitespace() {
            if !in_space {
                out.push('_');
            }
            in_space = true;
            continue;
        }
        in_space = false;
        if c == '/' {
            out.push('-');
        } else if clean(c) {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn parse(line: &str) -> StatsdLine<'_> {
        parse_line(line.as_bytes()).unwrap()
    }

    fn values(line: &StatsdLine<'_>) -> Vec<Value<'static>> {
        line.values()
            .map(|v| match v {
                Value::SetMember(_) => panic!("not numeric"),
                Value::Number(n) => Value::Number(n),
                Value::GaugeDelta(n) => Value::GaugeDelta(n),
            })
            .collect()
    }

    #[test]
    fn basic_counter() {
        let line = parse("page.views:1|c");
        assert_eq!(
            (line.name, line.kind, line.sample_rate),
            ("page.views", Kind::Counter, 1.0)
        );
        assert_eq!(values(&line), [Value::Number(1.0)]);
    }

    #[test]
    fn meters_are_marked_events() {
        let line = parse("logins:3|m|#region:eu");
        assert_eq!((line.name, line.kind), ("logins", Kind::Meter));
        assert_eq!(values(&line), [Value::Number(3.0)]);
        assert_eq!(line.tags().collect::<Vec<_>>(), [("region", "eu")]);
    }

    #[test]
    fn sampled_counter_and_negative_counter() {
        let line = parse("hits:2|c|@0.1");
        assert_eq!(line.sample_rate, 0.1);
        assert_eq!(values(&parse("hits:-3|c")), [Value::Number(-3.0)]);
    }

    #[test]
    fn gauges_absolute_and_signed_deltas() {
        assert_eq!(values(&parse("queue:42|g")), [Value::Number(42.0)]);
        assert_eq!(values(&parse("queue:+4|g")), [Value::GaugeDelta(4.0)]);
        assert_eq!(values(&parse("queue:-4.5|g")), [Value::GaugeDelta(-4.5)]);
    }

    #[test]
    fn timers_histograms_distributions_with_packed_values() {
        let line = parse("req.time:320:12.5:7|ms|@0.5");
        assert_eq!(line.kind, Kind::Timer);
        assert_eq!(line.value_count(), 3);
        assert_eq!(
            values(&line),
            [
                Value::Number(320.0),
                Value::Number(12.5),
                Value::Number(7.0)
            ]
        );
        assert_eq!(parse("size:3|h").kind, Kind::Histogram);
        assert_eq!(parse("lat:1e3|d").kind, Kind::Distribution);
    }

    #[test]
    fn set_members_keep_colons() {
        let line = parse("users:id:77|s");
        assert_eq!(
            line.values().collect::<Vec<_>>(),
            [Value::SetMember("id:77")]
        );
    }

    #[test]
    fn dogstatsd_tags_timestamp_and_extension_fields() {
        let line = parse("api.req:1|c|#env:prod,region:eu-west,canary|T1700000000|c:abc123");
        assert_eq!(
            line.tags().collect::<Vec<_>>(),
            [("env", "prod"), ("region", "eu-west"), ("canary", "")]
        );
        assert_eq!(line.timestamp, Some(1_700_000_000));
        assert_eq!(line.raw_tags(), "env:prod,region:eu-west,canary");
    }

    #[test]
    fn bad_lines_say_why() {
        let cases: &[(&[u8], ParseError)] = &[
            (b"no-value", ParseError::MissingValue),
            (b"a:1", ParseError::MissingType),
            (b"a:1|x", ParseError::BadType),
            (b"a:abc|c", ParseError::BadValue),
            (b"a:|c", ParseError::BadValue),
            (b"a:NaN|g", ParseError::NonFinite),
            (b"a:inf|ms", ParseError::NonFinite),
            (b"a:1|c|@0", ParseError::BadSampleRate),
            (b"a:1|c|@1.5", ParseError::BadSampleRate),
            (b"a:1|c|@x", ParseError::BadSampleRate),
            (b":1|c", ParseError::BadName),
            (b"a\x01b:1|c", ParseError::BadName),
            (b"a:1|c|#", ParseError::BadTag),
            (b"a:1|c|#x,,y", ParseError::BadTag),
            (b"a:1|c|Tsoon", ParseError::BadTimestamp),
            (b"a:1|c|junk", ParseError::ExtraField),
            (b"a\xff:1|c", ParseError::NotUtf8),
            (b"a:1:x|ms", ParseError::BadValue),
        ];
        for (line, expected) in cases {
            assert_eq!(
                parse_line(line).unwrap_err(),
                *expected,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn a_datagram_keeps_good_lines_around_a_bad_one() {
        let results: Vec<_> = parse_datagram(b"a:1|c\nbroken\n\nb:2|g\r\n").collect();
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].as_ref().unwrap().name, "a");
        assert_eq!(results[1], Err(ParseError::MissingValue));
        assert_eq!(results[2].as_ref().unwrap().name, "b");
    }

    #[test]
    fn sanitize_like_statsd() {
        assert!(matches!(sanitize_name("api.req_time-ms"), Cow::Borrowed(_)));
        assert_eq!(sanitize_name("my  metric/path*x"), "my_metric-pathx");
        assert_eq!(sanitize_name("caf\u{e9}.hits"), "caf.hits");
    }

    proptest::proptest! {
        /// A line built from valid parts parses back to those parts.
        #[test]
        fn well_formed_lines_round_trip(
            name in "[a-zA-Z][a-zA-Z0-9_.-]{0,30}",
            numbers in proptest::collection::vec(-1.0e9f64..1.0e9, 1..5),
            kind in proptest::sample::select(vec![Kind::Counter, Kind::Meter, Kind::Timer, Kind::Histogram, Kind::Distribution]),
            rate in proptest::option::of(0.001f64..=1.0),
            tags in proptest::collection::vec(("[a-z]{1,8}", "[a-z0-9]{0,8}"), 0..4),
        ) {
            let mut line = format!(
                "{name}:{}|{}",
                numbers.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(":"),
                kind.as_str()
            );
            if let Some(rate) = rate {
                line.push_str(&format!("|@{rate}"));
            }
            if !tags.is_empty() {
                let joined: Vec<String> = tags.iter().map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k}:{v}") }).collect();
                line.push_str(&format!("|#{}", joined.join(",")));
            }
            let parsed = parse_line(line.as_bytes()).unwrap();
            proptest::prop_assert_eq!(parsed.name, name.as_str());
            proptest::prop_assert_eq!(parsed.kind, kind);
            proptest::prop_assert_eq!(parsed.sample_rate, rate.unwrap_or(1.0));
            let got: Vec<f64> = parsed.values().map(|v| match v { Value::Number(n) => n, _ => f64::NAN }).collect();
            proptest::prop_assert_eq!(got, numbers);
            let got_tags: Vec<(String, String)> = parsed.tags().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            proptest::prop_assert_eq!(got_tags, tags);
        }

        /// Arbitrary bytes never panic, and a success is internally valid.
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            for line in parse_datagram(&input).flatten() {
                proptest::prop_assert!(!line.name.is_empty());
                proptest::prop_assert_eq!(line.values().count(), line.value_count());
                for value in line.values() {
                    if let Value::Number(n) | Value::GaugeDelta(n) = value {
                        proptest::prop_assert!(n.is_finite());
                    }
                }
            }
        }
    }
}
