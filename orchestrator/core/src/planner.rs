//! Time-slot planning: Safe Interval Path Planning over the reservation table.
//!
//! A search state is a node, one of its *safe intervals* (a window in which no
//! other vehicle holds the node or fills one of its zones), the stage of the
//! job reached so far, and whether the vehicle arrived stopped. The label is
//! the earliest arrival in that state; A* orders labels by arrival plus a
//! static lower bound on the time still to drive. Because every state keeps
//! only its earliest arrival, the search is complete and optimal for the
//! given reservations (Phillips and Likhachev, 2011), with several goals in
//! sequence (pick, customs, drop) and a final rest at a place.
//!
//! The kinodynamic rule comes in through [`ArcTimes`]: arriving stopped costs
//! the braking, leaving from a stop costs the acceleration, and a vehicle
//! that arrives at speed must leave at once. Waiting happens only at nodes
//! where a vehicle may wait, never on the bridge.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::Arc as Shared;

use borderlane_model::{ArcIx, LaneMap, Ms, NEVER, NodeIx, Step, TimedPlan, VehicleId, ZoneIx};

use crate::kinematics::{ArcTimes, Load, VehicleProfile};
use crate::reservations::ReservationTable;

/// Where a plan starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// At a node from `time` on; `stopped` if the vehicle stands there.
    AtNode {
        node: NodeIx,
        time: Ms,
        stopped: bool,
    },
    /// On an arc it entered at `enter`, reaching its end no earlier than
    /// `earliest`.
    OnArc { arc: ArcIx, enter: Ms, earliest: Ms },
}

/// A stop the vehicle must make for `dwell` milliseconds at one of `nodes`
/// (for example, either of two scan lanes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Goal {
    pub nodes: Vec<NodeIx>,
    pub dwell: Ms,
}

/// What to plan.
#[derive(Clone, Debug)]
pub struct Request {
    pub vehicle: VehicleId,
    pub start: Start,
    /// Stops to make in order.
    pub goals: Vec<Goal>,
    /// Places where the plan may end at rest; the first one reachable
    /// earliest wins, ties to the earlier in this list.
    pub rest: Vec<NodeIx>,
    /// The load on each leg: `loads[k]` is the load while driving to
    /// `goals[k]`, and `loads[goals.len()]` the load on the way to rest.
    pub loads: Vec<Load>,
}

/// A plan and where in it each goal's stop is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub plan: TimedPlan,
    /// For each goal, the index of the step that makes its stop.
    pub goal_steps: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanError {
    /// The start is not free in the reservation table.
    StartOccupied,
    /// No timed path reaches every goal and a rest place.
    NoPlan,
    /// The request is malformed (no rest places, loads of the wrong length).
    BadRequest,
}

impl std::error::Error for PlanError {}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PlanError::StartOccupied => "the start is held by another vehicle",
            PlanError::NoPlan => "no conflict-free timed path to the goals and a rest place",
            PlanError::BadRequest => "malformed plan request",
        })
    }
}

/// The labels' best arrivals are looked up, never iterated, so hash order
/// cannot reach an output; FxHash is deterministic and fast on small keys.
type BestMap = rustc_hash::FxHashMap<Key, Ms>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    node: NodeIx,
    window: u32,
    stage: u16,
    stopped: bool,
}

#[derive(Clone, Copy, Debug)]
struct Label {
    key: Key,
    arrive: Ms,
    enter: Ms,
    arc: Option<ArcIx>,
    /// Whether this label is the end of a dwell at a goal (same node as its
    /// parent).
    dwell: bool,
    parent: u32,
}

const NO_PARENT: u32 = u32::MAX;

/// The stops (alternatives and dwell) and rest places of a request.
type HeuristicKey = (Vec<(Vec<NodeIx>, Ms)>, Vec<NodeIx>);

/// Scratch space reused between searches, so a plan allocates little.
#[derive(Debug, Default)]
struct Scratch {
    stamp: u32,
    windows: Vec<(u32, Vec<(Ms, Ms)>)>,
    zone_full: Vec<(u32, Vec<(Ms, Ms)>)>,
    labels: Vec<Label>,
    best: BestMap,
    open: BinaryHeap<Reverse<(Ms, u32)>>,
    forbidden: Vec<(i64, i64)>,
    is_rest: Vec<bool>,
    blocked: Vec<(Ms, Ms)>,
}

/// The planner: static data about the map and vehicle, plus scratch space.
#[derive(Debug)]
pub struct Planner {
    map: Shared<LaneMap>,
    times: ArcTimes,
    headway: Ms,
    /// `to[goal][node]`: the least time from `node` to `goal`, at top speed,
    /// ignoring other vehicles. `NEVER` if unreachable.
    to: Vec<Vec<Ms>>,
    scratch: Scratch,
    /// Heuristic tables by request shape.
    heuristics: BTreeMap<HeuristicKey, Shared<[Ms]>>,
    /// Labels expanded by the last search (for benchmarks and tests).
    pub last_expansions: usize,
    /// A bound on labels per search, so a pathological request cannot stall
    /// the core.
    pub max_labels: usize,
}

impl Planner {
    pub fn new(map: Shared<LaneMap>, profile: &VehicleProfile, headway: Ms) -> Planner {
        let times = ArcTimes::new(&map, profile);
        let n = map.nodes.len();
        let mut to = vec![vec![NEVER; n]; n];
        for goal in map.node_ixs() {
            // Static shortest times with the pathfinding crate, on the
            // reversed graph: from the goal backwards along arcs.
            let reached = pathfinding::directed::dijkstra::dijkstra_all(&goal, |&v| {
                map.in_arcs(v)
                    .iter()
                    .map(|&a| (map.arc(a).from, times.fastest(a)))
                    .collect::<Vec<_>>()
            });
            let row = &mut to[goal.ix()];
            row[goal.ix()] = 0;
            for (node, (_, cost)) in reached {
                row[node.ix()] = cost;
            }
        }
        Planner {
            map,
            times,
            headway,
            to,
            scratch: Scratch::default(),
            heuristics: BTreeMap::new(),
            last_expansions: 0,
            max_labels: 400_000,
        }
    }

    pub fn map(&self) -> &LaneMap {
        &self.map
    }

    pub fn times(&self) -> &ArcTimes {
        &self.times
    }

    /// The least static driving time from `from` to `to`, `NEVER` if there is
    /// no route.
    pub fn static_time(&self, from: NodeIx, to: NodeIx) -> Ms {
        self.to[to.ix()][from.ix()]
    }

    /// Plans a request against the table. The table is not changed: the
    /// caller reserves the plan it accepts.
    pub fn plan(&mut self, table: &ReservationTable, req: &Request) -> Result<Planned, PlanError> {
        if req.rest.is_empty()
            || req.loads.len() != req.goals.len() + 1
            || req.goals.iter().any(|g| g.nodes.is_empty())
        {
            return Err(PlanError::BadRequest);
        }
        let map = Shared::clone(&self.map);
        let map = &*map;
        let h = self.headway;
        let n_stages = req.goals.len() as u16;
        if !self.reachable_at_all(table, req) {
            self.last_expansions = 0;
            return Err(PlanError::NoPlan);
        }

        let stage_h = self.stage_heuristic(req);
        let s = &mut self.scratch;
        s.stamp = s.stamp.wrapping_add(1);
        if s.stamp == 0 {
            s.windows.clear();
            s.zone_full.clear();
            s.stamp = 1;
        }
        s.windows.resize_with(map.nodes.len(), Default::default);
        s.zone_full.resize_with(map.zones.len(), Default::default);
        s.labels.clear();
        s.is_rest.clear();
        s.is_rest.resize(map.nodes.len(), false);
        for r in &req.rest {
            s.is_rest[r.ix()] = true;
        }
        s.best.clear();
        s.open.clear();

        // The heuristic, exact for an empty lane: `stage_h[k][n]` is the least
        // static time from `n` through every remaining stop and dwell to rest.
        let n = map.nodes.len();
        let heuristic =
            |node: NodeIx, stage: u16| -> Ms { stage_h[stage as usize * n + node.ix()] };

        // Seed the search.
        match req.start {
            Start::AtNode {
                node,
                time,
                stopped,
            } => {
                // A vehicle may find itself standing where vehicles may not
                // wait (stopped on the bridge after a fault ahead); it is
                // stopped all the same, and leaves as soon as it can.
                let ws = windows(s, table, map, node);
                let Some(w) = ws.iter().position(|&(a, b)| a <= time && time < b) else {
                    return Err(PlanError::StartOccupied);
                };
                let key = Key {
                    node,
                    window: w as u32,
                    stage: 0,
                    stopped,
                };
                push(
                    s,
                    Label {
                        key,
                        arrive: time,
                        enter: time,
                        arc: None,
                        dwell: false,
                        parent: NO_PARENT,
                    },
                    heuristic(node, 0),
                );
            }
            Start::OnArc {
                arc,
                enter,
                earliest,
            } => {
                let v = map.arc(arc).to;
                // Vehicles ahead on the same arc must leave it first.
                let ahead = table
                    .arc_passes(arc)
                    .iter()
                    .filter(|p| p.vehicle != req.vehicle && p.enter < enter)
                    .map(|p| p.exit.saturating_add(h))
                    .max()
                    .unwrap_or(0);
                // Vehicles behind on the same arc cannot be overtaken: this one
                // must leave the arc a headway before each of them does.
                let behind = table
                    .arc_passes(arc)
                    .iter()
                    .filter(|p| p.vehicle != req.vehicle && p.enter >= enter)
                    .map(|p| p.exit.saturating_sub(h))
                    .min()
                    .unwrap_or(NEVER);
                let may_wait = map.node(v).kind.may_wait();
                let ws = windows(s, table, map, v).to_vec();
                let hv = heuristic(v, 0);
                for (wi, &(a, b)) in ws.iter().enumerate() {
                    let t = earliest.max(ahead).max(a);
                    if t.saturating_add(h) > b || t > behind {
                        continue;
                    }
                    let mut seed = |stopped: bool| {
                        let key = Key {
                            node: v,
                            window: wi as u32,
                            stage: 0,
                            stopped,
                        };
                        let label = Label {
                            key,
                            arrive: t,
                            enter,
                            arc: Some(arc),
                            dwell: false,
                            parent: NO_PARENT,
                        };
                        relax(s, label, hv);
                    };
                    if t == earliest {
                        seed(false);
                    }
                    // Arriving later than planned means the vehicle slowed and
                    // stopped on the arc; it arrives stopped, on the bridge too.
                    if t > earliest || may_wait {
                        seed(true);
                    }
                }
            }
        }

        let mut expansions = 0usize;
        let found = loop {
            let Some(Reverse((_, li))) = s.open.pop() else {
                break None;
            };
            let label = s.labels[li as usize];
            if s.best.get(&label.key).is_some_and(|&b| b < label.arrive) {
                continue;
            }
            expansions += 1;
            if s.labels.len() > self.max_labels {
                break None;
            }
            let Key {
                node: u,
                window: wi,
                stage,
                stopped,
            } = label.key;
            let (_, we) = s.windows[u.ix()].1[wi as usize];
            let t = label.arrive;

            if stage == n_stages && stopped && we == NEVER && s.is_rest[u.ix()] {
                break Some(li);
            }
            // A stop at the current goal.
            if (stage as usize) < req.goals.len()
                && stopped
                && req.goals[stage as usize].nodes.contains(&u)
            {
                let done = t.saturating_add(req.goals[stage as usize].dwell);
                if done.saturating_add(h) <= we {
                    let key = Key {
                        node: u,
                        window: wi,
                        stage: stage + 1,
                        stopped: true,
                    };
                    let hv = heuristic(u, stage + 1);
                    relax(
                        s,
                        Label {
                            key,
                            arrive: done,
                            enter: label.enter,
                            arc: None,
                            dwell: true,
                            parent: li,
                        },
                        hv,
                    );
                }
            }
            // Moves along each arc.
            let load = req.loads[stage as usize];
            // Waiting happens only where vehicles may wait, except where the
            // plan starts: a vehicle already stopped on the bridge waits there
            // until the way ahead is free.
            let may_wait_here = map.node(u).kind.may_wait() || label.parent == NO_PARENT;
            let t_max = if stopped && may_wait_here {
                we.saturating_sub(h)
            } else {
                t
            };
            for &a in map.out_arcs(u) {
                let v = map.arc(a).to;
                let may_wait = map.node(v).kind.may_wait();
                for to_stop in [false, true] {
                    if to_stop && !may_wait {
                        continue;
                    }
                    let d = self.times.get(load, a, stopped, to_stop);
                    let nws = windows(s, table, map, v).len();
                    for nw in 0..nws {
                        let (a0, b0) = s.windows[v.ix()].1[nw];
                        let lo = t.max(a0.saturating_sub(d));
                        if lo > t_max {
                            break;
                        }
                        let hi = if b0 == NEVER {
                            t_max
                        } else {
                            t_max.min(b0.saturating_sub(h).saturating_sub(d))
                        };
                        if b0 != NEVER && b0 < h.saturating_add(d) {
                            continue;
                        }
                        if lo > hi {
                            continue;
                        }
                        let Some(tau) = earliest_entry(s, table, map, a, d, lo, h, req.vehicle)
                        else {
                            continue;
                        };
                        if tau > hi {
                            continue;
                        }
                        let key = Key {
                            node: v,
                            window: nw as u32,
                            stage,
                            stopped: to_stop,
                        };
                        let hv = heuristic(v, stage);
                        relax(
                            s,
                            Label {
                                key,
                                arrive: tau + d,
                                enter: tau,
                                arc: Some(a),
                                dwell: false,
                                parent: li,
                            },
                            hv,
                        );
                    }
                }
            }
        };
        self.last_expansions = expansions;
        let Some(end) = found else {
            return Err(PlanError::NoPlan);
        };
        Ok(self.reconstruct(end, req))
    }

    /// The heuristic table of a request, exact for an empty lane:
    /// `table[k * n + node]` is the least static time from `node` through
    /// every stop from the `k`-th on, with its dwell, to a rest place.
    /// Requests repeat (the same slots, customs and parking), so tables are
    /// kept, up to a bound.
    fn stage_heuristic(&mut self, req: &Request) -> Shared<[Ms]> {
        let key: HeuristicKey = (
            req.goals
                .iter()
                .map(|g| (g.nodes.clone(), g.dwell))
                .collect(),
            req.rest.clone(),
        );
        if let Some(t) = self.heuristics.get(&key) {
            return Shared::clone(t);
        }
        let map = &*self.map;
        let n = map.nodes.len();
        let k_max = req.goals.len();
        let mut table = vec![NEVER; n * (k_max + 1)];
        for node in map.node_ixs() {
            table[k_max * n + node.ix()] = req
                .rest
                .iter()
                .map(|r| self.to[r.ix()][node.ix()])
                .min()
                .unwrap_or(NEVER);
        }
        for k in (0..k_max).rev() {
            let goal = &req.goals[k];
            for node in map.node_ixs() {
                table[k * n + node.ix()] = goal
                    .nodes
                    .iter()
                    .map(|g| {
                        self.to[g.ix()][node.ix()]
                            .saturating_add(goal.dwell)
                            .saturating_add(table[(k + 1) * n + g.ix()])
                    })
                    .min()
                    .unwrap_or(NEVER);
            }
        }
        let table: Shared<[Ms]> = table.into();
        if self.heuristics.len() >= 4096 {
            self.heuristics.clear();
        }
        self.heuristics.insert(key, Shared::clone(&table));
        table
    }

    /// A quick test that rules out most hopeless requests before the timed
    /// search: can the goals and a rest place be reached in order at all,
    /// avoiding nodes and arcs that another vehicle holds from the start
    /// time on, forever (a broken or stranded vehicle, a blocked place)?
    fn reachable_at_all(&self, table: &ReservationTable, req: &Request) -> bool {
        let map = &*self.map;
        let (first, t0, first_arc) = match req.start {
            Start::AtNode { node, time, .. } => (node, time, None),
            Start::OnArc { arc, enter, .. } => (map.arc(arc).to, enter, Some(arc)),
        };
        let me = req.vehicle;
        let node_open = |n: NodeIx| {
            !table
                .node_holds(n)
                .iter()
                .any(|x| x.vehicle != me && x.end == NEVER && x.start <= t0)
        };
        let arc_open = |a: ArcIx| {
            !table
                .arc_passes(a)
                .iter()
                .any(|p| p.vehicle != me && p.exit == NEVER && p.enter <= t0)
        };
        if first_arc.is_none() && !node_open(first) {
            return false;
        }
        let mut frontier: Vec<NodeIx> = vec![first];
        let targets = req
            .goals
            .iter()
            .map(|g| g.nodes.as_slice())
            .chain(std::iter::once(req.rest.as_slice()));
        for targets in targets {
            let mut seen = vec![false; map.nodes.len()];
            let mut stack = frontier.clone();
            for &n in &frontier {
                seen[n.ix()] = true;
            }
            while let Some(u) = stack.pop() {
                for &a in map.out_arcs(u) {
                    let v = map.arc(a).to;
                    if !seen[v.ix()] && arc_open(a) && node_open(v) {
                        seen[v.ix()] = true;
                        stack.push(v);
                    }
                }
            }
            frontier = targets.iter().copied().filter(|t| seen[t.ix()]).collect();
            if frontier.is_empty() {
                return false;
            }
        }
        true
    }

    fn reconstruct(&self, end: u32, req: &Request) -> Planned {
        let labels = &self.scratch.labels;
        let mut chain = Vec::new();
        let mut i = end;
        while i != NO_PARENT {
            chain.push(labels[i as usize]);
            i = labels[i as usize].parent;
        }
        chain.reverse();
        let mut steps: Vec<Step> = Vec::new();
        let mut goal_steps = Vec::new();
        for l in &chain {
            if l.dwell {
                goal_steps.push(steps.len() - 1);
                continue;
            }
            if let Some(prev) = steps.last_mut() {
                prev.depart = l.enter;
            }
            steps.push(Step {
                node: l.key.node,
                arc: l.arc,
                enter: l.enter,
                arrive: l.arrive,
                depart: l.arrive,
                stops: l.key.stopped,
            });
        }
        if let Some(last) = steps.last_mut() {
            last.depart = NEVER;
        }
        Planned {
            plan: TimedPlan::new(req.vehicle, steps),
            goal_steps,
        }
    }
}

fn push(s: &mut Scratch, label: Label, h: Ms) {
    let li = s.labels.len() as u32;
    s.best.insert(label.key, label.arrive);
    s.labels.push(label);
    s.open.push(Reverse((label.arrive.saturating_add(h), li)));
}

fn relax(s: &mut Scratch, label: Label, h: Ms) {
    if s.best.get(&label.key).is_some_and(|&b| b <= label.arrive) {
        return;
    }
    push(s, label, h);
}

/// The free windows of a node for this search: the complement of its holds
/// and of the times any of its zones is full. Computed once per search.
fn windows<'s>(
    s: &'s mut Scratch,
    table: &ReservationTable,
    map: &LaneMap,
    n: NodeIx,
) -> &'s [(Ms, Ms)] {
    if s.windows[n.ix()].0 != s.stamp {
        let mut blocked = std::mem::take(&mut s.blocked);
        blocked.clear();
        blocked.extend(table.node_holds(n).iter().map(|x| (x.start, x.end)));
        for &z in &map.node(n).zones {
            blocked.extend_from_slice(zone_full(s, table, map, z));
        }
        blocked.sort_unstable();
        let out = &mut s.windows[n.ix()];
        out.0 = s.stamp;
        out.1.clear();
        let mut free_from: Ms = 0;
        for &(a, b) in &blocked {
            if a > free_from {
                out.1.push((free_from, a));
            }
            free_from = free_from.max(b);
        }
        if free_from < NEVER {
            out.1.push((free_from, NEVER));
        }
        s.blocked = blocked;
    }
    &s.windows[n.ix()].1
}

fn zone_full<'s>(
    s: &'s mut Scratch,
    table: &ReservationTable,
    map: &LaneMap,
    z: ZoneIx,
) -> &'s [(Ms, Ms)] {
    if s.zone_full[z.ix()].0 != s.stamp {
        let entry = &mut s.zone_full[z.ix()];
        entry.0 = s.stamp;
        entry.1.clear();
        table.zone_full(map, z, &mut entry.1);
    }
    &s.zone_full[z.ix()].1
}

/// The earliest time at or after `lo` at which a vehicle taking `d` ms may
/// enter arc `a`: at least a headway behind and ahead of every other
/// traversal of the arc, and clear of the opposite direction of a single
/// lane.
#[allow(clippy::too_many_arguments)]
fn earliest_entry(
    s: &mut Scratch,
    table: &ReservationTable,
    map: &LaneMap,
    a: ArcIx,
    d: Ms,
    lo: Ms,
    h: Ms,
    me: VehicleId,
) -> Option<Ms> {
    let (d, h) = (d as i64, h as i64);
    let big = i64::MAX / 4;
    let t = |x: Ms| if x == NEVER { big } else { x as i64 };
    s.forbidden.clear();
    for p in table.arc_passes(a) {
        if p.vehicle == me {
            continue;
        }
        let (e, x) = (t(p.enter), t(p.exit));
        // Entering in the open interval (lo, hi) would tailgate or overtake.
        let f_lo = (e - h).min(x - h - d);
        let f_hi = (e + h).max(x + h - d);
        if f_hi > lo as i64 {
            s.forbidden.push((f_lo, f_hi));
        }
    }
    if let Some(o) = map.arc(a).opposite {
        for p in table.arc_passes(o) {
            if p.vehicle == me {
                continue;
            }
            let (e, x) = (t(p.enter), t(p.exit));
            let f_lo = e - h - d;
            let f_hi = x + h;
            if f_hi > lo as i64 {
                s.forbidden.push((f_lo, f_hi));
            }
        }
    }
    s.forbidden.sort_unstable();
    let mut tau = lo as i64;
    for &(f_lo, f_hi) in &s.forbidden {
        if f_lo < tau && tau < f_hi {
            tau = f_hi;
        }
    }
    if tau >= big { None } else { Some(tau as Ms) }
}
