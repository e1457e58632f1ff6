//! A WebDriver client for the browser tests of the operation center:
//! Debian's headless Chromium driven through chromedriver over plain
//! HTTP, and what the tests read of the page and do on it. Shared by
//! `tests/browser.rs` of this crate and by the command line's test of
//! `borderlane demo` (`orchestrator/cli/tests/ioc_demo.rs`, which includes
//! this file by its path).

// Each test binary uses only part of this module.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long any one wait may take; generous, as the machine is shared.
pub const PATIENCE: Duration = Duration::from_secs(120);
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Whether Chromium or chromedriver is missing; if so, says so on the
/// standard error, past the test harness's capture, so that it shows.
pub fn browser_missing(test: &str) -> bool {
    let missing = !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists();
    if missing {
        let _ = writeln!(
            std::io::stderr(),
            "note: skipping {test}: {CHROMIUM} or {CHROMEDRIVER} is missing \
             (apt-get install chromium chromium-driver)"
        );
    }
    missing
}

/// A WebDriver session on a chromedriver this test started.
pub struct Driver {
    port: u16,
    session: String,
    child: Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        let _ = http(self.port, "DELETE", &path, None);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request to chromedriver; the JSON it answers.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(PATIENCE))
        .map_err(|e| e.to_string())?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    // chromedriver does not always close the connection after its answer,
    // so the answer is read up to its Content-Length (or its last chunk).
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let payload = loop {
        let n = s.read(&mut buf).map_err(|e| e.to_string())?;
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw).to_string();
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let lower = head.to_ascii_lowercase();
            let length = lower
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if let Some(len) = length
                && rest.len() >= len
            {
                break rest[..len].to_string();
            }
            if lower.contains("transfer-encoding: chunked") && rest.contains("\r\n0\r\n") {
                break dechunk(rest);
            }
        }
        if n == 0 {
            return Err(format!("the answer ended early: {text:?}"));
        }
    };
    serde_json::from_str(&payload).map_err(|e| format!("{e}: {payload}"))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

impl Driver {
    pub fn start() -> Driver {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("an address").port()
        };
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let begun = Instant::now();
        loop {
            match http(port, "GET", "/status", None) {
                Ok(v) if v["value"]["ready"] == true => break,
                answer => assert!(
                    begun.elapsed() < PATIENCE,
                    "chromedriver did not get ready: {answer:?}"
                ),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let profile = std::env::temp_dir().join(format!("borderlane-ioc-chromium-{port}"));
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        "--disable-dev-shm-usage", "--window-size=1500,1500",
                        format!("--user-data-dir={}", profile.display()),
                    ]
                }
            }}
        });
        let mut driver = Driver {
            port,
            session: String::new(),
            child,
        };
        let v = http(port, "POST", "/session", Some(&caps)).expect("a session");
        driver.session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        driver
    }

    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let full = format!("/session/{}{path}", self.session);
        let v = http(self.port, method, &full, body.as_ref())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if v["value"]["error"].is_string() {
            panic!("{method} {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    pub fn go(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn js(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    pub fn find(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v[ELEMENT].as_str().expect("an element").to_string()
    }

    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/clear"), Some(json!({})));
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Waits until a script returns true.
    pub fn wait_for(&self, what: &str, script: &str) {
        let begun = Instant::now();
        loop {
            if self.js(script) == json!(true) {
                return;
            }
            assert!(begun.elapsed() < PATIENCE, "waited too long for {what}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pub fn screenshot(&self, to: &Path) {
        let b64 = self.call("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().expect("base64 text"));
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).expect("the folder can be made");
        }
        std::fs::write(to, png).expect("the screenshot is written");
    }

    pub fn login(&self, name: &str, password: &str, role: &str) {
        self.type_into("#login-name", name);
        self.type_into("#login-password", password);
        self.click("#login-button");
        self.wait_for(
            &format!("{name} to be signed in"),
            &format!("return document.body.dataset.role === '{role}';"),
        );
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in s.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// What the page shows of the vehicles and the diagram.
const READ_PAGE: &str = r#"
const vs = [...document.querySelectorAll('#map .vehicle')].map((g) => ({
  vehicle: g.dataset.vehicle, state: g.dataset.state, x: g.dataset.x, y: g.dataset.y }));
const lines = [...document.querySelectorAll('#marey polyline')].map((p) => p.getAttribute('class') + ' ' + p.dataset.vehicle + ' ' + (p.dataset.last || '') + ' ' + p.getAttribute('points'));
return { vehicles: vs, lines: lines, now: document.getElementById('now').textContent,
         status: document.getElementById('lane-status').textContent };
"#;

/// The states of a vehicle that stands still.
const STOPPED: &str = "['paused', 'held', 'broken', 'link_lost']";

impl Driver {
    /// The vehicles on the map (id, state, position), the lines of the
    /// time–distance diagram, the clock and the lane's status.
    pub fn read_page(&self) -> Value {
        self.js(READ_PAGE)
    }

    /// Waits until the map shows `vehicles` vehicles and the diagram a
    /// track for each and at least one plan.
    pub fn wait_for_lane(&self, vehicles: usize) {
        self.wait_for(
            "the vehicles on the map",
            &format!("return document.querySelectorAll('#map .vehicle').length === {vehicles};"),
        );
        self.wait_for(
            "lines in the time–distance diagram",
            &format!(
                "return document.querySelectorAll('#marey polyline.track').length === {vehicles} \
                 && document.querySelectorAll('#marey polyline.plan').length > 0;"
            ),
        );
    }

    /// Waits until a vehicle has moved on the map, the diagram's lines have
    /// changed and the clock has gone on; returns what the page then shows.
    pub fn wait_for_movement(&self) -> Value {
        let first = self.read_page();
        let begun = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let now = self.read_page();
            let moved = now["vehicles"]
                .as_array()
                .into_iter()
                .flatten()
                .zip(first["vehicles"].as_array().into_iter().flatten())
                .any(|(a, b)| {
                    a["vehicle"] == b["vehicle"] && (a["x"] != b["x"] || a["y"] != b["y"])
                });
            if moved && now["lines"] != first["lines"] && now["now"] != first["now"] {
                return now;
            }
            assert!(begun.elapsed() < PATIENCE, "nothing moved: {now}");
        }
    }

    /// Signs in as a viewer, asks to pause the lane and sees it refused,
    /// and signs out.
    pub fn viewer_cannot_pause(&self, name: &str, password: &str) {
        self.login(name, password, "viewer");
        self.click("#pause-lane");
        self.wait_for(
            "the viewer's pause to be refused",
            "return document.getElementById('action-msg').dataset.status === '403';",
        );
        let msg = self.js("return document.getElementById('action-msg').textContent;");
        assert!(msg.as_str().unwrap_or("").contains("refused"), "{msg}");
        self.click("#logout");
        self.wait_for("signing out", "return document.body.dataset.role === '';");
    }

    /// Signs in as an operator, pauses the lane and waits until the page
    /// shows every one of `vehicles` vehicles stopped and the lane paused.
    pub fn operator_pauses_the_lane(&self, name: &str, password: &str, vehicles: usize) {
        self.login(name, password, "operator");
        self.click("#pause-lane");
        self.wait_for(
            "the operator's pause to be accepted",
            "return document.getElementById('action-msg').dataset.status === '202';",
        );
        self.wait_for(
            "every vehicle to stop",
            &format!(
                "const vs = [...document.querySelectorAll('#map .vehicle')]; \
                 return vs.length === {vehicles} && vs.every((g) => {STOPPED}.includes(g.dataset.state)) \
                   && document.getElementById('lane-status').textContent === 'lane paused';"
            ),
        );
    }

    /// Waits until the clock has gone on and checks that no vehicle moved
    /// meanwhile.
    pub fn vehicles_stay_put(&self) {
        let paused = self.read_page();
        let begun = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let now = self.read_page();
            if now["now"] != paused["now"] {
                assert_eq!(
                    now["vehicles"], paused["vehicles"],
                    "a paused vehicle moved"
                );
                return;
            }
            assert!(begun.elapsed() < PATIENCE, "the clock stopped");
        }
    }
}
