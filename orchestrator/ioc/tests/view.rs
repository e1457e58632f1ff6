//! Views built from a simulated lane: vehicles where their plans put
//! them, tracks for the time–distance diagram, jobs and crossings counted.

mod common;

use borderlane_ioc::{LaneAxis, VEHICLE_STATES};
use common::{HOUR, Lane};

#[test]
fn a_view_of_the_baseline_lane_follows_the_vehicles() {
    let mut lane = Lane::baseline();
    let axis = LaneAxis::of(&lane.map);
    let view = lane.run_to(10 * HOUR, 5_000, None);
    assert_eq!(view.now_ms, 10 * HOUR);
    assert_eq!(view.vehicles.len(), 12);
    assert_eq!(view.plans.len(), 12);
    let states: u64 = view.kpis.vehicles.values().sum();
    assert_eq!(states, 12);
    for s in view.kpis.vehicles.keys() {
        assert!(VEHICLE_STATES.contains(&s.as_str()), "{s}");
    }
    for (v, p) in view.vehicles.iter().zip(&view.plans) {
        assert_eq!(v.vehicle, p.vehicle);
        assert!(v.x.is_finite() && v.y.is_finite());
        // The distance is the position's projection on the lane axis.
        let d = axis.distance(borderlane_model::map::Point::new(v.x, v.y));
        assert!(
            (d - v.distance_m).abs() < 1.0,
            "{}: {d} vs {}",
            v.vehicle,
            v.distance_m
        );
        assert!(!p.steps.is_empty(), "{} has a plan or a pin", v.vehicle);
        assert!(!p.track.is_empty());
        assert!(p.track.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
    }
    // Ten hours of the baseline day deliver containers both ways.
    let k = &view.kpis;
    assert!(k.jobs_done_total > 0);
    assert_eq!(
        k.jobs_done_total,
        k.crossings_total.vn_to_cn + k.crossings_total.cn_to_vn
    );
    assert_eq!(k.jobs_done_total, lane.harness.core.stats().delivered);
    assert!(k.crossing_seconds_p50.is_some_and(|s| s > 60.0));
    assert!(k.crossing_seconds_p95 >= k.crossing_seconds_p50);
    assert!(k.reservations > 0);
    assert_eq!(view.jobs.waiting_count as usize, view.jobs.waiting.len());
    assert_eq!(view.jobs.active_count as usize, view.jobs.active.len());
    assert!(!view.queues.is_empty());
    assert!(view.handoffs.is_empty());
    // Some vehicle has travelled: its track spans more than a kilometre.
    let travelled = view.plans.iter().any(|p| {
        let (lo, hi) = p.track.iter().fold((f64::MAX, f64::MIN), |(lo, hi), t| {
            (lo.min(t.distance_m), hi.max(t.distance_m))
        });
        hi - lo > 1_000.0
    });
    assert!(travelled);
    assert!(!view.lane_paused);
}
