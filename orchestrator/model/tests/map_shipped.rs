//! The shipped maps: they load, their summaries carry the published
//! figures, their topology is what the planner relies on, and positions on
//! them match to the right edges.

mod common;

use borderlane_model::map::Point;
use borderlane_model::{Direction, EdgeKind, LaneMap, NodeKind, Side, ZoneKind};
use common::*;

fn node_pos(map: &LaneMap, id: &str) -> Point {
    map.node(map.node_by_id(id).unwrap_or_else(|| panic!("no node {id}")))
        .pos
}

#[test]
fn both_maps_load() {
    for file in [TWO_LANE, SINGLE_LANE] {
        let map = load(file);
        assert!(map.nodes.len() > 100, "{file}");
        assert!(!map.name.is_empty(), "{file}");
    }
}

#[test]
fn summary_numbers() {
    for file in [TWO_LANE, SINGLE_LANE] {
        let map = load(file);
        let s = map.summary();
        for (from, to) in [(Side::Vn, Side::Cn), (Side::Cn, Side::Vn)] {
            let lane = s
                .bridge_lane(from, to)
                .unwrap_or_else(|| panic!("{file}: no {from} -> {to} bridge lane"));
            assert!((lane.length_m - 618.0).abs() < 1e-9, "{file}: {lane:?}");
            assert_eq!(lane.borders.len(), 1, "{file}: {lane:?}");
            assert!((lane.borders[0].1 - 154.5).abs() < 1e-9, "{file}: {lane:?}");
            let route = s
                .route(from, to)
                .unwrap_or_else(|| panic!("{file}: no {from} -> {to} route"));
            assert!(
                (3000.0..=3400.0).contains(&route.length_m),
                "{file}: {route:?}"
            );
        }
        assert_eq!(s.bridge_lanes.len(), 2, "{file}");
        let nb = s.bridge_lane(Side::Vn, Side::Cn).unwrap();
        assert_eq!(
            (nb.from.as_str(), nb.to.as_str()),
            ("VN_BRIDGE_END_NB", "CN_BRIDGE_END_NB")
        );
        assert_eq!(nb.borders[0].0, "BORDER_NB");
        let sb = s.bridge_lane(Side::Cn, Side::Vn).unwrap();
        assert_eq!(
            (sb.from.as_str(), sb.to.as_str()),
            ("CN_BRIDGE_END_SB", "VN_BRIDGE_END_SB")
        );
        assert_eq!(sb.borders[0].0, "BORDER_SB");
        let vn_cn = s.route(Side::Vn, Side::Cn).unwrap();
        assert_eq!(
            (vn_cn.from.as_str(), vn_cn.to.as_str()),
            ("VN_GATE_OUT", "CN_GATE_IN")
        );
        let text = s.to_string();
        assert!(
            text.contains("border BORDER_NB at 154.5 m from the VN end"),
            "{text}"
        );
        assert!(text.contains("VN -> CN: 618.0 m"), "{text}");
    }
}

#[test]
fn single_lane_stretch() {
    let two = load(TWO_LANE).summary();
    assert!(two.single_lane.is_empty(), "{:?}", two.single_lane);
    let one = load(SINGLE_LANE).summary();
    assert_eq!(one.single_lane.len(), 1, "{:?}", one.single_lane);
    let stretch = &one.single_lane[0];
    assert_eq!(stretch.kind, EdgeKind::Road);
    assert!((stretch.length_m - 400.0).abs() < 0.1, "{stretch:?}");
    assert!(
        one.to_string()
            .contains("VN_NARROW_S-VN_NARROW_N (road): 400.0 m")
    );
}

#[test]
fn summary_is_deterministic() {
    let a = load(TWO_LANE).summary().to_string();
    let b = load(TWO_LANE).summary().to_string();
    assert_eq!(a, b);
}

#[test]
fn places_are_spur_leaves() {
    for file in [TWO_LANE, SINGLE_LANE] {
        let map = load(file);
        for n in map.node_ixs() {
            let node = map.node(n);
            if !node.kind.is_place() {
                continue;
            }
            // Exactly one edge touches a place: a bidirectional spur.
            let touching: Vec<_> = map
                .edges
                .iter()
                .filter(|e| e.from == n || e.to == n)
                .collect();
            assert_eq!(touching.len(), 1, "{file}: {}", node.id);
            assert_eq!(touching[0].kind, EdgeKind::Spur, "{file}: {}", node.id);
            assert_eq!(
                touching[0].direction,
                Direction::Bidirectional,
                "{file}: {}",
                node.id
            );
        }
    }
}

#[test]
fn yards_have_the_places_the_dispatcher_expects() {
    let map = load(TWO_LANE);
    for side in [Side::Vn, Side::Cn] {
        let count = |kind: NodeKind| {
            map.nodes
                .iter()
                .filter(|n| n.kind == kind && n.side == Some(side))
                .count()
        };
        assert!(count(NodeKind::YardSlot) >= 10, "{side}");
        assert_eq!(count(NodeKind::Parking), 31, "{side}");
        assert_eq!(count(NodeKind::Charger), 3, "{side}");
        assert_eq!(count(NodeKind::Gate), 2, "{side}");
        assert_eq!(count(NodeKind::StopLine), 1, "{side}");
        assert_eq!(count(NodeKind::BridgeEnd), 2, "{side}");
        let chargers = map
            .zones
            .iter()
            .find(|z| z.kind == ZoneKind::Chargers && z.side == side)
            .expect("a chargers zone");
        assert_eq!(chargers.capacity, 3);
        let queue = map
            .zones
            .iter()
            .find(|z| z.kind == ZoneKind::StopLineQueue && z.side == side)
            .expect("a stop-line queue zone");
        assert_eq!(queue.capacity, 3);
        assert_eq!(queue.members.len(), 3);
        assert!(
            queue
                .members
                .iter()
                .any(|m| map.node(*m).kind == NodeKind::StopLine)
        );
    }
    // The yard loops are one-way.
    assert!(
        map.edges
            .iter()
            .filter(|e| e.kind == EdgeKind::Yard)
            .all(|e| e.direction == Direction::OneWay)
    );
    // Bridge edges carry the bridge's 15 km/h.
    for e in map.edges.iter().filter(|e| e.kind == EdgeKind::Bridge) {
        assert!((e.speed_limit_mps * 3.6 - 15.0).abs() < 1e-9, "{}", e.id);
    }
}

#[test]
fn geometry_starts_and_ends_at_the_nodes() {
    for file in [TWO_LANE, SINGLE_LANE] {
        let map = load(file);
        for e in &map.edges {
            let first = e.geometry.first().copied().unwrap();
            let last = e.geometry.last().copied().unwrap();
            assert!(
                (first - map.node(e.from).pos).norm() < 1e-6,
                "{file}: {}",
                e.id
            );
            assert!(
                (last - map.node(e.to).pos).norm() < 1e-6,
                "{file}: {}",
                e.id
            );
        }
    }
}

#[test]
fn local_frame_puts_the_vn_bridge_end_at_the_origin() {
    let map = load(TWO_LANE);
    let p = node_pos(&map, "VN_BRIDGE_END_NB");
    assert!((p - Point::new(4.0, 0.0)).norm() < 0.05, "{p:?}");
    let b = node_pos(&map, "BORDER_NB");
    assert!((b - Point::new(4.0, 154.5)).norm() < 0.05, "{b:?}");
}

#[test]
fn matches_a_point_near_the_bridge() {
    let map = load(TWO_LANE);
    let nb = map.edge_by_id("VN_BRIDGE_END_NB-BORDER_NB").unwrap();
    let start = node_pos(&map, "VN_BRIDGE_END_NB");
    // 100 m up the northbound lane and 1.5 m to its right.
    let p = start + Point::new(1.5, 100.0);
    let m = map.spatial().match_position(p).expect("a match");
    assert_eq!(m.edge, nb);
    assert!((m.offset_m - 100.0).abs() < 0.05, "{m:?}");
    assert!((m.distance_m - 1.5).abs() < 0.05, "{m:?}");
    assert_eq!(map.match_position(p), Some(m));
    // The point on the edge at that offset is the projection.
    assert!((map.point_on_edge(nb, m.offset_m) - m.point).norm() < 0.05);

    // On the southbound lane, offsets run from the CN end.
    let sb = map.edge_by_id("CN_BRIDGE_END_SB-BORDER_SB").unwrap();
    let p = node_pos(&map, "CN_BRIDGE_END_SB") + Point::new(-1.0, -200.0);
    let m = map.spatial().match_position(p).expect("a match");
    assert_eq!(m.edge, sb);
    assert!((m.offset_m - 200.0).abs() < 0.05, "{m:?}");
    assert!((m.distance_m - 1.0).abs() < 0.05, "{m:?}");
}

#[test]
fn offsets_follow_length_m_when_it_differs_from_the_drawing() {
    let mut json = map_json(TWO_LANE);
    // Declare the first bridge edge twice as long as it is drawn.
    props(&mut json, "VN_BRIDGE_END_NB-BORDER_NB")["length_m"] = serde_json::json!(309.0);
    let map = LaneMap::from_geojson(&json.to_string()).expect("valid");
    let nb = map.edge_by_id("VN_BRIDGE_END_NB-BORDER_NB").unwrap();
    let p = node_pos(&map, "VN_BRIDGE_END_NB") + Point::new(0.0, 50.0);
    let m = map.match_position(p).expect("a match");
    assert_eq!(m.edge, nb);
    assert!((m.offset_m - 100.0).abs() < 0.1, "{m:?}");
    let back = map.point_on_edge(nb, 100.0);
    assert!((back - p).norm() < 0.1, "{back:?}");
    assert_eq!(map.point_on_edge(nb, 1e9), node_pos(&map, "BORDER_NB"));
    assert_eq!(
        map.point_on_edge(nb, -5.0),
        node_pos(&map, "VN_BRIDGE_END_NB")
    );
}

#[test]
fn nearest_node_and_zones() {
    let map = load(TWO_LANE);
    let q1 = map.node_by_id("VN_Q1").unwrap();
    let at = node_pos(&map, "VN_Q1");
    let (n, d) = map
        .spatial()
        .nearest_node(at + Point::new(0.5, 0.5))
        .unwrap();
    assert_eq!(n, q1);
    assert!((d - 0.5f64.hypot(0.5)).abs() < 1e-6);
    let zones = map.spatial().zones_at(at);
    assert_eq!(zones, vec![map.zone_by_id("VN_QUEUE").unwrap()]);
    // A charger lies in both its yard and its chargers zone, in zone order.
    let chg = node_pos(&map, "CN_CHG_2");
    let zones = map.spatial().zones_at(chg);
    let mut expected = vec![
        map.zone_by_id("CN_YARD").unwrap(),
        map.zone_by_id("CN_CHARGERS").unwrap(),
    ];
    expected.sort();
    assert_eq!(zones, expected);
    // Far away: no zone; non-finite: nothing at all.
    assert!(
        map.spatial()
            .zones_at(Point::new(5000.0, 5000.0))
            .is_empty()
    );
    assert!(
        map.spatial()
            .match_position(Point::new(f64::NAN, 0.0))
            .is_none()
    );
    assert!(
        map.spatial()
            .nearest_node(Point::new(0.0, f64::INFINITY))
            .is_none()
    );
}

#[test]
fn a_position_at_a_node_matches_the_lowest_numbered_edge() {
    let map = load(TWO_LANE);
    let border = map.node_by_id("BORDER_NB").unwrap();
    let m = map.match_position(map.node(border).pos).unwrap();
    let touching: Vec<_> = map
        .edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.from == border || e.to == border)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(m.edge.ix(), touching[0]);
    assert!(m.distance_m < 1e-6);
}
