//! A side's durable state and its recovery after a restart.
//!
//! [`Durable`] keeps, in one `borderlane-durable` store, what a side must
//! not lose when its orchestrator stops: the desk's handoff records (with
//! their granted slots and the number of the next handoff) and the journal
//! of every step its core took (each input with its time, and each
//! wake-up). The caller journals a step before the core takes it and
//! persists the desk's changes ([`Durable::persist`]) before it sends what
//! the desk has to transmit, so nothing that left the side depends on
//! state the store does not hold.
//!
//! [`Durable::recover`] builds the side again from configuration and the
//! store: the desk through [`Desk::restore`] (retries resume at their
//! stored times; the far side still holds every slot it granted, the near
//! side still re-sends a handover it committed), and the core by replaying
//! its journal into a new [`Core`], whose outputs are dropped because they
//! were sent before the stop. The core is therefore exactly as it was,
//! with the plans the vehicles were last sent and the reservations the
//! other side depends on; the vehicles' next state reports tell it where
//! they are now. The simulator's restarts and the live station use this
//! same code.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use borderlane_core::io::{Event, JobRequest};
use borderlane_core::{Core, CoreConfig, CoreError, Input};
use borderlane_durable::{
    Crossing, Custody, Handoff as HandoffRow, Job, Outcome, Role, Slot as SlotRow, Store,
    StoreError, Tx,
};
use borderlane_model::{LaneMap, Ms};
use serde::{Deserialize, Serialize};

use crate::message::Body;
use crate::{
    Desk, FarPhase, HandoffConfig, HandoffError, HandoffRecord, NearPhase, Phase, RollBack,
    SigningKey, Snapshot, VerifyingKey,
};

/// The counter that holds the number of a side's next handoff.
pub const NEXT_HANDOFF: &str = "next_handoff";

/// One step of the core, as the journal keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum CoreStep {
    /// `Core::handle` with this input.
    Input { input: Input },
    /// `Core::handle_timeout`.
    Wake,
}

/// Why a side could not be recovered from its store.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored handoff {id:?} is not a handoff record: {detail}")]
    Record { id: String, detail: String },
    #[error("journal entry {index} is not a core step: {detail}")]
    Journal { index: usize, detail: String },
    #[error(transparent)]
    Handoff(#[from] HandoffError),
    #[error("core: {0}")]
    Core(CoreError),
}

/// A side recovered from its store.
pub struct Recovered {
    pub core: Core,
    pub desk: Desk,
    /// How many journal entries the core replayed.
    pub replayed: usize,
}

/// One side's durable state.
pub struct Durable {
    store: Store,
    /// The handoff counter as last stored, so an unchanged one is not
    /// written again.
    stored_next: Option<u64>,
    /// The phase of each handoff record as last stored, to tell when one
    /// moves custody.
    phases: BTreeMap<String, &'static str>,
    /// This side's open jobs, as the jobs table holds them.
    jobs: BTreeMap<String, Job>,
    /// Job requests the core was given, until it queues them: (request,
    /// whether it has been through a commit already).
    requests: BTreeMap<String, (JobRequest, bool)>,
    /// The core's events noted since the last commit, with their times.
    events: Vec<(Ms, Event)>,
}

impl Durable {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Durable, StoreError> {
        let store = Store::open(path)?;
        let stored_next = store.counter(NEXT_HANDOFF)?;
        let stored = store.load()?;
        let phases = stored
            .handoffs
            .iter()
            .filter_map(|h| Some((h.id.clone(), stored_phase(&h.phase)?)))
            .collect();
        let jobs = stored.jobs.into_iter().map(|j| (j.id.clone(), j)).collect();
        Ok(Durable {
            store,
            stored_next,
            phases,
            jobs,
            requests: BTreeMap::new(),
            events: Vec::new(),
        })
    }

    /// Notes an event of the core, for the jobs and custody tables: it is
    /// stored with the next commit, before anything that commit's step
    /// sends. A shell hands each event here as the core gives it out.
    pub fn observe(&mut self, now: Ms, event: &Event) {
        let relevant = matches!(
            event,
            Event::JobQueued { .. }
                | Event::JobAssigned { .. }
                | Event::ContainerPicked { .. }
                | Event::JobDelivered { .. }
                | Event::JobCancelled { .. }
        );
        if relevant {
            self.events.push((now, event.clone()));
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Journals a step before the core takes it.
    pub fn journal(&mut self, now: Ms, step: &CoreStep) -> Result<(), StoreError> {
        self.commit(&[(now, step.clone())], None, &[])
    }

    /// Stores the desk's records that changed since the last call (and
    /// deletes the forgotten ones), with the handoff counter, in one
    /// transaction. Call it after every call into the desk and before
    /// sending what it transmits. If it fails, the changes stay marked for
    /// the next call and nothing may be sent.
    pub fn persist(&mut self, now: Ms, desk: &mut Desk) -> Result<(), StoreError> {
        self.commit(&[], Some((now, desk)), &[])
    }

    /// Stores, in one transaction, the core steps taken since the last
    /// commit (each with its time, in the order they were taken), the
    /// desk's changed records with the handoff counter (as
    /// [`Durable::persist`]), the customs audit's row of each changed
    /// record that has ended (once per handoff: a handoff with a row keeps
    /// it), and the shell's named values. A shell that
    /// steps the core and the desk together calls this once per step,
    /// before it sends anything the step produced: a crash can then never
    /// leave the journal with a step whose handoff records are missing, or
    /// records whose effects the journal never gave the core. If it fails,
    /// nothing of it is stored and the desk's changes stay marked; the
    /// caller must send nothing of the step.
    pub fn commit(
        &mut self,
        steps: &[(Ms, CoreStep)],
        desk: Option<(Ms, &mut Desk)>,
        values: &[(&str, serde_json::Value)],
    ) -> Result<(), StoreError> {
        let (now, changed, next, desk) = match desk {
            Some((now, desk)) => {
                let changed = desk.handoffs.take_changed();
                let next = desk.handoffs.next_number;
                let unchanged = changed.is_empty() && self.stored_next == Some(next);
                (now, changed, (!unchanged).then_some(next), Some(desk))
            }
            None => (0, Default::default(), None, None),
        };
        if steps.is_empty() && next.is_none() && values.is_empty() && self.events.is_empty() {
            return Ok(());
        }
        let handoffs = desk.as_ref().map(|d| &d.handoffs);
        // The jobs and custody this commit changes, worked out on copies
        // that replace the kept ones once it is stored.
        let mut requests = self.requests.clone();
        requests.retain(|_, (_, seen)| !std::mem::replace(seen, true));
        for (_, step) in steps {
            if let CoreStep::Input {
                input: Input::Job(job),
            } = step
            {
                requests.insert(job.id.clone(), (job.clone(), false));
            }
        }
        let mut ledger = Ledger {
            jobs: self.jobs.clone(),
            requests: &mut requests,
            writes: Vec::new(),
        };
        for (at, event) in &self.events {
            ledger.event(*at, event);
        }
        let mut phases = Vec::new();
        for id in &changed {
            let rec = handoffs.and_then(|h| h.get(id));
            let was = self.phases.get(id).copied();
            if let Some(rec) = rec {
                ledger.record(now, rec, was);
            }
            phases.push((id.clone(), rec.map(|r| r.phase_name())));
        }
        let Ledger { jobs, writes, .. } = ledger;
        let written = self.store.transaction(|tx| {
            for (at, step) in steps {
                // A core step is plain data: serialising it cannot fail.
                let entry = serde_json::to_value(step).unwrap_or_default();
                tx.append_journal(*at, &entry)?;
            }
            for id in &changed {
                let Some(rec) = handoffs.and_then(|h| h.get(id)) else {
                    tx.delete_handoff(id)?;
                    continue;
                };
                tx.upsert_handoff(&row(rec, now))?;
                if let Some(crossing) = crossing(rec) {
                    // A handoff that ended and is stored again keeps the
                    // row it was first stored with.
                    tx.record_crossing(&crossing)?;
                }
                match rec.slot {
                    Some(slot) => tx.upsert_slot(&SlotRow {
                        handoff: rec.id.clone(),
                        vehicle: rec.entry.vehicle.clone(),
                        window_start_ms: slot.window_start_ms,
                        window_end_ms: slot.window_end_ms,
                    })?,
                    None => {
                        tx.delete_slot(id)?;
                    }
                }
            }
            if let Some(next) = next {
                tx.set_counter(NEXT_HANDOFF, next)?;
            }
            for write in &writes {
                write.apply(tx)?;
            }
            for (name, value) in values {
                tx.set_value(name, value)?;
            }
            Ok::<(), StoreError>(())
        });
        match written {
            Ok(()) => {
                self.requests = requests;
                if next.is_some() {
                    self.stored_next = next;
                }
                self.events.clear();
                self.jobs = jobs;
                for (id, phase) in phases {
                    match phase {
                        Some(p) => self.phases.insert(id, p),
                        None => self.phases.remove(&id),
                    };
                }
                Ok(())
            }
            Err(e) => {
                if let Some(desk) = desk {
                    desk.handoffs.changed.extend(changed);
                }
                Err(e)
            }
        }
    }

    /// Builds the side again from configuration and what the store holds:
    /// the desk from its records, the core from its journal. The desk's
    /// standing effects are dropped: the replayed core was told each of
    /// them when it happened.
    pub fn recover(
        &self,
        map: Arc<LaneMap>,
        core: CoreConfig,
        handoff: HandoffConfig,
        key: SigningKey,
        peer: VerifyingKey,
        border: &str,
    ) -> Result<Recovered, RecoverError> {
        let side = handoff.me;
        let stored = self.store.load()?;
        let mut records = Vec::with_capacity(stored.handoffs.len());
        for row in stored.handoffs {
            let rec: HandoffRecord =
                serde_json::from_value(row.state).map_err(|e| RecoverError::Record {
                    id: row.id.clone(),
                    detail: e.to_string(),
                })?;
            if rec.id != row.id {
                return Err(RecoverError::Record {
                    id: row.id,
                    detail: format!("its state is handoff {:?}", rec.id),
                });
            }
            records.push(rec);
        }
        records.sort_by_key(|r| r.number);
        let after_last = records.last().map_or(1, |r| r.number + 1);
        let next_number = self
            .store
            .counter(NEXT_HANDOFF)?
            .unwrap_or(1)
            .max(after_last);
        let mut desk = Desk::restore(
            handoff,
            key,
            peer,
            border,
            Snapshot {
                side,
                next_number,
                handoffs: records,
            },
        )?;
        while desk.handoffs.poll_effect().is_some() {}
        let (core, replayed) = self.replay(map, core)?;
        Ok(Recovered {
            core,
            desk,
            replayed,
        })
    }

    /// A new core with the journal replayed into it, its outputs dropped
    /// (they were sent before the stop), and how many entries it took: the
    /// core part of [`Durable::recover`], alone for a station without a
    /// desk.
    pub fn replay(
        &self,
        map: Arc<LaneMap>,
        core: CoreConfig,
    ) -> Result<(Core, usize), RecoverError> {
        let mut core = Core::new(map, core).map_err(RecoverError::Core)?;
        let journal = self.store.journal()?;
        let replayed = journal.len();
        for (index, (at, entry)) in journal.into_iter().enumerate() {
            let step: CoreStep =
                serde_json::from_value(entry).map_err(|e| RecoverError::Journal {
                    index,
                    detail: e.to_string(),
                })?;
            match step {
                CoreStep::Input { input } => core.handle(at, input),
                CoreStep::Wake => core.handle_timeout(at),
            }
            // Sent before the stop.
            while core.poll_output().is_some() {}
        }
        Ok((core, replayed))
    }
}

/// The store's row of a handoff record.
fn row(rec: &HandoffRecord, now: Ms) -> HandoffRow {
    HandoffRow {
        id: rec.id.clone(),
        vehicle: rec.entry.vehicle.clone(),
        role: if rec.is_near() { Role::Near } else { Role::Far },
        phase: rec.phase_name().to_string(),
        // A record is plain data: serialising it cannot fail.
        state: serde_json::to_value(rec).unwrap_or_default(),
        sent_seq: rec.next_seq.saturating_sub(1),
        received_seq: rec.peer_seq,
        updated_ms: now,
    }
}

/// A write to the jobs or custody table.
enum Write {
    Job(Job),
    NoJob(String),
    Custody(Custody),
    NoCustody(String),
}

impl Write {
    fn apply(&self, tx: &Tx<'_>) -> Result<(), StoreError> {
        match self {
            Write::Job(job) => tx.upsert_job(job),
            Write::NoJob(id) => tx.delete_job(id).map(drop),
            Write::Custody(custody) => tx.set_custody(custody),
            Write::NoCustody(container) => tx.delete_custody(container).map(drop),
        }
    }
}

/// Works out what a commit changes in the jobs and custody tables: the
/// jobs this side has open (queued, assigned, picked up, or adopted at a
/// handover) and the containers in its custody (from the pick-up on this
/// side or the adoption, until the far side accepted the vehicle or the
/// container was delivered).
struct Ledger<'a> {
    jobs: BTreeMap<String, Job>,
    requests: &'a mut BTreeMap<String, (JobRequest, bool)>,
    writes: Vec<Write>,
}

impl Ledger<'_> {
    fn event(&mut self, now: Ms, event: &Event) {
        match event {
            Event::JobQueued { job } => {
                let Some((req, _)) = self.requests.remove(job) else {
                    return;
                };
                let detail = serde_json::json!({
                    "channel": req.channel,
                    "customsMs": req.customs_ms,
                    "priority": req.priority,
                    "deadline": req.deadline,
                });
                self.put(Job {
                    id: req.id,
                    container: req.container,
                    from: req.pickup,
                    to: String::new(),
                    state: "queued".into(),
                    detail,
                });
            }
            Event::JobAssigned { job, vehicle, drop } => {
                if let Some(mut j) = self.jobs.get(job).cloned() {
                    j.to = drop.clone();
                    j.state = "assigned".into();
                    if let Some(detail) = j.detail.as_object_mut() {
                        detail.insert("vehicle".into(), vehicle.clone().into());
                    }
                    self.put(j);
                }
            }
            Event::ContainerPicked {
                job,
                vehicle,
                container,
                side,
            } => {
                if let Some(mut j) = self.jobs.get(job).cloned() {
                    j.state = "picked".into();
                    self.put(j);
                }
                self.writes.push(Write::Custody(Custody {
                    container: container.clone(),
                    side: *side,
                    holder: vehicle.clone(),
                    since_ms: now,
                }));
            }
            Event::JobDelivered { job, container, .. } => {
                self.drop_job(job);
                self.writes.push(Write::NoCustody(container.clone()));
            }
            Event::JobCancelled { job } => self.drop_job(job),
            _ => {}
        }
    }

    /// A handoff record stored, with its phase as stored before: on the
    /// far side an adopted vehicle brings its job and container into this
    /// side's keeping; on the near side the acceptance takes them out.
    fn record(&mut self, now: Ms, rec: &HandoffRecord, was: Option<&'static str>) {
        let entry = &rec.entry;
        if entry.job.starts_with(crate::EMPTY) {
            // A vehicle crossing empty: no job, no container.
            return;
        }
        if rec.is_near() {
            if rec.phase_name() == "transferred" && was != Some("transferred") {
                self.drop_job(&entry.job);
                self.writes.push(Write::NoCustody(entry.container.clone()));
            }
            return;
        }
        let adopted = |p: Option<&str>| matches!(p, Some("adopted" | "closed"));
        if adopted(Some(rec.phase_name())) && !adopted(was) {
            self.put(Job {
                id: entry.job.clone(),
                container: entry.container.clone(),
                from: format!("handoff {}", rec.id),
                to: String::new(),
                state: "adopted".into(),
                detail: serde_json::json!({
                    "vehicle": entry.vehicle,
                    "handoff": rec.id,
                    "channel": rec.slot.map(|s| s.receiving_channel),
                }),
            });
            self.writes.push(Write::Custody(Custody {
                container: entry.container.clone(),
                side: rec.peer.other(),
                holder: entry.vehicle.clone(),
                since_ms: now,
            }));
        }
    }

    fn put(&mut self, job: Job) {
        self.jobs.insert(job.id.clone(), job.clone());
        self.writes.push(Write::Job(job));
    }

    fn drop_job(&mut self, id: &str) {
        if self.jobs.remove(id).is_some() {
            self.writes.push(Write::NoJob(id.to_string()));
        }
    }
}

/// A stored record's phase name as the record gives it.
fn stored_phase(name: &str) -> Option<&'static str> {
    [
        "requested",
        "granted",
        "handed over",
        "transferred",
        "rolled back",
        "deciding",
        "adopted",
        "closed",
        "refused",
        "withdrawn",
    ]
    .into_iter()
    .find(|p| *p == name)
}

/// The customs audit's row of a handoff that ended on this side, as this
/// side saw it (its own clock's times); `None` while it goes on.
pub fn crossing(rec: &HandoffRecord) -> Option<Crossing> {
    let outcome = match &rec.phase {
        Phase::Near(NearPhase::Transferred) | Phase::Far(FarPhase::Closed) => Outcome::Crossed,
        Phase::Near(NearPhase::RolledBack(RollBack::Refused { .. }))
        | Phase::Far(FarPhase::Refused) => Outcome::Refused,
        Phase::Near(NearPhase::RolledBack(_)) | Phase::Far(FarPhase::Withdrawn) => {
            Outcome::Withdrawn
        }
        _ => return None,
    };
    let finished = rec.finished_ms?;
    // A record stored by an older build has no times of its steps; a
    // crossing has every time, so there its end stands in for them.
    let end = (outcome == Outcome::Crossed).then_some(finished);
    let me = rec.peer.other();
    let (from, to) = if rec.is_near() {
        (me, rec.peer)
    } else {
        (rec.peer, me)
    };
    let entry = &rec.entry;
    let sending_decision = code(&entry.sending_channel);
    let refusal = match &rec.phase {
        Phase::Near(NearPhase::RolledBack(RollBack::Refused { reason, .. })) => Some(code(reason)),
        Phase::Far(FarPhase::Refused) => match rec.last_sent.as_ref().map(|e| &e.body) {
            Some(Body::Refusal { reason, .. }) => Some(code(reason)),
            _ => Some("refused".to_string()),
        },
        _ => None,
    };
    let receiving_decision = match refusal {
        Some(reason) => Some(format!("refused: {reason}")),
        None => rec.slot.map(|s| code(&s.receiving_channel)),
    };
    Some(Crossing {
        handoff: rec.id.clone(),
        vehicle: entry.vehicle.clone(),
        container: entry.container.clone(),
        manifest: entry.manifest.clone(),
        e_seal: entry.e_seal.id.clone(),
        e_seal_state: code(&entry.e_seal.state),
        from,
        to,
        outcome,
        requested_ms: rec.opened_ms,
        granted_ms: rec.granted_ms.or(end),
        handover_ms: rec.handover_ms.or(end),
        accepted_ms: rec.accepted_ms.or(end),
        sending_decision,
        receiving_decision,
        inspection_result: entry.inspection_result.clone(),
    })
}

/// The name a value of a unit enum is serialised as.
fn code<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{ESeal, ESealState};
    use crate::{Entry, Slot};
    use borderlane_core::io::Channel;
    use borderlane_model::Side;

    fn key(side: Side) -> SigningKey {
        let seed = if side == Side::Vn { "22" } else { "11" };
        SigningKey::from_hex(&format!("{side:?}"), &seed.repeat(32)).unwrap()
    }

    #[test]
    fn an_ended_handoff_stored_again_keeps_its_one_audit_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut durable = Durable::open(dir.path().join("cn.db")).unwrap();
        let mut desk = Desk::new(
            HandoffConfig::new(Side::Cn),
            key(Side::Cn),
            key(Side::Vn).verifying_key(),
            "BORDER_SB",
        )
        .unwrap();
        let entry = Entry {
            vehicle: "igv-1".into(),
            job: "job-1".into(),
            container: "c-1".into(),
            manifest: "mf-1".into(),
            e_seal: ESeal {
                id: "seal-1".into(),
                state: ESealState::Broken,
            },
            sending_channel: Channel::Green,
            inspection_result: None,
            earliest_border_ms: 5_000,
        };
        let id = desk.handoffs.request(1_000, entry).unwrap();
        durable.persist(1_000, &mut desk).unwrap();
        assert!(durable.store().crossings().unwrap().is_empty());
        desk.handoffs
            .withdraw(2_000, &id, "no longer needed")
            .unwrap();
        durable.persist(2_000, &mut desk).unwrap();
        let first = durable.store().crossings().unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].outcome, Outcome::Withdrawn);
        assert_eq!(first[0].e_seal_state, "broken");
        assert_eq!((first[0].from, first[0].to), (Side::Cn, Side::Vn));
        assert_eq!(first[0].receiving_decision, None);

        // The ended record changes again (a late grant would give it a
        // slot) and is stored again, twice: the row is the first one.
        let rec = desk.handoffs.records.get_mut(&id).unwrap();
        rec.slot = Some(Slot {
            window_start_ms: 6_000,
            window_end_ms: 7_000,
            receiving_channel: Channel::Yellow,
        });
        for at in [3_000, 4_000] {
            desk.handoffs.changed.insert(id.clone());
            durable.persist(at, &mut desk).unwrap();
        }
        assert_eq!(durable.store().crossings().unwrap(), first);
        let stored = durable.store().load().unwrap().handoffs;
        assert_eq!(stored[0].updated_ms, 4_000, "the record itself is stored");
    }
}
