//! The simulated vehicle's physics: how long it takes to drive an arc, and
//! its battery.
//!
//! Driving times come from the same rule the core plans with,
//! [`VehicleProfile::drive_ms`], with the top speed set by the lower of the
//! edge's limit and the vehicle's own, which depends on whether it carries
//! a container. A plan the core commits is therefore exactly executable: a
//! vehicle never arrives before its plan says, and arrives late only if the
//! plan asks for more than the physics allow.

use borderlane_core::kinematics::VehicleProfile;
use borderlane_model::{ArcIx, LaneMap, Ms};

use crate::scenario::Battery;

/// Driving times and lengths of every arc of a map.
#[derive(Clone, Debug)]
pub struct Physics {
    profile: VehicleProfile,
    /// Length, metres, and speed limit, m/s, of each arc.
    arcs: Vec<(f64, f64)>,
}

impl Physics {
    pub fn new(map: &LaneMap, profile: VehicleProfile) -> Physics {
        let arcs = map
            .arcs
            .iter()
            .map(|a| {
                let e = map.edge(a.edge);
                (e.length_m, e.speed_limit_mps)
            })
            .collect();
        Physics { profile, arcs }
    }

    /// The least time to drive `arc`, starting from a stop or at speed and
    /// ending at a stop or at speed.
    pub fn drive_ms(&self, arc: ArcIx, loaded: bool, from_stop: bool, to_stop: bool) -> Ms {
        let (length, limit) = self.arcs[arc.ix()];
        let top = if loaded {
            self.profile.max_speed_loaded_mps
        } else {
            self.profile.max_speed_empty_mps
        };
        self.profile
            .drive_ms(length, limit.min(top), from_stop, to_stop)
    }

    /// The length of `arc`, kilometres.
    pub fn km(&self, arc: ArcIx) -> f64 {
        self.arcs[arc.ix()].0 / 1_000.0
    }
}

/// A vehicle's battery: its charge, and whether it is on a charger.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The charge when last settled, percent.
    pct: f64,
    /// Since when the vehicle charges, if it does.
    charging_since: Option<Ms>,
    /// How long the vehicle has spent charging in all, ms.
    pub charged_ms: Ms,
    /// How many times the charge ran out while driving.
    pub depleted: u32,
    /// The lowest charge seen, percent.
    pub lowest_pct: f64,
}

impl Cell {
    pub fn new(pct: f64) -> Cell {
        Cell {
            pct,
            charging_since: None,
            charged_ms: 0,
            depleted: 0,
            lowest_pct: pct,
        }
    }

    /// The charge at `now`, percent.
    pub fn pct(&self, model: &Battery, now: Ms) -> f64 {
        match self.charging_since {
            Some(since) => charged(model, self.pct, now.saturating_sub(since)),
            None => self.pct,
        }
    }

    pub fn charging(&self) -> bool {
        self.charging_since.is_some()
    }

    /// Uses the charge for driving `km` kilometres. The charge never goes
    /// below 0; running out is counted.
    pub fn drive(&mut self, model: &Battery, km: f64, loaded: bool) {
        let rate = if loaded {
            model.use_pct_per_km_loaded
        } else {
            model.use_pct_per_km_empty
        };
        let left = self.pct - km * rate;
        if left < 0.0 && self.pct > 0.0 {
            self.depleted += 1;
        }
        self.pct = left.max(0.0);
        self.lowest_pct = self.lowest_pct.min(self.pct);
    }

    /// Starts charging at `now` (no effect if it already charges).
    pub fn start_charging(&mut self, now: Ms) {
        if self.charging_since.is_none() {
            self.charging_since = Some(now);
        }
    }

    /// Stops charging at `now`, keeping what was charged.
    pub fn stop_charging(&mut self, model: &Battery, now: Ms) {
        if let Some(since) = self.charging_since.take() {
            let spent = now.saturating_sub(since);
            self.pct = charged(model, self.pct, spent);
            self.charged_ms += spent;
        }
    }

    /// When a charge under way is full, if one is.
    pub fn full_at(&self, model: &Battery) -> Option<Ms> {
        let since = self.charging_since?;
        Some(since + time_to_full(model, self.pct))
    }
}

/// The charge after `spent` ms on a charger, from `pct`: a swap puts in a
/// full battery once it is done, a charger adds charge at its rate.
fn charged(model: &Battery, pct: f64, spent: Ms) -> f64 {
    if spent >= time_to_full(model, pct) {
        100.0
    } else if model.swap {
        pct
    } else {
        (pct + model.charge_pct_per_h * spent as f64 / 3_600_000.0).min(100.0)
    }
}

/// How long it takes to reach 100 % from `pct`, ms.
fn time_to_full(model: &Battery, pct: f64) -> Ms {
    if pct >= 100.0 {
        0
    } else if model.swap {
        (model.swap_s * 1_000.0).ceil() as Ms
    } else {
        ((100.0 - pct) / model.charge_pct_per_h * 3_600_000.0).ceil() as Ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_on_the_charger_fills_an_empty_battery() {
        let m = Battery::default();
        let mut c = Cell::new(0.0);
        c.start_charging(1_000);
        assert_eq!(c.full_at(&m), Some(1_000 + 3_600_000));
        assert!((c.pct(&m, 1_000 + 1_800_000) - 50.0).abs() < 1e-9);
        c.stop_charging(&m, 1_000 + 3_600_000);
        assert_eq!(c.pct(&m, 5_000_000), 100.0);
        assert_eq!(c.charged_ms, 3_600_000);
    }

    #[test]
    fn a_swap_takes_five_minutes_whatever_the_charge() {
        let m = Battery {
            swap: true,
            ..Battery::default()
        };
        let mut c = Cell::new(30.0);
        c.start_charging(0);
        assert_eq!(c.full_at(&m), Some(300_000));
        assert_eq!(c.pct(&m, 299_999), 30.0);
        assert_eq!(c.pct(&m, 300_000), 100.0);
    }

    #[test]
    fn driving_uses_more_charge_loaded_and_never_goes_below_zero() {
        let m = Battery::default();
        let mut c = Cell::new(10.0);
        c.drive(&m, 5.0, false);
        assert!((c.pct(&m, 0) - 6.5).abs() < 1e-9);
        c.drive(&m, 5.0, true);
        assert!((c.pct(&m, 0) - 2.0).abs() < 1e-9);
        c.drive(&m, 5.0, true);
        assert_eq!(c.pct(&m, 0), 0.0);
        assert_eq!(c.depleted, 1);
    }

    #[test]
    fn the_physics_are_the_cores() {
        let p = VehicleProfile::default();
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../maps/bac_luan_ii.geojson"
        ))
        .unwrap();
        let map = LaneMap::from_geojson(&text).unwrap();
        let phys = Physics::new(&map, p);
        let times = borderlane_core::kinematics::ArcTimes::new(&map, &p);
        for a in 0..map.arcs.len() {
            let arc = ArcIx(a as u32);
            for (loaded, load) in [
                (false, borderlane_core::kinematics::Load::Empty),
                (true, borderlane_core::kinematics::Load::Loaded),
            ] {
                for f in [false, true] {
                    for t in [false, true] {
                        assert_eq!(phys.drive_ms(arc, loaded, f, t), times.get(load, arc, f, t));
                    }
                }
            }
        }
    }
}
