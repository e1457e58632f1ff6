//! The summary `borderlane map check` prints.

use super::LaneMap;

#[derive(Clone, Debug)]
pub struct MapSummary {}

impl MapSummary {
    pub(crate) fn of(_map: &LaneMap) -> MapSummary {
        MapSummary {}
    }
}
