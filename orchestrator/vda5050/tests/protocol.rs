//! The order rules of VDA 5050 2.1 §6.6, on the master's side and the
//! agent's: base and horizon, order updates stitched at the decision point,
//! resends, cancelOrder, pauses, and the hand-over seam.

mod common;

use std::sync::Arc;

use borderlane_core::Input;
use borderlane_core::io::{Action, ActionKind, Command, CommandStep};
use borderlane_model::{LaneMap, Ms, NodeIx};
use borderlane_vda5050::messages::{ActionState, ActionStatus, InstantActions, Order, State};
use borderlane_vda5050::{Agent, AgentConfig, Master, MasterConfig, OrderState, Publish};
use common::*;

const V: &str = "igv-000";
const ORDER: &str = "borderlane/v2/borderlane/igv-000/order";
const STATE: &str = "borderlane/v2/borderlane/igv-000/state";

/// A path of `n` nodes from `start` along first arcs, driven without stops
/// at 60 s per arc from `t0`, ending at rest.
fn path(map: &LaneMap, start: NodeIx, n: usize, t0: Ms) -> Vec<CommandStep> {
    let mut steps = Vec::new();
    let mut node = start;
    for k in 0..n {
        let edge = if k == 0 {
            None
        } else {
            let arc = map.out_arcs(node)[0];
            node = map.arc(arc).to;
            Some(map.arc_edge(arc).id.clone())
        };
        let t = t0 + 60_000 * k as Ms;
        let last = k + 1 == n;
        steps.push(CommandStep {
            node: map.node(node).id.clone(),
            edge,
            enter_ms: if k == 0 { t } else { t - 60_000 },
            arrive_ms: t,
            depart_ms: if last { None } else { Some(t) },
            stops: k == 0 || last,
            action: None,
        });
    }
    steps
}

fn setup() -> (Arc<LaneMap>, Master, NodeIx) {
    let map = map("bac_luan_ii.geojson");
    let start = map
        .node_by_id(&fleet(&map, 1)[0].start)
        .expect("a start node");
    let master = Master::new(
        Arc::clone(&map),
        MasterConfig {
            release_lead_ms: 30_000,
            resend_ms: 5_000,
            ..MasterConfig::default()
        },
        &[V.to_string()],
    );
    (map, master, start)
}

/// A path of `n` nodes from the decision point of `steps` (its step 1) at
/// 60 s, entered along the edge `steps` reaches it by.
fn from_decision_point(map: &LaneMap, steps: &[CommandStep], n: usize) -> Vec<CommandStep> {
    let mut next = path(
        map,
        map.node_by_id(&steps[1].node).expect("node"),
        n,
        60_000,
    );
    next[0].edge = steps[1].edge.clone();
    next
}

fn drive(plan_id: u64, steps: &[CommandStep]) -> Command {
    Command::Drive {
        vehicle: V.into(),
        plan_id,
        steps: steps.to_vec(),
    }
}

fn publishes(m: &mut Master) -> Vec<Publish> {
    std::iter::from_fn(|| m.poll_publish()).collect()
}

fn orders(p: &[Publish]) -> Vec<Order> {
    p.iter()
        .filter(|p| p.topic == ORDER)
        .map(|p| serde_json::from_slice(&p.payload).expect("an order"))
        .collect()
}

fn instants(p: &[Publish]) -> Vec<InstantActions> {
    p.iter()
        .filter(|p| p.topic.ends_with("/instantActions"))
        .map(|p| serde_json::from_slice(&p.payload).expect("instant actions"))
        .collect()
}

/// A master with the default configuration, for igv-000 alone.
fn plain_master(map: &Arc<LaneMap>) -> Master {
    Master::new(Arc::clone(map), MasterConfig::default(), &[V.to_string()])
}

fn agent(map: &Arc<LaneMap>, start: NodeIx) -> Agent {
    Agent::new(
        Arc::clone(map),
        AgentConfig {
            serial: V.into(),
            start_node: map.node(start).id.clone(),
            ..AgentConfig::default()
        },
        0,
    )
    .expect("an agent")
}

/// The agent's newest state among its publishes.
fn last_state(a: &mut Agent) -> State {
    let mut last = None;
    while let Some(p) = a.poll_publish() {
        if p.topic == STATE {
            last = Some(serde_json::from_slice(&p.payload).expect("a state"));
        }
    }
    last.expect("a state was published")
}

/// The state of the drop action, `action-4`, in `s`.
fn drop_action(s: &State) -> &ActionState {
    s.action_states
        .iter()
        .find(|x| x.action_id == "action-4")
        .expect("the drop")
}

#[test]
fn a_drive_becomes_an_order_with_a_base_and_a_horizon() {
    let (_map, mut m, start) = setup();
    let steps = path(&_map, start, 5, 0);
    m.handle_command(0, &drive(7, &steps));
    let o = orders(&publishes(&mut m));
    let [o] = o.as_slice() else {
        panic!("one order: {o:?}")
    };
    assert_eq!(o.order_id, "plan-7");
    assert_eq!(o.order_update_id, 0);
    // Step 1 is entered at 0 (released), step 2 at 60 s (horizon).
    let released: Vec<bool> = o.nodes.iter().map(|n| n.released).collect();
    assert_eq!(released, [true, true, false, false, false]);
    let seqs: Vec<u64> = o.nodes.iter().map(|n| n.sequence_id).collect();
    assert_eq!(seqs, [0, 2, 4, 6, 8]);
    let eseqs: Vec<u64> = o.edges.iter().map(|e| e.sequence_id).collect();
    assert_eq!(eseqs, [1, 3, 5, 7]);
    assert!(o.edges.iter().all(|e| e.max_speed.is_some_and(|v| v > 0.0)));
    assert!(o.nodes.iter().all(|n| n.node_position.is_some()));
    // Once the vehicle has the order, the next release is 30 s before step
    // 2 is entered.
    assert_eq!(m.poll_timeout(), Some(5_000), "the resend comes first");
    confirm(&mut m, &_map, start, "plan-7", 1_000);
    assert_eq!(m.poll_timeout(), Some(30_000));
    m.handle_timeout(30_000);
    let u = orders(&publishes(&mut m));
    let [u] = u.as_slice() else {
        panic!("one update: {u:?}")
    };
    assert_eq!(u.order_id, "plan-7");
    assert_eq!(u.order_update_id, 1);
    assert_eq!(u.nodes[0].node_id, o.nodes[1].node_id);
    assert_eq!(u.nodes[0].sequence_id, 2);
    assert!(u.nodes[0].actions.is_empty());
    let released: Vec<bool> = u.nodes.iter().map(|n| n.released).collect();
    assert_eq!(released, [true, true, false, false]);
}

#[test]
fn a_step_after_a_wait_is_released_at_departure() {
    let (map, mut m, start) = setup();
    let mut steps = path(&map, start, 3, 0);
    // Wait at step 1 for 100 s.
    steps[1].depart_ms = Some(160_000);
    steps[1].stops = true;
    steps[2].enter_ms = 160_000;
    steps[2].arrive_ms = 220_000;
    m.handle_command(0, &drive(1, &steps));
    publishes(&mut m);
    assert_eq!(m.poll_timeout(), Some(5_000), "the resend comes first");
    m.handle_timeout(5_000);
    publishes(&mut m);
    confirm(&mut m, &map, start, "plan-1", 6_000);
    assert_eq!(m.poll_timeout(), Some(160_000));
}

/// Gives `m` a state of the vehicle at `start` at `now`, on update 0 of
/// `order_id` with last node sequence 0, which `m` must accept.
fn confirm(m: &mut Master, map: &Arc<LaneMap>, start: NodeIx, order_id: &str, now: Ms) {
    m.handle_message(now, STATE, &state_bytes(map, start, order_id, 0, 0, now))
        .expect("valid");
}

fn state_bytes(
    map: &Arc<LaneMap>,
    start: NodeIx,
    order_id: &str,
    update: u64,
    seq: u64,
    now: Ms,
) -> Vec<u8> {
    let a = agent(map, start);
    let mut s = a.state(now, now);
    s.order_id = order_id.into();
    s.order_update_id = update;
    s.last_node_sequence_id = seq;
    serde_json::to_vec(&s).expect("JSON")
}

#[test]
fn unconfirmed_orders_are_resent_with_a_new_header_id() {
    let (map, mut m, start) = setup();
    m.handle_command(0, &drive(3, &path(&map, start, 2, 0)));
    let first = orders(&publishes(&mut m)).remove(0);
    m.handle_timeout(5_000);
    let again = orders(&publishes(&mut m)).remove(0);
    assert_eq!(again.header_id, first.header_id + 1);
    assert_eq!(again.nodes, first.nodes);
    assert_eq!(again.order_update_id, first.order_update_id);
    // Once the state carries the order, the resends stop.
    confirm(&mut m, &map, start, "plan-3", 6_000);
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn a_plan_from_the_decision_point_is_an_update_and_any_other_cancels() {
    let (map, mut m, start) = setup();
    let steps = path(&map, start, 4, 0);
    m.handle_command(0, &drive(1, &steps));
    publishes(&mut m);
    // A new plan starting at the decision point (step 1) is an update.
    let next = from_decision_point(&map, &steps, 3);
    m.handle_command(10_000, &drive(2, &next));
    let u = orders(&publishes(&mut m));
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].order_id, "plan-1");
    assert_eq!(u[0].order_update_id, 1);
    assert_eq!(u[0].nodes[0].sequence_id, 2);
    // Progress in the second plan maps back to plan 2 and its step.
    let inputs = m
        .handle_message(
            20_000,
            STATE,
            &state_bytes(&map, start, "plan-1", 1, 4, 20_000),
        )
        .expect("valid");
    let [Input::State(r)] = inputs.as_slice() else {
        panic!("{inputs:?}")
    };
    assert_eq!((r.plan_id, r.last_step), (Some(2), Some(1)));
    // A plan starting elsewhere cancels the order first.
    m.handle_command(21_000, &drive(3, &path(&map, start, 2, 21_000)));
    let p = publishes(&mut m);
    assert!(orders(&p).is_empty());
    let i = instants(&p);
    assert_eq!(i[0].actions[0].action_type, "cancelOrder");
    let cancel_id = i[0].actions[0].action_id.clone();
    // Once the vehicle reports the cancel finished, the new order goes out.
    let a = agent(&map, start);
    let mut s = a.state(22_000, 22_001);
    s.order_id = "plan-1".into();
    s.order_update_id = 1;
    s.action_states
        .push(borderlane_vda5050::messages::ActionState {
            action_id: cancel_id,
            action_type: Some("cancelOrder".into()),
            action_status: ActionStatus::Finished,
            result_description: None,
        });
    m.handle_message(22_000, STATE, &serde_json::to_vec(&s).expect("JSON"))
        .expect("valid");
    let o = orders(&publishes(&mut m));
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].order_id, "plan-3");
    assert_eq!(o[0].order_update_id, 0);
}

#[test]
fn pause_and_resume_are_instant_actions() {
    let (_map, mut m, _) = setup();
    m.handle_command(0, &Command::Pause { vehicle: V.into() });
    m.handle_command(1, &Command::Resume { vehicle: V.into() });
    let i = instants(&publishes(&mut m));
    let kinds: Vec<&str> = i
        .iter()
        .map(|x| x.actions[0].action_type.as_str())
        .collect();
    assert_eq!(kinds, ["startPause", "stopPause"]);
    assert_eq!(i[1].header_id, i[0].header_id + 1);
}

#[test]
fn order_state_and_adopt_continue_an_order_on_another_master() {
    let (map, mut a, start) = setup();
    let steps = path(&map, start, 4, 0);
    a.handle_command(0, &drive(1, &steps));
    publishes(&mut a);
    let handed: OrderState = a.order_state(V).expect("an order");
    assert_eq!(handed.order_id, "plan-1");
    assert_eq!(handed.last_base_node, steps[1].node);
    assert_eq!(handed.last_base_sequence_id, 2);
    let (_, mut b, _) = setup();
    b.adopt(V, handed.clone());
    let next = from_decision_point(&map, &steps, 2);
    b.handle_command(10_000, &drive(9, &next));
    let u = orders(&publishes(&mut b));
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].order_id, "plan-1");
    assert_eq!(u[0].order_update_id, handed.order_update_id + 1);
    assert_eq!(u[0].header_id, handed.order_header_id + 1);
    assert_eq!(u[0].nodes[0].sequence_id, 2);
}

/// Drives an agent with a master directly (no core): the order, updates,
/// the drive and the arrival.
fn connect(m: &mut Master, a: &mut Agent, now: Ms) {
    for p in publishes(m) {
        a.handle_message(now, &p.topic, &p.payload);
    }
}

#[test]
fn the_agent_follows_the_base_and_stops_at_the_decision_point() {
    let (map, mut m, start) = setup();
    let mut a = agent(&map, start);
    last_state(&mut a);
    let steps = path(&map, start, 4, 0);
    m.handle_command(0, &drive(1, &steps));
    connect(&mut m, &mut a, 0);
    let s = last_state(&mut a);
    assert_eq!(s.order_id, "plan-1");
    assert!(s.driving);
    // Without updates it stops at node 1, the decision point.
    a.handle_timeout(3_600_000);
    let s = last_state(&mut a);
    assert!(!s.driving);
    assert_eq!(s.last_node_id, steps[1].node);
    assert_eq!(s.last_node_sequence_id, 2);
    assert_eq!(s.node_states.len(), 2, "the horizon is still there");
    // A new order is refused while the horizon waits for an update.
    let other = path(&map, map.node_by_id(&steps[1].node).expect("node"), 2, 0);
    let mut m2 = plain_master(&map);
    m2.handle_command(3_600_000, &drive(5, &other));
    connect(&mut m2, &mut a, 3_600_000);
    let s = last_state(&mut a);
    assert_eq!(s.order_id, "plan-1");
    assert!(
        s.errors.iter().any(|e| e.error_type == "orderError"),
        "{s:?}"
    );
    // An update stitched at the decision point is taken and driven.
    m.handle_timeout(3_600_000);
    connect(&mut m, &mut a, 3_600_000);
    a.handle_timeout(7_200_000);
    let s = last_state(&mut a);
    assert_eq!(s.order_update_id, 1);
    assert_eq!(s.last_node_id, steps[3].node);
    assert!(s.node_states.is_empty());
    assert!(s.errors.is_empty(), "{:?}", s.errors);
}

#[test]
fn the_agent_pauses_resumes_and_cancels() {
    let (map, mut m, start) = setup();
    let mut a = agent(&map, start);
    let mut steps = path(&map, start, 3, 0);
    steps[2].action = Some(Action {
        id: 4,
        kind: ActionKind::Drop {
            container: "C1".into(),
        },
        duration_ms: 1_000_000,
    });
    m.handle_command(0, &drive(1, &steps));
    m.handle_timeout(60_000);
    connect(&mut m, &mut a, 0);
    m.handle_command(1_000, &Command::Pause { vehicle: V.into() });
    connect(&mut m, &mut a, 1_000);
    a.handle_timeout(3_600_000);
    let s = last_state(&mut a);
    assert_eq!(s.paused, Some(true));
    assert!(!s.driving);
    assert_eq!(
        s.last_node_id, steps[1].node,
        "stops at the end of its edge"
    );
    m.handle_command(3_600_000, &Command::Resume { vehicle: V.into() });
    connect(&mut m, &mut a, 3_600_000);
    a.handle_timeout(3_600_000 + 120_000);
    let s = last_state(&mut a);
    assert_eq!(s.last_node_id, steps[2].node);
    let drop = drop_action(&s);
    assert_eq!(drop.action_status, ActionStatus::Running);
    // cancelOrder fails the running action; the vehicle has no order left.
    let mut m2 = plain_master(&map);
    m2.handle_command(3_600_000 + 120_000, &drive(1, &steps));
    publishes(&mut m2);
    let elsewhere = map.node_by_id(&steps[1].node).expect("node");
    assert_ne!(steps[1].node, steps[2].node);
    m2.handle_command(3_600_000 + 121_000, &drive(2, &path(&map, elsewhere, 2, 0)));
    connect(&mut m2, &mut a, 3_600_000 + 121_000);
    let s = last_state(&mut a);
    let drop = drop_action(&s);
    assert_eq!(drop.action_status, ActionStatus::Failed, "{s:#?}");
    assert!(
        s.action_states
            .iter()
            .any(|x| x.action_type.as_deref() == Some("cancelOrder")
                && x.action_status == ActionStatus::Finished)
    );
    assert!(s.node_states.is_empty());
}
