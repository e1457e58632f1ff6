//! One orchestrator without its I/O.
//!
//! A [`Station`] is what `borderlane serve` runs for one side of the border:
//! the [`Core`] that decides, the VDA 5050 [`Master`] that speaks to the
//! vehicles, and the two topics on which jobs and operator commands arrive.
//! It is stepped like the core, by `(now, message)`, and hands out the
//! messages to publish, the core's events and its next timeout. The live
//! shell moves its bytes over MQTT; replay feeds it a recording; neither
//! adds a decision of its own, so a replay of a recording is the same
//! station seeing the same inputs.

use std::collections::VecDeque;
use std::sync::Arc;

use borderlane_core::io::{Event, JobRequest, OperatorCommand};
use borderlane_core::{Core, CoreConfig, CoreError, Input, Output};
use borderlane_model::{LaneMap, Ms, Side};
use borderlane_vda5050::{Master, MasterConfig, Publish, Qos};
use serde::{Deserialize, Serialize};

/// How a station is set up: everything a replay needs to build the same one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StationConfig {
    /// The name of this orchestrator in topics, e.g. `vn`, `cn` or `lane`.
    pub name: String,
    /// The first levels of the jobs and operator topics.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// If set, only jobs picked up on this side are taken.
    #[serde(default)]
    pub jobs_from: Option<Side>,
    pub core: CoreConfig,
    pub vda5050: MasterConfig,
}

fn default_prefix() -> String {
    "borderlane/v1".to_string()
}

/// Why a message was refused. Nothing else changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rejected {topic}{}: {reason}: {detail}", vehicle.as_ref().map(|v| format!(" from {v}")).unwrap_or_default())]
pub struct Rejection {
    pub vehicle: Option<String>,
    pub topic: String,
    /// A short stable label, used as a metrics label.
    pub reason: &'static str,
    pub detail: String,
}

/// The largest job or operator message accepted, bytes.
pub const MAX_CONTROL_BYTES: usize = 64 * 1024;

/// One orchestrator: the core, the master control and the control topics.
pub struct Station {
    name: String,
    map: Arc<LaneMap>,
    jobs_from: Option<Side>,
    core: Core,
    master: Master,
    jobs_topic: String,
    operator_topic: String,
    events: VecDeque<Event>,
}

impl Station {
    pub fn new(map: Arc<LaneMap>, config: StationConfig) -> Result<Station, CoreError> {
        let fleet: Vec<String> = config.core.fleet.iter().map(|v| v.serial.clone()).collect();
        let core = Core::new(map.clone(), config.core)?;
        let master = Master::new(map.clone(), config.vda5050, &fleet);
        Ok(Station {
            jobs_topic: format!("{}/{}/jobs", config.prefix, config.name),
            operator_topic: format!("{}/{}/operator", config.prefix, config.name),
            name: config.name,
            map,
            jobs_from: config.jobs_from,
            core,
            master,
            events: VecDeque::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn core(&self) -> &Core {
        &self.core
    }

    pub fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }

    pub fn master(&self) -> &Master {
        &self.master
    }

    /// The core and the master control, both borrowed for a change.
    pub fn parts_mut(&mut self) -> (&mut Core, &mut Master) {
        (&mut self.core, &mut self.master)
    }

    /// The topic jobs arrive on.
    pub fn jobs_topic(&self) -> &str {
        &self.jobs_topic
    }

    /// The topic operator commands arrive on.
    pub fn operator_topic(&self) -> &str {
        &self.operator_topic
    }

    /// The topic filters to subscribe to, in a fixed order.
    pub fn subscriptions(&self) -> Vec<(String, Qos)> {
        let mut subs = self.master.subscriptions();
        subs.push((self.jobs_topic.clone(), Qos::AtLeastOnce));
        subs.push((self.operator_topic.clone(), Qos::AtLeastOnce));
        subs
    }

    /// A message from the broker. On a rejection nothing changed.
    pub fn handle_message(
        &mut self,
        now: Ms,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), Rejection> {
        if topic == self.jobs_topic {
            let job: JobRequest = decode_control(topic, payload)?;
            self.check_job(topic, &job)?;
            self.core.handle(now, Input::Job(job));
        } else if topic == self.operator_topic {
            let command: OperatorCommand = decode_control(topic, payload)?;
            self.core.handle(now, Input::Operator(command));
        } else {
            let inputs = self
                .master
                .handle_message(now, topic, payload)
                .map_err(|r| Rejection {
                    vehicle: r.vehicle.clone(),
                    topic: r.topic.clone(),
                    reason: r.reason.label(),
                    detail: r.to_string(),
                })?;
            for input in inputs {
                self.core.handle(now, input);
            }
        }
        self.pump(now);
        Ok(())
    }

    /// Refuses a job with no id, or one picked up on the other side.
    fn check_job(&self, topic: &str, job: &JobRequest) -> Result<(), Rejection> {
        let reject = |reason: &'static str, detail: String| Rejection {
            vehicle: None,
            topic: topic.to_string(),
            reason,
            detail,
        };
        if job.id.is_empty() {
            return Err(reject("malformed_json", "the job's id is empty".into()));
        }
        if let Some(side) = self.jobs_from
            && let Some(pickup) = self.map.node_by_id(&job.pickup)
            && self.map.side_of(pickup) != side
        {
            return Err(reject(
                "wrong_side",
                format!(
                    "job {}: pickup {} is not on this orchestrator's side ({side:?})",
                    job.id, job.pickup
                ),
            ));
        }
        Ok(())
    }

    /// An operator's command from the operation center.
    pub fn handle_operator(&mut self, now: Ms, command: OperatorCommand) {
        self.core.handle(now, Input::Operator(command));
        self.pump(now);
    }

    /// Time has reached the station's timeout (or any later time).
    pub fn handle_timeout(&mut self, now: Ms) {
        self.core.handle_timeout(now);
        self.master.handle_timeout(now);
        self.pump(now);
    }

    /// The next message to publish.
    pub fn poll_publish(&mut self) -> Option<Publish> {
        self.master.poll_publish()
    }

    /// The next event of the core.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When the station next needs `handle_timeout`.
    pub fn poll_timeout(&mut self) -> Option<Ms> {
        match (self.core.poll_timeout(), self.master.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Hands the core's outputs on: commands to the master control, events
    /// to the queue the shell drains.
    fn pump(&mut self, now: Ms) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Command(command) => self.master.handle_command(now, &command),
                Output::Event(event) => self.events.push_back(event),
                // A station's core is built without a territory (see
                // `CoreConfig::territory`), so it never hands vehicles over.
                Output::Crossing(_) => {}
            }
        }
    }
}

fn decode_control<T: serde::de::DeserializeOwned>(
    topic: &str,
    payload: &[u8],
) -> Result<T, Rejection> {
    let reject = |reason: &'static str, detail: String| Rejection {
        vehicle: None,
        topic: topic.to_string(),
        reason,
        detail,
    };
    if payload.len() > MAX_CONTROL_BYTES {
        return Err(reject(
            "oversized",
            format!("{} bytes, at most {MAX_CONTROL_BYTES}", payload.len()),
        ));
    }
    serde_json::from_slice(payload).map_err(|e| {
        reject(
            "malformed_json",
            format!("the payload is not a valid message: {e}"),
        )
    })
}
