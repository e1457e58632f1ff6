//! The spatial index of a map, for map matching.
//!
//! Edges are indexed segment by segment, nodes as points and zones by the
//! bounding boxes of their outlines (refined by a point-in-polygon test), all
//! in R*-trees. Whenever two candidates are equally near, the one with the
//! lower index wins, so every answer is deterministic.

use rstar::primitives::{GeomWithData, Line, Rectangle};
use rstar::{AABB, RTree};

use super::{Edge, EdgeIx, LaneMap, Node, NodeIx, Point, Zone, ZoneIx, polyline_length};

/// Relative slack under which two squared distances count as a tie.
const TIE_EPSILON: f64 = 1e-12;

/// One segment of an edge's drawing.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Segment {
    edge: u32,
    /// The segment's position in the drawing, from 0.
    index: u32,
    /// The distance along the edge (in the edge's own metres, see
    /// [`Edge::length_m`]) at the segment's start.
    start_m: f64,
}

type SegmentItem = GeomWithData<Line<[f64; 2]>, Segment>;
type NodeItem = GeomWithData<[f64; 2], u32>;
type ZoneItem = GeomWithData<Rectangle<[f64; 2]>, u32>;

#[derive(Clone, Debug, Default)]
pub struct SpatialIndex {
    segments: RTree<SegmentItem>,
    nodes: RTree<NodeItem>,
    zones: RTree<ZoneItem>,
    /// Per edge, its `length_m` divided by the length of its drawing (1 when
    /// the drawing has no length).
    scale: Vec<f64>,
    /// Per edge, its `length_m`.
    length: Vec<f64>,
    /// Per zone, its outline.
    outlines: Vec<Vec<Point>>,
}

/// Where a reported position lies on the map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MapMatch {
    /// The nearest edge.
    pub edge: EdgeIx,
    /// How far along the edge, from its `from` node, the nearest point lies,
    /// in the edge's own metres: the distance along the drawing scaled so
    /// that the whole drawing measures [`Edge::length_m`].
    pub offset_m: f64,
    /// The distance from the position to the edge's drawing, in metres.
    pub distance_m: f64,
    /// The nearest point of the edge's drawing.
    pub point: Point,
}

fn arr(p: Point) -> [f64; 2] {
    [p.x, p.y]
}

fn finite(p: Point) -> bool {
    p.x.is_finite() && p.y.is_finite()
}

/// The parameter in [0, 1] of the point of segment `a`-`b` nearest to `p`.
fn project(a: Point, b: Point, p: Point) -> f64 {
    let d = b - a;
    let len2 = d.norm_squared();
    if len2 > 0.0 {
        ((p - a).dot(&d) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Whether `p` lies inside the polygon `ring` (even-odd rule; the ring need
/// not repeat its first point).
pub(crate) fn point_in_polygon(ring: &[Point], p: Point) -> bool {
    let mut inside = false;
    let n = ring.len();
    for i in 0..n {
        let a = ring[i];
        let b = ring[(i + n - 1) % n];
        if (a.y > p.y) != (b.y > p.y) {
            let x = a.x + (p.y - a.y) / (b.y - a.y) * (b.x - a.x);
            if p.x < x {
                inside = !inside;
            }
        }
    }
    inside
}

/// Picks, among the candidates nearest first, the lowest key among those
/// tied with the nearest.
fn nearest_by_key<'a, T: 'a, K: Ord>(
    mut candidates: impl Iterator<Item = (&'a T, f64)>,
    key: impl Fn(&T) -> K,
) -> Option<(&'a T, f64)> {
    let (first, best) = candidates.next()?;
    let slack = best + TIE_EPSILON * best.max(1.0);
    let mut chosen = (first, best);
    for (t, d2) in candidates {
        if d2 > slack {
            break;
        }
        if key(t) < key(chosen.0) {
            chosen = (t, d2);
        }
    }
    Some(chosen)
}

impl SpatialIndex {
    pub(crate) fn build(nodes: &[Node], edges: &[Edge], zones: &[Zone]) -> SpatialIndex {
        let mut segments = Vec::new();
        let mut scale = Vec::with_capacity(edges.len());
        let mut length = Vec::with_capacity(edges.len());
        for (ei, e) in edges.iter().enumerate() {
            let drawn = polyline_length(&e.geometry);
            let s = if drawn > 0.0 { e.length_m / drawn } else { 1.0 };
            scale.push(s);
            length.push(e.length_m);
            let mut along = 0.0;
            for (si, w) in e.geometry.windows(2).enumerate() {
                let (a, b) = (w[0], w[1]);
                segments.push(GeomWithData::new(
                    Line::new(arr(a), arr(b)),
                    Segment {
                        edge: ei as u32,
                        index: si as u32,
                        start_m: along * s,
                    },
                ));
                along += (b - a).norm();
            }
        }
        let node_items = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| GeomWithData::new(arr(n.pos), i as u32))
            .collect();
        let mut zone_items = Vec::new();
        let mut outlines = Vec::with_capacity(zones.len());
        for (zi, z) in zones.iter().enumerate() {
            outlines.push(z.outline.clone());
            if z.outline.len() < 3 {
                continue;
            }
            let bbox =
                AABB::from_points(z.outline.iter().map(|p| arr(*p)).collect::<Vec<_>>().iter());
            zone_items.push(GeomWithData::new(Rectangle::from_aabb(bbox), zi as u32));
        }
        SpatialIndex {
            segments: RTree::bulk_load(segments),
            nodes: RTree::bulk_load(node_items),
            zones: RTree::bulk_load(zone_items),
            scale,
            length,
            outlines,
        }
    }

    /// The edge nearest to `p`, with the offset along it and the distance
    /// to it. `None` for a map without edges or a non-finite position. Of
    /// equally near edges the lowest index wins (so a position exactly at a
    /// node matches the lowest-numbered edge touching it).
    pub fn match_position(&self, p: Point) -> Option<MapMatch> {
        if !finite(p) {
            return None;
        }
        let (item, _) = nearest_by_key(
            self.segments.nearest_neighbor_iter_with_distance_2(arr(p)),
            |s: &SegmentItem| (s.data.edge, s.data.index),
        )?;
        let seg = item.data;
        let [ax, ay] = item.geom().from;
        let [bx, by] = item.geom().to;
        let (a, b) = (Point::new(ax, ay), Point::new(bx, by));
        let t = project(a, b, p);
        let point = a + (b - a) * t;
        let scale = self.scale.get(seg.edge as usize).copied().unwrap_or(1.0);
        let length = self.length.get(seg.edge as usize).copied().unwrap_or(0.0);
        let offset_m = (seg.start_m + t * (b - a).norm() * scale).clamp(0.0, length.max(0.0));
        Some(MapMatch {
            edge: EdgeIx(seg.edge),
            offset_m,
            distance_m: (p - point).norm(),
            point,
        })
    }

    /// The node nearest to `p` and its distance; the lowest index wins a
    /// tie. `None` for a map without nodes or a non-finite position.
    pub fn nearest_node(&self, p: Point) -> Option<(NodeIx, f64)> {
        if !finite(p) {
            return None;
        }
        let (item, d2) = nearest_by_key(
            self.nodes.nearest_neighbor_iter_with_distance_2(arr(p)),
            |n: &NodeItem| n.data,
        )?;
        Some((NodeIx(item.data), d2.sqrt()))
    }

    /// The zones whose outline contains `p`, in index order. Zones without
    /// an outline are never found.
    pub fn zones_at(&self, p: Point) -> Vec<ZoneIx> {
        if !finite(p) {
            return Vec::new();
        }
        let mut found: Vec<ZoneIx> = self
            .zones
            .locate_all_at_point(arr(p))
            .filter(|z| {
                self.outlines
                    .get(z.data as usize)
                    .is_some_and(|ring| point_in_polygon(ring, p))
            })
            .map(|z| ZoneIx(z.data))
            .collect();
        found.sort();
        found
    }
}

impl LaneMap {
    /// The point `offset_m` along an edge from its `from` node, in the edge's
    /// own metres (see [`MapMatch::offset_m`]); the offset is clamped to the
    /// edge.
    pub fn point_on_edge(&self, edge: EdgeIx, offset_m: f64) -> Point {
        let e = self.edge(edge);
        let drawn = polyline_length(&e.geometry);
        let first = e
            .geometry
            .first()
            .copied()
            .unwrap_or_else(|| self.node(e.from).pos);
        if drawn.is_nan() || drawn <= 0.0 || !offset_m.is_finite() {
            return first;
        }
        let mut left = (offset_m.clamp(0.0, e.length_m) * drawn / e.length_m).clamp(0.0, drawn);
        for w in e.geometry.windows(2) {
            let (a, b) = (w[0], w[1]);
            let len = (b - a).norm();
            if left <= len {
                return if len > 0.0 {
                    a + (b - a) * (left / len)
                } else {
                    a
                };
            }
            left -= len;
        }
        e.geometry.last().copied().unwrap_or(first)
    }

    /// Where a reported position lies on the map; see
    /// [`SpatialIndex::match_position`].
    pub fn match_position(&self, p: Point) -> Option<MapMatch> {
        self.spatial().match_position(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_in_polygon_square() {
        let sq = [
            Point::new(0.0, 0.0),
            Point::new(10.0, 0.0),
            Point::new(10.0, 10.0),
            Point::new(0.0, 10.0),
        ];
        assert!(point_in_polygon(&sq, Point::new(5.0, 5.0)));
        assert!(!point_in_polygon(&sq, Point::new(15.0, 5.0)));
        assert!(!point_in_polygon(&sq, Point::new(5.0, -1.0)));
        assert!(!point_in_polygon(&[], Point::new(0.0, 0.0)));
    }

    #[test]
    fn projection_clamps() {
        let (a, b) = (Point::new(0.0, 0.0), Point::new(10.0, 0.0));
        assert_eq!(project(a, b, Point::new(-5.0, 3.0)), 0.0);
        assert_eq!(project(a, b, Point::new(15.0, 3.0)), 1.0);
        assert!((project(a, b, Point::new(4.0, 3.0)) - 0.4).abs() < 1e-12);
        assert_eq!(project(a, a, Point::new(4.0, 3.0)), 0.0);
    }
}
