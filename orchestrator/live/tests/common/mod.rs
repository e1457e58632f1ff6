//! Helpers shared by the live shell's tests: a TCP proxy whose connections
//! can be cut, HTTP requests, and waiting for a condition.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How long a test waits for something that should happen within a second
/// or two. It is generous so that a loaded machine does not fail a test.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A TCP proxy in front of a broker. Cutting its connections looks to both
/// ends like a network failure.
pub struct Proxy {
    pub addr: SocketAddr,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let held = Arc::clone(&links);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                held.lock().expect("proxy links").push(link);
            }
        });
        Proxy {
            addr,
            links,
            accept,
        }
    }

    /// Cuts every connection open now; new ones are still accepted.
    pub fn cut(&self) {
        for link in self.links.lock().expect("proxy links").drain(..) {
            link.abort();
        }
    }

    /// Cuts every connection and accepts no more.
    pub fn close(&self) {
        self.accept.abort();
        self.cut();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.close();
    }
}

/// A plain HTTP/1.1 GET; returns the status code and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let r = http(addr, "GET", path, &[], "").await;
    (r.status, r.body)
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    /// The header lines, as sent.
    pub head: String,
    pub body: String,
}

impl Answer {
    /// The value of a header, named in lower case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A plain HTTP/1.1 request with `headers` and a JSON `body`.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connect to HTTP");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response))
        .await
        .expect("the response within the patience")
        .expect("read response");
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Answer {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// Polls `check` every 50 ms until it returns true or the patience runs
/// out; returns whether it did.
pub async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The shipped lane map's path.
pub fn map_path() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps/bac_luan_ii.geojson")
}

/// A configuration for one orchestrator of the whole lane with `n`
/// vehicles on both sides' parking places, the embedded broker and the
/// metrics on free ports, and the clock-skew limit relaxed: a last will
/// carries the time its vehicle connected, which may be long ago.
pub fn lane_config(n: usize, interface: &str) -> borderlane_live::config::ServeConfig {
    use borderlane_core::VehicleSpec;
    use borderlane_live::broker::EmbeddedSettings;
    use borderlane_live::config::{BrokerConfig, MetricsConfig, ServeConfig, TopicsConfig};
    let fleet = (0..n)
        .map(|i| {
            let side = if i % 2 == 0 { "VN" } else { "CN" };
            VehicleSpec {
                serial: format!("igv-{i:02}"),
                start: format!("{side}_PARK_{:02}", i / 2 + 1),
            }
        })
        .collect();
    let vda5050 = borderlane_vda5050::MasterConfig {
        interface_name: interface.to_string(),
        max_clock_skew_ms: 3_600_000,
        ..borderlane_vda5050::MasterConfig::default()
    };
    ServeConfig {
        name: format!("orchestrator-{interface}"),
        side: borderlane_live::scope::SideSel::Both,
        map: map_path(),
        broker: BrokerConfig::Embedded(EmbeddedSettings {
            port: 0,
            ..EmbeddedSettings::default()
        }),
        vda5050,
        metrics: MetricsConfig {
            listen: "127.0.0.1:0".to_string(),
        },
        topics: TopicsConfig::default(),
        ioc: None,
        core: borderlane_core::CoreConfig::default(),
        handoff: None,
        state: None,
        fleet,
    }
}

/// Starts one simulated vehicle per vehicle of the configuration, on the
/// broker at `host:port`, and waits until each is connected.
pub async fn start_vehicles(
    config: &borderlane_live::config::ServeConfig,
    host: &str,
    port: u16,
    clock: borderlane_live::clock::Clock,
) -> Vec<borderlane_live::vehicle::SimVehicle> {
    let map = borderlane_live::serve::load_map(&config.map).expect("the map");
    let base = borderlane_live::mqtt::MqttSettings::new(host, port, "unused");
    let mut out = Vec::new();
    for v in &config.fleet {
        let agent = borderlane_live::demo::agent_config(&config.vda5050, v, &config.core);
        let sim =
            borderlane_live::vehicle::SimVehicle::spawn(Arc::clone(&map), agent, &base, clock)
                .expect("the vehicle starts");
        assert!(
            sim.wait_connected(PATIENCE).await,
            "{} connected",
            sim.serial()
        );
        out.push(sim);
    }
    out
}

/// A job for container `i` from the `n`th yard slot of `side`.
pub fn job(i: usize, side: &str, n: usize) -> borderlane_core::io::JobRequest {
    borderlane_core::io::JobRequest {
        id: format!("job-{i:03}"),
        container: format!("CONT{i:07}"),
        pickup: format!("{side}_SLOT_{n:02}"),
        channel: borderlane_core::io::Channel::Green,
        customs_ms: 0,
        priority: 0,
        deadline: None,
    }
}

/// The value of the sample of metric `name` whose labels include every one
/// of `labels` (`key="value"`), in Prometheus' text format.
pub fn metric(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .find(|l| labels.iter().all(|kv| l.contains(kv)))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// The vehicle's state in the core, as the snapshot names it.
pub async fn state_of(o: &borderlane_live::serve::Orchestrator, serial: &str) -> String {
    let s = serial.to_string();
    o.inspect(move |core, _| {
        core.snapshot()
            .vehicles
            .into_iter()
            .find(|v| v.vehicle == s)
            .map(|v| v.state)
    })
    .await
    .flatten()
    .unwrap_or_default()
}

/// Waits until `check` holds for the vehicle's state; returns it.
pub async fn wait_state(
    o: &borderlane_live::serve::Orchestrator,
    serial: &str,
    check: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let state = state_of(o, serial).await;
        if check(&state) || tokio::time::Instant::now() > deadline {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the master control has had a state from the vehicle; false
/// if none came within `PATIENCE`.
pub async fn heard_from(o: &borderlane_live::serve::Orchestrator, serial: &str) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let s = serial.to_string();
        if o.inspect(move |_, m| m.last_state(&s).is_some())
            .await
            .unwrap_or(false)
        {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
