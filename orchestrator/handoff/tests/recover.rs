//! A side stopped and rebuilt from its database: the desk continues from
//! its stored records and the core from its journal, as they were.

use std::sync::Arc;

use borderlane_core::io::{Channel, CrossingOutput, JobRequest};
use borderlane_core::{Core, CoreConfig, Input, Output, VehicleSpec};
use borderlane_durable::Store;
use borderlane_handoff::{
    CoreStep, Desk, Durable, HandoffConfig, RecoverError, SigningKey, VerifyingKey,
};
use borderlane_model::{LaneMap, Ms, Side};
use serde_json::json;

fn map() -> Arc<LaneMap> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../maps/bac_luan_ii.geojson"
    );
    let text = std::fs::read_to_string(path).expect("the shipped map");
    Arc::new(LaneMap::from_geojson(&text).expect("a valid map"))
}

fn config() -> CoreConfig {
    CoreConfig {
        territory: Some(Side::Vn),
        fleet: ["VN_PARK_01", "VN_PARK_02"]
            .iter()
            .enumerate()
            .map(|(i, start)| VehicleSpec {
                serial: format!("igv-{i}"),
                start: start.to_string(),
            })
            .collect(),
        ..CoreConfig::default()
    }
}

fn keys() -> (SigningKey, VerifyingKey) {
    let key = SigningKey::from_hex("vn-test", &"11".repeat(32)).expect("a key");
    let peer = SigningKey::from_hex("cn-test", &"22".repeat(32)).expect("a key");
    (key, peer.verifying_key())
}

fn desk() -> Desk {
    let (key, peer) = keys();
    Desk::new(HandoffConfig::new(Side::Vn), key, peer, "BORDER_NB").expect("a desk")
}

fn request(vehicle: &str, at: Ms) -> CrossingOutput {
    CrossingOutput::Request {
        vehicle: vehicle.into(),
        job: format!("job-{vehicle}"),
        container: format!("C-{vehicle}"),
        channel: Channel::Green,
        earliest_border_ms: at + 60_000,
    }
}

/// The side as a shell runs it: journal, step, persist, send.
struct Running {
    core: Core,
    desk: Desk,
    durable: Durable,
}

impl Running {
    fn step(&mut self, now: Ms, input: Option<Input>) {
        let step = match &input {
            Some(i) => CoreStep::Input { input: i.clone() },
            None => CoreStep::Wake,
        };
        self.durable.journal(now, &step).expect("journalled");
        match input {
            Some(i) => self.core.handle(now, i),
            None => self.core.handle_timeout(now),
        }
        while let Some(out) = self.core.poll_output() {
            if let Output::Crossing(c) = out {
                let _ = self.desk.call(now, c);
            }
        }
        self.durable
            .persist(now, &mut self.desk)
            .expect("persisted");
        let _ = self.desk.transmit();
        let _ = self.desk.effects();
    }

    fn recover(&self) -> Result<borderlane_handoff::Recovered, RecoverError> {
        let (key, peer) = keys();
        self.durable.recover(
            map(),
            config(),
            HandoffConfig::new(Side::Vn),
            key,
            peer,
            "BORDER_NB",
        )
    }
}

/// A green job from the VN yard's first outbound slot.
fn green_job() -> JobRequest {
    JobRequest {
        id: "job-1".into(),
        container: "MSKU0000001".into(),
        pickup: "VN_OUT_01".into(),
        channel: Channel::Green,
        customs_ms: 0,
        priority: 0,
        deadline: None,
    }
}

#[test]
fn a_recovered_side_is_the_side_that_stopped() {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("vn.db");
    let mut side = Running {
        core: Core::new(map(), config()).expect("a core"),
        desk: desk(),
        durable: Durable::open(&path).expect("a store"),
    };
    side.step(0, Some(Input::Job(green_job())));
    for t in [1_000, 10_000, 30_000] {
        side.step(t, None);
    }
    // Two more handoffs asked for by hand, both given up without an answer.
    side.desk
        .call(1_000, request("igv-8", 1_000))
        .expect("a request");
    side.desk
        .call(2_000, request("igv-9", 2_000))
        .expect("a request");
    side.durable
        .persist(2_000, &mut side.desk)
        .expect("persisted");
    let _ = side.desk.transmit();
    side.desk.handoffs.handle_timeout(40_000);
    side.durable
        .persist(40_000, &mut side.desk)
        .expect("persisted");

    let mut back = side.recover().expect("recovers");
    assert_eq!(back.replayed, 4);
    assert_eq!(back.core.plans(), side.core.plans());
    assert_eq!(back.core.snapshot(), side.core.snapshot());
    assert_eq!(back.core.poll_timeout(), side.core.poll_timeout());
    assert_eq!(back.desk.handoffs.snapshot(), side.desk.handoffs.snapshot());
    assert_eq!(
        back.desk.handoffs.poll_timeout(),
        side.desk.handoffs.poll_timeout()
    );
    // The standing effects were dropped: the replayed core knows them.
    assert_eq!(back.desk.handoffs.poll_effect(), None);
    // Numbering goes on where it stopped: no handoff id is used twice.
    let before = back.desk.handoffs.records().count();
    assert!(before >= 2, "{before}");
    back.desk
        .call(41_000, request("igv-8", 41_000))
        .expect("a request");
    let mut numbers: Vec<u64> = back.desk.handoffs.records().map(|r| r.number).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), before + 1);
    assert_eq!(numbers.last(), Some(&(before as u64 + 1)));
}

#[test]
fn a_journal_entry_that_is_not_a_core_step_is_named() {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("vn.db");
    let mut durable = Durable::open(&path).expect("a store");
    durable.journal(0, &CoreStep::Wake).expect("journalled");
    let mut other = Store::open(&path).expect("opens again");
    other
        .transaction(|tx| tx.append_journal(5, &json!({"step": "dance"})))
        .expect("written");
    let (key, peer) = keys();
    let err = durable
        .recover(
            map(),
            config(),
            HandoffConfig::new(Side::Vn),
            key,
            peer,
            "BORDER_NB",
        )
        .err()
        .expect("refused");
    assert!(
        matches!(err, RecoverError::Journal { index: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("journal entry 1"), "{err}");
}

#[test]
fn a_step_is_stored_whole_or_not_at_all() {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("vn.db");
    let mut durable = Durable::open(&path).expect("a store");
    let mut desk = desk();
    desk.call(1_000, request("igv-8", 1_000))
        .expect("a request");
    let steps = [
        (1_000, CoreStep::Wake),
        (
            1_000,
            CoreStep::Input {
                input: Input::Job(green_job()),
            },
        ),
    ];
    // The desk's record is written after the journal entries and fails
    // (a time beyond what SQLite holds): none of the step remains.
    let err = durable
        .commit(
            &steps,
            Some((u64::MAX, &mut desk)),
            &[("master", json!({"igv-8": null}))],
        )
        .expect_err("a time SQLite cannot hold");
    assert!(err.to_string().contains("handoff"), "{err}");
    let store = Store::open(&path).expect("opens again");
    assert!(store.journal().expect("read").is_empty());
    assert!(store.load().expect("read").handoffs.is_empty());
    assert_eq!(store.value("master").expect("read"), None);
    // The desk's changes stay marked: the next commit stores them with the
    // step, together.
    durable
        .commit(
            &steps,
            Some((1_000, &mut desk)),
            &[("master", json!({"igv-8": null}))],
        )
        .expect("stored");
    assert_eq!(store.journal().expect("read").len(), 2);
    let handoffs = store.load().expect("read").handoffs;
    assert_eq!(handoffs.len(), 1);
    assert_eq!(handoffs[0].vehicle, "igv-8");
    assert_eq!(
        store.value("master").expect("read"),
        Some(json!({"igv-8": null}))
    );
    assert_eq!(
        store
            .counter(borderlane_handoff::NEXT_HANDOFF)
            .expect("read"),
        Some(2)
    );
}
