//! The embedded MQTT broker: rumqttd, in this process.
//!
//! `borderlane serve` and `borderlane demo` start one so that they work on
//! a machine with nothing else installed. The broker speaks MQTT 3.1.1 on
//! one TCP listener. rumqttd does not report the port it bound, so a port
//! of 0 is resolved first: the shell binds a free port itself, notes it and
//! lets it go, then hands that port to the broker. The broker runs on
//! threads of its own until the process ends; rumqttd has no way to stop
//! it.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::time::Duration;

use rumqttd::{Config, ConnectionSettings, RouterConfig, ServerSettings};
use serde::{Deserialize, Serialize};

/// The largest MQTT payload the embedded broker accepts, by default: far
/// above the 10 KiB rumqttd and rumqttc default to, since VDA 5050 orders
/// of long routes are bigger.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;

/// How long the broker may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the embedded broker listens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedSettings {
    /// The address to listen on, `127.0.0.1` by default.
    #[serde(default = "default_host")]
    pub host: String,
    /// The port; 0 picks a free one.
    #[serde(default = "default_port")]
    pub port: u16,
    /// The largest payload a client may publish, bytes.
    #[serde(default = "default_max_payload")]
    pub max_payload_bytes: usize,
}

fn default_host() -> String {
    "127.0.0.1".to_string()
}

fn default_port() -> u16 {
    1883
}

fn default_max_payload() -> usize {
    DEFAULT_MAX_PAYLOAD_BYTES
}

impl Default for EmbeddedSettings {
    fn default() -> EmbeddedSettings {
        EmbeddedSettings {
            host: default_host(),
            port: default_port(),
            max_payload_bytes: default_max_payload(),
        }
    }
}

/// Why the embedded broker did not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("broker host {host:?}: not an address this machine can listen on: {reason}")]
    BadHost { host: String, reason: String },
    #[error("broker {addr}: cannot listen there: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("broker max_payload_bytes = {0}: must be between 1 KiB and 256 MiB")]
    BadPayloadLimit(usize),
    #[error("broker {addr}: did not start listening within {secs} s")]
    NotListening { addr: SocketAddr, secs: u64 },
    #[error("broker: could not start its thread: {0}")]
    Thread(std::io::Error),
}

/// A running embedded broker.
#[derive(Clone, Debug)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Starts a broker and waits until it accepts connections.
    pub async fn start(settings: &EmbeddedSettings) -> Result<EmbeddedBroker, BrokerError> {
        if !(1024..=256 * 1024 * 1024).contains(&settings.max_payload_bytes) {
            return Err(BrokerError::BadPayloadLimit(settings.max_payload_bytes));
        }
        let addr = resolve(&settings.host, settings.port)?;
        // Bind once to learn the port (when 0 was asked for) and to fail
        // here, with a clear error, if the port is taken.
        let addr = {
            let probe =
                TcpListener::bind(addr).map_err(|source| BrokerError::Bind { addr, source })?;
            probe
                .local_addr()
                .map_err(|source| BrokerError::Bind { addr, source })?
        };
        let config = broker_config(addr, settings.max_payload_bytes);
        std::thread::Builder::new()
            .name("mqtt-broker".to_string())
            .spawn(move || {
                let mut broker = rumqttd::Broker::new(config);
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "the embedded MQTT broker stopped");
                }
            })
            .map_err(BrokerError::Thread)?;
        wait_listening(addr).await?;
        tracing::info!(url = %format!("mqtt://{addr}"), "embedded MQTT broker listening");
        Ok(EmbeddedBroker { addr })
    }

    /// The address the broker listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address as `mqtt://host:port`.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// The host clients should connect to: the listen address, or the
    /// loopback address when the broker listens on every address.
    pub fn connect_host(&self) -> String {
        let ip = self.addr.ip();
        if ip.is_unspecified() {
            if ip.is_ipv4() {
                "127.0.0.1".to_string()
            } else {
                "::1".to_string()
            }
        } else {
            ip.to_string()
        }
    }

    /// The port the broker listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, BrokerError> {
    let bad = |reason: String| BrokerError::BadHost {
        host: host.to_string(),
        reason,
    };
    (host, port)
        .to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("it resolves to no address".to_string()))
}

/// rumqttd's configuration: one MQTT 3.1.1 listener with a large payload
/// limit, and router segments big enough to hold the largest payloads.
fn broker_config(addr: SocketAddr, max_payload_bytes: usize) -> Config {
    let connections = ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: max_payload_bytes,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = ServerSettings {
        name: "borderlane-v4".to_string(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    let router = RouterConfig {
        max_connections: 10_010,
        max_outgoing_packet_count: 500,
        max_segment_size: (4 * max_payload_bytes).max(16 * 1024 * 1024),
        max_segment_count: 10,
        ..RouterConfig::default()
    };
    Config {
        id: 0,
        router,
        v4: Some(HashMap::from([("1".to_string(), server)])),
        ..Config::default()
    }
}

/// Waits until something accepts TCP connections at `addr`.
async fn wait_listening(addr: SocketAddr) -> Result<(), BrokerError> {
    let target = if addr.ip().is_unspecified() {
        let ip: std::net::IpAddr = if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        SocketAddr::new(ip, addr.port())
    } else {
        addr
    };
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        if tokio::net::TcpStream::connect(target).await.is_ok() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(BrokerError::NotListening {
                addr,
                secs: START_TIMEOUT.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
