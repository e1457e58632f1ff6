//! An MQTT client over rumqttc: connection, TLS, last will, reconnection
//! and resubscription.
//!
//! [`MqttClient::connect`] starts a task that drives rumqttc's event loop.
//! Every publish it receives goes into a channel together with the time it
//! was received, read from the shell's [`Clock`]. When the connection
//! breaks, the task waits with exponential back-off and connects again;
//! since the session is clean, the broker has forgotten the subscriptions,
//! so the task subscribes again after every connection acknowledgement.
//! The state of the link is published on a watch channel, for metrics and
//! for callers that want to wait until the client is subscribed.
//!
//! Publishing never waits: a publish that does not fit into rumqttc's
//! request queue (the link has been down for a while) is dropped and
//! counted, so a broker outage never stalls the caller. The master control
//! resends orders until a vehicle shows it took them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use borderlane_model::Ms;
use rumqttc::{
    AsyncClient, ConnectReturnCode, Event, EventLoop, LastWill, MqttOptions, Packet, QoS,
    SubscribeFilter, SubscribeReasonCode, TlsConfiguration, Transport,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::clock::Clock;

/// The largest MQTT packet the client sends or accepts, by default.
pub const DEFAULT_MAX_PACKET_BYTES: usize = 4 * 1024 * 1024;

/// How many received messages may wait for the caller.
const INBOX_CAPACITY: usize = 4_096;

/// How many requests (publishes, subscriptions) may wait for the link.
const REQUEST_CAPACITY: usize = 4_096;

/// How long [`MqttClient::shutdown`] waits for a clean disconnect.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// TLS files, PEM encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate authority that signed the broker's certificate.
    pub ca: PathBuf,
    /// A client certificate and its key, for brokers that ask for one.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// A message the broker publishes for a client that disappears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
}

/// How to reach the broker and who to be there.
#[derive(Clone, Debug)]
pub struct MqttSettings {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    /// User name and password.
    pub credentials: Option<(String, String)>,
    pub tls: Option<TlsFiles>,
    pub last_will: Option<Will>,
    /// The largest packet sent or accepted, bytes.
    pub max_packet_bytes: usize,
    pub keep_alive: Duration,
    /// The first wait after a failed connection; it doubles with every
    /// further failure, up to `backoff_max`.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

impl MqttSettings {
    /// Settings for a plain TCP connection with the defaults.
    pub fn new(host: impl Into<String>, port: u16, client_id: impl Into<String>) -> MqttSettings {
        MqttSettings {
            host: host.into(),
            port,
            client_id: client_id.into(),
            credentials: None,
            tls: None,
            last_will: None,
            max_packet_bytes: DEFAULT_MAX_PACKET_BYTES,
            keep_alive: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
        }
    }
}

/// Why a client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("MQTT client_id is empty")]
    EmptyClientId,
    #[error("MQTT host is empty")]
    EmptyHost,
    #[error("MQTT max_packet_bytes = {0}: must be at least 1024")]
    PacketLimit(usize),
    #[error("MQTT keep_alive must be at least 1 s")]
    KeepAlive,
    #[error("TLS {what} {path:?}: cannot read it: {source}")]
    TlsFile {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One message received from the broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    /// When it was received, by the shell's clock.
    pub received_ms: Ms,
}

/// The state of the link to the broker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkState {
    /// The broker acknowledged the connection and it has not broken since.
    pub connected: bool,
    /// The subscriptions of this connection are acknowledged.
    pub subscribed: bool,
    /// How many times the broker acknowledged a connection.
    pub connections: u64,
    /// How many times an established connection broke.
    pub drops: u64,
}

/// Counters of the client.
#[derive(Debug, Default)]
struct Counters {
    dropped: AtomicU64,
    closing: AtomicBool,
}

/// A connected (or connecting) MQTT client.
pub struct MqttClient {
    client: AsyncClient,
    state: watch::Receiver<LinkState>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl MqttClient {
    /// Sets up a client and starts connecting. It subscribes to
    /// `subscriptions` on every connection. Received messages come out of
    /// the returned channel.
    pub fn connect(
        settings: &MqttSettings,
        subscriptions: Vec<(String, QoS)>,
        clock: Clock,
    ) -> Result<(MqttClient, mpsc::Receiver<Message>), MqttError> {
        let options = options(settings)?;
        let (client, eventloop) = AsyncClient::new(options, REQUEST_CAPACITY);
        let (state_tx, state) = watch::channel(LinkState::default());
        let (inbox_tx, inbox) = mpsc::channel(INBOX_CAPACITY);
        let counters = Arc::new(Counters::default());
        let driver = Driver {
            client: client.clone(),
            eventloop,
            subscriptions,
            state: state_tx,
            inbox: inbox_tx,
            clock,
            counters: Arc::clone(&counters),
            backoff_initial: settings.backoff_initial,
            backoff_max: settings.backoff_max.max(settings.backoff_initial),
            client_id: settings.client_id.clone(),
        };
        let task = tokio::spawn(driver.run());
        Ok((
            MqttClient {
                client,
                state,
                counters,
                task,
            },
            inbox,
        ))
    }

    /// Queues a publish. Returns false, and counts it, if it had to be
    /// dropped because the request queue is full or the client is closed.
    pub fn publish(&self, topic: &str, payload: Vec<u8>, qos: QoS, retain: bool) -> bool {
        match self.client.try_publish(topic, qos, retain, payload) {
            Ok(()) => true,
            Err(e) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(topic, error = %e, "MQTT publish dropped");
                false
            }
        }
    }

    /// The state of the link, now.
    pub fn state(&self) -> LinkState {
        *self.state.borrow()
    }

    /// A watch of the state of the link.
    pub fn watch_state(&self) -> watch::Receiver<LinkState> {
        self.state.clone()
    }

    /// How many publishes were dropped.
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Waits until the client is connected and subscribed, or `timeout`
    /// passes; returns whether it is.
    pub async fn wait_subscribed(&self, timeout: Duration) -> bool {
        let mut rx = self.state.clone();
        tokio::time::timeout(timeout, rx.wait_for(|s| s.connected && s.subscribed))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Disconnects cleanly (the broker does not publish the last will) and
    /// stops the client.
    pub async fn shutdown(self) {
        self.counters.closing.store(true, Ordering::Relaxed);
        let connected = self.state().connected;
        if connected && self.client.try_disconnect().is_ok() {
            let mut task = self.task;
            if tokio::time::timeout(DISCONNECT_TIMEOUT, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        } else {
            self.task.abort();
        }
    }

    /// Stops the client at once without a disconnect, as if the network
    /// had failed: the broker publishes the last will.
    pub fn kill(self) {
        self.counters.closing.store(true, Ordering::Relaxed);
        self.task.abort();
    }
}

fn options(settings: &MqttSettings) -> Result<MqttOptions, MqttError> {
    if settings.client_id.is_empty() {
        return Err(MqttError::EmptyClientId);
    }
    if settings.host.is_empty() {
        return Err(MqttError::EmptyHost);
    }
    if settings.max_packet_bytes < 1024 {
        return Err(MqttError::PacketLimit(settings.max_packet_bytes));
    }
    if settings.keep_alive < Duration::from_secs(1) {
        return Err(MqttError::KeepAlive);
    }
    let mut o = MqttOptions::new(
        settings.client_id.clone(),
        settings.host.clone(),
        settings.port,
    );
    o.set_keep_alive(settings.keep_alive)
        .set_clean_session(true)
        .set_max_packet_size(settings.max_packet_bytes, settings.max_packet_bytes)
        .set_inflight(100);
    if let Some((user, password)) = &settings.credentials {
        o.set_credentials(user.clone(), password.clone());
    }
    if let Some(will) = &settings.last_will {
        o.set_last_will(LastWill::new(
            will.topic.clone(),
            will.payload.clone(),
            will.qos,
            will.retain,
        ));
    }
    if let Some(tls) = &settings.tls {
        let read = |what: &'static str, path: &PathBuf| {
            std::fs::read(path).map_err(|source| MqttError::TlsFile {
                what,
                path: path.clone(),
                source,
            })
        };
        let ca = read("ca", &tls.ca)?;
        let client_auth = match &tls.client {
            Some((cert, key)) => Some((read("cert", cert)?, read("key", key)?)),
            None => None,
        };
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
            ca,
            alpn: None,
            client_auth,
        }));
    }
    Ok(o)
}

/// The task that drives rumqttc's event loop.
struct Driver {
    client: AsyncClient,
    eventloop: EventLoop,
    subscriptions: Vec<(String, QoS)>,
    state: watch::Sender<LinkState>,
    inbox: mpsc::Sender<Message>,
    clock: Clock,
    counters: Arc<Counters>,
    backoff_initial: Duration,
    backoff_max: Duration,
    client_id: String,
}

impl Driver {
    async fn run(mut self) {
        let mut backoff = self.backoff_initial;
        loop {
            match self.eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    if ack.code != ConnectReturnCode::Success {
                        // rumqttc reports a refusal as an error; this is
                        // only a safeguard.
                        continue;
                    }
                    backoff = self.backoff_initial;
                    let subscribed = self.subscriptions.is_empty();
                    self.state.send_modify(|s| {
                        s.connected = true;
                        s.subscribed = subscribed;
                        s.connections += 1;
                    });
                    tracing::info!(client = %self.client_id, "MQTT connected");
                    self.resubscribe();
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    let refused = ack
                        .return_codes
                        .iter()
                        .filter(|c| matches!(c, SubscribeReasonCode::Failure))
                        .count();
                    if refused > 0 {
                        tracing::warn!(
                            client = %self.client_id,
                            refused,
                            "the broker refused some subscriptions"
                        );
                    }
                    self.state.send_modify(|s| s.subscribed = true);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let message = Message {
                        topic: p.topic.clone(),
                        payload: p.payload.to_vec(),
                        received_ms: self.clock.now(),
                    };
                    if self.inbox.send(message).await.is_err() {
                        // Nobody reads any more; keep the link for
                        // publishing.
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let was_connected = self.state.borrow().connected;
                    self.state.send_modify(|s| {
                        if s.connected {
                            s.drops += 1;
                        }
                        s.connected = false;
                        s.subscribed = false;
                    });
                    if self.counters.closing.load(Ordering::Relaxed) {
                        return;
                    }
                    if was_connected {
                        tracing::warn!(client = %self.client_id, error = %e, "MQTT connection lost");
                    } else {
                        tracing::debug!(client = %self.client_id, error = %e, "MQTT connection failed");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.backoff_max);
                }
            }
        }
    }

    /// Subscribes to every subscription again. The request goes through
    /// the queue that this task drains, so a task of its own waits for room
    /// in it.
    fn resubscribe(&self) {
        if self.subscriptions.is_empty() {
            return;
        }
        let filters: Vec<SubscribeFilter> = self
            .subscriptions
            .iter()
            .map(|(t, q)| SubscribeFilter::new(t.clone(), *q))
            .collect();
        let client = self.client.clone();
        let id = self.client_id.clone();
        tokio::spawn(async move {
            if let Err(e) = client.subscribe_many(filters).await {
                tracing::warn!(client = %id, error = %e, "MQTT subscribe failed");
            }
        });
    }
}
