//! A station and simulated VDA 5050 vehicles joined by an in-memory broker in
//! virtual time, optionally recorded: the quickest way to make a recording
//! that replays, and the closed loop the record and replay tests run.

use std::collections::BTreeMap;
use std::io::{Seek, Write};
use std::sync::Arc;

use borderlane_core::io::{JobRequest, OperatorCommand};
use borderlane_model::{LaneMap, Ms};
use borderlane_station::{Rejection, Station, StationConfig};
use borderlane_vda5050::{Agent, AgentConfig, AgentError};

use crate::format::{Entry, MqttIn, OperatorIn, Payload};
use crate::replay::drain;
use crate::writer::{Recorder, WriteError};

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("the station cannot be built: {0}")]
    Station(String),
    #[error(transparent)]
    Agent(#[from] AgentError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

#[derive(Clone, Debug)]
enum Delivery {
    ToStation {
        topic: String,
        payload: Vec<u8>,
    },
    ToAgent {
        agent: usize,
        topic: String,
        payload: Vec<u8>,
    },
    Operator(OperatorCommand),
}

/// A station, its vehicles and the queue of messages between them.
pub struct LocalRun<W: Write + Seek> {
    pub station: Station,
    pub agents: Vec<Agent>,
    recorder: Option<Recorder<W>>,
    queue: BTreeMap<(Ms, u64), Delivery>,
    seq: u64,
    pub now: Ms,
    /// Every delivery takes this long, ms.
    pub latency_ms: Ms,
    /// Every output of the station, in order.
    pub outputs: Vec<Entry>,
    /// Messages the station refused.
    pub rejected: Vec<Rejection>,
}

impl<W: Write + Seek> LocalRun<W> {
    /// A station with one agent per vehicle of its fleet, each starting where
    /// the fleet says, at time `start`.
    pub fn new(
        map: Arc<LaneMap>,
        config: StationConfig,
        agent: AgentConfig,
        start: Ms,
        recorder: Option<Recorder<W>>,
    ) -> Result<Self, LocalError> {
        let agents = config
            .core
            .fleet
            .iter()
            .map(|spec| {
                Agent::new(
                    Arc::clone(&map),
                    AgentConfig {
                        serial: spec.serial.clone(),
                        start_node: spec.start.clone(),
                        interface_name: config.vda5050.interface_name.clone(),
                        manufacturer: config.vda5050.manufacturer.clone(),
                        version: config.vda5050.version,
                        ..agent.clone()
                    },
                    start,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let station = Station::new(map, config).map_err(|e| LocalError::Station(e.to_string()))?;
        let mut run = LocalRun {
            station,
            agents,
            recorder,
            queue: BTreeMap::new(),
            seq: 0,
            now: start,
            latency_ms: 5,
            outputs: Vec::new(),
            rejected: Vec::new(),
        };
        run.pump()?;
        Ok(run)
    }

    fn enqueue(&mut self, at: Ms, d: Delivery) {
        self.seq += 1;
        self.queue.insert((at, self.seq), d);
    }

    /// Publishes a job on the station's jobs topic at `at`.
    pub fn schedule_job(&mut self, at: Ms, job: &JobRequest) {
        let topic = self.station.jobs_topic().to_string();
        let payload = serde_json::to_vec(job).unwrap_or_default();
        self.enqueue(at, Delivery::ToStation { topic, payload });
    }

    /// Delivers raw bytes to the station on `topic` at `at`.
    pub fn schedule_message(&mut self, at: Ms, topic: &str, payload: &[u8]) {
        self.enqueue(
            at,
            Delivery::ToStation {
                topic: topic.to_string(),
                payload: payload.to_vec(),
            },
        );
    }

    /// An operator's command at `at`.
    pub fn schedule_operator(&mut self, at: Ms, command: OperatorCommand) {
        self.enqueue(at, Delivery::Operator(command));
    }

    /// Runs until `end`, then stops with the clock at `end`.
    pub fn run_until(&mut self, end: Ms) -> Result<(), LocalError> {
        loop {
            let next_queue = self.queue.keys().next().map(|k| k.0);
            let next_station = self.station.poll_timeout();
            let next_agent = self.agents.iter().filter_map(Agent::poll_timeout).min();
            let next = [next_queue, next_station, next_agent]
                .into_iter()
                .flatten()
                .min();
            let Some(t) = next.filter(|&t| t <= end) else {
                self.now = end.max(self.now);
                return Ok(());
            };
            self.now = t.max(self.now);
            let now = self.now;
            if next_queue == Some(t) {
                let Some((_, d)) = self.queue.pop_first() else {
                    continue;
                };
                match d {
                    Delivery::ToStation { topic, payload } => {
                        self.record(
                            now,
                            &Entry::MqttIn(MqttIn {
                                topic: topic.clone(),
                                payload: Payload::from_bytes(&payload),
                            }),
                        )?;
                        if let Err(r) = self.station.handle_message(now, &topic, &payload) {
                            self.rejected.push(r);
                        }
                    }
                    Delivery::ToAgent {
                        agent,
                        topic,
                        payload,
                    } => {
                        if let Some(a) = self.agents.get_mut(agent) {
                            a.handle_message(now, &topic, &payload);
                        }
                    }
                    Delivery::Operator(command) => {
                        self.record(
                            now,
                            &Entry::Operator(OperatorIn {
                                user: "local".into(),
                                command: command.clone(),
                            }),
                        )?;
                        self.station.handle_operator(now, command);
                    }
                }
            } else if next_station == Some(t) {
                self.record(now, &Entry::Timer)?;
                self.station.handle_timeout(now);
            } else {
                for a in &mut self.agents {
                    if a.poll_timeout().is_some_and(|at| at <= now) {
                        a.handle_timeout(now);
                    }
                }
            }
            self.pump()?;
        }
    }

    /// Finishes the recording, if there is one, and hands back its writer.
    pub fn finish(self) -> Result<Option<W>, LocalError> {
        match self.recorder {
            Some(r) => Ok(Some(r.finish()?)),
            None => Ok(None),
        }
    }

    fn record(&mut self, t: Ms, entry: &Entry) -> Result<(), LocalError> {
        if let Some(r) = &mut self.recorder {
            r.record(t, entry)?;
        }
        Ok(())
    }

    /// Moves outputs along: the station's to the recording and onto the
    /// queue, the agents' onto the queue.
    fn pump(&mut self) -> Result<(), LocalError> {
        let at = self.now + self.latency_ms;
        let outs = drain(&mut self.station);
        for out in outs {
            self.record(self.now, &out)?;
            if let Entry::MqttOut(m) = &out {
                let serial = m.topic.split('/').nth(3).unwrap_or("");
                if let Some(agent) = self.agents.iter().position(|a| a.serial() == serial)
                    && let Some(payload) = m.payload.to_bytes()
                {
                    self.enqueue(
                        at,
                        Delivery::ToAgent {
                            agent,
                            topic: m.topic.clone(),
                            payload,
                        },
                    );
                }
            }
            self.outputs.push(out);
        }
        for i in 0..self.agents.len() {
            while let Some(p) = self.agents[i].poll_publish() {
                self.enqueue(
                    at,
                    Delivery::ToStation {
                        topic: p.topic,
                        payload: p.payload,
                    },
                );
            }
        }
        Ok(())
    }
}
