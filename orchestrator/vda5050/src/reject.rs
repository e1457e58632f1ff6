//! Why an inbound message was rejected.

/// An inbound message the master control did not accept. Nothing changed
/// because of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// The vehicle the topic names, when it names a known one.
    pub vehicle: Option<String>,
    /// The topic the message came on.
    pub topic: String,
    pub reason: RejectReason,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.vehicle {
            Some(v) => write!(
                f,
                "rejected a message from vehicle {v} on topic {:?}: {}",
                self.topic, self.reason
            ),
            None => write!(
                f,
                "rejected a message on topic {:?}: {}",
                self.topic, self.reason
            ),
        }
    }
}

impl std::error::Error for Rejected {}

/// What was wrong with an inbound message.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RejectReason {
    #[error("the payload has {size} bytes, more than the limit of {max} (max_payload_bytes)")]
    PayloadTooLarge { size: usize, max: usize },
    #[error(
        "the topic is not {{interfaceName}}/v2/{{manufacturer}}/{{serialNumber}}/{{kind}} with interface {expected:?}"
    )]
    UnknownTopic { expected: String },
    #[error(
        "the topic kind {0:?} is not one the master control accepts (state, connection, factsheet)"
    )]
    UnknownTopicKind(String),
    #[error("vehicle {serial:?} of manufacturer {manufacturer:?} is not in the fleet")]
    UnknownVehicle {
        manufacturer: String,
        serial: String,
    },
    #[error("the payload is not JSON: {0}")]
    MalformedJson(String),
    #[error("the payload does not match the message schema: {0}")]
    InvalidMessage(String),
    #[error("protocol version {0:?} is not a version 2 (2.x.y)")]
    UnsupportedVersion(String),
    #[error("the payload's {field} is {payload:?} but the topic says {topic:?}")]
    IdentityMismatch {
        field: &'static str,
        payload: String,
        topic: String,
    },
    #[error("the timestamp {0:?} is not an ISO 8601 date-time")]
    BadTimestamp(String),
    #[error(
        "the timestamp {timestamp:?} is {skew_ms} ms away from the master's clock, more than max_clock_skew_ms {max_ms}"
    )]
    ClockSkew {
        timestamp: String,
        skew_ms: u64,
        max_ms: u64,
    },
    #[error("headerId {got} is lower than the last one on this topic, {last}")]
    HeaderIdBackwards { last: u64, got: u64 },
    #[error(
        "more than {limit} messages within one second from this vehicle (max_messages_per_second)"
    )]
    Flood { limit: u32 },
    #[error(
        "the vehicle's position matches no node of the map: lastNodeId {last_node_id:?} is unknown and agvPosition is missing or further than {max_m} m from every node"
    )]
    UnknownNode { last_node_id: String, max_m: f64 },
}

impl RejectReason {
    /// A stable snake_case name for the reason, for metrics labels.
    pub fn label(&self) -> &'static str {
        match self {
            RejectReason::PayloadTooLarge { .. } => "payload_too_large",
            RejectReason::UnknownTopic { .. } => "unknown_topic",
            RejectReason::UnknownTopicKind(_) => "unknown_topic_kind",
            RejectReason::UnknownVehicle { .. } => "unknown_vehicle",
            RejectReason::MalformedJson(_) => "malformed_json",
            RejectReason::InvalidMessage(_) => "invalid_message",
            RejectReason::UnsupportedVersion(_) => "unsupported_version",
            RejectReason::IdentityMismatch { .. } => "identity_mismatch",
            RejectReason::BadTimestamp(_) => "bad_timestamp",
            RejectReason::ClockSkew { .. } => "clock_skew",
            RejectReason::HeaderIdBackwards { .. } => "header_id_backwards",
            RejectReason::Flood { .. } => "flood",
            RejectReason::UnknownNode { .. } => "unknown_node",
        }
    }
}

/// Classifies a serde_json error: bad syntax is malformed JSON, good JSON of
/// the wrong shape is an invalid message.
pub(crate) fn from_json_error(e: &serde_json::Error) -> RejectReason {
    match e.classify() {
        serde_json::error::Category::Data => RejectReason::InvalidMessage(e.to_string()),
        _ => RejectReason::MalformedJson(e.to_string()),
    }
}
