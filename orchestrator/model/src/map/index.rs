//! The spatial index of a map, for map matching.

use super::{Edge, Node, Zone};

#[derive(Clone, Debug, Default)]
pub struct SpatialIndex {}

/// Where a reported position lies on the map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MapMatch {}

impl SpatialIndex {
    pub(crate) fn build(_nodes: &[Node], _edges: &[Edge], _zones: &[Zone]) -> SpatialIndex {
        SpatialIndex {}
    }
}
