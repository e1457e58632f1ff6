//! The configuration file of `borderlane serve`, in TOML.
//!
//! ```toml
//! name = "borderlane-vn"          # this orchestrator's identity
//! side = "VN"                     # "VN", "CN" or "both"
//! map = "../maps/bac_luan_ii.geojson"
//!
//! [broker.embedded]               # or [broker.external]
//! host = "127.0.0.1"
//! port = 1883
//!
//! [vda5050]                       # borderlane_vda5050::MasterConfig
//! interface_name = "uagv"
//! manufacturer = "borderlane"
//! version = "2.1.0"
//!
//! [metrics]
//! listen = "127.0.0.1:9101"
//!
//! [ioc]                           # the operation center; off without it
//! listen = "127.0.0.1:8351"       # borderlane_ioc::IocConfig
//!
//! [handoff]                      # a side's keys; required for VN and CN
//! key_id = "vn-demo"
//! key_file = "keys/vn-demo.key"   # or key = "<64 hex digits>"
//! peer_key_id = "cn-demo"
//! peer_key = "<64 hex digits>"    # or peer_key_file = "..."
//!
//! [state]                         # where it keeps its state; off without it
//! database = "../var/vn.db"       # SQLite, created if missing
//!
//! [[fleet]]                       # the whole lane's fleet, on both sides
//! serial = "vn-igv-01"
//! start = "VN_PARK_01"
//! ```
//!
//! Unknown fields are rejected and every error names the field. Relative
//! paths (the map, TLS files, the state database) are taken from the
//! configuration file's folder.

use std::path::{Path, PathBuf};

use borderlane_core::{CoreConfig, VehicleSpec};
use borderlane_ioc::IocConfig;
use borderlane_station::HandoffKeys;
use borderlane_vda5050::MasterConfig;
use serde::{Deserialize, Serialize};

use crate::broker::EmbeddedSettings;
use crate::mqtt::{DEFAULT_MAX_PACKET_BYTES, MqttSettings, TlsFiles};
use crate::scope::SideSel;

/// The whole configuration of one orchestrator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// This orchestrator's identity: its MQTT client id (unless the broker
    /// section gives one) and its name in logs.
    pub name: String,
    /// The side it stands on, or "both" for the whole lane.
    pub side: SideSel,
    /// The lane map (GeoJSON).
    pub map: PathBuf,
    pub broker: BrokerConfig,
    /// How the master control talks to the vehicles.
    #[serde(default)]
    pub vda5050: MasterConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub topics: TopicsConfig,
    /// The operation center's web view and console: where it listens and
    /// who may sign in. Not served without this section. Its `side` is
    /// this orchestrator's and may be left out.
    #[serde(default)]
    pub ioc: Option<IocConfig>,
    /// The core's rules and timings; its fleet comes from `[[fleet]]`.
    #[serde(default)]
    pub core: CoreConfig,
    /// A side's handoff keys; a VN or CN orchestrator hands vehicles over
    /// at the border and needs them.
    #[serde(default)]
    pub handoff: Option<HandoffSection>,
    /// Where the orchestrator keeps its state, to recover from on start.
    /// Without this section it keeps none: a restart forgets its jobs and
    /// its handoffs in flight.
    #[serde(default)]
    pub state: Option<StateConfig>,
    /// The vehicles of the lane and where each starts. A side's
    /// orchestrator commands those that start on its side, and the others
    /// once they are handed over to it.
    pub fleet: Vec<VehicleSpec>,
}

/// A side's handoff keys: its ed25519 signing key (the 32-byte seed) and
/// the other side's public key, each as 64 hexadecimal digits given in the
/// file or in a key file of their own, with their key ids.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffSection {
    pub key_id: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    pub peer_key_id: String,
    #[serde(default)]
    pub peer_key: Option<String>,
    #[serde(default)]
    pub peer_key_file: Option<PathBuf>,
}

impl HandoffSection {
    /// A section that holds `keys` in the file itself, as the demo's do.
    pub fn inline(keys: HandoffKeys) -> HandoffSection {
        HandoffSection {
            key_id: keys.key_id,
            key: Some(keys.key),
            key_file: None,
            peer_key_id: keys.peer_key_id,
            peer_key: Some(keys.peer_key),
            peer_key_file: None,
        }
    }
}

impl std::fmt::Debug for HandoffSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandoffSection")
            .field("key_id", &self.key_id)
            .field("key_file", &self.key_file)
            .field("peer_key_id", &self.peer_key_id)
            .field("peer_key", &self.peer_key)
            .field("peer_key_file", &self.peer_key_file)
            .finish_non_exhaustive()
    }
}

impl HandoffSection {
    /// The keys, read from their files where the section names files.
    pub fn keys(&self) -> Result<HandoffKeys, String> {
        let read =
            |field: &str, inline: &Option<String>, file: &Option<PathBuf>| match (inline, file) {
                (Some(k), None) => Ok(k.trim().to_string()),
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map(|t| t.trim().to_string())
                    .map_err(|e| {
                        format!(
                            "handoff.{field}_file {}: cannot read it: {e}",
                            path.display()
                        )
                    }),
                _ => Err(format!("handoff: give one of {field} and {field}_file")),
            };
        Ok(HandoffKeys {
            key_id: self.key_id.clone(),
            key: read("key", &self.key, &self.key_file)?,
            peer_key_id: self.peer_key_id.clone(),
            peer_key: read("peer_key", &self.peer_key, &self.peer_key_file)?,
        })
    }
}

/// The orchestrator's state database (SQLite, WAL mode): its core's
/// journal, its handoffs in flight with their slots, its VDA 5050 orders
/// and the customs audit, written before any message that depends on them
/// is sent, and recovered from on start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// The database file, created (with its folder) if missing. One per
    /// orchestrator: two must never share a file.
    pub database: PathBuf,
}

/// The MQTT broker: started in this process, or one that runs elsewhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BrokerConfig {
    Embedded(EmbeddedSettings),
    External(ExternalBroker),
}

/// A broker that runs elsewhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalBroker {
    pub host: String,
    #[serde(default = "default_mqtt_port")]
    pub port: u16,
    /// The MQTT client id; the orchestrator's name if absent.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// The largest MQTT packet sent or accepted, bytes.
    #[serde(default = "default_max_packet")]
    pub max_packet_bytes: usize,
}

fn default_mqtt_port() -> u16 {
    1883
}

fn default_max_packet() -> usize {
    DEFAULT_MAX_PACKET_BYTES
}

/// TLS with rustls: the broker's certificate authority and, optionally, a
/// client certificate and its key (PEM files).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub ca: PathBuf,
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
}

/// Where the Prometheus endpoint listens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `host:port`; port 0 picks a free one. Localhost by default.
    #[serde(default = "default_metrics_listen")]
    pub listen: String,
}

fn default_metrics_listen() -> String {
    "127.0.0.1:9100".to_string()
}

impl Default for MetricsConfig {
    fn default() -> MetricsConfig {
        MetricsConfig {
            listen: default_metrics_listen(),
        }
    }
}

/// The orchestrator's own topics, besides VDA 5050's:
/// `{prefix}/{side}/jobs` (job requests in), `{prefix}/{side}/operator`
/// (operator commands in) and `{prefix}/{side}/events` (the core's events
/// out), where `{side}` is `vn`, `cn` or `lane`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicsConfig {
    #[serde(default = "default_prefix")]
    pub prefix: String,
}

fn default_prefix() -> String {
    "borderlane/v1".to_string()
}

impl Default for TopicsConfig {
    fn default() -> TopicsConfig {
        TopicsConfig {
            prefix: default_prefix(),
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read it: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl ServeConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<ServeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        ServeConfig::parse(&text, base).map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses and checks a configuration; relative paths are taken from
    /// `base`. The error names the field that is wrong.
    pub fn parse(text: &str, base: &Path) -> Result<ServeConfig, String> {
        let mut c: ServeConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        c.validate()?;
        c.settle_ioc_side()?;
        c.map = base.join(&c.map);
        if let Some(st) = &mut c.state {
            st.database = base.join(&st.database);
            if st.database.is_dir() {
                return Err(format!(
                    "state.database = {:?}: is a folder; name a file in it",
                    st.database
                ));
            }
        }
        if let Some(h) = &mut c.handoff {
            h.key_file = h.key_file.as_ref().map(|p| base.join(p));
            h.peer_key_file = h.peer_key_file.as_ref().map(|p| base.join(p));
        }
        if let BrokerConfig::External(x) = &mut c.broker
            && let Some(tls) = &mut x.tls
        {
            tls.ca = base.join(&tls.ca);
            tls.cert = tls.cert.as_ref().map(|p| base.join(p));
            tls.key = tls.key.as_ref().map(|p| base.join(p));
        }
        Ok(c)
    }

    fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("name: must not be empty".to_string());
        }
        if self.fleet.is_empty() {
            return Err("fleet: lists no vehicle; add [[fleet]] entries".to_string());
        }
        if !self.core.fleet.is_empty() {
            return Err("core.fleet: list the vehicles under [[fleet]] instead".to_string());
        }
        for (i, v) in self.fleet.iter().enumerate() {
            if let Err(why) = topic_level_ok(&v.serial) {
                return Err(format!("fleet[{i}].serial = {:?}: {why}", v.serial));
            }
        }
        match (&self.handoff, self.side.side()) {
            (None, Some(side)) => {
                return Err(format!(
                    "handoff: side = \"{side}\" hands vehicles over at the border; give the [handoff] keys"
                ));
            }
            (Some(_), None) => {
                return Err(
                    "handoff: side = \"both\" hands no vehicle over; leave [handoff] out"
                        .to_string(),
                );
            }
            (Some(h), Some(_)) => {
                if h.key_id.is_empty() || h.peer_key_id.is_empty() {
                    return Err("handoff: key_id and peer_key_id must not be empty".to_string());
                }
                for (field, inline, file) in [
                    ("key", h.key.is_some(), h.key_file.is_some()),
                    ("peer_key", h.peer_key.is_some(), h.peer_key_file.is_some()),
                ] {
                    if inline == file {
                        return Err(format!("handoff: give one of {field} and {field}_file"));
                    }
                }
            }
            (None, None) => {}
        }
        if let Some(st) = &self.state {
            let text = st.database.to_string_lossy();
            if text.trim().is_empty() {
                return Err("state.database: must not be empty".to_string());
            }
            if text.ends_with('/') || st.database.file_name().is_none() {
                return Err(format!(
                    "state.database = {text:?}: must name a file, not a folder"
                ));
            }
        }
        self.validate_ioc()?;
        check_topic_level("vda5050.interface_name", &self.vda5050.interface_name)?;
        check_topic_level("vda5050.manufacturer", &self.vda5050.manufacturer)?;
        if self.topics.prefix.is_empty()
            || self.topics.prefix.contains(['+', '#'])
            || self.topics.prefix.ends_with('/')
        {
            return Err(format!(
                "topics.prefix = {:?}: must be a topic without wildcards or a trailing '/'",
                self.topics.prefix
            ));
        }
        match &self.broker {
            BrokerConfig::Embedded(e) => {
                if e.host.is_empty() {
                    return Err("broker.embedded.host: must not be empty".to_string());
                }
            }
            BrokerConfig::External(x) => {
                if x.host.is_empty() {
                    return Err("broker.external.host: must not be empty".to_string());
                }
                if x.port == 0 {
                    return Err("broker.external.port: must not be 0".to_string());
                }
                if x.max_packet_bytes < 16 * 1024 {
                    return Err(format!(
                        "broker.external.max_packet_bytes = {}: must be at least 16384, orders are large",
                        x.max_packet_bytes
                    ));
                }
                if x.password.is_some() && x.username.is_none() {
                    return Err("broker.external.password: needs a username too".to_string());
                }
                if let Some(id) = &x.client_id
                    && id.is_empty()
                {
                    return Err("broker.external.client_id: must not be empty".to_string());
                }
                if let Some(tls) = &x.tls
                    && tls.cert.is_some() != tls.key.is_some()
                {
                    return Err(
                        "broker.external.tls: give both cert and key, or neither".to_string()
                    );
                }
            }
        }
        Ok(())
    }

    /// Checks the operation center's accounts and headers; the error names
    /// the field, as `ioc.users[0]`.
    pub fn validate_ioc(&self) -> Result<(), String> {
        match self.ioc.as_ref().map(IocConfig::validate) {
            Some(Err(errors)) => Err(errors
                .iter()
                .map(|e| format!("ioc.{e}"))
                .collect::<Vec<_>>()
                .join("; ")),
            _ => Ok(()),
        }
    }

    /// Gives the operation center this orchestrator's side, which it shows
    /// in the page. `ioc.side` may be left out (or say `both`, its default)
    /// or name the same side.
    fn settle_ioc_side(&mut self) -> Result<(), String> {
        let side = self.side.label();
        if let Some(ioc) = &mut self.ioc {
            let given = ioc.side.trim();
            let default = IocConfig::default().side;
            if given.eq_ignore_ascii_case(side) || given == default {
                ioc.side = side.to_string();
            } else {
                return Err(format!(
                    "ioc.side = {given:?}: this orchestrator's side is {side:?}; leave it out"
                ));
            }
        }
        Ok(())
    }

    /// The core's configuration: `[core]` with the fleet of `[[fleet]]`,
    /// planning this orchestrator's side only if it stands on one.
    pub fn core_config(&self) -> CoreConfig {
        CoreConfig {
            fleet: self.fleet.clone(),
            territory: self.side.side(),
            ..self.core.clone()
        }
    }

    /// The MQTT client settings for an external broker, or for the embedded
    /// one at `host:port`.
    pub fn mqtt_settings(&self, embedded_at: Option<(String, u16)>) -> MqttSettings {
        match (&self.broker, embedded_at) {
            (BrokerConfig::External(x), _) => {
                let mut s = MqttSettings::new(
                    x.host.clone(),
                    x.port,
                    x.client_id.clone().unwrap_or_else(|| self.name.clone()),
                );
                s.credentials = x
                    .username
                    .as_ref()
                    .map(|u| (u.clone(), x.password.clone().unwrap_or_default()));
                s.tls = x.tls.as_ref().map(|t| TlsFiles {
                    ca: t.ca.clone(),
                    client: t.cert.clone().zip(t.key.clone()),
                });
                s.max_packet_bytes = x.max_packet_bytes;
                s
            }
            (BrokerConfig::Embedded(e), at) => {
                let (host, port) = at.unwrap_or((e.host.clone(), e.port));
                MqttSettings::new(host, port, self.name.clone())
            }
        }
    }
}

fn topic_level_ok(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        Err("must not be empty")
    } else if s.contains(['/', '+', '#']) {
        Err("must not contain '/', '+' or '#', it is a topic level")
    } else if s.chars().any(char::is_control) {
        Err("must not contain control characters")
    } else {
        Ok(())
    }
}

fn check_topic_level(field: &str, value: &str) -> Result<(), String> {
    topic_level_ok(value).map_err(|why| format!("{field} = {value:?}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "borderlane-vn"
side = "VN"
map = "../maps/bac_luan_ii.geojson"

[broker.embedded]
port = 0

[handoff]
key_id = "vn-test"
key = "2222222222222222222222222222222222222222222222222222222222222222"
peer_key_id = "cn-test"
peer_key_file = "keys/cn.pub"

[[fleet]]
serial = "vn-igv-01"
start = "VN_PARK_01"
"#;

    #[test]
    fn a_small_configuration_parses_with_defaults() {
        let c = ServeConfig::parse(GOOD, Path::new("/etc/borderlane")).expect("valid");
        assert_eq!(c.side, SideSel::Vn);
        assert_eq!(
            c.map,
            PathBuf::from("/etc/borderlane/../maps/bac_luan_ii.geojson")
        );
        assert_eq!(c.metrics.listen, "127.0.0.1:9100");
        assert_eq!(c.topics.prefix, "borderlane/v1");
        assert_eq!(c.core_config().fleet.len(), 1);
        let BrokerConfig::Embedded(e) = &c.broker else {
            panic!("embedded");
        };
        assert_eq!(e.host, "127.0.0.1");
        assert_eq!(e.port, 0);
    }

    #[test]
    fn a_side_needs_its_handoff_keys() {
        let c = ServeConfig::parse(GOOD, Path::new("/etc/borderlane")).expect("valid");
        assert_eq!(c.core_config().territory, Some(borderlane_model::Side::Vn));
        let h = c.handoff.expect("keys");
        assert_eq!(
            h.peer_key_file,
            Some(PathBuf::from("/etc/borderlane/keys/cn.pub"))
        );
        let err = h.keys().expect_err("no such file");
        assert!(err.contains("handoff.peer_key_file"), "{err}");
        let start = GOOD.find("[handoff]").expect("a section");
        let end = GOOD.find("[[fleet]]").expect("a fleet");
        let without = format!("{}{}", &GOOD[..start], &GOOD[end..]);
        let err = ServeConfig::parse(&without, Path::new(".")).expect_err("no keys");
        assert!(err.contains("[handoff]"), "{err}");
        let both = GOOD.replace("peer_key_file", "peer_key = \"00\"\npeer_key_file");
        let err = ServeConfig::parse(&both, Path::new(".")).expect_err("two keys");
        assert!(err.contains("one of peer_key and peer_key_file"), "{err}");
        let lane = GOOD.replace("side = \"VN\"", "side = \"both\"");
        let err = ServeConfig::parse(&lane, Path::new(".")).expect_err("keys for the lane");
        assert!(err.contains("leave [handoff] out"), "{err}");
    }

    #[test]
    fn the_state_database_is_taken_from_the_file_s_folder() {
        let c = ServeConfig::parse(GOOD, Path::new("/etc/borderlane")).expect("valid");
        assert_eq!(c.state, None);
        let with = format!("{GOOD}\n[state]\ndatabase = \"../var/vn.db\"\n");
        let c = ServeConfig::parse(&with, Path::new("/etc/borderlane")).expect("valid");
        assert_eq!(
            c.state.map(|s| s.database),
            Some(PathBuf::from("/etc/borderlane/../var/vn.db"))
        );
        for (database, named) in [
            ("\"\"", "state.database: must not be empty"),
            ("\"var/\"", "must name a file"),
            ("\"..\"", "must name a file"),
            ("\"/tmp\"", "is a folder"),
            ("3", "database"),
        ] {
            let bad = format!("{GOOD}\n[state]\ndatabase = {database}\n");
            let err = ServeConfig::parse(&bad, Path::new(".")).expect_err(database);
            assert!(err.contains(named), "{database}: {err}");
        }
        let typo = format!("{GOOD}\n[state]\ndatabase = \"a.db\"\ndatabse = 1\n");
        let err = ServeConfig::parse(&typo, Path::new(".")).expect_err("a typo");
        assert!(err.contains("databse"), "{err}");
    }

    #[test]
    fn unknown_fields_are_named() {
        for (extra, name) in [
            ("colour = \"red\"\n", "colour"),
            ("[metrics]\nlisten = \"127.0.0.1:0\"\nlisen = 1\n", "lisen"),
            ("[vda5050]\nmanufacturr = \"x\"\n", "manufacturr"),
        ] {
            // Top-level keys go before the first table.
            let text = if extra.starts_with('[') {
                format!("{GOOD}\n{extra}")
            } else {
                format!("{extra}{GOOD}")
            };
            let err = ServeConfig::parse(&text, Path::new(".")).expect_err(name);
            assert!(err.contains(name), "{name}: {err}");
        }
    }
}
