//! Reading a map from GeoJSON (RFC 7946).
//!
//! A map is a FeatureCollection with two foreign members: `name` (a string)
//! and `origin` (`[lon, lat]`, the origin of the local metric frame; when it
//! is absent the first Point feature is used). Point features are nodes,
//! LineString features are edges and Polygon features are zones; their
//! properties are described in `maps/README.md`.
//!
//! The reader never stops at the first problem: it reads every feature it
//! can and returns every issue it found, each naming the feature (by its `id`
//! property, or as `feature #N`, counting from 0, when it has none). Only
//! bytes that are not a GeoJSON FeatureCollection at all give
//! [`MapError::Syntax`].

use ::geojson::{Feature, GeometryValue, JsonObject, Position};
use serde::Deserialize;
use serde_json::Value;

use super::{
    Direction, EdgeKind, EdgePart, LocalFrame, MapError, MapIssue, MapParts, NodeKind, NodePart,
    Point, Problem, Side, ZoneKind, ZonePart,
};

/// Every node kind, in declaration order.
const NODE_KINDS: [NodeKind; 10] = [
    NodeKind::YardSlot,
    NodeKind::Parking,
    NodeKind::Charger,
    NodeKind::ScanLane,
    NodeKind::InspectionBay,
    NodeKind::StopLine,
    NodeKind::Gate,
    NodeKind::Waypoint,
    NodeKind::BridgeEnd,
    NodeKind::Border,
];
const NODE_KIND_LIST: &str = "yard_slot, parking, charger, scan_lane, inspection_bay, stop_line, \
                              gate, waypoint, bridge_end, border";

const EDGE_KINDS: [EdgeKind; 4] = [
    EdgeKind::Road,
    EdgeKind::Bridge,
    EdgeKind::Yard,
    EdgeKind::Spur,
];
const EDGE_KIND_LIST: &str = "road, bridge, yard, spur";

const ZONE_KINDS: [ZoneKind; 6] = [
    ZoneKind::ScanLanes,
    ZoneKind::InspectionBays,
    ZoneKind::Chargers,
    ZoneKind::StopLineQueue,
    ZoneKind::Parking,
    ZoneKind::Yard,
];
const ZONE_KIND_LIST: &str =
    "scan_lanes, inspection_bays, chargers, stop_line_queue, parking, yard";

const SIDE_LIST: &str = "VN, CN";
const DIRECTION_LIST: &str = "one_way, bidirectional";

/// The GeoJSON spelling of a node kind.
pub(crate) fn node_kind_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::YardSlot => "yard_slot",
        NodeKind::Parking => "parking",
        NodeKind::Charger => "charger",
        NodeKind::ScanLane => "scan_lane",
        NodeKind::InspectionBay => "inspection_bay",
        NodeKind::StopLine => "stop_line",
        NodeKind::Gate => "gate",
        NodeKind::Waypoint => "waypoint",
        NodeKind::BridgeEnd => "bridge_end",
        NodeKind::Border => "border",
    }
}

/// The GeoJSON spelling of an edge kind.
pub(crate) fn edge_kind_name(kind: EdgeKind) -> &'static str {
    match kind {
        EdgeKind::Road => "road",
        EdgeKind::Bridge => "bridge",
        EdgeKind::Yard => "yard",
        EdgeKind::Spur => "spur",
    }
}

/// The GeoJSON spelling of a zone kind.
pub(crate) fn zone_kind_name(kind: ZoneKind) -> &'static str {
    match kind {
        ZoneKind::ScanLanes => "scan_lanes",
        ZoneKind::InspectionBays => "inspection_bays",
        ZoneKind::Chargers => "chargers",
        ZoneKind::StopLineQueue => "stop_line_queue",
        ZoneKind::Parking => "parking",
        ZoneKind::Yard => "yard",
    }
}

/// The GeoJSON spelling of a direction.
pub(crate) fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::OneWay => "one_way",
        Direction::Bidirectional => "bidirectional",
    }
}

fn parse_side(s: &str) -> Option<Side> {
    [Side::Vn, Side::Cn].into_iter().find(|k| k.code() == s)
}

fn parse_direction(s: &str) -> Option<Direction> {
    [Direction::OneWay, Direction::Bidirectional]
        .into_iter()
        .find(|k| direction_name(*k) == s)
}

/// The name of a JSON value's type, for messages.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Which feature an issue is about, and how to call it.
#[derive(Clone)]
struct Label {
    /// "node", "edge", "zone" or "feature".
    kind: &'static str,
    /// The id, or `#N` when the feature has none.
    feature: String,
    /// Whether `feature` is the feature's id.
    named: bool,
}

impl Label {
    fn issue(&self, problem: Problem) -> MapIssue {
        MapIssue {
            kind: self.kind,
            feature: self.feature.clone(),
            problem,
        }
    }
}

/// The properties of one feature, read with every problem recorded.
struct Props<'a> {
    obj: &'a JsonObject,
    label: Label,
    issues: Vec<MapIssue>,
}

impl<'a> Props<'a> {
    fn problem(&mut self, problem: Problem) {
        self.issues.push(self.label.issue(problem));
    }

    fn wrong_type(&mut self, property: &'static str, expected: &'static str, found: &Value) {
        self.problem(Problem::WrongType {
            property,
            expected,
            found: json_type(found),
        });
    }

    /// A property that may be absent; `null` counts as absent.
    fn optional(&self, property: &'static str) -> Option<&'a Value> {
        match self.obj.get(property) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    fn required(&mut self, property: &'static str) -> Option<&'a Value> {
        let v = self.optional(property);
        if v.is_none() {
            self.problem(Problem::MissingProperty { property });
        }
        v
    }

    fn string(&mut self, property: &'static str) -> Option<&'a str> {
        match self.required(property)? {
            Value::String(s) => Some(s.as_str()),
            other => {
                self.wrong_type(property, "a string", other);
                None
            }
        }
    }

    fn optional_number(&mut self, property: &'static str) -> Option<f64> {
        match self.optional(property)? {
            Value::Number(n) => match n.as_f64() {
                Some(x) if x.is_finite() => Some(x),
                _ => {
                    self.problem(Problem::NotFinite { field: property });
                    None
                }
            },
            other => {
                self.wrong_type(property, "a number", other);
                None
            }
        }
    }

    fn number(&mut self, property: &'static str) -> Option<f64> {
        if self.optional(property).is_none() {
            self.problem(Problem::MissingProperty { property });
            return None;
        }
        self.optional_number(property)
    }

    fn integer(&mut self, property: &'static str) -> Option<i64> {
        match self.required(property)? {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Some(i),
                // Integers above i64::MAX are out of every range the map
                // accepts; validation reports them as such.
                None if n.is_u64() => Some(i64::MAX),
                None => {
                    self.problem(Problem::WrongType {
                        property,
                        expected: "an integer",
                        found: "a fractional number",
                    });
                    None
                }
            },
            other => {
                self.wrong_type(property, "an integer", other);
                None
            }
        }
    }

    fn string_array(&mut self, property: &'static str) -> Option<Vec<String>> {
        match self.required(property)? {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => {
                            self.wrong_type(property, "an array of node ids (strings)", other);
                            return None;
                        }
                    }
                }
                Some(out)
            }
            other => {
                self.wrong_type(property, "an array of node ids (strings)", other);
                None
            }
        }
    }

    /// A string property that names one of a fixed set of values.
    fn choice<T>(
        &mut self,
        property: &'static str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let s = self.string(property)?;
        let v = parse(s);
        if v.is_none() {
            self.problem(Problem::UnknownValue {
                property,
                value: s.to_string(),
                expected,
            });
        }
        v
    }

    /// Like [`Props::choice`], but absent or `null` gives `Ok(None)`.
    fn optional_choice<T>(
        &mut self,
        property: &'static str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ()> {
        if self.optional(property).is_none() {
            return Ok(None);
        }
        self.choice(property, expected, parse).map(Some).ok_or(())
    }
}

/// A position checked for WGS84 range, as `(lon, lat)`.
fn lon_lat(p: &Position) -> Result<(f64, f64), Problem> {
    match p.as_slice() {
        [lon, lat, ..] => {
            let (lon, lat) = (*lon, *lat);
            if lon.is_finite()
                && lat.is_finite()
                && (-180.0..=180.0).contains(&lon)
                && (-90.0..=90.0).contains(&lat)
            {
                Ok((lon, lat))
            } else {
                Err(Problem::CoordinateOutOfRange { lon, lat })
            }
        }
        short => Err(Problem::BadGeometry {
            detail: format!(
                "a position needs a longitude and a latitude, found {} number(s)",
                short.len()
            ),
        }),
    }
}

/// Checks and converts positions; the first bad one gives the problem.
fn lon_lats(ps: &[Position]) -> Result<Vec<(f64, f64)>, Problem> {
    ps.iter().map(lon_lat).collect()
}

/// A feature's geometry, checked and still in degrees.
enum Shape {
    Point((f64, f64)),
    Line(Vec<(f64, f64)>),
    /// The exterior ring, without its closing position.
    Polygon(Vec<(f64, f64)>),
}

fn shape(value: &GeometryValue) -> Result<Shape, Problem> {
    match value {
        GeometryValue::Point { coordinates } => Ok(Shape::Point(lon_lat(coordinates)?)),
        GeometryValue::LineString { coordinates } => {
            if coordinates.len() < 2 {
                return Err(Problem::BadGeometry {
                    detail: format!(
                        "a LineString needs at least 2 positions, found {}",
                        coordinates.len()
                    ),
                });
            }
            Ok(Shape::Line(lon_lats(coordinates)?))
        }
        GeometryValue::Polygon { coordinates } => {
            let ring = match coordinates.as_slice() {
                [ring] => ring,
                [] => {
                    return Err(Problem::BadGeometry {
                        detail: "a Polygon needs an exterior ring".into(),
                    });
                }
                [_, holes @ ..] => {
                    return Err(Problem::UnsupportedGeometry {
                        geometry: format!("Polygon with {} hole(s)", holes.len()),
                    });
                }
            };
            let mut points = lon_lats(ring)?;
            if points.len() < 4 {
                return Err(Problem::BadGeometry {
                    detail: format!(
                        "a Polygon ring needs at least 4 positions, found {}",
                        points.len()
                    ),
                });
            }
            if points.first() != points.last() {
                return Err(Problem::BadGeometry {
                    detail: "the Polygon ring is not closed (first and last positions differ)"
                        .into(),
                });
            }
            points.pop();
            Ok(Shape::Polygon(points))
        }
        other => Err(Problem::UnsupportedGeometry {
            geometry: other.type_name().to_string(),
        }),
    }
}

/// What one feature turned into.
enum Part {
    Node(NodePart),
    Edge(EdgePart),
    Zone(ZonePart),
}

/// The label of feature `i`: its `id` property when that is a non-empty
/// string, `#i` otherwise.
fn label_of(i: usize, raw: &Value) -> Label {
    let id = raw
        .get("properties")
        .and_then(|p| p.get("id"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    match id {
        Some(id) => Label {
            kind: "feature",
            feature: id.to_string(),
            named: true,
        },
        None => Label {
            kind: "feature",
            feature: format!("#{i}"),
            named: false,
        },
    }
}

/// Reads one feature into a part, or the issues that stop it.
fn read_feature(
    i: usize,
    raw: &Value,
    feature: &Feature,
    frame: &LocalFrame,
) -> Result<Part, Vec<MapIssue>> {
    let mut label = label_of(i, raw);
    let Some(obj) = feature.properties.as_ref() else {
        return Err(vec![label.issue(Problem::MissingProperties)]);
    };
    let Some(geometry) = feature.geometry.as_ref() else {
        return Err(vec![label.issue(Problem::MissingGeometry)]);
    };
    let shape = shape(&geometry.value);
    if label.named {
        label.kind = match &geometry.value {
            GeometryValue::Point { .. } => "node",
            GeometryValue::LineString { .. } => "edge",
            GeometryValue::Polygon { .. } => "zone",
            _ => "feature",
        };
    }
    let mut props = Props {
        obj,
        label,
        issues: Vec::new(),
    };
    // The id: required, a non-empty string.
    let id = match props.string("id") {
        Some("") => {
            props.problem(Problem::EmptyId);
            None
        }
        other => other.map(str::to_string),
    };
    let shape = match shape {
        Ok(s) => Some(s),
        Err(p) => {
            props.problem(p);
            None
        }
    };
    let project = |(lon, lat): (f64, f64)| -> Point { frame.to_local(lon, lat) };
    let part = match shape {
        None => None,
        Some(Shape::Point(p)) => {
            let kind = props.choice("kind", NODE_KIND_LIST, |s| {
                NODE_KINDS.into_iter().find(|k| node_kind_name(*k) == s)
            });
            let side = props.optional_choice("side", SIDE_LIST, parse_side);
            match (id, kind, side) {
                (Some(id), Some(kind), Ok(side)) => Some(Part::Node(NodePart {
                    id,
                    kind,
                    side,
                    pos: project(p),
                })),
                _ => None,
            }
        }
        Some(Shape::Line(points)) => {
            let kind = props.choice("kind", EDGE_KIND_LIST, |s| {
                EDGE_KINDS.into_iter().find(|k| edge_kind_name(*k) == s)
            });
            let from = props.string("from").map(str::to_string);
            let to = props.string("to").map(str::to_string);
            let direction = props.choice("direction", DIRECTION_LIST, parse_direction);
            let speed = props.number("speed_kmh");
            let length_given = props.optional("length_m").is_some();
            let length = props.optional_number("length_m");
            let length_ok = !length_given || length.is_some();
            match (id, kind, from, to, direction, speed) {
                (Some(id), Some(kind), Some(from), Some(to), Some(direction), Some(speed))
                    if length_ok =>
                {
                    Some(Part::Edge(EdgePart {
                        id,
                        kind,
                        from,
                        to,
                        direction,
                        length_m: length,
                        speed_limit_kmh: speed,
                        geometry: points.into_iter().map(project).collect(),
                    }))
                }
                _ => None,
            }
        }
        Some(Shape::Polygon(ring)) => {
            let kind = props.choice("kind", ZONE_KIND_LIST, |s| {
                ZONE_KINDS.into_iter().find(|k| zone_kind_name(*k) == s)
            });
            let side = props.choice("side", SIDE_LIST, parse_side);
            let capacity = props.integer("capacity");
            let members = props.string_array("members");
            match (id, kind, side, capacity, members) {
                (Some(id), Some(kind), Some(side), Some(capacity), Some(members)) => {
                    Some(Part::Zone(ZonePart {
                        id,
                        kind,
                        side,
                        capacity,
                        members,
                        outline: ring.into_iter().map(project).collect(),
                    }))
                }
                _ => None,
            }
        }
    };
    match part {
        Some(part) if props.issues.is_empty() => Ok(part),
        _ => Err(props.issues),
    }
}

/// The collection's `origin` member, if it is present.
fn read_origin(value: &Value) -> Result<(f64, f64), Problem> {
    let wrong = || Problem::WrongType {
        property: "origin",
        expected: "[lon, lat]",
        found: json_type(value),
    };
    let Value::Array(items) = value else {
        return Err(wrong());
    };
    match items.as_slice() {
        [Value::Number(lon), Value::Number(lat)] => {
            match (lon.as_f64(), lat.as_f64()) {
                (Some(lon), Some(lat)) => {
                    // Checked exactly as a feature's position is.
                    lon_lat(&Position::from([lon, lat]))
                }
                _ => Err(wrong()),
            }
        }
        _ => Err(wrong()),
    }
}

/// The first position of the first feature with a well-formed Point
/// geometry, used as the origin when the collection gives none.
fn first_point(features: &[Option<Feature>]) -> Option<(f64, f64)> {
    features
        .iter()
        .flatten()
        .find_map(|f| match f.geometry.as_ref().map(|g| &g.value) {
            Some(GeometryValue::Point { coordinates }) => lon_lat(coordinates).ok(),
            _ => None,
        })
}

/// Parses GeoJSON text into map parts. Validation of references and rules
/// is left to [`super::validate::check`].
pub(crate) fn parse(text: &str) -> Result<MapParts, MapError> {
    let root: Value = serde_json::from_str(text).map_err(|e| MapError::Syntax(e.to_string()))?;
    let Value::Object(root) = root else {
        return Err(MapError::Syntax(format!(
            "expected a JSON object, found {}",
            json_type(&root)
        )));
    };
    match root.get("type") {
        Some(Value::String(t)) if t == "FeatureCollection" => {}
        Some(Value::String(t)) => {
            return Err(MapError::Syntax(format!(
                "the top-level type is {t:?}, expected \"FeatureCollection\""
            )));
        }
        Some(other) => {
            return Err(MapError::Syntax(format!(
                "the top-level type must be the string \"FeatureCollection\", found {}",
                json_type(other)
            )));
        }
        None => {
            return Err(MapError::Syntax(
                "the top-level object has no \"type\" member".into(),
            ));
        }
    }
    let raws = match root.get("features") {
        Some(Value::Array(raws)) => raws,
        Some(other) => {
            return Err(MapError::Syntax(format!(
                "\"features\" must be an array, found {}",
                json_type(other)
            )));
        }
        None => {
            return Err(MapError::Syntax(
                "the FeatureCollection has no \"features\" member".into(),
            ));
        }
    };

    let map_label = Label {
        kind: "map",
        feature: String::new(),
        named: false,
    };
    let mut issues = Vec::new();
    let name = match root.get("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            issues.push(map_label.issue(Problem::WrongType {
                property: "name",
                expected: "a string",
                found: json_type(other),
            }));
            String::new()
        }
    };

    // Every feature is first read as a GeoJSON Feature; one that is not
    // well-formed GeoJSON is reported and skipped.
    let mut features = Vec::with_capacity(raws.len());
    let mut feature_issues: Vec<Option<MapIssue>> = Vec::with_capacity(raws.len());
    for (i, raw) in raws.iter().enumerate() {
        match Feature::deserialize(raw) {
            Ok(f) => {
                features.push(Some(f));
                feature_issues.push(None);
            }
            Err(e) => {
                features.push(None);
                feature_issues.push(Some(label_of(i, raw).issue(Problem::NotAFeature {
                    detail: e.to_string(),
                })));
            }
        }
    }

    let origin = match root.get("origin") {
        None | Some(Value::Null) => first_point(&features),
        Some(v) => match read_origin(v) {
            Ok(o) => Some(o),
            Err(p) => {
                issues.push(map_label.issue(p));
                first_point(&features)
            }
        },
    };
    let frame = origin
        .map(|(lon, lat)| LocalFrame::new(lon, lat))
        .unwrap_or_default();

    let mut parts = MapParts {
        name,
        frame,
        ..MapParts::default()
    };
    for (i, (raw, (feature, bad))) in raws
        .iter()
        .zip(features.iter().zip(feature_issues))
        .enumerate()
    {
        if let Some(issue) = bad {
            issues.push(issue);
            continue;
        }
        let Some(feature) = feature else { continue };
        match read_feature(i, raw, feature, &frame) {
            Ok(Part::Node(n)) => parts.nodes.push(n),
            Ok(Part::Edge(e)) => parts.edges.push(e),
            Ok(Part::Zone(z)) => parts.zones.push(z),
            Err(mut found) => issues.append(&mut found),
        }
    }
    if issues.is_empty() {
        Ok(parts)
    } else {
        Err(MapError::Invalid(issues))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_lists_match_the_names() {
        let names = |v: Vec<&str>| v.join(", ");
        assert_eq!(
            names(NODE_KINDS.iter().map(|k| node_kind_name(*k)).collect()),
            NODE_KIND_LIST
        );
        assert_eq!(
            names(EDGE_KINDS.iter().map(|k| edge_kind_name(*k)).collect()),
            EDGE_KIND_LIST
        );
        assert_eq!(
            names(ZONE_KINDS.iter().map(|k| zone_kind_name(*k)).collect()),
            ZONE_KIND_LIST
        );
    }

    #[test]
    fn names_agree_with_serde() {
        for k in NODE_KINDS {
            assert_eq!(
                serde_json::to_value(k).ok(),
                Some(Value::String(node_kind_name(k).into()))
            );
        }
        for k in EDGE_KINDS {
            assert_eq!(
                serde_json::to_value(k).ok(),
                Some(Value::String(edge_kind_name(k).into()))
            );
        }
        for k in ZONE_KINDS {
            assert_eq!(
                serde_json::to_value(k).ok(),
                Some(Value::String(zone_kind_name(k).into()))
            );
        }
    }

    #[test]
    fn a_bare_point_collection_uses_the_first_point_as_origin() {
        let text = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","geometry":{"type":"Point","coordinates":[107.96,21.54]},
             "properties":{"id":"A","kind":"waypoint","side":"VN"}}]}"#;
        let parts = parse(text).expect("parses");
        assert_eq!(parts.frame, LocalFrame::new(107.96, 21.54));
        assert_eq!(parts.nodes.len(), 1);
        assert!(parts.nodes[0].pos.norm() < 1e-9);
    }
}
