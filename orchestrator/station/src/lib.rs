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
//!
//! A territory station (its core plans one side, `core.territory`) also
//! holds that side's handoff [`Desk`]: it reads the other side's handoff
//! topic, hands the core's crossing steps to the desk and the desk's
//! effects to the core, and publishes the signed envelopes. On a commit
//! the master control releases the vehicle's order up to the border node
//! and gives the vehicle up; the handover carries that order's
//! continuation, and on adoption the other side's master control takes it
//! over and continues the same order. A station reads the state of the
//! vehicles it commands, and of those it handed over until one is past the
//! border; it never publishes to a vehicle it does not command.
//!
//! A station opened on a state database ([`Station::open`]) is durable: at
//! the end of every step it stores, in one SQLite transaction, the core
//! steps it took (the journal of `borderlane_handoff::Durable`), the
//! handoff records the desk changed, the master control's orders and
//! headerIds, and which vehicles it reads; only then does it hand out what
//! the step publishes. On open it recovers from that file with
//! `Durable::recover`, the code the simulator's restarts use: the desk from
//! its records, the core by replaying its journal, the master control and
//! the vehicles it reads from what was stored. If a store fails the
//! station stops: it takes no input and publishes nothing more, and the
//! shell starts it again from the file, which holds every step whose
//! messages went out.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::Arc;

use borderlane_core::io::{CrossingInput, CrossingOutput, Event, JobRequest, OperatorCommand};
use borderlane_core::{Core, CoreConfig, CoreError, Input, Output};
use borderlane_handoff::{
    CoreStep, Desk, Durable, HandoffConfig, OrderContinuation, SigningKey, VerifyingKey,
    topic as handoff_topic,
};
use borderlane_model::{LaneMap, Ms, NodeKind, Side};
use borderlane_vda5050::{Master, MasterConfig, Publish, Qos};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// The handoff keys of a territory station (`core.territory` set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<HandoffKeys>,
}

/// A territory station's handoff keys: its own ed25519 signing key (the
/// 32-byte seed) and the other side's public key, both as 64 hexadecimal
/// digits, each with the key id the other side's configuration names.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffKeys {
    pub key_id: String,
    pub key: String,
    pub peer_key_id: String,
    pub peer_key: String,
}

impl std::fmt::Debug for HandoffKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandoffKeys")
            .field("key_id", &self.key_id)
            .field("peer_key_id", &self.peer_key_id)
            .field("peer_key", &self.peer_key)
            .finish_non_exhaustive()
    }
}

/// Why a station cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum StationError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("handoff: {0}")]
    Handoff(String),
    /// The state database cannot be opened or recovered from; the message
    /// names the file and what is wrong.
    #[error("state database: {0}")]
    Store(String),
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

/// What a territory station does with a vehicle's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Reading {
    /// It commands the vehicle.
    Commands,
    /// It handed the vehicle over and reads its state until it is past
    /// the border.
    Watches,
}

/// A territory station's side of the handoff.
struct Border {
    side: Side,
    desk: Desk,
    /// The topic the other side's envelopes arrive on.
    inbound: String,
    /// The topic this side's envelopes go to.
    outbound: String,
    /// The vehicles whose state this side reads; the others' states are
    /// read by the master control but not handed to the core.
    reads: BTreeMap<String, Reading>,
    /// Signed envelopes to publish.
    outbox: VecDeque<Publish>,
    /// Protocol calls the desk refused, and handovers without an order.
    errors: u64,
}

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
    border: Option<Border>,
    /// The state database of a durable station.
    store: Option<Store>,
}

/// A durable station's database and what it has not stored yet.
struct Store {
    durable: Durable,
    /// The core steps of the step under way, stored at its end.
    steps: Vec<(Ms, CoreStep)>,
    /// The master control's kept state and the vehicles read, as last
    /// stored, so that unchanged ones are not written again.
    master: Value,
    reads: Value,
    /// How many journal entries the core replayed on open.
    replayed: usize,
    /// Why the last store failed; the station is stopped from then on.
    failed: Option<String>,
}

/// The names of the station's values in the database's `shell_state`.
const STATE_STATION: &str = "station";
const STATE_MASTER: &str = "master";
const STATE_READS: &str = "reads";

impl Station {
    pub fn new(map: Arc<LaneMap>, config: StationConfig) -> Result<Station, StationError> {
        let border = match config.core.territory {
            Some(side) => {
                let (key, peer, exit) = border_keys(&map, side, &config)?;
                let desk = Desk::new(HandoffConfig::new(side), key, peer, &exit)
                    .map_err(|e| StationError::Handoff(e.to_string()))?;
                Some(border(&map, side, &config, desk))
            }
            None => None,
        };
        let core = Core::new(map.clone(), config.core.clone())?;
        Ok(Station::build(map, config, core, border))
    }

    /// A durable station on the state database at `path`, created if there
    /// is no file: recovered from what it holds with
    /// `borderlane_handoff::Durable::recover` (the desk from its records,
    /// the core by replaying its journal), the master control's orders and
    /// the vehicles it reads as they were stored. A file that is not a
    /// state database, is damaged, or was written by a station of another
    /// side or fleet is refused with an error naming the file and what is
    /// wrong.
    pub fn open(
        map: Arc<LaneMap>,
        config: StationConfig,
        path: &Path,
    ) -> Result<Station, StationError> {
        let store_err = |e: &dyn std::fmt::Display| StationError::Store(e.to_string());
        let mut durable = Durable::open(path).map_err(|e| store_err(&e))?;
        // The configuration the journal was taken under: replaying it into
        // a core of another side or fleet would build a different core.
        let identity = serde_json::json!({
            "name": config.name,
            "core": serde_json::to_value(&config.core).unwrap_or_default(),
        });
        match durable
            .store()
            .value(STATE_STATION)
            .map_err(|e| store_err(&e))?
        {
            Some(stored) if stored != identity => {
                let what = ["name", "core"]
                    .into_iter()
                    .filter(|k| stored.get(k) != identity.get(k))
                    .collect::<Vec<_>>()
                    .join(" and ");
                return Err(StationError::Store(format!(
                    "{}: written by a station with another {what} (stored: {}); \
                     give this station a database of its own",
                    path.display(),
                    short(&stored)
                )));
            }
            Some(_) => {}
            None => durable
                .commit(&[], None, &[(STATE_STATION, identity)])
                .map_err(|e| store_err(&e))?,
        }
        let (core, border, replayed) = match config.core.territory {
            Some(side) => {
                let (key, peer, exit) = border_keys(&map, side, &config)?;
                let r = durable
                    .recover(
                        map.clone(),
                        config.core.clone(),
                        HandoffConfig::new(side),
                        key,
                        peer,
                        &exit,
                    )
                    .map_err(|e| store_err(&e))?;
                (
                    r.core,
                    Some(border(&map, side, &config, r.desk)),
                    r.replayed,
                )
            }
            None => {
                let (core, replayed) = durable
                    .replay(map.clone(), config.core.clone())
                    .map_err(|e| store_err(&e))?;
                (core, None, replayed)
            }
        };
        let mut station = Station::build(map, config, core, border);
        let stored = |name: &str| durable.store().value(name).map_err(|e| store_err(&e));
        let master = stored(STATE_MASTER)?;
        if let Some(v) = &master {
            let kept = serde_json::from_value(v.clone()).map_err(|e| {
                StationError::Store(format!(
                    "{}: shell state {STATE_MASTER:?} is not a master control's state: {e}",
                    path.display()
                ))
            })?;
            station.master.restore_kept(kept);
        }
        let reads = stored(STATE_READS)?;
        if let (Some(v), Some(b)) = (&reads, station.border.as_mut()) {
            b.reads = serde_json::from_value(v.clone()).map_err(|e| {
                StationError::Store(format!(
                    "{}: shell state {STATE_READS:?} is not a list of vehicles read: {e}",
                    path.display()
                ))
            })?;
        }
        station.store = Some(Store {
            durable,
            steps: Vec::new(),
            master: master.unwrap_or(Value::Null),
            reads: reads.unwrap_or(Value::Null),
            replayed,
            failed: None,
        });
        Ok(station)
    }

    fn build(
        map: Arc<LaneMap>,
        config: StationConfig,
        core: Core,
        border: Option<Border>,
    ) -> Station {
        let fleet: Vec<String> = config.core.fleet.iter().map(|v| v.serial.clone()).collect();
        let master = Master::new(map.clone(), config.vda5050, &fleet);
        Station {
            jobs_topic: format!("{}/{}/jobs", config.prefix, config.name),
            operator_topic: format!("{}/{}/operator", config.prefix, config.name),
            name: config.name,
            map,
            jobs_from: config.jobs_from,
            core,
            master,
            events: VecDeque::new(),
            border,
            store: None,
        }
    }

    /// Whether the station keeps its state in a database.
    pub fn is_durable(&self) -> bool {
        self.store.is_some()
    }

    /// How many journal entries the core replayed when the station was
    /// opened on its database.
    pub fn replayed(&self) -> usize {
        self.store.as_ref().map_or(0, |s| s.replayed)
    }

    /// Why the station stopped: a store to its database failed, so it takes
    /// no input and publishes nothing more. Start it again from the file.
    pub fn store_failed(&self) -> Option<&str> {
        self.store.as_ref().and_then(|s| s.failed.as_deref())
    }

    /// The state database of a durable station.
    pub fn durable(&self) -> Option<&Durable> {
        self.store.as_ref().map(|s| &s.durable)
    }

    /// The side of a territory station.
    pub fn territory(&self) -> Option<Side> {
        self.border.as_ref().map(|b| b.side)
    }

    /// A territory station's handoff desk.
    pub fn desk(&self) -> Option<&Desk> {
        self.border.as_ref().map(|b| &b.desk)
    }

    /// Protocol calls the desk refused (counted, nothing changed).
    pub fn handoff_errors(&self) -> u64 {
        self.border.as_ref().map_or(0, |b| b.errors)
    }

    /// Whether this station commands the vehicle: always, for a station
    /// of the whole lane and a vehicle of its fleet.
    pub fn commands(&self, vehicle: &str) -> bool {
        match &self.border {
            Some(b) => b.reads.get(vehicle) == Some(&Reading::Commands),
            None => !self.master.given_up(vehicle),
        }
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
        if let Some(b) = &self.border {
            subs.push((b.inbound.clone(), Qos::AtLeastOnce));
        }
        subs
    }

    /// A message from the broker. On a rejection nothing changed.
    pub fn handle_message(
        &mut self,
        now: Ms,
        topic: &str,
        payload: &[u8],
    ) -> Result<(), Rejection> {
        if let Some(why) = self.store_failed() {
            return Err(Rejection {
                vehicle: None,
                topic: topic.to_string(),
                reason: "store_failed",
                detail: why.to_string(),
            });
        }
        if topic == self.jobs_topic {
            let job: JobRequest = decode_control(topic, payload)?;
            self.check_job(topic, &job)?;
            self.feed(now, Input::Job(job));
        } else if topic == self.operator_topic {
            let command: OperatorCommand = decode_control(topic, payload)?;
            self.feed(now, Input::Operator(command));
        } else if let Some(b) = self.border.as_mut().filter(|b| b.inbound == topic) {
            b.desk.receive(now, payload).map_err(|detail| Rejection {
                vehicle: None,
                topic: topic.to_string(),
                reason: "handoff_refused",
                detail,
            })?;
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
                if self.reads(&input) {
                    self.feed(now, input);
                }
            }
        }
        self.pump(now);
        self.store_step(now);
        Ok(())
    }

    /// Gives the core an input, journalled with the step.
    fn feed(&mut self, now: Ms, input: Input) {
        if let Some(s) = self.store.as_mut() {
            s.steps.push((
                now,
                CoreStep::Input {
                    input: input.clone(),
                },
            ));
        }
        self.core.handle(now, input);
    }

    /// Stores what the step changed, in one transaction: the core steps it
    /// took, the desk's records, the master control's kept state and the
    /// vehicles read. Until this is done nothing of the step is handed out;
    /// if it fails, nothing ever is.
    fn store_step(&mut self, now: Ms) {
        let Some(s) = self.store.as_mut() else {
            return;
        };
        if s.failed.is_some() {
            return;
        }
        // Plain data: serialising it cannot fail.
        let master = serde_json::to_value(self.master.kept()).unwrap_or_default();
        let reads = self
            .border
            .as_ref()
            .map(|b| serde_json::to_value(&b.reads).unwrap_or_default())
            .unwrap_or(Value::Null);
        let mut values = Vec::new();
        if master != s.master {
            values.push((STATE_MASTER, master.clone()));
        }
        if reads != s.reads {
            values.push((STATE_READS, reads.clone()));
        }
        let desk = self.border.as_mut().map(|b| (now, &mut b.desk));
        match s.durable.commit(&s.steps, desk, &values) {
            Ok(()) => {
                s.steps.clear();
                s.master = master;
                s.reads = reads;
            }
            Err(e) => s.failed = Some(e.to_string()),
        }
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
        if self.store_failed().is_some() {
            return;
        }
        self.feed(now, Input::Operator(command));
        self.pump(now);
        self.store_step(now);
    }

    /// Whether the core is given this input from the master control: a
    /// territory station reads the vehicles it commands, and those it
    /// handed over up to the first state from beyond the border.
    fn reads(&mut self, input: &Input) -> bool {
        let (Some(b), Input::State(r)) = (self.border.as_mut(), input) else {
            return true;
        };
        match b.reads.get(&r.vehicle) {
            Some(Reading::Commands) => true,
            Some(Reading::Watches) => {
                // The core forgets a vehicle once it is past the border by
                // its plan; a later state is the other side's alone.
                let beyond = !self.core.holds(&r.vehicle)
                    || self
                        .map
                        .node_by_id(&r.last_node)
                        .is_some_and(|n| self.map.side_of(n) != b.side);
                if beyond {
                    b.reads.remove(&r.vehicle);
                }
                self.core.holds(&r.vehicle)
            }
            None => false,
        }
    }

    /// Time has reached the station's timeout (or any later time).
    pub fn handle_timeout(&mut self, now: Ms) {
        if self.store_failed().is_some() {
            return;
        }
        if let Some(s) = self.store.as_mut() {
            s.steps.push((now, CoreStep::Wake));
        }
        self.core.handle_timeout(now);
        self.master.handle_timeout(now);
        if let Some(b) = self.border.as_mut() {
            b.desk.handoffs.handle_timeout(now);
        }
        self.pump(now);
        self.store_step(now);
    }

    /// The next message to publish: the master control's, then the signed
    /// handoff envelopes. Nothing after a failed store.
    pub fn poll_publish(&mut self) -> Option<Publish> {
        if self.store_failed().is_some() {
            return None;
        }
        self.master
            .poll_publish()
            .or_else(|| self.border.as_mut()?.outbox.pop_front())
    }

    /// The next event of the core.
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.store_failed().is_some() {
            return None;
        }
        self.events.pop_front()
    }

    /// When the station next needs `handle_timeout`.
    pub fn poll_timeout(&mut self) -> Option<Ms> {
        if self.store_failed().is_some() {
            return None;
        }
        let desk = self
            .border
            .as_ref()
            .and_then(|b| b.desk.handoffs.poll_timeout());
        [self.core.poll_timeout(), self.master.poll_timeout(), desk]
            .into_iter()
            .flatten()
            .min()
    }

    /// Hands the core's outputs on: commands to the master control, events
    /// to the queue the shell drains, crossing steps to the desk; then the
    /// desk's envelopes to the outbox and its effects to the core, until
    /// nothing more comes.
    fn pump(&mut self, now: Ms) {
        loop {
            while let Some(output) = self.core.poll_output() {
                match output {
                    Output::Command(command) => self.master.handle_command(now, &command),
                    Output::Event(event) => {
                        if let Some(s) = self.store.as_mut() {
                            s.durable.observe(now, &event);
                        }
                        self.events.push_back(event);
                    }
                    Output::Crossing(c) => self.cross(now, c),
                }
            }
            let Some(b) = self.border.as_mut() else {
                return;
            };
            for payload in b.desk.transmit() {
                b.outbox.push_back(Publish {
                    topic: b.outbound.clone(),
                    payload,
                    qos: Qos::AtLeastOnce,
                    retain: false,
                });
            }
            let effects = b.desk.effects();
            if effects.is_empty() {
                return;
            }
            for effect in effects {
                if let CrossingInput::Adopted { vehicle } = &effect {
                    self.adopt(vehicle);
                }
                self.feed(now, Input::Crossing(effect));
            }
        }
    }

    /// A crossing step of the core, for the desk. On a commit the master
    /// control releases the vehicle up to the border node and gives it up,
    /// and the handover carries where its order stands.
    fn cross(&mut self, now: Ms, c: CrossingOutput) {
        let Some(b) = self.border.as_mut() else {
            return;
        };
        let done = match c {
            CrossingOutput::Commit { vehicle, border_ms } => {
                b.reads.insert(vehicle.clone(), Reading::Watches);
                match self.master.hand_over(now, &vehicle) {
                    Some(o) => {
                        let order = OrderContinuation {
                            order_id: o.order_id,
                            order_update_id: o.order_update_id,
                            border_node: o.last_base_node,
                            border_sequence_id: o.last_base_sequence_id,
                            next_header_id: o.order_header_id.saturating_add(1),
                        };
                        b.desk.commit(now, &vehicle, order)
                    }
                    None => {
                        // No order to continue: the far side's update
                        // will be refused and the vehicle stops at the
                        // border; counted.
                        b.errors += 1;
                        b.desk
                            .call(now, CrossingOutput::Commit { vehicle, border_ms })
                    }
                }
            }
            other => b.desk.call(now, other),
        };
        if done.is_err() {
            b.errors += 1;
        }
    }

    /// The other side handed the vehicle over: the master control
    /// continues its order, and this side reads its state.
    fn adopt(&mut self, vehicle: &str) {
        let Some(b) = self.border.as_mut() else {
            return;
        };
        b.reads.insert(vehicle.to_string(), Reading::Commands);
        if let Some(o) = b.desk.take_continuation(vehicle) {
            self.master.take_over(
                vehicle,
                &o.order_id,
                o.order_update_id,
                &o.border_node,
                o.border_sequence_id,
                o.next_header_id,
            );
        }
    }
}

/// A territory station's handoff keys and the border node vehicles leave
/// its side by.
fn border_keys(
    map: &LaneMap,
    side: Side,
    config: &StationConfig,
) -> Result<(SigningKey, VerifyingKey, String), StationError> {
    let keys = config.handoff.as_ref().ok_or_else(|| {
        StationError::Handoff(format!(
            "core.territory is {side:?}, so the station hands vehicles over: give its handoff keys"
        ))
    })?;
    let key = SigningKey::from_hex(&keys.key_id, &keys.key)
        .map_err(|e| StationError::Handoff(format!("key: {e}")))?;
    let peer = VerifyingKey::from_hex(&keys.peer_key_id, &keys.peer_key)
        .map_err(|e| StationError::Handoff(format!("peer_key: {e}")))?;
    let exit = map
        .node_ixs()
        .find(|&n| {
            map.node(n).kind == NodeKind::Border
                && map
                    .in_arcs(n)
                    .iter()
                    .any(|&a| map.node(map.arc(a).from).side == Some(side))
        })
        .map(|n| map.node(n).id.clone())
        .ok_or_else(|| StationError::Handoff("the map has no border node to leave by".into()))?;
    Ok((key, peer, exit))
}

/// A territory station's border: its desk and the vehicles it starts out
/// commanding (those that start on its side).
fn border(map: &LaneMap, side: Side, config: &StationConfig, desk: Desk) -> Border {
    let reads = config
        .core
        .fleet
        .iter()
        .filter(|v| {
            map.node_by_id(&v.start)
                .is_some_and(|n| map.side_of(n) == side)
        })
        .map(|v| (v.serial.clone(), Reading::Commands))
        .collect();
    Border {
        side,
        desk,
        inbound: handoff_topic(side.other(), side),
        outbound: handoff_topic(side, side.other()),
        reads,
        outbox: VecDeque::new(),
        errors: 0,
    }
}

/// A stored value, cut short for an error message.
fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(120) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
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
