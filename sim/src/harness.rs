//! One core and its simulated fleet, stepped in virtual time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc as Shared;

use borderlane_core::io::{
    ActionKind, Command, CommandStep, CrossingInput, CrossingOutput, OperatorCommand, VehicleReport,
};
use borderlane_core::{Core, CoreConfig, CoreError, Input, Output};
use borderlane_model::{LaneMap, Ms, NEVER, NodeIx, NodeKind, Side, Step, TimedPlan, VehicleId};
use sha2::{Digest, Sha256};

use borderlane_handoff::{CoreStep, Desk, Durable, HandoffConfig};

use crate::border::{Bus, LinkModel, LinkStats, sim_desk, sim_keys};
use crate::scenario::{Battery, Where};
use crate::vehicle::{Cell, Physics};

/// One line of the run's log: an input the core was given or an output it
/// produced, with the virtual time.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LogLine {
    pub t: Ms,
    /// The side whose core it is, in a run with one core per side.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
    #[serde(flatten)]
    pub entry: LogEntry,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum LogEntry {
    In { input: Input },
    Out { output: Output },
}

#[derive(Clone, Debug)]
struct Resolved {
    step: Step,
    action: Option<(u64, ActionKind, Ms)>,
}

#[derive(Clone, Debug)]
struct SimVehicle {
    id: VehicleId,
    serial: String,
    node: NodeIx,
    plan_id: Option<u64>,
    plan: Vec<Resolved>,
    /// The index of the last step reached.
    reached: Option<usize>,
    /// Actions finished in the current plan.
    finished: BTreeSet<u64>,
    loaded: bool,
    cell: Cell,
    broken: bool,
    paused: bool,
    /// Whether its link to the core is lost.
    link_lost: bool,
    /// Scheduled breakdowns: at the first node of the right kind reached at
    /// or after the time, the vehicle stops there for the repair time.
    breakdowns: Vec<(Ms, Ms, Where)>,
    repair_at: Option<Ms>,
    /// Scheduled link losses: time and length.
    link_losses: Vec<(Ms, Ms)>,
    /// When a lost link comes back.
    link_back_at: Option<Ms>,
    /// When the state it sends on taking an order reaches the core.
    report_at: Option<Ms>,
    /// Handed over: the near side committed the handover, which releases
    /// its order's base as far as the border node, so it drives there
    /// whether or not its link holds. Cleared by its next order that does
    /// not continue this one.
    released_to_border: bool,
    /// What the vehicle actually did.
    trace: Vec<Step>,
    /// Where the current plan's steps begin in `plan`: the steps before
    /// are the other side's, up to the border node, when a plan continues
    /// another (a crossing).
    offset: usize,
}

/// What a vehicle went through in a run, beyond its trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VehicleStats {
    pub serial: String,
    /// The charge at the end of the run, percent.
    pub battery_pct: f64,
    /// The lowest charge seen, percent.
    pub lowest_battery_pct: f64,
    /// Time spent charging, ms.
    pub charged_ms: Ms,
    /// How many times the charge ran out.
    pub depleted: u32,
    /// Steps reached later than their plan said, because the plan asked for
    /// more than the vehicle's physics allow.
    pub late_steps: u64,
    /// Commands sent to the vehicle while its link was lost (they do not
    /// reach it).
    pub commands_while_lost: u64,
    /// Charges (or swaps) finished.
    pub charges: u32,
    /// Links lost.
    pub link_losses: u32,
    /// Times the vehicle reached the end of what it was released to
    /// while meant to pass on: stopped on the bridge at the border node,
    /// the other side's orders not there yet.
    pub border_stops: u32,
}

/// The CN side's half of a two-sided run, and the link between the sides.
pub struct TwoSided {
    pub cn: Core,
    cn_timeout: Option<Ms>,
    /// The VN and CN desks, in side-index order.
    desks: [Desk; 2],
    /// Each desk's timeout, as it was after it was last called: a desk
    /// changes only when it is handed something, like a core.
    desk_timeouts: [Option<Ms>; 2],
    bus: Bus,
    /// The harness's own ledger of who commands each vehicle (side index),
    /// kept from the protocol's commits and adoptions alone: `None` while
    /// a handover is in flight.
    controller: BTreeMap<String, Option<usize>>,
    /// The side each scheduled job was given to, for operator commands.
    job_side: BTreeMap<String, usize>,
    /// Vehicles handed over but not yet past the border, and the side that
    /// handed them over: it still reads their state (it may not command
    /// them), so that one breaking down before the border stays in its
    /// reservation table.
    watched: BTreeMap<String, usize>,
    /// Commands to a vehicle from a side that did not command it.
    pub ownership_violations: u64,
    /// Restarts: each side's database (only a side that restarts has one),
    /// and the directory they are in, removed with the harness.
    durable: [Option<Durable>; 2],
    dir: Option<tempfile::TempDir>,
    /// Each side's core configuration and border node, to rebuild it.
    configs: [CoreConfig; 2],
    borders: [String; 2],
    /// Restarts to come: (time it stops, side index, how long it is down).
    restarts: BTreeSet<(Ms, usize, Ms)>,
    /// Until when each side is down.
    down: [Option<Ms>; 2],
    /// When each side was down: (side index, from, until).
    outages: Vec<(usize, Ms, Ms)>,
    /// Jobs and operator commands for a side while it is down: they wait
    /// for it, as a broker keeps them for a persistent session.
    waiting: [Vec<Input>; 2],
    /// When each vehicle handed over was committed.
    committed_at: BTreeMap<String, Ms>,
    /// The harness's custody ledger: deliveries per container.
    delivered: BTreeMap<String, u32>,
}

/// The side index of a side: VN is 0, CN is 1.
fn ix(side: Side) -> usize {
    match side {
        Side::Vn => 0,
        Side::Cn => 1,
    }
}

const SIDES: [Side; 2] = [Side::Vn, Side::Cn];

/// How long after taking an order a vehicle's state reaching the core
/// says so.
const ORDER_REPORT_MS: Ms = 100;

/// The core (one for the whole lane, or the VN side's in a two-sided run)
/// and its simulated vehicles.
pub struct Harness {
    pub core: Core,
    /// The CN side's core and the link, in a run with one core per side.
    pub two: Option<Box<TwoSided>>,
    map: Shared<LaneMap>,
    physics: Physics,
    battery: Battery,
    /// Places the operator has taken out of service.
    blocked: BTreeSet<NodeIx>,
    vehicles: Vec<SimVehicle>,
    stats: Vec<VehicleStats>,
    inputs: BTreeMap<(Ms, u64), Input>,
    seq: u64,
    now: Ms,
    log: Vec<LogLine>,
    keep_log: bool,
    digest: Sha256,
    /// The core's timeout, as it was after its last input: the core's state
    /// changes only when it is handed something, so asking again in between
    /// would give the same answer.
    timeout: Option<Ms>,
}

impl Harness {
    pub fn new(map: Shared<LaneMap>, config: CoreConfig) -> Result<Harness, CoreError> {
        let fleet = config.fleet.clone();
        let physics = Physics::new(&map, config.profile);
        let mut core = Core::new(Shared::clone(&map), config)?;
        let timeout = core.poll_timeout();
        let vehicles = fleet
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let node = map
                    .node_by_id(&spec.start)
                    .expect("the core checked the start nodes");
                SimVehicle {
                    id: VehicleId(i as u32),
                    serial: spec.serial.clone(),
                    node,
                    plan_id: None,
                    plan: Vec::new(),
                    reached: None,
                    finished: BTreeSet::new(),
                    loaded: false,
                    cell: Cell::new(100.0),
                    broken: false,
                    paused: false,
                    link_lost: false,
                    breakdowns: Vec::new(),
                    repair_at: None,
                    link_losses: Vec::new(),
                    link_back_at: None,
                    report_at: None,
                    released_to_border: false,
                    trace: vec![Step {
                        node,
                        arc: None,
                        enter: 0,
                        arrive: 0,
                        depart: NEVER,
                        stops: true,
                    }],
                    offset: 0,
                }
            })
            .collect::<Vec<SimVehicle>>();
        let stats = vehicles
            .iter()
            .map(|v| VehicleStats {
                serial: v.serial.clone(),
                ..VehicleStats::default()
            })
            .collect();
        Ok(Harness {
            core,
            two: None,
            map,
            physics,
            battery: Battery::default(),
            blocked: BTreeSet::new(),
            vehicles,
            stats,
            inputs: BTreeMap::new(),
            seq: 0,
            now: 0,
            log: Vec::new(),
            keep_log: true,
            digest: Sha256::new(),
            timeout,
        })
    }

    /// A run with one core per side, each planning its own territory and
    /// handing vehicles over at the border node through the handoff
    /// protocol, over a link that behaves as `link` says (its random draws
    /// seeded by `seed`). Every vehicle of `config.fleet` starts with the
    /// side it starts on.
    pub fn two_sided(
        map: Shared<LaneMap>,
        config: CoreConfig,
        link: LinkModel,
        seed: u64,
    ) -> Result<Harness, CoreError> {
        let vn = CoreConfig {
            territory: Some(Side::Vn),
            ..config.clone()
        };
        let cn = CoreConfig {
            territory: Some(Side::Cn),
            ..config
        };
        let configs = [vn.clone(), cn.clone()];
        let mut h = Harness::new(Shared::clone(&map), vn)?;
        let mut cn = Core::new(Shared::clone(&map), cn)?;
        let cn_timeout = cn.poll_timeout();
        let border = |from: Side| {
            map.node_ixs()
                .find(|&n| {
                    map.node(n).kind == NodeKind::Border
                        && map
                            .in_arcs(n)
                            .iter()
                            .any(|&a| map.node(map.arc(a).from).side == Some(from))
                })
                .map(|n| map.node(n).id.clone())
                .unwrap_or_default()
        };
        let controller = h
            .vehicles
            .iter()
            .map(|v| (v.serial.clone(), Some(ix(map.side_of(v.node)))))
            .collect();
        h.two = Some(Box::new(TwoSided {
            cn,
            cn_timeout,
            desks: [
                sim_desk(Side::Vn, &border(Side::Vn)),
                sim_desk(Side::Cn, &border(Side::Cn)),
            ],
            desk_timeouts: [None, None],
            durable: [None, None],
            dir: None,
            configs,
            borders: [border(Side::Vn), border(Side::Cn)],
            restarts: BTreeSet::new(),
            down: [None, None],
            outages: Vec::new(),
            waiting: [Vec::new(), Vec::new()],
            committed_at: BTreeMap::new(),
            delivered: BTreeMap::new(),
            bus: Bus::new(link, seed),
            controller,
            job_side: BTreeMap::new(),
            watched: BTreeMap::new(),
            ownership_violations: 0,
        }));
        Ok(h)
    }

    /// The cores of the run: one, or VN's and CN's.
    pub fn cores_mut(&mut self) -> Vec<&mut Core> {
        match self.two.as_deref_mut() {
            Some(two) => vec![&mut self.core, &mut two.cn],
            None => vec![&mut self.core],
        }
    }

    /// Jobs still open, on every side.
    pub fn open_jobs(&mut self) -> usize {
        self.cores_mut().into_iter().map(|c| c.open_jobs()).sum()
    }

    /// Every committed plan, a crossing's two halves joined at the border
    /// node where one side's plan ends and the other's begins, so that the
    /// verifier sees each vehicle's plan whole. A half that joins nothing
    /// stays as it is, and the verifier finds it does not end at rest.
    pub fn plans(&mut self) -> Vec<TimedPlan> {
        let plans: Vec<TimedPlan> = self
            .cores_mut()
            .into_iter()
            .flat_map(|c| c.plans())
            .collect();
        let (open, mut whole): (Vec<TimedPlan>, Vec<TimedPlan>) = plans
            .into_iter()
            .partition(|p| p.steps.last().is_some_and(|e| e.depart != NEVER));
        for p in open {
            let Some(&end) = p.steps.last() else { continue };
            let next = whole.iter().position(|q| {
                q.vehicle == p.vehicle
                    && q.steps
                        .first()
                        .is_some_and(|f| f.node == end.node && f.arrive == end.arrive)
            });
            match next {
                Some(k) => {
                    let q = &whole[k];
                    let mut steps = p.steps;
                    if let Some(last) = steps.last_mut() {
                        last.depart = q.steps[0].depart;
                    }
                    steps.extend(q.steps.iter().skip(1).copied());
                    whole[k] = TimedPlan {
                        vehicle: p.vehicle,
                        steps,
                    };
                }
                None => whole.push(p),
            }
        }
        whole.sort_by_key(|p| p.vehicle);
        whole
    }

    /// What crossed the link between the sides, in a two-sided run, with
    /// the handoffs still open and the custody ledger as they are now.
    pub fn link_stats(&mut self) -> Option<LinkStats> {
        let two = self.two.as_deref_mut()?;
        let mut stats = two.bus.stats;
        stats.open_at_end = two
            .desks
            .iter()
            .flat_map(|d| d.handoffs.records())
            .filter(|r| !r.is_finished())
            .count() as u64;
        stats.containers_redelivered = two.delivered.values().filter(|&&n| n > 1).count() as u64;
        let open = |core: &mut Core| -> BTreeSet<String> {
            core.snapshot()
                .jobs
                .into_iter()
                .map(|j| j.container)
                .collect()
        };
        let cn = open(&mut two.cn);
        let vn = open(&mut self.core);
        // The far side knows the job of a vehicle it expects from its
        // entry request on: a container in a handoff still open is on both
        // sides' books by design, and custody moves only when it closes.
        let moving: BTreeSet<String> = two
            .desks
            .iter()
            .flat_map(|d| d.handoffs.records())
            .filter(|r| !r.is_finished())
            .map(|r| r.entry.container.clone())
            .collect();
        stats.containers_on_both_sides = vn
            .intersection(&cn)
            .filter(|c| !moving.contains(*c))
            .count() as u64;
        stats.on_bridge_at_end = self
            .vehicles
            .iter()
            .filter(|v| !self.map.node(v.node).kind.may_wait())
            .count() as u64;
        Some(stats)
    }

    /// Stops side `side`'s orchestrator at `at` for `down_ms`, then starts
    /// it again from its database. Only in a two-sided run, and only
    /// before it has run: the database journals the side from the start.
    pub fn schedule_restart(&mut self, side: Side, at: Ms, down_ms: Ms) -> Result<(), String> {
        let started = self.now > 0 || !self.log.is_empty();
        let Some(two) = self.two.as_deref_mut() else {
            return Err("a restart needs two orchestrators".into());
        };
        let s = ix(side);
        if two.durable[s].is_none() {
            if started {
                return Err("a restart must be scheduled before the run starts".into());
            }
            if two.dir.is_none() {
                // A RAM disk where there is one: the same SQLite code, but
                // its syncs cost nothing.
                let shm = std::path::Path::new("/dev/shm");
                let base = if shm.is_dir() {
                    shm.to_path_buf()
                } else {
                    std::env::temp_dir()
                };
                let dir = tempfile::Builder::new()
                    .prefix("borderlane-sim-")
                    .tempdir_in(base)
                    .map_err(|e| format!("a directory for the databases: {e}"))?;
                two.dir = Some(dir);
            }
            let dir = two.dir.as_ref().map(|d| d.path().to_path_buf());
            let path = dir
                .unwrap_or_default()
                .join(format!("{}.db", side.code().to_lowercase()));
            two.durable[s] = Some(Durable::open(&path).map_err(|e| e.to_string())?);
        }
        two.restarts.insert((at, s, down_ms.max(1)));
        Ok(())
    }

    /// Commands from a side that did not command the vehicle.
    pub fn ownership_violations(&self) -> u64 {
        self.two.as_ref().map_or(0, |t| t.ownership_violations)
    }

    /// Keep the log lines in memory (on by default); the digest is kept
    /// either way.
    pub fn keep_log(&mut self, keep: bool) {
        self.keep_log = keep;
    }

    /// Queues an input for the core at virtual time `at`.
    pub fn schedule(&mut self, at: Ms, input: Input) {
        self.seq += 1;
        self.inputs.insert((at, self.seq), input);
    }

    /// Makes a vehicle break down at the first node off the bridge it
    /// reaches at or after `at`, and stay broken for `repair_ms`.
    pub fn schedule_breakdown(&mut self, vehicle: &str, at: Ms, repair_ms: Ms) {
        self.schedule_breakdown_at(vehicle, at, repair_ms, Where::Road);
    }

    /// Makes a vehicle break down at the first node of the given kind (off
    /// the bridge, or on it) it reaches at or after `at`, and stay broken,
    /// blocking the node, for `repair_ms`.
    pub fn schedule_breakdown_at(&mut self, vehicle: &str, at: Ms, repair_ms: Ms, place: Where) {
        if let Some(v) = self.vehicles.iter_mut().find(|v| v.serial == vehicle) {
            v.breakdowns.push((at, repair_ms, place));
            v.breakdowns.sort();
        }
    }

    /// Makes a vehicle lose its link at the first node off the bridge it
    /// reaches at or after `at` (or at `at` if it stands at rest), for
    /// `for_ms`. Without its link it stops there and waits. A vehicle
    /// handed over drives on over the border first: the commit released its
    /// order as far as the border node.
    pub fn schedule_link_loss(&mut self, vehicle: &str, at: Ms, for_ms: Ms) {
        if let Some(v) = self.vehicles.iter_mut().find(|v| v.serial == vehicle) {
            v.link_losses.push((at, for_ms));
            v.link_losses.sort();
        }
    }

    /// Sets the battery model and each vehicle's starting charge, in fleet
    /// order (vehicles beyond `start_pct` start full).
    pub fn set_battery(&mut self, model: Battery, start_pct: &[f64]) {
        self.battery = model;
        for (v, &pct) in self.vehicles.iter_mut().zip(start_pct) {
            v.cell = Cell::new(pct.clamp(0.0, 100.0));
        }
    }

    /// What each vehicle went through, in fleet order.
    pub fn vehicle_stats(&self) -> Vec<VehicleStats> {
        let now = self.now;
        self.vehicles
            .iter()
            .zip(&self.stats)
            .map(|(v, s)| {
                let mut s = s.clone();
                s.battery_pct = v.cell.pct(&self.battery, now);
                s.lowest_battery_pct = v.cell.lowest_pct;
                s.depleted = v.cell.depleted;
                s.charged_ms = v.cell.charged_ms
                    + v.cell
                        .full_at(&self.battery)
                        .map_or(0, |_| self.charging_so_far(v, now));
                s
            })
            .collect()
    }

    fn charging_so_far(&self, v: &SimVehicle, now: Ms) -> Ms {
        let mut c = v.cell.clone();
        let before = c.charged_ms;
        c.stop_charging(&self.battery, now);
        c.charged_ms - before
    }

    /// Whether each vehicle charges now, in fleet order.
    pub fn charging(&self) -> Vec<bool> {
        self.vehicles.iter().map(|v| v.cell.charging()).collect()
    }

    /// The places the operator has taken out of service.
    pub fn blocked(&self) -> &BTreeSet<NodeIx> {
        &self.blocked
    }

    pub fn now(&self) -> Ms {
        self.now
    }

    pub fn log(&self) -> &[LogLine] {
        &self.log
    }

    /// The SHA-256 of every log line, as JSON, in order.
    pub fn digest(&self) -> String {
        let d = self.digest.clone().finalize();
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// What every vehicle did, for the verifier.
    pub fn trace(&self) -> Vec<TimedPlan> {
        self.vehicles
            .iter()
            .map(|v| TimedPlan::new(v.id, v.trace.clone()))
            .collect()
    }

    /// Whether every vehicle stands at rest (no plan step ahead of it).
    pub fn fleet_at_rest(&self) -> bool {
        self.vehicles
            .iter()
            .all(|v| v.plan.last().is_none_or(|s| s.step.arrive <= self.now))
    }

    fn record(&mut self, side: usize, entry: LogEntry) {
        let side = self.two.is_some().then_some(SIDES[side]);
        let line = LogLine {
            t: self.now,
            side,
            entry,
        };
        let json = serde_json::to_string(&line).unwrap_or_default();
        self.digest.update(json.as_bytes());
        self.digest.update(b"\n");
        if self.keep_log {
            self.log.push(line);
        }
    }

    fn give(&mut self, input: Input) {
        // The shell sees the operator's commands too: a place out of
        // service charges nobody.
        let outage = match &input {
            Input::Operator(OperatorCommand::BlockPlace { node }) => {
                self.map.node_by_id(node).map(|n| (n, true))
            }
            Input::Operator(OperatorCommand::UnblockPlace { node }) => {
                self.map.node_by_id(node).map(|n| (n, false))
            }
            _ => None,
        };
        if let Some((n, blocked)) = outage {
            if blocked {
                self.blocked.insert(n);
            } else {
                self.blocked.remove(&n);
            }
        }
        match self.route(&input).as_slice() {
            [only] => self.give_to(*only, input),
            sides => {
                for &side in sides {
                    self.give_to(side, input.clone());
                }
            }
        }
        if outage.is_some() {
            for i in 0..self.vehicles.len() {
                self.update_charging(i);
            }
        }
    }

    /// Starts or stops vehicle `i` charging: it charges while it rests at
    /// the end of a plan whose last step is a charge at a charger in
    /// service, and is neither broken nor done charging.
    fn update_charging(&mut self, i: usize) {
        let now = self.now;
        let map = &self.map;
        let v = &mut self.vehicles[i];
        let should = !v.broken
            && v.reached.is_some_and(|r| r + 1 == v.plan.len())
            && v.plan.last().is_some_and(|s| {
                matches!(&s.action, Some((id, ActionKind::Charge, _)) if !v.finished.contains(id))
                    && map.node(s.step.node).kind == NodeKind::Charger
                    && !self.blocked.contains(&s.step.node)
            });
        if should {
            v.cell.start_charging(now);
        } else {
            v.cell.stop_charging(&self.battery, now);
        }
    }

    /// The core (side index) an input goes to: the only core, or in a
    /// two-sided run the side it concerns (a job's pickup, a node's side,
    /// the side that commands a vehicle), or both for the whole lane.
    fn route(&mut self, input: &Input) -> Vec<usize> {
        let Some(two) = self.two.as_deref_mut() else {
            return vec![0];
        };
        let map = &self.map;
        let node_side = |node: &str| {
            map.node_by_id(node)
                .and_then(|n| map.node(n).side)
                .map_or(vec![0, 1], |s| vec![ix(s)])
        };
        let vehicle_side = |two: &TwoSided, vehicle: &str| match two.controller.get(vehicle) {
            Some(Some(side)) => vec![*side],
            // In flight, or unknown: the side it was handed over from
            // still watches it; an unknown one is refused there.
            _ => self
                .vehicles
                .iter()
                .find(|v| v.serial == vehicle)
                .map_or(vec![0], |v| vec![ix(map.side_of(v.node))]),
        };
        match input {
            Input::Job(job) => {
                let sides = node_side(&job.pickup);
                two.job_side.insert(job.id.clone(), sides[0]);
                sides[..1].to_vec()
            }
            Input::State(r) => {
                let mut sides = vehicle_side(two, &r.vehicle);
                if let Some(&near) = two.watched.get(&r.vehicle) {
                    // The first report from beyond is the last it reads.
                    let here = map.node_by_id(&r.last_node).map(|n| ix(map.side_of(n)));
                    if !sides.contains(&near) {
                        sides.push(near);
                    }
                    if here != Some(near) {
                        two.watched.remove(&r.vehicle);
                    }
                }
                sides
            }
            Input::Operator(cmd) => match cmd {
                OperatorCommand::BlockPlace { node } | OperatorCommand::UnblockPlace { node } => {
                    node_side(node)
                }
                OperatorCommand::PauseLane | OperatorCommand::ResumeLane => vec![0, 1],
                OperatorCommand::CancelJob { job } | OperatorCommand::Reprioritise { job, .. } => {
                    two.job_side.get(job).map_or(vec![0, 1], |&s| vec![s])
                }
                OperatorCommand::PauseVehicle { vehicle }
                | OperatorCommand::ResumeVehicle { vehicle }
                | OperatorCommand::SendToCharger { vehicle }
                | OperatorCommand::SendToParking { vehicle } => vehicle_side(two, vehicle),
            },
            Input::Crossing(_) => vec![0],
        }
    }

    fn core_at(&mut self, side: usize) -> &mut Core {
        match self.two.as_deref_mut() {
            Some(two) if side == 1 => &mut two.cn,
            _ => &mut self.core,
        }
    }

    fn give_to(&mut self, side: usize, input: Input) {
        let now = self.now;
        if let Some(two) = self.two.as_deref_mut() {
            if two.down[side].is_some() {
                match input {
                    Input::Job(_) | Input::Operator(_) => two.waiting[side].push(input),
                    _ => two.bus.stats.lost_while_down += 1,
                }
                return;
            }
            if let Some(d) = two.durable[side].as_mut() {
                let step = CoreStep::Input {
                    input: input.clone(),
                };
                if d.journal(now, &step).is_err() {
                    // Not journalled, so not taken.
                    two.bus.stats.store_errors += 1;
                    return;
                }
            }
        }
        self.record(
            side,
            LogEntry::In {
                input: input.clone(),
            },
        );
        let now = self.now;
        self.core_at(side).handle(now, input);
        self.drain(side);
    }

    fn drain(&mut self, side: usize) {
        let timeout = self.core_at(side).poll_timeout();
        match self.two.as_deref_mut() {
            Some(two) if side == 1 => two.cn_timeout = timeout,
            _ => self.timeout = timeout,
        }
        while let Some(out) = self.core_at(side).poll_output() {
            self.record(
                side,
                LogEntry::Out {
                    output: out.clone(),
                },
            );
            match out {
                Output::Command(cmd) => self.apply(side, cmd),
                Output::Crossing(c) => self.cross(side, c),
                Output::Event(event) => {
                    let now = self.now;
                    if let Some(two) = self.two.as_deref_mut() {
                        if let Some(d) = two.durable[side].as_mut() {
                            d.observe(now, &event);
                        }
                        if let borderlane_core::io::Event::JobDelivered { container, .. } = event {
                            *two.delivered.entry(container).or_default() += 1;
                        }
                    }
                }
            }
        }
        // What the events change in the jobs and custody tables.
        if let Some(two) = self.two.as_deref_mut()
            && let Some(d) = two.durable[side].as_mut()
            && d.commit(&[], None, &[]).is_err()
        {
            two.bus.stats.store_errors += 1;
        }
    }

    /// Hands a core's crossing step to its side's desk, then moves on what
    /// the desk produced.
    fn cross(&mut self, side: usize, c: CrossingOutput) {
        let now = self.now;
        let Some(two) = self.two.as_deref_mut() else {
            return;
        };
        if let CrossingOutput::Commit { vehicle, .. } = &c {
            // Handed over: nobody commands it until the far side adopts it.
            two.controller.insert(vehicle.clone(), None);
            two.watched.insert(vehicle.clone(), side);
            two.committed_at.insert(vehicle.clone(), now);
            if let Some(v) = self.vehicles.iter_mut().find(|v| &v.serial == vehicle) {
                v.released_to_border = true;
            }
        }
        if let CrossingOutput::Withdraw { .. } = &c {
            two.bus.stats.rolled_back += 1;
        }
        if two.desks[side].call(now, c).is_err() {
            two.bus.stats.protocol_errors += 1;
        }
        self.flush(side);
    }

    /// Sends what a desk has to send and gives its core what it must be
    /// told.
    fn flush(&mut self, side: usize) {
        let now = self.now;
        let Some(two) = self.two.as_deref_mut() else {
            return;
        };
        if two.down[side].is_some() {
            return;
        }
        // What the desk changed is stored before anything it sends.
        if let Some(d) = two.durable[side].as_mut()
            && d.persist(now, &mut two.desks[side]).is_err()
        {
            two.bus.stats.store_errors += 1;
            two.desk_timeouts[side] = two.desks[side].handoffs.poll_timeout();
            return;
        }
        for bytes in two.desks[side].transmit() {
            two.bus.send(now, 1 - side, bytes);
        }
        let effects = two.desks[side].effects();
        two.desk_timeouts[side] = two.desks[side].handoffs.poll_timeout();
        for input in &effects {
            match input {
                CrossingInput::Adopted { vehicle } => {
                    two.controller.insert(vehicle.clone(), Some(side));
                }
                CrossingInput::Transferred { .. } => two.bus.stats.completed += 1,
                CrossingInput::Kept { .. } => two.bus.stats.rolled_back += 1,
                _ => {}
            }
        }
        for input in effects {
            self.give_to(side, Input::Crossing(input));
        }
    }

    fn apply(&mut self, side: usize, cmd: Command) {
        let map = Shared::clone(&self.map);
        if let Some(two) = self.two.as_deref_mut() {
            let vehicle = match &cmd {
                Command::Drive { vehicle, .. }
                | Command::Pause { vehicle }
                | Command::Resume { vehicle } => vehicle,
            };
            if two.controller.get(vehicle) != Some(&Some(side)) {
                // Only the side that commands a vehicle may write to it.
                two.ownership_violations += 1;
                return;
            }
        }
        match cmd {
            Command::Drive {
                vehicle,
                plan_id,
                steps,
            } => {
                let now = self.now;
                let Some(i) = self.vehicles.iter().position(|v| v.serial == vehicle) else {
                    return;
                };
                if self.vehicles[i].link_lost {
                    // The command does not reach the vehicle.
                    self.stats[i].commands_while_lost += 1;
                    return;
                }
                let mut resolved: Vec<Resolved> = steps.iter().map(|s| resolve(&map, s)).collect();
                let v = &mut self.vehicles[i];
                self.stats[i].late_steps += drive(&self.physics, &mut resolved, v.loaded, now);
                if let Some(k) = continues_at(v, &resolved, now) {
                    // The other side's orders continue the plan at the
                    // border node ahead, without a stop.
                    stitch_trace(&mut v.trace, &resolved);
                    v.plan.truncate(k + 1);
                    v.plan[k].step.depart = resolved[0].step.depart;
                    v.plan[k].step.stops = resolved[0].step.stops;
                    v.plan.extend(resolved.into_iter().skip(1));
                    v.offset = k;
                    v.plan_id = Some(plan_id);
                    v.finished.clear();
                    // A vehicle reports its state when it takes an order.
                    v.report_at = Some(now + ORDER_REPORT_MS);
                    return;
                }
                v.offset = 0;
                v.released_to_border = false;
                splice_trace(&mut v.trace, &resolved, now);
                v.plan_id = Some(plan_id);
                v.plan = resolved;
                v.finished.clear();
                v.paused = false;
                // The first step is where the vehicle is (or the end of the
                // arc it is on).
                v.reached = if v.plan.first().is_some_and(|s| s.step.arrive <= now) {
                    Some(0)
                } else {
                    None
                };
                self.update_charging(i);
                self.vehicles[i].report_at = Some(now + ORDER_REPORT_MS);
            }
            Command::Pause { vehicle } => {
                let now = self.now;
                if let Some(i) = self.vehicles.iter().position(|v| v.serial == vehicle) {
                    if self.vehicles[i].link_lost {
                        self.stats[i].commands_while_lost += 1;
                        return;
                    }
                    let v = &mut self.vehicles[i];
                    v.paused = true;
                    stop_trace(&mut v.trace, now);
                    self.update_charging(i);
                }
            }
            Command::Resume { .. } => {}
        }
    }

    /// Side `side`'s orchestrator stops: its core and desk are dropped
    /// from the run (they are rebuilt from the database on start), nothing
    /// reaches it, and its vehicles carry out the last command they were
    /// sent and stop at its end.
    fn stop_side(&mut self, side: usize) {
        let now = self.now;
        let Some(two) = self.two.as_deref_mut() else {
            return;
        };
        let Some((at, s, down)) = two.restarts.pop_first() else {
            return;
        };
        debug_assert_eq!(s, side);
        if two.down[side].is_some() {
            // Already down: the later start stands.
            let until = two.down[side].unwrap_or(at).max(at + down);
            two.down[side] = Some(until);
            return;
        }
        two.down[side] = Some(now + down);
        two.outages.push((side, now, NEVER));
        if side == 1 {
            two.cn_timeout = None;
        } else {
            self.timeout = None;
        }
    }

    /// Side `side`'s orchestrator starts again: a new core and desk from
    /// its database (`Durable::recover`, as a live station does), then the
    /// state of every vehicle it commands or watches, then the jobs and
    /// commands that waited for it.
    fn start_side(&mut self, side: usize) {
        let now = self.now;
        let map = Shared::clone(&self.map);
        let Some(two) = self.two.as_deref_mut() else {
            return;
        };
        if two.down[side].take().is_none() {
            return;
        }
        if let Some(o) = two.outages.iter_mut().rev().find(|o| o.0 == side) {
            o.2 = now;
        }
        let me = SIDES[side];
        let (key, peer) = sim_keys(me);
        let recovered = two.durable[side].as_ref().map(|d| {
            d.recover(
                Shared::clone(&map),
                two.configs[side].clone(),
                HandoffConfig::new(me),
                key,
                peer,
                &two.borders[side],
            )
        });
        let Some(Ok(r)) = recovered else {
            // Without its database the side cannot start: it stays down.
            two.bus.stats.store_errors += 1;
            two.down[side] = Some(NEVER);
            return;
        };
        two.bus.stats.restarts += 1;
        two.bus.stats.replayed += r.replayed as u64;
        two.desks[side] = r.desk;
        two.desk_timeouts[side] = two.desks[side].handoffs.poll_timeout();
        let waiting = std::mem::take(&mut two.waiting[side]);
        *self.core_at(side) = r.core;
        let timeout = self.core_at(side).poll_timeout();
        if side == 1 {
            if let Some(two) = self.two.as_deref_mut() {
                two.cn_timeout = timeout;
            }
        } else {
            self.timeout = timeout;
        }
        let reporting: Vec<usize> = (0..self.vehicles.len())
            .filter(|&i| {
                let serial = &self.vehicles[i].serial;
                self.two.as_deref().is_some_and(|t| {
                    t.controller.get(serial) == Some(&Some(side))
                        || t.watched.get(serial) == Some(&side)
                })
            })
            .collect();
        for i in reporting {
            self.report(i);
        }
        for input in waiting {
            self.give(input);
        }
        self.flush(side);
    }

    fn report(&mut self, i: usize) {
        let v = &self.vehicles[i];
        let r = VehicleReport {
            vehicle: v.serial.clone(),
            plan_id: v.plan_id,
            last_step: v.reached.and_then(|r| r.checked_sub(v.offset)),
            last_node: self.map.node(v.node).id.clone(),
            // Between two nodes of its plan (it reports at nodes, and when
            // it takes an order, which may come while it drives).
            driving: !v.paused
                && match v.reached {
                    Some(k) => k + 1 < v.plan.len() && v.plan[k].step.depart < self.now,
                    None => v.plan.first().is_some_and(|s| s.step.arrive > self.now),
                },
            battery_pct: v.cell.pct(&self.battery, self.now),
            loaded: v.loaded,
            broken: v.broken,
            link_lost: v.link_lost,
            finished_actions: v.finished.iter().copied().collect(),
        };
        self.give(Input::State(r));
    }

    /// The next thing that happens to vehicle `i`, and when.
    fn next_vehicle_event(&self, i: usize) -> Option<(Ms, VehicleEvent)> {
        let next = self.next_motion_event(i);
        match self.vehicles[i].report_at {
            Some(t) if next.as_ref().is_none_or(|(n, _)| t <= *n) => {
                Some((t, VehicleEvent::Report))
            }
            _ => next,
        }
    }

    /// The next thing that happens to vehicle `i` itself, and when.
    fn next_motion_event(&self, i: usize) -> Option<(Ms, VehicleEvent)> {
        let v = &self.vehicles[i];
        if let Some(t) = v.repair_at {
            return Some((t, VehicleEvent::Repaired));
        }
        if let Some(t) = v.link_back_at {
            return Some((t, VehicleEvent::LinkBack));
        }
        if v.broken || v.paused {
            return None;
        }
        let mut best: Option<(Ms, VehicleEvent)> = None;
        let next = v.reached.map_or(0, |r| r + 1);
        if let Some(s) = v.plan.get(next) {
            best = Some((s.step.arrive, VehicleEvent::Arrive(next)));
        } else if let Some(&(at, _)) = v.link_losses.first() {
            // A vehicle at rest loses its link where it stands.
            best = Some((at.max(self.now), VehicleEvent::LinkLost));
        }
        if let Some(r) = v.reached
            && let Some(s) = v.plan.get(r)
            && let Some((id, kind, d)) = &s.action
            && !v.finished.contains(id)
        {
            let t = if *kind == ActionKind::Charge {
                // A charge is done when the battery is full; one that has
                // not started (the charger is out of service) waits.
                match v.cell.full_at(&self.battery) {
                    Some(t) => t,
                    None => return best,
                }
            } else {
                s.step.arrive + d
            };
            if best.as_ref().is_none_or(|(bt, _)| t < *bt) {
                best = Some((t, VehicleEvent::Finish(r)));
            }
        }
        best
    }

    /// Runs the whole system until virtual time `end`.
    pub fn run_until(&mut self, end: Ms) {
        loop {
            // The earliest of: a queued input, the core's timeout, a vehicle
            // event. Ties go inputs first, then vehicles by id, then the core.
            let mut best: Option<(Ms, u8, usize)> = None;
            let mut consider = |t: Ms, kind: u8, i: usize| {
                if best.is_none_or(|b| (t, kind, i) < b) {
                    best = Some((t, kind, i));
                }
            };
            if let Some((&(t, _), _)) = self.inputs.first_key_value() {
                consider(t, 0, 0);
            }
            let mut events = Vec::new();
            for i in 0..self.vehicles.len() {
                if let Some((t, e)) = self.next_vehicle_event(i) {
                    consider(t, 1, i);
                    events.push((i, e));
                }
            }
            if let Some(t) = self.timeout {
                consider(t, 2, 0);
            }
            // In a two-sided run: the CN core's timeout, then the desks'
            // (VN, CN), then the link's next arrival.
            if let Some(two) = self.two.as_deref() {
                if let Some(t) = two.cn_timeout {
                    consider(t, 2, 1);
                }
                for (d, timeout) in two.desk_timeouts.iter().enumerate() {
                    if two.down[d].is_some() {
                        continue;
                    }
                    if let Some(t) = *timeout {
                        consider(t, 3, d);
                    }
                }
                if let Some(t) = two.bus.next_arrival() {
                    consider(t, 4, 0);
                }
                // A side stopping, then starting again.
                if let Some(&(t, side, _)) = two.restarts.first() {
                    consider(t, 5, side);
                }
                for (side, until) in two.down.iter().enumerate() {
                    if let Some(t) = until {
                        consider(*t, 6, side);
                    }
                }
            }
            let Some((t, kind, i)) = best else { break };
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            match kind {
                0 => {
                    let (_, input) = self.inputs.pop_first().expect("an input was queued");
                    self.give(input);
                }
                1 => {
                    let e = events
                        .iter()
                        .find(|(j, _)| *j == i)
                        .map(|(_, e)| *e)
                        .expect("event found");
                    self.vehicle_event(i, e);
                }
                2 => {
                    let now = self.now;
                    if let Some(two) = self.two.as_deref_mut()
                        && let Some(d) = two.durable[i].as_mut()
                        && d.journal(now, &CoreStep::Wake).is_err()
                    {
                        // Still taken, so that the run goes on; a run with
                        // store errors is not a clean one.
                        two.bus.stats.store_errors += 1;
                    }
                    self.core_at(i).handle_timeout(now);
                    self.drain(i);
                }
                5 => self.stop_side(i),
                6 => self.start_side(i),
                3 => {
                    let now = self.now;
                    if let Some(two) = self.two.as_deref_mut() {
                        two.desks[i].handoffs.handle_timeout(now);
                    }
                    self.flush(i);
                }
                _ => self.deliver(),
            }
        }
        self.now = self.now.max(end);
    }

    /// Delivers the next message on the link to its side's desk.
    fn deliver(&mut self) {
        let now = self.now;
        let Some(two) = self.two.as_deref_mut() else {
            return;
        };
        let Some((to, bytes)) = two.bus.pop() else {
            return;
        };
        if two.down[to].is_some() {
            two.bus.stats.lost_while_down += 1;
            return;
        }
        match two.desks[to].receive(now, &bytes) {
            Ok(()) => two.bus.stats.delivered += 1,
            Err(_) => two.bus.stats.rejected += 1,
        }
        self.flush(to);
    }

    fn vehicle_event(&mut self, i: usize, e: VehicleEvent) {
        let now = self.now;
        match e {
            VehicleEvent::Repaired => {
                let v = &mut self.vehicles[i];
                v.repair_at = None;
                v.broken = false;
                self.report(i);
            }
            VehicleEvent::Report => {
                self.vehicles[i].report_at = None;
                self.report(i);
            }
            VehicleEvent::LinkBack => {
                let v = &mut self.vehicles[i];
                v.link_back_at = None;
                v.link_lost = false;
                self.report(i);
            }
            VehicleEvent::LinkLost => {
                let v = &mut self.vehicles[i];
                let (_, for_ms) = v.link_losses.remove(0);
                v.link_lost = true;
                v.link_back_at = Some(now + for_ms);
                self.stats[i].link_losses += 1;
                self.report(i);
            }
            VehicleEvent::Arrive(k) => {
                let map = Shared::clone(&self.map);
                let v = &mut self.vehicles[i];
                let s = v.plan[k].step;
                if let Some(arc) = s.arc {
                    v.cell.drive(&self.battery, self.physics.km(arc), v.loaded);
                }
                v.node = s.node;
                v.reached = Some(k);
                let last = k + 1 == v.plan.len();
                if last && s.depart != NEVER {
                    // Released only this far, and meant to pass on: it
                    // stops here until it has orders beyond.
                    v.plan[k].step.depart = NEVER;
                    v.plan[k].step.stops = true;
                    if let Some(t) = v
                        .trace
                        .iter_mut()
                        .rev()
                        .find(|t| t.node == s.node && t.arrive == s.arrive)
                    {
                        t.depart = NEVER;
                        t.stops = true;
                    }
                    self.stats[i].border_stops += 1;
                    if let Some(two) = self.two.as_deref_mut() {
                        let since = two.committed_at.get(&v.serial).copied().unwrap_or(0);
                        let down = two.down.iter().any(Option::is_some)
                            || two
                                .outages
                                .iter()
                                .any(|&(_, from, until)| from <= now && since < until);
                        if !down && !two.bus.cut_between(since, now) {
                            two.bus.stats.unexcused_border_stops += 1;
                        }
                    }
                }
                let mut must_report = s.stops || last || v.plan[k].action.is_some();
                let kind = map.node(s.node).kind;
                let on_bridge = !kind.may_wait();
                let broke = v
                    .breakdowns
                    .iter()
                    .position(|&(at, _, place)| at <= now && (place == Where::Bridge) == on_bridge);
                // A vehicle without its link drives on as far as it was
                // released, which ends where its plan stops it off the
                // bridge: a place, a queue at a stop line, a wait in a yard
                // aisle. There it waits, and may block a through road,
                // until its link is back.
                // An order that carries it over the border is released as
                // a whole once the handover is committed (PROTOCOL.md, 9:
                // publishing the base that ends at the border node is the
                // commit), so it drives on to the far side, through any
                // stop before the stop line; so does one whose next stop is
                // the border.
                let border_ahead = |n: &Resolved| map.node(n.step.node).kind == NodeKind::Border;
                let across = (v.released_to_border && v.plan[k + 1..].iter().any(border_ahead))
                    || v.plan[k + 1..]
                        .iter()
                        .find(|n| n.step.stops || border_ahead(n))
                        .is_some_and(border_ahead);
                let lost = v
                    .link_losses
                    .first()
                    .is_some_and(|&(at, _)| at <= now && kind.may_wait() && s.stops && !across);
                if let Some(b) = broke {
                    let (_, repair, _) = v.breakdowns.remove(b);
                    v.broken = true;
                    v.repair_at = Some(now + repair);
                } else if lost {
                    let (_, for_ms) = v.link_losses.remove(0);
                    v.link_lost = true;
                    v.link_back_at = Some(now + for_ms);
                    self.stats[i].link_losses += 1;
                }
                if broke.is_some() || lost {
                    // The vehicle stops where it is.
                    if let Some(at) = v
                        .trace
                        .iter()
                        .rposition(|t| t.node == s.node && t.arrive == s.arrive)
                    {
                        v.trace.truncate(at + 1);
                        v.trace[at].depart = NEVER;
                        v.trace[at].stops = true;
                    }
                    v.plan.truncate(k + 1);
                    must_report = true;
                }
                self.update_charging(i);
                if must_report {
                    self.report(i);
                }
            }
            VehicleEvent::Finish(k) => {
                let v = &mut self.vehicles[i];
                if let Some((id, kind, _)) = v.plan[k].action.clone() {
                    v.finished.insert(id);
                    if kind == ActionKind::Charge {
                        self.stats[i].charges += 1;
                    }
                    match kind {
                        ActionKind::Pick { .. } => v.loaded = true,
                        ActionKind::Drop { .. } => v.loaded = false,
                        _ => {}
                    }
                }
                self.update_charging(i);
                self.report(i);
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum VehicleEvent {
    Arrive(usize),
    Finish(usize),
    Repaired,
    LinkLost,
    LinkBack,
    /// Its state, sent when it took an order.
    Report,
}

/// Times a commanded plan as the vehicle can drive it: each arc takes at
/// least what the physics allow, from the later of the planned departure
/// and the actual arrival (plus the work at the node). On a plan the core
/// made with the same physics nothing changes. Returns how many steps are
/// reached later than planned. The first step is where the vehicle is (or
/// the end of the arc it is on) and keeps its times.
fn drive(physics: &Physics, plan: &mut [Resolved], mut loaded: bool, now: Ms) -> u64 {
    let mut late = 0;
    for k in 1..plan.len() {
        let prev = plan[k - 1].clone();
        if let Some((_, kind, _)) = &prev.action {
            match kind {
                ActionKind::Pick { .. } => loaded = true,
                ActionKind::Drop { .. } => loaded = false,
                _ => {}
            }
        }
        let dwell = prev.action.as_ref().map_or(0, |(_, _, d)| *d);
        let leave = prev.step.depart.max(prev.step.arrive + dwell);
        let s = &mut plan[k].step;
        let Some(arc) = s.arc else { continue };
        if s.enter < now {
            continue;
        }
        let least = physics.drive_ms(arc, loaded, prev.step.stops, s.stops);
        let arrive = s.arrive.max(leave + least);
        if arrive > s.arrive {
            late += 1;
            let shift = arrive - s.arrive;
            s.enter = leave;
            s.arrive = arrive;
            if s.depart != NEVER {
                s.depart += shift;
            }
        }
    }
    late
}

fn resolve(map: &LaneMap, s: &CommandStep) -> Resolved {
    let node = map
        .node_by_id(&s.node)
        .expect("the core commands nodes of its map");
    let arc = s.edge.as_ref().map(|_| {
        map.in_arcs(node)
            .iter()
            .copied()
            .find(|&a| Some(&map.arc_edge(a).id) == s.edge.as_ref())
            .expect("the core commands edges of its map")
    });
    Resolved {
        step: Step {
            node,
            arc,
            enter: s.enter_ms,
            arrive: s.arrive_ms,
            depart: s.depart_ms.unwrap_or(NEVER),
            stops: s.stops,
        },
        action: s
            .action
            .as_ref()
            .map(|a| (a.id, a.kind.clone(), a.duration_ms)),
    }
}

/// Where a new plan continues the vehicle's current one: its first step is
/// a step of the current plan not yet reached (the border node, at the same
/// time), so the vehicle drives on through it.
fn continues_at(v: &SimVehicle, plan: &[Resolved], now: Ms) -> Option<usize> {
    let first = plan.first()?.step;
    if first.arc.is_some() || first.arrive <= now {
        return None;
    }
    let next = v.reached.map_or(0, |r| r + 1);
    (next..v.plan.len()).find(|&k| {
        let s = v.plan[k].step;
        s.node == first.node && s.arrive == first.arrive && s.depart != NEVER
    })
}

/// Joins a continuing plan onto the trace at its first step.
fn stitch_trace(trace: &mut Vec<Step>, plan: &[Resolved]) {
    let Some(first) = plan.first().map(|r| r.step) else {
        return;
    };
    if let Some(at) = trace
        .iter()
        .rposition(|t| t.node == first.node && t.arrive == first.arrive)
    {
        trace.truncate(at + 1);
        trace[at].depart = first.depart;
        trace[at].stops = first.stops;
        trace.extend(plan.iter().skip(1).map(|r| r.step));
    }
}

/// Cuts what the vehicle will do at `now`: it stops where it is, at a node
/// or on the arc it has entered (a vehicle due to leave a node exactly now
/// is still at the node).
fn stop_trace(trace: &mut Vec<Step>, now: Ms) {
    let Some(i) = trace.iter().rposition(|s| s.enter < now || s.arc.is_none()) else {
        return;
    };
    trace.truncate(i + 1);
    let s = &mut trace[i];
    if s.arrive <= now {
        s.depart = NEVER;
        s.stops = true;
    } else {
        s.arrive = NEVER;
        s.depart = NEVER;
        s.stops = true;
    }
}

/// Joins a new plan onto what the vehicle has done: steps of the old plan
/// not yet reached are dropped, and the new plan continues from where the
/// vehicle is.
fn splice_trace(trace: &mut Vec<Step>, plan: &[Resolved], now: Ms) {
    let Some(first) = plan.first().map(|r| r.step) else {
        return;
    };
    if first.arc.is_some() {
        // The vehicle is on an arc: the old step at its end is replaced.
        while trace
            .last()
            .is_some_and(|s| s.arrive > now || s.arc == first.arc && s.enter == first.enter)
        {
            trace.pop();
        }
        if let Some(prev) = trace.last_mut() {
            prev.depart = first.enter;
        }
        trace.extend(plan.iter().map(|r| r.step));
    } else {
        while trace.last().is_some_and(|s| s.arrive > now) {
            trace.pop();
        }
        match trace.last_mut() {
            Some(prev) if prev.node == first.node => {
                prev.depart = first.depart;
                prev.stops |= first.stops;
                trace.extend(plan.iter().skip(1).map(|r| r.step));
            }
            _ => trace.extend(plan.iter().map(|r| r.step)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use borderlane_core::kinematics::VehicleProfile;
    use borderlane_model::ArcIx;

    fn map() -> LaneMap {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../maps/bac_luan_ii.geojson"
        ))
        .unwrap();
        LaneMap::from_geojson(&text).unwrap()
    }

    fn step(node: NodeIx, arc: Option<ArcIx>, enter: Ms, arrive: Ms, depart: Ms) -> Resolved {
        Resolved {
            step: Step {
                node,
                arc,
                enter,
                arrive,
                depart,
                stops: true,
            },
            action: None,
        }
    }

    #[test]
    fn a_plan_faster_than_the_physics_arrives_late() {
        let map = map();
        let physics = Physics::new(&map, VehicleProfile::default());
        let arc = ArcIx(0);
        let (from, to) = (map.arc(arc).from, map.arc(arc).to);
        let least = physics.drive_ms(arc, false, true, true);
        // A plan that allows the time the physics need is driven as planned.
        let mut plan = vec![
            step(from, None, 0, 0, 1_000),
            step(to, Some(arc), 1_000, 1_000 + least, NEVER),
        ];
        assert_eq!(drive(&physics, &mut plan, false, 0), 0);
        assert_eq!(plan[1].step.arrive, 1_000 + least);
        // One that asks for a second less is reached a second late.
        let mut plan = vec![
            step(from, None, 0, 0, 1_000),
            step(to, Some(arc), 1_000, least, NEVER),
        ];
        assert_eq!(drive(&physics, &mut plan, false, 0), 1);
        assert_eq!(plan[1].step.arrive, 1_000 + least);
        // Loaded, the vehicle is no faster than empty.
        assert!(physics.drive_ms(arc, true, true, true) >= least);
    }
}
