//! Every message kind published, by the master control and by the agent,
//! validates against the official VDA 5050 JSON schema of its version,
//! 2.0.0 and 2.1.0, read from the schemas vendored in this crate.

mod common;

use std::sync::Arc;

use borderlane_core::io::{Action, ActionKind, Channel, Command, CommandStep};
use borderlane_model::{LaneMap, Ms, NodeIx, Side};
use borderlane_vda5050::{Agent, AgentConfig, Master, MasterConfig, ProtocolVersion, Publish};
use common::*;
use serde_json::Value;

fn schema(version: ProtocolVersion, kind: &str) -> jsonschema::Validator {
    let file = match (version, kind) {
        (ProtocolVersion::V2_0, "factsheet") => "factsheet.json".to_string(),
        (_, k) => format!("{k}.schema"),
    };
    let path = PathOf::schemas()
        .join(version.as_str())
        .join("json_schemas")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: Value = serde_json::from_str(&text).expect("a JSON schema");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&value)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct PathOf;

impl PathOf {
    fn schemas() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas")
    }
}

/// Validates every message and returns how many of each kind were seen.
fn validate_all(version: ProtocolVersion, messages: &[(String, Vec<u8>)]) -> Vec<(String, usize)> {
    let kinds = [
        "order",
        "instantActions",
        "state",
        "connection",
        "factsheet",
    ];
    let validators: Vec<_> = kinds.iter().map(|k| schema(version, k)).collect();
    let mut counts: Vec<(String, usize)> = kinds.iter().map(|k| (k.to_string(), 0)).collect();
    for (topic, payload) in messages {
        let kind = topic.rsplit('/').next().unwrap_or("");
        let i = kinds
            .iter()
            .position(|k| *k == kind)
            .unwrap_or_else(|| panic!("unexpected topic {topic}"));
        let value: Value = serde_json::from_slice(payload).expect("JSON");
        let errors: Vec<String> = validators[i]
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{version:?} {topic}: {errors:?}\n{}",
            String::from_utf8_lossy(payload)
        );
        counts[i].1 += 1;
    }
    counts
}

/// A route of `n` steps from `start`, following the first arc out of
/// every node, with an action of every kind.
fn route(map: &LaneMap, start: NodeIx, n: usize, t0: Ms) -> Vec<CommandStep> {
    let kinds = [
        ActionKind::Pick {
            container: "CONT0000001".into(),
        },
        ActionKind::Scan,
        ActionKind::Inspect,
        ActionKind::Drop {
            container: "CONT0000001".into(),
        },
        ActionKind::Charge,
    ];
    let mut steps = Vec::new();
    let mut node = start;
    let mut t = t0;
    for k in 0..n {
        let edge = if k == 0 {
            None
        } else {
            let Some(&arc) = map.out_arcs(node).first() else {
                break;
            };
            node = map.arc(arc).to;
            Some(map.arc_edge(arc).id.clone())
        };
        steps.push(CommandStep {
            node: map.node(node).id.clone(),
            edge,
            enter_ms: t,
            arrive_ms: t + 10_000,
            depart_ms: Some(t + 20_000),
            stops: true,
            action: Some(Action {
                id: k as u64,
                kind: kinds[k % kinds.len()].clone(),
                duration_ms: 5_000,
            }),
        });
        t += 20_000;
    }
    steps
}

fn drain(master: &mut Master, out: &mut Vec<(String, Vec<u8>)>) {
    while let Some(Publish { topic, payload, .. }) = master.poll_publish() {
        out.push((topic, payload));
    }
}

/// The master's orders, order updates and instant actions (pause, resume,
/// cancel) for a route with every kind of action.
fn master_messages(version: ProtocolVersion) -> Vec<(String, Vec<u8>)> {
    let map = map("bac_luan_ii.geojson");
    let start = map.node_ixs().next().expect("a node");
    let config = MasterConfig {
        version,
        ..MasterConfig::default()
    };
    let mut master = Master::new(Arc::clone(&map), config, &["igv-000".to_string()]);
    let mut out = Vec::new();
    let steps = route(&map, start, 6, 0);
    master.handle_command(
        0,
        &Command::Drive {
            vehicle: "igv-000".into(),
            plan_id: 1,
            steps: steps.clone(),
        },
    );
    for t in [20_000, 45_000, 70_000] {
        master.handle_timeout(t);
    }
    master.handle_command(
        71_000,
        &Command::Pause {
            vehicle: "igv-000".into(),
        },
    );
    master.handle_command(
        72_000,
        &Command::Resume {
            vehicle: "igv-000".into(),
        },
    );
    // A plan that does not start at the decision point: cancelOrder.
    master.handle_command(
        73_000,
        &Command::Drive {
            vehicle: "igv-000".into(),
            plan_id: 2,
            steps: route(&map, start, 3, 73_000),
        },
    );
    drain(&mut master, &mut out);
    out
}

/// The agent's connection, factsheet, last will and states, including a
/// state with errors after a bad order.
fn agent_messages(version: ProtocolVersion) -> Vec<(String, Vec<u8>)> {
    let map = map("bac_luan_ii.geojson");
    let start = map.node(map.node_ixs().next().expect("a node")).id.clone();
    let mut agent = Agent::new(
        Arc::clone(&map),
        AgentConfig {
            serial: "igv-000".into(),
            start_node: start,
            version,
            ..AgentConfig::default()
        },
        1_000,
    )
    .expect("an agent");
    agent.handle_message(
        2_000,
        "borderlane/v2/borderlane/igv-000/order",
        b"{\"bad\":1}",
    );
    agent.break_down(3_000);
    let mut out = Vec::new();
    let will = agent.last_will();
    out.push((will.topic, will.payload));
    while let Some(p) = agent.poll_publish() {
        out.push((p.topic, p.payload));
    }
    out
}

#[test]
fn published_messages_match_the_official_schemas() {
    for version in [ProtocolVersion::V2_0, ProtocolVersion::V2_1] {
        let mut messages = master_messages(version);
        messages.extend(agent_messages(version));
        // A short closed loop: orders with every customs action, updates,
        // and the agents' states while driving and working.
        let map = map("bac_luan_ii.geojson");
        let mut l = Loop::new(map.clone(), 4, version);
        for (i, ch) in [Channel::RedScan, Channel::RedInspection]
            .into_iter()
            .enumerate()
        {
            l.schedule_job(0, job(&map, i, Side::Vn, ch, 60_000));
        }
        l.run_until(3_600_000);
        messages.extend(l.wire.iter().map(|(_, t, p)| (t.clone(), p.clone())));
        let counts = validate_all(version, &messages);
        for (kind, n) in &counts {
            assert!(*n > 0, "{version:?}: no {kind} message was checked");
        }
        let text = |needle: &str| {
            messages
                .iter()
                .any(|(_, p)| String::from_utf8_lossy(p).contains(needle))
        };
        for needle in [
            "\"cancelOrder\"",
            "\"startPause\"",
            "\"stopPause\"",
            "\"orderUpdateId\":1",
            "\"pick\"",
            "\"drop\"",
            "\"startCharging\"",
            "\"customsScan\"",
            "\"customsInspection\"",
            "\"released\":false",
            "CONNECTIONBROKEN",
            "\"FATAL\"",
            "validationError",
        ] {
            assert!(text(needle), "{version:?}: no message has {needle}");
        }
    }
}

#[test]
fn the_schemas_catch_a_broken_message() {
    for version in [ProtocolVersion::V2_0, ProtocolVersion::V2_1] {
        let messages = agent_messages(version);
        let (_, payload) = messages
            .iter()
            .find(|(t, _)| t.ends_with("/state"))
            .expect("a state");
        let mut v: Value = serde_json::from_slice(payload).expect("JSON");
        assert!(schema(version, "state").is_valid(&v));
        v.as_object_mut().expect("object").remove("driving");
        assert!(!schema(version, "state").is_valid(&v));
        v["driving"] = Value::from(true);
        v["timestamp"] = Value::from("not a time");
        assert!(!schema(version, "state").is_valid(&v));
    }
}
