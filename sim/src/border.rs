//! The two orchestrators' link in a two-sided run: each side's handoff
//! desk (the protocol's state machines, its gate and its signing key) and
//! the in-memory bus between them, which behaves like the MQTT bridge
//! between the two sides' brokers: latency, jitter (so reordering), loss,
//! duplication and partitions, every draw from one seeded generator.
//!
//! The desks are `borderlane_handoff::Desk`, the same the live stations
//! use; in simulation each side signs with a fixed key, so runs repeat.

use std::collections::BTreeMap;

use borderlane_handoff::{Desk, HandoffConfig, SigningKey};
use borderlane_model::{Ms, Side};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How the link between the two sides behaves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkModel {
    /// The time a message takes from one side to the other, ms.
    pub latency_ms: Ms,
    /// A random extra delay of up to this much, ms; messages overtake one
    /// another when it is larger than the gap between them.
    pub jitter_ms: Ms,
    /// The chance that a message is lost.
    pub loss: f64,
    /// The chance that a message arrives twice.
    pub duplicate: f64,
    /// Periods when no message crosses: (from, until), ms.
    #[serde(skip)]
    pub partitions: Vec<(Ms, Ms)>,
}

impl Default for LinkModel {
    fn default() -> LinkModel {
        LinkModel {
            latency_ms: 40,
            jitter_ms: 20,
            loss: 0.0,
            duplicate: 0.0,
            partitions: Vec::new(),
        }
    }
}

/// What crossed the link, for the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LinkStats {
    pub sent: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub partitioned: u64,
    pub delivered: u64,
    /// Messages the receiving gate refused (stale, out of order, forged).
    pub rejected: u64,
    /// Protocol calls the state machines refused (a commit after the
    /// window ended, say).
    pub protocol_errors: u64,
    /// Handoffs completed and rolled back; still open at the end.
    pub completed: u64,
    pub rolled_back: u64,
    pub open_at_end: u64,
    /// Restarts of either side's orchestrator, and the journal entries
    /// replayed to rebuild their cores.
    pub restarts: u64,
    pub replayed: u64,
    /// Messages, vehicle states and wake-ups that reached a side while it
    /// was down, and were lost.
    pub lost_while_down: u64,
    /// Border stops with both sides up and no partition since the commit.
    pub unexcused_border_stops: u32,
    /// From the harness's custody ledger: containers delivered twice, and
    /// containers open on both sides' records outside a handoff in flight.
    pub containers_redelivered: u64,
    pub containers_on_both_sides: u64,
    /// Failed writes to a side's database.
    pub store_errors: u64,
    /// Vehicles standing on the bridge (not at a place they may wait) at
    /// the end of the run.
    pub on_bridge_at_end: u64,
}

/// The signing key of a side in simulation: fixed, so runs repeat.
fn sim_key(side: Side) -> SigningKey {
    let (id, byte) = match side {
        Side::Vn => ("vn-sim", "5a"),
        Side::Cn => ("cn-sim", "c3"),
    };
    SigningKey::from_hex(id, &byte.repeat(32)).expect("a valid fixed key")
}

/// A side's key pair in simulation: its signing key and the other side's
/// public key.
pub fn sim_keys(side: Side) -> (SigningKey, borderlane_handoff::VerifyingKey) {
    (sim_key(side), sim_key(side.other()).verifying_key())
}

/// A side's desk in simulation: the default handoff timing and the fixed
/// keys of both sides. `border` is the border node vehicles leave `side` by.
pub fn sim_desk(side: Side, border: &str) -> Desk {
    Desk::new(
        HandoffConfig::new(side),
        sim_key(side),
        sim_key(side.other()).verifying_key(),
        border,
    )
    .expect("the default handoff timing is valid")
}

/// The bus between the two desks.
pub struct Bus {
    model: LinkModel,
    rng: ChaCha8Rng,
    /// Messages in flight: (arrival, sequence) → (to side index, bytes).
    in_flight: BTreeMap<(Ms, u64), (usize, Vec<u8>)>,
    seq: u64,
    pub stats: LinkStats,
}

impl Bus {
    pub fn new(model: LinkModel, seed: u64) -> Bus {
        Bus {
            model,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xb0_5d_e5),
            in_flight: BTreeMap::new(),
            seq: 0,
            stats: LinkStats::default(),
        }
    }

    /// Whether the link is cut at `t`.
    pub fn cut_between(&self, from: Ms, until: Ms) -> bool {
        self.model
            .partitions
            .iter()
            .any(|&(a, b)| a <= until && from < b)
    }

    /// Sends a message to side `to` at `now`, through the link's faults.
    pub fn send(&mut self, now: Ms, to: usize, bytes: Vec<u8>) {
        self.stats.sent += 1;
        if self
            .model
            .partitions
            .iter()
            .any(|&(from, until)| from <= now && now < until)
        {
            self.stats.partitioned += 1;
            return;
        }
        if self.model.loss > 0.0 && self.rng.random_bool(self.model.loss.min(1.0)) {
            self.stats.lost += 1;
            return;
        }
        let copies =
            if self.model.duplicate > 0.0 && self.rng.random_bool(self.model.duplicate.min(1.0)) {
                self.stats.duplicated += 1;
                2
            } else {
                1
            };
        for _ in 0..copies {
            let jitter = if self.model.jitter_ms > 0 {
                self.rng.random_range(0..=self.model.jitter_ms)
            } else {
                0
            };
            self.seq += 1;
            self.in_flight.insert(
                (now + self.model.latency_ms + jitter, self.seq),
                (to, bytes.clone()),
            );
        }
    }

    /// When the next message arrives.
    pub fn next_arrival(&self) -> Option<Ms> {
        self.in_flight.first_key_value().map(|(&(t, _), _)| t)
    }

    /// The next message to arrive: (to side index, bytes).
    pub fn pop(&mut self) -> Option<(usize, Vec<u8>)> {
        self.in_flight.pop_first().map(|(_, m)| m)
    }
}
