//! The planner of one side's territory: plans stay on its side, leave
//! through the border node at speed inside the granted window, and a
//! vehicle stranded short of the border (handed over, then broken down)
//! can still be planned onward from there.

use std::path::PathBuf;
use std::sync::Arc;

use borderlane_core::kinematics::{Load, VehicleProfile};
use borderlane_core::planner::{Exit, Goal, Planner, Request, Start};
use borderlane_core::reservations::ReservationTable;
use borderlane_model::{LaneMap, Ms, NodeIx, NodeKind, SafetyRules, Side, VehicleId};

fn load_map() -> Arc<LaneMap> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps/bac_luan_ii.geojson");
    let text = std::fs::read_to_string(&path).expect("map file");
    Arc::new(LaneMap::from_geojson(&text).expect("valid map"))
}

fn node(map: &LaneMap, id: &str) -> NodeIx {
    map.node_by_id(id).unwrap_or_else(|| panic!("no node {id}"))
}

fn places(map: &LaneMap, side: Side, kind: NodeKind) -> Vec<NodeIx> {
    map.node_ixs()
        .filter(|&n| map.node(n).kind == kind && map.node(n).side == Some(side))
        .collect()
}

fn planner(map: &Arc<LaneMap>, side: Option<Side>) -> (Planner, ReservationTable) {
    let headway = SafetyRules::default().headway_ms;
    let mut p = Planner::new(Arc::clone(map), &VehicleProfile::default(), headway);
    p.set_territory(side);
    (p, ReservationTable::new(map, headway))
}

fn at(node: NodeIx, time: Ms) -> Start {
    Start::AtNode {
        node,
        time,
        stopped: true,
    }
}

#[test]
fn a_side_never_plans_into_the_other_sides_territory() {
    let map = load_map();
    let (mut p, table) = planner(&map, Some(Side::Vn));
    let start = places(&map, Side::Vn, NodeKind::Parking)[0];
    let cn_slot = places(&map, Side::Cn, NodeKind::YardSlot)[0];
    let req = Request {
        vehicle: VehicleId(0),
        start: at(start, 0),
        goals: vec![Goal {
            nodes: vec![cn_slot],
            dwell: 60_000,
        }],
        rest: places(&map, Side::Vn, NodeKind::Parking),
        loads: vec![Load::Empty, Load::Empty],
        exit: None,
    };
    assert!(p.plan(&table, &req).is_err(), "a CN slot planned from VN");
    // The same request on a planner of the whole lane succeeds.
    let (mut whole, table) = planner(&map, None);
    assert!(whole.plan(&table, &req).is_ok());
}

#[test]
fn an_exit_plan_passes_the_border_at_speed_inside_its_window() {
    let map = load_map();
    let (mut p, table) = planner(&map, Some(Side::Vn));
    let border = node(&map, "BORDER_NB");
    let start = places(&map, Side::Vn, NodeKind::Parking)[0];
    let not_before = 30 * 60_000;
    let req = Request {
        vehicle: VehicleId(0),
        start: at(start, 0),
        goals: vec![],
        rest: vec![border],
        loads: vec![Load::Empty],
        exit: Some(Exit {
            node: border,
            not_before,
            not_after: not_before + 10_000,
        }),
    };
    let planned = p.plan(&table, &req).expect("an exit plan");
    let steps = &planned.plan.steps;
    let last = steps.last().expect("steps");
    assert_eq!(last.node, border);
    assert!(!last.stops, "the plan stops at the border");
    assert_eq!(last.arrive, last.depart);
    assert!((not_before..=not_before + 10_000).contains(&last.arrive));
    for s in steps {
        assert_ne!(
            map.node(s.node).side,
            Some(Side::Cn),
            "CN node in a VN plan"
        );
        if !map.node(s.node).kind.may_wait() {
            assert!(!s.stops, "waits at {} on the bridge", map.node(s.node).id);
        }
    }
}

#[test]
fn a_vehicle_stranded_before_the_border_is_planned_on_by_the_far_side() {
    // Handed over to CN, then broken down at the VN end of the bridge:
    // once repaired, CN plans it from there over the border to its yard.
    let map = load_map();
    let (mut p, table) = planner(&map, Some(Side::Cn));
    let stranded = node(&map, "VN_BRIDGE_END_NB");
    let req = Request {
        vehicle: VehicleId(0),
        start: at(stranded, 0),
        goals: vec![],
        rest: places(&map, Side::Cn, NodeKind::Parking),
        loads: vec![Load::Empty],
        exit: None,
    };
    let planned = p.plan(&table, &req).expect("a plan onward");
    let nodes: Vec<&str> = planned
        .plan
        .steps
        .iter()
        .map(|s| map.node(s.node).id.as_str())
        .collect();
    assert_eq!(nodes[0], "VN_BRIDGE_END_NB");
    assert!(nodes.contains(&"BORDER_NB"), "{nodes:?}");
    assert!(
        nodes[1..]
            .iter()
            .all(|n| map.node(node(&map, n)).side != Some(Side::Vn)),
        "back into VN: {nodes:?}"
    );
}
