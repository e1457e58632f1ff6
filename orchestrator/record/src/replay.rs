//! Replaying a recording against a fresh station.

use std::fmt;
use std::sync::Arc;

use borderlane_model::{LaneMap, Ms};
use borderlane_station::{Station, StationConfig};

use crate::format::{Entry, MqttOut, Payload};
use crate::reader::Recording;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("the recording's map does not load: {0}")]
    Map(String),
    #[error("the recording's station configuration does not load: {0}")]
    Config(String),
    #[error("the recorded station cannot be built: {0}")]
    Station(String),
    #[error("input at t={t} ms has a payload that is not valid hexadecimal")]
    Payload { t: Ms },
}

/// What to replay and how strictly.
#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    /// Stop at the first difference.
    pub check: bool,
    /// Replay inputs up to this time only (ms since the session started).
    pub until: Option<Ms>,
    /// Compare only outputs about this vehicle.
    pub vehicle: Option<String>,
}

/// One output that differs between the recording and the replay.
#[derive(Clone, Debug, PartialEq)]
pub struct Difference {
    /// When the input that produced it arrived.
    pub t: Ms,
    /// Which input (counted from 0) produced it.
    pub input: usize,
    pub recorded: Option<Entry>,
    pub replayed: Option<Entry>,
}

/// What a replay found.
#[derive(Clone, Debug, Default)]
pub struct ReplayOutcome {
    pub inputs: usize,
    pub outputs: usize,
    pub differences: Vec<Difference>,
    /// The recording ended before its summary (a crash).
    pub truncated: bool,
    /// The station time the replay reached, ms.
    pub reached: Ms,
}

/// Every output the station has ready, in the one order both recording and
/// replay use: published messages first, then events.
pub fn drain(station: &mut Station) -> Vec<Entry> {
    let mut out = Vec::new();
    while let Some(p) = station.poll_publish() {
        out.push(Entry::MqttOut(MqttOut {
            topic: p.topic,
            payload: Payload::from_bytes(&p.payload),
            qos: MqttOut::qos_of(p.qos),
            retain: p.retain,
        }));
    }
    while let Some(e) = station.poll_event() {
        out.push(Entry::Event(e));
    }
    out
}

/// The recorded map and station configuration, and a fresh station built
/// from them.
pub(crate) fn recorded_station(
    recording: &Recording,
) -> Result<(Arc<LaneMap>, StationConfig, Station), ReplayError> {
    let map = LaneMap::from_geojson(&recording.session.map_geojson)
        .map(Arc::new)
        .map_err(|e| ReplayError::Map(e.to_string()))?;
    let config: StationConfig = serde_json::from_value(recording.session.station.clone())
        .map_err(|e| ReplayError::Config(e.to_string()))?;
    let station = Station::new(Arc::clone(&map), config.clone())
        .map_err(|e| ReplayError::Station(e.to_string()))?;
    Ok((map, config, station))
}

/// Feeds the recording's inputs to a fresh station in virtual time and
/// compares every output with the recorded one.
pub fn replay(
    recording: &Recording,
    options: &ReplayOptions,
) -> Result<ReplayOutcome, ReplayError> {
    let (_, _, mut station) = recorded_station(recording)?;
    let mut outcome = ReplayOutcome {
        truncated: recording.truncated,
        ..ReplayOutcome::default()
    };
    let replayed = drain(&mut station);
    compare(
        0,
        0,
        recording.leading_outputs(),
        &replayed,
        options,
        &mut outcome,
    );
    for (input_index, step) in recording.steps().enumerate() {
        if options.check && !outcome.differences.is_empty() {
            break;
        }
        let t = step.t;
        if options
            .until
            .is_some_and(|u| t.saturating_sub(recording.start) > u)
        {
            break;
        }
        match step.input {
            Entry::MqttIn(m) => {
                let bytes = m.payload.to_bytes().ok_or(ReplayError::Payload { t })?;
                // A rejection is an outcome like any other: it changes
                // nothing, and the recording holds no output for it.
                let _ = station.handle_message(t, &m.topic, &bytes);
            }
            Entry::Timer => station.handle_timeout(t),
            Entry::Operator(o) => station.handle_operator(t, o.command.clone()),
            Entry::MqttOut(_) | Entry::Event(_) => {}
        }
        let replayed = drain(&mut station);
        compare(
            t,
            input_index,
            step.outputs,
            &replayed,
            options,
            &mut outcome,
        );
        outcome.inputs += 1;
        outcome.reached = t;
    }
    Ok(outcome)
}

fn compare(
    t: Ms,
    input: usize,
    recorded: &[(Ms, Entry)],
    replayed: &[Entry],
    options: &ReplayOptions,
    outcome: &mut ReplayOutcome,
) {
    let keep = |e: &&Entry| options.vehicle.as_deref().is_none_or(|v| concerns(e, v));
    let recorded: Vec<&Entry> = recorded.iter().map(|(_, e)| e).filter(keep).collect();
    let replayed: Vec<&Entry> = replayed.iter().filter(keep).collect();
    outcome.outputs += recorded.len();
    for k in 0..recorded.len().max(replayed.len()) {
        let a = recorded.get(k).copied();
        let b = replayed.get(k).copied();
        if a != b {
            outcome.differences.push(Difference {
                t,
                input,
                recorded: a.cloned(),
                replayed: b.cloned(),
            });
            if options.check {
                return;
            }
        }
    }
}

/// Whether an output is about the vehicle with this serial number.
fn concerns(entry: &Entry, vehicle: &str) -> bool {
    match entry {
        Entry::MqttOut(m) => m.topic.split('/').any(|segment| segment == vehicle),
        Entry::Event(e) => {
            let value = serde_json::to_value(e).unwrap_or_default();
            let one = value.get("vehicle").and_then(|v| v.as_str()) == Some(vehicle);
            let many = value
                .get("vehicles")
                .and_then(|v| v.as_array())
                .is_some_and(|vs| vs.iter().any(|v| v.as_str() == Some(vehicle)));
            one || many
        }
        _ => false,
    }
}

impl Entry {
    /// The entry as JSON, with a published message's body parsed.
    fn as_json(&self) -> serde_json::Value {
        match self {
            Entry::MqttOut(m) => serde_json::json!({
                "topic": m.topic,
                "qos": m.qos,
                "retain": m.retain,
                "payload": m.payload.json().unwrap_or_else(|| serde_json::to_value(&m.payload).unwrap_or_default()),
            }),
            Entry::Event(e) => serde_json::to_value(e).unwrap_or_default(),
            Entry::MqttIn(m) => serde_json::to_value(m).unwrap_or_default(),
            Entry::Operator(o) => serde_json::to_value(o).unwrap_or_default(),
            Entry::Timer => serde_json::json!({}),
        }
    }

    fn describe(&self) -> String {
        match self {
            Entry::MqttOut(m) => format!("message on {}", m.topic),
            Entry::Event(e) => {
                let value = serde_json::to_value(e).unwrap_or_default();
                let name = value.get("event").and_then(|v| v.as_str()).unwrap_or("?");
                match value.get("vehicle").and_then(|v| v.as_str()) {
                    Some(vehicle) => format!("event {name} of vehicle {vehicle}"),
                    None => format!("event {name}"),
                }
            }
            other => other.channel().to_string(),
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "difference at t={} ms ({}), after input #{}:",
            self.t,
            borderlane_vda5050::format_timestamp(self.t),
            self.input
        )?;
        match (&self.recorded, &self.replayed) {
            (Some(a), Some(b)) => {
                writeln!(f, "  recorded: {}", a.describe())?;
                writeln!(f, "  replayed: {}", b.describe())?;
                let patch = json_patch::diff(&a.as_json(), &b.as_json());
                for op in patch.0.iter() {
                    let op = serde_json::to_value(op).unwrap_or_default();
                    let path = op.get("path").and_then(|p| p.as_str()).unwrap_or("");
                    let kind = op.get("op").and_then(|p| p.as_str()).unwrap_or("");
                    let old = pointer(&a.as_json(), path);
                    let new = op.get("value").cloned();
                    match kind {
                        "replace" => writeln!(f, "  {path}: {} -> {}", show(old), show(new))?,
                        "add" => writeln!(f, "  {path}: (absent) -> {}", show(new))?,
                        "remove" => writeln!(f, "  {path}: {} -> (absent)", show(old))?,
                        other => writeln!(f, "  {path}: {other}")?,
                    }
                }
            }
            (Some(a), None) => {
                writeln!(f, "  recorded: {}", a.describe())?;
                writeln!(f, "  replayed: nothing")?;
                writeln!(f, "  {}", a.as_json())?;
            }
            (None, Some(b)) => {
                writeln!(f, "  recorded: nothing")?;
                writeln!(f, "  replayed: {}", b.describe())?;
                writeln!(f, "  {}", b.as_json())?;
            }
            (None, None) => {}
        }
        Ok(())
    }
}

fn pointer(value: &serde_json::Value, path: &str) -> Option<serde_json::Value> {
    value.pointer(path).cloned()
}

fn show(value: Option<serde_json::Value>) -> String {
    value
        .map(|v| v.to_string())
        .unwrap_or_else(|| "(absent)".into())
}
