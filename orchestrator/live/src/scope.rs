//! What an orchestrator controls: the one place where its side matters.
//!
//! An orchestrator for "both" sides plans the whole lane and takes every
//! job. A side's orchestrator plans its own territory (its core's
//! `territory`), takes the jobs whose containers wait in its own yard, and
//! hands vehicles over to the other side's at the border: both list the
//! whole lane's fleet, since a vehicle may be on either side, and each
//! reads the state of every vehicle (its station decides which states its
//! core is given). Everything here that depends on the side goes through
//! [`Scope`].

use std::collections::BTreeSet;

use borderlane_core::VehicleSpec;
use borderlane_model::{LaneMap, Side};
use serde::{Deserialize, Serialize};

/// The side an orchestrator stands on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SideSel {
    #[serde(rename = "VN")]
    Vn,
    #[serde(rename = "CN")]
    Cn,
    /// One orchestrator for the whole lane.
    #[serde(rename = "both")]
    Both,
}

impl SideSel {
    /// The side, if it is one.
    pub fn side(self) -> Option<Side> {
        match self {
            SideSel::Vn => Some(Side::Vn),
            SideSel::Cn => Some(Side::Cn),
            SideSel::Both => None,
        }
    }

    /// How it is written in configuration files and metrics.
    pub fn label(self) -> &'static str {
        match self {
            SideSel::Vn => "VN",
            SideSel::Cn => "CN",
            SideSel::Both => "both",
        }
    }

    /// The topic level of this orchestrator's own topics.
    pub fn topic_level(self) -> &'static str {
        match self {
            SideSel::Vn => "vn",
            SideSel::Cn => "cn",
            SideSel::Both => "lane",
        }
    }
}

impl std::fmt::Display for SideSel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// What an orchestrator controls.
#[derive(Clone, Debug)]
pub struct Scope {
    side: SideSel,
    fleet: BTreeSet<String>,
}

impl Scope {
    pub fn new(side: SideSel, fleet: &[VehicleSpec]) -> Scope {
        Scope {
            side,
            fleet: fleet.iter().map(|v| v.serial.clone()).collect(),
        }
    }

    pub fn side(&self) -> SideSel {
        self.side
    }

    /// The serial numbers of the vehicles this orchestrator controls, in
    /// order.
    pub fn vehicles(&self) -> Vec<String> {
        self.fleet.iter().cloned().collect()
    }

    /// Whether this orchestrator controls the vehicle.
    pub fn controls(&self, serial: &str) -> bool {
        self.fleet.contains(serial)
    }

    /// The topic filters to subscribe to, from the master control's. The
    /// master control subscribes to every vehicle of its manufacturer
    /// (`.../+/state`); a side's orchestrator shares the broker with the
    /// other side's, so it subscribes to its own vehicles' topics only,
    /// and the other side's vehicles are not rejected as unknown ones.
    pub fn subscriptions<Q: Copy>(&self, master: Vec<(String, Q)>) -> Vec<(String, Q)> {
        if self.side == SideSel::Both {
            return master;
        }
        let mut out = Vec::new();
        for (filter, qos) in master {
            let levels: Vec<&str> = filter.split('/').collect();
            match levels.iter().position(|l| *l == "+") {
                Some(i) => {
                    for serial in &self.fleet {
                        let mut named = levels.clone();
                        named[i] = serial;
                        out.push((named.join("/"), qos));
                    }
                }
                None => out.push((filter, qos)),
            }
        }
        out
    }

    /// Checks that, for a side's orchestrator, every vehicle starts on one
    /// side or the other (not on the border line), so that exactly one
    /// side commands it at the start. Unknown start nodes are left to the
    /// core, which names them.
    pub fn check_fleet(&self, map: &LaneMap, fleet: &[VehicleSpec]) -> Result<(), String> {
        if self.side.side().is_none() {
            return Ok(());
        }
        for v in fleet {
            if let Some(ix) = map.node_by_id(&v.start)
                && map.node(ix).side.is_none()
            {
                return Err(format!(
                    "fleet: vehicle {}: start node {:?} is on the border line; start it on a side",
                    v.serial, v.start
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet() -> Vec<VehicleSpec> {
        ["a", "b"]
            .into_iter()
            .map(|s| VehicleSpec {
                serial: s.to_string(),
                start: String::new(),
            })
            .collect()
    }

    #[test]
    fn a_side_subscribes_to_its_own_vehicles_only() {
        let s = Scope::new(SideSel::Vn, &fleet());
        let subs = s.subscriptions(vec![
            ("uagv/v2/acme/+/state".to_string(), 0u8),
            ("other/topic".to_string(), 1u8),
        ]);
        assert_eq!(
            subs,
            vec![
                ("uagv/v2/acme/a/state".to_string(), 0),
                ("uagv/v2/acme/b/state".to_string(), 0),
                ("other/topic".to_string(), 1),
            ]
        );
        let both = Scope::new(SideSel::Both, &fleet());
        assert_eq!(
            both.subscriptions(vec![("uagv/v2/acme/+/state".to_string(), 0u8)]),
            vec![("uagv/v2/acme/+/state".to_string(), 0)]
        );
        assert!(s.controls("a") && !s.controls("c"));
    }
}
