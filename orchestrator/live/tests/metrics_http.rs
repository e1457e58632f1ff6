//! The metrics endpoint answers over HTTP with every metric family.

mod common;

use std::sync::Arc;

use borderlane_live::metrics::{Metrics, MetricsServer};
use common::{http_get, metric};

#[tokio::test]
async fn metrics_answer_over_http_with_the_named_families() {
    let metrics = Arc::new(Metrics::new("VN"));
    metrics.jobs_done.inc();
    metrics.reject("malformed_json");
    metrics.message("in", "uagv/v2/acme/igv-1/state");
    let server = MetricsServer::start(Arc::clone(&metrics), "127.0.0.1:0")
        .await
        .expect("the endpoint starts");
    assert_ne!(server.addr().port(), 0, "the bound port is reported");
    assert_eq!(server.url(), format!("http://{}/metrics", server.addr()));

    let (status, body) = http_get(server.addr(), "/metrics").await;
    assert_eq!(status, 200, "{body}");
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
            body.contains(&format!("# TYPE {family} ")),
            "{family} missing:\n{body}"
        );
    }
    assert_eq!(
        metric(&body, "borderlane_jobs_done_total", &["side=\"VN\""]),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &body,
            "borderlane_rejected_messages_total",
            &["reason=\"malformed_json\""]
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        metric(
            &body,
            "borderlane_mqtt_messages_total",
            &["direction=\"in\"", "kind=\"state\""]
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        metric(&body, "borderlane_vehicles", &["state=\"link_lost\""]),
        Some(0.0),
        "{body}"
    );

    let (status, _) = http_get(server.addr(), "/nothing-here").await;
    assert_eq!(status, 404);
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_listen_address_is_a_clear_error() {
    let err = MetricsServer::start(Arc::new(Metrics::new("CN")), "not an address")
        .await
        .err()
        .expect("the address is not valid");
    assert!(err.to_string().contains("not an address"), "{err}");
}
