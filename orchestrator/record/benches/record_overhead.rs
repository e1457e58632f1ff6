//! What recording costs live control: one recorded input stream fed to a
//! fresh station as `borderlane serve` feeds it (each input made an entry,
//! the station stepped, its outputs drained), without a recorder, with one
//! writing MCAP to memory and with one writing it to a file. It prints the
//! cost per input of each and the overhead of recording in percent.

mod common;

use std::hint::black_box;
use std::io::{Cursor, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use borderlane_core::io::OperatorCommand;
use borderlane_model::{LaneMap, Ms};
use borderlane_record::{
    Entry, MqttIn, OperatorIn, Payload, Recorder, Recording, Session, drain, read_bytes,
};
use borderlane_station::{Station, StationConfig};
use criterion::{Criterion, criterion_group, criterion_main};

/// An input as the live shell has it before it is recorded.
enum Input {
    Message { topic: String, payload: Vec<u8> },
    Timer,
    Operator(OperatorCommand),
}

/// A recording's station and its inputs, ready to be fed again.
struct Feed {
    map: Arc<LaneMap>,
    config: StationConfig,
    session: Session,
    start: Ms,
    inputs: Vec<(Ms, Input)>,
}

impl Feed {
    fn of(rec: &Recording) -> Feed {
        let inputs = rec
            .steps()
            .filter_map(|s| {
                let input = match s.input {
                    Entry::MqttIn(m) => Input::Message {
                        topic: m.topic.clone(),
                        payload: m.payload.to_bytes()?,
                    },
                    Entry::Timer => Input::Timer,
                    Entry::Operator(o) => Input::Operator(o.command.clone()),
                    Entry::MqttOut(_) | Entry::Event(_) => return None,
                };
                Some((s.t, input))
            })
            .collect();
        Feed {
            map: Arc::new(LaneMap::from_geojson(&rec.session.map_geojson).unwrap()),
            config: serde_json::from_value(rec.session.station.clone()).unwrap(),
            session: rec.session.clone(),
            start: rec.start,
            inputs,
        }
    }

    fn station(&self) -> Station {
        Station::new(Arc::clone(&self.map), self.config.clone()).unwrap()
    }

    /// Steps `station` through every input, recording if asked, and
    /// finishes the recording; gives the number of outputs.
    fn pass<W: Write + Seek>(&self, station: &mut Station, mut rec: Option<Recorder<W>>) -> usize {
        let mut outputs = 0;
        for (t, input) in &self.inputs {
            let t = *t;
            let entry = match input {
                Input::Message { topic, payload } => Entry::MqttIn(MqttIn {
                    topic: topic.clone(),
                    payload: Payload::from_bytes(payload),
                }),
                Input::Timer => Entry::Timer,
                Input::Operator(command) => Entry::Operator(OperatorIn {
                    user: "bench".into(),
                    command: command.clone(),
                }),
            };
            if let Some(r) = &mut rec {
                r.record(t, &entry).unwrap();
            }
            match input {
                Input::Message { topic, payload } => {
                    let _ = station.handle_message(t, topic, payload);
                }
                Input::Timer => station.handle_timeout(t),
                Input::Operator(command) => station.handle_operator(t, command.clone()),
            }
            for out in drain(station) {
                if let Some(r) = &mut rec {
                    r.record(t, &out).unwrap();
                }
                outputs += 1;
                black_box(out);
            }
        }
        if let Some(r) = rec {
            black_box(r.finish().unwrap());
        }
        outputs
    }
}

#[derive(Clone, Copy, Debug)]
enum Case {
    Without,
    ToMemory,
    ToFile,
}

impl Case {
    const ALL: [Case; 3] = [Case::Without, Case::ToMemory, Case::ToFile];

    fn name(self) -> &'static str {
        match self {
            Case::Without => "without_recorder",
            Case::ToMemory => "recording_to_memory",
            Case::ToFile => "recording_to_a_file",
        }
    }

    /// One pass, timed from the first input to the finished recording;
    /// building the station and opening the recording are not counted.
    fn time(self, feed: &Feed, file: &Path) -> Duration {
        let mut station = feed.station();
        match self {
            Case::Without => {
                let started = Instant::now();
                feed.pass::<Cursor<Vec<u8>>>(&mut station, None);
                started.elapsed()
            }
            Case::ToMemory => {
                let out = Cursor::new(Vec::with_capacity(4 << 20));
                let rec = Recorder::new(out, feed.start, &feed.session).unwrap();
                let started = Instant::now();
                feed.pass(&mut station, Some(rec));
                started.elapsed()
            }
            Case::ToFile => {
                let rec = Recorder::create(file, feed.start, &feed.session).unwrap();
                let started = Instant::now();
                feed.pass(&mut station, Some(rec));
                started.elapsed()
            }
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let hours = 2;
    let rec = read_bytes(&common::recording(hours)).unwrap();
    let feed = Feed::of(&rec);
    let file: PathBuf =
        std::env::temp_dir().join(format!("borderlane-overhead-{}.mcap", std::process::id()));
    let n = feed.inputs.len() as f64;
    let outputs = feed.pass::<Cursor<Vec<u8>>>(&mut feed.station(), None);

    // The figures to write down: the median of a few passes of each case,
    // taken in turn so that a busy machine slows all of them alike.
    let mut times: [Vec<Duration>; 3] = Default::default();
    for _ in 0..7 {
        for (i, case) in Case::ALL.into_iter().enumerate() {
            times[i].push(case.time(&feed, &file));
        }
    }
    let medians = times.map(median);
    let base = medians[0].as_secs_f64();
    eprintln!(
        "{hours} h of the lane, 6 vehicles: {} inputs, {outputs} outputs",
        feed.inputs.len()
    );
    for (case, m) in Case::ALL.into_iter().zip(medians) {
        let secs = m.as_secs_f64();
        eprintln!(
            "{:>20}: median {:.1} ms, {:.2} us per input, overhead {:+.1} %",
            case.name(),
            secs * 1e3,
            secs / n * 1e6,
            (secs / base - 1.0) * 100.0
        );
    }

    let mut g = c.benchmark_group("record_overhead");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for case in Case::ALL {
        g.bench_function(case.name(), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| case.time(&feed, &file)).sum())
        });
    }
    g.finish();
    let _ = std::fs::remove_file(&file);
}

criterion_group!(benches, bench);
criterion_main!(benches);
