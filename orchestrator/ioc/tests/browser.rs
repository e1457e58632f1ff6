//! End to end in a real browser: Debian's headless Chromium, driven over
//! the WebDriver protocol through chromedriver, loads the operation center
//! of a simulated lane running in accelerated virtual time. It sees the
//! vehicles and the time–distance diagram move, a viewer's pause refused,
//! an operator's pause stop every vehicle, and saves a screenshot (to
//! `docs/ioc.png` with `BORDERLANE_BLESS=1`).
//!
//! Skipped, with a note, where /usr/bin/chromium or /usr/bin/chromedriver
//! is missing.

mod common;
mod webdriver;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use borderlane_ioc::{Ioc, IocConfig, Role, User, hash_password};
use common::{HOUR, Lane};
use webdriver::{Driver, PATIENCE, browser_missing};

#[test]
fn the_page_shows_the_lane_move_and_an_operator_pause_it() {
    if browser_missing("the browser test") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let users = vec![
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
    ];

    // The lane, run to the morning so that there is traffic, with a track
    // of the last hour.
    let mut lane = Lane::baseline();
    lane.run_to(7 * HOUR, 60_000, None);
    let ioc = Ioc::new(
        Arc::clone(&lane.map),
        IocConfig {
            users,
            side: "both".into(),
            ..IocConfig::default()
        },
    );
    lane.run_to(8 * HOUR, 5_000, Some(&ioc));

    let server = rt.block_on(ioc.clone().bind()).expect("a port on loopback");
    let addr: SocketAddr = server.local_addr();
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = rt.spawn(server.serve(async move {
        let _ = stopped.await;
    }));

    // The lane runs thirty times faster than the wall clock: 3 s of virtual
    // time every 100 ms, each step publishing a view and applying actions.
    let running = Arc::new(AtomicBool::new(true));
    let sim = {
        let running = Arc::clone(&running);
        let ioc = ioc.clone();
        std::thread::spawn(move || {
            while running.load(Ordering::Relaxed) {
                lane.apply_actions(&ioc);
                let end = lane.harness.now() + 3_000;
                lane.run_to(end, 1_000, Some(&ioc));
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let driver = Driver::start();
    driver.go(&format!("http://{addr}/"));
    driver.wait_for_lane(12);

    // The vehicles and the lines move.
    let moving = driver.wait_for_movement();
    assert_eq!(moving["status"], "lane running");

    // A viewer may look but not pause.
    driver.viewer_cannot_pause("viktor", "viewer-pw");
    assert!(!lane_paused(&ioc), "the lane still runs");

    // An operator pauses the lane, and every vehicle stops and stays where
    // it is while the clock runs on.
    driver.operator_pauses_the_lane("olga", "operator-pw", 12);
    driver.vehicles_stay_put();
    driver.wait_for(
        "the audit trail on the page",
        "return document.querySelectorAll('#audit tbody tr').length >= 3;",
    );
    // The screenshot in docs/ is replaced only when asked for, so that
    // running the tests leaves the repository as it was.
    let shot = if std::env::var_os("BORDERLANE_BLESS").is_some() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/ioc.png")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("ioc.png")
    };
    driver.screenshot(&shot);
    println!("screenshot saved to {}", shot.display());

    // The audit trail has the refused and the accepted pause.
    let audit = ioc.audit();
    assert!(
        audit
            .iter()
            .any(|e| e.user == "viktor" && e.action == "pause_lane" && !e.accepted)
    );
    assert!(
        audit
            .iter()
            .any(|e| e.user == "olga" && e.action == "pause_lane" && e.accepted)
    );

    drop(driver);
    running.store(false, Ordering::Relaxed);
    sim.join().expect("the simulation thread ends");
    let _ = stop_server.send(());
    let result = rt
        .block_on(async { tokio::time::timeout(PATIENCE, served).await })
        .expect("the server stops")
        .expect("the server task ran");
    assert!(result.is_ok(), "{result:?}");
}

fn lane_paused(ioc: &Ioc) -> bool {
    ioc.latest().is_some_and(|v| v.lane_paused)
}
