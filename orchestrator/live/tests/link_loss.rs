//! A simulated vehicle that loses its link for a while: its connection
//! drops without a disconnect, so the broker publishes its last will and
//! the orchestrator holds it as link-lost; when the link comes back the
//! vehicle connects again and the orchestrator takes it back.

mod common;

use std::sync::Arc;

use borderlane_live::clock::Clock;
use borderlane_live::mqtt::MqttSettings;
use borderlane_live::serve::Orchestrator;
use borderlane_live::vehicle::{LinkLoss, SimVehicle};
use common::{PATIENCE, lane_config, wait_state};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vehicle_loses_its_link_and_comes_back() {
    let config = lane_config(1, "link-loss");
    let map = borderlane_live::serve::load_map(&config.map).expect("the map");
    // Ten times real time: the link is lost 20 s (2 s of wall time) after
    // the start, for 30 s (3 s).
    let clock = Clock::scaled(10.0);
    let o = Orchestrator::start(&config, clock, None)
        .await
        .expect("the orchestrator starts");
    assert!(o.wait_connected(PATIENCE).await);
    let b = o.broker().expect("embedded").clone();
    let agent =
        borderlane_live::demo::agent_config(&config.vda5050, &config.fleet[0], &config.core);
    let serial = agent.serial.clone();
    let loss = LinkLoss {
        at: clock.now() + 20_000,
        for_ms: 30_000,
    };
    let vehicle = SimVehicle::spawn_with_link_losses(
        Arc::clone(&map),
        agent,
        &MqttSettings::new(b.connect_host(), b.port(), "unused"),
        clock,
        vec![loss],
    )
    .expect("the vehicle starts");

    // First the orchestrator hears from it.
    assert!(vehicle.wait_connected(PATIENCE).await);
    let heard = wait_state(&o, &serial, |s| !s.is_empty() && s != "link_lost").await;
    assert_ne!(heard, "link_lost");
    assert!(clock.now() < loss.at, "the vehicle took too long to start");

    let lost = wait_state(&o, &serial, |s| s == "link_lost").await;
    assert_eq!(lost, "link_lost");
    let link = vehicle.link();
    assert!(!link.connected && link.drops == 1, "{link:?}");
    assert!(clock.now() >= loss.at, "the link was lost before its time");

    let back = wait_state(&o, &serial, |s| s != "link_lost").await;
    assert_ne!(back, "link_lost");
    assert!(
        clock.now() >= loss.at + loss.for_ms,
        "the link came back before its time"
    );
    assert!(vehicle.wait_connected(PATIENCE).await);
    let link = vehicle.link();
    assert_eq!((link.connections, link.drops), (2, 1), "{link:?}");
    // The master control hears from the vehicle again.
    let heard = {
        let s = serial.clone();
        o.inspect(move |_, m| m.last_state(&s).is_some())
            .await
            .unwrap_or(false)
    };
    assert!(heard);

    vehicle.shutdown().await;
    o.shutdown().await;
}
