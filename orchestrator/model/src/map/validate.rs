//! Map validation. Every rule names the feature it found wrong.
//!
//! The rules, checked on [`MapParts`] whether they came from GeoJSON or were
//! assembled in code:
//!
//! * ids are unique across nodes, edges and zones;
//! * every edge end and zone member names an existing node;
//! * positions and geometry are finite and within 100,000 km of the origin;
//! * a node has a side unless it is a border node, which has none;
//! * an edge's length (`length_m`, or the length of its geometry when that is
//!   absent) is in (0, 100,000] m, and its speed limit in (0, 60] km/h;
//! * a zone has at least one member and a capacity in [1, 2^32 - 1];
//! * the map has a border node, and every border node lies between two
//!   bridge edges, one arriving and one leaving;
//! * every yard slot can drive to some yard slot on the other side and be
//!   reached from one.
//!
//! The last two rules look at the road graph; they are checked only when
//! every id is unique and every reference resolves, since the graph is not
//! well defined otherwise.

use std::collections::{BTreeMap, BTreeSet};

use pathfinding::directed::bfs::bfs_reach;

use super::geojson::node_kind_name;
use super::{Direction, EdgeKind, MapParts, NodeKind, Point, Side, polyline_length};

/// The longest edge the map accepts, in metres.
pub const MAX_LENGTH_M: f64 = 100_000.0;
/// The highest speed limit the map accepts, in km/h.
pub const MAX_SPEED_KMH: f64 = 60.0;
/// How far from the origin a position may lie, in metres.
pub const MAX_COORDINATE_M: f64 = 1.0e8;

/// One thing wrong with one feature of a map.
#[derive(Clone, Debug, PartialEq)]
pub struct MapIssue {
    /// What the feature is: "node", "edge", "zone", "feature" (when its
    /// geometry or id could not be read) or "map" (the collection itself).
    pub kind: &'static str,
    /// The feature's id, or `#N` (its position among the features, from 0)
    /// when it has none; empty for the map itself.
    pub feature: String,
    pub problem: Problem,
}

/// What is wrong. The `Display` text follows the feature's name, as in
/// `edge VN_R3: speed_kmh 80 is out of range (0, 60]`.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem {
    /// Another feature already has this id.
    DuplicateId,
    /// An edge end or zone member names no node.
    DanglingReference { field: &'static str, target: String },
    /// The feature is not a well-formed GeoJSON Feature.
    NotAFeature { detail: String },
    /// The feature has no `properties` object.
    MissingProperties,
    /// A required property is absent or `null`.
    MissingProperty { property: &'static str },
    /// A property has the wrong JSON type.
    WrongType {
        property: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    /// A string property is not one of the allowed values.
    UnknownValue {
        property: &'static str,
        value: String,
        expected: &'static str,
    },
    /// The `id` property is an empty string.
    EmptyId,
    /// The feature has no geometry.
    MissingGeometry,
    /// The geometry is of a type a map does not use.
    UnsupportedGeometry { geometry: String },
    /// The geometry does not have the shape its type requires.
    BadGeometry { detail: String },
    /// A position is outside longitude [-180, 180] or latitude [-90, 90].
    CoordinateOutOfRange { lon: f64, lat: f64 },
    /// A number is NaN or infinite.
    NotFinite { field: &'static str },
    /// A position in the local frame is not finite or lies too far away.
    PositionOutOfRange { field: &'static str },
    /// An edge's length is zero, negative, non-finite or too long.
    LengthOutOfRange {
        length_m: f64,
        /// Whether the length was given as `length_m` (or measured on the
        /// geometry).
        explicit: bool,
    },
    /// A speed limit is not in (0, 60] km/h.
    SpeedOutOfRange { speed_kmh: f64 },
    /// The map has no border node.
    NoBorder,
    /// A border node is not between an arriving and a leaving bridge edge.
    BorderNotOnBridge,
    /// A yard slot cannot drive to any yard slot on the other side.
    YardCannotReach { other: Side },
    /// A yard slot cannot be reached from any yard slot on the other side.
    YardNotReachable { other: Side },
    /// A zone's capacity is below 1 or above 2^32 - 1.
    CapacityOutOfRange { capacity: i64 },
    /// A zone has no members.
    NoMembers,
    /// A node other than a border node has no side.
    SideMissing { kind: NodeKind },
    /// A border node has a side.
    SideOnBorder { side: Side },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::DuplicateId => write!(f, "duplicate id"),
            Problem::DanglingReference { field, target } => {
                write!(f, "{field} refers to unknown node {target:?}")
            }
            Problem::NotAFeature { detail } => {
                write!(f, "is not a valid GeoJSON Feature: {detail}")
            }
            Problem::MissingProperties => write!(f, "has no properties object"),
            Problem::MissingProperty { property } => write!(f, "property {property} is missing"),
            Problem::WrongType {
                property,
                expected,
                found,
            } => write!(f, "property {property} must be {expected}, found {found}"),
            Problem::UnknownValue {
                property,
                value,
                expected,
            } => write!(f, "{property} {value:?} is not one of {expected}"),
            Problem::EmptyId => write!(f, "property id must not be empty"),
            Problem::MissingGeometry => write!(f, "has no geometry"),
            Problem::UnsupportedGeometry { geometry } => write!(
                f,
                "geometry {geometry} is not supported (nodes are Points, edges LineStrings, \
                 zones Polygons without holes)"
            ),
            Problem::BadGeometry { detail } => write!(f, "malformed geometry: {detail}"),
            Problem::CoordinateOutOfRange { lon, lat } => write!(
                f,
                "coordinate [{lon}, {lat}] is outside the WGS84 range \
                 (longitude [-180, 180], latitude [-90, 90])"
            ),
            Problem::NotFinite { field } => write!(f, "{field} is not a finite number"),
            Problem::PositionOutOfRange { field } => write!(
                f,
                "{field} is not finite or lies more than {MAX_COORDINATE_M} m from the origin"
            ),
            Problem::LengthOutOfRange { length_m, explicit } => {
                if *explicit {
                    write!(f, "length_m {length_m} is out of range (0, {MAX_LENGTH_M}]")
                } else {
                    write!(
                        f,
                        "geometry length {length_m} m is out of range (0, {MAX_LENGTH_M}] \
                         (no length_m is given)"
                    )
                }
            }
            Problem::SpeedOutOfRange { speed_kmh } => {
                write!(
                    f,
                    "speed_kmh {speed_kmh} is out of range (0, {MAX_SPEED_KMH}]"
                )
            }
            Problem::NoBorder => write!(f, "has no border node (a node of kind border)"),
            Problem::BorderNotOnBridge => write!(
                f,
                "a border node must lie between two bridge edges, one arriving and one leaving"
            ),
            Problem::YardCannotReach { other } => {
                write!(f, "yard_slot cannot drive to any {other} yard_slot")
            }
            Problem::YardNotReachable { other } => {
                write!(f, "yard_slot cannot be reached from any {other} yard_slot")
            }
            Problem::CapacityOutOfRange { capacity } => {
                write!(f, "capacity {capacity} is out of range [1, {}]", u32::MAX)
            }
            Problem::NoMembers => write!(f, "has no members"),
            Problem::SideMissing { kind } => write!(
                f,
                "side is missing; it is required for a {} node",
                node_kind_name(*kind)
            ),
            Problem::SideOnBorder { side } => {
                write!(f, "a border node must have no side, found {side}")
            }
        }
    }
}

impl std::fmt::Display for MapIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.feature.is_empty() {
            write!(f, "{}: {}", self.kind, self.problem)
        } else {
            write!(f, "{} {}: {}", self.kind, self.feature, self.problem)
        }
    }
}

pub(crate) fn describe(issues: &[MapIssue]) -> String {
    issues
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where an issue sorts: nodes, then edges, then zones, each in part order,
/// then the map as a whole.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum At {
    Node(usize),
    Edge(usize),
    Zone(usize),
    Map,
}

struct Issues(Vec<(At, MapIssue)>);

impl Issues {
    fn push(&mut self, at: At, feature: &str, problem: Problem) {
        let kind = match at {
            At::Node(_) => "node",
            At::Edge(_) => "edge",
            At::Zone(_) => "zone",
            At::Map => "map",
        };
        self.0.push((
            at,
            MapIssue {
                kind,
                feature: feature.to_string(),
                problem,
            },
        ));
    }
}

fn position_ok(p: &Point) -> bool {
    p.iter()
        .all(|c| c.is_finite() && c.abs() <= MAX_COORDINATE_M)
}

/// Checks the parts; every issue found is returned, in feature order (nodes,
/// edges, zones, then issues with the map as a whole).
pub(crate) fn check(parts: &MapParts) -> Result<(), Vec<MapIssue>> {
    let mut issues = Issues(Vec::new());

    // Unique ids across all features; the later feature is the duplicate.
    let mut seen = BTreeSet::new();
    let ids = (parts
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (At::Node(i), &n.id)))
    .chain(
        parts
            .edges
            .iter()
            .enumerate()
            .map(|(i, e)| (At::Edge(i), &e.id)),
    )
    .chain(
        parts
            .zones
            .iter()
            .enumerate()
            .map(|(i, z)| (At::Zone(i), &z.id)),
    );
    let mut duplicates = false;
    for (at, id) in ids {
        if !seen.insert(id.as_str()) {
            issues.push(at, id, Problem::DuplicateId);
            duplicates = true;
        }
    }

    // Nodes: position and side.
    let mut node_by_id: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, n) in parts.nodes.iter().enumerate() {
        node_by_id.entry(n.id.as_str()).or_insert(i);
        let at = At::Node(i);
        if !position_ok(&n.pos) {
            issues.push(at, &n.id, Problem::PositionOutOfRange { field: "position" });
        }
        match (n.kind, n.side) {
            (NodeKind::Border, Some(side)) => {
                issues.push(at, &n.id, Problem::SideOnBorder { side })
            }
            (kind, None) if kind != NodeKind::Border => {
                issues.push(at, &n.id, Problem::SideMissing { kind })
            }
            _ => {}
        }
    }

    // Edges: references, geometry, length and speed.
    let mut dangling = false;
    for (i, e) in parts.edges.iter().enumerate() {
        let at = At::Edge(i);
        for (field, target) in [("from", &e.from), ("to", &e.to)] {
            if !node_by_id.contains_key(target.as_str()) {
                issues.push(
                    at,
                    &e.id,
                    Problem::DanglingReference {
                        field,
                        target: target.clone(),
                    },
                );
                dangling = true;
            }
        }
        let geometry_ok = e.geometry.iter().all(position_ok);
        if !geometry_ok {
            issues.push(at, &e.id, Problem::PositionOutOfRange { field: "geometry" });
        }
        let length = match e.length_m {
            Some(l) => Some((l, true)),
            None if e.geometry.len() >= 2 => {
                geometry_ok.then(|| (polyline_length(&e.geometry), false))
            }
            // Without a drawing the edge is the straight line between its
            // ends, measured when both ends exist.
            None => {
                let end = |id: &String| {
                    node_by_id
                        .get(id.as_str())
                        .and_then(|&n| parts.nodes.get(n))
                        .map(|n| n.pos)
                        .filter(position_ok)
                };
                match (end(&e.from), end(&e.to)) {
                    (Some(a), Some(b)) => Some(((b - a).norm(), false)),
                    _ => None,
                }
            }
        };
        if let Some((length_m, explicit)) = length
            && !(length_m > 0.0 && length_m <= MAX_LENGTH_M)
        {
            issues.push(at, &e.id, Problem::LengthOutOfRange { length_m, explicit });
        }
        let speed_kmh = e.speed_limit_kmh;
        if !(speed_kmh > 0.0 && speed_kmh <= MAX_SPEED_KMH) {
            issues.push(at, &e.id, Problem::SpeedOutOfRange { speed_kmh });
        }
    }

    // Zones: members, capacity and outline.
    for (i, z) in parts.zones.iter().enumerate() {
        let at = At::Zone(i);
        if z.members.is_empty() {
            issues.push(at, &z.id, Problem::NoMembers);
        }
        for m in &z.members {
            if !node_by_id.contains_key(m.as_str()) {
                issues.push(
                    at,
                    &z.id,
                    Problem::DanglingReference {
                        field: "members",
                        target: m.clone(),
                    },
                );
                dangling = true;
            }
        }
        if !(1..=i64::from(u32::MAX)).contains(&z.capacity) {
            issues.push(
                at,
                &z.id,
                Problem::CapacityOutOfRange {
                    capacity: z.capacity,
                },
            );
        }
        if !z.outline.iter().all(position_ok) {
            issues.push(at, &z.id, Problem::PositionOutOfRange { field: "outline" });
        }
    }

    // The graph rules.
    if !parts.nodes.iter().any(|n| n.kind == NodeKind::Border) {
        issues.push(At::Map, "", Problem::NoBorder);
    }
    if !duplicates && !dangling {
        check_graph(parts, &node_by_id, &mut issues);
    }

    if issues.0.is_empty() {
        Ok(())
    } else {
        // A stable sort keeps the order of rules within one feature.
        issues.0.sort_by_key(|(at, _)| *at);
        Err(issues.0.into_iter().map(|(_, i)| i).collect())
    }
}

/// The border and yard rules, on a map whose references all resolve.
fn check_graph(parts: &MapParts, node_by_id: &BTreeMap<&str, usize>, issues: &mut Issues) {
    let n = parts.nodes.len();
    let ix = |id: &String| node_by_id.get(id.as_str()).copied();
    // Directed adjacency, forward and backward.
    let mut succ = vec![Vec::new(); n];
    let mut pred = vec![Vec::new(); n];
    // Per node, the edges touching it.
    let mut touching: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (ei, e) in parts.edges.iter().enumerate() {
        let (Some(a), Some(b)) = (ix(&e.from), ix(&e.to)) else {
            continue;
        };
        succ[a].push(b);
        pred[b].push(a);
        if e.direction == Direction::Bidirectional {
            succ[b].push(a);
            pred[a].push(b);
        }
        touching[a].push(ei);
        if b != a {
            touching[b].push(ei);
        }
    }

    // Border nodes: exactly two edges touch them, both bridge edges, and a
    // vehicle can arrive over one and leave over the other.
    for (i, node) in parts.nodes.iter().enumerate() {
        if node.kind != NodeKind::Border {
            continue;
        }
        let on_bridge = match touching[i].as_slice() {
            [e1, e2] => {
                let (Some(e1), Some(e2)) = (parts.edges.get(*e1), parts.edges.get(*e2)) else {
                    continue;
                };
                let arrives = |e: &super::EdgePart| {
                    ix(&e.to) == Some(i)
                        || (e.direction == Direction::Bidirectional && ix(&e.from) == Some(i))
                };
                let leaves = |e: &super::EdgePart| {
                    ix(&e.from) == Some(i)
                        || (e.direction == Direction::Bidirectional && ix(&e.to) == Some(i))
                };
                e1.kind == EdgeKind::Bridge
                    && e2.kind == EdgeKind::Bridge
                    && ((arrives(e1) && leaves(e2)) || (arrives(e2) && leaves(e1)))
            }
            _ => false,
        };
        if !on_bridge {
            issues.push(At::Node(i), &node.id, Problem::BorderNotOnBridge);
        }
    }

    // Yards: every slot reaches, and is reached from, the other side.
    let slots = |side: Side| -> Vec<usize> {
        parts
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.kind == NodeKind::YardSlot && n.side == Some(side))
            .map(|(i, _)| i)
            .collect()
    };
    for side in [Side::Vn, Side::Cn] {
        let mine = slots(side);
        if mine.is_empty() {
            continue;
        }
        let theirs = slots(side.other());
        // Nodes that can reach one of their slots, and nodes one of their
        // slots can reach.
        let can_reach_theirs = reach(&theirs, &pred);
        let reached_from_theirs = reach(&theirs, &succ);
        for s in mine {
            let id = &parts.nodes[s].id;
            if !can_reach_theirs[s] {
                issues.push(
                    At::Node(s),
                    id,
                    Problem::YardCannotReach {
                        other: side.other(),
                    },
                );
            }
            if !reached_from_theirs[s] {
                issues.push(
                    At::Node(s),
                    id,
                    Problem::YardNotReachable {
                        other: side.other(),
                    },
                );
            }
        }
    }
}

/// The nodes reachable from any of `starts` along `adj`, as a mask.
fn reach(starts: &[usize], adj: &[Vec<usize>]) -> Vec<bool> {
    let mut seen = vec![false; adj.len()];
    // `None` is a virtual start joined to every real start.
    let successors = |n: &Option<usize>| -> Vec<Option<usize>> {
        match n {
            None => starts.iter().copied().map(Some).collect(),
            Some(i) => adj
                .get(*i)
                .map(|next| next.iter().copied().map(Some).collect())
                .unwrap_or_default(),
        }
    };
    for i in bfs_reach(None, successors).flatten() {
        if let Some(s) = seen.get_mut(i) {
            *s = true;
        }
    }
    seen
}
