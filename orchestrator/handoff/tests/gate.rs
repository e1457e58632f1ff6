//! Every inbound handoff message passes the gate: forged, unsigned,
//! replayed, stale and malformed messages are refused, naming why, and an
//! exact copy is recognised as a duplicate.

use borderlane_core::io::Channel;
use borderlane_handoff::*;
use borderlane_model::Side;
use proptest::prelude::*;

const NOW: u64 = 1_790_000_000_000;

fn cn_key() -> SigningKey {
    SigningKey::from_hex("cn-2026", &"11".repeat(32)).unwrap()
}

fn vn_key() -> SigningKey {
    SigningKey::from_hex("vn-2026", &"22".repeat(32)).unwrap()
}

/// The Vietnamese side's gate, trusting the Chinese side's key.
fn vn_gate() -> Gate {
    Gate::new(GateConfig::new(Side::Vn), cn_key().verifying_key())
}

fn grant(seq: u32, sent_ms: u64) -> Envelope {
    Envelope {
        version: 1,
        from: Side::Cn,
        to: Side::Vn,
        handoff: "vn-17".into(),
        seq,
        sent_ms,
        body: Body::Grant {
            vehicle: "igv-004".into(),
            window_start_ms: NOW + 60_000,
            window_end_ms: NOW + 62_000,
            receiving_channel: Channel::Green,
        },
    }
}

fn reason(r: Result<Admitted, Rejected>) -> RejectReason {
    match r {
        Err(e) => {
            assert!(!e.to_string().is_empty());
            e.reason
        }
        Ok(a) => panic!("admitted {a:?}"),
    }
}

#[test]
fn a_signed_message_in_order_is_admitted_and_its_copy_is_a_duplicate() {
    let mut gate = vn_gate();
    let bytes = sign(&cn_key(), &grant(1, NOW));
    assert_eq!(gate.admit(NOW, &bytes), Ok(Admitted::New(grant(1, NOW))));
    assert_eq!(
        gate.admit(NOW + 10, &bytes),
        Ok(Admitted::Duplicate(grant(1, NOW)))
    );
    let next = sign(&cn_key(), &grant(2, NOW + 20));
    assert!(matches!(gate.admit(NOW + 20, &next), Ok(Admitted::New(_))));
}

#[test]
fn a_verified_message_does_not_vouch_for_a_changed_copy() {
    // The gate remembers signatures it verified, so that re-sent copies are
    // not verified again; a copy with its envelope or its signature changed
    // is verified, and refused.
    let mut gate = vn_gate();
    let bytes = sign(&cn_key(), &grant(1, NOW));
    assert!(matches!(gate.admit(NOW, &bytes), Ok(Admitted::New(_))));
    let good: Signed = serde_json::from_slice(&bytes).unwrap();
    let mut tampered = good.clone();
    tampered.envelope = tampered.envelope.replace("igv-004", "igv-005");
    assert_eq!(
        reason(gate.admit(NOW + 1, &serde_json::to_vec(&tampered).unwrap())),
        RejectReason::BadSignature
    );
    let forged_key = SigningKey::from_hex("cn-2026", &"33".repeat(32)).unwrap();
    let mut forged: Signed = serde_json::from_slice(&sign(&forged_key, &grant(1, NOW))).unwrap();
    forged.key_id = good.key_id.clone();
    assert_eq!(
        reason(gate.admit(NOW + 2, &serde_json::to_vec(&forged).unwrap())),
        RejectReason::BadSignature
    );
    assert_eq!(
        gate.admit(NOW + 3, &bytes),
        Ok(Admitted::Duplicate(grant(1, NOW)))
    );
}

#[test]
fn forged_unsigned_and_foreign_messages_are_refused() {
    let mut gate = vn_gate();
    // Signed by the wrong key under the right id.
    let forged_key = SigningKey::from_hex("cn-2026", &"33".repeat(32)).unwrap();
    assert_eq!(
        reason(gate.admit(NOW, &sign(&forged_key, &grant(1, NOW)))),
        RejectReason::BadSignature
    );
    // Signed by a key the gate does not know.
    assert_eq!(
        reason(gate.admit(NOW, &sign(&vn_key(), &grant(1, NOW)))),
        RejectReason::UnknownKey
    );
    // A valid signature over a tampered envelope.
    let mut signed: Signed = serde_json::from_slice(&sign(&cn_key(), &grant(1, NOW))).unwrap();
    signed.envelope = signed.envelope.replace("igv-004", "igv-005");
    assert_eq!(
        reason(gate.admit(NOW, &serde_json::to_vec(&signed).unwrap())),
        RejectReason::BadSignature
    );
    // No signature at all.
    let bare = serde_json::to_vec(&grant(1, NOW)).unwrap();
    assert_eq!(reason(gate.admit(NOW, &bare)), RejectReason::Unsigned);
    // Not JSON, or too big.
    assert_eq!(reason(gate.admit(NOW, b"{oops")), RejectReason::Malformed);
    assert_eq!(
        reason(gate.admit(NOW, &vec![b' '; 70_000])),
        RejectReason::Oversized
    );
    // Addressed to the other side.
    let mut wrong = grant(1, NOW);
    wrong.to = Side::Cn;
    assert_eq!(
        reason(gate.admit(NOW, &sign(&cn_key(), &wrong))),
        RejectReason::WrongSender
    );
    let mut future = grant(1, NOW);
    future.version = 2;
    assert_eq!(
        reason(gate.admit(NOW, &sign(&cn_key(), &future))),
        RejectReason::UnsupportedVersion
    );
    // None of that left a trace: the first real message is still the first.
    assert!(matches!(
        gate.admit(NOW, &sign(&cn_key(), &grant(1, NOW))),
        Ok(Admitted::New(_))
    ));
}

#[test]
fn stale_replayed_and_early_messages_are_refused() {
    let mut gate = vn_gate();
    assert_eq!(
        reason(gate.admit(NOW, &sign(&cn_key(), &grant(1, NOW - 300_000)))),
        RejectReason::Stale
    );
    assert_eq!(
        reason(gate.admit(NOW, &sign(&cn_key(), &grant(1, NOW + 60_000)))),
        RejectReason::FromTheFuture
    );
    assert!(matches!(
        gate.admit(NOW, &sign(&cn_key(), &grant(1, NOW))),
        Ok(Admitted::New(_))
    ));
    // The same sequence number with other content.
    let mut other = grant(1, NOW);
    other.body = Body::Accepted {
        vehicle: "igv-004".into(),
    };
    assert_eq!(
        reason(gate.admit(NOW, &sign(&cn_key(), &other))),
        RejectReason::Replayed
    );
    // A copy re-sent later with a fresh sentMs is the same message.
    assert_eq!(
        gate.admit(NOW + 1, &sign(&cn_key(), &grant(1, NOW + 1))),
        Ok(Admitted::Duplicate(grant(1, NOW + 1)))
    );
    // A gap: message 3 before message 2.
    assert_eq!(
        reason(gate.admit(NOW, &sign(&cn_key(), &grant(3, NOW)))),
        RejectReason::OutOfOrder
    );
    assert!(matches!(
        gate.admit(NOW, &sign(&cn_key(), &grant(2, NOW))),
        Ok(Admitted::New(_))
    ));
    assert!(matches!(
        gate.admit(NOW, &sign(&cn_key(), &grant(3, NOW))),
        Ok(Admitted::New(_))
    ));
    // A message in the place of one already admitted, never seen.
    let mut old = grant(2, NOW);
    old.sent_ms = NOW - 5;
    old.body = Body::Released {
        vehicle: "igv-004".into(),
    };
    assert_eq!(
        reason(gate.admit(NOW, &sign(&cn_key(), &old))),
        RejectReason::Replayed
    );
}

#[test]
fn a_handoff_the_gate_does_not_remember_starts_at_any_sequence_number() {
    // After a restart the gate's memory is empty; the handoff's persisted
    // state decides what a message means.
    let mut gate = vn_gate();
    assert_eq!(
        gate.admit(NOW, &sign(&cn_key(), &grant(2, NOW))),
        Ok(Admitted::New(grant(2, NOW)))
    );
    assert_eq!(
        reason(gate.admit(NOW, &sign(&cn_key(), &grant(1, NOW)))),
        RejectReason::Replayed
    );
    assert_eq!(
        reason(gate.admit(NOW, &sign(&cn_key(), &grant(4, NOW)))),
        RejectReason::OutOfOrder
    );
}

#[test]
fn quiet_handoffs_are_forgotten_and_their_copies_are_stale() {
    let mut gate = vn_gate();
    let bytes = sign(&cn_key(), &grant(1, NOW));
    gate.admit(NOW, &bytes).unwrap();
    gate.prune(NOW + 1_000_000);
    assert_eq!(gate.remembered(), 0);
    assert_eq!(
        reason(gate.admit(NOW + 1_000_000, &bytes)),
        RejectReason::Stale
    );
}

#[test]
fn bad_keys_are_named() {
    assert!(matches!(
        SigningKey::from_hex("k", "abc"),
        Err(KeyError::Length(3))
    ));
    assert!(matches!(
        VerifyingKey::from_hex("k", &"zz".repeat(32)),
        Err(KeyError::NotHex(_))
    ));
}

#[test]
fn the_published_schemas_match_the_code() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let bless = std::env::var_os("BORDERLANE_BLESS").is_some();
    for (name, schema) in schemas() {
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        let path = dir.join(name);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == text,
            "{} is out of date; regenerate with BORDERLANE_BLESS=1 cargo test -p borderlane-handoff",
            path.display()
        );
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_gate(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut gate = vn_gate();
        let _ = gate.admit(NOW, &bytes);
    }

    #[test]
    fn mutated_messages_are_refused_or_identical(at in 0usize..400, to in any::<u8>()) {
        let mut gate = vn_gate();
        let good = sign(&cn_key(), &grant(1, NOW));
        let mut bad = good.clone();
        let i = at % bad.len();
        bad[i] = to;
        match gate.admit(NOW, &bad) {
            Ok(Admitted::New(e)) | Ok(Admitted::Duplicate(e)) => prop_assert_eq!(e, grant(1, NOW)),
            Err(_) => {}
        }
    }
}
