//! The operation center served by an orchestrator: it shows the live lane,
//! refuses actions to anonymous callers and viewers, and gives an
//! operator's actions to the core, recorded as operator inputs with the
//! operator's name so that replay reproduces them; what the core made of
//! each action goes back to the audit trail. It stops with the
//! orchestrator.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use borderlane_core::Event;
use borderlane_core::io::OperatorCommand;
use borderlane_ioc::{AuditEntry, IocConfig, Role, User, hash_password};
use borderlane_live::clock::Clock;
use borderlane_live::serve::Orchestrator;
use borderlane_record::{Entry, ReplayOptions, read_file, replay};
use common::{PATIENCE, http, lane_config, start_vehicles};

/// Signs in; returns the session cookie and the CSRF token.
async fn sign_in(addr: SocketAddr, name: &str, password: &str) -> (String, String) {
    let body = serde_json::json!({ "name": name, "password": password }).to_string();
    let a = http(addr, "POST", "/api/login", &[], &body).await;
    assert_eq!(a.status, 200, "{name}: {}", a.body);
    let cookie = a
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let info: serde_json::Value = serde_json::from_str(&a.body).expect("JSON");
    let csrf = info["csrf_token"]
        .as_str()
        .expect("a CSRF token")
        .to_string();
    (cookie, csrf)
}

/// Asks for an action as the signed-in user; returns the status and body.
async fn act(
    addr: SocketAddr,
    session: &(String, String),
    action: &str,
    body: &str,
) -> (u16, String) {
    let (cookie, csrf) = session;
    let a = http(
        addr,
        "POST",
        &format!("/api/actions/{action}"),
        &[("Cookie", cookie), ("X-CSRF-Token", csrf)],
        body,
    )
    .await;
    (a.status, a.body)
}

/// Waits until the audit entry of action `id` says what the core made of
/// it.
async fn outcome(o: &Orchestrator, id: u64) -> AuditEntry {
    let ioc = o.ioc().expect("served");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(e) = ioc
            .audit()
            .into_iter()
            .find(|e| e.action_id == Some(id) && e.applied.is_some())
        {
            return e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no outcome for {id}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn id_of(body: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
    v["id"].as_u64().expect("an action id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_actions_are_applied_recorded_and_replayed() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("live_ioc");
    std::fs::create_dir_all(&dir).expect("a folder");
    let record = dir.join("actions.mcap");
    let mut config = lane_config(2, "ioc");
    config.ioc = Some(IocConfig {
        users: vec![
            User {
                name: "olga".into(),
                role: Role::Operator,
                password_hash: hash_password("operator-pw").expect("hashed"),
            },
            User {
                name: "viktor".into(),
                role: Role::Viewer,
                password_hash: hash_password("viewer-pw").expect("hashed"),
            },
        ],
        ..IocConfig::default()
    });
    let clock = Clock::scaled(20.0);
    let o = Orchestrator::start_recording(&config, clock, None, Some(&record))
        .await
        .expect("the orchestrator starts");
    assert!(o.wait_connected(PATIENCE).await);
    let url = o
        .ioc_url()
        .expect("the operation center is served")
        .to_string();
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("a socket address");
    let b = o.broker().expect("embedded").clone();
    let vehicles = start_vehicles(&config, &b.connect_host(), b.port(), clock).await;

    // The view is there for anyone, with both vehicles, and keeps up with
    // the core's clock.
    let (status, first) = common::http_get(addr, "/api/snapshot").await;
    assert_eq!(status, 200, "{first}");
    let first: serde_json::Value = serde_json::from_str(&first).expect("JSON");
    assert_eq!(first["side"], "both");
    assert_eq!(first["view"]["vehicles"].as_array().map(Vec::len), Some(2));
    let later = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (_, body) = common::http_get(addr, "/api/snapshot").await;
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        if v["view"]["now_ms"] != first["view"]["now_ms"] {
            break v;
        }
    };
    assert!(later["view"]["now_ms"].as_u64() > first["view"]["now_ms"].as_u64());

    // Nobody but an operator may act.
    let anonymous = http(addr, "POST", "/api/actions/pause_lane", &[], "").await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let viewer = sign_in(addr, "viktor", "viewer-pw").await;
    assert_eq!(act(addr, &viewer, "pause_lane", "").await.0, 403);

    // The operator pauses the lane: the core applies it and every vehicle
    // is paused.
    let operator = sign_in(addr, "olga", "operator-pw").await;
    let (status, body) = act(addr, &operator, "pause_lane", "").await;
    assert_eq!(status, 202, "{body}");
    let paused = outcome(&o, id_of(&body)).await;
    assert_eq!(paused.applied, Some(true), "{paused:?}");
    let states = o
        .inspect(|core, _| {
            core.snapshot()
                .vehicles
                .into_iter()
                .map(|v| v.state)
                .collect::<Vec<_>>()
        })
        .await
        .expect("running");
    assert_eq!(states, ["paused", "paused"]);

    // A job the core does not know cannot be cancelled; the audit trail
    // says why.
    let (status, body) = act(addr, &operator, "cancel_job", r#"{"job":"job-404"}"#).await;
    assert_eq!(status, 202, "{body}");
    let refused = outcome(&o, id_of(&body)).await;
    assert_eq!(refused.applied, Some(false), "{refused:?}");
    assert!(
        refused
            .core_reason
            .as_deref()
            .is_some_and(|r| r.contains("job-404")),
        "{refused:?}"
    );

    for v in vehicles {
        v.shutdown().await;
    }
    o.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the operation center stopped with the orchestrator"
    );

    // Both actions are operator inputs of the recording, with who gave
    // them, each followed by the core's answer; the recording replays with
    // no difference.
    let r = read_file(&record).expect("the recording reads");
    let actions: Vec<(usize, &str, &OperatorCommand)> = r
        .entries
        .iter()
        .enumerate()
        .filter_map(|(i, (_, e))| match e {
            Entry::Operator(op) => Some((i, op.user.as_str(), &op.command)),
            _ => None,
        })
        .collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert_eq!(
        (actions[0].1, actions[0].2),
        ("olga", &OperatorCommand::PauseLane)
    );
    assert_eq!(
        (actions[1].1, actions[1].2),
        (
            "olga",
            &OperatorCommand::CancelJob {
                job: "job-404".into()
            }
        )
    );
    let answer = |i: usize| {
        r.entries[i + 1..]
            .iter()
            .take_while(|(_, e)| !e.is_input())
            .filter_map(|(_, e)| match e {
                Entry::Event(ev) => Some(ev.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(answer(actions[0].0).contains(&Event::LanePaused));
    assert!(
        answer(actions[1].0)
            .iter()
            .any(|e| matches!(e, Event::InputRejected { .. }))
    );
    let out = replay(&r, &ReplayOptions::default()).expect("it replays");
    assert!(
        out.differences.is_empty(),
        "{} differences; the first:\n{}",
        out.differences.len(),
        out.differences[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let mut config = lane_config(1, "ioc-port");
    config.ioc = Some(IocConfig {
        listen: taken.local_addr().expect("its address"),
        ..IocConfig::default()
    });
    let err = match Orchestrator::start(&config, Clock::wall(), None).await {
        Ok(o) => {
            o.shutdown().await;
            panic!("started on a taken port");
        }
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(
        text.contains("operation center")
            && text.contains(&taken.local_addr().unwrap().to_string()),
        "{text}"
    );
    assert!(!err.is_config());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_account_is_refused_naming_it() {
    let mut config = lane_config(1, "ioc-bad");
    config.ioc = Some(IocConfig {
        users: vec![User {
            name: "olga".into(),
            role: Role::Operator,
            password_hash: "not a hash".into(),
        }],
        ..IocConfig::default()
    });
    let err = match Orchestrator::start(&config, Clock::wall(), None).await {
        Ok(o) => {
            o.shutdown().await;
            panic!("started with a bad hash");
        }
        Err(e) => e,
    };
    assert!(err.is_config());
    assert!(err.to_string().contains("ioc.users[0]"), "{err}");
}
