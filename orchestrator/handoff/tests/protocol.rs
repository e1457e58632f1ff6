//! The handoff state machines, one scenario at a time: crossings both ways,
//! refusal, retries and deadlines, duplicates, restarts, long partitions
//! and bad input.

mod common;

use borderlane_handoff::*;
use borderlane_model::{Ms, Side};
use common::*;

fn only(effects: &[(Side, Effect)], side: Side) -> Vec<Effect> {
    effects
        .iter()
        .filter(|(s, _)| *s == side)
        .map(|(_, e)| e.clone())
        .collect()
}

fn phase(node: &Node, id: &str) -> Phase {
    node.handoffs.get(id).unwrap().phase.clone()
}

/// Asserts that `side` had exactly one effect among `effects`, and that it
/// matches the pattern.
macro_rules! assert_only {
    ($effects:expr, $side:expr, $pattern:pat) => {
        assert!(matches!(only(&$effects, $side)[..], [$pattern]))
    };
}

/// Asserts that a Vn handoff rolled back: the Vn side keeps its vehicle,
/// for a reason matching `why`, and the Cn side cancels the entry.
macro_rules! assert_rolled_back {
    ($effects:expr, $why:pat) => {{
        assert_only!($effects, Side::Vn, Effect::KeepVehicle { why: $why, .. });
        assert_only!($effects, Side::Cn, Effect::CancelEntry { .. });
    }};
}

/// The entry `granted` asks for.
fn granted_entry() -> Entry {
    entry("igv-1", "c-1", T0 + 60_000)
}

/// The slot `granted` is given.
fn granted_slot() -> Slot {
    slot(T0 + 70_000, T0 + 90_000)
}

/// The Vn side asks at T0 for `entry`; nothing is sent yet.
fn request(pair: &mut Pair, entry: Entry) -> String {
    pair.vn.handoffs.request(T0, entry).unwrap()
}

/// The Vn side asks at T0 for igv-1 with c-1, due at the border from T0.
fn requested(pair: &mut Pair) -> String {
    request(pair, entry("igv-1", "c-1", T0))
}

/// The Vn side asks at T0 for `entry` and the Cn side receives the request,
/// which waits for its decision.
fn awaiting_decision(pair: &mut Pair, entry: Entry) -> String {
    let id = request(pair, entry);
    pair.settle(T0);
    id
}

/// `node` grants `id` the slot `slot` at `now`.
fn grant(node: &mut Node, now: Ms, id: &str, slot: Slot) {
    node.handoffs.grant(now, id, slot).unwrap();
}

/// `node` commits `id` at `now`, with update `update` of igv-1's order.
fn commit(node: &mut Node, now: Ms, id: &str, update: u64) {
    node.handoffs
        .commit(now, id, order("igv-1", update))
        .unwrap();
}

/// Starts a handoff from `near` and lets the far side grant it.
fn granted(pair: &mut Pair, near: Side) -> String {
    let id = pair
        .node(near)
        .handoffs
        .request(T0, granted_entry())
        .unwrap();
    let effects = pair.settle(T0);
    assert_eq!(
        only(&effects, near.other()),
        vec![Effect::DecideEntry {
            handoff: id.clone(),
            entry: granted_entry()
        }]
    );
    grant(pair.node(near.other()), T0 + 500, &id, granted_slot());
    let effects = pair.settle(T0 + 500);
    assert_eq!(
        only(&effects, near),
        vec![Effect::Granted {
            handoff: id.clone(),
            vehicle: "igv-1".into(),
            slot: granted_slot()
        }]
    );
    id
}

/// A Vn handoff granted and committed at T0 + 60 s with order update
/// `update`; the handover is not sent yet.
fn committed(pair: &mut Pair, update: u64) -> String {
    let id = granted(pair, Side::Vn);
    commit(&mut pair.vn, T0 + 60_000, &id, update);
    id
}

/// Flushes `from` and delivers the first message it sends to the other
/// side at `now`, which must take it. Returns all that `from` sent.
fn pass(pair: &mut Pair, from: Side, now: Ms) -> Vec<Vec<u8>> {
    let (sent, _) = pair.node(from).flush();
    pair.node(from.other()).receive(now, &sent[0]).unwrap();
    sent
}

/// Delivers `bytes` to `node` at `first` and again at `again`, flushing
/// after each: both times the same answer is sent, and only the first
/// delivery has an effect, exactly one. Returns the answer.
fn delivered_twice(node: &mut Node, bytes: &[u8], first: Ms, again: Ms) -> Vec<Vec<u8>> {
    node.receive(first, bytes).unwrap();
    let (answer, effects) = node.flush();
    node.receive(again, bytes).unwrap();
    let (answer_again, effects_again) = node.flush();
    assert_eq!(answer, answer_again);
    assert_eq!(effects.len(), 1);
    assert!(effects_again.is_empty());
    answer
}

/// Calls `step` at each of the Vn side's timeouts, in order, until the
/// next one is later than `until`.
fn each_vn_timeout(pair: &mut Pair, until: Ms, mut step: impl FnMut(&mut Pair, Ms)) {
    while let Some(t) = pair.vn.handoffs.poll_timeout() {
        if t > until {
            break;
        }
        step(pair, t);
    }
}

#[test]
fn a_vehicle_crosses_both_ways_with_one_controller_at_a_time() {
    for near in [Side::Vn, Side::Cn] {
        let far = near.other();
        let mut pair = Pair::new();
        let id = granted(&mut pair, near);
        assert!(id.starts_with(&near.code().to_lowercase()));
        let holders = |pair: &Pair| {
            let (n, f) = match near {
                Side::Vn => (&pair.vn, &pair.cn),
                Side::Cn => (&pair.cn, &pair.vn),
            };
            (
                n.handoffs.controller("igv-1"),
                f.handoffs.controller("igv-1"),
                n.handoffs.custody("c-1"),
                f.handoffs.custody("c-1"),
            )
        };
        let here = Some(Holder::ThisSide);
        let there = Some(Holder::OtherSide);
        assert_eq!(holders(&pair), (here, there, here, there));

        // Commit: the handover leaves; until it arrives nobody commands.
        commit(pair.node(near), T0 + 60_000, &id, 3);
        let (handover, _) = pair.node(near).flush();
        let handing = Some(Holder::HandingOver);
        assert_eq!(holders(&pair), (handing, there, handing, there));
        assert_eq!(open(&handover[0]).seq, 2);

        // The far side adopts, accepts; the near side releases.
        pair.node(far).receive(T0 + 60_050, &handover[0]).unwrap();
        assert_eq!(holders(&pair), (handing, here, handing, here));
        let effects = pair.settle(T0 + 60_050);
        assert_eq!(
            only(&effects, far),
            vec![Effect::Adopt {
                handoff: id.clone(),
                entry: granted_entry(),
                slot: granted_slot(),
                order: order("igv-1", 3),
            }]
        );
        assert_eq!(
            only(&effects, near),
            vec![Effect::Transferred {
                handoff: id.clone(),
                vehicle: "igv-1".into(),
                container: "c-1".into()
            }]
        );
        assert_eq!(holders(&pair), (there, here, there, here));
        assert_eq!(
            phase(pair.node(near), &id),
            Phase::Near(NearPhase::Transferred)
        );
        assert_eq!(phase(pair.node(far), &id), Phase::Far(FarPhase::Closed));

        // Nothing is left to re-send; the records go after the linger time.
        let linger = pair.vn.config.linger_ms;
        assert_eq!(
            pair.node(near).handoffs.poll_timeout(),
            Some(T0 + 60_050 + linger)
        );
        pair.tick(T0 + 60_050 + linger);
        assert!(pair.vn.handoffs.records().next().is_none());
        assert!(pair.cn.handoffs.records().next().is_none());
        assert_eq!(pair.vn.handoffs.poll_timeout(), None);
    }
}

#[test]
fn sequence_numbers_follow_the_messages_of_each_side() {
    let mut pair = Pair::new();
    let id = requested(&mut pair);
    let mut seen = Vec::new();
    let mut step = |pair: &mut Pair, now| {
        for side in [Side::Vn, Side::Cn] {
            let (sent, _) = pair.node(side).flush();
            for bytes in sent {
                let e = open(&bytes);
                seen.push((e.from, e.seq, e.body.kind()));
                pair.node(side.other()).receive(now, &bytes).unwrap();
            }
        }
    };
    step(&mut pair, T0);
    grant(&mut pair.cn, T0, &id, slot(T0, T0 + 10_000));
    step(&mut pair, T0);
    commit(&mut pair.vn, T0, &id, 1);
    step(&mut pair, T0);
    step(&mut pair, T0);
    step(&mut pair, T0);
    assert_eq!(
        seen,
        vec![
            (Side::Vn, 1, "entryRequest"),
            (Side::Cn, 1, "grant"),
            (Side::Vn, 2, "handover"),
            (Side::Cn, 2, "accepted"),
            (Side::Vn, 3, "released"),
        ]
    );
}

#[test]
fn a_refusal_keeps_the_vehicle_on_the_near_side() {
    let mut pair = Pair::new();
    let id = awaiting_decision(&mut pair, entry("igv-1", "c-1", T0));
    pair.cn
        .handoffs
        .refuse(T0 + 100, &id, RefusalReason::CustomsHold, "manifest query")
        .unwrap();
    let effects = pair.settle(T0 + 100);
    assert_eq!(
        only(&effects, Side::Vn),
        vec![Effect::KeepVehicle {
            handoff: id.clone(),
            vehicle: "igv-1".into(),
            why: RollBack::Refused {
                reason: RefusalReason::CustomsHold,
                detail: "manifest query".into()
            }
        }]
    );
    assert_eq!(pair.vn.handoffs.controller("igv-1"), Some(Holder::ThisSide));
    assert_eq!(pair.cn.handoffs.controller("igv-1"), None);
    // Nothing more is sent: no retries wait, only the linger time.
    let linger = pair.vn.config.linger_ms;
    assert_eq!(pair.vn.handoffs.poll_timeout(), Some(T0 + 100 + linger));
    assert!(
        pair.vn
            .handoffs
            .commit(T0 + 200, &id, order("igv-1", 1))
            .is_err()
    );
    // The vehicle can be asked for again, in a new handoff.
    let again = pair
        .vn
        .handoffs
        .request(T0 + 300, entry("igv-1", "c-1", T0))
        .unwrap();
    assert_ne!(again, id);
}

#[test]
fn the_near_side_retries_the_same_request_then_gives_up_and_answers_a_late_grant() {
    let mut pair = Pair::new();
    let id = requested(&mut pair);
    let (first, _) = pair.vn.flush();
    // Every copy is lost; the near side re-sends on its back-off.
    let mut copies = Vec::new();
    let mut effects = Vec::new();
    each_vn_timeout(&mut pair, T0 + 30_000, |pair, t| {
        pair.vn.handoffs.handle_timeout(t);
        let (sent, got) = pair.vn.flush();
        copies.extend(sent.into_iter().map(|b| (t - T0, b)));
        effects.extend(got);
    });
    let times: Vec<u64> = copies.iter().map(|(t, _)| *t).collect();
    assert_eq!(times, [1_000, 3_000, 7_000, 15_000, 23_000, 30_000]);
    for (_, bytes) in &copies[..5] {
        assert_eq!(bytes, &first[0], "a re-sent request is the same message");
    }
    let withdrawn = open(&copies[5].1);
    assert_eq!((withdrawn.seq, withdrawn.body.kind()), (2, "withdrawn"));
    assert_eq!(
        effects,
        vec![Effect::KeepVehicle {
            handoff: id.clone(),
            vehicle: "igv-1".into(),
            why: RollBack::NoAnswer
        }]
    );

    // A late copy of the request reaches the far side, which grants.
    pair.cn.receive(T0 + 31_000, &first[0]).unwrap();
    pair.cn.flush();
    grant(
        &mut pair.cn,
        T0 + 31_000,
        &id,
        slot(T0 + 40_000, T0 + 50_000),
    );
    // The grant is answered with the withdrawal, the same message again;
    // the far side cancels; the near side does nothing else.
    let effects = pair.settle(T0 + 31_000);
    assert_eq!(
        only(&effects, Side::Cn),
        vec![Effect::CancelEntry {
            handoff: id.clone(),
            vehicle: "igv-1".into()
        }]
    );
    assert!(only(&effects, Side::Vn).is_empty());
    assert_eq!(phase(&pair.cn, &id), Phase::Far(FarPhase::Withdrawn));
    assert_eq!(pair.vn.handoffs.controller("igv-1"), Some(Holder::ThisSide));
}

#[test]
fn duplicates_get_the_same_answer_and_no_second_effect() {
    let mut pair = Pair::new();
    let id = requested(&mut pair);
    let (request, _) = pair.vn.flush();
    assert_eq!(pair.cn.receive(T0, &request[0]), Ok(Handled::New));
    assert_eq!(pair.cn.receive(T0 + 5, &request[0]), Ok(Handled::Repeat));
    let (nothing, decide) = pair.cn.flush();
    assert!(nothing.is_empty(), "no answer while deciding");
    assert_eq!(decide.len(), 1);

    grant(&mut pair.cn, T0 + 10, &id, slot(T0, T0 + 60_000));
    let (grant, _) = pair.cn.flush();
    assert_eq!(pair.cn.receive(T0 + 20, &request[0]), Ok(Handled::Repeat));
    let (again, effects) = pair.cn.flush();
    assert_eq!(again, grant, "the same grant, byte for byte");
    assert!(effects.is_empty());

    assert_eq!(pair.vn.receive(T0 + 30, &grant[0]), Ok(Handled::New));
    assert_eq!(pair.vn.receive(T0 + 31, &grant[0]), Ok(Handled::Repeat));
    let (none, effects) = pair.vn.flush();
    assert!(none.is_empty());
    assert_eq!(effects.len(), 1, "one Granted effect");

    commit(&mut pair.vn, T0 + 40, &id, 2);
    let (handover, _) = pair.vn.flush();
    // One Adopt effect; the same acceptance.
    let accepted = delivered_twice(&mut pair.cn, &handover[0], T0 + 50, T0 + 60);
    // One Transferred effect; the same release.
    delivered_twice(&mut pair.vn, &accepted[0], T0 + 70, T0 + 80);
    // An older message than the last one acted on changes nothing.
    assert_eq!(
        pair.cn.handoffs.handle(T0 + 90, &open(&request[0])),
        Ok(Handled::Ignored)
    );
}

#[test]
fn a_lost_grant_is_sent_again_until_the_handover_arrives() {
    let mut pair = Pair::new();
    let id = awaiting_decision(&mut pair, entry("igv-1", "c-1", T0));
    grant(&mut pair.cn, T0, &id, slot(T0, T0 + 60_000));
    let (lost, _) = pair.cn.flush();
    assert_eq!(pair.cn.handoffs.poll_timeout(), Some(T0 + 1_000));
    pair.cn.handoffs.handle_timeout(T0 + 1_000);
    let (copy, _) = pair.cn.flush();
    assert_eq!(copy, lost);
    pair.vn.receive(T0 + 1_000, &copy[0]).unwrap();
    pair.vn.flush();
    // Granted but not committed: grant copies are not answered.
    pair.cn.handoffs.handle_timeout(T0 + 3_000);
    let (copy, _) = pair.cn.flush();
    assert_eq!(pair.vn.receive(T0 + 3_000, &copy[0]), Ok(Handled::Repeat));
    assert!(pair.vn.flush().0.is_empty());
    // Committed: a grant copy is answered with the handover.
    commit(&mut pair.vn, T0 + 4_000, &id, 1);
    let (lost_handover, _) = pair.vn.flush();
    pair.cn.handoffs.handle_timeout(T0 + 7_000);
    pass(&mut pair, Side::Cn, T0 + 7_000);
    let (handover, _) = pair.vn.flush();
    assert_eq!(handover, lost_handover);
    pair.cn.receive(T0 + 7_000, &handover[0]).unwrap();
    assert_eq!(phase(&pair.cn, &id), Phase::Far(FarPhase::Adopted));
}

#[test]
fn a_far_side_restarted_after_granting_honours_the_grant() {
    let mut pair = Pair::new();
    let id = granted(&mut pair, Side::Vn);
    pair.cn.restart();
    let (_, effects) = pair.cn.flush();
    assert_eq!(
        effects,
        vec![Effect::HoldSlot {
            handoff: id.clone(),
            vehicle: "igv-1".into(),
            slot: granted_slot()
        }]
    );
    // The restarted side re-sends its grant when its retry is due.
    assert!(pair.cn.handoffs.poll_timeout().is_some());
    commit(&mut pair.vn, T0 + 65_000, &id, 5);
    let effects = pair.settle(T0 + 65_000);
    assert_only!(effects, Side::Cn, Effect::Adopt { .. });
    assert_only!(effects, Side::Vn, Effect::Transferred { .. });
}

#[test]
fn a_near_side_restarted_mid_handoff_resumes_its_retries() {
    let mut pair = Pair::new();
    let id = committed(&mut pair, 5);
    // Stored, then crashed before sending.
    pair.vn.store();
    pair.vn.restart();
    let (sent, effects) = pair.vn.flush();
    assert!(sent.is_empty());
    assert!(effects.is_empty(), "handed over: no standing effect");
    assert_eq!(
        pair.vn.handoffs.controller("igv-1"),
        Some(Holder::HandingOver)
    );
    let due = pair.vn.handoffs.poll_timeout().unwrap();
    assert_eq!(due, T0 + 61_000);
    let effects = pair.tick(due);
    assert_only!(effects, Side::Cn, Effect::Adopt { .. });
    assert_eq!(phase(&pair.vn, &id), Phase::Near(NearPhase::Transferred));
}

#[test]
fn a_handover_survives_a_partition_longer_than_a_message_lives() {
    let mut pair = Pair::new();
    let id = committed(&mut pair, 5);
    let (first, _) = pair.vn.flush();
    // Five minutes without a link.
    let mut last = first[0].clone();
    each_vn_timeout(&mut pair, T0 + 360_000, |pair, t| {
        pair.vn.handoffs.handle_timeout(t);
        pair.cn.handoffs.handle_timeout(t);
        pair.cn.flush();
        last = pair.vn.flush().0.pop().unwrap();
    });
    let copy = open(&last);
    assert_eq!(copy.seq, 2);
    assert_eq!(copy.body, open(&first[0]).body);
    assert!(copy.sent_ms > T0 + 300_000, "a refreshed copy");
    // The first copy would be stale now; the refreshed one is admitted.
    assert!(pair.cn.receive(T0 + 360_000, &first[0]).is_err());
    assert_eq!(pair.cn.receive(T0 + 360_000, &last), Ok(Handled::New));
    assert_eq!(phase(&pair.cn, &id), Phase::Far(FarPhase::Adopted));
}

#[test]
fn a_forgotten_handoff_is_still_answered() {
    let mut pair = Pair::new();
    let id = committed(&mut pair, 5);
    pass(&mut pair, Side::Vn, T0 + 60_000); // the handover
    pass(&mut pair, Side::Cn, T0 + 60_000); // the acceptance
    pair.vn.flush(); // the release is lost
    let linger = pair.vn.config.linger_ms;
    pair.vn.handoffs.handle_timeout(T0 + 60_000 + linger);
    assert!(pair.vn.handoffs.get(&id).is_none());
    // The far side still waits for the release and asks again.
    pair.cn.handoffs.handle_timeout(T0 + 60_000 + linger);
    let (copy, _) = pair.cn.flush();
    assert_eq!(
        pair.vn.receive(T0 + 60_000 + linger, &copy[0]),
        Ok(Handled::Forgotten)
    );
    let (released, _) = pair.vn.flush();
    assert_eq!(open(&released[0]).seq, 3);
    pair.cn.receive(T0 + 60_000 + linger, &released[0]).unwrap();
    assert_eq!(phase(&pair.cn, &id), Phase::Far(FarPhase::Closed));
}

#[test]
fn withdrawing_before_commit_cancels_and_after_commit_is_refused() {
    let mut pair = Pair::new();
    let id = granted(&mut pair, Side::Vn);
    pair.vn
        .handoffs
        .withdraw(T0 + 1_000, &id, "vehicle fault")
        .unwrap();
    let effects = pair.settle(T0 + 1_000);
    assert_rolled_back!(effects, RollBack::Withdrawn { .. });

    let mut pair = Pair::new();
    let id = committed(&mut pair, 1);
    assert!(matches!(
        pair.vn.handoffs.withdraw(T0 + 60_001, &id, "too late"),
        Err(HandoffError::WrongPhase { .. })
    ));
}

#[test]
fn a_revoked_grant_rolls_the_handoff_back_before_the_commit() {
    let mut pair = Pair::new();
    let id = granted(&mut pair, Side::Vn);
    pair.cn
        .handoffs
        .revoke(T0 + 1_000, &id, "a vehicle broke down on the way")
        .unwrap();
    // Revoking again sends nothing more.
    pair.cn
        .handoffs
        .revoke(T0 + 1_000, &id, "a vehicle broke down on the way")
        .unwrap();
    let (revocation, _) = pair.cn.flush();
    assert_eq!(revocation.len(), 1);
    assert_eq!(open(&revocation[0]).seq, 2);
    // The withdrawal that answers it is lost: the copy of the revocation
    // gets it again.
    pair.vn.receive(T0 + 1_000, &revocation[0]).unwrap();
    let (withdrawal, effects) = pair.vn.flush();
    assert_eq!(
        effects,
        vec![Effect::KeepVehicle {
            handoff: id.clone(),
            vehicle: "igv-1".into(),
            why: RollBack::Refused {
                reason: RefusalReason::NoCapacity,
                detail: "a vehicle broke down on the way".into()
            }
        }]
    );
    pair.cn.handoffs.handle_timeout(T0 + 2_000);
    let (copy, _) = pair.cn.flush();
    assert_eq!(copy, revocation);
    assert_eq!(pair.vn.receive(T0 + 2_000, &copy[0]), Ok(Handled::Repeat));
    let (again, effects) = pair.vn.flush();
    assert_eq!(again, withdrawal);
    assert!(effects.is_empty());
    pair.cn.receive(T0 + 2_000, &again[0]).unwrap();
    assert!(matches!(
        pair.cn.flush().1[..],
        [Effect::CancelEntry { .. }]
    ));
    assert_eq!(phase(&pair.cn, &id), Phase::Far(FarPhase::Withdrawn));
    assert_eq!(pair.vn.handoffs.controller("igv-1"), Some(Holder::ThisSide));
    assert!(
        pair.vn
            .handoffs
            .commit(T0 + 3_000, &id, order("igv-1", 1))
            .is_err()
    );
    // Only a granted slot can be revoked.
    assert!(matches!(
        pair.cn.handoffs.revoke(T0 + 3_000, &id, "again"),
        Err(HandoffError::WrongPhase { .. })
    ));
}

#[test]
fn a_handover_that_crossed_a_revocation_is_adopted() {
    // The revocation reaches the near side after it committed, or never.
    for revocation_arrives in [true, false] {
        let mut pair = Pair::new();
        let id = committed(&mut pair, 1);
        let (handover, _) = pair.vn.flush();
        pair.cn
            .handoffs
            .revoke(T0 + 60_000, &id, "a vehicle broke down on the way")
            .unwrap();
        let (revocation, _) = pair.cn.flush();
        if revocation_arrives {
            assert_eq!(
                pair.vn.receive(T0 + 60_010, &revocation[0]),
                Ok(Handled::New)
            );
            assert!(pair.vn.flush().0.is_empty());
        }
        pair.cn.receive(T0 + 60_020, &handover[0]).unwrap();
        assert_eq!(phase(&pair.cn, &id), Phase::Far(FarPhase::Adopted));
        // The acceptance follows the revocation's number.
        let accepted = pass(&mut pair, Side::Cn, T0 + 60_030);
        assert_eq!(open(&accepted[0]).seq, 3);
        assert_eq!(phase(&pair.vn, &id), Phase::Near(NearPhase::Transferred));
        assert_only!(
            pair.settle(T0 + 60_030),
            Side::Vn,
            Effect::Transferred { .. }
        );
        // A revocation that comes late changes nothing: a copy of one acted
        // on is a duplicate, one skipped is behind the acceptance.
        let late = pair.vn.receive(T0 + 60_040, &revocation[0]);
        assert_eq!(late.is_ok(), revocation_arrives, "{late:?}");
        assert!(pair.vn.flush().1.is_empty());
        pair.settle(T0 + 60_050);
        assert_eq!(pair.cn.handoffs.controller("igv-1"), Some(Holder::ThisSide));
        assert_eq!(
            pair.vn.handoffs.controller("igv-1"),
            Some(Holder::OtherSide)
        );
    }
}

#[test]
fn a_missed_window_and_an_undecided_request_roll_back() {
    let mut pair = Pair::new();
    let id = granted(&mut pair, Side::Vn);
    // The grant's window ends at T0 + 90 s without a commit.
    let effects = pair.tick(T0 + 90_001);
    assert_rolled_back!(effects, RollBack::WindowMissed);
    assert!(
        pair.vn
            .handoffs
            .commit(T0 + 90_002, &id, order("igv-1", 1))
            .is_err()
    );

    let mut pair = Pair::new();
    let id = awaiting_decision(&mut pair, entry("igv-2", "c-2", T0));
    let effects = pair.tick(T0 + 10_000);
    assert_rolled_back!(
        effects,
        RollBack::Refused {
            reason: RefusalReason::NoCapacity,
            ..
        }
    );
    assert_eq!(phase(&pair.cn, &id), Phase::Far(FarPhase::Refused));
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let mut pair = Pair::new();
    let id = granted(&mut pair, Side::Vn);
    let before = (pair.vn.handoffs.snapshot(), pair.cn.handoffs.snapshot());
    let envelope = |from: Side, seq, body| Envelope {
        version: 1,
        from,
        to: from.other(),
        handoff: id.clone(),
        seq,
        sent_ms: T0,
        body,
    };
    let released = |from: Side, seq, vehicle: &str| {
        envelope(
            from,
            seq,
            Body::Released {
                vehicle: vehicle.into(),
            },
        )
    };
    let cn = &mut pair.cn.handoffs;
    // A handover of a handoff never granted.
    let mut unknown = envelope(
        Side::Vn,
        2,
        Body::Handover {
            vehicle: "igv-1".into(),
            order: order("igv-1", 1),
        },
    );
    unknown.handoff = "vn-99".into();
    assert!(cn.handle(T0, &unknown).is_err());
    // The wrong vehicle, a skipped number, a message out of place, a
    // different message under a number already used.
    for bad in [
        released(Side::Vn, 2, "igv-9"),
        released(Side::Vn, 3, "igv-1"),
        released(Side::Vn, 2, "igv-1"),
        envelope(
            Side::Vn,
            1,
            Body::Withdrawn {
                vehicle: "igv-1".into(),
                detail: String::new(),
            },
        ),
        released(Side::Cn, 2, "igv-1"),
    ] {
        let err = cn.handle(T0, &bad).unwrap_err();
        assert!(!err.to_string().is_empty());
    }
    // An entry request under an id the sender may not use.
    let mut foreign = envelope(Side::Vn, 1, entry("igv-3", "c-3", T0).body());
    foreign.handoff = "cn-5".into();
    assert!(cn.handle(T0, &foreign).is_err());
    // Calls the phase does not allow, or with bad arguments.
    assert!(cn.grant(T0, &id, slot(T0, T0 + 1)).is_err());
    assert!(cn.refuse(T0, "vn-99", RefusalReason::Invalid, "").is_err());
    let vn = &mut pair.vn.handoffs;
    assert!(vn.request(T0, entry("", "c-2", T0)).is_err());
    assert!(
        vn.request(T0, entry("igv-1", "c-1", T0)).is_err(),
        "already in a handoff"
    );
    assert!(
        vn.commit(
            T0,
            &id,
            OrderContinuation {
                order_id: String::new(),
                ..order("igv-1", 1)
            }
        )
        .is_err()
    );
    assert!(vn.commit(T0, "vn-99", order("igv-1", 1)).is_err());
    assert!(
        vn.grant(T0, &id, slot(T0, T0 + 1)).is_err(),
        "the near side does not grant"
    );
    assert_eq!(
        before,
        (pair.vn.handoffs.snapshot(), pair.cn.handoffs.snapshot())
    );
    assert!(pair.vn.flush().0.is_empty());
    assert!(pair.cn.flush().0.is_empty());
}

#[test]
fn an_invalid_request_and_a_bad_grant_window_are_refused() {
    let mut pair = Pair::new();
    // A request for a vehicle the far side commands itself.
    committed(&mut pair, 1);
    pair.settle(T0 + 60_000);
    assert_eq!(pair.cn.handoffs.controller("igv-1"), Some(Holder::ThisSide));
    let mut rogue = Node::new(Side::Vn);
    rogue
        .handoffs
        .request(T0 + 61_000, entry("igv-1", "c-9", T0))
        .unwrap();
    let (sent, _) = rogue.flush();
    // The rogue side's counter starts again at 1, so its id is vn-1.
    let mut request = open(&sent[0]);
    request.handoff = "vn-77".into();
    pair.cn.handoffs.handle(T0 + 61_000, &request).unwrap();
    let (answer, effects) = pair.cn.flush();
    assert!(effects.is_empty());
    assert!(matches!(
        open(&answer[0]).body,
        Body::Refusal {
            reason: RefusalReason::Invalid,
            ..
        }
    ));
    assert_eq!(pair.cn.handoffs.controller("igv-1"), Some(Holder::ThisSide));

    // A grant whose window ends before the vehicle can be there.
    let mut pair = Pair::new();
    let id = awaiting_decision(&mut pair, entry("igv-2", "c-2", T0 + 60_000));
    assert!(matches!(
        pair.cn.handoffs.grant(T0, &id, slot(T0, T0 + 59_999)),
        Err(HandoffError::Invalid { .. })
    ));
    assert!(
        pair.cn
            .handoffs
            .grant(T0, &id, slot(T0 + 60_000, T0 + 60_000))
            .is_ok()
    );
}

#[test]
fn snapshots_round_trip_and_bad_ones_are_named() {
    let mut pair = Pair::new();
    granted(&mut pair, Side::Vn);
    let snapshot = pair.vn.handoffs.snapshot();
    let text = serde_json::to_string(&snapshot).unwrap();
    let back: Snapshot = serde_json::from_str(&text).unwrap();
    assert_eq!(back, snapshot);
    let restored = Handoffs::restore(HandoffConfig::new(Side::Vn), back.clone()).unwrap();
    assert_eq!(restored.snapshot(), snapshot);
    assert!(matches!(
        Handoffs::restore(HandoffConfig::new(Side::Cn), back.clone()),
        Err(HandoffError::Snapshot(_))
    ));
    let mut twice = back.clone();
    twice.handoffs.push(twice.handoffs[0].clone());
    let err = Handoffs::restore(HandoffConfig::new(Side::Vn), twice).unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");
    let mut behind = back;
    behind.next_number = 0;
    assert!(Handoffs::restore(HandoffConfig::new(Side::Vn), behind).is_err());
}

#[test]
fn changed_records_are_reported_for_the_store() {
    let mut pair = Pair::new();
    let id = requested(&mut pair);
    assert_eq!(pair.vn.handoffs.take_changed(), [id.clone()].into());
    assert!(pair.vn.handoffs.take_changed().is_empty());
    pair.settle(T0);
    assert_eq!(pair.cn.handoffs.take_changed(), [id.clone()].into());
    pair.vn.handoffs.take_changed();
    // The far side does not decide in time and refuses; the near side
    // rolls back, and forgets the handoff after the linger time.
    while let Some(t) = pair.vn.handoffs.poll_timeout() {
        let t = t.min(pair.cn.handoffs.poll_timeout().unwrap_or(t));
        pair.tick(t);
    }
    assert!(pair.vn.handoffs.get(&id).is_none());
    assert!(
        pair.vn.handoffs.take_changed().contains(&id),
        "a removal is a change"
    );
}

#[test]
fn bad_timings_are_named() {
    type Spoil = fn(&mut HandoffConfig);
    let cases: [(&str, Spoil); 3] = [
        ("retry_initial_ms", |c| c.retry_initial_ms = 0),
        ("retry_max_ms", |c| c.retry_max_ms = 10),
        ("linger_ms", |c| c.linger_ms = 1_000),
    ];
    for (field, spoil) in cases {
        let mut config = HandoffConfig::new(Side::Vn);
        spoil(&mut config);
        let error = Handoffs::new(config).unwrap_err().to_string();
        assert!(error.contains(field), "{field}: {error}");
    }
    assert!(Handoffs::new(HandoffConfig::new(Side::Cn)).is_ok());
}
