//! The lane map: nodes, edges and zones in a local metric frame.
//!
//! A map is read from GeoJSON ([`LaneMap::from_geojson`]) or assembled from
//! parts ([`LaneMap::from_parts`]); either way it is validated before it
//! exists, so every `LaneMap` value is a valid one. Indices ([`NodeIx`],
//! [`EdgeIx`], [`ArcIx`], [`ZoneIx`]) are dense and follow the order of the
//! features in the source, so iterating them is deterministic.

mod frame;
mod geojson;
mod index;
mod summary;
mod validate;

use nalgebra::Vector2;
use serde::{Deserialize, Serialize};

pub use frame::LocalFrame;
pub use index::{MapMatch, SpatialIndex};
pub use summary::MapSummary;
pub use validate::{MapIssue, Problem};

/// A position in the map's local metric frame: metres east and north of the
/// frame's origin.
pub type Point = Vector2<f64>;

macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub u32);

        impl $name {
            pub fn ix(self) -> usize {
                self.0 as usize
            }
        }
    };
}

index_type!(
    /// A node's index in [`LaneMap::nodes`].
    NodeIx
);
index_type!(
    /// An edge's index in [`LaneMap::edges`].
    EdgeIx
);
index_type!(
    /// A directed traversal's index in [`LaneMap::arcs`].
    ArcIx
);
index_type!(
    /// A zone's index in [`LaneMap::zones`].
    ZoneIx
);

/// The country whose authority controls a part of the lane.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
pub enum Side {
    #[serde(rename = "VN")]
    Vn,
    #[serde(rename = "CN")]
    Cn,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Vn => Side::Cn,
            Side::Cn => Side::Vn,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Side::Vn => "VN",
            Side::Cn => "CN",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// What a node is for. The GeoJSON `kind` property spells these in
/// snake_case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A container place in a yard, where a crane picks or drops.
    YardSlot,
    /// A parking or buffer place.
    Parking,
    /// A charging (or battery swap) place.
    Charger,
    /// A customs X-ray scan lane; vehicles stop in it for the scan.
    ScanLane,
    /// A physical inspection bay; vehicles may stay for hours.
    InspectionBay,
    /// The stop line before the bridge.
    StopLine,
    /// A yard's gate: gate-out and gate-in are measured here.
    Gate,
    /// A junction or waypoint on a road or yard aisle.
    Waypoint,
    /// Where the bridge meets the road on one bank.
    BridgeEnd,
    /// The border line on the bridge, one node per lane.
    Border,
}

impl NodeKind {
    /// A place a vehicle may wait at indefinitely: plans end only at places.
    pub fn is_place(self) -> bool {
        matches!(
            self,
            NodeKind::YardSlot | NodeKind::Parking | NodeKind::Charger | NodeKind::InspectionBay
        )
    }

    /// Whether a vehicle may come to a stop and wait at this node. Nodes on
    /// the bridge are passed without stopping.
    pub fn may_wait(self) -> bool {
        !matches!(self, NodeKind::BridgeEnd | NodeKind::Border)
    }
}

/// What an edge is. Bridge edges carry the bridge's speed limit and may never
/// hold a waiting vehicle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    Road,
    Bridge,
    Yard,
    Spur,
}

/// How an edge may be driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Only from `from` to `to`.
    OneWay,
    /// A single lane used in both directions, one direction at a time.
    Bidirectional,
}

/// What a zone groups. Its capacity bounds how many vehicles may be at its
/// member nodes at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneKind {
    ScanLanes,
    InspectionBays,
    Chargers,
    StopLineQueue,
    Parking,
    Yard,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
    /// The territory the node is on; `None` only for border nodes.
    pub side: Option<Side>,
    /// Position in the local metric frame.
    pub pos: Point,
    /// The zones this node belongs to, in zone order (filled in by the map).
    #[serde(default)]
    pub zones: Vec<ZoneIx>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    pub id: String,
    pub kind: EdgeKind,
    pub from: NodeIx,
    pub to: NodeIx,
    pub direction: Direction,
    /// Driven length in metres.
    pub length_m: f64,
    /// Speed limit in metres per second.
    pub speed_limit_mps: f64,
    /// The drawn line, first point at `from`, in the local metric frame.
    pub geometry: Vec<Point>,
}

/// A directed traversal of an edge: one per one-way edge, two per
/// bidirectional edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arc {
    pub edge: EdgeIx,
    pub from: NodeIx,
    pub to: NodeIx,
    /// Whether the arc runs along the edge's drawing (`from` to `to`).
    pub forward: bool,
    /// The arc in the opposite direction, for a bidirectional edge.
    pub opposite: Option<ArcIx>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Zone {
    pub id: String,
    pub kind: ZoneKind,
    pub side: Side,
    pub capacity: u32,
    pub members: Vec<NodeIx>,
    /// The outline in the local metric frame (may be empty for zones made
    /// from parts).
    pub outline: Vec<Point>,
}

/// The parts a map is assembled from, with references by id. Used by the
/// GeoJSON reader and by tests that build small maps in code.
#[derive(Clone, Debug, Default)]
pub struct MapParts {
    pub name: String,
    pub frame: LocalFrame,
    pub nodes: Vec<NodePart>,
    pub edges: Vec<EdgePart>,
    pub zones: Vec<ZonePart>,
}

#[derive(Clone, Debug)]
pub struct NodePart {
    pub id: String,
    pub kind: NodeKind,
    pub side: Option<Side>,
    pub pos: Point,
}

#[derive(Clone, Debug)]
pub struct EdgePart {
    pub id: String,
    pub kind: EdgeKind,
    pub from: String,
    pub to: String,
    pub direction: Direction,
    /// `None` to take the length of the geometry.
    pub length_m: Option<f64>,
    pub speed_limit_kmh: f64,
    /// May be empty: the straight line from `from` to `to` is used.
    pub geometry: Vec<Point>,
}

#[derive(Clone, Debug)]
pub struct ZonePart {
    pub id: String,
    pub kind: ZoneKind,
    pub side: Side,
    pub capacity: i64,
    pub members: Vec<String>,
    pub outline: Vec<Point>,
}

/// Why a map could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The bytes are not a GeoJSON FeatureCollection.
    #[error("not a valid GeoJSON FeatureCollection: {0}")]
    Syntax(String),
    /// The map was read but breaks one or more rules; each issue names the
    /// feature and the problem.
    #[error("{}", validate::describe(.0))]
    Invalid(Vec<MapIssue>),
}

/// A validated lane map.
#[derive(Clone, Debug)]
pub struct LaneMap {
    pub name: String,
    pub frame: LocalFrame,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub arcs: Vec<Arc>,
    pub zones: Vec<Zone>,
    out_arcs: Vec<Vec<ArcIx>>,
    in_arcs: Vec<Vec<ArcIx>>,
    node_by_id: std::collections::BTreeMap<String, NodeIx>,
    index: SpatialIndex,
}

impl LaneMap {
    /// Reads and validates a GeoJSON map.
    pub fn from_geojson(text: &str) -> Result<LaneMap, MapError> {
        let parts = geojson::parse(text)?;
        LaneMap::from_parts(parts)
    }

    /// Validates parts and assembles the map.
    pub fn from_parts(parts: MapParts) -> Result<LaneMap, MapError> {
        validate::check(&parts).map_err(MapError::Invalid)?;
        Ok(LaneMap::assemble(parts))
    }

    /// Builds the map from parts that passed validation.
    fn assemble(parts: MapParts) -> LaneMap {
        let node_by_id: std::collections::BTreeMap<String, NodeIx> = parts
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.clone(), NodeIx(i as u32)))
            .collect();
        let mut nodes: Vec<Node> = parts
            .nodes
            .into_iter()
            .map(|n| Node {
                id: n.id,
                kind: n.kind,
                side: n.side,
                pos: n.pos,
                zones: Vec::new(),
            })
            .collect();
        let mut edges = Vec::with_capacity(parts.edges.len());
        let mut arcs = Vec::new();
        let mut out_arcs = vec![Vec::new(); nodes.len()];
        let mut in_arcs = vec![Vec::new(); nodes.len()];
        for (i, e) in parts.edges.into_iter().enumerate() {
            let from = node_by_id[&e.from];
            let to = node_by_id[&e.to];
            let geometry = if e.geometry.len() >= 2 {
                e.geometry
            } else {
                vec![nodes[from.ix()].pos, nodes[to.ix()].pos]
            };
            let length_m = e.length_m.unwrap_or_else(|| polyline_length(&geometry));
            let edge = EdgeIx(i as u32);
            let fwd = ArcIx(arcs.len() as u32);
            arcs.push(Arc {
                edge,
                from,
                to,
                forward: true,
                opposite: None,
            });
            out_arcs[from.ix()].push(fwd);
            in_arcs[to.ix()].push(fwd);
            if e.direction == Direction::Bidirectional {
                let back = ArcIx(arcs.len() as u32);
                arcs.push(Arc {
                    edge,
                    from: to,
                    to: from,
                    forward: false,
                    opposite: Some(fwd),
                });
                arcs[fwd.ix()].opposite = Some(back);
                out_arcs[to.ix()].push(back);
                in_arcs[from.ix()].push(back);
            }
            edges.push(Edge {
                id: e.id,
                kind: e.kind,
                from,
                to,
                direction: e.direction,
                length_m,
                speed_limit_mps: e.speed_limit_kmh / 3.6,
                geometry,
            });
        }
        let zones: Vec<Zone> = parts
            .zones
            .into_iter()
            .map(|z| Zone {
                id: z.id,
                kind: z.kind,
                side: z.side,
                capacity: z.capacity as u32,
                members: z.members.iter().map(|m| node_by_id[m]).collect(),
                outline: z.outline,
            })
            .collect();
        for (zi, z) in zones.iter().enumerate() {
            for m in &z.members {
                nodes[m.ix()].zones.push(ZoneIx(zi as u32));
            }
        }
        let index = SpatialIndex::build(&nodes, &edges, &zones);
        LaneMap {
            name: parts.name,
            frame: parts.frame,
            nodes,
            edges,
            arcs,
            zones,
            out_arcs,
            in_arcs,
            node_by_id,
            index,
        }
    }

    pub fn node(&self, n: NodeIx) -> &Node {
        &self.nodes[n.ix()]
    }

    pub fn edge(&self, e: EdgeIx) -> &Edge {
        &self.edges[e.ix()]
    }

    pub fn arc(&self, a: ArcIx) -> &Arc {
        &self.arcs[a.ix()]
    }

    pub fn zone(&self, z: ZoneIx) -> &Zone {
        &self.zones[z.ix()]
    }

    /// The edge an arc runs along.
    pub fn arc_edge(&self, a: ArcIx) -> &Edge {
        &self.edges[self.arcs[a.ix()].edge.ix()]
    }

    /// Arcs leaving a node, in edge order.
    pub fn out_arcs(&self, n: NodeIx) -> &[ArcIx] {
        &self.out_arcs[n.ix()]
    }

    /// Arcs entering a node, in edge order.
    pub fn in_arcs(&self, n: NodeIx) -> &[ArcIx] {
        &self.in_arcs[n.ix()]
    }

    /// The arc from `from` to `to`, if one exists.
    pub fn arc_between(&self, from: NodeIx, to: NodeIx) -> Option<ArcIx> {
        self.out_arcs(from)
            .iter()
            .copied()
            .find(|a| self.arcs[a.ix()].to == to)
    }

    pub fn node_by_id(&self, id: &str) -> Option<NodeIx> {
        self.node_by_id.get(id).copied()
    }

    pub fn node_ixs(&self) -> impl Iterator<Item = NodeIx> + '_ {
        (0..self.nodes.len() as u32).map(NodeIx)
    }

    /// The spatial index of nodes, edges and zones, for map matching.
    pub fn spatial(&self) -> &SpatialIndex {
        &self.index
    }

    /// Which territory a node is on; a border node counts as on the side its
    /// arriving lane comes from.
    pub fn side_of(&self, n: NodeIx) -> Side {
        match self.nodes[n.ix()].side {
            Some(s) => s,
            None => self
                .in_arcs(n)
                .iter()
                .find_map(|a| self.nodes[self.arcs[a.ix()].from.ix()].side)
                .unwrap_or(Side::Vn),
        }
    }

    /// A summary for `borderlane map check`.
    pub fn summary(&self) -> MapSummary {
        MapSummary::of(self)
    }
}

/// The length of a polyline in metres.
pub fn polyline_length(points: &[Point]) -> f64 {
    points.windows(2).map(|w| (w[1] - w[0]).norm()).sum()
}
