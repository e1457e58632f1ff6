//! Two territory stations, VN and CN, and simulated VDA 5050 vehicles on an
//! in-memory broker in virtual time: containers cross both ways, each
//! vehicle's order and instantActions topics are written by one side at a
//! time (checked from the published messages alone), the side taking a
//! vehicle over continues its order, every VDA 5050 message validates
//! against the official schema, and every container arrives once.

mod common;

use common::{LATENCY_MS, MIN, T0, TestKeys, To, fleet, job, map, repo};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use borderlane_core::io::{Event, JobRequest};
use borderlane_handoff::{Body, Envelope, Signed};
use borderlane_model::{Ms, Side};
use borderlane_station::{Station, StationConfig};
use borderlane_vda5050::{Agent, AgentConfig, BatteryModel, ProtocolVersion};
use serde_json::Value;

/// This test's handoff keys.
const KEYS: TestKeys = TestKeys {
    vn_byte: "22",
    cn_byte: "33",
    label: "test",
};

fn config(side: Side) -> StationConfig {
    common::config(side, KEYS)
}

/// Who published what, when: (time, publisher, topic, payload), where the
/// publisher is `vn`, `cn` or a vehicle's serial.
type Published = Vec<(Ms, String, String, Vec<u8>)>;

/// The two stations, the vehicles and the in-memory broker between them.
struct Lane {
    stations: [Station; 2],
    agents: Vec<Agent>,
    queue: BTreeMap<(Ms, u64), (To, String, Vec<u8>)>,
    seq: u64,
    now: Ms,
    published: Published,
    events: Vec<(usize, Event)>,
    rejected: Vec<String>,
}

impl Lane {
    fn new() -> Lane {
        let map = map();
        let stations =
            [Side::Vn, Side::Cn].map(|s| Station::new(Arc::clone(&map), config(s)).unwrap());
        let agents = fleet()
            .iter()
            .map(|v| {
                Agent::new(
                    Arc::clone(&map),
                    AgentConfig {
                        serial: v.serial.clone(),
                        start_node: v.start.clone(),
                        battery: BatteryModel {
                            drain_pct_per_km: 0.0,
                            ..BatteryModel::default()
                        },
                        ..AgentConfig::default()
                    },
                    T0,
                )
                .unwrap()
            })
            .collect();
        let mut lane = Lane {
            stations,
            agents,
            queue: BTreeMap::new(),
            seq: 0,
            now: T0,
            published: Vec::new(),
            events: Vec::new(),
            rejected: Vec::new(),
        };
        lane.pump();
        lane
    }

    fn send(&mut self, to: To, topic: String, payload: Vec<u8>) {
        self.seq += 1;
        self.queue
            .insert((self.now + LATENCY_MS, self.seq), (to, topic, payload));
    }

    fn job(&mut self, at: Ms, side: usize, job: &JobRequest) {
        self.seq += 1;
        let topic = self.stations[side].jobs_topic().to_string();
        self.queue.insert(
            (at, self.seq),
            (To::Station(side), topic, serde_json::to_vec(job).unwrap()),
        );
    }

    /// Moves what everyone published onto the broker: a vehicle's topics to
    /// the vehicle, the handoff topic to the other side, a vehicle's
    /// reports to both sides.
    fn pump(&mut self) {
        for s in 0..2 {
            while let Some(p) = self.stations[s].poll_publish() {
                let name = self.stations[s].name().to_string();
                self.published
                    .push((self.now, name, p.topic.clone(), p.payload.clone()));
                if p.topic.starts_with("borderlane/v1/handoff/") {
                    self.send(To::Station(1 - s), p.topic, p.payload);
                } else {
                    let serial = p.topic.split('/').nth(3).unwrap_or("").to_string();
                    if let Some(a) = self.agents.iter().position(|a| a.serial() == serial) {
                        self.send(To::Agent(a), p.topic, p.payload);
                    }
                }
            }
            while let Some(e) = self.stations[s].poll_event() {
                self.events.push((s, e));
            }
        }
        for a in 0..self.agents.len() {
            while let Some(p) = self.agents[a].poll_publish() {
                let serial = self.agents[a].serial().to_string();
                self.published
                    .push((self.now, serial, p.topic.clone(), p.payload.clone()));
                for s in 0..2 {
                    self.send(To::Station(s), p.topic.clone(), p.payload.clone());
                }
            }
        }
    }

    fn run_until(&mut self, end: Ms) {
        loop {
            let next_queue = self.queue.keys().next().map(|k| k.0);
            let next_station: Vec<Option<Ms>> =
                self.stations.iter_mut().map(|s| s.poll_timeout()).collect();
            let next_agent = self.agents.iter().filter_map(Agent::poll_timeout).min();
            let Some(t) = [next_queue, next_station[0], next_station[1], next_agent]
                .into_iter()
                .flatten()
                .min()
                .filter(|&t| t <= end)
            else {
                self.now = self.now.max(end);
                return;
            };
            self.now = self.now.max(t);
            let now = self.now;
            if next_queue == Some(t) {
                let (_, (to, topic, payload)) = self.queue.pop_first().unwrap();
                match to {
                    To::Station(s) => {
                        if let Err(r) = self.stations[s].handle_message(now, &topic, &payload) {
                            self.rejected.push(r.to_string());
                        }
                    }
                    To::Agent(a) => self.agents[a].handle_message(now, &topic, &payload),
                }
            } else if let Some(s) = (0..2).find(|&s| next_station[s] == Some(t)) {
                self.stations[s].handle_timeout(now);
            } else {
                for a in &mut self.agents {
                    if a.poll_timeout().is_some_and(|at| at <= now) {
                        a.handle_timeout(now);
                    }
                }
            }
            self.pump();
        }
    }
}

fn validator(kind: &str) -> jsonschema::Validator {
    let path = repo("orchestrator/vda5050/schemas")
        .join(ProtocolVersion::V2_1.as_str())
        .join("json_schemas")
        .join(format!("{kind}.schema"));
    let value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&value)
        .unwrap()
}

/// A handoff envelope as published, read without the protocol's code.
fn envelope(payload: &[u8]) -> Envelope {
    let signed: Signed = serde_json::from_slice(payload).unwrap();
    serde_json::from_str(&signed.envelope).unwrap()
}

#[test]
fn two_stations_hand_vehicles_over_both_ways_with_one_writer_each() {
    let mut lane = Lane::new();
    let jobs = [
        (0, "VN_SLOT_01"),
        (1, "CN_SLOT_01"),
        (0, "VN_SLOT_02"),
        (1, "CN_SLOT_02"),
        (0, "VN_SLOT_03"),
        (1, "CN_SLOT_03"),
    ];
    for (i, (side, pickup)) in jobs.iter().enumerate() {
        lane.job(T0 + MIN + i as Ms * 2 * MIN, *side, &job(i, pickup));
    }
    lane.run_until(T0 + 75 * MIN);

    assert!(lane.rejected.is_empty(), "{:#?}", lane.rejected);
    // The cores refused nothing: the near side reads a handed-over vehicle
    // only while its core still holds it.
    let refused: Vec<&String> = lane
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::InputRejected { reason } => Some(reason),
            _ => None,
        })
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
    for s in &lane.stations {
        assert_eq!(s.handoff_errors(), 0, "{}", s.name());
    }

    // Every container arrives once, on the other side.
    let mut delivered: BTreeMap<String, Vec<Side>> = BTreeMap::new();
    for (_, e) in &lane.events {
        if let Event::JobDelivered {
            container, side, ..
        } = e
        {
            delivered.entry(container.clone()).or_default().push(*side);
        }
    }
    for (i, (side, _)) in jobs.iter().enumerate() {
        let to = if *side == 0 { Side::Cn } else { Side::Vn };
        assert_eq!(
            delivered.get(&format!("CONT{i:07}")),
            Some(&vec![to]),
            "container {i}: {delivered:?}"
        );
    }

    // The writer of each vehicle's order and instantActions topics, from
    // the published messages alone: the side it starts on, then after a
    // handover nobody until the side it was handed to publishes; that
    // side's first order continues the handed-over order.
    let mut writer: BTreeMap<String, Option<String>> = fleet()
        .iter()
        .map(|v| (v.serial.clone(), Some(v.start[..2].to_lowercase())))
        .collect();
    let mut pending: BTreeMap<String, (String, Value)> = BTreeMap::new();
    let mut last_order: BTreeMap<String, (String, u64, u64)> = BTreeMap::new();
    let mut handovers = BTreeSet::new();
    let validators: BTreeMap<&str, jsonschema::Validator> = [
        "order",
        "instantActions",
        "state",
        "connection",
        "factsheet",
    ]
    .into_iter()
    .map(|k| (k, validator(k)))
    .collect();
    let mut orders = 0;
    for (t, who, topic, payload) in &lane.published {
        if topic.starts_with("borderlane/v1/handoff/") {
            let e = envelope(payload);
            if let Body::Handover { vehicle, order } = e.body {
                let to = e.to.to_string().to_lowercase();
                assert_eq!(
                    writer[&vehicle].as_deref(),
                    Some(who.as_str()),
                    "{vehicle} at {t}"
                );
                writer.insert(vehicle.clone(), None);
                pending.insert(
                    vehicle.clone(),
                    (to.clone(), serde_json::to_value(&order).unwrap()),
                );
                handovers.insert((who.clone(), to));
            }
            continue;
        }
        let kind = topic.rsplit('/').next().unwrap();
        let value: Value = serde_json::from_slice(payload).unwrap();
        let errors: Vec<String> = validators[kind]
            .iter_errors(&value)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{topic}: {errors:?}");
        if kind != "order" && kind != "instantActions" {
            continue;
        }
        let vehicle = topic.split('/').nth(3).unwrap().to_string();
        if let Some((to, order)) = pending.get(&vehicle)
            && to == who
        {
            // The first message from the side taking over continues the
            // order it was handed.
            assert_eq!(kind, "order", "{vehicle}: {value}");
            assert_eq!(value["orderId"], order["orderId"], "{vehicle}");
            assert_eq!(
                value["orderUpdateId"].as_u64(),
                order["orderUpdateId"].as_u64().map(|u| u + 1),
                "{vehicle}"
            );
            assert_eq!(value["headerId"], order["nextHeaderId"], "{vehicle}");
            assert_eq!(
                value["nodes"][0]["nodeId"], order["borderNode"],
                "{vehicle}"
            );
            assert_eq!(
                value["nodes"][0]["sequenceId"], order["borderSequenceId"],
                "{vehicle}"
            );
            writer.insert(vehicle.clone(), Some(who.clone()));
            pending.remove(&vehicle);
        }
        assert_eq!(
            writer[&vehicle].as_deref(),
            Some(who.as_str()),
            "{vehicle}: {who} wrote {kind} at {t} while the writer is {:?}",
            writer[&vehicle]
        );
        if kind == "order" {
            orders += 1;
            let h = value["headerId"].as_u64().unwrap();
            let id = value["orderId"].as_str().unwrap().to_string();
            let u = value["orderUpdateId"].as_u64().unwrap();
            if let Some((last_id, last_u, last_h)) = last_order.get(&vehicle) {
                assert!(h > *last_h, "{vehicle}: headerId {h} after {last_h}");
                if *last_id == id {
                    assert!(u >= *last_u, "{vehicle}: orderUpdateId {u} after {last_u}");
                }
            }
            last_order.insert(vehicle, (id, u, h));
        }
    }
    assert!(orders > 20, "{orders} orders");
    assert!(
        handovers.contains(&("vn".to_string(), "cn".to_string()))
            && handovers.contains(&("cn".to_string(), "vn".to_string())),
        "{handovers:?}"
    );
    assert!(pending.is_empty(), "handed over, never taken: {pending:?}");
}

#[test]
fn bad_handoff_input_is_refused_and_changes_nothing() {
    let mut lane = Lane::new();
    let topic = "borderlane/v1/handoff/cn/vn";
    for bad in [
        &b"{not json"[..],
        br#"{"keyId":"cn-test","envelope":"{}","signature":"00"}"#,
    ] {
        let before = lane.stations[0].poll_timeout();
        let r = lane.stations[0]
            .handle_message(T0, topic, bad)
            .expect_err("refused");
        assert_eq!(r.reason, "handoff_refused", "{r}");
        assert_eq!(r.topic, topic);
        assert_eq!(lane.stations[0].poll_publish(), None);
        assert_eq!(lane.stations[0].poll_timeout(), before);
    }
    // A territory station without keys, or with a bad one, is not built.
    let mut forged = config(Side::Vn);
    forged.handoff = None;
    let err = Station::new(map(), forged)
        .err()
        .expect("a territory station needs its keys");
    assert!(err.to_string().contains("handoff keys"), "{err}");
    let mut bad_key = config(Side::Cn);
    if let Some(k) = bad_key.handoff.as_mut() {
        k.peer_key = "zz".repeat(32);
    }
    let map = map();
    let err = Station::new(map, bad_key)
        .err()
        .expect("a bad key is refused");
    assert!(err.to_string().contains("peer_key"), "{err}");
}
