//! Turning the core's timed steps into VDA 5050 nodes, edges and actions,
//! and deciding how much of a plan is released.

use borderlane_core::CommandStep;
use borderlane_core::io::{Action as CoreAction, ActionKind};
use borderlane_model::{LaneMap, Ms};

use crate::messages::{Action, ActionParameter, BlockingType, Edge, Node, NodePosition};

/// The custom action type of a customs X-ray scan.
pub const SCAN_ACTION: &str = "customsScan";
/// The custom action type of a customs inspection.
pub const INSPECT_ACTION: &str = "customsInspection";
/// The parameter that carries an action's duration, in seconds.
pub const DURATION_KEY: &str = "duration";

/// The VDA 5050 action id of a core action.
pub fn action_id(id: u64) -> String {
    format!("action-{id}")
}

/// The core action id of a VDA 5050 action id, if it is one of ours.
pub fn core_action_id(action_id: &str) -> Option<u64> {
    action_id.strip_prefix("action-")?.parse().ok()
}

/// The order id of a core plan.
pub fn order_id(plan_id: u64) -> String {
    format!("plan-{plan_id}")
}

/// The core plan id of an order id, if it is one of ours.
pub fn plan_id(order_id: &str) -> Option<u64> {
    order_id.strip_prefix("plan-")?.parse().ok()
}

/// The VDA 5050 node action of a core action: `pick` and `drop` with the
/// container as `loadId`, `startCharging`, and the custom customs actions;
/// all HARD-blocking, with the planned duration in seconds.
pub fn node_action(a: &CoreAction) -> Action {
    let mut params = Vec::new();
    let action_type = match &a.kind {
        ActionKind::Pick { container } => {
            params.push(ActionParameter {
                key: "loadId".to_string(),
                value: serde_json::Value::String(container.clone()),
            });
            "pick"
        }
        ActionKind::Drop { container } => {
            params.push(ActionParameter {
                key: "loadId".to_string(),
                value: serde_json::Value::String(container.clone()),
            });
            "drop"
        }
        ActionKind::Charge => "startCharging",
        ActionKind::Scan => SCAN_ACTION,
        ActionKind::Inspect => INSPECT_ACTION,
    };
    if a.duration_ms > 0 {
        params.push(ActionParameter {
            key: DURATION_KEY.to_string(),
            value: serde_json::json!(a.duration_ms as f64 / 1000.0),
        });
    }
    Action {
        action_type: action_type.to_string(),
        action_name: None,
        action_id: action_id(a.id),
        action_description: None,
        blocking_type: BlockingType::Hard,
        action_parameters: params,
    }
}

/// When step `k` (the edge into node `k` and node `k`) may be released:
/// `release_lead_ms` before the plan enters the edge, but not before the
/// vehicle is due to leave the node before it if the plan stops or waits
/// there, so that the vehicle stops where the plan stops. Step 0 is where
/// the vehicle is, and is always released.
pub fn release_time(steps: &[CommandStep], k: usize, lead: Ms) -> Ms {
    if k == 0 {
        return 0;
    }
    let Some(s) = steps.get(k) else {
        return Ms::MAX;
    };
    let mut t = s.enter_ms.saturating_sub(lead);
    if let Some(prev) = steps.get(k - 1) {
        let depart = prev.depart_ms.unwrap_or(Ms::MAX);
        if prev.stops || depart > prev.arrive_ms {
            t = t.max(depart);
        }
    }
    t
}

/// How many steps are released at `now`: a prefix, at least step 0.
pub fn released_count(steps: &[CommandStep], now: Ms, lead: Ms) -> usize {
    let mut n = 1.min(steps.len());
    while n < steps.len() && release_time(steps, n, lead) <= now {
        n += 1;
    }
    n
}

/// The `edgeId` of a map edge in an order: the map's id and the edge's
/// sequence id, so that an edge driven twice in one order (into a spur and
/// out again) has two ids. Some vehicles require edge ids to be unique
/// within an order.
pub fn order_edge_id(map_edge: &str, sequence_id: u64) -> String {
    format!("{map_edge}:{sequence_id}")
}

/// The map's edge id in an order's `edgeId`, the inverse of
/// [`order_edge_id`]; an id without a sequence suffix is taken whole.
pub fn map_edge_id(order_edge: &str) -> &str {
    match order_edge.rsplit_once(':') {
        Some((edge, seq)) if !seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit()) => edge,
        _ => order_edge,
    }
}

/// Builds the nodes and edges of `steps`, the first node with sequence id
/// `first_seq`, the first `released` steps in the base and the rest in the
/// horizon. The first node's actions are left out when `first_actions` is
/// false (an order update must not change the stitching node).
pub fn nodes_and_edges(
    map: &LaneMap,
    map_id: &str,
    steps: &[CommandStep],
    first_seq: u64,
    released: usize,
    first_actions: bool,
) -> (Vec<Node>, Vec<Edge>) {
    let mut nodes = Vec::with_capacity(steps.len());
    let mut edges = Vec::with_capacity(steps.len().saturating_sub(1));
    for (k, s) in steps.iter().enumerate() {
        let seq = first_seq.saturating_add(2 * k as u64);
        let position = map.node_by_id(&s.node).map(|n| {
            let p = map.node(n).pos;
            NodePosition {
                x: p.x,
                y: p.y,
                theta: None,
                map_id: map_id.to_string(),
            }
        });
        let actions = if k == 0 && !first_actions {
            Vec::new()
        } else {
            s.action.iter().map(node_action).collect()
        };
        if k > 0 {
            let prev = &steps[k - 1];
            let map_edge = s.edge.clone().unwrap_or_default();
            let edge_id = order_edge_id(&map_edge, seq - 1);
            let (max_speed, length) = map
                .node_by_id(&prev.node)
                .zip(map.node_by_id(&s.node))
                .and_then(|(a, b)| {
                    map.out_arcs(a)
                        .iter()
                        .copied()
                        .find(|&x| map.arc(x).to == b && map.arc_edge(x).id == map_edge)
                })
                .map(|a| {
                    let e = map.arc_edge(a);
                    (Some(e.speed_limit_mps), Some(e.length_m))
                })
                .unwrap_or((None, None));
            edges.push(Edge {
                edge_id,
                sequence_id: seq - 1,
                released: k < released,
                start_node_id: prev.node.clone(),
                end_node_id: s.node.clone(),
                max_speed,
                length,
                actions: Vec::new(),
            });
        }
        nodes.push(Node {
            node_id: s.node.clone(),
            sequence_id: seq,
            released: k < released,
            node_position: position,
            actions,
        });
    }
    (nodes, edges)
}
