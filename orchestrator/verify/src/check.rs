//! The checks themselves.
//!
//! A check runs in two passes. The first walks every plan once, reports the
//! problems a single plan can have on its own (malformed steps, speeding, no
//! rest) and files each step under the node it occupies and the arc it
//! traverses. The second sorts each node's and each arc's list once and
//! compares neighbours, which finds every conflict between two vehicles in
//! `O(n log n)` time.

use std::collections::BTreeMap;
use std::sync::Arc;

use borderlane_model::{
    ArcIx, EdgeIx, LaneMap, Ms, NEVER, NodeIx, SafetyRules, TimedPlan, VehicleId, ZoneIx,
};

use crate::report::Report;
use crate::violation::{Names, Time, Violation};

/// Checks timed plans and traces against the safety rules of one map.
pub struct Verifier<'m> {
    map: &'m LaneMap,
    rules: SafetyRules,
    /// The shortest time each arc may take at its speed limit, indexed by
    /// [`ArcIx`].
    min_traverse_ms: Vec<Ms>,
    names: Arc<Names>,
}

/// Which kind of input is checked: committed plans must end at rest, while a
/// trace may end anywhere, with its last step still open.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plans,
    Trace,
}

/// One vehicle's stay at a node: `[start, end)` with the headway added after
/// the departure. Field order is the sort order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Occupancy {
    start: Ms,
    end: Ms,
    vehicle: VehicleId,
    depart: Ms,
}

/// One vehicle's traversal of an arc: `[enter, arrive]`. Field order is the
/// sort order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Traversal {
    enter: Ms,
    arrive: Ms,
    vehicle: VehicleId,
}

/// Violations found so far, each with the time it is sorted by.
#[derive(Default)]
struct Found {
    items: Vec<(Ms, Violation)>,
}

impl Found {
    fn push(&mut self, at: Ms, v: Violation) {
        self.items.push((at, v));
    }

    /// The violations sorted by time, then by kind, then by their contents.
    fn into_sorted(mut self) -> Vec<Violation> {
        self.items.sort();
        self.items.into_iter().map(|(_, v)| v).collect()
    }
}

/// The smallest gap seen so far.
#[derive(Default)]
struct MinGap(Option<Ms>);

impl MinGap {
    fn see(&mut self, gap: Ms) {
        self.0 = Some(self.0.map_or(gap, |m| m.min(gap)));
    }
}

/// The largest value seen so far, and the largest seen from a vehicle other
/// than the holder of the first. With both at hand, the largest value from
/// any vehicle but a given one is known in constant time.
#[derive(Default)]
struct Leaders {
    best: Option<(Ms, VehicleId)>,
    second: Option<(Ms, VehicleId)>,
}

impl Leaders {
    fn push(&mut self, value: Ms, vehicle: VehicleId) {
        match self.best {
            None => self.best = Some((value, vehicle)),
            Some((best, holder)) if holder == vehicle => {
                self.best = Some((best.max(value), vehicle));
            }
            Some((best, holder)) => {
                if value > best {
                    // The old leader is now the best of all other vehicles.
                    self.second = Some((best, holder));
                    self.best = Some((value, vehicle));
                } else if self.second.is_none_or(|(second, _)| value > second) {
                    self.second = Some((value, vehicle));
                }
            }
        }
    }

    /// The largest value pushed by a vehicle other than `vehicle`.
    fn other_than(&self, vehicle: VehicleId) -> Option<(Ms, VehicleId)> {
        match self.best {
            Some((_, holder)) if holder == vehicle => self.second,
            best => best,
        }
    }
}

impl<'m> Verifier<'m> {
    pub fn new(map: &'m LaneMap, rules: SafetyRules) -> Verifier<'m> {
        let min_traverse_ms = map
            .arcs
            .iter()
            .map(|arc| {
                let edge = map.edge(arc.edge);
                min_traverse_ms(edge.length_m, edge.speed_limit_mps)
            })
            .collect();
        Verifier {
            map,
            rules,
            min_traverse_ms,
            names: Arc::new(Names::of(map)),
        }
    }

    /// The rules this verifier checks.
    pub fn rules(&self) -> SafetyRules {
        self.rules
    }

    /// The shortest time an arc may take at its speed limit, in whole
    /// milliseconds rounded up. A traversal is speeding when it is more than
    /// 1 ms shorter than this.
    pub fn min_traverse_ms(&self, arc: ArcIx) -> Ms {
        self.min_traverse_ms[arc.ix()]
    }

    /// Checks committed plans against every rule, including that each plan
    /// ends at rest at a place.
    pub fn check_plans(&self, plans: &[TimedPlan]) -> Report {
        self.check(plans, Mode::Plans)
    }

    /// Checks executed motion, given as steps with actual times, against every
    /// rule except the rest rule. The last step of a vehicle may have
    /// `depart == NEVER`: the vehicle is still there when the trace ends.
    pub fn check_trace(&self, trace: &[TimedPlan]) -> Report {
        self.check(trace, Mode::Trace)
    }

    fn check(&self, plans: &[TimedPlan], mode: Mode) -> Report {
        let h = self.rules.headway_ms;
        let mut found = Found::default();
        let mut gap = MinGap::default();
        let mut at_node: Vec<Vec<Occupancy>> = vec![Vec::new(); self.map.nodes.len()];
        let mut on_arc: Vec<Vec<Traversal>> = vec![Vec::new(); self.map.arcs.len()];
        let mut first_plan: BTreeMap<VehicleId, usize> = BTreeMap::new();
        let mut checked_steps = 0;

        for (index, plan) in plans.iter().enumerate() {
            checked_steps += plan.steps.len();
            let first_time = plan.steps.first().map_or(0, |s| s.arrive);
            match plan.vehicle {
                None => found.push(
                    first_time,
                    Violation::Malformed {
                        vehicle: None,
                        step: 0,
                        reason: format!(
                            "plan #{index} names no vehicle, so it is left out of the \
                             checks between vehicles"
                        ),
                    },
                ),
                Some(v) => {
                    if let Some(&earlier) = first_plan.get(&v) {
                        found.push(
                            first_time,
                            Violation::Malformed {
                                vehicle: Some(v),
                                step: 0,
                                reason: format!(
                                    "plan #{index} is a second plan for this vehicle \
                                     (the first is plan #{earlier})"
                                ),
                            },
                        );
                    } else {
                        first_plan.insert(v, index);
                    }
                }
            }
            self.check_one(plan, mode, &mut found);
            if let Some(vehicle) = plan.vehicle {
                self.file_steps(plan, vehicle, &mut at_node, &mut on_arc);
            }
        }

        for (n, list) in at_node.iter_mut().enumerate() {
            check_node(NodeIx(n as u32), list, &mut found, &mut gap);
        }
        for (a, list) in on_arc.iter_mut().enumerate() {
            check_arc(ArcIx(a as u32), list, h, &mut found, &mut gap);
        }
        for (a, arc) in self.map.arcs.iter().enumerate() {
            // Each bidirectional edge is checked once, from its forward arc.
            if let (true, Some(back)) = (arc.forward, arc.opposite) {
                let fwd = &on_arc[a];
                let rev = on_arc.get(back.ix()).map_or(&[][..], |l| &l[..]);
                check_single_lane(arc.edge, fwd, rev, h, &mut found);
            }
        }
        for (z, zone) in self.map.zones.iter().enumerate() {
            check_zone(
                ZoneIx(z as u32),
                zone.capacity,
                &zone.members,
                &at_node,
                &mut found,
            );
        }

        Report::new(
            found.into_sorted(),
            gap.0,
            checked_steps,
            Arc::clone(&self.names),
        )
    }

    /// The checks one plan can fail on its own: its shape, its speed and,
    /// for committed plans, its end at rest.
    fn check_one(&self, plan: &TimedPlan, mode: Mode, found: &mut Found) {
        let map = self.map;
        let vehicle = plan.vehicle;
        let n = plan.steps.len();
        let bad = |found: &mut Found, step: usize, at: Ms, reason: String| {
            found.push(
                at,
                Violation::Malformed {
                    vehicle,
                    step,
                    reason,
                },
            );
        };
        let node_name = |ix: NodeIx| -> String {
            map.nodes
                .get(ix.ix())
                .map_or_else(|| format!("#{}", ix.0), |node| node.id.clone())
        };

        for (i, s) in plan.steps.iter().enumerate() {
            let last = i + 1 == n;
            let at = s.arrive;
            let node = map.nodes.get(s.node.ix());
            if node.is_none() {
                bad(
                    found,
                    i,
                    at,
                    format!("node index {} is not on the map", s.node.0),
                );
            }
            // A trace's last step that never departs is cut off by the end
            // of the trace, not a stay: the vehicle may be anywhere beyond.
            let open_end = mode == Mode::Trace && last && s.depart == NEVER;

            if s.depart < s.arrive {
                bad(
                    found,
                    i,
                    at,
                    format!(
                        "departs at {} before it arrives at {}",
                        Time(s.depart),
                        Time(s.arrive)
                    ),
                );
            }
            if s.depart == NEVER && !last {
                bad(
                    found,
                    i,
                    at,
                    "never departs but is not the last step".to_string(),
                );
            }
            if let Some(prev) = i.checked_sub(1).map(|p| &plan.steps[p])
                && s.enter != prev.depart
            {
                bad(
                    found,
                    i,
                    at,
                    format!(
                        "enters its arc at {} but the previous step departs at {}",
                        Time(s.enter),
                        Time(prev.depart)
                    ),
                );
            }

            match s.arc {
                None if i == 0 => {}
                None => bad(
                    found,
                    i,
                    at,
                    format!(
                        "has no arc from the previous node {}",
                        node_name(plan.steps[i - 1].node)
                    ),
                ),
                Some(a) => match map.arcs.get(a.ix()) {
                    None => bad(found, i, at, format!("arc index {} is not on the map", a.0)),
                    Some(arc) => {
                        if arc.to != s.node {
                            bad(
                                found,
                                i,
                                at,
                                format!(
                                    "arc from {} to {} does not lead to node {}",
                                    node_name(arc.from),
                                    node_name(arc.to),
                                    node_name(s.node)
                                ),
                            );
                        }
                        if let Some(prev) = i.checked_sub(1).map(|p| &plan.steps[p])
                            && arc.from != prev.node
                        {
                            bad(
                                found,
                                i,
                                at,
                                format!(
                                    "arc from {} to {} does not leave the previous node {}",
                                    node_name(arc.from),
                                    node_name(arc.to),
                                    node_name(prev.node)
                                ),
                            );
                        }
                        if s.enter > s.arrive {
                            bad(
                                found,
                                i,
                                at,
                                format!(
                                    "arrives at {} before it enters its arc at {}",
                                    Time(s.arrive),
                                    Time(s.enter)
                                ),
                            );
                        } else if let Some(v) = vehicle {
                            let min_ms = self.min_traverse_ms[a.ix()];
                            let actual_ms = s.arrive - s.enter;
                            if actual_ms.saturating_add(1) < min_ms {
                                found.push(
                                    s.enter,
                                    Violation::Speeding {
                                        vehicle: v,
                                        arc: a,
                                        min_ms,
                                        actual_ms,
                                    },
                                );
                            }
                        }
                    }
                },
            }

            if !open_end && !s.stops && s.depart != s.arrive {
                bad(
                    found,
                    i,
                    at,
                    format!(
                        "does not stop but departs at {} after arriving at {}",
                        Time(s.depart),
                        Time(s.arrive)
                    ),
                );
            }
            // A plan may start standing where vehicles may not wait (a
            // vehicle stopped on the bridge by a fault ahead): that is where
            // it is, not a wait the plan chose.
            let starts_here = i == 0;
            if let Some(node) = node
                && !open_end
                && !starts_here
                && !node.kind.may_wait()
                && (s.stops || s.depart != s.arrive)
            {
                bad(
                    found,
                    i,
                    at,
                    format!(
                        "waits at node {} ({:?}), where vehicles may not wait",
                        node.id, node.kind
                    ),
                );
            }
        }

        if mode == Mode::Plans
            && let Some(v) = vehicle
        {
            let rests = plan.steps.last().is_some_and(|s| {
                s.depart == NEVER
                    && map
                        .nodes
                        .get(s.node.ix())
                        .is_some_and(|n| n.kind.is_place())
            });
            if !rests {
                let at = plan.steps.last().map_or(0, |s| s.arrive);
                found.push(at, Violation::NoRest { vehicle: v });
            }
        }
    }

    /// Files a plan's steps under the nodes they occupy and the arcs they
    /// traverse. Steps that point off the map, and traversals whose times run
    /// backwards, are left out: they were reported as malformed already.
    fn file_steps(
        &self,
        plan: &TimedPlan,
        vehicle: VehicleId,
        at_node: &mut [Vec<Occupancy>],
        on_arc: &mut [Vec<Traversal>],
    ) {
        let h = self.rules.headway_ms;
        for s in &plan.steps {
            if let Some(list) = at_node.get_mut(s.node.ix()) {
                list.push(Occupancy {
                    start: s.arrive,
                    end: s.depart.saturating_add(h),
                    vehicle,
                    depart: s.depart,
                });
            }
            if let Some(a) = s.arc
                && s.enter <= s.arrive
                && let Some(list) = on_arc.get_mut(a.ix())
            {
                list.push(Traversal {
                    enter: s.enter,
                    arrive: s.arrive,
                    vehicle,
                });
            }
        }
    }
}

/// The shortest time, in whole milliseconds rounded up, in which `length_m`
/// can be driven at `speed_mps`. A speed limit of zero makes the time
/// unbounded; a length or speed that is not a number gives no bound.
fn min_traverse_ms(length_m: f64, speed_mps: f64) -> Ms {
    let ms = (length_m / speed_mps * 1000.0).ceil();
    // The cast saturates: infinity becomes `Ms::MAX` and NaN becomes 0.
    ms as Ms
}

/// No two vehicles' occupancies of one node overlap.
///
/// Sorted by start, an occupancy overlaps an earlier one of another vehicle
/// exactly when the latest end among those earlier occupancies lies after
/// its start, so keeping that latest end (and the latest from a second
/// vehicle, for when the first is the same vehicle) suffices.
fn check_node(node: NodeIx, list: &mut [Occupancy], found: &mut Found, gap: &mut MinGap) {
    list.sort_unstable();
    let mut leaders = Leaders::default();
    let mut prev: Option<Occupancy> = None;
    for &o in list.iter() {
        if let Some(p) = prev
            && p.vehicle != o.vehicle
        {
            gap.see(o.start.saturating_sub(p.depart));
        }
        prev = Some(o);
        if o.end <= o.start {
            // An empty occupancy (no headway and no stay) holds no instant.
            continue;
        }
        if let Some((end, other)) = leaders.other_than(o.vehicle)
            && end > o.start
        {
            found.push(
                o.start,
                Violation::NodeOverlap {
                    node,
                    a: other,
                    b: o.vehicle,
                    from: o.start,
                    to: end.min(o.end),
                },
            );
        }
        leaders.push(o.end, o.vehicle);
    }
}

/// Traversals of one arc keep their order and are `h` apart at entry and at
/// exit.
///
/// Sorted by entry, the closest earlier entry of another vehicle and the
/// latest earlier exit of another vehicle are the only ones a traversal must
/// be compared with.
fn check_arc(arc: ArcIx, list: &mut [Traversal], h: Ms, found: &mut Found, gap: &mut MinGap) {
    list.sort_unstable();
    let mut entries = Leaders::default();
    let mut exits = Leaders::default();
    let mut prev: Option<Traversal> = None;
    for &t in list.iter() {
        if let Some(p) = prev
            && p.vehicle != t.vehicle
        {
            gap.see(t.enter.saturating_sub(p.enter));
            gap.see(t.arrive.saturating_sub(p.arrive));
        }
        prev = Some(t);
        if let Some((enter, other)) = entries.other_than(t.vehicle) {
            let gap_ms = t.enter.saturating_sub(enter);
            if gap_ms < h {
                found.push(
                    t.enter,
                    Violation::Headway {
                        arc,
                        a: other,
                        b: t.vehicle,
                        gap_ms,
                        at: t.enter,
                    },
                );
            }
        }
        if let Some((arrive, other)) = exits.other_than(t.vehicle) {
            if t.arrive < arrive {
                found.push(
                    t.arrive,
                    Violation::Overtaking {
                        arc,
                        a: other,
                        b: t.vehicle,
                        at: t.arrive,
                    },
                );
            } else if t.arrive - arrive < h {
                found.push(
                    t.arrive,
                    Violation::Headway {
                        arc,
                        a: other,
                        b: t.vehicle,
                        gap_ms: t.arrive - arrive,
                        at: t.arrive,
                    },
                );
            }
        }
        entries.push(t.enter, t.vehicle);
        exits.push(t.arrive, t.vehicle);
    }
}

/// The two arcs of a single-lane edge are not used at once: a traversal may
/// enter only `h` after every earlier traversal in the other direction, by
/// another vehicle, has left.
fn check_single_lane(
    edge: EdgeIx,
    forward: &[Traversal],
    backward: &[Traversal],
    h: Ms,
    found: &mut Found,
) {
    if forward.is_empty() || backward.is_empty() {
        return;
    }
    let mut all: Vec<(Traversal, usize)> = forward
        .iter()
        .map(|&t| (t, 0))
        .chain(backward.iter().map(|&t| (t, 1)))
        .collect();
    all.sort_unstable();
    let mut exits = [Leaders::default(), Leaders::default()];
    for &(t, dir) in &all {
        if let Some((arrive, other)) = exits[1 - dir].other_than(t.vehicle)
            && t.enter < arrive.saturating_add(h)
        {
            found.push(
                t.enter,
                Violation::OppositeDirections {
                    edge,
                    a: other,
                    b: t.vehicle,
                    at: t.enter,
                },
            );
        }
        exits[dir].push(t.arrive, t.vehicle);
    }
}

/// At no instant are more distinct vehicles at a zone's member nodes than the
/// zone holds.
///
/// Each vehicle's occupancies of member nodes are merged into disjoint
/// intervals first, so a vehicle counts once; then a sweep over the sorted
/// interval ends counts the vehicles present between consecutive instants.
fn check_zone(
    zone: ZoneIx,
    capacity: u32,
    members: &[NodeIx],
    at_node: &[Vec<Occupancy>],
    found: &mut Found,
) {
    let mut by_vehicle: BTreeMap<VehicleId, Vec<(Ms, Ms)>> = BTreeMap::new();
    for m in members {
        for o in at_node.get(m.ix()).map_or(&[][..], |l| &l[..]) {
            if o.start < o.end {
                by_vehicle
                    .entry(o.vehicle)
                    .or_default()
                    .push((o.start, o.end));
            }
        }
    }
    if by_vehicle.len() <= capacity as usize {
        return;
    }

    // Each event is a time and a change in the count; at one instant the
    // departures (-1) sort before the arrivals (+1), as intervals are
    // half-open.
    let mut events: Vec<(Ms, i64)> = Vec::new();
    for intervals in by_vehicle.values_mut() {
        intervals.sort_unstable();
        let mut current: Option<(Ms, Ms)> = None;
        for &(start, end) in intervals.iter() {
            match current {
                Some((s, e)) if start <= e => current = Some((s, e.max(end))),
                _ => {
                    if let Some((s, e)) = current {
                        events.push((s, 1));
                        events.push((e, -1));
                    }
                    current = Some((start, end));
                }
            }
        }
        if let Some((s, e)) = current {
            events.push((s, 1));
            events.push((e, -1));
        }
    }
    events.sort_unstable();

    let mut count: i64 = 0;
    // The start of the current stretch over capacity and its peak count.
    let mut over: Option<(Ms, i64)> = None;
    let mut i = 0;
    while i < events.len() {
        let t = events[i].0;
        while i < events.len() && events[i].0 == t {
            count += events[i].1;
            i += 1;
        }
        if count > i64::from(capacity) {
            over = Some(match over {
                None => (t, count),
                Some((at, peak)) => (at, peak.max(count)),
            });
        } else if let Some((at, peak)) = over.take() {
            found.push(at, over_capacity(zone, at, peak, capacity));
        }
    }
    if let Some((at, peak)) = over {
        found.push(at, over_capacity(zone, at, peak, capacity));
    }
}

fn over_capacity(zone: ZoneIx, at: Ms, count: i64, capacity: u32) -> Violation {
    Violation::ZoneOverCapacity {
        zone,
        at,
        count: u32::try_from(count).unwrap_or(u32::MAX),
        capacity,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaders_track_the_best_other_vehicle() {
        let (a, b, c) = (VehicleId(1), VehicleId(2), VehicleId(3));
        let mut l = Leaders::default();
        assert_eq!(l.other_than(a), None);
        l.push(10, a);
        assert_eq!(l.other_than(a), None);
        assert_eq!(l.other_than(b), Some((10, a)));
        l.push(5, b);
        assert_eq!(l.other_than(a), Some((5, b)));
        l.push(20, a);
        assert_eq!(l.other_than(a), Some((5, b)));
        assert_eq!(l.other_than(c), Some((20, a)));
        l.push(30, b);
        assert_eq!(l.other_than(b), Some((20, a)));
        assert_eq!(l.other_than(a), Some((30, b)));
        l.push(25, c);
        assert_eq!(l.other_than(b), Some((25, c)));
    }

    #[test]
    fn min_traverse_time_rounds_up_and_saturates() {
        // 100 m at 18 km/h is exactly 20 s.
        assert!((19_999..=20_001).contains(&min_traverse_ms(100.0, 18.0 / 3.6)));
        assert_eq!(min_traverse_ms(10.0, 3.0), 3_334);
        assert_eq!(min_traverse_ms(10.0, 0.0), Ms::MAX);
        assert_eq!(min_traverse_ms(0.0, 5.0), 0);
    }

    #[test]
    fn zone_sweep_counts_a_vehicle_once() {
        let v = VehicleId(1);
        let w = VehicleId(2);
        let occ = |start, end, vehicle| Occupancy {
            start,
            end,
            vehicle,
            depart: end,
        };
        // Vehicle 1 is at both members at once; vehicle 2 comes after it.
        let at_node = vec![
            vec![occ(0, 100, v), occ(100, 200, w)],
            vec![occ(50, 100, v)],
        ];
        let mut found = Found::default();
        check_zone(ZoneIx(0), 1, &[NodeIx(0), NodeIx(1)], &at_node, &mut found);
        assert!(found.items.is_empty());

        // Vehicle 2 arriving one millisecond early makes two.
        let at_node = vec![vec![occ(0, 100, v), occ(99, 200, w)], vec![occ(50, 100, v)]];
        let mut found = Found::default();
        check_zone(ZoneIx(0), 1, &[NodeIx(0), NodeIx(1)], &at_node, &mut found);
        assert_eq!(
            found.into_sorted(),
            vec![Violation::ZoneOverCapacity {
                zone: ZoneIx(0),
                at: 99,
                count: 2,
                capacity: 1
            }]
        );
    }
}
