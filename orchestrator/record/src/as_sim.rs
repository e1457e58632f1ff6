//! A recording turned into a simulator scenario, so that an incident seen
//! live can be studied, and varied, in `borderlane sim run`.
//!
//! The scenario keeps what the orchestrator was given from outside: the
//! jobs it queued, the operator commands it took (on the operator topic or
//! from the operation center), the fleet it was configured with, each
//! vehicle placed and charged as its first state report says, and the links
//! that were lost and came back. Times count from the start of the
//! recording. The simulated vehicles then drive as the simulator drives
//! them, so the decisions can differ from the recorded ones: that is what a
//! study of a variant is for; `borderlane replay` is the exact check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use borderlane_core::CoreConfig;
use borderlane_core::VehicleSpec;
use borderlane_core::io::{Event, JobRequest, OperatorCommand};
use borderlane_model::{LaneMap, Ms};
use borderlane_sim::scenario::{
    Battery, CoreSettings, Customs, Demand, Faults, Fleet, Job, LinkLoss, Operator, Scenario,
    VehicleSpecs, VehicleStart,
};
use borderlane_station::StationConfig;
use borderlane_vda5050::messages::{Connection, ConnectionState, State};
use borderlane_vda5050::{Topic, TopicKind, format_timestamp};

use crate::format::{Entry, Payload};
use crate::reader::{Recording, Step};
use crate::replay::{ReplayError, recorded_station};

const DAY_MS: Ms = 24 * 3_600_000;

/// How to turn a recording into a scenario.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// The scenario's name.
    pub name: String,
    /// The map file the scenario names: relative to the scenario file's
    /// folder, or absolute.
    pub map: PathBuf,
    /// Take only the inputs up to this long after the start, ms.
    pub until: Option<Ms>,
}

/// A scenario made from a recording.
#[derive(Clone, Debug)]
pub struct Conversion {
    pub scenario: Scenario,
    /// What the scenario leaves out of the recording or sets differently
    /// from it, a sentence each.
    pub notes: Vec<String>,
    /// The stretch of the recording converted, ms.
    pub span_ms: Ms,
}

#[derive(Debug, thiserror::Error)]
pub enum AsSimError {
    #[error(transparent)]
    Recording(#[from] ReplayError),
    #[error("the scenario made from the recording is not valid: {0}")]
    Invalid(String),
    #[error("the scenario cannot be written as TOML: {0}")]
    Toml(String),
}

/// Turns a recording's inputs into a scenario.
pub fn to_scenario(recording: &Recording, options: &SimOptions) -> Result<Conversion, AsSimError> {
    let (map, config, station) = recorded_station(recording)?;
    let mut inputs = Inputs {
        start: recording.start,
        end: recording.start,
        fleet: &config.core.fleet,
        jobs_topic: station.jobs_topic(),
        operator_topic: station.operator_topic(),
        jobs: Vec::new(),
        operator: Vec::new(),
        first_state: BTreeMap::new(),
        lost_since: BTreeMap::new(),
        link_loss: Vec::new(),
        notes: Vec::new(),
    };
    let within = |t: Ms| {
        options
            .until
            .is_none_or(|u| t.saturating_sub(recording.start) <= u)
    };
    for step in recording.steps().take_while(|s| within(s.t)) {
        inputs.take(step);
    }
    inputs.note_links_still_lost();
    let span_ms = inputs.end - recording.start;
    let fleet = inputs.fleet(&map);
    let mut notes = std::mem::take(&mut inputs.notes);
    notes.extend(settings_notes(&config));
    let demand = if inputs.jobs.is_empty() {
        notes.push("the recording holds no job the orchestrator queued: [demand] is set to 0 containers a day".into());
        Some(Demand::per_day(0.0))
    } else {
        None
    };
    let session = &recording.session;
    let scenario = Scenario {
        name: options.name.clone(),
        description: format!(
            "Made by `borderlane replay --as-sim` from {:.1} s of a recording by borderlane {} on {}, \
             started {}: its jobs, operator commands, fleet and link losses.",
            span_ms as f64 / 1_000.0,
            session.borderlane,
            session.map_name,
            format_timestamp(recording.start),
        ),
        map: options.map.clone(),
        seed: 1,
        days: u32::try_from(span_ms.div_ceil(DAY_MS).max(1)).unwrap_or(u32::MAX),
        fleet,
        vehicle: VehicleSpecs::of(&config.core.profile),
        battery: Battery::default(),
        demand,
        customs: Customs::default(),
        faults: Faults {
            link_loss: inputs.link_loss,
            ..Faults::default()
        },
        jobs: inputs.jobs,
        operator: inputs.operator,
        // A recording is of one orchestrator.
        orchestrators: Default::default(),
        core: CoreSettings {
            plan_horizon_ms: (config.core.plan_horizon_ms != CoreConfig::default().plan_horizon_ms)
                .then_some(config.core.plan_horizon_ms),
        },
    };
    scenario
        .validate()
        .map_err(|e| AsSimError::Invalid(e.to_string()))?;
    Ok(Conversion {
        scenario,
        notes,
        span_ms,
    })
}

impl Conversion {
    /// The scenario as a TOML file, the notes as comments at its top.
    pub fn to_toml(&self) -> Result<String, AsSimError> {
        let body = toml::to_string(&self.scenario).map_err(|e| AsSimError::Toml(e.to_string()))?;
        let mut text = String::from("# Made by `borderlane replay --as-sim`.\n");
        for note in &self.notes {
            text.push_str(&format!("# note: {note}\n"));
        }
        text.push('\n');
        text.push_str(&body);
        Ok(text)
    }
}

/// Looks for the recording's map, by its file name, in a `maps` folder of
/// any folder that holds one of `near`; only a file whose text is the
/// recorded map's counts. Gives its absolute path.
pub fn find_map(recording: &Recording, near: &[PathBuf]) -> Option<PathBuf> {
    let name = Path::new(&recording.session.map_name).file_name()?;
    near.iter()
        .filter_map(|p| std::path::absolute(p).ok())
        .flat_map(|p| {
            p.ancestors()
                .map(|a| a.join("maps").join(name))
                .collect::<Vec<_>>()
        })
        .find(|candidate| {
            std::fs::read_to_string(candidate)
                .is_ok_and(|text| text == recording.session.map_geojson)
        })
}

/// How a scenario file in `scenario_dir` names `map`: relative to its
/// folder when the two share a top folder, else absolute.
pub fn map_reference(map: &Path, scenario_dir: &Path) -> PathBuf {
    let (Ok(map), Ok(dir)) = (std::path::absolute(map), std::path::absolute(scenario_dir)) else {
        return map.to_path_buf();
    };
    let top = |p: &Path| {
        p.components()
            .find(|c| matches!(c, std::path::Component::Normal(_)))
            .map(|c| c.as_os_str().to_owned())
    };
    match pathdiff::diff_paths(&map, &dir) {
        Some(relative) if top(&map) == top(&dir) => relative,
        _ => map,
    }
}

/// What the inputs of a recording add up to, read in order.
struct Inputs<'a> {
    start: Ms,
    /// The time of the last input read.
    end: Ms,
    fleet: &'a [VehicleSpec],
    jobs_topic: &'a str,
    operator_topic: &'a str,
    jobs: Vec<Job>,
    operator: Vec<Operator>,
    /// Each vehicle's first state report: the node it was at and its
    /// charge.
    first_state: BTreeMap<String, (String, f64)>,
    /// Vehicles whose link is lost, since when.
    lost_since: BTreeMap<String, Ms>,
    link_loss: Vec<LinkLoss>,
    notes: Vec<String>,
}

impl Inputs<'_> {
    fn take(&mut self, step: Step<'_>) {
        self.end = step.t;
        match step.input {
            Entry::Operator(o) => self.operator(step, o.command.clone()),
            Entry::MqttIn(m) if m.topic == self.jobs_topic => self.job(step, &m.payload),
            Entry::MqttIn(m) if m.topic == self.operator_topic => {
                match decode::<OperatorCommand>(&m.payload) {
                    Some(command) => self.operator(step, command),
                    None => self.notes.push(format!(
                        "{}: a message on the operator topic that is not a command is left out",
                        self.at(step.t)
                    )),
                }
            }
            Entry::MqttIn(m) => self.vehicle(step.t, &m.topic, &m.payload),
            _ => {}
        }
    }

    /// A job is kept when the orchestrator queued it.
    fn job(&mut self, step: Step<'_>, payload: &Payload) {
        let Some(job) = decode::<JobRequest>(payload) else {
            self.notes.push(format!(
                "{}: a message on the jobs topic that is not a job is left out",
                self.at(step.t)
            ));
            return;
        };
        let queued = step
            .outputs
            .iter()
            .any(|(_, e)| matches!(e, Entry::Event(Event::JobQueued { job: id }) if *id == job.id));
        if !queued {
            self.notes.push(format!(
                "{}: job {:?}, which the orchestrator did not queue, is left out",
                self.at(step.t),
                job.id
            ));
            return;
        }
        self.jobs.push(Job {
            at_s: self.secs(step.t),
            id: job.id,
            container: job.container,
            pickup: job.pickup,
            channel: job.channel,
            customs_s: job.customs_ms as f64 / 1_000.0,
            priority: job.priority,
            deadline_s: job.deadline.map(|d| self.secs(d)),
        });
    }

    /// A command is kept unless the orchestrator rejected it.
    fn operator(&mut self, step: Step<'_>, command: OperatorCommand) {
        let rejected = step
            .outputs
            .iter()
            .any(|(_, e)| matches!(e, Entry::Event(Event::InputRejected { .. })));
        if rejected {
            self.notes.push(format!(
                "{}: an operator command the orchestrator rejected is left out",
                self.at(step.t)
            ));
            return;
        }
        self.operator.push(Operator {
            at_s: self.secs(step.t),
            command,
        });
    }

    /// A vehicle's first state, and its link going and coming back.
    fn vehicle(&mut self, t: Ms, topic: &str, payload: &Payload) {
        let Some(topic) = Topic::split(topic) else {
            return;
        };
        let serial = topic.serial_number;
        if !self.fleet.iter().any(|v| v.serial == serial) {
            return;
        }
        match TopicKind::parse(topic.kind) {
            Some(TopicKind::State) if !self.first_state.contains_key(serial) => {
                if let Some(state) = decode::<State>(payload) {
                    self.first_state.insert(
                        serial.to_string(),
                        (state.last_node_id, state.battery_state.battery_charge),
                    );
                }
            }
            Some(TopicKind::Connection) => {
                let Some(c) = decode::<Connection>(payload) else {
                    return;
                };
                if c.connection_state != ConnectionState::Online {
                    self.lost_since.entry(serial.to_string()).or_insert(t);
                } else if let Some(since) = self.lost_since.remove(serial) {
                    self.link_loss.push(LinkLoss {
                        vehicle: serial.to_string(),
                        at_s: self.secs(since),
                        // A link back within the same millisecond was
                        // still lost for a moment.
                        for_s: t.saturating_sub(since).max(1) as f64 / 1_000.0,
                    });
                }
            }
            _ => {}
        }
    }

    /// Links lost and not back when the recording ends, as when a session
    /// is shut down, have no length to give the simulator.
    fn note_links_still_lost(&mut self) {
        if let Some(first) = self.lost_since.values().min().copied() {
            let serials: Vec<&str> = self.lost_since.keys().map(String::as_str).collect();
            self.notes.push(format!(
                "{} {} ({}) lost the link {} or later and it was not back when the recording ended: \
                 left out, as when a session is shut down",
                serials.len(),
                if serials.len() == 1 { "vehicle" } else { "vehicles" },
                serials.join(", "),
                self.at(first)
            ));
        }
    }

    /// The configured fleet, each vehicle where and as charged as its first
    /// report says.
    fn fleet(&mut self, map: &LaneMap) -> Fleet {
        let mut start = Vec::new();
        for v in self.fleet {
            let seen = self.first_state.get(&v.serial);
            if seen.is_none() {
                self.notes.push(format!(
                    "{} sent no state: it starts at its configured node {} with a drawn charge",
                    v.serial, v.start
                ));
            }
            let node = seen
                .map(|(node, _)| node)
                .filter(|node| map.node_by_id(node).is_some())
                .unwrap_or(&v.start);
            start.push(VehicleStart {
                serial: v.serial.clone(),
                node: node.clone(),
                battery_pct: seen.map(|(_, pct)| pct.clamp(0.0, 100.0)),
            });
        }
        Fleet {
            vehicles: self.fleet.len(),
            start,
        }
    }

    /// Station time as seconds since the start of the recording.
    fn secs(&self, t: Ms) -> f64 {
        t.saturating_sub(self.start) as f64 / 1_000.0
    }

    fn at(&self, t: Ms) -> String {
        format!("at {:.3} s", self.secs(t))
    }
}

fn decode<T: serde::de::DeserializeOwned>(payload: &Payload) -> Option<T> {
    serde_json::from_slice(&payload.to_bytes()?).ok()
}

/// Where the recorded orchestrator was set up otherwise than the
/// simulator's, which runs the whole lane with the core's defaults.
fn settings_notes(config: &StationConfig) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(side) = config.jobs_from {
        notes.push(format!(
            "the recorded orchestrator took only jobs picked up on side {side:?}; the simulator runs the whole lane with one core"
        ));
    }
    let simulated = CoreConfig {
        fleet: config.core.fleet.clone(),
        profile: config.core.profile,
        plan_horizon_ms: config.core.plan_horizon_ms,
        ..CoreConfig::default()
    };
    let (Ok(serde_json::Value::Object(recorded)), Ok(serde_json::Value::Object(simulated))) = (
        serde_json::to_value(&config.core),
        serde_json::to_value(&simulated),
    ) else {
        return notes;
    };
    let differ: Vec<&str> = recorded
        .iter()
        .filter(|(k, v)| simulated.get(k.as_str()) != Some(v))
        .map(|(k, _)| k.as_str())
        .collect();
    if !differ.is_empty() {
        notes.push(format!(
            "the recorded orchestrator's core sets {} otherwise than the simulator's defaults, which the simulator uses",
            differ.join(", ")
        ));
    }
    notes
}
