//! Planner and repair benchmarks on the Bac Luan II map.
//!
//! * `plan_one/{0,50,200,1000}`: one vehicle planned end to end (VN
//!   parking, pick at a VN yard slot, drop at a CN yard slot, rest at CN
//!   parking) against a reservation table holding about N reservations,
//!   built from other vehicles' trips planned and reserved with the same
//!   planner (0 is an empty table, for a baseline).
//! * `repair_bridge_breakdown_60`: a core with a 60-vehicle fleet and 60
//!   jobs queued, run with simulated vehicles that follow their plans to the
//!   moment the most vehicles are on the bridge; then the leader on the
//!   busier bridge lane reports a breakdown, and the timed part is the
//!   core handling that one report, repairing every affected plan.
//!
//! See BENCHMARKS.md at the workspace root for how to run them and the
//! figures measured.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use borderlane_core::io::{ActionKind, Channel, Command, CommandStep, JobRequest, VehicleReport};
use borderlane_core::kinematics::{Load, VehicleProfile};
use borderlane_core::planner::{Goal, Planner, Request, Start};
use borderlane_core::reservations::ReservationTable;
use borderlane_core::{Core, CoreConfig, Event, Input, Output, VehicleSpec};
use borderlane_model::{
    EdgeKind, LaneMap, Ms, NodeIx, NodeKind, SafetyRules, Side, TimedPlan, VehicleId,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const DWELL_MS: Ms = 90_000;

fn load_map() -> Arc<LaneMap> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps/bac_luan_ii.geojson");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Arc::new(LaneMap::from_geojson(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Places of one kind on one side, in map order.
fn places(map: &LaneMap, side: Side, kind: NodeKind) -> Vec<NodeIx> {
    map.node_ixs()
        .filter(|&n| map.node(n).kind == kind && map.node(n).side == Some(side))
        .collect()
}

// ---------------------------------------------------------------------------
// plan_one
// ---------------------------------------------------------------------------

/// A planner, a table holding about `target` reservations, and the request
/// to plan against it.
struct PlanOne {
    planner: Planner,
    table: ReservationTable,
    req: Request,
    /// Background trips reserved in full.
    trips: usize,
    /// Steps reserved of the last, partly driven background trip.
    partial: Option<usize>,
}

/// One trip across the border: from a parking place, pick at a yard slot,
/// drop at a yard slot on the other side, rest at parking there.
fn trip(
    vehicle: VehicleId,
    start: NodeIx,
    time: Ms,
    pick: NodeIx,
    drop: NodeIx,
    rest: Vec<NodeIx>,
) -> Request {
    Request {
        vehicle,
        start: Start::AtNode {
            node: start,
            time,
            stopped: true,
        },
        goals: vec![
            Goal {
                nodes: vec![pick],
                dwell: DWELL_MS,
            },
            Goal {
                nodes: vec![drop],
                dwell: DWELL_MS,
            },
        ],
        rest,
        loads: vec![Load::Empty, Load::Loaded, Load::Empty],
        exit: None,
    }
}

/// Background trips start one every `GAP_MS`.
const GAP_MS: Ms = 30_000;

/// Builds the table from background trips that alternate VN→CN and CN→VN,
/// one every `GAP_MS`, each from its own parking place and through its own
/// pair of yard slots, planned one after another with the same planner and
/// reserved. A whole trip holds a couple of hundred reservations, so the
/// last one is taken partly driven: only the rest of its plan is in the
/// table (as after the core prunes what is past), just enough to reach
/// `target`. The measured vehicle starts from a VN parking place no
/// background trip uses or rests at, in the middle of the background
/// departures.
fn plan_one_setup(map: &Arc<LaneMap>, target: usize) -> PlanOne {
    let headway = SafetyRules::default().headway_ms;
    let mut planner = Planner::new(Arc::clone(map), &VehicleProfile::default(), headway);
    let mut table = ReservationTable::new(map, headway);
    let parking = |s| places(map, s, NodeKind::Parking);
    let slots = |s| places(map, s, NodeKind::YardSlot);
    let (vn_park, cn_park) = (parking(Side::Vn), parking(Side::Cn));
    // The measured vehicle's start, kept free of background traffic.
    let my_start = *vn_park.last().expect("VN parking");
    let mut trips = 0usize;
    let mut partial = None;
    while table.len() < target {
        let k = trips;
        let (from, to) = if k.is_multiple_of(2) {
            (Side::Vn, Side::Cn)
        } else {
            (Side::Cn, Side::Vn)
        };
        let i = k / 2;
        let starts = if from == Side::Vn { &vn_park } else { &cn_park };
        let rest: Vec<NodeIx> = if to == Side::Vn { &vn_park } else { &cn_park }
            .iter()
            .copied()
            .filter(|&n| n != my_start)
            .collect();
        let (from_slots, to_slots) = (slots(from), slots(to));
        let vehicle = VehicleId(1 + k as u32);
        let req = trip(
            vehicle,
            starts[i % (starts.len() - 1)],
            k as Ms * GAP_MS,
            from_slots[(3 * i) % from_slots.len()],
            to_slots[(3 * i + 1) % to_slots.len()],
            rest,
        );
        let planned = planner
            .plan(&table, &req)
            .unwrap_or_else(|e| panic!("background trip {k}: {e}"));
        let mut whole = table.clone();
        whole.reserve(map, &planned.plan);
        if whole.len() <= target {
            table = whole;
            trips += 1;
            continue;
        }
        // The shortest rest of this trip that brings the table to target.
        let steps = &planned.plan.steps;
        for from_step in (0..steps.len()).rev() {
            let mut t = table.clone();
            t.reserve(map, &TimedPlan::new(vehicle, steps[from_step..].to_vec()));
            if t.len() >= target {
                table = t;
                partial = Some(steps.len() - from_step);
                break;
            }
        }
    }
    let departures = trips + usize::from(partial.is_some());
    let t = (departures as Ms / 2) * GAP_MS + GAP_MS / 2;
    let vn_slots = slots(Side::Vn);
    let cn_slots = slots(Side::Cn);
    let req = trip(
        VehicleId(0),
        my_start,
        t,
        vn_slots[vn_slots.len() / 2],
        cn_slots[cn_slots.len() / 2 + 1],
        cn_park.clone(),
    );
    PlanOne {
        planner,
        table,
        req,
        trips,
        partial,
    }
}

fn bench_plan_one(c: &mut Criterion) {
    let map = load_map();
    let mut group = c.benchmark_group("plan_one");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    // 0 is a baseline: the same request against an empty table.
    for target in [0usize, 50, 200, 1000] {
        let mut f = plan_one_setup(&map, target);
        let planned = f
            .planner
            .plan(&f.table, &f.req)
            .expect("the measured vehicle has a plan");
        let end = planned.plan.end_arrival().unwrap_or_default();
        let start = match f.req.start {
            Start::AtNode { time, .. } => time,
            Start::OnArc { enter, .. } => enter,
        };
        eprintln!(
            "plan_one/{target}: table.len() = {} from {} whole background trips \
             and {:?} steps of one more; plan of {} steps, start {:.0} s, trip {:.0} s; \
             expansions = {}",
            f.table.len(),
            f.trips,
            f.partial,
            planned.plan.steps.len(),
            start as f64 / 1e3,
            (end - start) as f64 / 1e3,
            f.planner.last_expansions,
        );
        group.bench_function(target.to_string(), |b| {
            b.iter(|| black_box(f.planner.plan(black_box(&f.table), black_box(&f.req))))
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// repair_bridge_breakdown_60
// ---------------------------------------------------------------------------

const FLEET: usize = 60;
const JOBS: usize = 60;

/// A fleet of `n` vehicles spread over both sides' parking places, then
/// chargers and yard slots (as in the workspace tests).
fn fleet(map: &LaneMap, n: usize) -> Vec<VehicleSpec> {
    let ids = |side, kind| -> Vec<String> {
        places(map, side, kind)
            .into_iter()
            .map(|n| map.node(n).id.clone())
            .collect()
    };
    let mut starts = Vec::new();
    for kind in [NodeKind::Parking, NodeKind::Charger, NodeKind::YardSlot] {
        let vn = ids(Side::Vn, kind);
        let cn = ids(Side::Cn, kind);
        for i in 0..vn.len().max(cn.len()) {
            starts.extend(vn.get(i).cloned());
            starts.extend(cn.get(i).cloned());
        }
    }
    assert!(n <= starts.len(), "the map has {} places", starts.len());
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

/// A job moving container `i` from a yard slot on `from` to the other side.
fn job(map: &LaneMap, i: usize, from: Side) -> JobRequest {
    let slots = places(map, from, NodeKind::YardSlot);
    JobRequest {
        id: format!("job-{i:05}"),
        container: format!("CONT{i:07}"),
        // Jobs alternate sides, so each side's jobs take its slots in turn.
        pickup: map.node(slots[(i / 2) % slots.len()]).id.clone(),
        channel: Channel::Green,
        customs_ms: 0,
        priority: 0,
        deadline: None,
    }
}

/// A simulated vehicle that drives its last Drive command exactly to plan
/// and reports the way the workspace harness does: on reaching a stop, an
/// action's node or the end of its plan, and on finishing an action.
struct SimVehicle {
    serial: String,
    node: String,
    plan_id: Option<u64>,
    steps: Vec<CommandStep>,
    /// The index of the last step reached.
    reached: Option<usize>,
    finished: Vec<u64>,
    loaded: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Wake {
    /// A vehicle reaches step `k` of its plan.
    Arrive(usize, usize),
    /// A vehicle finishes the action at step `k`.
    Finish(usize, usize),
    /// The core's own timeout.
    Core,
}

/// The core and its simulated fleet, stepped in virtual time.
struct Sim {
    core: Core,
    vehicles: Vec<SimVehicle>,
    now: Ms,
}

impl Sim {
    /// A core with the 60-vehicle fleet and 60 jobs queued at time 0,
    /// alternating VN→CN and CN→VN.
    fn new(map: &Arc<LaneMap>) -> Sim {
        let fleet = fleet(map, FLEET);
        let vehicles = fleet
            .iter()
            .map(|v| SimVehicle {
                serial: v.serial.clone(),
                node: v.start.clone(),
                plan_id: None,
                steps: Vec::new(),
                reached: None,
                finished: Vec::new(),
                loaded: false,
            })
            .collect();
        let config = CoreConfig {
            fleet,
            ..CoreConfig::default()
        };
        let core = Core::new(Arc::clone(map), config).expect("the fleet fits the map");
        let mut sim = Sim {
            core,
            vehicles,
            now: 0,
        };
        for i in 0..JOBS {
            let side = if i.is_multiple_of(2) {
                Side::Vn
            } else {
                Side::Cn
            };
            sim.core.handle(0, Input::Job(job(map, i, side)));
            sim.drain();
        }
        sim
    }

    fn drain(&mut self) {
        while let Some(out) = self.core.poll_output() {
            if let Output::Command(Command::Drive {
                vehicle,
                plan_id,
                steps,
            }) = out
                && let Some(v) = self.vehicles.iter_mut().find(|v| v.serial == vehicle)
            {
                v.reached = steps
                    .first()
                    .is_some_and(|s| s.arrive_ms <= self.now)
                    .then_some(0);
                v.plan_id = Some(plan_id);
                v.steps = steps;
                v.finished.clear();
            }
        }
    }

    fn report(&mut self, i: usize) {
        let v = &self.vehicles[i];
        let r = VehicleReport {
            vehicle: v.serial.clone(),
            plan_id: v.plan_id,
            last_step: v.reached,
            last_node: v.node.clone(),
            driving: false,
            battery_pct: 100.0,
            loaded: v.loaded,
            broken: false,
            link_lost: false,
            finished_actions: v.finished.clone(),
        };
        self.core.handle(self.now, Input::State(r));
        self.drain();
    }

    /// The next thing to happen: vehicles first at equal times, by index,
    /// then the core.
    fn next(&mut self) -> Option<(Ms, Wake)> {
        let mut best: Option<(Ms, Wake)> = None;
        let mut consider = |t: Ms, w: Wake| {
            if best.is_none_or(|b| (t, w) < b) {
                best = Some((t, w));
            }
        };
        for (i, v) in self.vehicles.iter().enumerate() {
            let k = v.reached.map_or(0, |r| r + 1);
            if let Some(s) = v.steps.get(k) {
                consider(s.arrive_ms, Wake::Arrive(i, k));
            }
            if let Some(r) = v.reached
                && let Some(a) = v.steps.get(r).and_then(|s| s.action.as_ref())
                && !v.finished.contains(&a.id)
            {
                consider(v.steps[r].arrive_ms + a.duration_ms, Wake::Finish(i, r));
            }
        }
        if let Some(t) = self.core.poll_timeout() {
            consider(t, Wake::Core);
        }
        best
    }

    fn wake(&mut self, t: Ms, w: Wake) {
        self.now = self.now.max(t);
        match w {
            Wake::Arrive(i, k) => {
                let v = &mut self.vehicles[i];
                let s = &v.steps[k];
                v.node = s.node.clone();
                v.reached = Some(k);
                if s.stops || s.action.is_some() || k + 1 == v.steps.len() {
                    self.report(i);
                }
            }
            Wake::Finish(i, k) => {
                let v = &mut self.vehicles[i];
                if let Some(a) = &v.steps[k].action {
                    v.finished.push(a.id);
                    match a.kind {
                        ActionKind::Pick { .. } => v.loaded = true,
                        ActionKind::Drop { .. } => v.loaded = false,
                        _ => {}
                    }
                }
                self.report(i);
            }
            Wake::Core => {
                self.core.handle_timeout(self.now);
                self.drain();
            }
        }
    }

    /// Runs everything that happens before `end`.
    fn run_before(&mut self, end: Ms) {
        while let Some((t, w)) = self.next() {
            if t >= end {
                break;
            }
            self.wake(t, w);
        }
        self.now = self.now.max(end);
    }
}

/// A vehicle the committed plans put on the bridge.
#[derive(Clone, Debug)]
struct OnBridge {
    vehicle: VehicleId,
    /// The plan step of the last bridge node it reached, and the node.
    step: usize,
    node: NodeIx,
    /// When it reached that node.
    arrive: Ms,
}

/// The vehicles the committed plans put on a bridge arc at `t`.
fn on_bridge(map: &LaneMap, plans: &[TimedPlan], t: Ms) -> Vec<OnBridge> {
    let mut found = Vec::new();
    for p in plans {
        let Some(v) = p.vehicle else { continue };
        let Some(i) = p.steps.iter().rposition(|s| s.arrive <= t) else {
            continue;
        };
        let next_on_bridge = p
            .steps
            .get(i + 1)
            .and_then(|s| s.arc)
            .is_some_and(|a| map.arc_edge(a).kind == EdgeKind::Bridge);
        if next_on_bridge && p.steps[i].depart <= t {
            found.push(OnBridge {
                vehicle: v,
                step: i,
                node: p.steps[i].node,
                arrive: p.steps[i].arrive,
            });
        }
    }
    found
}

/// What the probe run found: when the breakdown happens, and to whom.
#[derive(Clone, Debug)]
struct Script {
    now: Ms,
    victim: OnBridge,
    on_bridge: usize,
    moving: usize,
}

/// Vehicles whose committed plan still has steps ahead of `t`.
fn moving(plans: &[TimedPlan], t: Ms) -> usize {
    plans
        .iter()
        .filter(|p| p.steps.last().is_some_and(|s| s.arrive > t))
        .count()
}

/// Runs the fleet for the first hour and looks at every whole second for
/// the moment with the most vehicles on the bridge. The breakdown happens
/// then, to the leader of the busier lane (the vehicle furthest along it),
/// at the last bridge node its plan reached.
fn probe(map: &Arc<LaneMap>) -> Script {
    let horizon: Ms = 3_600_000;
    let mut sim = Sim::new(map);
    let mut best: Option<Script> = None;
    let mut second: Ms = 1_000;
    loop {
        let next = sim.next().map_or(horizon, |(t, _)| t.min(horizon));
        if second < next {
            let plans = sim.core.plans();
            while second < next {
                let crowd = on_bridge(map, &plans, second);
                if !crowd.is_empty() && best.as_ref().is_none_or(|b| crowd.len() > b.on_bridge) {
                    // The map names the lanes' nodes ..._NB and ..._SB.
                    let northbound = |b: &OnBridge| map.node(b.node).id.ends_with("_NB");
                    let nb = crowd.iter().filter(|b| northbound(b)).count();
                    let lane_nb = 2 * nb >= crowd.len();
                    let victim = crowd
                        .iter()
                        .filter(|b| northbound(b) == lane_nb)
                        .max_by_key(|b| {
                            (
                                map.node(b.node).kind == NodeKind::Border,
                                std::cmp::Reverse(b.arrive),
                            )
                        })
                        .cloned()
                        .expect("someone on that lane");
                    best = Some(Script {
                        now: second,
                        victim,
                        on_bridge: crowd.len(),
                        moving: moving(&plans, second),
                    });
                }
                second += 1_000;
            }
        }
        if next >= horizon {
            break;
        }
        let (t, w) = sim.next().expect("a wake-up");
        sim.wake(t, w);
    }
    // Where the hour leaves the fleet (see BENCHMARKS.md: vehicles rest on
    // the yard slot they dropped at, and dispatch runs out of drop slots).
    let plans = sim.core.plans();
    let on_slots = plans
        .iter()
        .filter(|p| {
            p.steps
                .last()
                .is_some_and(|s| map.node(s.node).kind == NodeKind::YardSlot)
        })
        .count();
    let stats = sim.core.stats();
    eprintln!(
        "repair_bridge_breakdown_60 setup: in the first hour {} plans committed, {} jobs \
         delivered, {} of {JOBS} still open; {} vehicles stand on yard slots at the end",
        stats.plans,
        stats.delivered,
        sim.core.open_jobs(),
        on_slots,
    );
    best.expect("someone crosses the bridge in the first hour")
}

/// A busy core, ready for the breakdown report at `now`.
struct Busy {
    core: Core,
    now: Ms,
    report: VehicleReport,
}

/// Rebuilds the busy core the probe found (the core and the simulated fleet
/// are deterministic), and the broken vehicle's report.
fn busy(map: &Arc<LaneMap>, script: &Script) -> Busy {
    let mut sim = Sim::new(map);
    sim.run_before(script.now);
    let i = script.victim.vehicle.0 as usize;
    let v = &sim.vehicles[i];
    let report = VehicleReport {
        vehicle: v.serial.clone(),
        plan_id: v.plan_id,
        last_step: Some(script.victim.step),
        last_node: map.node(script.victim.node).id.clone(),
        driving: false,
        battery_pct: 100.0,
        loaded: v.loaded,
        broken: true,
        link_lost: false,
        finished_actions: v.finished.clone(),
    };
    Busy {
        core: sim.core,
        now: script.now,
        report,
    }
}

fn bench_repair(c: &mut Criterion) {
    let map = load_map();
    let t0 = Instant::now();
    let script = probe(&map);
    let probe_time = t0.elapsed();

    // One run outside criterion, to see what the repair does.
    let t1 = Instant::now();
    let mut b = busy(&map, &script);
    let setup_time = t1.elapsed();
    let crowd = on_bridge(&map, &b.core.plans(), b.now);
    assert!(
        crowd.iter().any(|x| x.vehicle == script.victim.vehicle),
        "the replayed core puts the broken vehicle on the bridge too"
    );
    let reservations = b.core.reservations();
    let stats_before = b.core.stats();
    let t2 = Instant::now();
    b.core.handle(b.now, Input::State(b.report.clone()));
    let once = t2.elapsed();
    let stats_after = b.core.stats();
    let (mut repaired, mut held, mut committed) = (Vec::new(), 0, 0);
    let mut drives: BTreeMap<String, usize> = BTreeMap::new();
    while let Some(out) = b.core.poll_output() {
        match out {
            Output::Event(Event::Repaired { vehicles, .. }) => repaired.extend(vehicles),
            Output::Event(Event::VehicleHeld { .. }) => held += 1,
            Output::Event(Event::PlanCommitted { .. }) => committed += 1,
            Output::Command(Command::Drive { vehicle, .. }) => {
                *drives.entry(vehicle).or_default() += 1
            }
            _ => {}
        }
    }
    // For scale: the same vehicle's report at the same moment without the
    // breakdown (one ordinary step of the core: no repair), median of 9.
    let mut plain: Vec<Duration> = (0..9)
        .map(|_| {
            let mut b = busy(&map, &script);
            let mut report = b.report.clone();
            report.broken = false;
            let t = Instant::now();
            b.core.handle(b.now, Input::State(report));
            t.elapsed()
        })
        .collect();
    plain.sort();
    eprintln!(
        "repair_bridge_breakdown_60: {} breaks down at {} (plan step {}) at t = {:.0} s, with \
         {} vehicles on the bridge, {} of {FLEET} on the move, {} reservations; the handle \
         repaired {} vehicle(s) (Event::Repaired) and held {} where they stand \
         (Event::VehicleHeld), with {} Drive commands to {} vehicles and {} PlanCommitted, \
         after {} successful and {} failed plan attempts; one run took {:.2?} (setup {:.2?}, probe {:.2?}); the same report without the \
         breakdown takes {:.2?} (median of 9)",
        b.report.vehicle,
        b.report.last_node,
        script.victim.step,
        script.now as f64 / 1e3,
        script.on_bridge,
        script.moving,
        reservations,
        repaired.len(),
        held,
        drives.values().sum::<usize>(),
        drives.len(),
        committed,
        stats_after.plans - stats_before.plans,
        stats_after.plan_failures - stats_before.plan_failures,
        once,
        setup_time,
        probe_time,
        plain[plain.len() / 2],
    );

    c.bench_function("repair_bridge_breakdown_60", |bencher| {
        bencher.iter_batched(
            || {
                let b = busy(&map, &script);
                (b.core, b.now, Input::State(b.report))
            },
            |(mut core, now, input)| {
                core.handle(now, input);
                core
            },
            BatchSize::LargeInput,
        )
    });
}

criterion_group! {
    name = plan_one;
    config = Criterion::default();
    targets = bench_plan_one
}
criterion_group! {
    // Each iteration replays the busy core (tens of milliseconds, untimed),
    // so this one takes one iteration per sample; criterion picks flat
    // sampling by itself and may warn that the target time is short.
    name = repair;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = bench_repair
}
criterion_main!(plan_one, repair);
