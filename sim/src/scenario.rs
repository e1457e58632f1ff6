//! Scenario files: what a simulated run is made of (the map, the fleet, the
//! container demand, the customs split and the faults), read from TOML.
//!
//! Containers are drawn at random from `[demand]`, listed one by one in
//! `[[jobs]]`, or both; `[[operator]]` lists operator commands at set
//! times. `borderlane replay --as-sim` writes such a scenario from a
//! recording: its jobs, operator commands, fleet and link losses.
//!
//! Every table rejects fields it does not know, so a misspelt key is an error
//! rather than a silently ignored setting. Errors name the field: parse errors
//! carry the key and line from the TOML reader, and range checks name the
//! field by its dotted path, for example
//! `demand.vn_to_cn_share = 1.5 is outside 0..=1`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use borderlane_core::io::{Channel, JobRequest, OperatorCommand};
use borderlane_model::{Ms, Side};
use serde::{Deserialize, Deserializer, Serialize};

use crate::border::LinkModel;

/// A whole scenario, as written in its file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name, used in reports.
    pub name: String,
    /// What the scenario is meant to show.
    #[serde(default)]
    pub description: String,
    /// The GeoJSON lane map. A relative path is taken relative to the
    /// scenario file; [`Scenario::load`] resolves it.
    pub map: PathBuf,
    /// The seed of the one generator all random draws come from.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// How many days of demand to simulate.
    #[serde(default = "default_days")]
    pub days: u32,
    pub fleet: Fleet,
    /// The vehicle's size, speeds and acceleration; the core plans with the
    /// same figures the simulated vehicles drive with.
    #[serde(default)]
    pub vehicle: VehicleSpecs,
    /// The battery: consumption, charging or swapping.
    #[serde(default)]
    pub battery: Battery,
    /// Containers drawn at random; none without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demand: Option<Demand>,
    #[serde(default)]
    pub customs: Customs,
    #[serde(default)]
    pub faults: Faults,
    /// Containers asked for at set times, besides the drawn ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<Job>,
    /// Operator commands at set times.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operator: Vec<Operator>,
    /// One orchestrator for the whole lane, or one per side.
    #[serde(default)]
    pub orchestrators: Orchestrators,
    /// Settings of the orchestrator core(s) that differ from the core's
    /// defaults.
    #[serde(default, skip_serializing_if = "CoreSettings::is_default")]
    pub core: CoreSettings,
}

/// The core settings a scenario may set; every other setting, and one not
/// set here, is the core's default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoreSettings {
    /// How far ahead a committed plan reaches, ms; 0 plans every job whole
    /// (see `CoreConfig::plan_horizon_ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_horizon_ms: Option<Ms>,
}

impl CoreSettings {
    /// Whether nothing is set: the core's defaults throughout.
    pub fn is_default(&self) -> bool {
        *self == CoreSettings::default()
    }

    /// Sets what is set here on a core's configuration.
    pub fn apply(&self, config: &mut borderlane_core::CoreConfig) {
        if let Some(ms) = self.plan_horizon_ms {
            config.plan_horizon_ms = ms;
        }
    }
}

/// How the lane is controlled: by one orchestrator, or by a VN and a CN
/// orchestrator, each planning its own territory and handing vehicles over
/// at the border through the handoff protocol, over a link between them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Orchestrators {
    /// One orchestrator per side.
    pub split: bool,
    /// The time a handoff message takes between the sides, ms.
    pub latency_ms: u64,
    /// A random extra delay of up to this much, ms (messages may overtake
    /// one another).
    pub jitter_ms: u64,
    /// The chance that a handoff message is lost.
    pub loss: f64,
    /// The chance that a handoff message arrives twice.
    pub duplicate: f64,
}

impl Default for Orchestrators {
    fn default() -> Orchestrators {
        let link = LinkModel::default();
        Orchestrators {
            split: false,
            latency_ms: link.latency_ms,
            jitter_ms: link.jitter_ms,
            loss: link.loss,
            duplicate: link.duplicate,
        }
    }
}

impl Orchestrators {
    /// The link between the sides, with the partitions of `faults`.
    pub fn link(&self, faults: &Faults) -> LinkModel {
        LinkModel {
            latency_ms: self.latency_ms,
            jitter_ms: self.jitter_ms,
            loss: self.loss,
            duplicate: self.duplicate,
            partitions: faults
                .partition
                .iter()
                .map(|p| {
                    let at = (p.at_s * 1000.0) as u64;
                    (at, at + (p.for_s * 1000.0) as u64)
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    /// How many vehicles; unless `start` places them, they are `igv-000`,
    /// `igv-001`, ... and start on the parking places of both sides, then on
    /// the chargers.
    pub vehicles: usize,
    /// Each vehicle's serial and start, one entry per vehicle, when given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub start: Vec<VehicleStart>,
}

/// One vehicle of the fleet, named and placed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleStart {
    /// Its serial number, such as `igv-003`.
    pub serial: String,
    /// The node of the map it starts at, such as `VN_PARK_W1`.
    pub node: String,
    /// Its charge at the start, percent; drawn as the others' when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battery_pct: Option<f64>,
}

/// A container asked for at a set time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Seconds from the start of the run.
    pub at_s: f64,
    pub id: String,
    pub container: String,
    /// The yard slot the container waits at, such as `VN_SLOT_03`; it is
    /// carried to the other side.
    pub pickup: String,
    /// `green`, `yellow`, `red_scan` or `red_inspection`.
    pub channel: Channel,
    /// How long the scan or inspection takes, seconds.
    #[serde(default)]
    pub customs_s: f64,
    /// Higher goes first.
    #[serde(default)]
    pub priority: u8,
    /// When the container should be delivered, seconds from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_s: Option<f64>,
}

impl Job {
    /// The job as the core takes it, and when.
    pub fn request(&self) -> (Ms, JobRequest) {
        (
            ms(self.at_s),
            JobRequest {
                id: self.id.clone(),
                container: self.container.clone(),
                pickup: self.pickup.clone(),
                channel: self.channel,
                customs_ms: ms(self.customs_s),
                priority: self.priority,
                deadline: self.deadline_s.map(ms),
            },
        )
    }
}

/// An operator's command at a set time: `at_s` and the command's own
/// fields, as the operator topic takes them, for example
/// `{ at_s = 180, command = "block_place", node = "BORDER_NB" }`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Operator {
    /// Seconds from the start of the run.
    pub at_s: f64,
    #[serde(flatten)]
    pub command: OperatorCommand,
}

/// Reads `at_s` and the command, refusing fields the command does not have.
impl<'de> Deserialize<'de> for Operator {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Operator, D::Error> {
        use serde::de::Error;
        let mut fields = toml::Table::deserialize(d)?;
        let at_s = match fields.remove("at_s") {
            Some(toml::Value::Float(f)) => f,
            Some(toml::Value::Integer(i)) => i as f64,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "at_s = {other} must be a number of seconds"
                )));
            }
            None => return Err(D::Error::missing_field("at_s")),
        };
        let command: OperatorCommand = toml::Value::Table(fields.clone())
            .try_into()
            .map_err(|e: toml::de::Error| D::Error::custom(e.message()))?;
        let known = toml::Table::try_from(&command).map_err(D::Error::custom)?;
        if let Some(unknown) = fields.keys().find(|k| !known.contains_key(*k)) {
            let mut expected: Vec<String> = known.keys().map(|k| format!("`{k}`")).collect();
            expected.insert(0, "`at_s`".into());
            return Err(D::Error::custom(format!(
                "unknown field `{unknown}` of an operator command, expected {}",
                expected.join(", ")
            )));
        }
        Ok(Operator { at_s, command })
    }
}

impl Operator {
    /// The vehicle the command is about, if it is about one.
    pub fn vehicle(&self) -> Option<&str> {
        match &self.command {
            OperatorCommand::PauseVehicle { vehicle }
            | OperatorCommand::ResumeVehicle { vehicle }
            | OperatorCommand::SendToCharger { vehicle }
            | OperatorCommand::SendToParking { vehicle } => Some(vehicle),
            _ => None,
        }
    }

    /// The node the command is about, if it is about one.
    pub fn node(&self) -> Option<&str> {
        match &self.command {
            OperatorCommand::BlockPlace { node } | OperatorCommand::UnblockPlace { node } => {
                Some(node)
            }
            _ => None,
        }
    }
}

/// Seconds to whole milliseconds, rounded.
pub fn ms(seconds: f64) -> Ms {
    (seconds * 1_000.0).round() as Ms
}

/// The vehicle, as the simulated vehicles drive and the core plans.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VehicleSpecs {
    /// Length, metres.
    pub length_m: f64,
    /// Top speed without a container, km/h.
    pub speed_empty_kmh: f64,
    /// Top speed with a container, km/h.
    pub speed_loaded_kmh: f64,
    /// Acceleration limit, m/s².
    pub accel_mps2: f64,
    /// Braking limit, m/s².
    pub decel_mps2: f64,
}

/// An IGV about 15.6 m long, 25 km/h empty and 20 km/h loaded, with gentle
/// acceleration and braking: the core's default profile.
impl Default for VehicleSpecs {
    fn default() -> VehicleSpecs {
        VehicleSpecs::of(&borderlane_core::kinematics::VehicleProfile::default())
    }
}

impl VehicleSpecs {
    /// The figures of a core's profile, speeds in km/h rounded to 1e-6.
    pub fn of(p: &borderlane_core::kinematics::VehicleProfile) -> VehicleSpecs {
        VehicleSpecs {
            length_m: p.length_m,
            speed_empty_kmh: (p.max_speed_empty_mps * 3.6 * 1e6).round() / 1e6,
            speed_loaded_kmh: (p.max_speed_loaded_mps * 3.6 * 1e6).round() / 1e6,
            accel_mps2: p.accel_mps2,
            decel_mps2: p.decel_mps2,
        }
    }

    /// The core's profile for these figures.
    pub fn profile(&self) -> borderlane_core::kinematics::VehicleProfile {
        borderlane_core::kinematics::VehicleProfile {
            length_m: self.length_m,
            max_speed_empty_mps: self.speed_empty_kmh / 3.6,
            max_speed_loaded_mps: self.speed_loaded_kmh / 3.6,
            accel_mps2: self.accel_mps2,
            decel_mps2: self.decel_mps2,
        }
    }
}

/// The battery of every vehicle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Battery {
    /// Each vehicle starts with a charge drawn between these, percent.
    pub start_pct_min: f64,
    pub start_pct_max: f64,
    /// Charge used per kilometre driven empty, percent.
    pub use_pct_per_km_empty: f64,
    /// Charge used per kilometre driven with a container, percent.
    pub use_pct_per_km_loaded: f64,
    /// Charge gained per hour on a charger, percent.
    pub charge_pct_per_h: f64,
    /// Whether chargers swap the battery instead of charging it.
    pub swap: bool,
    /// How long a battery swap takes, seconds.
    pub swap_s: f64,
}

/// About 1 h of charge for 12 h of work: a busy vehicle drives about
/// 10 km an hour, so 12 h use about 100 %, which a charger puts back in an
/// hour. A swap takes 5 minutes.
impl Default for Battery {
    fn default() -> Battery {
        Battery {
            start_pct_min: 50.0,
            start_pct_max: 100.0,
            use_pct_per_km_empty: 0.7,
            use_pct_per_km_loaded: 0.9,
            charge_pct_per_h: 100.0,
            swap: false,
            swap_s: 300.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demand {
    /// Containers a weekday, both directions together.
    pub containers_per_day: f64,
    /// The fraction of containers that go from Vietnam to China.
    #[serde(default = "default_share")]
    pub vn_to_cn_share: f64,
    /// Relative weights of the 24 hours of a day, from 00:00 on.
    #[serde(default = "default_hourly_profile")]
    pub hourly_profile: Vec<f64>,
    /// Demand on Saturdays and Sundays (days 5 and 6 of each week) relative
    /// to a weekday.
    #[serde(default = "default_weekend_factor")]
    pub weekend_factor: f64,
    /// A factor on every day's demand, for peak seasons.
    #[serde(default = "default_peak_factor")]
    pub peak_factor: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Customs {
    /// The fraction of containers released without checks.
    pub green: f64,
    /// The fraction whose documents are checked while the vehicle drives on.
    pub yellow: f64,
    /// The fraction that is checked: X-rayed or physically inspected.
    pub red: f64,
    /// The fraction of red containers inspected physically instead of
    /// X-rayed.
    pub red_inspection_share: f64,
    /// The range of X-ray scan times, seconds.
    pub scan_s_min: f64,
    pub scan_s_max: f64,
    /// The range of physical inspection times, seconds.
    pub inspection_s_min: f64,
    pub inspection_s_max: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Breakdowns at set times.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub breakdown: Vec<Breakdown>,
    /// The mean time between failures of each vehicle, hours; when set,
    /// breakdowns are drawn at random for every vehicle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_mtbf_h: Option<f64>,
    /// The mean time to repair (or tow away) a randomly drawn breakdown,
    /// seconds; each repair time is drawn between half and one and a half
    /// times this.
    #[serde(default = "default_random_repair_s")]
    pub random_repair_s: f64,
    /// Links lost at set times.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub link_loss: Vec<LinkLoss>,
    /// The mean time between link losses of each vehicle, hours; when set,
    /// losses are drawn at random for every vehicle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_link_loss_mtbf_h: Option<f64>,
    /// The mean length of a randomly drawn link loss, seconds; each is
    /// drawn between half and one and a half times this.
    #[serde(default = "default_random_link_loss_s")]
    pub random_link_loss_s: f64,
    /// Places out of service (a scan lane, a charger, an inspection bay) at
    /// set times.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outage: Vec<Outage>,
    /// The link between the two orchestrators cut from `at_s` for `for_s`
    /// (with `orchestrators.split`): no handoff message crosses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition: Vec<Partition>,
    /// Partitions drawn at random (with `orchestrators.split`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_partitions: Option<RandomFaults>,
    /// One side's orchestrator stopped at `at_s` and restarted `down_s`
    /// later from its database (with `orchestrators.split`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restart: Vec<Restart>,
    /// Restarts drawn at random, of either side (with
    /// `orchestrators.split`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_restarts: Option<RandomFaults>,
}

/// One side's orchestrator stops at `at_s`: its core and handoff desk lose
/// their memory, its vehicles drive on as far as they were released. It
/// starts again `down_s` later and recovers from its database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restart {
    pub side: Side,
    pub at_s: f64,
    pub down_s: f64,
}

/// Faults drawn at random: `count` of them, each starting at a time drawn
/// uniformly between `from_s` and `to_s` and lasting between half and one
/// and a half times `length_s` (for a restart, on a side drawn at random).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomFaults {
    pub count: u32,
    pub from_s: f64,
    pub to_s: f64,
    pub length_s: f64,
}

/// The cross-border link is partitioned from `at_s` for `for_s`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    pub at_s: f64,
    pub for_s: f64,
}

/// Where a breakdown happens.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Where {
    /// At the first node off the bridge the vehicle reaches.
    #[default]
    Road,
    /// At the first bridge end or border node the vehicle reaches.
    Bridge,
}

/// A vehicle's link to the orchestrator is lost at the first place (yard
/// slot, parking place, charger, inspection bay) it stops at, at or after
/// `at_s` (or at `at_s` if it stands at rest), and comes back `for_s` later.
/// Without its link the vehicle stays there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkLoss {
    pub vehicle: String,
    pub at_s: f64,
    pub for_s: f64,
}

/// A place is out of service from `at_s` for `for_s`: the operator blocks
/// it, then unblocks it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    /// The node's id in the map, such as `VN_SCAN_1` or `CN_CHG_2`.
    pub node: String,
    pub at_s: f64,
    pub for_s: f64,
}

/// A vehicle breaks down at the first place it reaches at or after `at_s`
/// and stays there for `repair_s`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breakdown {
    /// The vehicle's serial, such as `igv-003`.
    pub vehicle: String,
    /// Seconds from the start of the run.
    pub at_s: f64,
    /// Seconds until the vehicle is repaired or towed away.
    pub repair_s: f64,
    /// On the road (the default) or on the bridge.
    #[serde(default, rename = "where")]
    pub place: Where,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            breakdown: Vec::new(),
            random_mtbf_h: None,
            random_repair_s: default_random_repair_s(),
            link_loss: Vec::new(),
            random_link_loss_mtbf_h: None,
            random_link_loss_s: default_random_link_loss_s(),
            outage: Vec::new(),
            partition: Vec::new(),
            random_partitions: None,
            restart: Vec::new(),
            random_restarts: None,
        }
    }
}

fn default_seed() -> u64 {
    1
}

fn default_days() -> u32 {
    1
}

fn default_share() -> f64 {
    0.5
}

fn default_weekend_factor() -> f64 {
    0.7
}

fn default_peak_factor() -> f64 {
    1.0
}

fn default_random_repair_s() -> f64 {
    1_800.0
}

fn default_random_link_loss_s() -> f64 {
    120.0
}

/// A daytime-heavy day: little at night, a morning and an afternoon peak
/// around the customs offices' hours.
pub fn default_hourly_profile() -> Vec<f64> {
    vec![
        1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 4.0, 6.0, 8.0, 9.0, 9.0, 8.0, //
        6.0, 7.0, 9.0, 9.0, 8.0, 6.0, 4.0, 3.0, 2.0, 2.0, 1.0, 1.0,
    ]
}

/// Vietnam's published channel split (2020: 52.48 % green, 42.55 % yellow,
/// 4.97 % red), rounded; X-ray from 20 s to 3 min; physical inspection from
/// 1 to 4 hours.
impl Default for Customs {
    fn default() -> Customs {
        Customs {
            green: 0.52,
            yellow: 0.43,
            red: 0.05,
            red_inspection_share: 0.2,
            scan_s_min: 20.0,
            scan_s_max: 180.0,
            inspection_s_min: 3_600.0,
            inspection_s_max: 14_400.0,
        }
    }
}

/// Why a scenario cannot be run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScenarioError {
    /// The scenario file cannot be read.
    Unreadable(String),
    /// The file is not valid TOML or does not fit the scenario's fields; the
    /// message names the key and line.
    Syntax(String),
    /// A field's value is out of range; the message names the field.
    Invalid(String),
    /// The map cannot be read or is not a valid lane map.
    Map(String),
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioError::Unreadable(m) => write!(f, "cannot read the scenario: {m}"),
            ScenarioError::Syntax(m) => write!(f, "{}", m.trim_end()),
            ScenarioError::Invalid(m) => f.write_str(m),
            ScenarioError::Map(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// Reads and validates a scenario file; a relative map path is resolved
    /// against the file's folder.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError::Unreadable(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Scenario::parse(&text, base)
    }

    /// Parses and validates scenario text; a relative map path is resolved
    /// against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Scenario, ScenarioError> {
        let mut s: Scenario =
            toml::from_str(text).map_err(|e| ScenarioError::Syntax(e.to_string()))?;
        if s.map.is_relative() {
            s.map = base.join(&s.map);
        }
        s.validate()?;
        Ok(s)
    }

    /// Checks every value against its range, naming the first field that is
    /// out of it.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let bad = |m: String| Err(ScenarioError::Invalid(m));
        if self.name.trim().is_empty() {
            return bad("name must not be empty".into());
        }
        if self.days == 0 {
            return bad("days = 0 must be at least 1".into());
        }
        if self.fleet.vehicles == 0 {
            return bad("fleet.vehicles = 0 must be at least 1".into());
        }
        self.validate_fleet()?;
        match &self.demand {
            Some(d) => d.validate()?,
            None if self.jobs.is_empty() => {
                return bad("the scenario has no containers: give [demand] or [[jobs]]".into());
            }
            None => {}
        }
        self.validate_jobs()?;
        let c = &self.customs;
        within("customs.green", c.green, 0.0, 1.0)?;
        within("customs.yellow", c.yellow, 0.0, 1.0)?;
        within("customs.red", c.red, 0.0, 1.0)?;
        let sum = c.green + c.yellow + c.red;
        if (sum - 1.0).abs() > 0.001 {
            return bad(format!(
                "customs.green + customs.yellow + customs.red = {sum} must be 1 (within 0.001)"
            ));
        }
        within(
            "customs.red_inspection_share",
            c.red_inspection_share,
            0.0,
            1.0,
        )?;
        at_least("customs.scan_s_min", c.scan_s_min, 0.0)?;
        at_least("customs.scan_s_max", c.scan_s_max, c.scan_s_min)?;
        at_least("customs.inspection_s_min", c.inspection_s_min, 0.0)?;
        at_least(
            "customs.inspection_s_max",
            c.inspection_s_max,
            c.inspection_s_min,
        )?;
        let v = &self.vehicle;
        above("vehicle.length_m", v.length_m)?;
        above("vehicle.speed_empty_kmh", v.speed_empty_kmh)?;
        above("vehicle.speed_loaded_kmh", v.speed_loaded_kmh)?;
        above("vehicle.accel_mps2", v.accel_mps2)?;
        above("vehicle.decel_mps2", v.decel_mps2)?;
        let b = &self.battery;
        within("battery.start_pct_min", b.start_pct_min, 0.0, 100.0)?;
        within(
            "battery.start_pct_max",
            b.start_pct_max,
            b.start_pct_min,
            100.0,
        )?;
        at_least("battery.use_pct_per_km_empty", b.use_pct_per_km_empty, 0.0)?;
        at_least(
            "battery.use_pct_per_km_loaded",
            b.use_pct_per_km_loaded,
            0.0,
        )?;
        above("battery.charge_pct_per_h", b.charge_pct_per_h)?;
        above("battery.swap_s", b.swap_s)?;
        let f = &self.faults;
        let serials = self.serials();
        let in_fleet = |field: String, vehicle: &str| {
            if serials.iter().any(|s| s == vehicle) {
                Ok(())
            } else {
                Err(ScenarioError::Invalid(format!(
                    "{field} = {vehicle:?} is not in the fleet ({} to {})",
                    serials[0],
                    serials[serials.len() - 1]
                )))
            }
        };
        for (i, o) in self.operator.iter().enumerate() {
            at_least(&format!("operator[{i}].at_s"), o.at_s, 0.0)?;
            if let Some(vehicle) = o.vehicle() {
                in_fleet(format!("operator[{i}].vehicle"), vehicle)?;
            }
        }
        for (i, b) in f.breakdown.iter().enumerate() {
            in_fleet(format!("faults.breakdown[{i}].vehicle"), &b.vehicle)?;
            at_least(&format!("faults.breakdown[{i}].at_s"), b.at_s, 0.0)?;
            at_least(&format!("faults.breakdown[{i}].repair_s"), b.repair_s, 0.0)?;
        }
        if let Some(mtbf) = f.random_mtbf_h {
            above("faults.random_mtbf_h", mtbf)?;
        }
        at_least("faults.random_repair_s", f.random_repair_s, 0.0)?;
        for (i, l) in f.link_loss.iter().enumerate() {
            in_fleet(format!("faults.link_loss[{i}].vehicle"), &l.vehicle)?;
            at_least(&format!("faults.link_loss[{i}].at_s"), l.at_s, 0.0)?;
            above(&format!("faults.link_loss[{i}].for_s"), l.for_s)?;
        }
        if let Some(mtbf) = f.random_link_loss_mtbf_h {
            above("faults.random_link_loss_mtbf_h", mtbf)?;
        }
        above("faults.random_link_loss_s", f.random_link_loss_s)?;
        for (i, o) in f.outage.iter().enumerate() {
            if o.node.trim().is_empty() {
                return bad(format!("faults.outage[{i}].node must not be empty"));
            }
            at_least(&format!("faults.outage[{i}].at_s"), o.at_s, 0.0)?;
            above(&format!("faults.outage[{i}].for_s"), o.for_s)?;
        }
        for (i, p) in f.partition.iter().enumerate() {
            at_least(&format!("faults.partition[{i}].at_s"), p.at_s, 0.0)?;
            above(&format!("faults.partition[{i}].for_s"), p.for_s)?;
        }
        for (i, r) in f.restart.iter().enumerate() {
            at_least(&format!("faults.restart[{i}].at_s"), r.at_s, 0.0)?;
            above(&format!("faults.restart[{i}].down_s"), r.down_s)?;
        }
        for (name, r) in [
            ("random_partitions", &f.random_partitions),
            ("random_restarts", &f.random_restarts),
        ] {
            let Some(r) = r else { continue };
            at_least(&format!("faults.{name}.from_s"), r.from_s, 0.0)?;
            at_least(&format!("faults.{name}.to_s"), r.to_s, r.from_s)?;
            above(&format!("faults.{name}.length_s"), r.length_s)?;
        }
        let restarts = !f.restart.is_empty() || f.random_restarts.is_some();
        if restarts && !self.orchestrators.split {
            return bad(
                "faults.restart and faults.random_restarts need orchestrators.split = true: \
                 they restart one side's orchestrator"
                    .into(),
            );
        }
        if f.random_partitions.is_some() && !self.orchestrators.split {
            return bad("faults.random_partitions needs orchestrators.split = true".into());
        }
        if !f.partition.is_empty() && !self.orchestrators.split {
            return bad(
                "faults.partition needs orchestrators.split = true: one orchestrator has no link to cut"
                    .into(),
            );
        }
        let o = &self.orchestrators;
        within("orchestrators.loss", o.loss, 0.0, 1.0)?;
        within("orchestrators.duplicate", o.duplicate, 0.0, 1.0)?;
        Ok(())
    }

    /// The fleet's serials, in fleet order.
    pub fn serials(&self) -> Vec<String> {
        if self.fleet.start.is_empty() {
            serials(self.fleet.vehicles)
        } else {
            self.fleet.start.iter().map(|v| v.serial.clone()).collect()
        }
    }

    /// Checks `[[fleet.start]]`: one entry per vehicle, each named once.
    pub(crate) fn validate_fleet(&self) -> Result<(), ScenarioError> {
        let start = &self.fleet.start;
        if start.is_empty() {
            return Ok(());
        }
        if start.len() != self.fleet.vehicles {
            return Err(ScenarioError::Invalid(format!(
                "fleet.start has {} vehicles but fleet.vehicles = {}: give one [[fleet.start]] per vehicle",
                start.len(),
                self.fleet.vehicles
            )));
        }
        let mut seen = BTreeMap::new();
        for (i, v) in start.iter().enumerate() {
            not_empty(&format!("fleet.start[{i}].serial"), &v.serial)?;
            not_empty(&format!("fleet.start[{i}].node"), &v.node)?;
            unique(
                &mut seen,
                &format!("fleet.start[{i}].serial"),
                &v.serial,
                i,
                |k| format!("fleet.start[{k}]"),
            )?;
            if let Some(pct) = v.battery_pct {
                within(&format!("fleet.start[{i}].battery_pct"), pct, 0.0, 100.0)?;
            }
        }
        Ok(())
    }

    fn validate_jobs(&self) -> Result<(), ScenarioError> {
        let mut seen = BTreeMap::new();
        for (i, j) in self.jobs.iter().enumerate() {
            let field = |name: &str| format!("jobs[{i}].{name}");
            at_least(&field("at_s"), j.at_s, 0.0)?;
            not_empty(&field("id"), &j.id)?;
            unique(&mut seen, &field("id"), &j.id, i, |k| format!("jobs[{k}]"))?;
            not_empty(&field("container"), &j.container)?;
            not_empty(&field("pickup"), &j.pickup)?;
            at_least(&field("customs_s"), j.customs_s, 0.0)?;
            if let Some(d) = j.deadline_s {
                at_least(&field("deadline_s"), d, 0.0)?;
            }
        }
        Ok(())
    }
}

impl Demand {
    /// This many containers a weekday, everything else as by default.
    pub fn per_day(containers_per_day: f64) -> Demand {
        Demand {
            containers_per_day,
            vn_to_cn_share: default_share(),
            hourly_profile: default_hourly_profile(),
            weekend_factor: default_weekend_factor(),
            peak_factor: default_peak_factor(),
        }
    }

    fn validate(&self) -> Result<(), ScenarioError> {
        at_least("demand.containers_per_day", self.containers_per_day, 0.0)?;
        within("demand.vn_to_cn_share", self.vn_to_cn_share, 0.0, 1.0)?;
        at_least("demand.weekend_factor", self.weekend_factor, 0.0)?;
        at_least("demand.peak_factor", self.peak_factor, 0.0)?;
        let profile = &self.hourly_profile;
        if profile.len() != 24 {
            return Err(ScenarioError::Invalid(format!(
                "demand.hourly_profile has {} weights, not 24 (one per hour)",
                profile.len()
            )));
        }
        for (i, &w) in profile.iter().enumerate() {
            at_least(&format!("demand.hourly_profile[{i}]"), w, 0.0)?;
        }
        if profile.iter().sum::<f64>() <= 0.0 {
            return Err(ScenarioError::Invalid(
                "demand.hourly_profile has no weight above 0".into(),
            ));
        }
        Ok(())
    }
}

/// The serials of a fleet of `n` vehicles: `igv-000`, `igv-001`, ...
pub fn serials(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("igv-{i:03}")).collect()
}

fn not_empty(field: &str, v: &str) -> Result<(), ScenarioError> {
    if v.trim().is_empty() {
        Err(ScenarioError::Invalid(format!("{field} must not be empty")))
    } else {
        Ok(())
    }
}

/// Refuses a value that entry `i` shares with an earlier one; `seen` maps
/// each value to the entry that has it, `entry` names an entry by index.
fn unique<'a>(
    seen: &mut BTreeMap<&'a str, usize>,
    field: &str,
    v: &'a str,
    i: usize,
    entry: impl Fn(usize) -> String,
) -> Result<(), ScenarioError> {
    match seen.insert(v, i) {
        Some(k) => Err(ScenarioError::Invalid(format!(
            "{field} = {v:?} is also that of {}: each must be unique",
            entry(k)
        ))),
        None => Ok(()),
    }
}

fn within(field: &str, v: f64, lo: f64, hi: f64) -> Result<(), ScenarioError> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(ScenarioError::Invalid(format!(
            "{field} = {v} is outside {lo}..={hi}"
        )))
    }
}

fn above(field: &str, v: f64) -> Result<(), ScenarioError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(ScenarioError::Invalid(format!(
            "{field} = {v} must be above 0"
        )))
    }
}

fn at_least(field: &str, v: f64, lo: f64) -> Result<(), ScenarioError> {
    if v.is_finite() && v >= lo {
        Ok(())
    } else {
        Err(ScenarioError::Invalid(format!(
            "{field} = {v} must be at least {lo}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
map = "m.geojson"
[fleet]
vehicles = 3
[demand]
containers_per_day = 10
"#;

    #[test]
    fn defaults_fill_what_is_left_out() {
        let s = Scenario::parse(MINIMAL, Path::new("/base")).unwrap();
        assert_eq!(s.seed, 1);
        assert_eq!(s.days, 1);
        assert_eq!(s.map, Path::new("/base/m.geojson"));
        assert_eq!(s.demand, Some(Demand::per_day(10.0)));
        assert_eq!(s.customs, Customs::default());
        assert_eq!(s.faults, Faults::default());
        assert_eq!(s.faults.random_repair_s, 1_800.0);
        assert_eq!(s.battery, Battery::default());
        assert_eq!(
            s.vehicle.profile(),
            borderlane_core::kinematics::VehicleProfile::default()
        );
    }

    #[test]
    fn unknown_fields_are_named() {
        let text = MINIMAL.replace("[fleet]", "[fleet]\nvehicels = 4");
        let e = Scenario::parse(&text, Path::new(".")).unwrap_err();
        assert!(matches!(e, ScenarioError::Syntax(_)), "{e:?}");
        assert!(e.to_string().contains("vehicels"), "{e}");
    }

    #[test]
    fn out_of_range_values_are_named() {
        for (from, to, field) in [
            (
                "containers_per_day = 10",
                "containers_per_day = 10\nvn_to_cn_share = 1.5",
                "demand.vn_to_cn_share = 1.5 is outside 0..=1",
            ),
            (
                "vehicles = 3",
                "vehicles = 3\n[customs]\ngreen = 0.9",
                "customs.green + customs.yellow + customs.red",
            ),
            (
                "vehicles = 3",
                "vehicles = 3\n[[faults.breakdown]]\nvehicle = \"igv-003\"\nat_s = 0\nrepair_s = 1",
                "faults.breakdown[0].vehicle",
            ),
        ] {
            let e = Scenario::parse(&MINIMAL.replace(from, to), Path::new(".")).unwrap_err();
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    /// A scenario of two vehicles, placed, and set jobs and commands only.
    const LISTED: &str = r#"
name = "listed"
map = "m.geojson"
[fleet]
vehicles = 2
[[fleet.start]]
serial = "a"
node = "VN_PARK_W1"
battery_pct = 80
[[fleet.start]]
serial = "b"
node = "CN_PARK_W1"
[[jobs]]
at_s = 7.5
id = "job-1"
container = "BLNU0000001"
pickup = "VN_SLOT_03"
channel = "red_scan"
customs_s = 60
[[jobs]]
at_s = 20
id = "job-2"
container = "BLNU0000002"
pickup = "CN_SLOT_01"
channel = "green"
[[operator]]
at_s = 180
command = "block_place"
node = "BORDER_NB"
[[operator]]
at_s = 200
command = "pause_vehicle"
vehicle = "b"
"#;

    #[test]
    fn jobs_operator_commands_and_a_placed_fleet_are_read() {
        let s = Scenario::parse(LISTED, Path::new("/base")).unwrap();
        assert_eq!(s.demand, None);
        assert_eq!(s.serials(), ["a", "b"]);
        assert_eq!(s.fleet.start[0].battery_pct, Some(80.0));
        let (at, job) = s.jobs[0].request();
        assert_eq!(
            (at, job.customs_ms, job.channel),
            (7_500, 60_000, Channel::RedScan)
        );
        assert_eq!(
            s.operator[1].command,
            OperatorCommand::PauseVehicle {
                vehicle: "b".into()
            }
        );
        assert_eq!(s.operator[0].node(), Some("BORDER_NB"));
        // Written back as TOML, it reads the same.
        let text = toml::to_string(&s).unwrap();
        assert_eq!(Scenario::parse(&text, Path::new("/elsewhere")).unwrap(), s);
    }

    #[test]
    fn a_bad_job_names_its_field() {
        for (from, to, says) in [
            ("pickup = \"CN_SLOT_01\"", "pikup = \"CN_SLOT_01\"", "pikup"),
            ("channel = \"green\"", "channel = \"blue\"", "blue"),
            (
                "at_s = 20",
                "at_s = -1",
                "jobs[1].at_s = -1 must be at least 0",
            ),
            (
                "id = \"job-2\"",
                "id = \"job-1\"",
                "jobs[1].id = \"job-1\" is also that of jobs[0]",
            ),
            (
                "container = \"BLNU0000002\"",
                "container = \"\"",
                "jobs[1].container must not be empty",
            ),
            ("customs_s = 60", "customs_s = -60", "jobs[0].customs_s"),
        ] {
            assert!(LISTED.contains(from), "{from}");
            let e = Scenario::parse(&LISTED.replace(from, to), Path::new(".")).unwrap_err();
            assert!(e.to_string().contains(says), "{says}: {e}");
        }
        let no_channel = LISTED.replace("channel = \"green\"\n", "");
        let e = Scenario::parse(&no_channel, Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("missing field `channel`"), "{e}");
    }

    #[test]
    fn a_bad_operator_command_or_fleet_names_its_field() {
        for (from, to, says) in [
            ("node = \"BORDER_NB\"", "nod = \"BORDER_NB\"", "nod"),
            (
                "node = \"BORDER_NB\"",
                "node = \"BORDER_NB\"\nwhy = \"x\"",
                "unknown field `why`",
            ),
            (
                "command = \"block_place\"",
                "command = \"blok_place\"",
                "blok_place",
            ),
            ("at_s = 180", "at_s = \"soon\"", "at_s"),
            ("at_s = 180", "at_s = -5", "operator[0].at_s = -5"),
            (
                "vehicle = \"b\"",
                "vehicle = \"c\"",
                "operator[1].vehicle = \"c\" is not in the fleet",
            ),
            (
                "vehicles = 2",
                "vehicles = 3",
                "fleet.start has 2 vehicles but fleet.vehicles = 3",
            ),
            (
                "serial = \"b\"",
                "serial = \"a\"",
                "fleet.start[1].serial = \"a\" is also that of fleet.start[0]",
            ),
            (
                "battery_pct = 80",
                "battery_pct = 180",
                "fleet.start[0].battery_pct",
            ),
            ("node = \"CN_PARK_W1\"", "place = \"CN_PARK_W1\"", "place"),
        ] {
            assert!(LISTED.contains(from), "{from}");
            let e = Scenario::parse(&LISTED.replacen(from, to, 1), Path::new(".")).unwrap_err();
            assert!(e.to_string().contains(says), "{says}: {e}");
        }
    }

    #[test]
    fn core_settings_are_the_cores_defaults_unless_set() {
        let mut config = borderlane_core::CoreConfig::default();
        let s = Scenario::parse(MINIMAL, Path::new(".")).unwrap();
        assert!(s.core.is_default());
        s.core.apply(&mut config);
        assert_eq!(config, borderlane_core::CoreConfig::default());
        let set = format!("{MINIMAL}\n[core]\nplan_horizon_ms = 1800000\n");
        let s = Scenario::parse(&set, Path::new(".")).unwrap();
        s.core.apply(&mut config);
        assert_eq!(config.plan_horizon_ms, 1_800_000);
        for (text, says) in [
            ("[core]\nplan_horizon = 5\n", "unknown field `plan_horizon`"),
            ("[core]\nplan_horizon_ms = -5\n", "plan_horizon_ms"),
        ] {
            let e = Scenario::parse(&format!("{MINIMAL}\n{text}"), Path::new(".")).unwrap_err();
            assert!(e.to_string().contains(says), "{says}: {e}");
        }
    }

    #[test]
    fn a_scenario_needs_demand_or_jobs() {
        let e = Scenario::parse(
            &MINIMAL.replace("[demand]\ncontainers_per_day = 10\n", ""),
            Path::new("."),
        )
        .unwrap_err();
        assert!(e.to_string().contains("[demand] or [[jobs]]"), "{e}");
    }
}
