//! Reading record lines without serde's buffering.
//!
//! A record line is `{"host_realtime_ns":…,"host_monotonic_ns":…,"guest":{"type":"window",…}}`
//! (or `"harness":{…}`). The derived Deserialize of a `#[serde(flatten)]`
//! body and an internally tagged enum first copies the whole line into
//! serde's generic `Content` tree, then deserializes from that copy: three
//! to four times slower than parsing straight into the structs. Here the
//! outer object is read key by key, and for the messages a run is made of
//! (windows, exchanges, timer windows, counters) the tag is read first —
//! the writer always puts it first — and the rest of the object goes
//! straight into the variant's struct. Anything else (another variant, a
//! tag that is not first) goes through the derived path unchanged.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::{HarnessEvent, RecordBody, RunRecord};
use crate::GuestMessage;

impl<'de> Deserialize<'de> for RunRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = RunRecord;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a clockstorm record: host_realtime_ns, host_monotonic_ns and guest or harness")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RunRecord, A::Error> {
        let (mut realtime, mut monotonic, mut body) = (None, None, None);
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Realtime => realtime = Some(map.next_value()?),
                Key::Monotonic => monotonic = Some(map.next_value()?),
                Key::Guest => body = Some(RecordBody::Guest(map.next_value_seed(GuestSeed)?)),
                Key::Harness => body = Some(RecordBody::Harness(map.next_value::<HarnessEvent>()?)),
            }
        }
        Ok(RunRecord {
            host_realtime_ns: realtime.ok_or_else(|| de::Error::missing_field("host_realtime_ns"))?,
            host_monotonic_ns: monotonic.ok_or_else(|| de::Error::missing_field("host_monotonic_ns"))?,
            body: body.ok_or_else(|| de::Error::missing_field("guest or harness"))?,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Key {
    #[serde(rename = "host_realtime_ns")]
    Realtime,
    #[serde(rename = "host_monotonic_ns")]
    Monotonic,
    Guest,
    Harness,
}

/// A guest message with its tag first.
struct GuestSeed;

impl<'de> DeserializeSeed<'de> for GuestSeed {
    type Value = GuestMessage;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<GuestMessage, D::Error> {
        deserializer.deserialize_map(GuestVisitor)
    }
}

struct GuestVisitor;

impl<'de> Visitor<'de> for GuestVisitor {
    type Value = GuestMessage;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a guest message")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GuestMessage, A::Error> {
        use serde::de::value::MapAccessDeserializer;
        let first: Option<std::borrow::Cow<'de, str>> = map.next_key()?;
        let Some(first) = first else { return Err(de::Error::missing_field("type")) };
        if first == "type" {
            let tag: std::borrow::Cow<'de, str> = map.next_value()?;
            let rest = MapAccessDeserializer::new(map);
            return match tag.as_ref() {
                "window" => Deserialize::deserialize(rest).map(GuestMessage::Window),
                "exchange" => Deserialize::deserialize(rest).map(GuestMessage::Exchange),
                "tick_window" => Deserialize::deserialize(rest).map(GuestMessage::TickWindow),
                "kernel_counters" => Deserialize::deserialize(rest).map(GuestMessage::KernelCounters),
                "kernel_log" => Deserialize::deserialize(rest).map(GuestMessage::KernelLog),
                other => slow_path(Some(other), None, rest),
            };
        }
        let value: serde_json::Value = map.next_value()?;
        slow_path(None, Some((first.into_owned(), value)), MapAccessDeserializer::new(map))
    }
}

/// The rest of the object into a JSON value, the tag (and an entry already
/// read) put back, and the derived deserializer run on it.
fn slow_path<'de, A: MapAccess<'de>>(
    tag: Option<&str>,
    entry: Option<(String, serde_json::Value)>,
    rest: serde::de::value::MapAccessDeserializer<A>,
) -> Result<GuestMessage, A::Error> {
    let mut object: serde_json::Map<String, serde_json::Value> = Deserialize::deserialize(rest)?;
    if let Some(tag) = tag {
        object.insert("type".into(), tag.into());
    }
    if let Some((k, v)) = entry {
        object.insert(k, v);
    }
    GuestMessage::deserialize(serde_json::Value::Object(object)).map_err(de::Error::custom)
}

#[cfg(test)]
mod tests {
    use crate::*;

    fn line(body: &str) -> String {
        format!(r#"{{"host_realtime_ns":5,"host_monotonic_ns":6,{body}}}"#)
    }

    #[test]
    fn every_kind_of_record_reads_back_as_written() {
        let bodies = vec![
            RecordBody::Guest(GuestMessage::Window(Window { index: 3, samples: 99, max_gap_ns: 7, ..Window::default() })),
            RecordBody::Guest(GuestMessage::Exchange(Exchange::from_timestamps(1, 10, 20, 30))),
            RecordBody::Guest(GuestMessage::TickWindow(TickWindow { index: 1, expirations: 5, ..TickWindow::default() })),
            RecordBody::Guest(GuestMessage::KernelLog(KernelLog {
                seq: 1,
                ts_us: 2,
                level: 4,
                message: "a \"quoted\" line".into(),
                read_realtime_ns: None,
            })),
            RecordBody::Guest(GuestMessage::Ping { seq: 4, t1_ns: 8 }),
            RecordBody::Guest(GuestMessage::Degraded { component: "ticks".into(), reason: "none".into() }),
            RecordBody::Harness(HarnessEvent::TimelineOrigin),
            RecordBody::Harness(HarnessEvent::QemuSpawned { pid: 9 }),
        ];
        for body in bodies {
            let record = RunRecord { host_realtime_ns: -1, host_monotonic_ns: 2, body };
            let text = serde_json::to_string(&record).unwrap();
            assert_eq!(serde_json::from_str::<RunRecord>(&text).unwrap(), record, "{text}");
        }
    }

    #[test]
    fn a_tag_that_is_not_first_still_reads() {
        let text = line(r#""guest":{"seq":4,"type":"ping","t1_ns":8}"#);
        let r: RunRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(r.body, RecordBody::Guest(GuestMessage::Ping { seq: 4, t1_ns: 8 }));
        let text = line(r#""guest":{"index":0,"type":"window","cpu":0}"#);
        assert!(serde_json::from_str::<RunRecord>(&text).is_err(), "a window lacks most of its fields");
    }

    #[test]
    fn unknown_and_missing_fields_are_errors() {
        let err = |t: &str| serde_json::from_str::<RunRecord>(t).unwrap_err().to_string();
        assert!(err(&line(r#""guest":{"type":"ping","seq":4,"t1_ns":8,"extra":1}"#)).contains("extra"));
        assert!(err(&line(r#""visitor":{}"#)).contains("visitor"));
        assert!(err(&line(r#""guest":{"type":"nonsense"}"#)).contains("nonsense"));
        assert!(err(r#"{"host_realtime_ns":5,"guest":{"type":"ping","seq":4,"t1_ns":8}}"#).contains("host_monotonic_ns"));
    }
}
