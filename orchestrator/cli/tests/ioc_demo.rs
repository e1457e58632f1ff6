//! `borderlane demo` end to end in a real browser: the binary runs the
//! lane with one orchestrator (`--lane`) at sixty times real time,
//! recording it, and Debian's headless
//! Chromium, driven through chromedriver, loads the operation center at the
//! address the demo prints. It sees the vehicles move on the map and in the
//! time–distance diagram, a viewer's pause refused, and an operator's pause
//! stop every vehicle; it saves a screenshot under the target folder. The
//! demo then stops on Ctrl-C (SIGINT), and the recording holds the
//! operator's pause and replays with no difference.
//!
//! That test is skipped, with a note, where /usr/bin/chromium or
//! /usr/bin/chromedriver is missing. Without a browser, `borderlane serve`
//! with an `[ioc]` section prints the operation center's address and
//! serves the live view there.

#[path = "../../ioc/tests/webdriver/mod.rs"]
mod webdriver;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use borderlane_core::Event;
use borderlane_core::io::OperatorCommand;
use borderlane_record::{Entry, read_file};
use webdriver::{Driver, PATIENCE, browser_missing};

/// The baseline scenario's fleet.
const VEHICLES: usize = 12;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running `borderlane` command, killed if the test ends early.
struct Running {
    child: Child,
    /// Its standard output, line by line.
    lines: mpsc::Receiver<String>,
    /// Everything read from it so far.
    seen: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    /// Runs `borderlane` with `args` from the repository's root, its
    /// standard error going to `log`.
    fn start(args: &[&str], log: &Path) -> Running {
        let log = std::fs::File::create(log).expect("the log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_borderlane"))
            .current_dir(root())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("the binary runs");
        let stdout = child.stdout.take().expect("its standard output");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one starts with `prefix`; returns the rest of it.
    fn line_after(&mut self, prefix: &str) -> String {
        let begun = Instant::now();
        loop {
            let left = PATIENCE.saturating_sub(begun.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.trim().to_string();
                    }
                }
                Err(e) => panic!("no line {prefix:?} ({e}); read: {:#?}", self.seen),
            }
        }
    }

    /// Stops it as Ctrl-C would and waits for it to end; returns whether
    /// it ended well and what it printed.
    fn interrupt(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "SIGINT sent to {pid}");
        let begun = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("its status") {
                break status;
            }
            assert!(begun.elapsed() < PATIENCE, "it did not stop on SIGINT");
            std::thread::sleep(Duration::from_millis(100));
        };
        self.seen.extend(self.lines.try_iter());
        (status.success(), self.seen.join("\n"))
    }
}

#[test]
fn a_newcomer_watches_the_demo_and_an_operator_pauses_it() {
    if browser_missing("the demo's browser test") {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ioc_demo");
    std::fs::create_dir_all(&dir).expect("a folder for the test");
    let record = dir.join("demo.mcap");
    let log = dir.join("demo.log");
    let record_arg = record.to_string_lossy();
    let mut demo = Running::start(
        &[
            "demo",
            "--lane",
            "--speed",
            "60",
            "--duration",
            "15m",
            "--port",
            "0",
            "--metrics",
            "127.0.0.1:0",
            "--ioc-port",
            "0",
            "--record",
            &record_arg,
        ],
        &log,
    );
    let url = demo.line_after("operation center:");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let sign_in = demo.line_after("  sign in as");
    assert!(
        sign_in.contains("\"operator\" (password \"operator\")")
            && sign_in.contains("\"viewer\" (password \"viewer\")"),
        "{sign_in}"
    );

    let driver = Driver::start();
    driver.go(&url);
    driver.wait_for_lane(VEHICLES);
    let moving = driver.wait_for_movement();
    assert_eq!(moving["status"], "lane running");

    driver.viewer_cannot_pause("viewer", "viewer");

    // Pause while a vehicle drives, so that stopping is something to see.
    driver.wait_for(
        "a vehicle driving",
        "return [...document.querySelectorAll('#map .vehicle')].some((g) => g.dataset.state === 'driving');",
    );
    driver.operator_pauses_the_lane("operator", "operator", VEHICLES);
    driver.vehicles_stay_put();
    driver.wait_for(
        "the accepted pause in the audit trail, applied by the core",
        "return [...document.querySelectorAll('#audit tbody tr')].some((tr) => tr.textContent.includes('pause_lane') && tr.textContent.includes('operator'));",
    );
    let audit = driver.js(AUDIT);
    let entries = audit.as_array().expect("the audit trail");
    assert!(
        entries.iter().any(|e| e["user"] == "viewer"
            && e["action"] == "pause_lane"
            && e["accepted"] == false),
        "{audit}"
    );
    assert!(
        entries.iter().any(|e| e["user"] == "operator"
            && e["action"] == "pause_lane"
            && e["accepted"] == true
            && e["applied"] == true),
        "{audit}"
    );
    let shot = dir.join("ioc_demo.png");
    driver.screenshot(&shot);
    println!("screenshot saved to {}", shot.display());
    drop(driver);

    let (ended_well, printed) = demo.interrupt();
    assert!(ended_well, "{printed}");
    assert!(printed.contains("Stopping."), "{printed}");

    // The recording holds the operator's pause, signed with the name, and
    // the core's answer, and replays with no difference.
    let recording = read_file(&record).expect("the recording reads");
    assert!(!recording.truncated, "the recording was finished");
    let at = recording
        .entries
        .iter()
        .position(|(_, e)| {
            matches!(e, Entry::Operator(o) if o.user == "operator" && o.command == OperatorCommand::PauseLane)
        })
        .expect("the operator's pause is recorded");
    assert!(
        recording.entries[at + 1..]
            .iter()
            .take_while(|(_, e)| !e.is_input())
            .any(|(_, e)| matches!(e, Entry::Event(Event::LanePaused))),
        "the lane paused right after the operator's input"
    );
    let replay = Command::new(env!("CARGO_BIN_EXE_borderlane"))
        .arg("replay")
        .arg(&record)
        .arg("--check")
        .output()
        .expect("the binary runs");
    assert!(
        replay.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&replay.stdout),
        String::from_utf8_lossy(&replay.stderr)
    );
}

/// Reads the audit trail with the page's session.
const AUDIT: &str = "return fetch('/api/audit').then((r) => r.json());";

/// A plain HTTP/1.1 GET; the status line and the body.
fn http_get(url: &str) -> (String, String) {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = std::net::TcpStream::connect(host).expect("it listens");
    s.set_read_timeout(Some(PATIENCE)).expect("a timeout");
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("the request is sent");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("an answer");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[test]
fn serve_prints_and_serves_the_operation_center_when_configured() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ioc_serve");
    std::fs::create_dir_all(&dir).expect("a folder for the test");
    let lane = std::fs::read_to_string(root().join("config/lane.toml")).expect("lane.toml");
    let map = root().join("maps/bac_luan_ii.geojson");
    let config = lane
        .replace(
            "map = \"../maps/bac_luan_ii.geojson\"",
            &format!("map = {:?}", map.display().to_string()),
        )
        .replace("port = 1883", "port = 0")
        .replace("127.0.0.1:9100", "127.0.0.1:0")
        .replace("127.0.0.1:8350", "127.0.0.1:0");
    assert!(
        config.contains("[ioc]"),
        "lane.toml serves the operation center"
    );
    let path = dir.join("lane.toml");
    std::fs::write(&path, config).expect("the configuration is written");
    let path_arg = path.to_string_lossy();
    let mut serve = Running::start(&["serve", "--config", &path_arg], &dir.join("serve.log"));
    let url = serve.line_after("operation center:");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    // The loop publishes its first view a moment after it starts serving;
    // until then the snapshot has no view.
    let begun = Instant::now();
    let (frame, body) = loop {
        let (status, body) = http_get(&format!("{url}api/snapshot"));
        assert!(status.contains(" 200 "), "{status}");
        let frame: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        if !frame["view"].is_null() || begun.elapsed() > PATIENCE {
            break (frame, body);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(frame["side"], "both");
    assert_eq!(
        frame["view"]["vehicles"].as_array().map(Vec::len),
        Some(12),
        "{body}"
    );
    let (ended_well, printed) = serve.interrupt();
    assert!(ended_well, "{printed}");
    assert!(
        std::net::TcpStream::connect(url.trim_start_matches("http://").trim_end_matches('/'))
            .is_err(),
        "the operation center stopped"
    );
}
