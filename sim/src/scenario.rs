//! Scenario files: what a simulated run is made of (the map, the fleet, the
//! container demand, the customs split and the faults), read from TOML.
//!
//! Every table rejects fields it does not know, so a misspelt key is an error
//! rather than a silently ignored setting. Errors name the field: parse errors
//! carry the key and line from the TOML reader, and range checks name the
//! field by its dotted path, for example
//! `demand.vn_to_cn_share = 1.5 is outside 0..=1`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
    pub demand: Demand,
    #[serde(default)]
    pub customs: Customs,
    #[serde(default)]
    pub faults: Faults,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    /// How many vehicles; they start on the parking places of both sides,
    /// then on the chargers.
    pub vehicles: usize,
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
        let p = borderlane_core::kinematics::VehicleProfile::default();
        VehicleSpecs {
            length_m: p.length_m,
            speed_empty_kmh: (p.max_speed_empty_mps * 3.6 * 1e6).round() / 1e6,
            speed_loaded_kmh: (p.max_speed_loaded_mps * 3.6 * 1e6).round() / 1e6,
            accel_mps2: p.accel_mps2,
            decel_mps2: p.decel_mps2,
        }
    }
}

impl VehicleSpecs {
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
    #[serde(default)]
    pub breakdown: Vec<Breakdown>,
    /// The mean time between failures of each vehicle, hours; when set,
    /// breakdowns are drawn at random for every vehicle.
    #[serde(default)]
    pub random_mtbf_h: Option<f64>,
    /// The mean time to repair (or tow away) a randomly drawn breakdown,
    /// seconds; each repair time is drawn between half and one and a half
    /// times this.
    #[serde(default = "default_random_repair_s")]
    pub random_repair_s: f64,
    /// Links lost at set times.
    #[serde(default)]
    pub link_loss: Vec<LinkLoss>,
    /// The mean time between link losses of each vehicle, hours; when set,
    /// losses are drawn at random for every vehicle.
    #[serde(default)]
    pub random_link_loss_mtbf_h: Option<f64>,
    /// The mean length of a randomly drawn link loss, seconds; each is
    /// drawn between half and one and a half times this.
    #[serde(default = "default_random_link_loss_s")]
    pub random_link_loss_s: f64,
    /// Places out of service (a scan lane, a charger, an inspection bay) at
    /// set times.
    #[serde(default)]
    pub outage: Vec<Outage>,
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
        let d = &self.demand;
        at_least("demand.containers_per_day", d.containers_per_day, 0.0)?;
        within("demand.vn_to_cn_share", d.vn_to_cn_share, 0.0, 1.0)?;
        at_least("demand.weekend_factor", d.weekend_factor, 0.0)?;
        at_least("demand.peak_factor", d.peak_factor, 0.0)?;
        if d.hourly_profile.len() != 24 {
            return bad(format!(
                "demand.hourly_profile has {} weights, not 24 (one per hour)",
                d.hourly_profile.len()
            ));
        }
        for (i, &w) in d.hourly_profile.iter().enumerate() {
            at_least(&format!("demand.hourly_profile[{i}]"), w, 0.0)?;
        }
        if d.hourly_profile.iter().sum::<f64>() <= 0.0 {
            return bad("demand.hourly_profile has no weight above 0".into());
        }
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
        let serials = serials(self.fleet.vehicles);
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
        Ok(())
    }
}

/// The serials of a fleet of `n` vehicles: `igv-000`, `igv-001`, ...
pub fn serials(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("igv-{i:03}")).collect()
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
        assert_eq!(s.demand.vn_to_cn_share, 0.5);
        assert_eq!(s.demand.hourly_profile.len(), 24);
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
}
