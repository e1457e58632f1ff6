//! A test shell around one side's handoffs: gate, keys, a stored snapshot
//! written before anything is sent, and restarts from it.

#![allow(dead_code)]

use borderlane_core::io::Channel;
use borderlane_handoff::*;
use borderlane_model::{Ms, Side};

/// A time in ms since the Unix epoch, as the gate expects.
pub const T0: Ms = 1_790_000_000_000;

pub fn key(side: Side) -> SigningKey {
    match side {
        Side::Cn => SigningKey::from_hex("cn-2026", &"11".repeat(32)).unwrap(),
        Side::Vn => SigningKey::from_hex("vn-2026", &"22".repeat(32)).unwrap(),
    }
}

pub fn entry(vehicle: &str, container: &str, earliest_border_ms: Ms) -> Entry {
    Entry {
        vehicle: vehicle.into(),
        job: format!("job-{container}"),
        container: container.into(),
        manifest: format!("mf-{container}"),
        e_seal: ESeal {
            id: format!("seal-{container}"),
            state: ESealState::Intact,
        },
        sending_channel: Channel::Green,
        inspection_result: None,
        earliest_border_ms,
    }
}

pub fn order(vehicle: &str, update: u64) -> OrderContinuation {
    OrderContinuation {
        order_id: format!("order-{vehicle}"),
        order_update_id: update,
        border_node: "bridge_border_n".into(),
        border_sequence_id: 14,
        next_header_id: 40 + update,
    }
}

pub fn slot(start: Ms, end: Ms) -> Slot {
    Slot {
        window_start_ms: start,
        window_end_ms: end,
        receiving_channel: Channel::Yellow,
    }
}

/// One side: its handoffs, its gate and what it last stored.
pub struct Node {
    pub side: Side,
    pub handoffs: Handoffs,
    pub gate: Gate,
    pub config: HandoffConfig,
    key: SigningKey,
    /// The snapshot as the store holds it, JSON.
    pub stored: String,
    pub restarts: u32,
}

impl Node {
    pub fn new(side: Side) -> Node {
        Node::with_config(HandoffConfig::new(side))
    }

    pub fn with_config(config: HandoffConfig) -> Node {
        let side = config.me;
        let handoffs = Handoffs::new(config.clone()).unwrap();
        let stored = serde_json::to_string(&handoffs.snapshot()).unwrap();
        Node {
            side,
            handoffs,
            gate: Gate::new(GateConfig::new(side), key(side.other()).verifying_key()),
            config,
            key: key(side),
            stored,
            restarts: 0,
        }
    }

    /// Persists the state, then takes what is to be sent (signed) and the
    /// effects, in that order, as a shell must.
    pub fn flush(&mut self) -> (Vec<Vec<u8>>, Vec<Effect>) {
        self.store();
        self.drain()
    }

    /// Writes the state to the store.
    pub fn store(&mut self) {
        self.stored = serde_json::to_string(&self.handoffs.snapshot()).unwrap();
    }

    /// Takes what is to be sent (signed) and the effects.
    pub fn drain(&mut self) -> (Vec<Vec<u8>>, Vec<Effect>) {
        let sent = std::iter::from_fn(|| self.handoffs.poll_transmit())
            .map(|e| sign(&self.key, &e))
            .collect();
        let effects = std::iter::from_fn(|| self.handoffs.poll_effect()).collect();
        (sent, effects)
    }

    /// Passes wire bytes through the gate and into the handoffs.
    pub fn receive(&mut self, now: Ms, bytes: &[u8]) -> Result<Handled, String> {
        let envelope = match self.gate.admit(now, bytes).map_err(|e| e.to_string())? {
            Admitted::New(e) | Admitted::Duplicate(e) => e,
        };
        self.handoffs
            .handle(now, &envelope)
            .map_err(|e| e.to_string())
    }

    /// Crashes and starts again from the stored snapshot, with an empty
    /// gate: whatever was not stored is lost.
    pub fn restart(&mut self) {
        let snapshot: Snapshot = serde_json::from_str(&self.stored).unwrap();
        self.handoffs = Handoffs::restore(self.config.clone(), snapshot).unwrap();
        self.gate = Gate::new(
            GateConfig::new(self.side),
            key(self.side.other()).verifying_key(),
        );
        self.restarts += 1;
    }
}

/// The envelope inside signed bytes, unchecked.
pub fn open(bytes: &[u8]) -> Envelope {
    let signed: Signed = serde_json::from_slice(bytes).unwrap();
    serde_json::from_str(&signed.envelope).unwrap()
}

/// Both sides, connected by a perfect link unless a test drops messages.
pub struct Pair {
    pub vn: Node,
    pub cn: Node,
}

impl Pair {
    pub fn new() -> Pair {
        Pair {
            vn: Node::new(Side::Vn),
            cn: Node::new(Side::Cn),
        }
    }

    pub fn node(&mut self, side: Side) -> &mut Node {
        match side {
            Side::Vn => &mut self.vn,
            Side::Cn => &mut self.cn,
        }
    }

    /// Flushes both sides and delivers what they send at `now`, until
    /// neither sends anything more. Returns the effects, side by side.
    pub fn settle(&mut self, now: Ms) -> Vec<(Side, Effect)> {
        let mut effects = Vec::new();
        loop {
            let mut quiet = true;
            for side in [Side::Vn, Side::Cn] {
                let (sent, got) = self.node(side).flush();
                effects.extend(got.into_iter().map(|e| (side, e)));
                for bytes in sent {
                    quiet = false;
                    self.node(side.other()).receive(now, &bytes).unwrap();
                }
            }
            if quiet {
                return effects;
            }
        }
    }

    /// Wakes both sides at `now` and settles.
    pub fn tick(&mut self, now: Ms) -> Vec<(Side, Effect)> {
        self.vn.handoffs.handle_timeout(now);
        self.cn.handoffs.handle_timeout(now);
        self.settle(now)
    }
}

impl Default for Pair {
    fn default() -> Self {
        Pair::new()
    }
}
