//! The ways a set of plans or a trace can break the safety rules, and how they
//! are told to a person.

use std::fmt;

use borderlane_model::{ArcIx, EdgeIx, LaneMap, Ms, NEVER, NodeIx, VehicleId, ZoneIx};
use serde::{Deserialize, Serialize};

/// One breach of the safety rules.
///
/// Where two vehicles are involved, `a` is the one that came first (entered
/// the node or arc earlier) and `b` the one that came later. The variants are
/// declared in the order in which violations at one instant are reported.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Violation {
    /// Two vehicles occupy one node at overlapping times; the overlap of
    /// their occupancies is `[from, to)`.
    NodeOverlap {
        node: NodeIx,
        a: VehicleId,
        b: VehicleId,
        from: Ms,
        to: Ms,
    },
    /// Two vehicles enter or leave one arc less than the headway apart;
    /// `at` is the later vehicle's entry or exit.
    Headway {
        arc: ArcIx,
        a: VehicleId,
        b: VehicleId,
        gap_ms: Ms,
        at: Ms,
    },
    /// Vehicle `b` entered the arc after `a` but leaves it first, at `at`.
    Overtaking {
        arc: ArcIx,
        a: VehicleId,
        b: VehicleId,
        at: Ms,
    },
    /// Vehicle `b` enters a single-lane edge at `at` against the direction of
    /// `a`, before `a` has left it and the headway has passed.
    OppositeDirections {
        edge: EdgeIx,
        a: VehicleId,
        b: VehicleId,
        at: Ms,
    },
    /// From `at` on, more vehicles are in the zone than it may hold; `count`
    /// is the largest number reached before it falls back to capacity.
    ZoneOverCapacity {
        zone: ZoneIx,
        at: Ms,
        count: u32,
        capacity: u32,
    },
    /// An arc is traversed in `actual_ms`, less than the `min_ms` its length
    /// and speed limit allow.
    Speeding {
        vehicle: VehicleId,
        arc: ArcIx,
        min_ms: Ms,
        actual_ms: Ms,
    },
    /// A plan or trace that is not a well-formed sequence of steps. `vehicle`
    /// is `None` for a plan that names no vehicle; `step` is the index of the
    /// offending step.
    Malformed {
        vehicle: Option<VehicleId>,
        step: usize,
        reason: String,
    },
    /// A committed plan that does not end at rest (`depart == NEVER`) at a
    /// place.
    NoRest { vehicle: VehicleId },
}

impl Violation {
    /// A short snake_case name of the kind of violation, for logs and counts.
    pub fn kind(&self) -> &'static str {
        match self {
            Violation::NodeOverlap { .. } => "node_overlap",
            Violation::Headway { .. } => "headway",
            Violation::Overtaking { .. } => "overtaking",
            Violation::OppositeDirections { .. } => "opposite_directions",
            Violation::ZoneOverCapacity { .. } => "zone_over_capacity",
            Violation::Speeding { .. } => "speeding",
            Violation::Malformed { .. } => "malformed",
            Violation::NoRest { .. } => "no_rest",
        }
    }

    /// A view of the violation that names nodes, edges and zones by their
    /// ids in `map`. The plain [`Display`](fmt::Display) of a violation has no
    /// map to hand and names them by index instead.
    pub fn named<'a>(&'a self, map: &'a LaneMap) -> Named<'a> {
        Named {
            violation: self,
            labels: Labels::Map(map),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_violation(self, &Labels::None, f)
    }
}

/// A violation together with the names to tell it by; see
/// [`Violation::named`].
pub struct Named<'a> {
    pub(crate) violation: &'a Violation,
    pub(crate) labels: Labels<'a>,
}

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_violation(self.violation, &self.labels, f)
    }
}

/// The ids of a map's nodes, edges, arcs and zones, kept so that a report can
/// name them after the map is gone.
#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    nodes: Vec<String>,
    edges: Vec<String>,
    arcs: Vec<String>,
    zones: Vec<String>,
}

impl Names {
    pub(crate) fn of(map: &LaneMap) -> Names {
        let labels = Labels::Map(map);
        Names {
            nodes: map.nodes.iter().map(|n| n.id.clone()).collect(),
            edges: map.edges.iter().map(|e| e.id.clone()).collect(),
            arcs: (0..map.arcs.len() as u32)
                .map(|a| labels.arc(ArcIx(a)))
                .collect(),
            zones: map.zones.iter().map(|z| z.id.clone()).collect(),
        }
    }
}

/// Where names come from: a live map, a saved copy of its ids, or nowhere
/// (then things are named by index).
pub(crate) enum Labels<'a> {
    None,
    Map(&'a LaneMap),
    Names(&'a Names),
}

impl Labels<'_> {
    fn node(&self, n: NodeIx) -> String {
        let found = match self {
            Labels::None => None,
            Labels::Map(map) => map.nodes.get(n.ix()).map(|x| x.id.clone()),
            Labels::Names(names) => names.nodes.get(n.ix()).cloned(),
        };
        found.unwrap_or_else(|| format!("#{}", n.0))
    }

    fn edge(&self, e: EdgeIx) -> String {
        let found = match self {
            Labels::None => None,
            Labels::Map(map) => map.edges.get(e.ix()).map(|x| x.id.clone()),
            Labels::Names(names) => names.edges.get(e.ix()).cloned(),
        };
        found.unwrap_or_else(|| format!("#{}", e.0))
    }

    /// An arc is told by its edge and its direction: `E1 (A -> B)`.
    fn arc(&self, a: ArcIx) -> String {
        let found = match self {
            Labels::None => None,
            Labels::Map(map) => map.arcs.get(a.ix()).map(|arc| {
                format!(
                    "{} ({} -> {})",
                    self.edge(arc.edge),
                    self.node(arc.from),
                    self.node(arc.to)
                )
            }),
            Labels::Names(names) => names.arcs.get(a.ix()).cloned(),
        };
        found.unwrap_or_else(|| format!("#{}", a.0))
    }

    fn zone(&self, z: ZoneIx) -> String {
        let found = match self {
            Labels::None => None,
            Labels::Map(map) => map.zones.get(z.ix()).map(|x| x.id.clone()),
            Labels::Names(names) => names.zones.get(z.ix()).cloned(),
        };
        found.unwrap_or_else(|| format!("#{}", z.0))
    }
}

/// A point in time for a person: seconds with milliseconds, or "never".
pub(crate) struct Time(pub(crate) Ms);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == NEVER {
            f.write_str("never")
        } else {
            write!(f, "t={}.{:03} s", self.0 / 1000, self.0 % 1000)
        }
    }
}

/// A duration for a person: seconds with milliseconds.
pub(crate) struct Span(pub(crate) Ms);

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == NEVER {
            f.write_str("forever")
        } else {
            write!(f, "{}.{:03} s", self.0 / 1000, self.0 % 1000)
        }
    }
}

pub(crate) fn write_violation(
    v: &Violation,
    labels: &Labels<'_>,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    match v {
        Violation::NodeOverlap {
            node,
            a,
            b,
            from,
            to,
        } => write!(
            f,
            "node overlap: {a} and {b} both occupy node {} from {} until {}",
            labels.node(*node),
            Time(*from),
            Time(*to)
        ),
        Violation::Headway {
            arc,
            a,
            b,
            gap_ms,
            at,
        } => write!(
            f,
            "headway: {b} follows {a} on arc {} only {} behind, at {}",
            labels.arc(*arc),
            Span(*gap_ms),
            Time(*at)
        ),
        Violation::Overtaking { arc, a, b, at } => write!(
            f,
            "overtaking: {b} entered arc {} after {a} but leaves it first, at {}",
            labels.arc(*arc),
            Time(*at)
        ),
        Violation::OppositeDirections { edge, a, b, at } => write!(
            f,
            "opposite directions: {b} enters single-lane edge {} at {} against {a}, \
             which has not cleared it",
            labels.edge(*edge),
            Time(*at)
        ),
        Violation::ZoneOverCapacity {
            zone,
            at,
            count,
            capacity,
        } => write!(
            f,
            "zone over capacity: zone {} holds {count} vehicles from {}, capacity {capacity}",
            labels.zone(*zone),
            Time(*at)
        ),
        Violation::Speeding {
            vehicle,
            arc,
            min_ms,
            actual_ms,
        } => write!(
            f,
            "speeding: {vehicle} traverses arc {} in {}, but the speed limit needs at least {}",
            labels.arc(*arc),
            Span(*actual_ms),
            Span(*min_ms)
        ),
        Violation::Malformed {
            vehicle,
            step,
            reason,
        } => match vehicle {
            Some(v) => write!(f, "malformed: {v}, step {step}: {reason}"),
            None => write!(
                f,
                "malformed: plan without a vehicle, step {step}: {reason}"
            ),
        },
        Violation::NoRest { vehicle } => write!(
            f,
            "no rest: the plan of {vehicle} does not end at rest at a place"
        ),
    }
}
