//! Interoperability with an external broker, Mosquitto: the client carries
//! a large message through it, and the orchestrator drives simulated
//! vehicles over it to a delivered job.
//!
//! The broker's `host:port` comes from the environment variable
//! `BORDERLANE_MOSQUITTO` (for example `127.0.0.1:1883`); without it the
//! tests say so and pass without doing anything.

mod common;

use std::time::Duration;

use borderlane_live::clock::Clock;
use borderlane_live::config::{BrokerConfig, ExternalBroker};
use borderlane_live::mqtt::{MqttClient, MqttSettings};
use borderlane_live::serve::Orchestrator;
use borderlane_model::SafetyRules;
use borderlane_verify::Verifier;
use common::{PATIENCE, job, lane_config, start_vehicles};
use rumqttc::QoS;

fn mosquitto() -> Option<(String, u16)> {
    let Ok(value) = std::env::var("BORDERLANE_MOSQUITTO") else {
        println!("BORDERLANE_MOSQUITTO is not set: skipping the Mosquitto test");
        return None;
    };
    let (host, port) = value
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("BORDERLANE_MOSQUITTO = {value:?}: expected host:port"));
    let port = port
        .parse()
        .unwrap_or_else(|_| panic!("BORDERLANE_MOSQUITTO = {value:?}: bad port"));
    Some((host.to_string(), port))
}

/// A name no earlier run used, so that retained messages of other runs on
/// the same broker do not meet this one.
fn unique(prefix: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{t}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_kib_message_goes_through_mosquitto() {
    let Some((host, port)) = mosquitto() else {
        return;
    };
    let topic = format!("{}/big", unique("borderlane-test"));
    let (sub, mut rx) = MqttClient::connect(
        &MqttSettings::new(host.clone(), port, unique("sub")),
        vec![(topic.clone(), QoS::AtLeastOnce)],
        Clock::wall(),
    )
    .expect("valid settings");
    assert!(
        sub.wait_subscribed(PATIENCE).await,
        "subscribed to Mosquitto"
    );
    let (publisher, _rx) = MqttClient::connect(
        &MqttSettings::new(host, port, unique("pub")),
        Vec::new(),
        Clock::wall(),
    )
    .expect("valid settings");
    assert!(
        publisher.wait_subscribed(PATIENCE).await,
        "connected to Mosquitto"
    );
    let payload: Vec<u8> = (0..200 * 1024).map(|i| (i % 253) as u8).collect();
    assert!(publisher.publish(&topic, payload.clone(), QoS::AtLeastOnce, false));
    let got = tokio::time::timeout(PATIENCE, async {
        loop {
            let m = rx.recv().await.expect("running");
            if m.topic == topic {
                return m;
            }
        }
    })
    .await
    .expect("the message within the patience");
    assert_eq!(got.payload, payload);
    publisher.shutdown().await;
    sub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orchestrator_drives_vehicles_over_mosquitto() {
    let Some((host, port)) = mosquitto() else {
        return;
    };
    let interface = unique("uagv");
    let mut config = lane_config(2, &interface);
    config.topics.prefix = format!("{interface}/borderlane");
    config.broker = BrokerConfig::External(ExternalBroker {
        host: host.clone(),
        port,
        client_id: Some(unique("orchestrator")),
        username: None,
        password: None,
        tls: None,
        max_packet_bytes: borderlane_live::mqtt::DEFAULT_MAX_PACKET_BYTES,
    });
    let clock = Clock::scaled(20.0);
    let o = Orchestrator::start(&config, clock, None)
        .await
        .expect("the orchestrator starts");
    assert!(o.broker().is_none());
    assert!(o.wait_connected(PATIENCE).await, "connected to Mosquitto");
    let vehicles = start_vehicles(&config, &host, port, clock).await;

    let (feeder, _rx) = MqttClient::connect(
        &MqttSettings::new(host, port, unique("feeder")),
        Vec::new(),
        clock,
    )
    .expect("valid settings");
    assert!(feeder.wait_subscribed(PATIENCE).await);
    let payload = serde_json::to_vec(&job(1, "CN", 3)).expect("encodes");
    let jobs_topic = format!("{}/lane/jobs", config.topics.prefix);
    assert!(feeder.publish(&jobs_topic, payload, QoS::AtLeastOnce, false));

    let map = borderlane_live::serve::load_map(&config.map).expect("map");
    let verifier = Verifier::new(&map, SafetyRules::default());
    let mut status = o.status();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    while status.borrow_and_update().jobs_done < 1 {
        let plans = o.inspect(|core, _| core.plans()).await.expect("running");
        let report = verifier.check_plans(&plans);
        assert!(report.is_clean(), "{report}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            *status.borrow()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    feeder.shutdown().await;
    for v in vehicles {
        v.shutdown().await;
    }
    o.shutdown().await;
}
