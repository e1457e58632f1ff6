//! The configuration files: the shipped ones are valid, and mistakes are
//! errors that name the field.

use std::path::{Path, PathBuf};

use borderlane_live::config::{BrokerConfig, ServeConfig};
use borderlane_live::scope::{Scope, SideSel};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_shipped_configurations_are_valid() {
    for (file, side, embedded) in [
        ("vn.toml", SideSel::Vn, true),
        ("cn.toml", SideSel::Cn, false),
        ("lane.toml", SideSel::Both, true),
    ] {
        let path = root().join("config").join(file);
        let c = ServeConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.side, side, "{file}");
        assert_eq!(
            matches!(c.broker, BrokerConfig::Embedded(_)),
            embedded,
            "{file}"
        );
        let map = borderlane_live::serve::load_map(&c.map).unwrap_or_else(|e| panic!("{e}"));
        Scope::new(c.side, &c.fleet)
            .check_fleet(&map, &c.fleet)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        borderlane_core::Core::new(map, c.core_config()).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    // The two sides have their own identities and metrics ports.
    let vn = ServeConfig::load(&root().join("config/vn.toml")).expect("vn");
    let cn = ServeConfig::load(&root().join("config/cn.toml")).expect("cn");
    let lane = ServeConfig::load(&root().join("config/lane.toml")).expect("lane");
    assert_ne!(vn.name, cn.name);
    assert_ne!(vn.metrics.listen, cn.metrics.listen);
    // Both list the whole lane's fleet, and each side's public key is the
    // one the other side verifies with.
    assert_eq!(vn.fleet, cn.fleet);
    let (vk, ck) = (
        vn.handoff.as_ref().expect("keys").keys().expect("vn keys"),
        cn.handoff.as_ref().expect("keys").keys().expect("cn keys"),
    );
    for (me, peer) in [(&vk, &ck), (&ck, &vk)] {
        let public = borderlane_handoff::SigningKey::from_hex(&me.key_id, &me.key)
            .expect("a seed")
            .verifying_key()
            .to_hex();
        assert_eq!(public, peer.peer_key);
        assert_eq!(me.key_id, peer.peer_key_id);
    }
    assert!(lane.handoff.is_none());
    // Each side keeps its state in a file of its own, under var/.
    let vn_db = vn.state.as_ref().expect("[state]").database.clone();
    let cn_db = cn.state.as_ref().expect("[state]").database.clone();
    assert_ne!(vn_db, cn_db);
    for db in [&vn_db, &cn_db] {
        assert!(
            db.starts_with(root().join("config").join("../var")),
            "{}",
            db.display()
        );
    }
    // Each serves its operation center on its own loopback port, showing
    // its side.
    let iocs: Vec<_> = [&vn, &cn, &lane]
        .iter()
        .map(|c| c.ioc.clone().expect("an [ioc] section"))
        .collect();
    assert_eq!(
        iocs.iter().map(|i| i.side.as_str()).collect::<Vec<_>>(),
        ["VN", "CN", "both"]
    );
    for i in &iocs {
        assert!(i.listen.ip().is_loopback(), "{}", i.listen);
    }
    assert_ne!(iocs[0].listen, iocs[1].listen);
    assert_ne!(iocs[0].listen, iocs[2].listen);
    assert_ne!(iocs[1].listen, iocs[2].listen);
}

/// A VN side's handoff keys, for a configuration that needs them.
const HANDOFF: &str = "[handoff]\nkey_id = \"vn-t\"\nkey = \"2222222222222222222222222222222222222222222222222222222222222222\"\npeer_key_id = \"cn-t\"\npeer_key = \"a09aa5f47a6759802ff955f8dc2d2a14a5c99d23be97f864127ff9383455a4f0\"\n\n[[fleet]]";

#[test]
fn the_operation_center_is_configured_under_ioc() {
    let c = parse(BASE).expect("valid");
    assert_eq!(c.ioc, None, "not served without [ioc]");
    let hash = borderlane_ioc::hash_password("pw").expect("hashed");
    let text = format!(
        "{}\n[ioc]\nlisten = \"127.0.0.1:0\"\nusers = [{{ name = \"olga\", role = \"operator\", password_hash = \"{hash}\" }}]\n",
        BASE.replace("side = \"both\"", "side = \"VN\"")
            .replacen("[[fleet]]", HANDOFF, 1)
    );
    let c = parse(&text).expect("valid");
    let ioc = c.ioc.expect("served");
    assert_eq!(ioc.listen.port(), 0);
    assert_eq!(ioc.side, "VN", "the orchestrator's side");
    assert_eq!(ioc.users[0].name, "olga");
    assert!(ioc.public_view);
    // An empty section serves it on a free loopback port.
    let c = parse(&format!("{BASE}\n[ioc]\n")).expect("valid");
    assert!(c.ioc.expect("served").listen.ip().is_loopback());
}

#[test]
fn operation_center_mistakes_name_their_field() {
    let cases = [
        (format!("{BASE}\n[ioc]\nlisten_on = 1\n"), "listen_on"),
        (format!("{BASE}\n[ioc]\nlisten = \"nowhere\"\n"), "listen"),
        (
            format!(
                "{BASE}\n[ioc]\nusers = [{{ name = \"olga\", role = \"operator\", password_hash = \"plain\" }}]\n"
            ),
            "ioc.users[0]",
        ),
        (
            format!(
                "{BASE}\n[ioc]\nusers = [{{ name = \"olga\", role = \"boss\", password_hash = \"x\" }}]\n"
            ),
            "boss",
        ),
        (
            format!("{BASE}\n[ioc]\ntrusted_proxy_header = \"bad header\"\n"),
            "ioc.trusted_proxy_header",
        ),
        (format!("{BASE}\n[ioc]\nside = \"CN\"\n"), "ioc.side"),
    ];
    for (text, field) in cases {
        let err = parse(&text).expect_err(field);
        assert!(err.contains(field), "{field}: {err}");
    }
}

const BASE: &str = r#"
name = "t"
side = "both"
map = "m.geojson"

[broker.external]
host = "broker.example"
port = 8883

[[fleet]]
serial = "a"
start = "VN_PARK_01"
"#;

fn parse(text: &str) -> Result<ServeConfig, String> {
    ServeConfig::parse(text, Path::new("/cfg"))
}

#[test]
fn unknown_fields_are_rejected_by_name() {
    let cases = [
        (
            BASE.replace("name = \"t\"", "name = \"t\"\nsidee = \"VN\""),
            "sidee",
        ),
        (
            BASE.replace("port = 8883", "port = 8883\nclientid = \"x\""),
            "clientid",
        ),
        (
            format!("{BASE}\n[metrics]\nlisten_on = \"x\"\n"),
            "listen_on",
        ),
        (
            format!("{BASE}\n[vda5050]\ninterface = \"x\"\n"),
            "interface",
        ),
        (format!("{BASE}\n[core]\ntick = 5\n"), "tick"),
        (
            BASE.replace(
                "start = \"VN_PARK_01\"",
                "start = \"VN_PARK_01\"\ncolour = 1",
            ),
            "colour",
        ),
        (
            BASE.replace(
                "port = 8883",
                "port = 8883\n[broker.external.tls]\nca = \"c\"\ncafile = \"d\"",
            ),
            "cafile",
        ),
    ];
    for (text, field) in cases {
        let err = parse(&text).expect_err(field);
        assert!(err.contains(field), "{field}: {err}");
    }
}

#[test]
fn bad_values_name_their_field() {
    let cases = [
        (BASE.replace("side = \"both\"", "side = \"north\""), "north"),
        (
            BASE.replace("serial = \"a\"", "serial = \"a/b\""),
            "fleet[0].serial",
        ),
        (
            BASE.replace("port = 8883", "port = 0"),
            "broker.external.port",
        ),
        (BASE.replace("name = \"t\"", "name = \"\""), "name"),
        (
            BASE.replace(
                "port = 8883",
                "port = 8883\n[broker.external.tls]\nca = \"c\"\ncert = \"d\"",
            ),
            "broker.external.tls",
        ),
        (
            BASE.replace("port = 8883", "port = 8883\npassword = \"p\""),
            "broker.external.password",
        ),
        (
            format!("{BASE}\n[topics]\nprefix = \"a/#\"\n"),
            "topics.prefix",
        ),
        (
            BASE.replace("[[fleet]]\nserial = \"a\"\nstart = \"VN_PARK_01\"\n", ""),
            "fleet",
        ),
    ];
    for (text, field) in cases {
        let err = parse(&text).expect_err(field);
        assert!(err.contains(field), "{field}: {err}");
    }
}

#[test]
fn relative_paths_are_taken_from_the_file_s_folder() {
    let text = BASE.replace(
        "port = 8883",
        "port = 8883\nusername = \"u\"\npassword = \"p\"\n[broker.external.tls]\nca = \"ca.pem\"\ncert = \"c.pem\"\nkey = \"/abs/k.pem\"",
    );
    let c = parse(&text).expect("valid");
    assert_eq!(c.map, PathBuf::from("/cfg/m.geojson"));
    let s = c.mqtt_settings(None);
    assert_eq!(s.host, "broker.example");
    assert_eq!(s.port, 8883);
    assert_eq!(s.client_id, "t");
    assert_eq!(s.credentials, Some(("u".to_string(), "p".to_string())));
    let tls = s.tls.expect("tls");
    assert_eq!(tls.ca, PathBuf::from("/cfg/ca.pem"));
    assert_eq!(
        tls.client,
        Some((PathBuf::from("/cfg/c.pem"), PathBuf::from("/abs/k.pem")))
    );
}

#[test]
fn a_missing_file_is_named() {
    let err = ServeConfig::load(Path::new("/nonexistent/serve.toml")).expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/serve.toml"), "{err}");
}
