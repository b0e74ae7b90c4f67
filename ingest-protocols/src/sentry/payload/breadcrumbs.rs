//! The `breadcrumbs` interface read straight into breadcrumbs, without a
//! `Value` map per breadcrumb: an SDK sends up to a hundred of them (the
//! benchmark's events carry 2.6 KB), and building then dropping a map of
//! five or six entries for each was a tenth of reading an event. Only a
//! breadcrumb's free-form `data` is still read as a `Value`, to be bounded
//! as `event::breadcrumbs` bounds it.
//!
//! As the `Value` reader: the interface is an array or an object whose
//! `values` is one (the last `values` wins); the last `max_breadcrumbs`
//! items are kept, counting items that are not objects, which are then
//! dropped; within a breadcrumb the last of duplicate keys wins, and a
//! field of the wrong type reads as absent.

use std::collections::VecDeque;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{Key, Scalar};
use crate::sentry::event::{json_bounds, Breadcrumb, Level, NormalizeLimits};
use crate::sentry::timestamp;
use crate::sentry::value::bounded_json_owned;

/// The interface: its kept breadcrumbs, oldest first.
pub(super) struct BreadcrumbsSeed<'a> {
    pub limits: &'a NormalizeLimits,
}

impl<'de> DeserializeSeed<'de> for BreadcrumbsSeed<'_> {
    type Value = Vec<Breadcrumb>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BreadcrumbsSeed<'_> {
    type Value = Vec<Breadcrumb>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a breadcrumbs interface")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        ItemsSeed {
            limits: self.limits,
        }
        .visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut kept = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.0 == "values" {
                kept = map.next_value_seed(ItemsSeed {
                    limits: self.limits,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(kept)
    }

    skip_scalars!(Vec::new());
}

/// An array of breadcrumbs; anything else holds none.
struct ItemsSeed<'a> {
    limits: &'a NormalizeLimits,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = Vec<Breadcrumb>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = Vec<Breadcrumb>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of breadcrumbs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let max = self.limits.max_breadcrumbs;
        // The newest `max` items, objects or not: only those may be kept.
        let mut newest: VecDeque<Option<Breadcrumb>> = VecDeque::with_capacity(max.min(128));
        while let Some(item) = seq.next_element_seed(BreadcrumbSeed {
            limits: self.limits,
        })? {
            if newest.len() == max {
                newest.pop_front();
            }
            if max > 0 {
                newest.push_back(item);
            }
        }
        Ok(newest.into_iter().flatten().collect())
    }

    skip_scalars!(Vec::new());
    skip_map!(Vec::new());
}

/// One breadcrumb: `Some` for an object.
struct BreadcrumbSeed<'a> {
    limits: &'a NormalizeLimits,
}

impl<'de> DeserializeSeed<'de> for BreadcrumbSeed<'_> {
    type Value = Option<Breadcrumb>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BreadcrumbSeed<'_> {
    type Value = Option<Breadcrumb>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a breadcrumb")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let limits = self.limits;
        let mut crumb = Breadcrumb::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.0.as_ref() {
                "timestamp" => crumb.timestamp_micros = map.next_value::<Time>()?.0,
                "type" => crumb.kind = map.next_value::<Scalar>()?.string(limits.max_name_chars),
                "category" => {
                    crumb.category = map.next_value::<Scalar>()?.string(limits.max_name_chars);
                }
                "message" => {
                    crumb.message = map.next_value::<Scalar>()?.string(limits.max_text_chars);
                }
                "level" => {
                    crumb.level = match map.next_value::<Scalar>()? {
                        Scalar::Text(name) => Level::from_name(&name),
                        _ => None,
                    };
                }
                "data" => {
                    crumb.data = match map.next_value::<Value>()? {
                        Value::Object(data) => Some(bounded(data, limits)),
                        _ => None,
                    };
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(crumb))
    }

    skip_scalars!(None);
    skip_seq!(None);
}

/// A breadcrumb's `data`, bounded as free-form JSON.
fn bounded(data: Map<String, Value>, limits: &NormalizeLimits) -> Map<String, Value> {
    match bounded_json_owned(Value::Object(data), json_bounds(limits)) {
        Value::Object(bounded) => bounded,
        _ => Map::new(),
    }
}

/// A breadcrumb's `timestamp`, as `timestamp::from_json` reads it: epoch
/// seconds as a number, or text.
struct Time(Option<i64>);

impl<'de> serde::Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimeVisitor)
    }
}

struct TimeVisitor;

impl<'de> Visitor<'de> for TimeVisitor {
    type Value = Time;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a timestamp")
    }

    fn visit_u64<E: serde::de::Error>(self, seconds: u64) -> Result<Time, E> {
        Ok(Time(timestamp::from_epoch_seconds(seconds as f64)))
    }

    fn visit_i64<E: serde::de::Error>(self, seconds: i64) -> Result<Time, E> {
        Ok(Time(timestamp::from_epoch_seconds(seconds as f64)))
    }

    fn visit_f64<E: serde::de::Error>(self, seconds: f64) -> Result<Time, E> {
        Ok(Time(timestamp::from_epoch_seconds(seconds)))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Time, E> {
        Ok(Time(timestamp::parse_text(text)))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Time, E> {
        Ok(Time(None))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Time, E> {
        Ok(Time(None))
    }

    skip_seq!(Time(None));
    skip_map!(Time(None));
}
