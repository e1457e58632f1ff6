//! Random bytes and mutated valid messages through
//! `Master::handle_message` never panic, and a rejected message never
//! gives the core an input.

mod common;

use borderlane_model::Ms;
use borderlane_vda5050::{Master, MasterConfig};
use common::*;
use proptest::prelude::*;
use serde_json::Value;

const T0: Ms = 1_795_000_000_000;

fn valid_state() -> Vec<u8> {
    let agent = first_agent(&map("bac_luan_ii.geojson"), T0);
    serde_json::to_vec(&agent.state(T0, 1)).expect("JSON")
}

fn master() -> Master {
    Master::new(
        map("bac_luan_ii.geojson"),
        MasterConfig::default(),
        &["igv-000".to_string()],
    )
}

const TOPICS: [&str; 5] = [
    "borderlane/v2/borderlane/igv-000/state",
    "borderlane/v2/borderlane/igv-000/connection",
    "borderlane/v2/borderlane/igv-000/factsheet",
    "borderlane/v2/borderlane/igv-000/order",
    "borderlane/v2/borderlane/igv-001/state",
];

/// Replaces the value at one path of a JSON document with another value.
fn mutate(v: &mut Value, path: &[usize], new: Value) {
    let Some((&i, rest)) = path.split_first() else {
        *v = new;
        return;
    };
    match v {
        Value::Object(m) if !m.is_empty() => {
            let key = m.keys().nth(i % m.len()).cloned().expect("a key");
            if let Some(next) = m.get_mut(&key) {
                mutate(next, rest, new);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            mutate(&mut a[i % n], rest, new);
        }
        _ => *v = new,
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,20}".prop_map(Value::String),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(5050), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), t in 0usize..5, dt in 0u64..100_000) {
        let mut m = master();
        let r = m.handle_message(T0 + dt, TOPICS[t], &bytes);
        if let Ok(inputs) = r {
            prop_assert!(inputs.len() <= 1);
        }
    }

    #[test]
    fn mutated_states_never_panic(path in proptest::collection::vec(0usize..32, 0..5), new in any_json(), t in 0usize..5) {
        let mut v: Value = serde_json::from_slice(&valid_state()).expect("JSON");
        mutate(&mut v, &path, new);
        let bytes = serde_json::to_vec(&v).expect("JSON");
        let mut m = master();
        let _ = m.handle_message(T0, TOPICS[t], &bytes);
        // Whatever came before, a valid state is still read afterwards.
        let mut again: Value = serde_json::from_slice(&valid_state()).expect("JSON");
        again["headerId"] = Value::from(u64::MAX);
        let r = m.handle_message(T0, TOPICS[0], &serde_json::to_vec(&again).expect("JSON"));
        prop_assert!(r.is_ok(), "{r:?}");
    }
}

/// A valid order for igv-000 from its start node, with a pick at the end.
fn valid_order() -> Vec<u8> {
    use borderlane_core::Command;
    use borderlane_core::io::{Action, ActionKind, CommandStep};
    let map = map("bac_luan_ii.geojson");
    let start = map.node_by_id(&fleet(&map, 1)[0].start).expect("a node");
    let arc = map.out_arcs(start)[0];
    let next = map.arc(arc).to;
    let steps = vec![
        CommandStep {
            node: map.node(start).id.clone(),
            edge: None,
            enter_ms: T0,
            arrive_ms: T0,
            depart_ms: Some(T0),
            stops: true,
            action: None,
        },
        CommandStep {
            node: map.node(next).id.clone(),
            edge: Some(map.arc_edge(arc).id.clone()),
            enter_ms: T0,
            arrive_ms: T0 + 60_000,
            depart_ms: None,
            stops: true,
            action: Some(Action {
                id: 1,
                kind: ActionKind::Pick {
                    container: "C".into(),
                },
                duration_ms: 1_000,
            }),
        },
    ];
    let mut m = master();
    m.handle_command(
        T0,
        &Command::Drive {
            vehicle: "igv-000".into(),
            plan_id: 1,
            steps,
        },
    );
    m.poll_publish().expect("an order").payload
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, rng_seed: proptest::test_runner::RngSeed::Fixed(5051), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_agent_survives_mutated_orders(path in proptest::collection::vec(0usize..32, 0..6), new in any_json(), raw in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut agent = first_agent(&map("bac_luan_ii.geojson"), T0);
        let mut v: Value = serde_json::from_slice(&valid_order()).expect("JSON");
        mutate(&mut v, &path, new);
        let bytes = serde_json::to_vec(&v).expect("JSON");
        agent.handle_message(T0, "borderlane/v2/borderlane/igv-000/order", &bytes);
        agent.handle_message(T0, "borderlane/v2/borderlane/igv-000/instantActions", &raw);
        agent.handle_timeout(T0 + 3_600_000);
        while agent.poll_publish().is_some() {}
        prop_assert!(agent.poll_timeout().is_some());
    }
}
