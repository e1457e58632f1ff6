//! The reservation table: who holds which node, arc and zone, and when.
//!
//! Every committed plan is entered here, step by step, with the occupancy
//! rules of [`borderlane_model::plan`]: a node is held during
//! `[arrive, depart + H)`, an arc during `[enter, arrive]`, and every zone a
//! node belongs to for as long as the node. The planner asks the table for a
//! node's free windows and an arc's forbidden entry times; repair asks it who
//! would conflict with a vehicle that must stay where it is.
//!
//! Storage is a `Vec` per resource, kept sorted, and a `BTreeMap` per
//! vehicle: nothing here iterates in hash order. Every change also brings
//! up to date what the planner reads on every search: the intervals in
//! which each zone is full and the free windows of each node.

use std::collections::{BTreeMap, BTreeSet};

use borderlane_model::{ArcIx, LaneMap, Ms, NEVER, NodeIx, TimedPlan, VehicleId, ZoneIx};

/// A half-open hold `[start, end)` of a node or zone by one vehicle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hold {
    pub start: Ms,
    pub end: Ms,
    pub vehicle: VehicleId,
}

/// A traversal `[enter, exit]` of an arc by one vehicle; `exit == NEVER`
/// for a vehicle held on the arc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pass {
    pub enter: Ms,
    pub exit: Ms,
    pub vehicle: VehicleId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Resource {
    Node(NodeIx),
    Arc(ArcIx),
    Zone(ZoneIx),
}

#[derive(Clone, Debug)]
pub struct ReservationTable {
    headway: Ms,
    nodes: Vec<Vec<Hold>>,
    arcs: Vec<Vec<Pass>>,
    zones: Vec<Vec<Hold>>,
    by_vehicle: BTreeMap<VehicleId, BTreeSet<Resource>>,
    /// The node holds that never end (`end == NEVER`), with their node: a
    /// vehicle pinned for good or a blocked place. Kept apart so that the
    /// planner's reachability test need not scan the whole table.
    forever_holds: Vec<(NodeIx, Hold)>,
    /// The arc passes that never end (`exit == NEVER`), with their arc.
    forever_passes: Vec<(ArcIx, Pass)>,
    /// From the map: each zone's capacity and member nodes, and each node's
    /// zones in zone order.
    zone_capacity: Vec<usize>,
    zone_members: Vec<Vec<NodeIx>>,
    node_zones: Vec<Vec<ZoneIx>>,
    /// Per zone, the intervals in which it is full (see `zone_full`).
    full: Vec<Vec<(Ms, Ms)>>,
    /// Per node, its free windows (see `free_windows`).
    free: Vec<Vec<(Ms, Ms)>>,
}

fn insert_sorted<T: Ord + Copy>(v: &mut Vec<T>, x: T) {
    let at = v.partition_point(|y| *y <= x);
    v.insert(at, x);
}

impl ReservationTable {
    pub fn new(map: &LaneMap, headway: Ms) -> ReservationTable {
        let mut zone_members = vec![Vec::new(); map.zones.len()];
        for n in map.node_ixs() {
            for &z in &map.node(n).zones {
                zone_members[z.ix()].push(n);
            }
        }
        ReservationTable {
            headway,
            nodes: vec![Vec::new(); map.nodes.len()],
            arcs: vec![Vec::new(); map.arcs.len()],
            zones: vec![Vec::new(); map.zones.len()],
            by_vehicle: BTreeMap::new(),
            forever_holds: Vec::new(),
            forever_passes: Vec::new(),
            zone_capacity: map.zones.iter().map(|z| z.capacity as usize).collect(),
            zone_members,
            node_zones: map.nodes.iter().map(|n| n.zones.clone()).collect(),
            full: vec![Vec::new(); map.zones.len()],
            free: vec![vec![(0, NEVER)]; map.nodes.len()],
        }
    }

    pub fn headway(&self) -> Ms {
        self.headway
    }

    /// The number of reservations held, over all resources.
    pub fn len(&self) -> usize {
        self.nodes.iter().map(Vec::len).sum::<usize>()
            + self.arcs.iter().map(Vec::len).sum::<usize>()
            + self.zones.iter().map(Vec::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Enters every step of a plan.
    pub fn reserve(&mut self, map: &LaneMap, plan: &TimedPlan) {
        let Some(v) = plan.vehicle else { return };
        let mut touched_nodes = Vec::new();
        let mut touched_zones = Vec::new();
        for s in &plan.steps {
            if let Some(a) = s.arc {
                let pass = Pass {
                    enter: s.enter,
                    exit: s.arrive,
                    vehicle: v,
                };
                insert_sorted(&mut self.arcs[a.ix()], pass);
                if pass.exit == NEVER {
                    self.forever_passes.push((a, pass));
                }
                self.mark(v, Resource::Arc(a));
            }
            if s.arrive == NEVER {
                continue;
            }
            let hold = Hold {
                start: s.arrive,
                end: s.depart.saturating_add(self.headway),
                vehicle: v,
            };
            insert_sorted(&mut self.nodes[s.node.ix()], hold);
            if hold.end == NEVER {
                self.forever_holds.push((s.node, hold));
            }
            self.mark(v, Resource::Node(s.node));
            touched_nodes.push(s.node);
            for &z in &map.node(s.node).zones {
                insert_sorted(&mut self.zones[z.ix()], hold);
                self.mark(v, Resource::Zone(z));
                touched_zones.push(z);
            }
        }
        self.refresh(touched_nodes, touched_zones);
    }

    fn mark(&mut self, v: VehicleId, r: Resource) {
        self.by_vehicle.entry(v).or_default().insert(r);
    }

    /// Removes every reservation of a vehicle.
    pub fn release(&mut self, v: VehicleId) {
        let Some(resources) = self.by_vehicle.remove(&v) else {
            return;
        };
        let mut touched_nodes = Vec::new();
        let mut touched_zones = Vec::new();
        for r in resources {
            match r {
                Resource::Node(n) => {
                    self.nodes[n.ix()].retain(|h| h.vehicle != v);
                    touched_nodes.push(n);
                }
                Resource::Arc(a) => self.arcs[a.ix()].retain(|p| p.vehicle != v),
                Resource::Zone(z) => {
                    self.zones[z.ix()].retain(|h| h.vehicle != v);
                    touched_zones.push(z);
                }
            }
        }
        self.refresh(touched_nodes, touched_zones);
        self.forever_holds.retain(|(_, h)| h.vehicle != v);
        self.forever_passes.retain(|(_, p)| p.vehicle != v);
    }

    /// Drops reservations that ended before `t`; they can no longer constrain
    /// any plan that starts at `t` or later.
    pub fn prune(&mut self, t: Ms) {
        let h = self.headway;
        for list in self.nodes.iter_mut().chain(self.zones.iter_mut()) {
            list.retain(|x| x.end > t);
        }
        for list in &mut self.arcs {
            list.retain(|p| p.exit.saturating_add(h) > t);
        }
        let mut by_vehicle: BTreeMap<VehicleId, BTreeSet<Resource>> = BTreeMap::new();
        for (i, list) in self.nodes.iter().enumerate() {
            for x in list {
                by_vehicle
                    .entry(x.vehicle)
                    .or_default()
                    .insert(Resource::Node(NodeIx(i as u32)));
            }
        }
        for (i, list) in self.arcs.iter().enumerate() {
            for x in list {
                by_vehicle
                    .entry(x.vehicle)
                    .or_default()
                    .insert(Resource::Arc(ArcIx(i as u32)));
            }
        }
        for (i, list) in self.zones.iter().enumerate() {
            for x in list {
                by_vehicle
                    .entry(x.vehicle)
                    .or_default()
                    .insert(Resource::Zone(ZoneIx(i as u32)));
            }
        }
        self.by_vehicle = by_vehicle;
        self.forever_holds
            .retain(|(n, h)| self.nodes[n.ix()].contains(h));
        self.forever_passes
            .retain(|(a, p)| self.arcs[a.ix()].contains(p));
        let all_nodes = (0..self.nodes.len()).map(|i| NodeIx(i as u32)).collect();
        let all_zones = (0..self.zones.len()).map(|i| ZoneIx(i as u32)).collect();
        self.refresh(all_nodes, all_zones);
    }

    /// Brings the full intervals of `zones` and the free windows of `nodes`
    /// up to date after their holds changed, and the free windows of the
    /// members of every zone whose full intervals changed.
    fn refresh(&mut self, mut nodes: Vec<NodeIx>, mut zones: Vec<ZoneIx>) {
        zones.sort_unstable();
        zones.dedup();
        let mut full = Vec::new();
        for z in zones {
            full.clear();
            zone_full_intervals(&self.zones[z.ix()], self.zone_capacity[z.ix()], &mut full);
            if full != self.full[z.ix()] {
                std::mem::swap(&mut self.full[z.ix()], &mut full);
                nodes.extend_from_slice(&self.zone_members[z.ix()]);
            }
        }
        nodes.sort_unstable();
        nodes.dedup();
        let mut blocked = Vec::new();
        for n in nodes {
            blocked.clear();
            blocked.extend(self.nodes[n.ix()].iter().map(|x| (x.start, x.end)));
            for &z in &self.node_zones[n.ix()] {
                blocked.extend_from_slice(&self.full[z.ix()]);
            }
            blocked.sort_unstable();
            let free = &mut self.free[n.ix()];
            free.clear();
            let mut free_from: Ms = 0;
            for &(a, b) in &blocked {
                if a > free_from {
                    free.push((free_from, a));
                }
                free_from = free_from.max(b);
            }
            if free_from < NEVER {
                free.push((free_from, NEVER));
            }
        }
    }

    pub fn node_holds(&self, n: NodeIx) -> &[Hold] {
        &self.nodes[n.ix()]
    }

    pub fn arc_passes(&self, a: ArcIx) -> &[Pass] {
        &self.arcs[a.ix()]
    }

    /// The node holds that never end, with their nodes, in the order they
    /// were reserved.
    pub(crate) fn forever_holds(&self) -> &[(NodeIx, Hold)] {
        &self.forever_holds
    }

    /// The arc passes that never end, with their arcs, in the order they
    /// were reserved.
    pub(crate) fn forever_passes(&self) -> &[(ArcIx, Pass)] {
        &self.forever_passes
    }

    /// The free windows of node `n`, in time order: the complement of its
    /// holds and of the intervals in which one of its zones is full, as
    /// half-open `[start, end)`; the last one ends at `NEVER` unless the node
    /// is held forever.
    pub fn free_windows(&self, n: NodeIx) -> &[(Ms, Ms)] {
        &self.free[n.ix()]
    }

    /// Appends to `out` the intervals during which zone `z` is full, as
    /// half-open `[start, end)`, in time order.
    pub fn zone_full(&self, map: &LaneMap, z: ZoneIx, out: &mut Vec<(Ms, Ms)>) {
        zone_full_intervals(&self.zones[z.ix()], map.zone(z).capacity as usize, out);
    }

    /// The vehicles whose reservations would conflict with `plan` if it were
    /// entered as it is. Used by repair to find who must move out of the way
    /// of a vehicle that cannot move.
    pub fn conflicts(&self, map: &LaneMap, plan: &TimedPlan) -> BTreeSet<VehicleId> {
        let h = self.headway;
        let mut found = BTreeSet::new();
        let me = plan.vehicle;
        for s in &plan.steps {
            if let Some(a) = s.arc {
                let (e, x) = (s.enter, s.arrive);
                for p in &self.arcs[a.ix()] {
                    if Some(p.vehicle) == me {
                        continue;
                    }
                    let ok = if p.enter <= e {
                        e >= p.enter.saturating_add(h) && x >= p.exit.saturating_add(h)
                    } else {
                        p.enter >= e.saturating_add(h) && p.exit >= x.saturating_add(h)
                    };
                    if !ok {
                        found.insert(p.vehicle);
                    }
                }
                if let Some(o) = map.arc(a).opposite {
                    for p in &self.arcs[o.ix()] {
                        if Some(p.vehicle) == me {
                            continue;
                        }
                        if !(e >= p.exit.saturating_add(h) || p.enter >= x.saturating_add(h)) {
                            found.insert(p.vehicle);
                        }
                    }
                }
            }
            if s.arrive == NEVER {
                continue;
            }
            let (start, end) = (s.arrive, s.depart.saturating_add(h));
            for x in &self.nodes[s.node.ix()] {
                if Some(x.vehicle) != me && x.start < end && start < x.end {
                    found.insert(x.vehicle);
                }
            }
            for &z in &map.node(s.node).zones {
                let cap = map.zone(z).capacity as usize;
                let overlapping: BTreeSet<VehicleId> = self.zones[z.ix()]
                    .iter()
                    .filter(|x| Some(x.vehicle) != me && x.start < end && start < x.end)
                    .map(|x| x.vehicle)
                    .collect();
                if overlapping.len() >= cap {
                    found.extend(overlapping);
                }
            }
        }
        found
    }
}

/// Appends to `out` the intervals during which a zone of capacity `cap` with
/// these holds is full, as half-open `[start, end)`, in time order. `holds`
/// is sorted, as the table keeps it. A zone is full while at least `cap`
/// distinct vehicles hold it; at an instant where holds end and others
/// begin (the intervals are half-open), the count after all of them is the
/// one that counts.
fn zone_full_intervals(holds: &[Hold], cap: usize, out: &mut Vec<(Ms, Ms)>) {
    if holds.len() < cap {
        return;
    }
    debug_assert!(holds.is_sorted());
    // The starts are in order already; the ends are sorted apart, and the
    // two are walked together one instant at a time.
    let mut ends: Vec<(Ms, VehicleId)> = holds
        .iter()
        .filter(|h| h.end != NEVER)
        .map(|h| (h.end, h.vehicle))
        .collect();
    ends.sort_unstable();
    let slots = holds
        .iter()
        .map(|h| h.vehicle.0 as usize + 1)
        .max()
        .unwrap_or(0);
    let mut per_vehicle = vec![0u32; slots];
    let mut distinct = 0usize;
    let mut full_since: Option<Ms> = None;
    let (mut i, mut j) = (0, 0);
    while i < holds.len() || j < ends.len() {
        let t = match (holds.get(i), ends.get(j)) {
            (Some(h), Some(&(e, _))) => h.start.min(e),
            (Some(h), None) => h.start,
            (None, Some(&(e, _))) => e,
            (None, None) => break,
        };
        // Ends first: a hold that ends at `t` began before it.
        while let Some(&(_, v)) = ends.get(j).filter(|(e, _)| *e == t) {
            let c = &mut per_vehicle[v.0 as usize];
            *c -= 1;
            if *c == 0 {
                distinct -= 1;
            }
            j += 1;
        }
        while let Some(h) = holds.get(i).filter(|h| h.start == t) {
            let c = &mut per_vehicle[h.vehicle.0 as usize];
            if *c == 0 {
                distinct += 1;
            }
            *c += 1;
            i += 1;
        }
        match (full_since, distinct >= cap) {
            (None, true) => full_since = Some(t),
            (Some(s), false) => {
                out.push((s, t));
                full_since = None;
            }
            _ => {}
        }
    }
    if let Some(s) = full_since {
        out.push((s, NEVER));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The zone's full intervals the plain way: every start and end as an
    /// event, sorted, counted one instant at a time.
    fn full_by_events(holds: &[Hold], cap: usize) -> Vec<(Ms, Ms)> {
        let mut out = Vec::new();
        if holds.len() < cap {
            return out;
        }
        let mut events: Vec<(Ms, i8, VehicleId)> = Vec::new();
        for h in holds {
            events.push((h.start, 1, h.vehicle));
            if h.end != NEVER {
                events.push((h.end, -1, h.vehicle));
            }
        }
        events.sort_unstable();
        let mut per_vehicle: BTreeMap<VehicleId, i64> = BTreeMap::new();
        let mut full_since = None;
        let mut k = 0;
        while k < events.len() {
            let t = events[k].0;
            while k < events.len() && events[k].0 == t {
                *per_vehicle.entry(events[k].2).or_insert(0) += i64::from(events[k].1);
                k += 1;
            }
            let distinct = per_vehicle.values().filter(|&&c| c > 0).count();
            match (full_since, distinct >= cap) {
                (None, true) => full_since = Some(t),
                (Some(s), false) => {
                    out.push((s, t));
                    full_since = None;
                }
                _ => {}
            }
        }
        if let Some(s) = full_since {
            out.push((s, NEVER));
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Holds on a coarse grid of times, so that starts and ends often
        /// meet, a vehicle often holds the zone twice, and some holds last
        /// for ever.
        #[test]
        fn zone_full_intervals_match_the_event_count(
            raw in proptest::collection::vec((0u64..40, 1u64..12, 0u32..6, 0u8..10), 0..40),
            cap in 1usize..5,
        ) {
            let mut holds: Vec<Hold> = raw
                .iter()
                .map(|&(s, len, v, forever)| Hold {
                    start: s * 1_000,
                    end: if forever == 0 { NEVER } else { (s + len) * 1_000 },
                    vehicle: VehicleId(v),
                })
                .collect();
            holds.sort();
            let mut got = Vec::new();
            zone_full_intervals(&holds, cap, &mut got);
            prop_assert_eq!(got, full_by_events(&holds, cap));
        }
    }
}
