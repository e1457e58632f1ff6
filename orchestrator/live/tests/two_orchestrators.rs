//! A VN and a CN orchestrator on the embedded broker hand simulated VDA 5050
//! vehicles over to each other at the border: containers cross both ways,
//! none is lost, and each vehicle's order topic, read from the broker by a
//! plain subscriber, is written as by one writer (headerIds never repeat or
//! go back, an order's updates never go back, and the first order after a
//! handover continues the order handed over).

mod common;

use std::collections::BTreeMap;

use borderlane_handoff::{Body, Envelope, Signed, SigningKey};
use borderlane_live::broker::EmbeddedSettings;
use borderlane_live::clock::Clock;
use borderlane_live::config::{BrokerConfig, HandoffSection, ServeConfig};
use borderlane_live::mqtt::{MqttClient, MqttSettings};
use borderlane_live::scope::SideSel;
use borderlane_live::serve::Orchestrator;
use borderlane_model::Side;
use common::{PATIENCE, job, lane_config, start_vehicles};
use rumqttc::QoS;
use serde_json::Value;

/// The clock runs this many times faster than the wall clock, so that a
/// crossing takes well under a minute; nothing below depends on how fast
/// anything happens.
const SPEED: f64 = 30.0;

fn seed(side: Side) -> String {
    match side {
        Side::Vn => "41".repeat(32),
        Side::Cn => "42".repeat(32),
    }
}

fn config(side: Side, interface: &str) -> ServeConfig {
    let mut c = lane_config(4, interface);
    let peer = side.other();
    c.name = format!("orchestrator-{side}");
    c.side = match side {
        Side::Vn => SideSel::Vn,
        Side::Cn => SideSel::Cn,
    };
    c.handoff = Some(HandoffSection {
        key_id: format!("{side}-t"),
        key: Some(seed(side)),
        key_file: None,
        peer_key_id: format!("{peer}-t"),
        peer_key: Some(
            SigningKey::from_hex("p", &seed(peer))
                .expect("a seed")
                .verifying_key()
                .to_hex(),
        ),
        peer_key_file: None,
    });
    if side == Side::Cn {
        c.broker = BrokerConfig::Embedded(EmbeddedSettings {
            port: 0,
            ..EmbeddedSettings::default()
        });
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_orchestrators_hand_vehicles_over_both_ways() {
    let clock = Clock::scaled(SPEED);
    let vn_config = config(Side::Vn, "twosides");
    let vn = Orchestrator::start(&vn_config, clock, None)
        .await
        .expect("the VN orchestrator starts");
    let b = vn.broker().expect("VN runs the broker");
    let at = (b.connect_host(), b.port());
    let cn = Orchestrator::start(&config(Side::Cn, "twosides"), clock, Some(at.clone()))
        .await
        .expect("the CN orchestrator starts");
    assert!(vn.wait_connected(PATIENCE).await && cn.wait_connected(PATIENCE).await);

    // A plain subscriber to every vehicle's order topic and the handoff.
    let (watcher, mut seen) = MqttClient::connect(
        &MqttSettings::new(at.0.clone(), at.1, "watcher"),
        vec![
            (
                "twosides/v2/borderlane/+/order".to_string(),
                QoS::AtLeastOnce,
            ),
            ("borderlane/v1/handoff/#".to_string(), QoS::AtLeastOnce),
            ("borderlane/v1/+/events".to_string(), QoS::AtLeastOnce),
        ],
        clock,
    )
    .expect("client settings are valid");
    assert!(watcher.wait_subscribed(PATIENCE).await);
    let vehicles = start_vehicles(&vn_config, &at.0, at.1, clock).await;
    let (feeder, _rx) = MqttClient::connect(
        &MqttSettings::new(at.0.clone(), at.1, "feeder"),
        Vec::new(),
        clock,
    )
    .expect("client settings are valid");
    assert!(feeder.wait_subscribed(PATIENCE).await);
    let jobs = [("VN", 1), ("CN", 1), ("VN", 2), ("CN", 2)];
    for (i, (side, slot)) in jobs.iter().enumerate() {
        let topic = format!("borderlane/v1/{}/jobs", side.to_lowercase());
        let payload = serde_json::to_vec(&job(i, side, *slot)).unwrap();
        feeder.publish(&topic, payload, QoS::AtLeastOnce, false);
    }

    let deadline = tokio::time::Instant::now() + 4 * PATIENCE;
    let (mut vs, mut cs) = (vn.status(), cn.status());
    let mut messages = Vec::new();
    loop {
        while let Ok(m) = seen.try_recv() {
            messages.push(m);
        }
        let done = vs.borrow_and_update().jobs_done + cs.borrow_and_update().jobs_done;
        if done == jobs.len() as u64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{done} of {} delivered; VN {:?}, CN {:?}; {} handoff messages seen",
            jobs.len(),
            vs.borrow(),
            cs.borrow(),
            messages
                .iter()
                .filter(|m| m.topic.starts_with("borderlane/v1/handoff/"))
                .count()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Each side delivered the containers that came from the other.
    assert_eq!(vs.borrow().jobs_done, 2, "CN to VN");
    assert_eq!(cs.borrow().jobs_done, 2, "VN to CN");
    // No input was refused: the near side reads a handed-over vehicle only
    // while its core still holds it.
    let refused: Vec<String> = messages
        .iter()
        .filter(|m| m.topic.ends_with("/events"))
        .map(|m| String::from_utf8_lossy(&m.payload).to_string())
        .filter(|e| e.contains("input_rejected"))
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
    assert_eq!(vs.borrow().rejected + cs.borrow().rejected, 0);

    // Messages from two publishers may reach the subscriber in either
    // order, so each vehicle's orders are put in headerId order: one
    // writer at a time means no headerId twice, and an order's updates
    // never going back.
    let mut orders: BTreeMap<String, BTreeMap<u64, Value>> = BTreeMap::new();
    let mut handed: Vec<(String, Value)> = Vec::new();
    let mut handovers = BTreeMap::new();
    for m in messages {
        if m.topic.ends_with("/events") {
            continue;
        }
        if m.topic.starts_with("borderlane/v1/handoff/") {
            let signed: Signed = serde_json::from_slice(&m.payload).unwrap();
            let e: Envelope = serde_json::from_str(&signed.envelope).unwrap();
            if let Body::Handover { vehicle, order } = e.body {
                *handovers.entry(m.topic.clone()).or_insert(0) += 1;
                handed.push((vehicle, serde_json::to_value(order).unwrap()));
            }
            continue;
        }
        let vehicle = m.topic.split('/').nth(3).unwrap().to_string();
        let o: Value = serde_json::from_slice(&m.payload).unwrap();
        let h = o["headerId"].as_u64().unwrap();
        let earlier = orders.entry(vehicle.clone()).or_default().insert(h, o);
        assert!(earlier.is_none(), "{vehicle}: headerId {h} twice");
    }
    for (vehicle, by_header) in &orders {
        let mut last: Option<(&str, u64)> = None;
        for o in by_header.values() {
            let id = o["orderId"].as_str().unwrap();
            let u = o["orderUpdateId"].as_u64().unwrap();
            if let Some((lid, lu)) = last
                && lid == id
            {
                assert!(u >= lu, "{vehicle}: update {u} after {lu}");
            }
            last = Some((id, u));
        }
    }
    // The side taking a vehicle over continues the order handed over: the
    // next update, with the next headerId, from the border node.
    for (vehicle, c) in &handed {
        let o = orders
            .get(vehicle)
            .and_then(|by| by.get(&c["nextHeaderId"].as_u64().unwrap()))
            .unwrap_or_else(|| panic!("{vehicle}: no order continues {c}"));
        assert_eq!(o["orderId"], c["orderId"], "{vehicle}");
        assert_eq!(
            o["orderUpdateId"].as_u64(),
            c["orderUpdateId"].as_u64().map(|u| u + 1),
            "{vehicle}"
        );
        assert_eq!(o["nodes"][0]["nodeId"], c["borderNode"], "{vehicle}");
        assert_eq!(
            o["nodes"][0]["sequenceId"], c["borderSequenceId"],
            "{vehicle}"
        );
    }
    assert!(
        handovers.contains_key("borderlane/v1/handoff/vn/cn")
            && handovers.contains_key("borderlane/v1/handoff/cn/vn"),
        "{handovers:?}"
    );

    for v in vehicles {
        v.shutdown().await;
    }
    feeder.shutdown().await;
    watcher.shutdown().await;
    cn.shutdown().await;
    vn.shutdown().await;
}
