//! Helpers shared by the map tests: the shipped maps, as text and as JSON
//! values to mutate.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use borderlane_model::LaneMap;
use borderlane_model::map::{MapError, MapIssue};
use serde_json::Value;

pub const TWO_LANE: &str = "bac_luan_ii.geojson";
pub const SINGLE_LANE: &str = "bac_luan_ii_single_lane.geojson";

/// The text of a shipped map.
pub fn map_text(file: &str) -> String {
    let path = format!("{}/../../maps/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// A shipped map as a JSON value.
pub fn map_json(file: &str) -> Value {
    serde_json::from_str(&map_text(file)).expect("the shipped map is JSON")
}

/// A shipped map, loaded.
pub fn load(file: &str) -> LaneMap {
    LaneMap::from_geojson(&map_text(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The features array of a map value.
pub fn features(map: &mut Value) -> &mut Vec<Value> {
    map["features"]
        .as_array_mut()
        .expect("features is an array")
}

/// The feature with the given id.
pub fn feature<'a>(map: &'a mut Value, id: &str) -> &'a mut Value {
    features(map)
        .iter_mut()
        .find(|f| f["properties"]["id"] == id)
        .unwrap_or_else(|| panic!("no feature {id}"))
}

/// The properties object of the feature with the given id.
pub fn props<'a>(map: &'a mut Value, id: &str) -> &'a mut serde_json::Map<String, Value> {
    feature(map, id)["properties"]
        .as_object_mut()
        .expect("properties is an object")
}

/// Loads a (mutated) map value, expecting it to be rejected as invalid, and
/// returns the issues.
pub fn issues(map: &Value) -> Vec<MapIssue> {
    let text = serde_json::to_string(map).expect("serializes");
    match LaneMap::from_geojson(&text) {
        Ok(_) => panic!("the map was accepted"),
        Err(MapError::Syntax(s)) => panic!("expected issues, got a syntax error: {s}"),
        Err(MapError::Invalid(issues)) => issues,
    }
}

/// The message for a rejected map, one issue per line.
pub fn message(map: &Value) -> String {
    let text = serde_json::to_string(map).expect("serializes");
    match LaneMap::from_geojson(&text) {
        Ok(_) => panic!("the map was accepted"),
        Err(e) => e.to_string(),
    }
}
