//! Random sequences of transactions against the store and against a model
//! in memory: after every step, and after reopening the file, the two hold
//! the same rows, and the store refuses exactly the writes the model says
//! the schema forbids.

mod common;

use std::collections::BTreeMap;

use borderlane_durable::{
    Crossing, Custody, Handoff, Job, Outcome, Reservation, Role, Slot, Snapshot, Store, StoreError,
    Tx,
};
use borderlane_model::Side;
use common::scratch;
use proptest::prelude::*;
use serde_json::{Value, json};

#[derive(Clone, Debug)]
enum Op {
    UpsertJob(Job),
    DeleteJob(String),
    SetCustody(Custody),
    DeleteCustody(String),
    UpsertHandoff(Handoff),
    DeleteHandoff(String),
    UpsertSlot(Slot),
    DeleteSlot(String),
    UpsertReservation(Reservation),
    DeleteReservation(String),
    AppendCrossing(Crossing),
}

#[derive(Clone, Debug)]
enum Step {
    /// A transaction that commits if every write is accepted.
    Commit(Vec<Op>),
    /// A transaction whose caller gives up after its writes.
    GiveUp(Vec<Op>),
    /// Close the store and open the file again.
    Reopen,
}

/// A write refused by the schema.
#[derive(Debug)]
struct Refused;

/// The rows the store should hold.
#[derive(Clone, Debug, Default)]
struct Model {
    jobs: BTreeMap<String, Job>,
    custody: BTreeMap<String, Custody>,
    handoffs: BTreeMap<String, Handoff>,
    slots: BTreeMap<String, Slot>,
    reservations: BTreeMap<String, Reservation>,
    crossings: Vec<Crossing>,
}

fn upsert<T>(map: &mut BTreeMap<String, T>, key: &str, value: &T) -> bool
where
    T: Clone,
{
    map.insert(key.to_string(), value.clone());
    true
}

impl Model {
    /// Applies one write; what the store's method returns (`true` for a
    /// write, whether a row went for a delete), or the schema's refusal.
    fn apply(&mut self, op: &Op) -> Result<bool, Refused> {
        Ok(match op {
            Op::UpsertJob(j) => upsert(&mut self.jobs, &j.id, j),
            Op::DeleteJob(id) => self.jobs.remove(id).is_some(),
            Op::SetCustody(c) => upsert(&mut self.custody, &c.container, c),
            Op::DeleteCustody(c) => self.custody.remove(c).is_some(),
            Op::UpsertHandoff(h) => upsert(&mut self.handoffs, &h.id, h),
            Op::DeleteHandoff(id) => {
                self.slots.remove(id);
                self.reservations.remove(id);
                self.handoffs.remove(id).is_some()
            }
            Op::UpsertSlot(s) => {
                if !self.handoffs.contains_key(&s.handoff) || s.window_end_ms < s.window_start_ms {
                    return Err(Refused);
                }
                upsert(&mut self.slots, &s.handoff, s)
            }
            Op::DeleteSlot(h) => self.slots.remove(h).is_some(),
            Op::UpsertReservation(r) => {
                if !self.handoffs.contains_key(&r.handoff) {
                    return Err(Refused);
                }
                upsert(&mut self.reservations, &r.handoff, r)
            }
            Op::DeleteReservation(h) => self.reservations.remove(h).is_some(),
            Op::AppendCrossing(c) => {
                let complete = c.granted_ms.is_some()
                    && c.handover_ms.is_some()
                    && c.accepted_ms.is_some()
                    && c.receiving_decision.is_some();
                let known = self.crossings.iter().any(|k| k.handoff == c.handoff);
                if known || c.from == c.to || (c.outcome == Outcome::Crossed && !complete) {
                    return Err(Refused);
                }
                self.crossings.push(c.clone());
                true
            }
        })
    }

    /// Applies a transaction's writes, all or none.
    fn transaction(&mut self, ops: &[Op]) -> Result<Vec<bool>, Refused> {
        let mut next = self.clone();
        let results = ops
            .iter()
            .map(|op| next.apply(op))
            .collect::<Result<_, _>>()?;
        *self = next;
        Ok(results)
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            jobs: self.jobs.values().cloned().collect(),
            custody: self.custody.values().cloned().collect(),
            handoffs: self.handoffs.values().cloned().collect(),
            slots: self.slots.values().cloned().collect(),
            reservations: self.reservations.values().cloned().collect(),
        }
    }
}

fn apply(tx: &Tx<'_>, op: &Op) -> Result<bool, StoreError> {
    match op {
        Op::UpsertJob(j) => tx.upsert_job(j).map(|()| true),
        Op::DeleteJob(id) => tx.delete_job(id),
        Op::SetCustody(c) => tx.set_custody(c).map(|()| true),
        Op::DeleteCustody(c) => tx.delete_custody(c),
        Op::UpsertHandoff(h) => tx.upsert_handoff(h).map(|()| true),
        Op::DeleteHandoff(id) => tx.delete_handoff(id),
        Op::UpsertSlot(s) => tx.upsert_slot(s).map(|()| true),
        Op::DeleteSlot(h) => tx.delete_slot(h),
        Op::UpsertReservation(r) => tx.upsert_reservation(r).map(|()| true),
        Op::DeleteReservation(h) => tx.delete_reservation(h),
        Op::AppendCrossing(c) => tx.append_crossing(c).map(|_| true),
    }
}

/// Why a transaction of the store did not commit.
#[derive(Debug)]
enum Failed {
    Store(StoreError),
    GaveUp,
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Failed {
        Failed::Store(e)
    }
}

fn run(store: &mut Store, ops: &[Op], give_up: bool) -> Result<Vec<bool>, Failed> {
    store.transaction(|tx| {
        let results = ops
            .iter()
            .map(|op| apply(tx, op))
            .collect::<Result<Vec<_>, _>>()?;
        if give_up {
            Err(Failed::GaveUp)
        } else {
            Ok(results)
        }
    })
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(&["a", "b", "c", "d"][..]).prop_map(str::to_string)
}

fn label() -> impl Strategy<Value = String> {
    prop::sample::select(&["", "queued", "it's", "\"x\"", "ü"][..]).prop_map(str::to_string)
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Vn), Just(Side::Cn)]
}

fn ms() -> impl Strategy<Value = u64> {
    prop_oneof![0..100u64, Just(i64::MAX as u64)]
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        label().prop_map(Value::String),
        (label(), any::<u32>()).prop_map(|(k, n)| json!({ k: [n, { "nested": null }] })),
    ]
}

fn job() -> impl Strategy<Value = Job> {
    (key(), label(), label(), label(), label(), json_value()).prop_map(
        |(id, container, from, to, state, detail)| Job {
            id,
            container,
            from,
            to,
            state,
            detail,
        },
    )
}

fn custody() -> impl Strategy<Value = Custody> {
    (key(), side(), label(), ms()).prop_map(|(container, side, holder, since_ms)| Custody {
        container,
        side,
        holder,
        since_ms,
    })
}

fn handoff() -> impl Strategy<Value = Handoff> {
    (
        key(),
        label(),
        prop_oneof![Just(Role::Near), Just(Role::Far)],
        label(),
        json_value(),
        any::<u32>(),
        any::<u32>(),
        ms(),
    )
        .prop_map(
            |(id, vehicle, role, phase, state, sent_seq, received_seq, updated_ms)| Handoff {
                id,
                vehicle,
                role,
                phase,
                state,
                sent_seq,
                received_seq,
                updated_ms,
            },
        )
}

fn slot() -> impl Strategy<Value = Slot> {
    (key(), label(), ms(), ms()).prop_map(|(handoff, vehicle, window_start_ms, window_end_ms)| {
        Slot {
            handoff,
            vehicle,
            window_start_ms,
            window_end_ms,
        }
    })
}

fn crossing() -> impl Strategy<Value = Crossing> {
    let decision = || prop::option::weighted(0.8, label());
    let time = || prop::option::weighted(0.8, ms());
    (
        (key(), label(), label(), label(), label(), label()),
        (side(), side()),
        prop_oneof![
            Just(Outcome::Crossed),
            Just(Outcome::Refused),
            Just(Outcome::Withdrawn)
        ],
        (ms(), time(), time(), time()),
        (label(), decision(), decision()),
    )
        .prop_map(
            |(
                (handoff, vehicle, container, manifest, e_seal, e_seal_state),
                (from, to),
                outcome,
                (requested_ms, granted_ms, handover_ms, accepted_ms),
                (sending_decision, receiving_decision, inspection_result),
            )| Crossing {
                handoff,
                vehicle,
                container,
                manifest,
                e_seal,
                e_seal_state,
                from,
                to,
                outcome,
                requested_ms,
                granted_ms,
                handover_ms,
                accepted_ms,
                sending_decision,
                receiving_decision,
                inspection_result,
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => job().prop_map(Op::UpsertJob),
        1 => key().prop_map(Op::DeleteJob),
        1 => custody().prop_map(Op::SetCustody),
        1 => key().prop_map(Op::DeleteCustody),
        3 => handoff().prop_map(Op::UpsertHandoff),
        1 => key().prop_map(Op::DeleteHandoff),
        3 => slot().prop_map(Op::UpsertSlot),
        1 => key().prop_map(Op::DeleteSlot),
        2 => (key(), json_value())
            .prop_map(|(handoff, detail)| Op::UpsertReservation(Reservation { handoff, detail })),
        1 => key().prop_map(Op::DeleteReservation),
        2 => crossing().prop_map(Op::AppendCrossing),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let ops = || prop::collection::vec(op(), 1..6);
    prop_oneof![
        6 => ops().prop_map(Step::Commit),
        2 => ops().prop_map(Step::GiveUp),
        1 => Just(Step::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_store_behaves_as_the_model(steps in prop::collection::vec(step(), 1..25)) {
        let (_dir, path) = scratch();
        let mut store = Store::open(&path).expect("creates");
        let mut model = Model::default();
        for step in &steps {
            match step {
                Step::Commit(ops) => match (run(&mut store, ops, false), model.transaction(ops)) {
                    (Ok(got), Ok(expected)) => prop_assert_eq!(got, expected),
                    (Err(Failed::Store(e)), Err(Refused)) => {
                        prop_assert!(e.is_constraint(), "{}", e);
                    }
                    (got, expected) => {
                        prop_assert!(false, "store {:?}, model {:?} for {:?}", got, expected, ops);
                    }
                },
                Step::GiveUp(ops) => {
                    let result = run(&mut store, ops, true);
                    prop_assert!(result.is_err(), "a transaction given up did not commit");
                }
                Step::Reopen => {
                    drop(store);
                    store = Store::open(&path).expect("reopens");
                }
            }
            prop_assert_eq!(store.load().expect("loads"), model.snapshot());
            prop_assert_eq!(store.crossings().expect("reads"), model.crossings.clone());
        }
    }
}
