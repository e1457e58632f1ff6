//! The orchestrator's own topics: job requests and operator commands in,
//! the core's events out.
//!
//! `{prefix}/{side}/jobs` carries a `JobRequest` and
//! `{prefix}/{side}/operator` an `OperatorCommand` of
//! `borderlane_core::io`, as JSON; the station
//! (`borderlane_station::Station`) checks and decodes them, so a replay
//! sees the same checks. `{prefix}/{side}/events` carries the core's
//! events out.

use crate::scope::SideSel;

/// Larger job or operator payloads are rejected, bytes.
pub const MAX_SHELL_PAYLOAD_BYTES: usize = 64 * 1024;

/// The names of the orchestrator's own topics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShellTopics {
    pub jobs: String,
    pub operator: String,
    pub events: String,
}

impl ShellTopics {
    pub fn new(prefix: &str, side: SideSel) -> ShellTopics {
        let base = format!("{prefix}/{}", side.topic_level());
        ShellTopics {
            jobs: format!("{base}/jobs"),
            operator: format!("{base}/operator"),
            events: format!("{base}/events"),
        }
    }

    /// The topics to subscribe to.
    pub fn inbound(&self) -> [&str; 2] {
        [&self.jobs, &self.operator]
    }

    /// Whether the topic is one of the inbound ones.
    pub fn is_inbound(&self, topic: &str) -> bool {
        topic == self.jobs || topic == self.operator
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_named_by_side() {
        let t = ShellTopics::new("borderlane/v1", SideSel::Both);
        assert_eq!(t.jobs, "borderlane/v1/lane/jobs");
        assert_eq!(t.operator, "borderlane/v1/lane/operator");
        assert_eq!(t.events, "borderlane/v1/lane/events");
    }
}
