//! Vehicle kinematics: how long an arc takes, for a vehicle that may start
//! from a stop and may have to stop at the arc's end.
//!
//! The kinodynamic rule: a vehicle that stops at a node brakes along the arc
//! that leads there, at its braking limit, and accelerates along the next arc
//! at its acceleration limit. Plans therefore never need an instant stop: the
//! time an arc takes already holds the braking and the acceleration.

use borderlane_model::{ArcIx, LaneMap, Ms};
use serde::{Deserialize, Serialize};

/// What the planner needs to know about a vehicle's motion.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VehicleProfile {
    /// Vehicle length in metres (an IGV is about 15.6 m).
    pub length_m: f64,
    /// Top speed without a container, m/s.
    pub max_speed_empty_mps: f64,
    /// Top speed with a container, m/s.
    pub max_speed_loaded_mps: f64,
    /// Acceleration limit, m/s².
    pub accel_mps2: f64,
    /// Gradual braking limit, m/s² (a loaded IGV brakes gently).
    pub decel_mps2: f64,
}

impl Default for VehicleProfile {
    fn default() -> VehicleProfile {
        VehicleProfile {
            length_m: 15.6,
            max_speed_empty_mps: 25.0 / 3.6,
            max_speed_loaded_mps: 20.0 / 3.6,
            accel_mps2: 0.5,
            decel_mps2: 0.4,
        }
    }
}

/// Whether the vehicle carries a container; it sets the top speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Load {
    Empty,
    Loaded,
}

impl VehicleProfile {
    pub fn top_speed(&self, load: Load) -> f64 {
        match load {
            Load::Empty => self.max_speed_empty_mps,
            Load::Loaded => self.max_speed_loaded_mps,
        }
    }

    /// The time to drive `length` metres with a speed cap `v`, starting from
    /// a stop or at speed, and ending at a stop or at speed. Rounded up to
    /// whole milliseconds so a plan never asks for more than the vehicle can.
    pub fn drive_ms(&self, length: f64, v: f64, from_stop: bool, to_stop: bool) -> Ms {
        let a = self.accel_mps2;
        let b = self.decel_mps2;
        let d_acc = if from_stop { v * v / (2.0 * a) } else { 0.0 };
        let d_dec = if to_stop { v * v / (2.0 * b) } else { 0.0 };
        let secs = if length >= d_acc + d_dec {
            let mut t = length / v;
            if from_stop {
                t += v / (2.0 * a);
            }
            if to_stop {
                t += v / (2.0 * b);
            }
            t
        } else {
            // Too short to reach the cap: a triangular (or half) profile.
            match (from_stop, to_stop) {
                (true, true) => {
                    let vp = (2.0 * length * a * b / (a + b)).sqrt();
                    vp / a + vp / b
                }
                (true, false) => (2.0 * length / a).sqrt(),
                (false, true) => (2.0 * length / b).sqrt(),
                (false, false) => length / v,
            }
        };
        (secs * 1000.0).ceil() as Ms
    }
}

/// Precomputed traversal times of every arc, for each load and each
/// combination of starting and ending at a stop.
#[derive(Clone, Debug)]
pub struct ArcTimes {
    /// Indexed by `[load][arc][from_stop][to_stop]`.
    times: [Vec<[[Ms; 2]; 2]>; 2],
}

impl ArcTimes {
    pub fn new(map: &LaneMap, profile: &VehicleProfile) -> ArcTimes {
        let table = |load: Load| -> Vec<[[Ms; 2]; 2]> {
            map.arcs
                .iter()
                .map(|arc| {
                    let e = map.edge(arc.edge);
                    let v = e.speed_limit_mps.min(profile.top_speed(load));
                    let mut t = [[0; 2]; 2];
                    for (i, from_stop) in [false, true].into_iter().enumerate() {
                        for (j, to_stop) in [false, true].into_iter().enumerate() {
                            t[i][j] = profile.drive_ms(e.length_m, v, from_stop, to_stop);
                        }
                    }
                    t
                })
                .collect()
        };
        ArcTimes {
            times: [table(Load::Empty), table(Load::Loaded)],
        }
    }

    pub fn get(&self, load: Load, arc: ArcIx, from_stop: bool, to_stop: bool) -> Ms {
        self.times[load as usize][arc.ix()][from_stop as usize][to_stop as usize]
    }

    /// The fastest an arc can be driven (empty, at speed at both ends).
    pub fn fastest(&self, arc: ArcIx) -> Ms {
        self.times[Load::Empty as usize][arc.ix()][0][0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopping_costs_braking_time() {
        let p = VehicleProfile::default();
        let v = 15.0 / 3.6;
        let fly = p.drive_ms(154.5, v, false, false);
        let stop = p.drive_ms(154.5, v, false, true);
        assert_eq!(fly, 37_080);
        // Braking from 4.17 m/s at 0.4 m/s² adds v / 2b = 5.2 s.
        assert_eq!(stop - fly, 5_209);
        let both = p.drive_ms(154.5, v, true, true);
        assert!(both > stop);
    }

    #[test]
    fn short_arcs_use_a_triangular_profile() {
        let p = VehicleProfile::default();
        let v = 25.0 / 3.6;
        // 20 m is too short to reach 25 km/h and brake again.
        let t = p.drive_ms(20.0, v, true, true);
        let vp = (2.0f64 * 20.0 * 0.5 * 0.4 / 0.9).sqrt();
        assert_eq!(t, ((vp / 0.5 + vp / 0.4) * 1000.0).ceil() as Ms);
        assert!(t > p.drive_ms(20.0, v, false, false));
    }
}
