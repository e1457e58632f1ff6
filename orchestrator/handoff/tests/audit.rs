//! The customs audit: each side's store gets one `crossings` row for each
//! handoff that ends on it (crossed, refused or withdrawn), written with
//! the record's change, and never a second one.

mod common;

use borderlane_durable::{Crossing, Outcome};
use borderlane_handoff::*;
use borderlane_model::{Ms, Side};
use common::*;

/// Both sides as a shell runs them: each desk stored in its own database
/// before what it sends goes out.
struct Sides {
    desks: [Desk; 2],
    stores: [Durable; 2],
    _dir: tempfile::TempDir,
}

fn ix(side: Side) -> usize {
    match side {
        Side::Vn => 0,
        Side::Cn => 1,
    }
}

fn desk(side: Side) -> Desk {
    Desk::new(
        HandoffConfig::new(side),
        key(side),
        key(side.other()).verifying_key(),
        "bridge_border_n",
    )
    .unwrap()
}

impl Sides {
    fn new() -> Sides {
        let dir = tempfile::tempdir().unwrap();
        let open = |side: Side| {
            Durable::open(
                dir.path()
                    .join(format!("{}.db", side.code().to_lowercase())),
            )
            .unwrap()
        };
        Sides {
            desks: [desk(Side::Vn), desk(Side::Cn)],
            stores: [open(Side::Vn), open(Side::Cn)],
            _dir: dir,
        }
    }

    fn handoffs(&mut self, side: Side) -> &mut Handoffs {
        &mut self.desks[ix(side)].handoffs
    }

    /// Stores both sides and delivers what they send, until quiet.
    fn settle(&mut self, now: Ms) {
        loop {
            let mut quiet = true;
            for side in [Side::Vn, Side::Cn] {
                let i = ix(side);
                self.stores[i].persist(now, &mut self.desks[i]).unwrap();
                let _ = self.desks[i].effects();
                for bytes in self.desks[i].transmit() {
                    quiet = false;
                    self.desks[1 - i].receive(now, &bytes).unwrap();
                }
            }
            if quiet {
                return;
            }
        }
    }

    fn tick(&mut self, now: Ms) {
        for desk in &mut self.desks {
            desk.handoffs.handle_timeout(now);
        }
        self.settle(now);
    }

    fn audit(&self, side: Side) -> Vec<Crossing> {
        self.stores[ix(side)].store().crossings().unwrap()
    }

    /// Stops a side and starts it again from its database.
    fn restart(&mut self, side: Side, path: &std::path::Path) {
        let i = ix(side);
        self.stores[i] = Durable::open(path).unwrap();
        let stored = self.stores[i].store().load().unwrap();
        let records = stored
            .handoffs
            .into_iter()
            .map(|h| serde_json::from_value(h.state).unwrap())
            .collect();
        let next_number = self.stores[i]
            .store()
            .counter(NEXT_HANDOFF)
            .unwrap()
            .unwrap_or(1);
        self.desks[i] = Desk::restore(
            HandoffConfig::new(side),
            key(side),
            key(side.other()).verifying_key(),
            "bridge_border_n",
            Snapshot {
                side,
                next_number,
                handoffs: records,
            },
        )
        .unwrap();
        while self.desks[i].handoffs.poll_effect().is_some() {}
    }
}

/// A handoff from `near`, granted by the far side at `T0 + 500`.
fn granted(sides: &mut Sides, near: Side, vehicle: &str, container: &str) -> String {
    let mut e = entry(vehicle, container, T0 + 60_000);
    e.sending_channel = borderlane_core::io::Channel::RedInspection;
    e.inspection_result = Some("cleared".into());
    let id = sides.handoffs(near).request(T0, e).unwrap();
    sides.settle(T0);
    sides
        .handoffs(near.other())
        .grant(T0 + 500, &id, slot(T0 + 70_000, T0 + 90_000))
        .unwrap();
    sides.settle(T0 + 500);
    id
}

#[test]
fn a_crossing_both_ways_is_audited_once_on_each_side() {
    for near in [Side::Vn, Side::Cn] {
        let far = near.other();
        let mut sides = Sides::new();
        let id = granted(&mut sides, near, "igv-1", "c-1");
        assert!(sides.audit(near).is_empty() && sides.audit(far).is_empty());
        sides
            .handoffs(near)
            .commit(T0 + 60_000, &id, order("igv-1", 3))
            .unwrap();
        sides.stores[ix(near)]
            .persist(T0 + 60_000, &mut sides.desks[ix(near)])
            .unwrap();
        let handover = sides.desks[ix(near)].transmit();
        assert!(sides.audit(near).is_empty(), "handed over is not ended");
        for bytes in handover {
            sides.desks[ix(far)].receive(T0 + 60_050, &bytes).unwrap();
        }
        sides.settle(T0 + 60_050);

        let want = |at_far: bool| Crossing {
            handoff: id.clone(),
            vehicle: "igv-1".into(),
            container: "c-1".into(),
            manifest: "mf-c-1".into(),
            e_seal: "seal-c-1".into(),
            e_seal_state: "intact".into(),
            from: near,
            to: far,
            outcome: Outcome::Crossed,
            requested_ms: T0,
            granted_ms: Some(T0 + 500),
            handover_ms: Some(if at_far { T0 + 60_050 } else { T0 + 60_000 }),
            accepted_ms: Some(T0 + 60_050),
            sending_decision: "red_inspection".into(),
            receiving_decision: Some("yellow".into()),
            inspection_result: Some("cleared".into()),
        };
        assert_eq!(sides.audit(near), vec![want(false)]);
        assert_eq!(sides.audit(far), vec![want(true)]);

        // The records are stored again as they are forgotten: the rows
        // stay, one each.
        let linger = HandoffConfig::new(near).linger_ms;
        sides.tick(T0 + 60_050 + linger);
        assert!(sides.desks[0].handoffs.records().next().is_none());
        assert!(
            sides.stores[ix(near)]
                .store()
                .load()
                .unwrap()
                .handoffs
                .is_empty()
        );
        assert_eq!(sides.audit(near), vec![want(false)]);
        assert_eq!(sides.audit(far), vec![want(true)]);
    }
}

#[test]
fn a_refusal_and_a_withdrawal_are_audited_with_their_decisions() {
    let mut sides = Sides::new();
    let refused = sides
        .handoffs(Side::Vn)
        .request(T0, entry("igv-1", "c-1", T0 + 60_000))
        .unwrap();
    sides.settle(T0);
    sides
        .handoffs(Side::Cn)
        .refuse(T0 + 200, &refused, RefusalReason::CustomsHold, "held")
        .unwrap();
    sides.settle(T0 + 200);
    let withdrawn = granted(&mut sides, Side::Vn, "igv-2", "c-2");
    sides
        .handoffs(Side::Vn)
        .withdraw(T0 + 1_000, &withdrawn, "the vehicle broke down")
        .unwrap();
    sides.settle(T0 + 1_000);

    for side in [Side::Vn, Side::Cn] {
        let audit = sides.audit(side);
        let rows: Vec<_> = audit
            .iter()
            .map(|c| {
                (
                    c.handoff.as_str(),
                    c.vehicle.as_str(),
                    c.outcome,
                    c.granted_ms,
                    c.handover_ms,
                    c.receiving_decision.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                (
                    refused.as_str(),
                    "igv-1",
                    Outcome::Refused,
                    None,
                    None,
                    Some("refused: customsHold")
                ),
                (
                    withdrawn.as_str(),
                    "igv-2",
                    Outcome::Withdrawn,
                    Some(T0 + 500),
                    None,
                    Some("yellow")
                ),
            ],
            "{side:?}"
        );
        assert!(audit.iter().all(|c| c.from == Side::Vn && c.to == Side::Cn));
        assert_eq!(audit[0].sending_decision, "green");
    }
}

#[test]
fn a_restarted_side_does_not_audit_a_handoff_again() {
    let mut sides = Sides::new();
    let id = granted(&mut sides, Side::Vn, "igv-1", "c-1");
    sides
        .handoffs(Side::Vn)
        .commit(T0 + 60_000, &id, order("igv-1", 3))
        .unwrap();
    sides.settle(T0 + 60_000);
    assert_eq!(sides.audit(Side::Vn).len(), 1);
    assert_eq!(sides.audit(Side::Cn).len(), 1);

    // Both sides stop and start again from their databases; the far side
    // gets the release again (a copy the broker kept), the near side an
    // acceptance again, and both forget the handoff in the end.
    let paths: Vec<_> = sides
        .stores
        .iter()
        .map(|s| s.store().path().to_path_buf())
        .collect();
    for side in [Side::Vn, Side::Cn] {
        sides.restart(side, &paths[ix(side)]);
    }
    sides.tick(T0 + 61_000);
    let linger = HandoffConfig::new(Side::Vn).linger_ms;
    sides.tick(T0 + 60_000 + linger);
    for side in [Side::Vn, Side::Cn] {
        let audit = sides.audit(side);
        assert_eq!(audit.len(), 1, "{side:?}");
        assert_eq!(audit[0].handoff, id);
        assert_eq!(audit[0].outcome, Outcome::Crossed);
    }
}
