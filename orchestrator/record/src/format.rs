//! What a recording holds, channel by channel.

use borderlane_core::io::{Event, OperatorCommand};
use borderlane_model::Ms;
use borderlane_vda5050::Qos;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The version of the recording format. A reader refuses any other.
pub const FORMAT_VERSION: u32 = 1;

/// The MCAP profile written in the file header.
pub const PROFILE: &str = "borderlane";

/// The first message of every recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub format: u32,
    /// The version of Borderlane that recorded it.
    pub borderlane: String,
    /// The map file's name, for people.
    pub map_name: String,
    /// The map file's text, so a replay needs nothing else.
    pub map_geojson: String,
    /// The station's configuration
    /// ([`StationConfig`](borderlane_station::StationConfig)).
    pub station: serde_json::Value,
}

/// A message body: text when it is UTF-8, else hexadecimal bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    Text(String),
    Hex(String),
}

impl Payload {
    pub fn from_bytes(bytes: &[u8]) -> Payload {
        match std::str::from_utf8(bytes) {
            Ok(text) => Payload::Text(text.to_string()),
            Err(_) => Payload::Hex(bytes.iter().map(|b| format!("{b:02x}")).collect()),
        }
    }

    /// The bytes back; `None` for hexadecimal that is not.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Payload::Text(text) => Some(text.as_bytes().to_vec()),
            Payload::Hex(hex) => {
                if !hex.len().is_multiple_of(2) {
                    return None;
                }
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                    .collect()
            }
        }
    }

    /// The body as JSON, when it is JSON text.
    pub fn json(&self) -> Option<serde_json::Value> {
        match self {
            Payload::Text(text) => serde_json::from_str(text).ok(),
            Payload::Hex(_) => None,
        }
    }
}

/// An MQTT message the station received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MqttIn {
    pub topic: String,
    pub payload: Payload,
}

/// An operator's command, with who gave it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorIn {
    pub user: String,
    pub command: OperatorCommand,
}

/// An MQTT message the station published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MqttOut {
    pub topic: String,
    pub payload: Payload,
    /// 0 or 1.
    pub qos: u8,
    pub retain: bool,
}

impl MqttOut {
    pub fn qos_of(qos: Qos) -> u8 {
        match qos {
            Qos::AtMostOnce => 0,
            Qos::AtLeastOnce => 1,
        }
    }
}

/// A timer firing: the station's `handle_timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timer {}

/// One entry of a recording.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    MqttIn(MqttIn),
    Timer,
    Operator(OperatorIn),
    MqttOut(MqttOut),
    Event(Event),
}

impl Entry {
    /// Whether the entry is something the station was given.
    pub fn is_input(&self) -> bool {
        matches!(self, Entry::MqttIn(_) | Entry::Timer | Entry::Operator(_))
    }

    /// The channel topic the entry is written on.
    pub fn channel(&self) -> &'static str {
        match self {
            Entry::MqttIn(_) => CH_MQTT_IN,
            Entry::Timer => CH_TIMER,
            Entry::Operator(_) => CH_OPERATOR,
            Entry::MqttOut(_) => CH_MQTT_OUT,
            Entry::Event(_) => CH_EVENT,
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        match self {
            Entry::MqttIn(m) => serde_json::to_vec(m),
            Entry::Timer => serde_json::to_vec(&Timer {}),
            Entry::Operator(o) => serde_json::to_vec(o),
            Entry::MqttOut(m) => serde_json::to_vec(m),
            Entry::Event(e) => serde_json::to_vec(e),
        }
    }

    pub(crate) fn from_json(
        channel: &str,
        data: &[u8],
    ) -> Result<Option<Entry>, serde_json::Error> {
        Ok(Some(match channel {
            CH_MQTT_IN => Entry::MqttIn(serde_json::from_slice(data)?),
            CH_TIMER => {
                let _: Timer = serde_json::from_slice(data)?;
                Entry::Timer
            }
            CH_OPERATOR => Entry::Operator(serde_json::from_slice(data)?),
            CH_MQTT_OUT => Entry::MqttOut(serde_json::from_slice(data)?),
            CH_EVENT => Entry::Event(serde_json::from_slice(data)?),
            _ => return Ok(None),
        }))
    }
}

pub(crate) const CH_SESSION: &str = "/session";
pub(crate) const CH_MQTT_IN: &str = "/in/mqtt";
pub(crate) const CH_TIMER: &str = "/in/timer";
pub(crate) const CH_OPERATOR: &str = "/in/operator";
pub(crate) const CH_MQTT_OUT: &str = "/out/mqtt";
pub(crate) const CH_EVENT: &str = "/out/event";

/// Every channel with the name of its schema and the schema itself.
pub(crate) fn channels() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    fn schema<T: JsonSchema>() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(T)).unwrap_or(serde_json::Value::Null)
    }
    vec![
        (CH_SESSION, "borderlane.Session", schema::<Session>()),
        (CH_MQTT_IN, "borderlane.MqttIn", schema::<MqttIn>()),
        (CH_TIMER, "borderlane.Timer", schema::<Timer>()),
        (CH_OPERATOR, "borderlane.OperatorIn", schema::<OperatorIn>()),
        (CH_MQTT_OUT, "borderlane.MqttOut", schema::<MqttOut>()),
        (CH_EVENT, "borderlane.Event", schema::<Event>()),
    ]
}

/// Milliseconds of station time to MCAP nanoseconds.
pub(crate) fn to_nanos(t: Ms) -> u64 {
    t.saturating_mul(1_000_000)
}

pub(crate) fn from_nanos(ns: u64) -> Ms {
    ns / 1_000_000
}
