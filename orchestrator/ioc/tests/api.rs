//! The JSON API driven in process: sign-in, roles, CSRF, the audit trail,
//! the event stream, the OpenAPI description and bad bodies.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use borderlane_core::io::OperatorCommand;
use borderlane_core::{Core, CoreConfig, VehicleSpec};
use borderlane_ioc::{
    Alarm, Ioc, IocConfig, LiveView, Role, Severity, User, ViewHistory, hash_password,
    view_from_core,
};
use borderlane_model::LaneMap;
use futures_util::StreamExt;
use tower::ServiceExt;

const MAP: &str = include_str!("../../../maps/bac_luan_ii.geojson");

fn map() -> Arc<LaneMap> {
    static MAP_CELL: OnceLock<Arc<LaneMap>> = OnceLock::new();
    Arc::clone(
        MAP_CELL.get_or_init(|| {
            Arc::new(LaneMap::from_geojson(MAP).expect("the shipped map is valid"))
        }),
    )
}

/// The two accounts of every test, hashed once.
fn users() -> Vec<User> {
    static USERS: OnceLock<Vec<User>> = OnceLock::new();
    USERS
        .get_or_init(|| {
            vec![
                User {
                    name: "olga".into(),
                    role: Role::Operator,
                    password_hash: hash_password("operator-pw").expect("hashing works"),
                },
                User {
                    name: "viktor".into(),
                    role: Role::Viewer,
                    password_hash: hash_password("viewer-pw").expect("hashing works"),
                },
            ]
        })
        .clone()
}

fn ioc_with(config: IocConfig) -> Ioc {
    Ioc::new(
        map(),
        IocConfig {
            users: users(),
            side: "VN".into(),
            ..config
        },
    )
}

fn ioc() -> Ioc {
    ioc_with(IocConfig::default())
}

/// A view from a small core: two vehicles in the Vietnamese yard.
fn a_view() -> LiveView {
    let config = CoreConfig {
        fleet: vec![
            VehicleSpec {
                serial: "igv-001".into(),
                start: "VN_PARK_01".into(),
            },
            VehicleSpec {
                serial: "igv-002".into(),
                start: "VN_PARK_02".into(),
            },
        ],
        ..CoreConfig::default()
    };
    let mut core = Core::new(map(), config).expect("the fleet starts on parking places");
    core.handle_timeout(1_000);
    while core.poll_output().is_some() {}
    view_from_core(&mut core, &mut ViewHistory::new())
}

/// An operation center showing `a_view()`, and its router.
fn serving_a_view() -> (Ioc, Router) {
    let ioc = ioc();
    ioc.publish(a_view());
    let app = ioc.router();
    (ioc, app)
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

async fn call(app: &Router, req: Request<Body>) -> Reply {
    let res = app
        .clone()
        .oneshot(req)
        .await
        .expect("the router never fails");
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), 1 << 24)
        .await
        .expect("a body");
    Reply {
        status,
        headers,
        body,
    }
}

/// A session: its cookie and CSRF token.
#[derive(Clone, Debug, Default)]
struct As {
    cookie: Option<String>,
    csrf: Option<String>,
}

/// Nobody signed in.
const NOBODY: As = As {
    cookie: None,
    csrf: None,
};

impl As {
    /// The same session's cookie with `csrf` for its token.
    fn with_csrf(&self, csrf: Option<String>) -> As {
        As {
            csrf,
            ..self.clone()
        }
    }
}

fn request(method: Method, path: &str, who: &As, body: &str) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(c) = &who.cookie {
        b = b.header(header::COOKIE, c);
    }
    if let Some(t) = &who.csrf {
        b = b.header("X-CSRF-Token", t);
    }
    b.body(Body::from(body.to_string()))
        .expect("a valid request")
}

/// `path` fetched as `who`.
async fn get(app: &Router, path: &str, who: &As) -> Reply {
    call(app, request(Method::GET, path, who, "")).await
}

/// `body` posted to `path` as `who`.
async fn post(app: &Router, path: &str, who: &As, body: &str) -> Reply {
    call(app, request(Method::POST, path, who, body)).await
}

/// `body` posted as `who` to the route of the operator action `action`.
async fn act(app: &Router, action: &str, who: &As, body: &str) -> Reply {
    post(app, &format!("/api/actions/{action}"), who, body).await
}

/// A sign-in attempt, from no session.
async fn post_login(app: &Router, name: &str, password: &str) -> Reply {
    let body = serde_json::json!({ "name": name, "password": password }).to_string();
    post(app, "/api/login", &NOBODY, &body).await
}

/// `req` through a trusted proxy that names the user "pham" in `role`.
async fn via_proxy(app: &Router, role: &str, req: Request<Body>) -> Reply {
    let (mut parts, body) = req.into_parts();
    parts
        .headers
        .insert("x-remote-user", "pham".parse().expect("a header"));
    parts
        .headers
        .insert("x-remote-role", role.parse().expect("a header"));
    call(app, Request::from_parts(parts, body)).await
}

async fn login(app: &Router, name: &str, password: &str) -> As {
    let r = post_login(app, name, password).await;
    assert_eq!(r.status, StatusCode::OK, "login {name}: {}", r.error());
    let set = r.headers[header::SET_COOKIE]
        .to_str()
        .expect("ASCII")
        .to_string();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    let cookie = set.split(';').next().expect("a cookie").to_string();
    let j = r.json();
    As {
        cookie: Some(cookie),
        csrf: Some(j["csrf_token"].as_str().expect("a token").to_string()),
    }
}

/// olga, the operator, signed in.
async fn sign_in_operator(app: &Router) -> As {
    login(app, "olga", "operator-pw").await
}

/// viktor, the viewer, signed in.
async fn sign_in_viewer(app: &Router) -> As {
    login(app, "viktor", "viewer-pw").await
}

#[tokio::test]
async fn operators_act_viewers_and_strangers_are_refused_and_all_is_audited() {
    let (ioc, app) = serving_a_view();

    let op = sign_in_operator(&app).await;
    let viewer = sign_in_viewer(&app).await;

    // Who am I.
    let r = get(&app, "/api/session", &viewer).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["role"], "viewer");

    // A wrong password is refused.
    let r = post_login(&app, "olga", "nope").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers.get(header::SET_COOKIE).is_none());

    // The operator pauses the lane.
    let r = act(&app, "pause_lane", &op, "").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.error());
    let id = r.json()["id"].as_u64().expect("an id");

    // The viewer may not, with or without a token.
    let r = act(&app, "pause_lane", &viewer, "{}").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.error().contains("viewer"), "{}", r.error());

    // Without the CSRF token, or with another session's, the operator may
    // not either.
    let no_token = op.with_csrf(None);
    let r = act(&app, "resume_lane", &no_token, "{}").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.error().contains("X-CSRF-Token"), "{}", r.error());
    let wrong_token = op.with_csrf(viewer.csrf.clone());
    let r = act(&app, "resume_lane", &wrong_token, "{}").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Nobody signed in: 401.
    let r = act(&app, "pause_lane", &NOBODY, "{}").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // A vehicle action names a vehicle of the fleet.
    let r = act(&app, "pause_vehicle", &op, r#"{"vehicle":"igv-002"}"#).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.error());

    // Exactly the accepted actions reach the shell, with who asked.
    let actions = ioc.take_actions();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert_eq!(actions[0].id, id);
    assert_eq!(actions[0].user, "olga");
    assert_eq!(actions[0].command, OperatorCommand::PauseLane);
    assert_eq!(actions[0].at_ms, 1_000);
    assert_eq!(
        actions[1].command,
        OperatorCommand::PauseVehicle {
            vehicle: "igv-002".into()
        }
    );
    assert!(ioc.take_actions().is_empty());

    // The shell tells what the core made of the first.
    ioc.action_outcome(id, Ok(()));

    // The audit trail: readable when signed in, not by strangers.
    let r = get(&app, "/api/audit", &NOBODY).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = get(&app, "/api/audit", &viewer).await;
    assert_eq!(r.status, StatusCode::OK);
    let audit = r.json();
    let entries = audit.as_array().expect("a list");
    let find = |user: &str, action: &str, accepted: bool| {
        entries
            .iter()
            .find(|e| e["user"] == user && e["action"] == action && e["accepted"] == accepted)
    };
    let accepted = find("olga", "pause_lane", true).expect("the operator's pause is recorded");
    assert_eq!(accepted["action_id"].as_u64(), Some(id));
    assert_eq!(accepted["detail"]["command"], "pause_lane");
    assert_eq!(accepted["applied"], true);
    let refused = find("viktor", "pause_lane", false).expect("the viewer's pause is recorded");
    assert!(refused["reason"].as_str().unwrap_or("").contains("viewer"));
    assert!(
        find("olga", "resume_lane", false).is_some(),
        "the refusals for the token are recorded"
    );
    assert!(find("anonymous", "pause_lane", false).is_some());
    assert!(
        find("olga", "login", false).is_some(),
        "the wrong password is recorded"
    );
    assert!(find("viktor", "login", true).is_some());

    // Signing out ends the session.
    let r = post(&app, "/api/logout", &op, "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = act(&app, "pause_lane", &op, "{}").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_bodies_get_400_naming_the_problem_and_change_nothing() {
    let (ioc, app) = serving_a_view();
    let op = sign_in_operator(&app).await;
    let audit_before = ioc.audit().len();

    let cases: [(&str, &str, &str); 7] = [
        ("/api/actions/pause_lane", "not json", "expected"),
        ("/api/actions/block_place", "{}", "missing field `node`"),
        ("/api/actions/block_place", r#"{"node": 7}"#, "invalid type"),
        (
            "/api/actions/block_place",
            r#"{"node":"VN_Q1","why":"x"}"#,
            "unknown field `why`",
        ),
        (
            "/api/actions/reprioritise",
            r#"{"job":"job-1","priority":300}"#,
            "u8",
        ),
        ("/api/actions/pause_vehicle", r#"{"vehicle":"#, "EOF"),
        (
            "/api/login",
            r#"{"name":"olga"}"#,
            "missing field `password`",
        ),
    ];
    for (path, body, says) in cases {
        let r = post(&app, path, &op, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path} {body}");
        let e = r.error();
        assert!(e.contains(says), "{path} {body}: {e:?} should say {says:?}");
        assert!(e.contains("request body"), "{e}");
    }
    assert!(ioc.take_actions().is_empty(), "nothing reaches the shell");
    assert_eq!(
        ioc.audit().len(),
        audit_before,
        "malformed requests are not actions"
    );

    // Well-formed but naming what does not exist: 400, and refused in the
    // audit trail.
    let r = act(&app, "block_place", &op, r#"{"node":"NOWHERE"}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.error().contains("\"NOWHERE\" is not on the map"),
        "{}",
        r.error()
    );
    let r = act(&app, "send_to_charger", &op, r#"{"vehicle":"igv-999"}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("igv-999"), "{}", r.error());
    assert!(ioc.take_actions().is_empty());
    let audit = ioc.audit();
    assert_eq!(audit.len(), audit_before + 2);
    assert!(audit.iter().rev().take(2).all(|e| !e.accepted));

    // A blocked place that exists is accepted.
    let r = act(&app, "block_place", &op, r#"{"node":"BORDER_NB"}"#).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.error());
    assert_eq!(
        ioc.take_actions()[0].command,
        OperatorCommand::BlockPlace {
            node: "BORDER_NB".into()
        }
    );
}

#[tokio::test]
async fn the_stream_sends_the_published_view_and_alarms() {
    let ioc = ioc();
    let view = a_view();
    ioc.publish(view.clone());
    ioc.push_alarm(Alarm {
        at_ms: 900,
        severity: Severity::Error,
        kind: "vehicle_broken".into(),
        vehicle: Some("igv-001".into()),
        message: "igv-001 broke down at VN_Q1".into(),
    });
    let app = ioc.router();
    let res = app
        .clone()
        .oneshot(request(Method::GET, "/api/stream", &NOBODY, ""))
        .await
        .expect("a response");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE].to_str().unwrap_or(""),
        "text/event-stream"
    );
    let mut body = res.into_body().into_data_stream();
    let mut text = String::new();
    // The first frame comes at once; the second within about a second
    // even though nothing changed. Both are awaited with a generous limit.
    let frames = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let chunk = body
                .next()
                .await
                .expect("the stream goes on")
                .expect("data");
            text.push_str(&String::from_utf8_lossy(&chunk));
            let frames: Vec<&str> = text
                .split("\n\n")
                .filter(|e| e.starts_with("event: frame"))
                .collect();
            if frames.len() >= 2 {
                return frames.iter().map(|f| f.to_string()).collect::<Vec<_>>();
            }
        }
    })
    .await
    .expect("two frames within the limit");
    let data: String = frames[0]
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    let frame: serde_json::Value = serde_json::from_str(&data).expect("a JSON frame");
    assert_eq!(frame["side"], "VN");
    let sent: LiveView = serde_json::from_value(frame["view"].clone()).expect("a LiveView");
    assert_eq!(sent, view);
    assert_eq!(frame["alarms"][0]["kind"], "vehicle_broken");

    // The snapshot says the same.
    let r = get(&app, "/api/snapshot", &NOBODY).await;
    assert_eq!(r.status, StatusCode::OK);
    let snap: LiveView = serde_json::from_value(r.json()["view"].clone()).expect("a LiveView");
    assert_eq!(snap, view);
}

#[tokio::test]
async fn the_openapi_description_lists_every_route() {
    let app = ioc().router();
    let r = get(&app, "/api/openapi.json", &NOBODY).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3."));
    let paths = doc["paths"].as_object().expect("paths");
    for action in [
        "pause_lane",
        "resume_lane",
        "block_place",
        "unblock_place",
        "cancel_job",
        "reprioritise",
        "pause_vehicle",
        "resume_vehicle",
        "send_to_charger",
        "send_to_parking",
    ] {
        let p = format!("/api/actions/{action}");
        assert!(paths[&p]["post"].is_object(), "{p} is described");
    }
    for p in [
        "/api/snapshot",
        "/api/map",
        "/api/stream",
        "/api/audit",
        "/api/session",
        "/api/login",
        "/api/logout",
    ] {
        assert!(paths.contains_key(p), "{p} is described");
    }
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for s in [
        "LiveView",
        "MapView",
        "AuditEntry",
        "ActionAccepted",
        "ApiError",
    ] {
        assert!(schemas.contains_key(s), "schema {s}");
    }
}

#[tokio::test]
async fn the_page_and_map_are_served_with_safe_headers() {
    let ioc = ioc_with(IocConfig {
        cookie_secure: true,
        ..IocConfig::default()
    });
    let app = ioc.router();
    for (path, kind) in [
        ("/", "text/html"),
        ("/app.js", "text/javascript"),
        ("/style.css", "text/css"),
        ("/api/map", "application/json"),
    ] {
        let r = get(&app, path, &NOBODY).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let ct = r.headers[header::CONTENT_TYPE].to_str().unwrap_or("");
        assert!(ct.starts_with(kind), "{path}: {ct}");
        let csp = r.headers["content-security-policy"].to_str().unwrap_or("");
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
    }
    let r = get(&app, "/api/map", &NOBODY).await;
    let m = r.json();
    assert_eq!(m["nodes"].as_array().map(Vec::len), Some(map().nodes.len()));
    let border = m["lane"]["border_m"].as_f64().expect("a border");
    let (start, end) = (
        m["lane"]["bridge_start_m"].as_f64().expect("a bridge"),
        m["lane"]["bridge_end_m"].as_f64().expect("a bridge"),
    );
    assert!(start < border && border < end, "{start} {border} {end}");
    // The border is 154.5 m from the Vietnamese bridge end.
    assert!((border - start - 154.5).abs() < 1.0, "{start} {border}");

    let r = get(&app, "/nowhere", &NOBODY).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.error().is_empty());

    let r = post_login(&app, "olga", "operator-pw").await;
    let set = r.headers[header::SET_COOKIE].to_str().unwrap_or("");
    assert!(set.contains("; Secure"), "{set}");
}

#[tokio::test]
async fn a_private_view_needs_a_session() {
    let ioc = ioc_with(IocConfig {
        public_view: false,
        ..IocConfig::default()
    });
    let app = ioc.router();
    for path in ["/api/snapshot", "/api/map", "/api/stream"] {
        let r = get(&app, path, &NOBODY).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let viewer = sign_in_viewer(&app).await;
    let r = get(&app, "/api/map", &viewer).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn a_trusted_proxy_names_the_user_from_loopback_only() {
    let config = IocConfig {
        trusted_proxy_header: Some("X-Remote-User".into()),
        trusted_proxy_role_header: Some("X-Remote-Role".into()),
        ..IocConfig::default()
    };
    let proxied = |peer: SocketAddr| {
        let ioc = ioc_with(config.clone());
        let app = ioc.router().layer(MockConnectInfo(peer));
        (ioc, app)
    };
    let session = || request(Method::GET, "/api/session", &NOBODY, "");

    let (ioc, app) = proxied(SocketAddr::from(([127, 0, 0, 1], 40_000)));
    let r = via_proxy(&app, "operator", session()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["proxied"], true);
    let csrf = r.json()["csrf_token"]
        .as_str()
        .expect("a token")
        .to_string();
    let who = As {
        cookie: None,
        csrf: Some(csrf),
    };
    let pause = || request(Method::POST, "/api/actions/pause_lane", &who, "");
    let r = via_proxy(&app, "operator", pause()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.error());
    let r = via_proxy(&app, "viewer", pause()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(ioc.take_actions()[0].user, "pham");

    // From elsewhere the header means nothing.
    let (ioc, app) = proxied(SocketAddr::from(([192, 0, 2, 9], 40_000)));
    let r = via_proxy(&app, "operator", session()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = via_proxy(&app, "operator", pause()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(ioc.take_actions().is_empty());
}

#[tokio::test]
async fn a_real_server_listens_on_loopback_and_stops_with_its_streams() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ioc = ioc();
    ioc.publish(a_view());
    let server = ioc.clone().bind().await.expect("a free port on loopback");
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback());
    assert_eq!(ioc.local_addr(), Some(addr));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(async move {
        let _ = stopped.await;
    }));

    // Open a stream and read its first frame.
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    s.write_all(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("writes");
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("event: frame") {
            let n = s.read(&mut buf).await.expect("reads");
            assert!(n > 0, "the stream ended early");
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("a frame within the limit");

    // Shutting down ends the stream and the server.
    let _ = stop.send(());
    let served = tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the server stops within the limit")
        .expect("the task ran");
    assert!(served.is_ok(), "{served:?}");
}

#[test]
fn hashes_verify_and_bad_configurations_are_named() {
    let h = hash_password("pw").expect("hashing works");
    assert!(borderlane_ioc::verify_password("pw", &h));
    assert!(!borderlane_ioc::verify_password("px", &h));
    let config = IocConfig {
        users: vec![
            User {
                name: "a".into(),
                role: Role::Viewer,
                password_hash: "plain".into(),
            },
            User {
                name: "a".into(),
                role: Role::Viewer,
                password_hash: h,
            },
        ],
        trusted_proxy_header: Some("bad header".into()),
        ..IocConfig::default()
    };
    let errors: Vec<String> = config
        .validate()
        .expect_err("three problems")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].contains("users[0]") && errors[0].contains("password_hash"));
    assert!(errors[1].contains("users[1]") && errors[1].contains("twice"));
    assert!(errors[2].contains("trusted_proxy_header"));
    assert!(IocConfig::default().listen.ip().is_loopback());
}
