//! Shared helpers: the shipped map, a fleet, jobs, and a closed loop of a
//! core, a master control and agents joined by an in-memory queue in
//! virtual time.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use borderlane_core::io::{Channel, JobRequest};
use borderlane_core::{Core, CoreConfig, Input, Output, VehicleSpec};
use borderlane_model::{LaneMap, Ms, NodeKind, Side, TimedPlan, VehicleId};
use borderlane_vda5050::{Agent, AgentConfig, BatteryModel, Master, MasterConfig, ProtocolVersion};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Loads a shipped map, once per test binary.
pub fn map(name: &str) -> Arc<LaneMap> {
    static CACHE: OnceLock<Mutex<BTreeMap<String, Arc<LaneMap>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    let map = cache.entry(name.to_string()).or_insert_with(|| {
        let path = root().join("maps").join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Arc::new(LaneMap::from_geojson(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    });
    Arc::clone(map)
}

/// Places of one kind on one side, in map order.
pub fn places(map: &LaneMap, side: Side, kind: NodeKind) -> Vec<String> {
    map.nodes
        .iter()
        .filter(|n| n.kind == kind && n.side == Some(side))
        .map(|n| n.id.clone())
        .collect()
}

/// `n` vehicles on both sides' parking places, then chargers.
pub fn fleet(map: &LaneMap, n: usize) -> Vec<VehicleSpec> {
    let mut starts = Vec::new();
    for kind in [NodeKind::Parking, NodeKind::Charger, NodeKind::YardSlot] {
        let vn = places(map, Side::Vn, kind);
        let cn = places(map, Side::Cn, kind);
        for i in 0..vn.len().max(cn.len()) {
            starts.extend(vn.get(i).cloned());
            starts.extend(cn.get(i).cloned());
        }
    }
    starts
        .into_iter()
        .take(n)
        .enumerate()
        .map(|(i, start)| VehicleSpec {
            serial: format!("igv-{i:03}"),
            start,
        })
        .collect()
}

/// Agent igv-000 at the first fleet start node of `map`, created at `now`.
pub fn first_agent(map: &Arc<LaneMap>, now: Ms) -> Agent {
    let start = fleet(map, 1)[0].start.clone();
    Agent::new(
        Arc::clone(map),
        AgentConfig {
            serial: "igv-000".into(),
            start_node: start,
            ..AgentConfig::default()
        },
        now,
    )
    .expect("an agent")
}

/// A job moving container `i` from a yard slot on `from` to the other side.
pub fn job(map: &LaneMap, i: usize, from: Side, channel: Channel, customs_ms: u64) -> JobRequest {
    let slots = places(map, from, NodeKind::YardSlot);
    JobRequest {
        id: format!("job-{i:05}"),
        container: format!("CONT{i:07}"),
        pickup: slots[i % slots.len()].clone(),
        channel,
        customs_ms,
        priority: 0,
        deadline: None,
    }
}

/// A message on its way, or a job for the core.
#[derive(Clone, Debug)]
enum Delivery {
    ToMaster {
        topic: String,
        payload: Vec<u8>,
    },
    ToAgent {
        agent: usize,
        topic: String,
        payload: Vec<u8>,
    },
    Job(Box<JobRequest>),
}

/// A core, a master control and agents, joined by an in-memory queue.
pub struct Loop {
    pub core: Core,
    pub master: Master,
    pub agents: Vec<Agent>,
    pub map: Arc<LaneMap>,
    queue: BTreeMap<(Ms, u64), Delivery>,
    seq: u64,
    pub now: Ms,
    /// Every input the core was given, in order.
    pub inputs: Vec<Input>,
    /// Every output the core produced, in order.
    pub outputs: Vec<Output>,
    /// Every message published, in order: (time, topic, payload).
    pub wire: Vec<(Ms, String, Vec<u8>)>,
    /// Messages the master rejected.
    pub rejected: Vec<String>,
    /// Delay of every message, ms.
    pub latency: Ms,
}

impl Loop {
    pub fn new(map: Arc<LaneMap>, vehicles: usize, version: ProtocolVersion) -> Loop {
        let config = CoreConfig {
            fleet: fleet(&map, vehicles),
            ..CoreConfig::default()
        };
        let serials: Vec<String> = config.fleet.iter().map(|v| v.serial.clone()).collect();
        let agents = config
            .fleet
            .iter()
            .map(|spec| {
                Agent::new(
                    Arc::clone(&map),
                    AgentConfig {
                        serial: spec.serial.clone(),
                        start_node: spec.start.clone(),
                        version,
                        profile: config.profile,
                        battery: BatteryModel {
                            drain_pct_per_km: 0.0,
                            ..BatteryModel::default()
                        },
                        state_interval_ms: 30_000,
                        default_action_ms: config.pick_ms,
                        ..AgentConfig::default()
                    },
                    0,
                )
                .expect("start nodes are on the map")
            })
            .collect();
        let master = Master::new(
            Arc::clone(&map),
            MasterConfig {
                version,
                ..MasterConfig::default()
            },
            &serials,
        );
        let core = Core::new(Arc::clone(&map), config).expect("a valid fleet");
        let mut l = Loop {
            core,
            master,
            agents,
            map,
            queue: BTreeMap::new(),
            seq: 0,
            now: 0,
            inputs: Vec::new(),
            outputs: Vec::new(),
            wire: Vec::new(),
            rejected: Vec::new(),
            latency: 0,
        };
        l.pump();
        l
    }

    fn enqueue(&mut self, at: Ms, d: Delivery) {
        self.seq += 1;
        self.queue.insert((at, self.seq), d);
    }

    /// Queues a job for the core at `at`.
    pub fn schedule_job(&mut self, at: Ms, job: JobRequest) {
        self.enqueue(at, Delivery::Job(Box::new(job)));
    }

    /// Moves every pending output along: core commands to the master, and
    /// published messages onto the queue.
    fn pump(&mut self) {
        while let Some(out) = self.core.poll_output() {
            if let Output::Command(c) = &out {
                self.master.handle_command(self.now, c);
            }
            self.outputs.push(out);
        }
        let at = self.now + self.latency;
        while let Some(p) = self.master.poll_publish() {
            self.wire
                .push((self.now, p.topic.clone(), p.payload.clone()));
            let serial = p.topic.split('/').nth(3).unwrap_or("").to_string();
            if let Some(agent) = self.agents.iter().position(|a| a.serial() == serial) {
                self.enqueue(
                    at,
                    Delivery::ToAgent {
                        agent,
                        topic: p.topic,
                        payload: p.payload,
                    },
                );
            }
        }
        for i in 0..self.agents.len() {
            while let Some(p) = self.agents[i].poll_publish() {
                self.wire
                    .push((self.now, p.topic.clone(), p.payload.clone()));
                self.enqueue(
                    at,
                    Delivery::ToMaster {
                        topic: p.topic,
                        payload: p.payload,
                    },
                );
            }
        }
    }

    fn give(&mut self, input: Input) {
        self.inputs.push(input.clone());
        self.core.handle(self.now, input);
        self.pump();
    }

    /// Runs until virtual time `end`.
    pub fn run_until(&mut self, end: Ms) {
        let mut same = 0;
        loop {
            let mut next: Option<(Ms, u8)> = None;
            let mut consider = |t: Option<Ms>, kind: u8| {
                if let Some(t) = t
                    && next.is_none_or(|n| (t, kind) < n)
                {
                    next = Some((t, kind));
                }
            };
            consider(self.queue.first_key_value().map(|(k, _)| k.0), 0);
            for a in &self.agents {
                consider(a.poll_timeout(), 1);
            }
            consider(self.master.poll_timeout(), 2);
            consider(self.core.poll_timeout(), 3);
            let Some((t, kind)) = next else { break };
            if t > end {
                break;
            }
            if t <= self.now {
                same += 1;
                assert!(
                    same < 100_000,
                    "stuck at {} ms on event kind {kind}",
                    self.now
                );
            } else {
                same = 0;
            }
            self.now = self.now.max(t);
            let now = self.now;
            match kind {
                0 => {
                    let (_, d) = self.queue.pop_first().expect("queued");
                    match d {
                        Delivery::Job(j) => self.give(Input::Job(*j)),
                        Delivery::ToAgent {
                            agent,
                            topic,
                            payload,
                        } => {
                            // A vehicle without a link hears nothing.
                            if self.agents[agent].is_online() {
                                self.agents[agent].handle_message(now, &topic, &payload);
                            }
                            self.pump();
                        }
                        Delivery::ToMaster { topic, payload } => {
                            match self.master.handle_message(now, &topic, &payload) {
                                Ok(inputs) => {
                                    for i in inputs {
                                        self.give(i);
                                    }
                                }
                                Err(r) => self.rejected.push(r.to_string()),
                            }
                            self.pump();
                        }
                    }
                }
                1 => {
                    for i in 0..self.agents.len() {
                        if self.agents[i].poll_timeout().is_some_and(|t| t <= now) {
                            self.agents[i].handle_timeout(now);
                        }
                    }
                    self.pump();
                }
                2 => {
                    self.master.handle_timeout(now);
                    self.pump();
                }
                _ => {
                    self.core.handle_timeout(now);
                    self.pump();
                }
            }
        }
        self.now = self.now.max(end);
    }

    /// Vehicle `i` loses its link: it publishes nothing more, and the
    /// broker delivers its last will.
    pub fn drop_link(&mut self, i: usize) {
        self.agents[i].drop_link();
        let will = self.agents[i].last_will();
        let at = self.now + self.latency;
        self.enqueue(
            at,
            Delivery::ToMaster {
                topic: will.topic,
                payload: will.payload,
            },
        );
    }

    /// Vehicle `i` is back online.
    pub fn reconnect(&mut self, i: usize) {
        let now = self.now;
        self.agents[i].reconnect(now);
        self.pump();
    }

    /// What every vehicle did, for the verifier.
    pub fn trace(&self) -> Vec<TimedPlan> {
        self.agents
            .iter()
            .enumerate()
            .map(|(i, a)| TimedPlan::new(VehicleId(i as u32), a.trace().to_vec()))
            .collect()
    }
}
