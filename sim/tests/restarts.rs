//! An orchestrator stopped and restarted in a two-sided run, recovering
//! from its database, and the same under every fault at once over many
//! seeds. Each run is checked by the simulator's own ledgers and the
//! verifier: one commander per vehicle, no container lost, delivered twice
//! or on both sides' records, no conflict, no vehicle stopped on the bridge
//! because of the protocol, every handoff completed or rolled back.

use std::path::{Path, PathBuf};

use borderlane_sim::run::{Report, run_scenario};
use borderlane_sim::scenario::Scenario;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scenario(name: &str) -> (PathBuf, Scenario) {
    let path = root().join("scenarios").join(name);
    let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, s)
}

/// What is wrong with a run, if anything.
fn faults(r: &Report) -> Vec<String> {
    let h = r.handoffs.expect("a two-sided run");
    let mut wrong = Vec::new();
    let mut check = |bad: bool, what: String| {
        if bad {
            wrong.push(what);
        }
    };
    check(r.conflicts > 0, format!("{} conflicts", r.conflicts));
    // The verifier reports a wait on the bridge as a malformed step; the
    // only ones allowed are at the border node, waiting for the far side's
    // orders while a side was down or the link cut.
    check(
        r.trace_malformed > h.border_stops as usize,
        format!(
            "{} waits on the bridge, {} of them border stops",
            r.trace_malformed, h.border_stops
        ),
    );
    check(
        r.ownership_violations > 0,
        format!("{} ownership violations", r.ownership_violations),
    );
    check(r.jobs_lost > 0, format!("{} containers lost", r.jobs_lost));
    check(
        r.jobs_unfinished > 0,
        format!("{} containers not delivered", r.jobs_unfinished),
    );
    check(
        h.containers_redelivered > 0,
        format!("{} containers delivered twice", h.containers_redelivered),
    );
    check(
        h.containers_on_both_sides > 0,
        format!("{} containers on both sides", h.containers_on_both_sides),
    );
    check(
        h.unexcused_border_stops > 0,
        format!(
            "{} border stops because of the protocol",
            h.unexcused_border_stops
        ),
    );
    check(
        h.open_at_end > 0,
        format!(
            "{} handoffs neither completed nor rolled back",
            h.open_at_end
        ),
    );
    check(
        h.store_errors > 0,
        format!("{} store errors", h.store_errors),
    );
    wrong
}

#[test]
fn the_cn_orchestrator_restarts_mid_day_and_loses_nothing() {
    let (_, s) = scenario("orchestrator_restart.toml");
    let r = run_scenario(&s, s.seed, 1).expect("runs");
    let h = r.handoffs.expect("two-sided");
    assert_eq!(h.restarts, 2, "{h:?}");
    assert!(h.replayed > 0, "{h:?}");
    assert!(h.lost_while_down > 0, "{h:?}");
    assert!(
        r.containers_delivered.total > 100,
        "{:?}",
        r.containers_delivered
    );
    assert_eq!(faults(&r), Vec::<String>::new(), "{}", r.summary());
}

/// How many seeds the suite runs.
const SEEDS: u64 = 1_000;

#[test]
fn every_fault_at_once_over_many_seeds_breaks_no_invariant() {
    let path = root().join("sim/tests/restart_seeds.toml");
    let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut failing = Vec::new();
    let (mut restarts, mut completed, mut rolled_back) = (0, 0, 0);
    for seed in 1..=SEEDS {
        let r = run_scenario(&s, seed, 1).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let h = r.handoffs.expect("two-sided");
        restarts += h.restarts;
        completed += h.completed;
        rolled_back += h.rolled_back;
        let wrong = faults(&r);
        if !wrong.is_empty() {
            eprintln!(
                "seed {seed}: {}; replay with `borderlane sim run {} --seed {seed}`",
                wrong.join(", "),
                path.display()
            );
            failing.push(seed);
        }
    }
    eprintln!(
        "{SEEDS} seeds: {restarts} restarts, {completed} handoffs completed, {rolled_back} rolled back"
    );
    assert!(failing.is_empty(), "failing seeds: {failing:?}");
    // Every run restarts at least once (two drawn restarts of one side
    // that overlap are one), and the faults bite.
    assert!(restarts >= SEEDS, "{restarts} restarts");
    assert!(completed > 0 && rolled_back > 0);
}

#[test]
fn bad_restarts_are_rejected_naming_the_field() {
    let (path, _) = scenario("orchestrator_restart.toml");
    let text = std::fs::read_to_string(&path).expect("the shipped scenario");
    let base = path.parent().expect("a folder");
    let err = |text: &str| {
        Scenario::parse(text, base)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let one = text.replace("split = true", "split = false");
    assert!(err(&one).contains("faults.restart"), "{}", err(&one));
    let instant = text.replace("down_s = 180", "down_s = 0");
    assert!(
        err(&instant).contains("faults.restart[0].down_s"),
        "{}",
        err(&instant)
    );
    let nowhere = text.replace("side = \"CN\"", "side = \"LA\"");
    assert!(err(&nowhere).contains("side"), "{}", err(&nowhere));
    let backwards = format!(
        "{text}\n[faults.random_restarts]\ncount = 1\nfrom_s = 100\nto_s = 50\nlength_s = 60\n"
    );
    assert!(
        err(&backwards).contains("faults.random_restarts.to_s"),
        "{}",
        err(&backwards)
    );
    assert!(Scenario::parse(&text, base).is_ok());
}
