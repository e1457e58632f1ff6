//! Bad input: one test per rejection reason. Each asserts the reason and
//! that the rejected message changed nothing: the next valid message gives
//! the core exactly what it would have given without the bad one.

mod common;

use std::sync::Arc;

use borderlane_core::Input;
use borderlane_model::Ms;
use borderlane_vda5050::messages::{ConnectionState, State};
use borderlane_vda5050::{
    Agent, AgentConfig, Master, MasterConfig, RejectReason, format_timestamp,
};
use common::*;
use serde_json::{Value, json};

const T0: Ms = 1_795_000_000_000;
const STATE: &str = "borderlane/v2/borderlane/igv-000/state";
const CONNECTION: &str = "borderlane/v2/borderlane/igv-000/connection";

fn master() -> Master {
    let map = map("bac_luan_ii.geojson");
    Master::new(
        map,
        MasterConfig {
            max_messages_per_second: 5,
            max_payload_bytes: 64 * 1024,
            ..MasterConfig::default()
        },
        &["igv-000".to_string(), "igv-001".to_string()],
    )
}

/// A valid state of igv-000 with the given headerId at `now`.
fn state(header_id: u64, now: Ms) -> State {
    let map = map("bac_luan_ii.geojson");
    let start = fleet(&map, 1)[0].start.clone();
    let agent = Agent::new(
        Arc::clone(&map),
        AgentConfig {
            serial: "igv-000".into(),
            start_node: start,
            ..AgentConfig::default()
        },
        now,
    )
    .expect("an agent");
    agent.state(now, header_id)
}

fn bytes(v: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(v).expect("JSON")
}

fn mutated(header_id: u64, now: Ms, f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v = serde_json::to_value(state(header_id, now)).expect("JSON");
    f(&mut v);
    bytes(&v)
}

/// Sends a valid state, then `bad` on `topic` (which must be rejected with
/// `label`), then another valid state; the core's inputs must be those of
/// the same run without the bad message.
fn assert_rejected(topic: &str, bad: &[u8], label: &str) {
    let now = T0 + 1_000;
    let mut with = master();
    let mut without = master();
    let first = bytes(&state(1, T0));
    let mut next = state(2, now);
    next.driving = true;
    let next = bytes(&next);
    let a: Vec<Input> = with.handle_message(T0, STATE, &first).expect("valid");
    let b: Vec<Input> = without.handle_message(T0, STATE, &first).expect("valid");
    assert_eq!(a, b);
    let err = with
        .handle_message(now, topic, bad)
        .expect_err("the bad message is rejected");
    assert_eq!(err.reason.label(), label, "{err}");
    assert!(err.to_string().contains(topic), "{err}");
    let a = with.handle_message(now, STATE, &next).expect("valid");
    let b = without.handle_message(now, STATE, &next).expect("valid");
    assert_eq!(a, b, "the rejected message changed what the core is given");
    assert_eq!(a.len(), 1);
    assert_eq!(with.poll_publish(), None);
}

#[test]
fn payload_too_large() {
    let big = vec![b' '; 64 * 1024 + 1];
    assert_rejected(STATE, &big, "payload_too_large");
}

#[test]
fn malformed_json() {
    assert_rejected(STATE, b"{\"headerId\": 3,", "malformed_json");
    assert_rejected(STATE, b"\xff\xfe", "malformed_json");
}

#[test]
fn missing_required_field() {
    let bad = mutated(3, T0 + 1_000, |v| {
        v.as_object_mut().expect("object").remove("batteryState");
    });
    assert_rejected(STATE, &bad, "invalid_message");
}

#[test]
fn wrong_type() {
    let bad = mutated(3, T0 + 1_000, |v| v["driving"] = json!("yes"));
    assert_rejected(STATE, &bad, "invalid_message");
    let bad = mutated(3, T0 + 1_000, |v| v["operatingMode"] = json!("FAST"));
    assert_rejected(STATE, &bad, "invalid_message");
}

#[test]
fn unknown_vehicle() {
    let bad = mutated(3, T0 + 1_000, |v| v["serialNumber"] = json!("igv-999"));
    assert_rejected(
        "borderlane/v2/borderlane/igv-999/state",
        &bad,
        "unknown_vehicle",
    );
    assert_rejected("borderlane/v2/acme/igv-000/state", &bad, "unknown_vehicle");
}

#[test]
fn serial_number_differs_from_topic() {
    let bad = mutated(3, T0 + 1_000, |v| v["serialNumber"] = json!("igv-001"));
    assert_rejected(STATE, &bad, "identity_mismatch");
}

#[test]
fn manufacturer_differs_from_topic() {
    let bad = mutated(3, T0 + 1_000, |v| v["manufacturer"] = json!("acme"));
    assert_rejected(STATE, &bad, "identity_mismatch");
}

#[test]
fn header_id_going_backwards() {
    let bad = bytes(&state(0, T0 + 1_000));
    assert_rejected(STATE, &bad, "header_id_backwards");
}

#[test]
fn timestamp_too_far_from_now() {
    let bad = mutated(3, T0 + 1_000, |v| {
        v["timestamp"] = json!(format_timestamp(T0 + 1_000 - 31_000));
    });
    assert_rejected(STATE, &bad, "clock_skew");
    let bad = mutated(3, T0 + 1_000, |v| {
        v["timestamp"] = json!(format_timestamp(T0 + 1_000 + 31_000));
    });
    assert_rejected(STATE, &bad, "clock_skew");
}

#[test]
fn timestamp_not_a_date() {
    let bad = mutated(3, T0 + 1_000, |v| v["timestamp"] = json!("noon"));
    assert_rejected(STATE, &bad, "bad_timestamp");
}

#[test]
fn unsupported_version() {
    let bad = mutated(3, T0 + 1_000, |v| v["version"] = json!("1.1.0"));
    assert_rejected(STATE, &bad, "unsupported_version");
}

#[test]
fn unknown_topic_kind() {
    let good = bytes(&state(3, T0 + 1_000));
    assert_rejected(
        "borderlane/v2/borderlane/igv-000/gossip",
        &good,
        "unknown_topic_kind",
    );
    assert_rejected(
        "borderlane/v2/borderlane/igv-000/order",
        &good,
        "unknown_topic_kind",
    );
}

#[test]
fn unknown_topic() {
    let good = bytes(&state(3, T0 + 1_000));
    assert_rejected("other/v2/borderlane/igv-000/state", &good, "unknown_topic");
    assert_rejected(
        "borderlane/v1/borderlane/igv-000/state",
        &good,
        "unknown_topic",
    );
    assert_rejected("borderlane/state", &good, "unknown_topic");
}

#[test]
fn position_off_the_map() {
    let bad = mutated(3, T0 + 1_000, |v| {
        v["lastNodeId"] = json!("nowhere");
        v["agvPosition"]["x"] = json!(1.0e7);
    });
    assert_rejected(STATE, &bad, "unknown_node");
}

#[test]
fn flood() {
    // Five messages a second are allowed; the test's two valid states are
    // part of the count, so three more fill the second.
    let now = T0 + 1_000;
    let mut m = master();
    m.handle_message(T0 + 500, STATE, &bytes(&state(1, T0 + 500)))
        .expect("valid");
    for h in 2..6 {
        m.handle_message(now, STATE, &bytes(&state(h, now)))
            .expect("within the limit");
    }
    let err = m
        .handle_message(now, STATE, &bytes(&state(6, now)))
        .expect_err("a flood");
    assert!(matches!(err.reason, RejectReason::Flood { limit: 5 }));
    assert_eq!(err.reason.label(), "flood");
    assert_eq!(err.vehicle.as_deref(), Some("igv-000"));
    // A second later the vehicle is heard again.
    m.handle_message(now + 1_000, STATE, &bytes(&state(6, now + 1_000)))
        .expect("accepted again");
}

#[test]
fn labels_are_distinct_snake_case() {
    let reasons = [
        RejectReason::PayloadTooLarge { size: 2, max: 1 },
        RejectReason::UnknownTopic {
            expected: "borderlane".into(),
        },
        RejectReason::UnknownTopicKind("x".into()),
        RejectReason::UnknownVehicle {
            manufacturer: "m".into(),
            serial: "s".into(),
        },
        RejectReason::MalformedJson("x".into()),
        RejectReason::InvalidMessage("x".into()),
        RejectReason::UnsupportedVersion("1.0.0".into()),
        RejectReason::IdentityMismatch {
            field: "serialNumber",
            payload: "a".into(),
            topic: "b".into(),
        },
        RejectReason::BadTimestamp("x".into()),
        RejectReason::ClockSkew {
            timestamp: "x".into(),
            skew_ms: 1,
            max_ms: 0,
        },
        RejectReason::HeaderIdBackwards { last: 2, got: 1 },
        RejectReason::Flood { limit: 1 },
        RejectReason::UnknownNode {
            last_node_id: "x".into(),
            max_m: 1.0,
        },
    ];
    let mut labels: Vec<&str> = reasons.iter().map(|r| r.label()).collect();
    assert!(
        labels
            .iter()
            .all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
    );
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), reasons.len());
}

#[test]
fn connection_broken_gives_a_link_lost_report_at_the_last_node() {
    let mut m = master();
    let first = state(1, T0);
    let node = first.last_node_id.clone();
    m.handle_message(T0, STATE, &bytes(&first)).expect("valid");
    let connection = |h: u64, s: ConnectionState| {
        bytes(&json!({
            "headerId": h,
            "timestamp": format_timestamp(T0 + 2_000),
            "version": "2.1.0",
            "manufacturer": "borderlane",
            "serialNumber": "igv-000",
            "connectionState": s,
        }))
    };
    let inputs = m
        .handle_message(
            T0 + 2_000,
            CONNECTION,
            &connection(1, ConnectionState::Connectionbroken),
        )
        .expect("valid");
    let [Input::State(r)] = inputs.as_slice() else {
        panic!("one report expected: {inputs:?}");
    };
    assert!(r.link_lost);
    assert!(!r.driving);
    assert_eq!(r.last_node, node);
    assert_eq!(r.vehicle, "igv-000");
    // OFFLINE after that changes nothing more; ONLINE restores the link.
    let inputs = m
        .handle_message(
            T0 + 2_000,
            CONNECTION,
            &connection(2, ConnectionState::Offline),
        )
        .expect("valid");
    assert!(inputs.is_empty());
    // ONLINE restores the link with the vehicle's next state, which says
    // where it is now.
    let inputs = m
        .handle_message(
            T0 + 2_000,
            CONNECTION,
            &connection(0, ConnectionState::Online),
        )
        .expect("a new session may start its headerIds again");
    assert!(inputs.is_empty());
    let inputs = m
        .handle_message(T0 + 2_000, STATE, &bytes(&state(0, T0 + 2_000)))
        .expect("a new session may start its headerIds again");
    let [Input::State(r)] = inputs.as_slice() else {
        panic!("one report expected: {inputs:?}");
    };
    assert!(!r.link_lost);
}

#[test]
fn the_agents_last_will_is_a_broken_connection() {
    let map = map("bac_luan_ii.geojson");
    let start = fleet(&map, 1)[0].start.clone();
    let agent = Agent::new(
        Arc::clone(&map),
        AgentConfig {
            serial: "igv-000".into(),
            start_node: start,
            ..AgentConfig::default()
        },
        T0,
    )
    .expect("an agent");
    let will = agent.last_will();
    assert_eq!(will.topic, CONNECTION);
    assert!(will.retain);
    assert_eq!(will.qos, borderlane_vda5050::Qos::AtLeastOnce);
    let mut m = master();
    m.handle_message(T0, STATE, &bytes(&state(1, T0)))
        .expect("valid");
    let inputs = m
        .handle_message(T0, &will.topic, &will.payload)
        .expect("valid");
    assert!(matches!(inputs.as_slice(), [Input::State(r)] if r.link_lost));
}

#[test]
fn a_last_will_written_hours_ago_still_reports_the_link_lost() {
    let map = map("bac_luan_ii.geojson");
    let start = fleet(&map, 1)[0].start.clone();
    // The vehicle connected, and wrote its will, three hours before the
    // link broke; the broker publishes the will as it was written.
    let agent = Agent::new(
        Arc::clone(&map),
        AgentConfig {
            serial: "igv-000".into(),
            start_node: start,
            ..AgentConfig::default()
        },
        T0,
    )
    .expect("an agent");
    let will = agent.last_will();
    let later = T0 + 3 * 3_600_000;
    let mut m = master();
    m.handle_message(later, STATE, &bytes(&state(1, later)))
        .expect("valid");
    let inputs = m
        .handle_message(later, &will.topic, &will.payload)
        .expect("an old will is still the link breaking");
    assert!(matches!(inputs.as_slice(), [Input::State(r)] if r.link_lost));
    // Any other message that old is still refused.
    assert_rejected(STATE, &bytes(&state(2, T0 - 3_600_000)), "clock_skew");
}
