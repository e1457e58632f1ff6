//! `borderlane map check` on the shipped maps and on broken ones.

use std::path::PathBuf;
use std::process::{Command, Output};

fn maps_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../maps")
}

fn check(path: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_borderlane"))
        .args(["map", "check"])
        .arg(path)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A file in this test's own temporary directory.
fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("map_check");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("temp file");
    path
}

#[test]
fn accepts_the_shipped_maps() {
    for file in [
        "bac_luan_ii.geojson",
        "bac_luan_ii_single_lane.geojson",
        "bac_luan_ii_large_yards.geojson",
    ] {
        let out = check(&maps_dir().join(file));
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", text(&out.stderr));
        assert!(out.stderr.is_empty(), "{file}: {}", text(&out.stderr));
        assert!(stdout.starts_with("map: Bac Luan II lane"), "{stdout}");
        assert!(
            stdout.contains("VN -> CN: 618.0 m, VN_BRIDGE_END_NB to CN_BRIDGE_END_NB"),
            "{stdout}"
        );
        assert!(
            stdout.contains("border BORDER_SB at 154.5 m from the VN end"),
            "{stdout}"
        );
    }
    // The capacity-study map has the larger yards it is made for.
    let out = check(&maps_dir().join("bac_luan_ii_large_yards.geojson"));
    let stdout = text(&out.stdout);
    for line in [
        "yard_slot 96, parking 168, charger 24",
        "VN_YARD: yard, VN, capacity 144",
        "CN_CHARGERS: chargers, CN, capacity 12",
    ] {
        assert!(stdout.contains(line), "{line} in {stdout}");
    }
}

#[test]
fn rejects_a_broken_map_naming_the_feature() {
    let original =
        std::fs::read_to_string(maps_dir().join("bac_luan_ii.geojson")).expect("shipped map");
    let mut map: serde_json::Value = serde_json::from_str(&original).expect("JSON");
    let features = map["features"].as_array_mut().expect("features");
    for f in features.iter_mut() {
        match f["properties"]["id"].as_str() {
            Some("VN_OUT_02-VN_OUT_03") => f["properties"]["speed_kmh"] = 80.into(),
            Some("CN_QUEUE") => f["properties"]["capacity"] = 0.into(),
            _ => {}
        }
    }
    let path = temp_file("broken.geojson", map.to_string().as_bytes());
    let out = check(&path);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].ends_with("edge VN_OUT_02-VN_OUT_03: speed_kmh 80 is out of range (0, 60]"),
        "{stderr}"
    );
    assert!(lines[1].contains("zone CN_QUEUE: capacity 0"), "{stderr}");
    assert!(lines[2].contains("2 issues"), "{stderr}");
}

#[test]
fn rejects_text_that_is_not_geojson() {
    for (name, contents) in [
        ("garbage.geojson", &b"{not json"[..]),
        (
            "feature.geojson",
            &br#"{"type":"Feature","properties":{}}"#[..],
        ),
        ("binary.geojson", &[0xff, 0xfe, 0x00, 0x12][..]),
    ] {
        let out = check(&temp_file(name, contents));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains("not a valid GeoJSON FeatureCollection"),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn an_unreadable_file_exits_1() {
    let missing = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("no-such-map.geojson");
    let out = check(&missing);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot read"));
}
