//! The embedded broker and the MQTT client: large messages, reconnection
//! and resubscription.

mod common;

use std::time::Duration;

use borderlane_live::broker::{EmbeddedBroker, EmbeddedSettings};
use borderlane_live::clock::Clock;
use borderlane_live::mqtt::{Message, MqttClient, MqttSettings};
use common::{PATIENCE, Proxy, eventually};
use rumqttc::QoS;
use tokio::sync::mpsc;

async fn broker() -> EmbeddedBroker {
    EmbeddedBroker::start(&EmbeddedSettings {
        port: 0,
        ..EmbeddedSettings::default()
    })
    .await
    .expect("the embedded broker starts")
}

fn settings(host: &str, port: u16, id: &str) -> MqttSettings {
    let mut s = MqttSettings::new(host, port, id);
    s.backoff_initial = Duration::from_millis(50);
    s.backoff_max = Duration::from_millis(500);
    s
}

async fn next_on(rx: &mut mpsc::Receiver<Message>, topic: &str) -> Message {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let m = rx.recv().await.expect("the client is running");
            if m.topic == topic {
                return m;
            }
        }
    })
    .await
    .expect("the message arrives within the patience")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_broker_carries_a_200_kib_message() {
    let b = broker().await;
    assert!(b.url().starts_with("mqtt://127.0.0.1:"), "{}", b.url());
    assert_ne!(b.port(), 0);
    let (sub, mut rx) = MqttClient::connect(
        &settings(&b.connect_host(), b.port(), "big-sub"),
        vec![("test/big".to_string(), QoS::AtLeastOnce)],
        Clock::wall(),
    )
    .expect("client settings are valid");
    assert!(sub.wait_subscribed(PATIENCE).await, "subscribed");
    let (publisher, _rx) = MqttClient::connect(
        &settings(&b.connect_host(), b.port(), "big-pub"),
        Vec::new(),
        Clock::wall(),
    )
    .expect("client settings are valid");
    assert!(publisher.wait_subscribed(PATIENCE).await, "connected");
    let payload: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();
    assert!(publisher.publish("test/big", payload.clone(), QoS::AtLeastOnce, false));
    let got = next_on(&mut rx, "test/big").await;
    assert_eq!(got.payload.len(), payload.len());
    assert_eq!(got.payload, payload);
    assert!(got.received_ms > 1_600_000_000_000, "a Unix time in ms");
    publisher.shutdown().await;
    sub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reconnects_and_subscribes_again_after_its_link_breaks() {
    let b = broker().await;
    let proxy = Proxy::start(b.addr()).await;
    let (sub, mut rx) = MqttClient::connect(
        &settings("127.0.0.1", proxy.addr.port(), "flaky-sub"),
        vec![("test/again".to_string(), QoS::AtLeastOnce)],
        Clock::wall(),
    )
    .expect("client settings are valid");
    assert!(sub.wait_subscribed(PATIENCE).await, "subscribed");
    assert_eq!(sub.state().connections, 1);

    proxy.cut();
    // The broker forgets the clean session's subscriptions with the
    // connection; the message below arrives only if the client subscribed
    // again on its own.
    let mut state = sub.watch_state();
    let back = tokio::time::timeout(
        PATIENCE,
        state.wait_for(|s| s.drops >= 1 && s.connections >= 2 && s.subscribed),
    )
    .await
    // The watch's guard must not outlive this line: it would block the
    // client's task.
    .is_ok_and(|r| r.is_ok());
    assert!(back, "reconnected and subscribed: {:?}", sub.state());

    let (publisher, _rx) = MqttClient::connect(
        &settings(&b.connect_host(), b.port(), "steady-pub"),
        Vec::new(),
        Clock::wall(),
    )
    .expect("client settings are valid");
    assert!(publisher.wait_subscribed(PATIENCE).await, "connected");
    assert!(publisher.publish("test/again", b"hello".to_vec(), QoS::AtLeastOnce, false));
    let got = next_on(&mut rx, "test/again").await;
    assert_eq!(got.payload, b"hello");
    publisher.shutdown().await;
    sub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_keeps_trying_until_the_broker_is_there() {
    // Reserve a port, then start nothing on it for a while.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let (client, _rx) = MqttClient::connect(
        &settings("127.0.0.1", port, "patient"),
        vec![("test/#".to_string(), QoS::AtMostOnce)],
        Clock::wall(),
    )
    .expect("client settings are valid");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!client.state().connected);
    // Publishing while the link is down neither blocks nor fails loudly.
    client.publish("test/x", b"queued".to_vec(), QoS::AtMostOnce, false);
    let b = EmbeddedBroker::start(&EmbeddedSettings {
        port,
        ..EmbeddedSettings::default()
    })
    .await
    .expect("the broker starts on the reserved port");
    assert_eq!(b.port(), port);
    assert!(
        client.wait_subscribed(PATIENCE).await,
        "{:?}",
        client.state()
    );
    assert!(eventually(|| client.state().connections == 1).await);
    client.shutdown().await;
}

#[tokio::test]
async fn a_taken_port_is_a_clear_error() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("address").port();
    let err = EmbeddedBroker::start(&EmbeddedSettings {
        port,
        ..EmbeddedSettings::default()
    })
    .await
    .expect_err("the port is taken");
    let text = err.to_string();
    assert!(text.contains(&port.to_string()), "{text}");
}

#[test]
fn bad_client_settings_are_errors() {
    let mut s = MqttSettings::new("127.0.0.1", 1883, "");
    assert!(
        MqttClient::connect(&s, Vec::new(), Clock::wall())
            .err()
            .is_some_and(|e| e.to_string().contains("client_id"))
    );
    s.client_id = "x".to_string();
    s.tls = Some(borderlane_live::mqtt::TlsFiles {
        ca: "/nonexistent/ca.pem".into(),
        client: None,
    });
    let err = MqttClient::connect(&s, Vec::new(), Clock::wall())
        .err()
        .expect("the CA file is missing");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}
