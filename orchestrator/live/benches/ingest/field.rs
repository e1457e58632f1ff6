//! The bench's map: the shipped Bac Luan II lane with a parking field added
//! to each yard, so that a fleet of a thousand vehicles has places to stand.
//!
//! Each field is a one-way aisle that leaves the yard's aisle loop at its
//! north-west corner (`{side}_Y_NW`), runs back and forth in rows of
//! [`PER_ROW`] waypoints 10 m apart, and joins the loop again at the
//! south-west corner (`{side}_Y_SW`). Every aisle waypoint has a dead-end
//! spur to one parking place, as in the shipped yards. The field is laid
//! out beside the yard, away from its centre, in the map's own local frame.

use borderlane_model::LaneMap;
use borderlane_model::map::Point;
use serde_json::{Value, json};

/// The shipped lane map the field is added to.
const SHIPPED: &str = include_str!("../../../../maps/bac_luan_ii.geojson");

/// Aisle waypoints per row of a field.
const PER_ROW: usize = 25;
/// Metres between two waypoints of a row.
const STEP_M: f64 = 10.0;
/// Metres between two rows.
const ROW_GAP_M: f64 = 30.0;
/// Metres from the yard's loop to the first row.
const OFFSET_M: f64 = 60.0;
/// Length of a spur from the aisle to its place, metres.
const SPUR_M: f64 = 12.0;

/// The bench map's GeoJSON and the ids of the field's parking places,
/// `per_side` on the Vietnamese side, then `per_side` on the Chinese side.
pub struct FieldMap {
    pub geojson: String,
    pub places: Vec<String>,
}

/// Builds the shipped lane with a field of `per_side` parking places beside
/// each yard, and checks that it is a valid map.
pub fn build(per_side: usize) -> Result<FieldMap, String> {
    let shipped = LaneMap::from_geojson(SHIPPED).map_err(|e| format!("shipped map: {e}"))?;
    let mut doc: Value = serde_json::from_str(SHIPPED).map_err(|e| format!("shipped map: {e}"))?;
    let mut added = Vec::new();
    let mut places = Vec::new();
    for side in ["VN", "CN"] {
        places.extend(field(&shipped, side, per_side, &mut added)?);
    }
    doc["name"] = json!(format!(
        "{} with parking fields for the ingest benchmark",
        shipped.name
    ));
    doc["features"]
        .as_array_mut()
        .ok_or("shipped map: no features array")?
        .extend(added);
    let geojson = doc.to_string();
    LaneMap::from_geojson(&geojson).map_err(|e| format!("bench map: {e}"))?;
    Ok(FieldMap { geojson, places })
}

/// Adds one side's field to `features` and returns its places' ids.
fn field(
    map: &LaneMap,
    side: &str,
    count: usize,
    features: &mut Vec<Value>,
) -> Result<Vec<String>, String> {
    let pos = |id: &str| {
        map.node_by_id(id)
            .map(|n| map.node(n).pos)
            .ok_or_else(|| format!("shipped map: no node {id}"))
    };
    let entry = format!("{side}_Y_NW");
    let exit = format!("{side}_Y_SW");
    let (nw, sw) = (pos(&entry)?, pos(&exit)?);
    // Down the west aisle of the yard, and away from the yard's centre.
    let down = (sw - nw).normalize();
    let prefix = format!("{side}_Y_");
    let loop_nodes: Vec<Point> = map
        .node_ixs()
        .map(|n| map.node(n))
        .filter(|n| n.id.starts_with(&prefix))
        .map(|n| n.pos)
        .collect();
    let centre = loop_nodes.iter().fold(Point::zeros(), |a, p| a + p) / loop_nodes.len() as f64;
    let mut out = Point::new(-down.y, down.x);
    if out.dot(&(nw - centre)) < 0.0 {
        out = -out;
    }

    let mut places = Vec::with_capacity(count);
    let mut previous = (entry, nw);
    for k in 0..count {
        let (row, col) = (k / PER_ROW, k % PER_ROW);
        // Every other row runs back up, so the aisle is one long line.
        let along = if row % 2 == 0 { col } else { PER_ROW - 1 - col };
        let at = nw + out * (OFFSET_M + ROW_GAP_M * row as f64) + down * (STEP_M * along as f64);
        let aisle = (format!("{side}_FA_{k:04}"), at);
        let place = (format!("{side}_FP_{k:04}"), at + out * SPUR_M);
        features.push(point(map, &aisle, "waypoint", side));
        features.push(point(map, &place, "parking", side));
        features.push(edge(map, &previous, &aisle, "yard", "one_way", 15.0));
        features.push(edge(map, &aisle, &place, "spur", "bidirectional", 10.0));
        places.push(place.0);
        previous = aisle;
    }
    features.push(edge(map, &previous, &(exit, sw), "yard", "one_way", 15.0));
    Ok(places)
}

/// A node: its id and position.
type Placed = (String, Point);

fn wgs84(map: &LaneMap, at: Point) -> Value {
    let (lon, lat) = map.frame.to_wgs84(at);
    json!([lon, lat])
}

fn point(map: &LaneMap, (id, at): &Placed, kind: &str, side: &str) -> Value {
    json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": wgs84(map, *at)},
        "properties": {"id": id, "kind": kind, "side": side},
    })
}

fn edge(map: &LaneMap, from: &Placed, to: &Placed, kind: &str, direction: &str, kmh: f64) -> Value {
    json!({
        "type": "Feature",
        "geometry": {
            "type": "LineString",
            "coordinates": [wgs84(map, from.1), wgs84(map, to.1)],
        },
        "properties": {
            "id": format!("{}-{}", from.0, to.0),
            "kind": kind,
            "from": from.0,
            "to": to.0,
            "direction": direction,
            "speed_kmh": kmh,
        },
    })
}
