//! Small end-to-end runs: jobs both ways through every customs channel, and
//! breakdowns repaired around, each checked by the verifier.

use borderlane_core::Input;
use borderlane_core::io::Channel;
use borderlane_model::Side;
use borderlane_sim::Harness;
use borderlane_tests::*;

#[test]
fn a_few_jobs_cross_both_ways() {
    let map = map("bac_luan_ii.geojson");
    let mut h = Harness::new(map.clone(), config(&map, 6)).unwrap();
    for i in 0..8 {
        let side = if i % 2 == 0 { Side::Vn } else { Side::Cn };
        let ch = [
            Channel::Green,
            Channel::Yellow,
            Channel::RedScan,
            Channel::RedInspection,
        ][i % 4];
        h.schedule(
            i as u64 * 60_000,
            Input::Job(job(&map, i, side, ch, 120_000)),
        );
    }
    h.run_until(6 * 3_600_000);
    assert_safe(&map, &mut h);
    assert_eq!(h.core.open_jobs(), 0);
    assert_eq!(h.core.stats().delivered, 8);
}

#[test]
fn breakdowns_are_repaired_around() {
    let map = map("bac_luan_ii.geojson");
    let mut h = Harness::new(map.clone(), config(&map, 10)).unwrap();
    for i in 0..12 {
        let side = if i % 2 == 0 { Side::Vn } else { Side::Cn };
        h.schedule(
            i as u64 * 20_000,
            Input::Job(job(&map, i, side, Channel::Green, 0)),
        );
    }
    h.schedule_breakdown("igv-000", 200_000, 1_800_000);
    h.schedule_breakdown("igv-003", 300_000, 600_000);
    h.run_until(8 * 3_600_000);
    assert_safe(&map, &mut h);
    assert!(h.core.stats().repairs >= 2, "{:?}", h.core.stats());
    assert_eq!(h.core.open_jobs(), 0);
}

#[test]
fn a_breakdown_and_its_repair_are_reported_as_events() {
    use borderlane_core::Event;
    use borderlane_core::io::Output;
    use borderlane_sim::LogEntry;
    let map = map("bac_luan_ii.geojson");
    let mut h = Harness::new(map.clone(), config(&map, 4)).unwrap();
    h.schedule(0, Input::Job(job(&map, 0, Side::Vn, Channel::Green, 0)));
    h.schedule_breakdown("igv-000", 0, 300_000);
    h.schedule_breakdown("igv-001", 0, 300_000);
    h.schedule_breakdown("igv-002", 0, 300_000);
    h.schedule_breakdown("igv-003", 0, 300_000);
    h.run_until(3_600_000);
    let events: Vec<&Event> = h
        .log()
        .iter()
        .filter_map(|l| match &l.entry {
            LogEntry::Out {
                output: Output::Event(e),
            } => Some(e),
            _ => None,
        })
        .collect();
    let broken = events
        .iter()
        .filter(|e| matches!(e, Event::VehicleBroken { .. }))
        .count();
    let repaired = events
        .iter()
        .filter(|e| matches!(e, Event::VehicleRepaired { .. }))
        .count();
    assert_eq!(
        broken, 1,
        "only the vehicle that drove broke down: {events:?}"
    );
    assert_eq!(repaired, 1);
    assert_eq!(h.core.open_jobs(), 0);
}
