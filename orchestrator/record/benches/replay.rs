//! Replay speed: a recorded session of a station and its vehicles, replayed
//! against a fresh station. The figure to write down is recorded time over
//! replay time (the issue asks for at least 1,000 times real time).

mod common;

use std::time::Instant;

use borderlane_record::{ReplayOptions, read_bytes, replay};
use criterion::{Criterion, criterion_group, criterion_main};

use common::recording;

fn bench(c: &mut Criterion) {
    let hours = 4;
    let bytes = recording(hours);
    let rec = read_bytes(&bytes).unwrap();
    let started = Instant::now();
    let out = replay(&rec, &ReplayOptions::default()).unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(out.differences.is_empty());
    eprintln!(
        "replay of {hours} h ({} inputs, {} outputs, {} KiB): {:.3} s, {:.0} times real time",
        out.inputs,
        out.outputs,
        bytes.len() / 1024,
        secs,
        (hours * 3600) as f64 / secs
    );
    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.bench_function("replay_4h_6_vehicles", |b| {
        b.iter(|| replay(&rec, &ReplayOptions::default()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
