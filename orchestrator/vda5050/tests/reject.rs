//! Bad input: one test per rejection reason. Each asserts the reason and
//! that the rejected message changed nothing: the next valid message gives
//! the core exactly what it would have given without the bad one.

mod common;

use borderlane_core::Input;
use borderlane_core::io::VehicleReport;
use borderlane_model::Ms;
use borderlane_vda5050::messages::{ConnectionState, State};
use borderlane_vda5050::{Master, MasterConfig, Publish, RejectReason, format_timestamp};
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
    first_agent(&map("bac_luan_ii.geojson"), now).state(now, header_id)
}

fn bytes(v: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(v).expect("JSON")
}

fn mutated(header_id: u64, now: Ms, f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v = serde_json::to_value(state(header_id, now)).expect("JSON");
    f(&mut v);
    bytes(&v)
}

/// A valid state at `T0 + 1_000` with headerId 3, edited by `f`, must be
/// rejected on the state topic with `label`, as [`assert_rejected`] checks.
fn assert_edit_rejected(label: &str, f: impl FnOnce(&mut Value)) {
    assert_rejected(STATE, &mutated(3, T0 + 1_000, f), label);
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

/// A master that has heard igv-000's state 1, sent at `now`, at `now`.
fn master_heard_at(now: Ms) -> Master {
    let mut m = master();
    m.handle_message(now, STATE, &bytes(&state(1, now)))
        .expect("valid");
    m
}

/// The one vehicle report among `inputs`.
fn one_report(inputs: &[Input]) -> &VehicleReport {
    let [Input::State(r)] = inputs else {
        panic!("one report expected: {inputs:?}");
    };
    r
}

/// Gives `m` the last will `will` at `now` (accepted, or fail with
/// `why`) and asserts that it reports the link lost.
fn assert_will_reports_link_lost(m: &mut Master, now: Ms, will: &Publish, why: &str) {
    let inputs = m
        .handle_message(now, &will.topic, &will.payload)
        .expect(why);
    assert!(matches!(inputs.as_slice(), [Input::State(r)] if r.link_lost));
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
    assert_edit_rejected("invalid_message", |v| {
        v.as_object_mut().expect("object").remove("batteryState");
    });
}

#[test]
fn wrong_type() {
    assert_edit_rejected("invalid_message", |v| v["driving"] = json!("yes"));
    assert_edit_rejected("invalid_message", |v| v["operatingMode"] = json!("FAST"));
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
    assert_edit_rejected("identity_mismatch", |v| {
        v["serialNumber"] = json!("igv-001")
    });
}

#[test]
fn manufacturer_differs_from_topic() {
    assert_edit_rejected("identity_mismatch", |v| v["manufacturer"] = json!("acme"));
}

#[test]
fn header_id_going_backwards() {
    let bad = bytes(&state(0, T0 + 1_000));
    assert_rejected(STATE, &bad, "header_id_backwards");
}

#[test]
fn timestamp_too_far_from_now() {
    assert_edit_rejected("clock_skew", |v| {
        v["timestamp"] = json!(format_timestamp(T0 + 1_000 - 31_000));
    });
    assert_edit_rejected("clock_skew", |v| {
        v["timestamp"] = json!(format_timestamp(T0 + 1_000 + 31_000));
    });
}

#[test]
fn timestamp_not_a_date() {
    assert_edit_rejected("bad_timestamp", |v| v["timestamp"] = json!("noon"));
}

#[test]
fn unsupported_version() {
    assert_edit_rejected("unsupported_version", |v| v["version"] = json!("1.1.0"));
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
    assert_edit_rejected("unknown_node", |v| {
        v["lastNodeId"] = json!("nowhere");
        v["agvPosition"]["x"] = json!(1.0e7);
    });
}

#[test]
fn flood() {
    // Five messages a second are allowed; the test's two valid states are
    // part of the count, so three more fill the second.
    let now = T0 + 1_000;
    let mut m = master_heard_at(T0 + 500);
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
    let r = one_report(&inputs);
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
    assert!(!one_report(&inputs).link_lost);
}

#[test]
fn the_agents_last_will_is_a_broken_connection() {
    let agent = first_agent(&map("bac_luan_ii.geojson"), T0);
    let will = agent.last_will();
    assert_eq!(will.topic, CONNECTION);
    assert!(will.retain);
    assert_eq!(will.qos, borderlane_vda5050::Qos::AtLeastOnce);
    let mut m = master_heard_at(T0);
    assert_will_reports_link_lost(&mut m, T0, &will, "valid");
}

#[test]
fn a_last_will_written_hours_ago_still_reports_the_link_lost() {
    // The vehicle connected, and wrote its will, three hours before the
    // link broke; the broker publishes the will as it was written.
    let agent = first_agent(&map("bac_luan_ii.geojson"), T0);
    let will = agent.last_will();
    let later = T0 + 3 * 3_600_000;
    let mut m = master_heard_at(later);
    assert_will_reports_link_lost(
        &mut m,
        later,
        &will,
        "an old will is still the link breaking",
    );
    // Any other message that old is still refused.
    assert_rejected(STATE, &bytes(&state(2, T0 - 3_600_000)), "clock_skew");
}
