//! One core and its simulated fleet, stepped in virtual time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc as Shared;

use borderlane_core::io::{ActionKind, Command, CommandStep, VehicleReport};
use borderlane_core::{Core, CoreConfig, CoreError, Input, Output};
use borderlane_model::{LaneMap, Ms, NEVER, NodeIx, Step, TimedPlan, VehicleId};
use sha2::{Digest, Sha256};

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
    battery: f64,
    broken: bool,
    paused: bool,
    /// Scheduled breakdowns: at the first node reached at or after the time,
    /// the vehicle stops there for the given repair time.
    breakdowns: Vec<(Ms, Ms)>,
    repair_at: Option<Ms>,
    /// What the vehicle actually did.
    trace: Vec<Step>,
}

/// The core and its simulated vehicles.
pub struct Harness {
    pub core: Core,
    map: Shared<LaneMap>,
    vehicles: Vec<SimVehicle>,
    inputs: BTreeMap<(Ms, u64), Input>,
    seq: u64,
    now: Ms,
    log: Vec<LogLine>,
    keep_log: bool,
    digest: Sha256,
}

impl Harness {
    pub fn new(map: Shared<LaneMap>, config: CoreConfig) -> Result<Harness, CoreError> {
        let fleet = config.fleet.clone();
        let core = Core::new(Shared::clone(&map), config)?;
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
                    battery: 100.0,
                    broken: false,
                    paused: false,
                    breakdowns: Vec::new(),
                    repair_at: None,
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
            .collect();
        Ok(Harness {
            core,
            map,
            vehicles,
            inputs: BTreeMap::new(),
            seq: 0,
            now: 0,
            log: Vec::new(),
            keep_log: true,
            digest: Sha256::new(),
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

    /// Makes a vehicle break down at the first node it reaches at or after
    /// `at`, and stay broken for `repair_ms`.
    pub fn schedule_breakdown(&mut self, vehicle: &str, at: Ms, repair_ms: Ms) {
        if let Some(v) = self.vehicles.iter_mut().find(|v| v.serial == vehicle) {
            v.breakdowns.push((at, repair_ms));
            v.breakdowns.sort();
        }
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
        self.core.handle(self.now, input);
        self.drain();
    }

    fn drain(&mut self) {
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
                let Some(v) = self.vehicles.iter_mut().find(|v| v.serial == vehicle) else {
                    return;
                };
                let resolved: Vec<Resolved> = steps.iter().map(|s| resolve(&map, s)).collect();
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
            }
            Command::Pause { vehicle } => {
                let now = self.now;
                if let Some(v) = self.vehicles.iter_mut().find(|v| v.serial == vehicle) {
                    v.paused = true;
                    stop_trace(&mut v.trace, now);
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
            battery_pct: v.battery,
            loaded: v.loaded,
            broken: v.broken,
            link_lost: false,
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
        if v.broken || v.paused {
            return None;
        }
        let mut best: Option<(Ms, VehicleEvent)> = None;
        let next = v.reached.map_or(0, |r| r + 1);
        if let Some(s) = v.plan.get(next) {
            best = Some((s.step.arrive, VehicleEvent::Arrive(next)));
        }
        if let Some(r) = v.reached
            && let Some(s) = v.plan.get(r)
            && let Some((id, _, d)) = &s.action
            && !v.finished.contains(id)
        {
            let t = s.step.arrive + d;
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
            if let Some(t) = self.core.poll_timeout() {
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
            VehicleEvent::Arrive(k) => {
                let v = &mut self.vehicles[i];
                let s = v.plan[k].step;
                v.node = s.node;
                v.reached = Some(k);
                let last = k + 1 == v.plan.len();
                let mut must_report = s.stops || last || v.plan[k].action.is_some();
                if let Some(&(at, repair)) = v.breakdowns.first()
                    && at <= now
                    && self.map.node(s.node).kind.may_wait()
                {
                    v.breakdowns.remove(0);
                    v.broken = true;
                    v.repair_at = Some(now + repair);
                    // The vehicle stops where it broke down.
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
                if must_report {
                    self.report(i);
                }
            }
            VehicleEvent::Finish(k) => {
                let v = &mut self.vehicles[i];
                if let Some((id, kind, _)) = v.plan[k].action.clone() {
                    v.finished.insert(id);
                    match kind {
                        ActionKind::Pick { .. } => v.loaded = true,
                        ActionKind::Drop { .. } => v.loaded = false,
                        _ => {}
                    }
                }
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
