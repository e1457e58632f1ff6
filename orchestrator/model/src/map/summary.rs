//! The summary `borderlane map check` prints.
//!
//! Distances are computed on the directed arcs of the map: a one-way edge
//! can be driven from `from` to `to` only, a bidirectional edge both ways.
//! Shortest routes use integer millimetres so that ties and totals do not
//! depend on floating-point summation order.

use std::fmt;

use pathfinding::directed::dijkstra::dijkstra;

use super::geojson::{edge_kind_name, node_kind_name, zone_kind_name};
use super::{Direction, EdgeIx, EdgeKind, LaneMap, NodeIx, NodeKind, Side, ZoneIx, ZoneKind};

/// What `borderlane map check` reports about a valid map. It holds ids
/// rather than indices so that it can be printed on its own.
#[derive(Clone, Debug, PartialEq)]
pub struct MapSummary {
    pub name: String,
    pub nodes: usize,
    pub edges: usize,
    /// Node counts by kind, in kind order; kinds with no node are left out.
    pub node_counts: Vec<(NodeKind, usize)>,
    /// Edge counts by kind, in kind order; kinds with no edge are left out.
    pub edge_counts: Vec<(EdgeKind, usize)>,
    /// The shortest drive from a gate on one side to a gate on the other:
    /// VN to CN first, then CN to VN.
    pub yard_to_yard: Vec<YardToYard>,
    /// The bridge lanes: chains of bridge edges between two bridge ends, in
    /// the order of their first edge.
    pub bridge_lanes: Vec<BridgeLane>,
    /// Bidirectional edges other than spurs: stretches of single lane shared
    /// by both directions.
    pub single_lane: Vec<SingleLane>,
    /// Every zone, in zone order.
    pub zones: Vec<ZoneLine>,
}

/// The shortest gate-to-gate drive from one side to the other.
#[derive(Clone, Debug, PartialEq)]
pub struct YardToYard {
    pub from_side: Side,
    pub to_side: Side,
    /// The gates and the length, or `None` when no gate on `to_side` can be
    /// reached from a gate on `from_side`.
    pub route: Option<GateRoute>,
}

/// A gate-to-gate route, by the gates' ids.
#[derive(Clone, Debug, PartialEq)]
pub struct GateRoute {
    pub from: String,
    pub to: String,
    pub length_m: f64,
}

/// One lane of the bridge.
#[derive(Clone, Debug, PartialEq)]
pub struct BridgeLane {
    /// The bridge end the lane is driven from (for a lane driven both ways,
    /// the Vietnamese end).
    pub from: String,
    /// The bridge end the lane is driven to.
    pub to: String,
    pub from_side: Option<Side>,
    pub to_side: Option<Side>,
    /// Whether the lane can be driven both ways.
    pub two_way: bool,
    /// Whether the lane can be driven at all from one end to the other.
    pub drivable: bool,
    /// The sum of the edges' lengths.
    pub length_m: f64,
    /// The lane's edges, from `from` to `to`.
    pub edges: Vec<String>,
    /// The border nodes on the lane, each with its distance along the lane
    /// from the lane's Vietnamese end (from `from` when neither end is on
    /// the Vietnamese side).
    pub borders: Vec<(String, f64)>,
}

/// A stretch of single lane.
#[derive(Clone, Debug, PartialEq)]
pub struct SingleLane {
    pub id: String,
    pub kind: EdgeKind,
    pub from: String,
    pub to: String,
    pub length_m: f64,
}

/// One zone, for the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneLine {
    pub id: String,
    pub kind: ZoneKind,
    pub side: Side,
    pub capacity: u32,
    pub members: usize,
}

/// Metres to integer millimetres, for path costs.
fn mm(length_m: f64) -> u64 {
    (length_m * 1000.0).round() as u64
}

impl MapSummary {
    pub(crate) fn of(map: &LaneMap) -> MapSummary {
        let id = |n: NodeIx| map.node(n).id.clone();
        let mut node_counts: Vec<(NodeKind, usize)> = Vec::new();
        for n in &map.nodes {
            match node_counts.iter_mut().find(|(k, _)| *k == n.kind) {
                Some((_, c)) => *c += 1,
                None => node_counts.push((n.kind, 1)),
            }
        }
        node_counts.sort();
        let mut edge_counts: Vec<(EdgeKind, usize)> = Vec::new();
        for e in &map.edges {
            match edge_counts.iter_mut().find(|(k, _)| *k == e.kind) {
                Some((_, c)) => *c += 1,
                None => edge_counts.push((e.kind, 1)),
            }
        }
        edge_counts.sort();
        let yard_to_yard = [(Side::Vn, Side::Cn), (Side::Cn, Side::Vn)]
            .into_iter()
            .map(|(from_side, to_side)| YardToYard {
                from_side,
                to_side,
                route: map
                    .gate_route(from_side, to_side)
                    .map(|(from, to, length_m)| GateRoute {
                        from: id(from),
                        to: id(to),
                        length_m,
                    }),
            })
            .collect();
        let single_lane = map
            .edges
            .iter()
            .filter(|e| e.direction == Direction::Bidirectional && e.kind != EdgeKind::Spur)
            .map(|e| SingleLane {
                id: e.id.clone(),
                kind: e.kind,
                from: id(e.from),
                to: id(e.to),
                length_m: e.length_m,
            })
            .collect();
        let zones = map
            .zones
            .iter()
            .map(|z| ZoneLine {
                id: z.id.clone(),
                kind: z.kind,
                side: z.side,
                capacity: z.capacity,
                members: z.members.len(),
            })
            .collect();
        MapSummary {
            name: map.name.clone(),
            nodes: map.nodes.len(),
            edges: map.edges.len(),
            node_counts,
            edge_counts,
            yard_to_yard,
            bridge_lanes: bridge_lanes(map),
            single_lane,
            zones,
        }
    }

    /// The shortest gate-to-gate route from side `from` to side `to`, if
    /// there is one.
    pub fn route(&self, from: Side, to: Side) -> Option<&GateRoute> {
        self.yard_to_yard
            .iter()
            .find(|y| y.from_side == from && y.to_side == to)
            .and_then(|y| y.route.as_ref())
    }

    /// The bridge lane driven from side `from` to side `to` (one-way lanes
    /// only).
    pub fn bridge_lane(&self, from: Side, to: Side) -> Option<&BridgeLane> {
        self.bridge_lanes.iter().find(|l| {
            l.drivable && !l.two_way && l.from_side == Some(from) && l.to_side == Some(to)
        })
    }
}

impl LaneMap {
    /// The shortest drive from any gate on side `from` to any gate on side
    /// `to`: the start gate, the end gate and the driven length in metres
    /// (summed in whole millimetres). Ties go to the lower-numbered start
    /// gate.
    pub fn gate_route(&self, from: Side, to: Side) -> Option<(NodeIx, NodeIx, f64)> {
        let gates = |side: Side| -> Vec<NodeIx> {
            self.node_ixs()
                .filter(|n| {
                    let node = self.node(*n);
                    node.kind == NodeKind::Gate && node.side == Some(side)
                })
                .collect()
        };
        let targets = gates(to);
        let mut best: Option<(u64, NodeIx, NodeIx)> = None;
        for start in gates(from) {
            let found = dijkstra(
                &start,
                |n: &NodeIx| {
                    self.out_arcs(*n)
                        .iter()
                        .map(|a| (self.arc(*a).to, mm(self.arc_edge(*a).length_m)))
                        .collect::<Vec<_>>()
                },
                |n| targets.contains(n),
            );
            if let Some((path, cost)) = found
                && let Some(&end) = path.last()
                && best.is_none_or(|(c, _, _)| cost < c)
            {
                best = Some((cost, start, end));
            }
        }
        best.map(|(cost, a, b)| (a, b, cost as f64 / 1000.0))
    }

    /// Looks an edge up by id.
    pub fn edge_by_id(&self, id: &str) -> Option<EdgeIx> {
        self.edges
            .iter()
            .position(|e| e.id == id)
            .map(|i| EdgeIx(i as u32))
    }

    /// Looks a zone up by id.
    pub fn zone_by_id(&self, id: &str) -> Option<ZoneIx> {
        self.zones
            .iter()
            .position(|z| z.id == id)
            .map(|i| ZoneIx(i as u32))
    }
}

/// The other end of edge `e` from node `a`.
fn other_end(map: &LaneMap, e: EdgeIx, a: NodeIx) -> NodeIx {
    let edge = map.edge(e);
    if edge.from == a { edge.to } else { edge.from }
}

/// Whether edge `e` can be driven from node `a` to its other end.
fn drivable_from(map: &LaneMap, e: EdgeIx, a: NodeIx) -> bool {
    let edge = map.edge(e);
    edge.from == a || edge.direction == Direction::Bidirectional
}

/// Finds the bridge lanes: maximal chains of bridge edges between bridge
/// ends, passing only through nodes that are not bridge ends.
fn bridge_lanes(map: &LaneMap) -> Vec<BridgeLane> {
    let bridge_edges_at = |n: NodeIx| -> Vec<EdgeIx> {
        let mut v: Vec<EdgeIx> = map
            .out_arcs(n)
            .iter()
            .chain(map.in_arcs(n))
            .map(|a| map.arc(*a).edge)
            .filter(|e| map.edge(*e).kind == EdgeKind::Bridge)
            .collect();
        v.sort();
        v.dedup();
        v
    };
    // Walks from `node`, having come over `came`, to a bridge end; returns
    // the edges passed and the node reached.
    let walk = |mut node: NodeIx, mut came: EdgeIx, used: &mut [bool]| {
        let mut chain = Vec::new();
        while map.node(node).kind != NodeKind::BridgeEnd {
            let next = bridge_edges_at(node)
                .into_iter()
                .find(|x| *x != came && !used[x.ix()]);
            let Some(next) = next else { break };
            used[next.ix()] = true;
            chain.push(next);
            node = other_end(map, next, node);
            came = next;
        }
        (chain, node)
    };
    let mut lanes = Vec::new();
    let mut used = vec![false; map.edges.len()];
    for (ei, e) in map.edges.iter().enumerate() {
        if e.kind != EdgeKind::Bridge || used[ei] {
            continue;
        }
        let start = EdgeIx(ei as u32);
        used[ei] = true;
        let (back, first) = walk(e.from, start, &mut used);
        let (fwd, last) = walk(e.to, start, &mut used);
        // The chain from `first` to `last`.
        let mut edges: Vec<EdgeIx> = back.into_iter().rev().collect();
        edges.push(start);
        edges.extend(fwd);
        // Each edge with the node the chain enters it from, and with the
        // node it leaves it by.
        let mut steps = Vec::with_capacity(edges.len());
        let mut at = first;
        for x in &edges {
            let next = other_end(map, *x, at);
            steps.push((*x, at, next));
            at = next;
        }
        let forward_ok = steps.iter().all(|(x, a, _)| drivable_from(map, *x, *a));
        let backward_ok = steps.iter().all(|(x, _, b)| drivable_from(map, *x, *b));
        let side = |n: NodeIx| map.node(n).side;
        // A lane driven both ways is listed from its Vietnamese end.
        let reversed = if forward_ok && backward_ok {
            side(last) == Some(Side::Vn) && side(first) != Some(Side::Vn)
        } else {
            backward_ok
        };
        let (from, to) = if reversed {
            steps.reverse();
            (last, first)
        } else {
            (first, last)
        };
        let length_m: f64 = steps.iter().map(|(x, _, _)| map.edge(*x).length_m).sum();
        // Border distances along the lane from `from`, then from the
        // Vietnamese end when that is `to`.
        let measure_from_to = side(to) == Some(Side::Vn) && side(from) != Some(Side::Vn);
        let mut borders = Vec::new();
        let mut along = 0.0;
        let mut node = from;
        for (x, _, _) in &steps {
            node = other_end(map, *x, node);
            along += map.edge(*x).length_m;
            if map.node(node).kind == NodeKind::Border {
                let d = if measure_from_to {
                    length_m - along
                } else {
                    along
                };
                borders.push((map.node(node).id.clone(), d));
            }
        }
        lanes.push(BridgeLane {
            from: map.node(from).id.clone(),
            to: map.node(to).id.clone(),
            from_side: side(from),
            to_side: side(to),
            two_way: forward_ok && backward_ok,
            drivable: forward_ok || backward_ok,
            length_m,
            edges: steps
                .iter()
                .map(|(x, _, _)| map.edge(*x).id.clone())
                .collect(),
            borders,
        });
    }
    lanes
}

fn side_code(side: Option<Side>) -> &'static str {
    side.map(|s| s.code()).unwrap_or("-")
}

impl fmt::Display for MapSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.name.is_empty() {
            "(unnamed)"
        } else {
            &self.name
        };
        writeln!(f, "map: {name}")?;
        let counts = |v: Vec<(&'static str, usize)>| {
            v.iter()
                .map(|(k, c)| format!("{k} {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            f,
            "nodes: {} ({})",
            self.nodes,
            counts(
                self.node_counts
                    .iter()
                    .map(|(k, c)| (node_kind_name(*k), *c))
                    .collect()
            )
        )?;
        writeln!(
            f,
            "edges: {} ({})",
            self.edges,
            counts(
                self.edge_counts
                    .iter()
                    .map(|(k, c)| (edge_kind_name(*k), *c))
                    .collect()
            )
        )?;
        writeln!(f, "yard to yard (shortest, gate to gate):")?;
        for y in &self.yard_to_yard {
            match &y.route {
                Some(r) => writeln!(
                    f,
                    "  {} -> {}: {:.1} m, {} to {}",
                    y.from_side, y.to_side, r.length_m, r.from, r.to
                )?,
                None => writeln!(f, "  {} -> {}: no route", y.from_side, y.to_side)?,
            }
        }
        writeln!(f, "bridge lanes:")?;
        if self.bridge_lanes.is_empty() {
            writeln!(f, "  none")?;
        }
        for l in &self.bridge_lanes {
            let (a, b) = (side_code(l.from_side), side_code(l.to_side));
            let dir = if !l.drivable {
                format!("{a} -- {b} (not drivable end to end)")
            } else if l.two_way {
                format!("{a} <-> {b}")
            } else {
                format!("{a} -> {b}")
            };
            write!(f, "  {dir}: {:.1} m, {} to {}", l.length_m, l.from, l.to)?;
            for (b, d) in &l.borders {
                write!(f, "; border {b} at {d:.1} m from the VN end")?;
            }
            writeln!(f)?;
        }
        writeln!(f, "single-lane stretches (shared by both directions):")?;
        if self.single_lane.is_empty() {
            writeln!(f, "  none")?;
        }
        for l in &self.single_lane {
            writeln!(
                f,
                "  {} ({}): {:.1} m, {} <-> {}",
                l.id,
                edge_kind_name(l.kind),
                l.length_m,
                l.from,
                l.to
            )?;
        }
        writeln!(f, "zones:")?;
        if self.zones.is_empty() {
            writeln!(f, "  none")?;
        }
        for z in &self.zones {
            writeln!(
                f,
                "  {}: {}, {}, capacity {}, {} member(s)",
                z.id,
                zone_kind_name(z.kind),
                z.side,
                z.capacity,
                z.members
            )?;
        }
        Ok(())
    }
}
