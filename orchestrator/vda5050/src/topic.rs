//! Topic names: `{interfaceName}/v2/{manufacturer}/{serialNumber}/{kind}`.

use crate::ProtocolVersion;

/// The last level of a topic: what kind of message it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TopicKind {
    Order,
    InstantActions,
    State,
    Connection,
    Factsheet,
    Visualization,
}

impl TopicKind {
    /// Every kind, in a fixed order.
    pub const ALL: [TopicKind; 6] = [
        TopicKind::Order,
        TopicKind::InstantActions,
        TopicKind::State,
        TopicKind::Connection,
        TopicKind::Factsheet,
        TopicKind::Visualization,
    ];

    /// The kind as it is spelled in the topic.
    pub fn as_str(self) -> &'static str {
        match self {
            TopicKind::Order => "order",
            TopicKind::InstantActions => "instantActions",
            TopicKind::State => "state",
            TopicKind::Connection => "connection",
            TopicKind::Factsheet => "factsheet",
            TopicKind::Visualization => "visualization",
        }
    }

    /// Reads a topic's last level.
    pub fn parse(text: &str) -> Option<TopicKind> {
        TopicKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// A topic split into its levels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic<'a> {
    pub interface_name: &'a str,
    pub manufacturer: &'a str,
    pub serial_number: &'a str,
    /// The last level as written, which may name no known kind.
    pub kind: &'a str,
}

impl<'a> Topic<'a> {
    /// Splits `topic` if it has the five levels of a VDA 5050 version 2
    /// topic; `None` otherwise.
    pub fn split(topic: &'a str) -> Option<Topic<'a>> {
        let mut levels = topic.split('/');
        let interface_name = levels.next()?;
        let major = levels.next()?;
        let manufacturer = levels.next()?;
        let serial_number = levels.next()?;
        let kind = levels.next()?;
        if levels.next().is_some() || major != "v2" {
            return None;
        }
        Some(Topic {
            interface_name,
            manufacturer,
            serial_number,
            kind,
        })
    }
}

/// Builds the topic of one kind of message for one vehicle.
pub fn topic(
    interface_name: &str,
    version: ProtocolVersion,
    manufacturer: &str,
    serial: &str,
    kind: TopicKind,
) -> String {
    format!(
        "{interface_name}/{}/{manufacturer}/{serial}/{}",
        version.topic_segment(),
        kind.as_str()
    )
}
