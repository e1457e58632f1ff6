//! Prometheus metrics of one orchestrator, and the HTTP endpoint that
//! serves them at `/metrics`.
//!
//! Every family is registered, and every label value known in advance is
//! touched, when [`Metrics::new`] runs, so a scrape shows each family from
//! the start, with zeros.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use tokio::task::JoinHandle;

/// The states a vehicle can be in, as `Core::snapshot` names them.
pub const VEHICLE_STATES: [&str; 7] = [
    "driving",
    "idle",
    "charging",
    "held",
    "paused",
    "broken",
    "link_lost",
];

/// The directions of a crossing.
pub const DIRECTIONS: [&str; 2] = ["VN->CN", "CN->VN"];

/// Topic kinds counted from the start. Others are counted as they come.
pub const TOPIC_KINDS: [&str; 9] = [
    "order",
    "instantActions",
    "state",
    "connection",
    "factsheet",
    "visualization",
    "jobs",
    "operator",
    "events",
];

/// Rejection reasons counted from the start. Others are counted as they
/// come.
pub const SHELL_REJECT_REASONS: [&str; 5] = [
    "malformed_json",
    "oversized",
    "wrong_side",
    "unknown_topic",
    "core_rejected",
];

/// The metrics of one orchestrator.
pub struct Metrics {
    registry: Registry,
    pub vehicles: IntGaugeVec,
    pub jobs_queued: IntGauge,
    pub jobs_active: IntGauge,
    pub jobs_done: IntCounter,
    pub crossings: IntCounterVec,
    pub crossing_seconds: Histogram,
    pub messages: IntCounterVec,
    pub rejected: IntCounterVec,
    pub plan_latency_seconds: Histogram,
    pub reservations: IntGauge,
    pub mqtt_connected: IntGauge,
    pub mqtt_connections: IntCounter,
    pub mqtt_dropped: IntCounter,
}

impl Metrics {
    /// Registers every family, with `side` (VN, CN or both) as a constant
    /// label.
    pub fn new(side: &str) -> Metrics {
        let registry = Registry::new_custom(
            Some("borderlane".to_string()),
            Some(std::collections::HashMap::from([(
                "side".to_string(),
                side.to_string(),
            )])),
        )
        .unwrap_or_default();
        let m = Metrics {
            vehicles: IntGaugeVec::new(Opts::new("vehicles", "Vehicles by state."), &["state"])
                .expect("a valid metric"),
            jobs_queued: IntGauge::new("jobs_queued", "Jobs waiting for a vehicle.")
                .expect("a valid metric"),
            jobs_active: IntGauge::new("jobs_active", "Jobs assigned to a vehicle, not delivered.")
                .expect("a valid metric"),
            jobs_done: IntCounter::new("jobs_done_total", "Jobs delivered.")
                .expect("a valid metric"),
            crossings: IntCounterVec::new(
                Opts::new("crossings_total", "Containers delivered across the border."),
                &["direction"],
            )
            .expect("a valid metric"),
            crossing_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "crossing_seconds",
                    "Time from a job's arrival to its delivery, seconds of the shell's clock.",
                )
                .buckets(vec![
                    300.0, 600.0, 900.0, 1_200.0, 1_800.0, 2_700.0, 3_600.0, 7_200.0, 14_400.0,
                    28_800.0,
                ]),
            )
            .expect("a valid metric"),
            messages: IntCounterVec::new(
                Opts::new(
                    "mqtt_messages_total",
                    "MQTT messages by direction and topic kind.",
                ),
                &["direction", "kind"],
            )
            .expect("a valid metric"),
            rejected: IntCounterVec::new(
                Opts::new("rejected_messages_total", "Rejected messages by reason."),
                &["reason"],
            )
            .expect("a valid metric"),
            plan_latency_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "plan_latency_seconds",
                    "Wall time of one step of the core (one input or timeout), seconds.",
                )
                .buckets(vec![
                    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
                    0.25, 0.5, 1.0,
                ]),
            )
            .expect("a valid metric"),
            reservations: IntGauge::new("reservations", "Reservations in the core's table.")
                .expect("a valid metric"),
            mqtt_connected: IntGauge::new(
                "mqtt_connected",
                "1 while the orchestrator's MQTT connection is up, else 0.",
            )
            .expect("a valid metric"),
            mqtt_connections: IntCounter::new(
                "mqtt_connections_total",
                "MQTT connections the broker acknowledged (1 plus reconnections).",
            )
            .expect("a valid metric"),
            mqtt_dropped: IntCounter::new(
                "mqtt_dropped_total",
                "Publishes dropped because the link was down too long.",
            )
            .expect("a valid metric"),
            registry,
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(m.vehicles.clone()),
            Box::new(m.jobs_queued.clone()),
            Box::new(m.jobs_active.clone()),
            Box::new(m.jobs_done.clone()),
            Box::new(m.crossings.clone()),
            Box::new(m.crossing_seconds.clone()),
            Box::new(m.messages.clone()),
            Box::new(m.rejected.clone()),
            Box::new(m.plan_latency_seconds.clone()),
            Box::new(m.reservations.clone()),
            Box::new(m.mqtt_connected.clone()),
            Box::new(m.mqtt_connections.clone()),
            Box::new(m.mqtt_dropped.clone()),
        ];
        for c in collectors {
            if let Err(e) = m.registry.register(c) {
                tracing::error!(error = %e, "a metric could not be registered");
            }
        }
        for s in VEHICLE_STATES {
            m.vehicles.with_label_values(&[s]).set(0);
        }
        for d in DIRECTIONS {
            m.crossings.with_label_values(&[d]);
        }
        for dir in ["in", "out"] {
            for k in TOPIC_KINDS {
                m.messages.with_label_values(&[dir, k]);
            }
        }
        for r in SHELL_REJECT_REASONS {
            m.rejected.with_label_values(&[r]);
        }
        m
    }

    /// Counts one message in or out, by the kind of its topic.
    pub fn message(&self, direction: &str, topic: &str) {
        self.messages
            .with_label_values(&[direction, topic_kind(topic)])
            .inc();
    }

    /// Counts one rejected message.
    pub fn reject(&self, reason: &str) {
        self.rejected.with_label_values(&[reason]).inc();
    }

    /// Sets the vehicle counts from the states of all vehicles.
    pub fn set_vehicle_states<'a>(&self, states: impl IntoIterator<Item = &'a str>) {
        let mut counts = [0i64; VEHICLE_STATES.len()];
        for s in states {
            if let Some(i) = VEHICLE_STATES.iter().position(|k| *k == s) {
                counts[i] += 1;
            }
        }
        for (s, n) in VEHICLE_STATES.iter().zip(counts) {
            self.vehicles.with_label_values(&[s]).set(n);
        }
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "the metrics could not be encoded");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// The kind of a topic, for the message counters: its last level if that
/// is one of the known kinds, else "other". Keeping the set closed keeps a
/// flood of odd topics from growing the metrics without bound.
pub fn topic_kind(topic: &str) -> &'static str {
    let last = topic.rsplit('/').next().unwrap_or("");
    TOPIC_KINDS
        .iter()
        .find(|k| **k == last)
        .copied()
        .unwrap_or("other")
}

/// The HTTP endpoint serving `/metrics`.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// Listens on `listen` (port 0 picks a free port) and serves the
    /// metrics until stopped.
    pub async fn start(metrics: Arc<Metrics>, listen: &str) -> std::io::Result<MetricsServer> {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            std::io::Error::new(e.kind(), format!("metrics listen = {listen:?}: {e}"))
        })?;
        let addr = listener.local_addr()?;
        let app = Router::new()
            .route("/metrics", get(scrape))
            .with_state(metrics);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the metrics endpoint stopped");
            }
        });
        tracing::info!(url = %format!("http://{addr}/metrics"), "metrics endpoint listening");
        Ok(MetricsServer {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of the metrics.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// Stops serving.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

async fn scrape(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    ([(CONTENT_TYPE, prometheus::TEXT_FORMAT)], metrics.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_shows_from_the_start() {
        let m = Metrics::new("VN");
        let text = m.render();
        for family in [
            "borderlane_vehicles",
            "borderlane_jobs_queued",
            "borderlane_jobs_active",
            "borderlane_jobs_done_total",
            "borderlane_crossings_total",
            "borderlane_crossing_seconds",
            "borderlane_mqtt_messages_total",
            "borderlane_rejected_messages_total",
            "borderlane_plan_latency_seconds",
            "borderlane_reservations",
            "borderlane_mqtt_connected",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{family}: {text}"
            );
        }
        assert!(text.contains("side=\"VN\""));
    }

    #[test]
    fn topic_kinds_are_a_closed_set() {
        assert_eq!(topic_kind("uagv/v2/acme/igv-1/state"), "state");
        assert_eq!(topic_kind("borderlane/v1/vn/jobs"), "jobs");
        assert_eq!(topic_kind("x/y/anything"), "other");
        assert_eq!(topic_kind(""), "other");
    }

    #[test]
    fn vehicle_states_are_counted() {
        let m = Metrics::new("both");
        m.set_vehicle_states(["idle", "idle", "driving", "bogus"]);
        assert_eq!(m.vehicles.with_label_values(&["idle"]).get(), 2);
        assert_eq!(m.vehicles.with_label_values(&["driving"]).get(), 1);
        assert_eq!(m.vehicles.with_label_values(&["held"]).get(), 0);
    }
}
