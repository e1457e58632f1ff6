//! One core and its simulated fleet, stepped in virtual time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc as Shared;

use borderlane_core::io::{ActionKind, Command, CommandStep, OperatorCommand, VehicleReport};
use borderlane_core::{Core, CoreConfig, CoreError, Input, Output};
use borderlane_model::{LaneMap, Ms, NEVER, NodeIx, NodeKind, Step, TimedPlan, VehicleId};
use sha2::{Digest, Sha256};

use crate::scenario::{Battery, Where};
use crate::vehicle::{Cell, Physics};

/// One line of the run's log: an input the core was given or an output it
/// produced, with the virtual time.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LogLine {
    pub t: Ms,
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
    /// What the vehicle actually did.
    trace: Vec<Step>,
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
}

/// The core and its simulated vehicles.
pub struct Harness {
    pub core: Core,
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
                    trace: vec![Step {
                        node,
                        arc: None,
                        enter: 0,
                        arrive: 0,
                        depart: NEVER,
                        stops: true,
                    }],
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
    /// `for_ms`. Without its link it stops there and waits.
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

    fn record(&mut self, entry: LogEntry) {
        let line = LogLine { t: self.now, entry };
        let json = serde_json::to_string(&line).unwrap_or_default();
        self.digest.update(json.as_bytes());
        self.digest.update(b"\n");
        if self.keep_log {
            self.log.push(line);
        }
    }

    fn give(&mut self, input: Input) {
        self.record(LogEntry::In {
            input: input.clone(),
        });
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
        self.core.handle(self.now, input);
        self.drain();
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

    fn drain(&mut self) {
        self.timeout = self.core.poll_timeout();
        while let Some(out) = self.core.poll_output() {
            self.record(LogEntry::Out {
                output: out.clone(),
            });
            if let Output::Command(cmd) = out {
                self.apply(cmd);
            }
        }
    }

    fn apply(&mut self, cmd: Command) {
        let map = Shared::clone(&self.map);
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

    fn report(&mut self, i: usize) {
        let v = &self.vehicles[i];
        let r = VehicleReport {
            vehicle: v.serial.clone(),
            plan_id: v.plan_id,
            last_step: v.reached,
            last_node: self.map.node(v.node).id.clone(),
            driving: false,
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
                _ => {
                    self.core.handle_timeout(self.now);
                    self.drain();
                }
            }
        }
        self.now = self.now.max(end);
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
                let lost = v
                    .link_losses
                    .first()
                    .is_some_and(|&(at, _)| at <= now && kind.may_wait() && s.stops);
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
