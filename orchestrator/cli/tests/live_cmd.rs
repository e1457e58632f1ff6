//! `borderlane serve` and `borderlane demo` as processes: a bad
//! configuration is refused with the field named, the demo prints where its
//! broker, metrics and operation center are and stops by itself after
//! `--duration`, and bad options are refused naming them.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `borderlane` binary under test.
fn borderlane() -> Command {
    Command::new(env!("CARGO_BIN_EXE_borderlane"))
}

/// Runs a three-second demo from the repository root at twenty times real
/// speed, its operation center on a free port, with `extra` options after
/// those; it must succeed. Returns what it printed.
fn short_demo(extra: &[&str]) -> String {
    let out = borderlane()
        .current_dir(root())
        .args([
            "demo",
            "--speed",
            "20",
            "--duration",
            "3s",
            "--ioc-port",
            "0",
        ])
        .args(extra)
        .output()
        .expect("the binary runs");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    stdout
}

#[test]
fn serve_refuses_a_bad_configuration_naming_the_field() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("live_cmd");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bad.toml");
    let good = std::fs::read_to_string(root().join("config/lane.toml")).expect("lane.toml");
    std::fs::write(
        &path,
        good.replace("side = \"both\"", "side = \"both\"\nsied = 1"),
    )
    .expect("write");
    let out = borderlane()
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("sied"), "{}", text(&out.stderr));

    let out = borderlane()
        .args(["serve", "--config", "/nonexistent/serve.toml"])
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/serve.toml"));
}

#[test]
fn demo_prints_its_addresses_and_stops_after_its_duration() {
    let stdout = short_demo(&["--link-loss", "igv-002@10s:5s"]);
    assert!(stdout.contains("broker:  mqtt://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("metrics: http://127.0.0.1:"), "{stdout}");
    assert!(
        stdout.contains("operation center: http://127.0.0.1:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("link loss: igv-002 loses its link at 10s for 5s"),
        "{stdout}"
    );
    assert!(stdout.contains("vehicles"), "{stdout}");
    assert!(stdout.contains("Stopping."), "{stdout}");
}

#[test]
fn a_two_sided_demo_runs_both_orchestrators_and_stops_after_its_duration() {
    let stdout = short_demo(&[]);
    assert!(stdout.contains("broker:  mqtt://127.0.0.1:"), "{stdout}");
    let metrics = stdout
        .lines()
        .find(|l| l.starts_with("metrics: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        metrics.contains(" (VN), http://127.0.0.1:") && metrics.ends_with(" (CN)"),
        "{metrics}"
    );
    assert!(stdout.contains("VN ") && stdout.contains("CN "), "{stdout}");
    assert!(stdout.contains("Stopping."), "{stdout}");
}

#[test]
fn demo_refuses_a_bad_speed_an_unknown_vehicle_and_a_missing_scenario() {
    // Each bad option, and what the refusal must name.
    let cases: [(&[&str], &str); 4] = [
        (&["--speed", "0"], "--speed"),
        (&["--from", "eight"], "--from"),
        (
            &["--ioc-port", "0", "--link-loss", "igv-099@1m:1m"],
            "--link-loss igv-099: no such vehicle",
        ),
        (
            &["--scenario", "/nonexistent/s.toml"],
            "/nonexistent/s.toml",
        ),
    ];
    for (args, named) in cases {
        let out = borderlane()
            .current_dir(root())
            .arg("demo")
            .args(args)
            .output()
            .expect("the binary runs");
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}
