//! Durable territory stations stopped in the middle of a handoff and
//! opened again on the same database file, as `borderlane serve` does on
//! start. A station is stopped right after a step was stored and before
//! anything it published reached the broker (the worst moment for a
//! crash), and the other side and the vehicles keep going meanwhile. After
//! each restart the station is exactly what it was (core, desk, master
//! control), the handoff completes, each vehicle is commanded by one side
//! and each container delivered once, and every vehicle's orders go on
//! with growing headerIds.

mod common;

use common::{LATENCY_MS, MIN, T0, TestKeys, To, fleet, job, map};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use borderlane_core::io::{Event, JobRequest};
use borderlane_durable::{Crossing, Outcome};
use borderlane_handoff::{EMPTY, Holder};
use borderlane_model::{LaneMap, Ms, NodeKind, Side};
use borderlane_station::{Station, StationConfig, StationError};
use borderlane_vda5050::{Agent, AgentConfig, BatteryModel};
use serde_json::Value;

/// This test's handoff keys.
const KEYS: TestKeys = TestKeys {
    vn_byte: "52",
    cn_byte: "53",
    label: "restart",
};

fn config(side: Side) -> StationConfig {
    common::config(side, KEYS)
}

/// Two durable stations, the vehicles and an in-memory broker, in virtual
/// time. A station that is down gets nothing: what is sent to it then is
/// lost, as with a clean MQTT session.
struct Lane {
    map: Arc<LaneMap>,
    stations: [Station; 2],
    paths: [PathBuf; 2],
    down_until: [Option<Ms>; 2],
    agents: Vec<Agent>,
    queue: BTreeMap<(Ms, u64), (To, String, Vec<u8>)>,
    seq: u64,
    now: Ms,
    events: Vec<(usize, Event)>,
    rejected: Vec<String>,
    /// Every order published: (vehicle, publisher, orderId, orderUpdateId,
    /// headerId).
    orders: Vec<(String, String, String, u64, u64)>,
    /// Messages lost to a station while it was down.
    lost: u64,
}

impl Lane {
    fn new(dir: &Path) -> Lane {
        let map = map();
        let paths = [dir.join("vn.db"), dir.join("cn.db")];
        let stations = [0, 1].map(|s| {
            let side = [Side::Vn, Side::Cn][s];
            Station::open(Arc::clone(&map), config(side), &paths[s]).unwrap()
        });
        let agents = fleet()
            .iter()
            .map(|v| {
                Agent::new(
                    Arc::clone(&map),
                    AgentConfig {
                        serial: v.serial.clone(),
                        start_node: v.start.clone(),
                        battery: BatteryModel {
                            drain_pct_per_km: 0.0,
                            ..BatteryModel::default()
                        },
                        ..AgentConfig::default()
                    },
                    T0,
                )
                .unwrap()
            })
            .collect();
        let mut lane = Lane {
            map,
            stations,
            paths,
            down_until: [None; 2],
            agents,
            queue: BTreeMap::new(),
            seq: 0,
            now: T0,
            events: Vec::new(),
            rejected: Vec::new(),
            orders: Vec::new(),
            lost: 0,
        };
        lane.pump();
        lane
    }

    fn send(&mut self, to: To, topic: String, payload: Vec<u8>) {
        self.seq += 1;
        self.queue
            .insert((self.now + LATENCY_MS, self.seq), (to, topic, payload));
    }

    fn job(&mut self, at: Ms, side: usize, job: &JobRequest) {
        self.seq += 1;
        let topic = self.stations[side].jobs_topic().to_string();
        self.queue.insert(
            (at, self.seq),
            (To::Station(side), topic, serde_json::to_vec(job).unwrap()),
        );
    }

    fn pump(&mut self) {
        for s in 0..2 {
            if self.down_until[s].is_some() {
                continue;
            }
            while let Some(p) = self.stations[s].poll_publish() {
                if p.topic.starts_with("borderlane/v1/handoff/") {
                    self.send(To::Station(1 - s), p.topic, p.payload);
                } else {
                    let serial = p.topic.split('/').nth(3).unwrap_or("").to_string();
                    if p.topic.ends_with("/order") {
                        let v: Value = serde_json::from_slice(&p.payload).unwrap();
                        self.orders.push((
                            serial.clone(),
                            self.stations[s].name().to_string(),
                            v["orderId"].as_str().unwrap().to_string(),
                            v["orderUpdateId"].as_u64().unwrap(),
                            v["headerId"].as_u64().unwrap(),
                        ));
                    }
                    if let Some(a) = self.agents.iter().position(|a| a.serial() == serial) {
                        self.send(To::Agent(a), p.topic, p.payload);
                    }
                }
            }
            while let Some(e) = self.stations[s].poll_event() {
                self.events.push((s, e));
            }
        }
        for a in 0..self.agents.len() {
            while let Some(p) = self.agents[a].poll_publish() {
                for s in 0..2 {
                    self.send(To::Station(s), p.topic.clone(), p.payload.clone());
                }
            }
        }
    }

    /// Stops station `s` as a crash would: what it has not handed out yet
    /// is lost. It is opened again on its file `down_ms` later.
    fn crash(&mut self, s: usize, down_ms: Ms) {
        let side = [Side::Vn, Side::Cn][s];
        // What the station had stored, to compare with what comes back.
        let desk = self.stations[s].desk().unwrap().handoffs.snapshot();
        let core = self.stations[s].core_mut().snapshot();
        let master = self.stations[s].master().kept();
        let commands: Vec<bool> = fleet()
            .iter()
            .map(|v| self.stations[s].commands(&v.serial))
            .collect();
        // The running station holds the file; a second one opened on it
        // is the one that starts after the crash.
        let mut back = Station::open(Arc::clone(&self.map), config(side), &self.paths[s])
            .expect("opens on its database again");
        assert!(back.replayed() > 0, "{side}: nothing replayed");
        assert_eq!(back.desk().unwrap().handoffs.snapshot(), desk, "{side}");
        assert_eq!(back.core_mut().snapshot(), core, "{side}");
        assert_eq!(back.master().kept(), master, "{side}");
        let back_commands: Vec<bool> = fleet().iter().map(|v| back.commands(&v.serial)).collect();
        assert_eq!(back_commands, commands, "{side}");
        // Nothing it had not handed out survives: the crashed station's
        // outbox goes with it.
        self.stations[s] = back;
        self.down_until[s] = Some(self.now + down_ms);
    }

    /// Runs until `end`, or until `stop` says so after an event (before
    /// the station's outputs reach the broker); returns whether it stopped.
    fn run_until(&mut self, end: Ms, mut stop: impl FnMut(&Lane) -> Option<usize>) -> bool {
        loop {
            let next_queue = self.queue.keys().next().map(|k| k.0);
            let next_station: Vec<Option<Ms>> = (0..2)
                .map(|s| match self.down_until[s] {
                    Some(t) => Some(t),
                    None => self.stations[s].poll_timeout(),
                })
                .collect();
            let next_agent = self.agents.iter().filter_map(Agent::poll_timeout).min();
            let Some(t) = [next_queue, next_station[0], next_station[1], next_agent]
                .into_iter()
                .flatten()
                .min()
                .filter(|&t| t <= end)
            else {
                self.now = self.now.max(end);
                return false;
            };
            self.now = self.now.max(t);
            let now = self.now;
            if next_queue == Some(t) {
                let (_, (to, topic, payload)) = self.queue.pop_first().unwrap();
                match to {
                    To::Station(s) if self.down_until[s].is_some() => self.lost += 1,
                    To::Station(s) => {
                        if let Err(r) = self.stations[s].handle_message(now, &topic, &payload) {
                            self.rejected.push(r.to_string());
                        }
                    }
                    To::Agent(a) => self.agents[a].handle_message(now, &topic, &payload),
                }
            } else if let Some(s) = (0..2).find(|&s| next_station[s] == Some(t)) {
                if self.down_until[s].is_some() {
                    // Started again: its first step is a wake-up.
                    self.down_until[s] = None;
                }
                self.stations[s].handle_timeout(now);
            } else {
                for a in &mut self.agents {
                    if a.poll_timeout().is_some_and(|at| at <= now) {
                        a.handle_timeout(now);
                    }
                }
            }
            for s in &self.stations {
                assert_eq!(s.store_failed(), None, "{}", s.name());
            }
            if let Some(s) = stop(self) {
                self.crash(s, 3_000);
                return true;
            }
            self.pump();
        }
    }

    /// The phases of station `s`'s handoff records.
    fn phases(&self, s: usize) -> Vec<(bool, &'static str)> {
        self.stations[s]
            .desk()
            .unwrap()
            .handoffs
            .records()
            .map(|r| (r.is_near(), r.phase_name()))
            .collect()
    }
}

/// Runs two crossings, VN to CN and CN to VN, stopping `side` at the
/// first moment `when` holds of its handoff records, and checks the end.
fn crossing_survives(side: usize, when: fn(&[(bool, &'static str)]) -> bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut lane = Lane::new(dir.path());
    let jobs = [(0, "VN_SLOT_01"), (1, "CN_SLOT_01")];
    for (i, (s, pickup)) in jobs.iter().enumerate() {
        lane.job(T0 + MIN + i as Ms * MIN, *s, &job(i, pickup));
    }
    let stopped = lane.run_until(T0 + 40 * MIN, |l| {
        (l.down_until[side].is_none() && when(&l.phases(side))).then_some(side)
    });
    assert!(
        stopped,
        "side {side} never reached the phase: {:?}",
        lane.phases(side)
    );
    // Minute by minute, the two databases' custody tables agree with the
    // stations.
    let mut minute = (lane.now - T0) / MIN + 1;
    let mut checked = 0;
    while minute <= 75 {
        lane.run_until(T0 + minute * MIN, |_| None);
        checked += lane.check_custody();
        minute += 1;
    }
    assert!(checked >= jobs.len(), "custody checked {checked} times");

    assert!(lane.rejected.is_empty(), "{:#?}", lane.rejected);
    // Every container arrives once, on the other side.
    let mut delivered: BTreeMap<String, Vec<Side>> = BTreeMap::new();
    for (_, e) in &lane.events {
        if let Event::JobDelivered {
            container, side, ..
        } = e
        {
            delivered.entry(container.clone()).or_default().push(*side);
        }
    }
    for (i, (s, _)) in jobs.iter().enumerate() {
        let to = if *s == 0 { Side::Cn } else { Side::Vn };
        assert_eq!(
            delivered.get(&format!("CONT{i:07}")),
            Some(&vec![to]),
            "container {i}: {delivered:?}"
        );
    }
    // Each handoff completed on both sides; each vehicle is commanded by
    // exactly one side, and the desks agree on every container.
    for s in 0..2 {
        let desk = lane.stations[s].desk().unwrap();
        for r in desk.handoffs.records() {
            assert!(
                matches!(r.phase_name(), "transferred" | "closed"),
                "side {s}: handoff {} ended {}",
                r.id,
                r.phase_name()
            );
            let other = lane.stations[1 - s].desk().unwrap();
            let mine = desk.handoffs.custody(&r.entry.container);
            let theirs = other.handoffs.custody(&r.entry.container);
            assert!(
                matches!(
                    (mine, theirs),
                    (Some(Holder::ThisSide), Some(Holder::OtherSide))
                        | (Some(Holder::OtherSide), Some(Holder::ThisSide))
                ),
                "{}: {mine:?} and {theirs:?}",
                r.entry.container
            );
        }
    }
    for v in fleet() {
        let by: Vec<usize> = (0..2)
            .filter(|&s| lane.stations[s].commands(&v.serial))
            .collect();
        assert_eq!(by.len(), 1, "{} commanded by {by:?}", v.serial);
    }
    // Orders go on across the restart: per vehicle headerIds grow, and an
    // order's updates never go back.
    let mut last: BTreeMap<&str, (&str, u64, u64)> = BTreeMap::new();
    for (vehicle, who, id, update, header) in &lane.orders {
        if let Some((last_id, last_update, last_header)) = last.get(vehicle.as_str()) {
            assert!(
                header > last_header,
                "{vehicle}: {who} sent headerId {header} after {last_header}"
            );
            if last_id == id {
                assert!(
                    update >= last_update,
                    "{vehicle}: update {update} after {last_update}"
                );
            }
        }
        last.insert(vehicle, (id, *update, *header));
    }

    // The customs audit: each side's database has one crossed row for
    // each crossing, with the vehicle that carried the container, the
    // times in order and both customs' decisions.
    let carried: BTreeMap<String, String> = lane
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::JobDelivered {
                vehicle, container, ..
            } => Some((container.clone(), vehicle.clone())),
            _ => None,
        })
        .collect();
    let audit = lane.audit();
    for (s, rows) in audit.iter().enumerate() {
        // Vehicles crossing empty to even out the fleet are audited too.
        let crossed: Vec<_> = rows
            .iter()
            .filter(|c| c.outcome == Outcome::Crossed && !c.container.starts_with(EMPTY))
            .collect();
        assert!(
            rows.iter()
                .filter(|c| c.container.starts_with(EMPTY))
                .all(|c| c.container.contains(&c.vehicle)),
            "side {s}: {rows:#?}"
        );
        assert_eq!(crossed.len(), jobs.len(), "side {s}: {rows:#?}");
        for (i, (from, _)) in jobs.iter().enumerate() {
            let container = format!("CONT{i:07}");
            let c = crossed
                .iter()
                .find(|c| c.container == container)
                .unwrap_or_else(|| panic!("side {s}: no crossing of {container}: {rows:#?}"));
            let from = [Side::Vn, Side::Cn][*from];
            assert_eq!((c.from, c.to), (from, from.other()), "{container}");
            assert_eq!(Some(&c.vehicle), carried.get(&container), "{container}");
            assert_eq!(c.manifest, format!("MF-{container}"));
            assert_eq!(c.e_seal, format!("ES-{container}"));
            assert_eq!(c.e_seal_state, "intact");
            assert_eq!(c.sending_decision, "green");
            assert_eq!(c.receiving_decision.as_deref(), Some("green"));
            let times = [c.granted_ms, c.handover_ms, c.accepted_ms].map(Option::unwrap);
            assert!(
                c.requested_ms <= times[0] && times[0] <= times[1] && times[1] <= times[2],
                "side {s}: {c:?}"
            );
        }
    }
    let handoffs = |s: usize| -> Vec<&str> {
        let mut ids: Vec<&str> = audit[s]
            .iter()
            .filter(|c| c.outcome == Outcome::Crossed)
            .map(|c| c.handoff.as_str())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        handoffs(0),
        handoffs(1),
        "both sides audit the same crossings"
    );
    for s in 0..2 {
        let stored = lane.stations[s].durable().unwrap().store().load().unwrap();
        assert!(stored.custody.is_empty(), "side {s}: {:?}", stored.custody);
        assert!(stored.jobs.is_empty(), "side {s}: {:?}", stored.jobs);
    }

    // Both stations stopped and started again, and run on until the
    // records are forgotten: the audit stays as it was.
    lane.crash(0, 1_000);
    lane.crash(1, 1_000);
    lane.run_until(T0 + 90 * MIN, |_| None);
    for s in 0..2 {
        assert!(
            lane.stations[s]
                .desk()
                .unwrap()
                .handoffs
                .records()
                .next()
                .is_none()
        );
    }
    assert_eq!(lane.audit(), audit);
}

impl Lane {
    /// Each side's customs audit, as its database holds it.
    fn audit(&self) -> Vec<Vec<Crossing>> {
        (0..2)
            .map(|s| {
                let durable = self.stations[s].durable().unwrap();
                durable.store().crossings().unwrap()
            })
            .collect()
    }

    /// The custody tables of both databases hold each container a vehicle
    /// has picked up and not delivered, on the side whose vehicle carries
    /// it; on both sides only while the vehicle is handed over and the
    /// acceptance has not reached the sending side. The jobs tables hold
    /// only jobs the side's core knows.
    fn check_custody(&mut self) -> usize {
        let mut rows: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
        let mut cores = Vec::new();
        for s in 0..2 {
            let stored = self.stations[s].durable().unwrap().store().load().unwrap();
            let side = [Side::Vn, Side::Cn][s];
            for c in stored.custody {
                assert_eq!(c.side, side, "{c:?}");
                rows.entry(c.container).or_default().push((s, c.holder));
            }
            let core = self.stations[s].core_mut().snapshot();
            for j in &stored.jobs {
                assert!(
                    core.jobs
                        .iter()
                        .any(|c| c.job == j.id && c.container == j.container),
                    "side {s}: job {} is not the core's",
                    j.id
                );
            }
            cores.push(core);
        }
        // Picked up: from a yard slot on this side, or adopted at the
        // border (the far side's job starts at the border node).
        let mut picked = Vec::new();
        for (s, core) in cores.iter().enumerate() {
            let desk = self.stations[s].desk().unwrap();
            for j in &core.jobs {
                let at_border = self
                    .map
                    .node_by_id(&j.pickup)
                    .is_some_and(|n| self.map.node(n).kind == NodeKind::Border);
                let held = if at_border {
                    desk.handoffs.custody(&j.container) == Some(Holder::ThisSide)
                } else {
                    j.stops_done > 0
                };
                if held {
                    picked.push((j.container.clone(), j.vehicle.clone()));
                }
            }
        }
        let checked = picked.len();
        for (container, vehicle) in picked {
            let held = rows.get(&container).map_or(&[][..], |r| r.as_slice());
            assert!(
                !held.is_empty(),
                "{container} is in nobody's custody at {}: {:#?} {:?}",
                self.now - T0,
                cores.iter().map(|c| &c.jobs).collect::<Vec<_>>(),
                (0..2).map(|s| self.phases(s)).collect::<Vec<_>>()
            );
            for (s, holder) in held {
                assert_eq!(Some(holder), vehicle.as_ref(), "side {s}: {container}");
            }
        }
        for (container, held) in &rows {
            assert!(
                cores
                    .iter()
                    .any(|c| c.jobs.iter().any(|j| &j.container == container)),
                "{container} is in custody but no core has its job"
            );
            if held.len() > 1 {
                let handing = (0..2).any(|s| {
                    let desk = self.stations[s].desk().unwrap();
                    desk.handoffs.custody(container) == Some(Holder::HandingOver)
                });
                assert!(handing, "{container} is in both sides' custody: {held:?}");
            }
        }
        checked
    }
}

#[test]
fn a_near_side_stopped_after_its_entry_request_completes_the_crossing() {
    crossing_survives(0, |p| p.contains(&(true, "requested")));
}

#[test]
fn a_near_side_stopped_after_its_handover_completes_the_crossing() {
    crossing_survives(0, |p| p.contains(&(true, "handed over")));
}

#[test]
fn a_far_side_stopped_after_its_grant_honours_it() {
    crossing_survives(1, |p| p.contains(&(false, "granted")));
}

#[test]
fn a_far_side_stopped_after_adopting_a_vehicle_goes_on_commanding_it() {
    crossing_survives(1, |p| p.contains(&(false, "adopted")));
}

#[test]
fn a_file_of_another_station_or_not_a_database_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vn.db");
    drop(Station::open(map(), config(Side::Vn), &path).unwrap());
    let err = Station::open(map(), config(Side::Cn), &path)
        .err()
        .expect("the CN station refuses VN's file");
    assert!(matches!(err, StationError::Store(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("vn.db") && text.contains("another name and core"),
        "{text}"
    );

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"this is not an SQLite database, not even close").unwrap();
    let err = Station::open(map(), config(Side::Vn), &junk)
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("junk.db") && text.contains("not an SQLite database"),
        "{text}"
    );
}
