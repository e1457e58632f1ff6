//! `borderlane sim run` on a shipped scenario and on broken ones.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scenarios_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("sim_cmd")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn sim_run(scenario: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_borderlane"))
        .args(["sim", "run"])
        .arg(scenario)
        .args(extra)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn runs_a_scenario_and_writes_the_report_and_events() {
    let out_dir = temp_dir("baseline");
    let out = sim_run(
        &scenarios_dir().join("baseline_2026.toml"),
        &[
            "--seed",
            "3",
            "--out",
            out_dir.to_str().unwrap(),
            "--events",
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.starts_with("scenario baseline_2026 (seed 3, 1 day"),
        "{stdout}"
    );
    assert!(stdout.contains("0 conflicts"), "{stdout}");

    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("report.json")).expect("report.json"),
    )
    .expect("JSON");
    assert_eq!(report["scenario"], "baseline_2026");
    assert_eq!(report["seed"], 3);
    assert_eq!(report["days"], 1);
    assert_eq!(report["vehicles"], 12);
    assert_eq!(report["conflicts"], 0);
    assert_eq!(report["jobs_lost"], 0);
    let requested = report["containers_requested"].as_u64().unwrap();
    assert!(requested > 0);
    assert_eq!(report["containers_delivered"]["total"], requested);
    for key in ["p50", "p95", "p99", "max"] {
        assert!(
            report["crossing_time_s"][key].as_f64().unwrap() > 0.0,
            "{key}"
        );
    }
    assert!(report["wall_seconds"].as_f64().is_some());
    let digest = report["event_log_sha256"].as_str().unwrap();
    assert_eq!(digest.len(), 64);
    for key in [
        "vehicle_utilisation",
        "charger_utilisation",
        "min_headway_s",
        "lane_capacity_per_hour",
    ] {
        assert!(report[key].as_f64().is_some(), "{key}");
    }

    // The charts are SVG and the page shows every one of them.
    let page = std::fs::read_to_string(out_dir.join("index.html")).expect("index.html");
    assert!(page.contains("scenario baseline_2026"), "{page}");
    for chart in [
        "throughput.svg",
        "bridge.svg",
        "stop_line_queues.svg",
        "scan_lanes.svg",
        "crossing_times.svg",
    ] {
        let svg = std::fs::read_to_string(out_dir.join(chart)).expect(chart);
        assert!(svg.starts_with("<svg"), "{chart}");
        assert!(page.contains(&format!("src=\"{chart}\"")), "{chart}");
    }

    let events = std::fs::read_to_string(out_dir.join("events.jsonl")).expect("events.jsonl");
    let lines: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert!(lines.len() > 100, "{} lines", lines.len());
    let delivered = lines
        .iter()
        .filter(|l| l["output"]["event"] == "job_delivered")
        .count();
    assert_eq!(delivered as u64, requested);
}

#[test]
fn a_bad_scenario_exits_2_naming_the_field() {
    let good = std::fs::read_to_string(scenarios_dir().join("baseline_2026.toml")).unwrap();
    let dir = temp_dir("bad");
    for (name, contents, field) in [
        (
            "unknown.toml",
            good.replace("[fleet]", "[fleet]\nvehicle_count = 3"),
            "vehicle_count",
        ),
        (
            "share.toml",
            good.replace("vn_to_cn_share = 0.5", "vn_to_cn_share = 1.5"),
            "demand.vn_to_cn_share = 1.5 is outside 0..=1",
        ),
        (
            "map.toml",
            good.replace("../maps/bac_luan_ii.geojson", "no_such_map.geojson"),
            "map = ",
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        let out = sim_run(&path, &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(field), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}: {}", text(&out.stdout));
    }
}

#[test]
fn a_missing_scenario_exits_1() {
    let out = sim_run(&temp_dir("missing").join("nothing.toml"), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot read"));
}

fn sim_sweep(extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_borderlane"))
        .args(["sim", "sweep"])
        .arg(scenarios_dir().join("baseline_2026.toml"))
        .args(extra)
        .output()
        .expect("the binary runs")
}

#[test]
fn a_sweep_prints_one_row_per_fleet_size_and_repeats_itself() {
    let args = ["--seeds", "2", "--vehicles", "3,6"];
    let first = sim_sweep(&args);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let table = text(&first.stdout);
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.trim_start().starts_with(['3', '6']))
        .collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(
        rows.iter()
            .all(|r| r.split_whitespace().nth(1) == Some("2")),
        "two runs each: {table}"
    );
    assert!(table.contains("±"), "{table}");
    // The same sweep gives the same table; only the timing line differs.
    let second = text(&sim_sweep(&args).stdout);
    let strip = |t: &str| {
        t.lines()
            .filter(|l| !l.contains(" runs on "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&table), strip(&second));
}

#[test]
fn a_sweep_rejects_a_zero_fleet() {
    let out = sim_sweep(&["--seeds", "1", "--vehicles", "0"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("vehicles"),
        "{}",
        text(&out.stderr)
    );
}
