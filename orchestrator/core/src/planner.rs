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

use borderlane_model::{ArcIx, LaneMap, Ms, NEVER, NodeIx, Side, Step, TimedPlan, VehicleId};

use crate::kinematics::{ArcTimes, Load, VehicleProfile};
use crate::reservations::{Hold, Pass, ReservationTable};

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
    /// Instead of resting, leave the planner's territory: the plan ends
    /// passing `exit.node` at speed, at a time in its window. `rest` must
    /// then be `[exit.node]`.
    pub exit: Option<Exit>,
}

/// Where a plan hands its vehicle over to another planner: a node passed at
/// speed (a border node), no earlier than `not_before` and no later than
/// `not_after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    pub node: NodeIx,
    pub not_before: Ms,
    pub not_after: Ms,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    node: NodeIx,
    window: u32,
    stage: u16,
    stopped: bool,
}

#[derive(Clone, Copy, Debug)]
struct Label {
    key: Key,
    /// Where the key's best arrival is kept in `Scratch::best`.
    slot: u32,
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

/// Whether a request has the shape a heuristic table was built for.
fn same_shape(key: &HeuristicKey, req: &Request) -> bool {
    key.0.len() == req.goals.len()
        && key
            .0
            .iter()
            .zip(&req.goals)
            .all(|((nodes, dwell), g)| *dwell == g.dwell && *nodes == g.nodes)
        && key.1 == req.rest
}

/// Where the best arrivals of one node's search states are kept during a
/// search.
#[derive(Clone, Copy, Debug, Default)]
struct NodeSlot {
    /// The search that filled this entry; an entry from an earlier search is
    /// filled again on first use.
    stamp: u32,
    /// The node's states start at `Scratch::best[base]`: for free window
    /// `w`, stage `k` and arrival stopped or not, at
    /// `base + (w * stages + k) * 2 + stopped`.
    base: u32,
}

/// The open list: label indices by estimated arrival at the end, ties to
/// the label pushed first. No two entries are equal, so the order of pops
/// does not depend on how the heap is built.
///
/// An entry is packed in one `u64`, `(estimate - base) << INDEX_BITS |
/// index`, while it fits (estimates within about 34 years of the search's
/// start, fewer than 2^24 labels); otherwise the list moves for the rest of
/// the search to `u128` entries, `estimate << 32 | index`.
#[derive(Debug, Default)]
struct OpenList {
    base: Ms,
    narrow: BinaryHeap<Reverse<u64>>,
    wide: BinaryHeap<Reverse<u128>>,
    is_wide: bool,
}

const INDEX_BITS: u32 = 24;
const ESTIMATE_BITS: u32 = 64 - INDEX_BITS;

impl OpenList {
    /// Empties the list for a search whose estimates are all `base` or
    /// later.
    fn reset(&mut self, base: Ms) {
        self.base = base;
        self.narrow.clear();
        self.wide.clear();
        self.is_wide = false;
    }

    #[inline]
    fn push(&mut self, estimate: Ms, index: u32) {
        if !self.is_wide {
            let offset = estimate.wrapping_sub(self.base);
            if estimate >= self.base && offset >> ESTIMATE_BITS == 0 && index >> INDEX_BITS == 0 {
                self.narrow
                    .push(Reverse(offset << INDEX_BITS | u64::from(index)));
                return;
            }
            self.widen();
        }
        self.wide
            .push(Reverse(u128::from(estimate) << 32 | u128::from(index)));
    }

    #[cold]
    fn widen(&mut self) {
        let base = self.base;
        self.wide.extend(self.narrow.drain().map(|Reverse(x)| {
            let estimate = (x >> INDEX_BITS) + base;
            let index = x & ((1 << INDEX_BITS) - 1);
            Reverse(u128::from(estimate) << 32 | u128::from(index))
        }));
        self.is_wide = true;
    }

    /// The index of the label with the least estimate, the first pushed of
    /// those tied.
    #[inline]
    fn pop(&mut self) -> Option<u32> {
        if self.is_wide {
            self.wide.pop().map(|Reverse(x)| x as u32)
        } else {
            self.narrow
                .pop()
                .map(|Reverse(x)| (x & ((1 << INDEX_BITS) - 1)) as u32)
        }
    }
}

/// Scratch space reused between searches, so a plan allocates little.
#[derive(Debug, Default)]
struct Scratch {
    stamp: u32,
    /// The number of stages of the current search (goals + 1).
    stages: u32,
    nodes: Vec<NodeSlot>,
    /// The earliest arrival found so far in each search state, `NEVER` if
    /// none. A dense index in place of a map keyed by state.
    best: Vec<Ms>,
    /// The states with a label that arrives at `NEVER`, which `best` alone
    /// cannot tell from states not reached.
    reached_never: Vec<u32>,
    labels: Vec<Label>,
    open: OpenList,
    forbidden: Vec<(i64, i64)>,
    is_rest: Vec<bool>,
    /// Reachability test: nodes and arcs held forever, nodes seen, the DFS
    /// stack and the goal nodes reached.
    closed_node: Vec<bool>,
    closed_arc: Vec<bool>,
    seen: Vec<bool>,
    stack: Vec<NodeIx>,
    frontier: Vec<NodeIx>,
    chain: Vec<u32>,
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
    /// Whether a vehicle may wait at each node.
    may_wait: Vec<bool>,
    /// Nodes outside the planner's territory, never entered.
    foreign: Vec<bool>,
    scratch: Scratch,
    /// Heuristic tables by request shape.
    heuristics: BTreeMap<HeuristicKey, Shared<[Ms]>>,
    /// The table used last, checked first: consecutive requests often have
    /// the same shape.
    last_heuristic: Option<(HeuristicKey, Shared<[Ms]>)>,
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
        let may_wait = map.nodes.iter().map(|n| n.kind.may_wait()).collect();
        let foreign = vec![false; n];
        Planner {
            map,
            times,
            headway,
            to,
            may_wait,
            foreign,
            scratch: Scratch::default(),
            heuristics: BTreeMap::new(),
            last_heuristic: None,
            last_expansions: 0,
            max_labels: 400_000,
        }
    }

    /// Keeps plans inside one side's territory: the nodes of the other
    /// side are never entered. Nodes of neither side (border nodes) are in
    /// both territories.
    pub fn set_territory(&mut self, side: Option<Side>) {
        let map = &*self.map;
        self.foreign = map
            .nodes
            .iter()
            .map(|n| side.is_some_and(|me| n.side == Some(me.other())))
            .collect();
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
            || req
                .exit
                .is_some_and(|e| req.rest != [e.node] || e.not_before > e.not_after)
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
        let not_before = self.not_before(req);
        let times = &self.times;
        let may_wait_at = &self.may_wait[..];
        let foreign = &self.foreign[..];
        let s = &mut self.scratch;
        s.stamp = s.stamp.wrapping_add(1);
        if s.stamp == 0 {
            s.nodes.iter_mut().for_each(|e| e.stamp = 0);
            s.stamp = 1;
        }
        s.stages = u32::from(n_stages) + 1;
        s.nodes.resize_with(map.nodes.len(), Default::default);
        s.best.clear();
        s.reached_never.clear();
        s.labels.clear();
        s.is_rest.clear();
        s.is_rest.resize(map.nodes.len(), false);
        for r in &req.rest {
            s.is_rest[r.ix()] = true;
        }
        // Every arrival, and so every estimate, is at or after the start.
        s.open.reset(match req.start {
            Start::AtNode { time, .. } => time,
            Start::OnArc { earliest, .. } => earliest,
        });

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
                let ns = node_slot(s, table, node);
                let ws = table.free_windows(node);
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
                        slot: slot(s, ns, key),
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
                let may_wait = may_wait_at[v.ix()];
                let ns = node_slot(s, table, v);
                let hv = heuristic(v, 0);
                for (wi, &(a, b)) in table.free_windows(v).iter().enumerate() {
                    let wi = wi as u32;
                    let t = earliest.max(ahead).max(a);
                    if t.saturating_add(h) > b || t > behind {
                        continue;
                    }
                    let mut seed = |stopped: bool| {
                        let key = Key {
                            node: v,
                            window: wi,
                            stage: 0,
                            stopped,
                        };
                        let label = Label {
                            key,
                            slot: slot(s, ns, key),
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
            let Some(li) = s.open.pop() else {
                break None;
            };
            let label = s.labels[li as usize];
            if s.best[label.slot as usize] < label.arrive {
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
            let us = s.nodes[u.ix()];
            let (_, we) = table.free_windows(u)[wi as usize];
            let t = label.arrive;

            match req.exit {
                None if stage == n_stages && stopped && we == NEVER && s.is_rest[u.ix()] => {
                    break Some(li);
                }
                Some(e) if stage == n_stages && u == e.node => {
                    if (e.not_before..=e.not_after).contains(&t) {
                        break Some(li);
                    }
                    // Past the border or outside the window: no way on.
                    continue;
                }
                _ => {}
            }
            // A stop at the current goal.
            if let Some(goal) = req.goals.get(stage as usize)
                && stopped
                && goal.nodes.contains(&u)
            {
                let done = t.saturating_add(goal.dwell);
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
                            slot: slot(s, us, key),
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
            let may_wait_here = may_wait_at[u.ix()] || label.parent == NO_PARENT;
            let t_max = if stopped && may_wait_here {
                we.saturating_sub(h)
            } else {
                t
            };
            for &a in map.out_arcs(u) {
                let arc = map.arc(a);
                let v = arc.to;
                if foreign[v.ix()] {
                    continue;
                }
                // On the way to an exit, the exit and the nodes just before it
                // where no one may wait are reached no earlier than its window.
                let v_not_before = if stage == n_stages {
                    not_before
                        .iter()
                        .find(|(n, _)| *n == v)
                        .map_or(0, |&(_, t)| t)
                } else {
                    0
                };
                let passes = table.arc_passes(a);
                let opposite = match arc.opposite {
                    Some(o) => table.arc_passes(o),
                    None => &[],
                };
                let vs = node_slot(s, table, v);
                let ws = table.free_windows(v);
                let hv = heuristic(v, stage);
                let ends: &[bool] = if may_wait_at[v.ix()] {
                    &[false, true]
                } else {
                    &[false]
                };
                for &to_stop in ends {
                    let d = times.get(load, a, stopped, to_stop);
                    for (nw, &(a0, b0)) in ws.iter().enumerate() {
                        let nw = nw as u32;
                        let lo = t
                            .max(a0.saturating_sub(d))
                            .max(v_not_before.saturating_sub(d));
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
                        let Some(tau) = earliest_entry(
                            &mut s.forbidden,
                            passes,
                            opposite,
                            d,
                            lo,
                            h,
                            req.vehicle,
                        ) else {
                            continue;
                        };
                        if tau > hi {
                            continue;
                        }
                        let key = Key {
                            node: v,
                            window: nw,
                            stage,
                            stopped: to_stop,
                        };
                        relax(
                            s,
                            Label {
                                key,
                                slot: slot(s, vs, key),
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

    /// For a request with an exit: the earliest arrival at the exit node and
    /// at each node before it where no one may wait (a bridge end), so that
    /// a vehicle driving at speed from the last place it may wait reaches
    /// the exit inside its window. Empty without an exit.
    fn not_before(&self, req: &Request) -> Vec<(NodeIx, Ms)> {
        let Some(exit) = req.exit else {
            return Vec::new();
        };
        let map = &*self.map;
        let load = req.loads[req.goals.len()];
        let mut out = vec![(exit.node, exit.not_before)];
        let mut i = 0;
        while i < out.len() {
            let (x, t) = out[i];
            i += 1;
            for &a in map.in_arcs(x) {
                let u = map.arc(a).from;
                if self.may_wait[u.ix()] || self.foreign[u.ix()] || out.iter().any(|(n, _)| *n == u)
                {
                    continue;
                }
                out.push((u, t.saturating_sub(self.times.get(load, a, false, false))));
            }
        }
        out
    }

    /// The heuristic table of a request, exact for an empty lane:
    /// `table[k * n + node]` is the least static time from `node` through
    /// every stop from the `k`-th on, with its dwell, to a rest place.
    /// Requests repeat (the same slots, customs and parking), so tables are
    /// kept, up to a bound.
    fn stage_heuristic(&mut self, req: &Request) -> Shared<[Ms]> {
        if let Some((key, t)) = &self.last_heuristic
            && same_shape(key, req)
        {
            return Shared::clone(t);
        }
        let key: HeuristicKey = (
            req.goals
                .iter()
                .map(|g| (g.nodes.clone(), g.dwell))
                .collect(),
            req.rest.clone(),
        );
        let table = match self.heuristics.get(&key) {
            Some(t) => Shared::clone(t),
            None => {
                let table = self.build_heuristic(req);
                if self.heuristics.len() >= 4096 {
                    self.heuristics.clear();
                }
                self.heuristics.insert(key.clone(), Shared::clone(&table));
                table
            }
        };
        self.last_heuristic = Some((key, Shared::clone(&table)));
        table
    }

    fn build_heuristic(&self, req: &Request) -> Shared<[Ms]> {
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
        table.into()
    }

    /// A quick test that rules out most hopeless requests before the timed
    /// search: can the goals and a rest place be reached in order at all,
    /// avoiding nodes and arcs that another vehicle holds from the start
    /// time on, forever (a broken or stranded vehicle, a blocked place)?
    fn reachable_at_all(&mut self, table: &ReservationTable, req: &Request) -> bool {
        let map = &*self.map;
        let (first, t0, first_arc) = match req.start {
            Start::AtNode { node, time, .. } => (node, time, None),
            Start::OnArc { arc, enter, .. } => (map.arc(arc).to, enter, Some(arc)),
        };
        let me = req.vehicle;
        let targets = req
            .goals
            .iter()
            .map(|g| g.nodes.as_slice())
            .chain(std::iter::once(req.rest.as_slice()));
        let s = &mut self.scratch;
        s.frontier.clear();
        s.frontier.push(first);
        // A hold or pass that never ends closes its node or arc to this
        // vehicle if it is another vehicle's and has begun by the start.
        let closes_node = |(_, x): &(NodeIx, Hold)| x.vehicle != me && x.start <= t0;
        let closes_arc = |(_, p): &(ArcIx, Pass)| p.vehicle != me && p.enter <= t0;
        if !table.forever_holds().iter().any(closes_node)
            && !table.forever_passes().iter().any(closes_arc)
        {
            // Nothing is held forever: every node reachable on the map is
            // reachable, and the static times say which.
            for targets in targets {
                let to = &self.to;
                s.stack.clear();
                for &t in targets {
                    if s.frontier.iter().any(|f| to[t.ix()][f.ix()] != NEVER) {
                        s.stack.push(t);
                    }
                }
                if s.stack.is_empty() {
                    return false;
                }
                std::mem::swap(&mut s.frontier, &mut s.stack);
            }
            return true;
        }
        s.closed_node.clear();
        s.closed_node.resize(map.nodes.len(), false);
        s.closed_arc.clear();
        s.closed_arc.resize(map.arcs.len(), false);
        for (n, _) in table.forever_holds().iter().filter(|e| closes_node(e)) {
            s.closed_node[n.ix()] = true;
        }
        for (a, _) in table.forever_passes().iter().filter(|e| closes_arc(e)) {
            s.closed_arc[a.ix()] = true;
        }
        if first_arc.is_none() && s.closed_node[first.ix()] {
            return false;
        }
        for targets in targets {
            s.seen.clear();
            s.seen.resize(map.nodes.len(), false);
            s.stack.clear();
            s.stack.extend_from_slice(&s.frontier);
            for &n in &s.frontier {
                s.seen[n.ix()] = true;
            }
            while let Some(u) = s.stack.pop() {
                for &a in map.out_arcs(u) {
                    let v = map.arc(a).to;
                    if !s.seen[v.ix()] && !s.closed_arc[a.ix()] && !s.closed_node[v.ix()] {
                        s.seen[v.ix()] = true;
                        s.stack.push(v);
                    }
                }
            }
            s.frontier.clear();
            s.frontier
                .extend(targets.iter().copied().filter(|t| s.seen[t.ix()]));
            if s.frontier.is_empty() {
                return false;
            }
        }
        true
    }

    fn reconstruct(&mut self, end: u32, req: &Request) -> Planned {
        let s = &mut self.scratch;
        let labels = &s.labels;
        let chain = &mut s.chain;
        chain.clear();
        let mut i = end;
        while i != NO_PARENT {
            chain.push(i);
            i = labels[i as usize].parent;
        }
        let mut steps: Vec<Step> = Vec::with_capacity(chain.len());
        let mut goal_steps = Vec::with_capacity(req.goals.len());
        for &li in chain.iter().rev() {
            let l = &labels[li as usize];
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
        if let Some(last) = steps.last_mut()
            && req.exit.is_none()
        {
            last.depart = NEVER;
        }
        Planned {
            plan: TimedPlan::new(req.vehicle, steps),
            goal_steps,
        }
    }
}

/// The index in `Scratch::best` of a state of a node whose windows are
/// filled.
fn slot(s: &Scratch, ns: NodeSlot, key: Key) -> u32 {
    ns.base + (key.window * s.stages + u32::from(key.stage)) * 2 + u32::from(key.stopped)
}

#[inline(always)]
fn push(s: &mut Scratch, label: Label, h: Ms) {
    let li = s.labels.len() as u32;
    s.best[label.slot as usize] = label.arrive;
    if label.arrive == NEVER {
        s.reached_never.push(label.slot);
    }
    s.labels.push(label);
    s.open.push(label.arrive.saturating_add(h), li);
}

/// Pushes a label unless its state already has an arrival at least as
/// early.
#[inline(always)]
fn relax(s: &mut Scratch, label: Label, h: Ms) {
    // `best` holds `NEVER` for a state not reached yet, so only an arrival at
    // `NEVER` needs the list of such states to tell the two apart.
    if s.best[label.slot as usize] <= label.arrive
        && (label.arrive != NEVER || s.reached_never.contains(&label.slot))
    {
        return;
    }
    push(s, label, h);
}

/// Room for the best arrivals of a node's states in this search, one per
/// free window, stage and way of arriving, made on first use.
#[inline]
fn node_slot(s: &mut Scratch, table: &ReservationTable, n: NodeIx) -> NodeSlot {
    let e = s.nodes[n.ix()];
    if e.stamp == s.stamp {
        return e;
    }
    fill_node_slot(s, table, n)
}

#[inline(never)]
fn fill_node_slot(s: &mut Scratch, table: &ReservationTable, n: NodeIx) -> NodeSlot {
    let states = table.free_windows(n).len() * s.stages as usize * 2;
    let base = s.best.len();
    s.best.resize(base + states, NEVER);
    let e = NodeSlot {
        stamp: s.stamp,
        base: base as u32,
    };
    s.nodes[n.ix()] = e;
    e
}

/// Up to this many passes on an arc and its opposite, `earliest_entry`
/// repeats a plain scan instead of sorting.
const SHORT_PASS_LIST: usize = 8;

/// The earliest time at or after `lo` at which a vehicle taking `d` ms may
/// enter arc `a`: at least a headway behind and ahead of every other
/// traversal of the arc, and clear of the opposite direction of a single
/// lane.
///
/// `passes` are the arc's traversals in the table, `opposite` those of the
/// opposite arc of a single lane (empty if there is none).
#[inline]
fn earliest_entry(
    forbidden: &mut Vec<(i64, i64)>,
    passes: &[Pass],
    opposite: &[Pass],
    d: Ms,
    lo: Ms,
    h: Ms,
    me: VehicleId,
) -> Option<Ms> {
    let big = i64::MAX / 4;
    if passes.is_empty() && opposite.is_empty() {
        // Nothing forbids any entry time: `lo` itself, with the same bound
        // as below.
        let tau = lo as i64;
        return if tau >= big { None } else { Some(tau as Ms) };
    }
    // The answer is the least time at or after `lo` inside none of the open
    // intervals, whatever order they are taken in. With a few passes it is
    // cheapest to jump past every interval that holds the candidate until
    // none does; with many, sort the intervals and sweep once.
    if passes.len() + opposite.len() <= SHORT_PASS_LIST {
        let (d, h) = (d as i64, h as i64);
        let t = |x: Ms| if x == NEVER { big } else { x as i64 };
        let mut tau = lo as i64;
        loop {
            let before = tau;
            for p in passes {
                if p.vehicle == me {
                    continue;
                }
                let (e, x) = (t(p.enter), t(p.exit));
                let f_lo = (e - h).min(x - h - d);
                let f_hi = (e + h).max(x + h - d);
                if f_lo < tau && tau < f_hi {
                    tau = f_hi;
                }
            }
            for p in opposite {
                if p.vehicle == me {
                    continue;
                }
                let (e, x) = (t(p.enter), t(p.exit));
                let (f_lo, f_hi) = (e - h - d, x + h);
                if f_lo < tau && tau < f_hi {
                    tau = f_hi;
                }
            }
            if tau == before {
                break;
            }
        }
        return if tau >= big { None } else { Some(tau as Ms) };
    }
    earliest_entry_sorted(forbidden, passes, opposite, d, lo, h, me)
}

/// `earliest_entry` for arcs with many passes: the forbidden intervals are
/// sorted and swept once.
#[inline(never)]
fn earliest_entry_sorted(
    forbidden: &mut Vec<(i64, i64)>,
    passes: &[Pass],
    opposite: &[Pass],
    d: Ms,
    lo: Ms,
    h: Ms,
    me: VehicleId,
) -> Option<Ms> {
    let big = i64::MAX / 4;
    let (d, h) = (d as i64, h as i64);
    let t = |x: Ms| if x == NEVER { big } else { x as i64 };
    forbidden.clear();
    for p in passes {
        if p.vehicle == me {
            continue;
        }
        let (e, x) = (t(p.enter), t(p.exit));
        // Entering in the open interval (lo, hi) would tailgate or overtake.
        let f_lo = (e - h).min(x - h - d);
        let f_hi = (e + h).max(x + h - d);
        if f_hi > lo as i64 {
            forbidden.push((f_lo, f_hi));
        }
    }
    for p in opposite {
        if p.vehicle == me {
            continue;
        }
        let (e, x) = (t(p.enter), t(p.exit));
        let f_lo = e - h - d;
        let f_hi = x + h;
        if f_hi > lo as i64 {
            forbidden.push((f_lo, f_hi));
        }
    }
    forbidden.sort_unstable();
    let mut tau = lo as i64;
    for &(f_lo, f_hi) in forbidden.iter() {
        if f_lo < tau && tau < f_hi {
            tau = f_hi;
        }
    }
    if tau >= big { None } else { Some(tau as Ms) }
}
