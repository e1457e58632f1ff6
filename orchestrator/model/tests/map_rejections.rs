//! Every rejection rule, each triggered by one mutation of the shipped map.

mod common;

use borderlane_model::map::{EdgePart, MapError, MapIssue, MapParts, NodePart, Point, Problem};
use borderlane_model::{Direction, EdgeKind};
use borderlane_model::{LaneMap, NodeKind, Side};
use common::*;
use serde_json::{Value, json};

/// Asserts that exactly one issue was found and returns it.
fn only(issues: Vec<MapIssue>) -> MapIssue {
    assert_eq!(issues.len(), 1, "expected one issue, got {issues:#?}");
    issues.into_iter().next().unwrap_or_else(|| unreachable!())
}

fn syntax_error(text: &str) -> String {
    match LaneMap::from_geojson(text) {
        Err(MapError::Syntax(s)) => s,
        Err(MapError::Invalid(i)) => panic!("expected a syntax error, got issues {i:#?}"),
        Ok(_) => panic!("the text was accepted"),
    }
}

#[test]
fn the_unmodified_map_is_accepted() {
    let map = map_json(TWO_LANE);
    let text = serde_json::to_string(&map).unwrap();
    assert!(LaneMap::from_geojson(&text).is_ok());
}

#[test]
fn duplicate_id() {
    let mut map = map_json(TWO_LANE);
    let copy = feature(&mut map, "VN_Q1").clone();
    features(&mut map).push(copy);
    let issue = only(issues(&map));
    assert_eq!(issue.problem, Problem::DuplicateId);
    assert_eq!((issue.kind, issue.feature.as_str()), ("node", "VN_Q1"));
    assert_eq!(message(&map), "node VN_Q1: duplicate id");
}

#[test]
fn duplicate_id_across_kinds() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "VN_QUEUE")["id"] = json!("VN_Q1");
    let issue = only(issues(&map));
    assert_eq!(issue.problem, Problem::DuplicateId);
    assert_eq!((issue.kind, issue.feature.as_str()), ("zone", "VN_Q1"));
}

#[test]
fn dangling_edge_endpoint() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "VN_OUT_01-VN_OUT_02")["to"] = json!("NOWHERE");
    let issue = only(issues(&map));
    assert_eq!(
        issue.problem,
        Problem::DanglingReference {
            field: "to",
            target: "NOWHERE".into()
        }
    );
    assert_eq!(
        message(&map),
        "edge VN_OUT_01-VN_OUT_02: to refers to unknown node \"NOWHERE\""
    );
}

#[test]
fn dangling_zone_member() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "VN_QUEUE")["members"]
        .as_array_mut()
        .unwrap()
        .push(json!("GHOST"));
    let issue = only(issues(&map));
    assert_eq!((issue.kind, issue.feature.as_str()), ("zone", "VN_QUEUE"));
    assert_eq!(
        issue.problem,
        Problem::DanglingReference {
            field: "members",
            target: "GHOST".into()
        }
    );
}

#[test]
fn zero_length() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "VN_BRIDGE_END_NB-BORDER_NB")["length_m"] = json!(0);
    let issue = only(issues(&map));
    assert_eq!(issue.feature, "VN_BRIDGE_END_NB-BORDER_NB");
    assert_eq!(
        issue.problem,
        Problem::LengthOutOfRange {
            length_m: 0.0,
            explicit: true
        }
    );
    assert!(
        message(&map).starts_with("edge VN_BRIDGE_END_NB-BORDER_NB: length_m 0 is out of range"),
        "{}",
        message(&map)
    );
}

#[test]
fn zero_geometry_length_without_length_m() {
    let mut map = map_json(TWO_LANE);
    let f = feature(&mut map, "VN_OUT_05-VN_OUT_06");
    let start = f["geometry"]["coordinates"][0].clone();
    f["geometry"]["coordinates"] = json!([start.clone(), start]);
    assert!(f["properties"].get("length_m").is_none());
    let issue = only(issues(&map));
    assert_eq!(issue.feature, "VN_OUT_05-VN_OUT_06");
    assert_eq!(
        issue.problem,
        Problem::LengthOutOfRange {
            length_m: 0.0,
            explicit: false
        }
    );
}

#[test]
fn negative_length() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "BORDER_SB-VN_BRIDGE_END_SB")["length_m"] = json!(-154.5);
    let issue = only(issues(&map));
    assert_eq!(issue.feature, "BORDER_SB-VN_BRIDGE_END_SB");
    assert_eq!(
        issue.problem,
        Problem::LengthOutOfRange {
            length_m: -154.5,
            explicit: true
        }
    );
    assert!(message(&map).contains("length_m -154.5 is out of range"));
}

#[test]
fn speed_out_of_range() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "VN_OUT_02-VN_OUT_03")["speed_kmh"] = json!(80);
    props(&mut map, "VN_OUT_05-VN_OUT_06")["speed_kmh"] = json!(0);
    let found = issues(&map);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].feature, "VN_OUT_02-VN_OUT_03");
    assert_eq!(
        found[0].problem,
        Problem::SpeedOutOfRange { speed_kmh: 80.0 }
    );
    assert_eq!(
        found[0].to_string(),
        "edge VN_OUT_02-VN_OUT_03: speed_kmh 80 is out of range (0, 60]"
    );
    assert_eq!(found[1].feature, "VN_OUT_05-VN_OUT_06");
    assert_eq!(
        found[1].problem,
        Problem::SpeedOutOfRange { speed_kmh: 0.0 }
    );
}

#[test]
fn speed_at_the_limit_is_accepted() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "VN_OUT_02-VN_OUT_03")["speed_kmh"] = json!(60);
    let text = serde_json::to_string(&map).unwrap();
    assert!(LaneMap::from_geojson(&text).is_ok());
}

#[test]
fn no_border() {
    let mut map = map_json(TWO_LANE);
    for id in ["BORDER_NB", "BORDER_SB"] {
        let p = props(&mut map, id);
        p["kind"] = json!("waypoint");
        p["side"] = json!("VN");
    }
    let issue = only(issues(&map));
    assert_eq!(issue.problem, Problem::NoBorder);
    assert_eq!(issue.kind, "map");
    assert_eq!(
        message(&map),
        "map: has no border node (a node of kind border)"
    );
}

#[test]
fn border_not_between_bridge_edges() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "BORDER_NB-CN_BRIDGE_END_NB")["kind"] = json!("road");
    let issue = only(issues(&map));
    assert_eq!((issue.kind, issue.feature.as_str()), ("node", "BORDER_NB"));
    assert_eq!(issue.problem, Problem::BorderNotOnBridge);
}

#[test]
fn border_with_both_edges_leaving() {
    let mut map = map_json(TWO_LANE);
    // Turn the arriving bridge edge round: the border is then a source.
    let p = props(&mut map, "VN_BRIDGE_END_NB-BORDER_NB");
    p["from"] = json!("BORDER_NB");
    p["to"] = json!("VN_BRIDGE_END_NB");
    let found = issues(&map);
    assert!(
        found
            .iter()
            .any(|i| i.feature == "BORDER_NB" && i.problem == Problem::BorderNotOnBridge),
        "{found:#?}"
    );
}

#[test]
fn unreachable_yard() {
    let mut map = map_json(TWO_LANE);
    // Without the edge to its gate-out, the VN yard cannot be left: no VN
    // slot reaches the CN yard, and no CN slot is reached from the VN yard.
    features(&mut map).retain(|f| f["properties"]["id"] != "VN_Y_JOUT-VN_GATE_OUT");
    let found = issues(&map);
    assert_eq!(found.len(), 20, "{found:#?}");
    for (i, issue) in found[..10].iter().enumerate() {
        assert_eq!(issue.kind, "node");
        assert_eq!(issue.feature, format!("VN_SLOT_{:02}", i + 1));
        assert_eq!(issue.problem, Problem::YardCannotReach { other: Side::Cn });
    }
    for (i, issue) in found[10..].iter().enumerate() {
        assert_eq!(issue.feature, format!("CN_SLOT_{:02}", i + 1));
        assert_eq!(issue.problem, Problem::YardNotReachable { other: Side::Vn });
    }
    assert_eq!(
        found[0].to_string(),
        "node VN_SLOT_01: yard_slot cannot drive to any CN yard_slot"
    );
    assert_eq!(
        found[10].to_string(),
        "node CN_SLOT_01: yard_slot cannot be reached from any VN yard_slot"
    );
}

#[test]
fn one_unreachable_slot() {
    let mut map = map_json(TWO_LANE);
    // A slot whose spur is one-way into it can be reached but not left.
    props(&mut map, "CN_Y_B04-CN_SLOT_04")["direction"] = json!("one_way");
    let issue = only(issues(&map));
    assert_eq!((issue.kind, issue.feature.as_str()), ("node", "CN_SLOT_04"));
    assert_eq!(issue.problem, Problem::YardCannotReach { other: Side::Vn });
}

#[test]
fn invalid_geojson_syntax() {
    let text = map_text(TWO_LANE);
    let msg = syntax_error(&text[..text.len() / 2]);
    assert!(msg.contains("EOF"), "{msg}");
    syntax_error("");
    syntax_error("{not json");
    syntax_error("\u{0}\u{1}");
}

#[test]
fn not_a_feature_collection() {
    let msg = syntax_error(
        r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[107.96,21.54]},"properties":{}}"#,
    );
    assert!(msg.contains("\"Feature\""), "{msg}");
    assert!(msg.contains("FeatureCollection"), "{msg}");
    syntax_error("[]");
    syntax_error("42");
    syntax_error(r#"{"type":"FeatureCollection"}"#);
    syntax_error(r#"{"type":"FeatureCollection","features":{}}"#);
    syntax_error(r#"{"features":[]}"#);
}

#[test]
fn missing_property() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "VN_OUT_06-VN_CX_A").remove("speed_kmh");
    let issue = only(issues(&map));
    assert_eq!(
        (issue.kind, issue.feature.as_str()),
        ("edge", "VN_OUT_06-VN_CX_A")
    );
    assert_eq!(
        issue.problem,
        Problem::MissingProperty {
            property: "speed_kmh"
        }
    );
    assert_eq!(
        message(&map),
        "edge VN_OUT_06-VN_CX_A: property speed_kmh is missing"
    );
}

#[test]
fn missing_id_names_the_feature_by_position() {
    let mut map = map_json(TWO_LANE);
    let position = features(&mut map)
        .iter()
        .position(|f| f["properties"]["id"] == "VN_Q2")
        .unwrap();
    props(&mut map, "VN_Q2").remove("id");
    let issue = only(issues(&map));
    assert_eq!(issue.feature, format!("#{position}"));
    assert_eq!(issue.problem, Problem::MissingProperty { property: "id" });
    assert_eq!(
        message(&map),
        format!("feature #{position}: property id is missing")
    );
}

#[test]
fn missing_properties_object() {
    let mut map = map_json(TWO_LANE);
    features(&mut map)[3]
        .as_object_mut()
        .unwrap()
        .remove("properties");
    let issue = only(issues(&map));
    assert_eq!(issue.to_string(), "feature #3: has no properties object");
}

#[test]
fn missing_side_and_side_on_border() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "VN_STOP_NB").remove("side");
    props(&mut map, "BORDER_SB")["side"] = json!("CN");
    let found = issues(&map);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].feature, "VN_STOP_NB");
    assert_eq!(
        found[0].problem,
        Problem::SideMissing {
            kind: NodeKind::StopLine
        }
    );
    assert_eq!(
        found[0].to_string(),
        "node VN_STOP_NB: side is missing; it is required for a stop_line node"
    );
    assert_eq!(found[1].feature, "BORDER_SB");
    assert_eq!(found[1].problem, Problem::SideOnBorder { side: Side::Cn });
}

#[test]
fn wrong_property_type() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "VN_OUT_07-VN_Q2")["speed_kmh"] = json!("25");
    let issue = only(issues(&map));
    assert_eq!(issue.feature, "VN_OUT_07-VN_Q2");
    assert_eq!(
        issue.problem,
        Problem::WrongType {
            property: "speed_kmh",
            expected: "a number",
            found: "a string"
        }
    );
    assert_eq!(
        message(&map),
        "edge VN_OUT_07-VN_Q2: property speed_kmh must be a number, found a string"
    );
}

#[test]
fn wrong_types_in_zones() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "VN_QUEUE")["capacity"] = json!(2.5);
    props(&mut map, "CN_QUEUE")["members"] = json!(["CN_Q2", 7]);
    let found = issues(&map);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].feature, "VN_QUEUE");
    assert!(matches!(
        found[0].problem,
        Problem::WrongType {
            property: "capacity",
            ..
        }
    ));
    assert_eq!(found[1].feature, "CN_QUEUE");
    assert!(matches!(
        found[1].problem,
        Problem::WrongType {
            property: "members",
            ..
        }
    ));
}

#[test]
fn unknown_kind() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "VN_Q1")["kind"] = json!("tunnel");
    props(&mut map, "VN_Q2")["side"] = json!("LA");
    let found = issues(&map);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].feature, "VN_Q2");
    assert!(
        found[0]
            .to_string()
            .contains("side \"LA\" is not one of VN, CN")
    );
    assert_eq!(found[1].feature, "VN_Q1");
    assert!(matches!(
        &found[1].problem,
        Problem::UnknownValue { property: "kind", value, .. } if value == "tunnel"
    ));
}

#[test]
fn coordinates_out_of_range() {
    let mut map = map_json(TWO_LANE);
    feature(&mut map, "VN_Q1")["geometry"]["coordinates"] = json!([200.0, 21.5]);
    let issue = only(issues(&map));
    assert_eq!((issue.kind, issue.feature.as_str()), ("node", "VN_Q1"));
    assert_eq!(
        issue.problem,
        Problem::CoordinateOutOfRange {
            lon: 200.0,
            lat: 21.5
        }
    );
}

#[test]
fn unsupported_geometry() {
    let mut map = map_json(TWO_LANE);
    feature(&mut map, "VN_Q1")["geometry"] =
        json!({"type": "MultiPoint", "coordinates": [[107.96, 21.5], [107.961, 21.5]]});
    let issue = only(issues(&map));
    assert_eq!(issue.feature, "VN_Q1");
    assert_eq!(
        issue.problem,
        Problem::UnsupportedGeometry {
            geometry: "MultiPoint".into()
        }
    );
}

#[test]
fn malformed_geometry() {
    let mut map = map_json(TWO_LANE);
    feature(&mut map, "VN_OUT_07-VN_Q2")["geometry"]["coordinates"] = json!([[107.96, 21.5]]);
    feature(&mut map, "VN_QUEUE")["geometry"]["coordinates"][0]
        .as_array_mut()
        .unwrap()
        .pop();
    feature(&mut map, "VN_Q1")["geometry"] = Value::Null;
    feature(&mut map, "VN_Q2")["geometry"] = json!({"type": "Point", "coordinates": "here"});
    let found = issues(&map);
    let named: Vec<&str> = found.iter().map(|i| i.feature.as_str()).collect();
    assert_eq!(
        named,
        ["VN_Q2", "VN_Q1", "VN_OUT_07-VN_Q2", "VN_QUEUE"],
        "{found:#?}"
    );
    assert!(matches!(found[0].problem, Problem::NotAFeature { .. }));
    assert_eq!(found[1].problem, Problem::MissingGeometry);
    assert!(matches!(found[2].problem, Problem::BadGeometry { .. }));
    assert!(matches!(found[3].problem, Problem::BadGeometry { .. }));
}

#[test]
fn zone_capacity_and_members() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "VN_SCAN_OUT")["capacity"] = json!(0);
    props(&mut map, "CN_SCAN_OUT")["members"] = json!([]);
    props(&mut map, "CN_QUEUE")["capacity"] = json!(5_000_000_000u64);
    let found = issues(&map);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!(found[0].feature, "VN_SCAN_OUT");
    assert_eq!(
        found[0].problem,
        Problem::CapacityOutOfRange { capacity: 0 }
    );
    assert_eq!(found[1].feature, "CN_SCAN_OUT");
    assert_eq!(found[1].problem, Problem::NoMembers);
    assert_eq!(found[2].feature, "CN_QUEUE");
    assert!(matches!(
        found[2].problem,
        Problem::CapacityOutOfRange { .. }
    ));
}

#[test]
fn bad_collection_members() {
    let mut map = map_json(TWO_LANE);
    map["origin"] = json!([107.96, 95.0]);
    map["name"] = json!(7);
    let found = issues(&map);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found.iter().all(|i| i.kind == "map"));
    assert!(matches!(
        found[0].problem,
        Problem::WrongType {
            property: "name",
            ..
        }
    ));
    assert!(matches!(
        found[1].problem,
        Problem::CoordinateOutOfRange { .. }
    ));
}

#[test]
fn every_issue_is_reported_in_feature_order() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "VN_OUT_02-VN_OUT_03")["speed_kmh"] = json!(61);
    props(&mut map, "VN_SLOT_03")["side"] = Value::Null;
    props(&mut map, "CN_QUEUE")["capacity"] = json!(-1);
    props(&mut map, "VN_BRIDGE_END_NB-BORDER_NB")["length_m"] = json!(-1);
    let found = issues(&map);
    let named: Vec<&str> = found.iter().map(|i| i.feature.as_str()).collect();
    assert_eq!(
        named,
        [
            "VN_SLOT_03",
            "VN_OUT_02-VN_OUT_03",
            "VN_BRIDGE_END_NB-BORDER_NB",
            "CN_QUEUE"
        ]
    );
    // The message lists one issue per line.
    assert_eq!(message(&map).lines().count(), 4);
}

#[test]
fn huge_numbers_are_errors_not_panics() {
    let mut map = map_json(TWO_LANE);
    props(&mut map, "VN_BRIDGE_END_NB-BORDER_NB")["length_m"] = json!(1e300);
    let issue = only(issues(&map));
    assert!(matches!(issue.problem, Problem::LengthOutOfRange { .. }));
    // A number beyond f64 is not JSON serde_json accepts.
    let text = map_text(TWO_LANE).replacen("154.5", "1e999", 1);
    assert!(LaneMap::from_geojson(&text).is_err());
}

/// A minimal valid map built in code: a yard slot on each side, joined over
/// a two-edge bridge each way.
fn small_parts() -> MapParts {
    let node = |id: &str, kind, side, x: f64, y: f64| NodePart {
        id: id.into(),
        kind,
        side,
        pos: Point::new(x, y),
    };
    let edge = |id: &str, kind, from: &str, to: &str, direction| EdgePart {
        id: id.into(),
        kind,
        from: from.into(),
        to: to.into(),
        direction,
        length_m: None,
        speed_limit_kmh: 15.0,
        geometry: Vec::new(),
    };
    MapParts {
        name: "small".into(),
        nodes: vec![
            node("A", NodeKind::YardSlot, Some(Side::Vn), 0.0, -100.0),
            node("AE", NodeKind::BridgeEnd, Some(Side::Vn), 0.0, 0.0),
            node("X", NodeKind::Border, None, 0.0, 50.0),
            node("BE", NodeKind::BridgeEnd, Some(Side::Cn), 0.0, 100.0),
            node("B", NodeKind::YardSlot, Some(Side::Cn), 0.0, 200.0),
        ],
        edges: vec![
            edge("A-AE", EdgeKind::Road, "A", "AE", Direction::Bidirectional),
            edge(
                "AE-X",
                EdgeKind::Bridge,
                "AE",
                "X",
                Direction::Bidirectional,
            ),
            edge(
                "X-BE",
                EdgeKind::Bridge,
                "X",
                "BE",
                Direction::Bidirectional,
            ),
            edge("BE-B", EdgeKind::Road, "BE", "B", Direction::Bidirectional),
        ],
        ..MapParts::default()
    }
}

#[test]
fn parts_build_a_map() {
    let map = LaneMap::from_parts(small_parts()).expect("valid");
    let s = map.summary();
    assert_eq!(s.bridge_lanes.len(), 1);
    let lane = &s.bridge_lanes[0];
    assert!(lane.two_way);
    assert_eq!((lane.from.as_str(), lane.to.as_str()), ("AE", "BE"));
    assert_eq!(lane.borders, vec![("X".to_string(), 50.0)]);
    // Without gates there is no gate-to-gate route.
    assert!(s.route(Side::Vn, Side::Cn).is_none());
    assert!(s.to_string().contains("VN -> CN: no route"));
}

#[test]
fn parts_with_non_finite_numbers_are_rejected() {
    let mut parts = small_parts();
    parts.nodes[0].pos = Point::new(f64::NAN, 0.0);
    parts.edges[1].speed_limit_kmh = f64::INFINITY;
    parts.edges[2].length_m = Some(f64::NAN);
    let found = match LaneMap::from_parts(parts) {
        Err(MapError::Invalid(issues)) => issues,
        other => panic!("expected issues, got {other:?}"),
    };
    let named: Vec<(&str, &str)> = found.iter().map(|i| (i.kind, i.feature.as_str())).collect();
    assert_eq!(
        named,
        [("node", "A"), ("edge", "AE-X"), ("edge", "X-BE")],
        "{found:#?}"
    );
    assert!(matches!(
        found[0].problem,
        Problem::PositionOutOfRange { .. }
    ));
    assert!(matches!(found[1].problem, Problem::SpeedOutOfRange { .. }));
    assert!(matches!(found[2].problem, Problem::LengthOutOfRange { .. }));
}
