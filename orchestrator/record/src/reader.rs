//! Reading a recording back, including one cut short by a crash.

use std::path::Path;

use borderlane_model::Ms;
use mcap::sans_io::LinearReaderOptions;

use crate::format::{CH_SESSION, Entry, FORMAT_VERSION, Session, from_nanos};

/// The eight bytes an MCAP file starts and ends with.
const MAGIC: &[u8] = b"\x89MCAP0\r\n";

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("not an MCAP file: it does not start with the MCAP magic bytes")]
    NotMcap,
    #[error("corrupt MCAP file: {0}")]
    Corrupt(String),
    #[error("not a Borderlane recording: {0}")]
    Foreign(String),
    #[error("recording format {found} is not supported; this build reads format {supported}")]
    Incompatible { found: u32, supported: u32 },
    #[error("bad entry {sequence} on channel {channel}: {detail}")]
    BadEntry {
        sequence: u32,
        channel: String,
        detail: String,
    },
}

/// A recording, read.
#[derive(Clone, Debug)]
pub struct Recording {
    /// When the session started.
    pub start: Ms,
    pub session: Session,
    /// Every entry after the session, in the order written.
    pub entries: Vec<(Ms, Entry)>,
    /// Whether the file ended before its summary (a crash): the entries
    /// are those of its complete chunks.
    pub truncated: bool,
}

/// One input of a recording with the outputs recorded after it.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    pub t: Ms,
    pub input: &'a Entry,
    pub outputs: &'a [(Ms, Entry)],
}

impl Recording {
    /// The outputs recorded before the first input (none, normally).
    pub fn leading_outputs(&self) -> &[(Ms, Entry)] {
        let n = self
            .entries
            .iter()
            .position(|(_, e)| e.is_input())
            .unwrap_or(self.entries.len());
        &self.entries[..n]
    }

    /// Every input with the outputs recorded after it, in order.
    pub fn steps(&self) -> impl Iterator<Item = Step<'_>> {
        let mut rest = &self.entries[self.leading_outputs().len()..];
        std::iter::from_fn(move || {
            let ((t, input), after) = rest.split_first()?;
            let n = after
                .iter()
                .position(|(_, e)| e.is_input())
                .unwrap_or(after.len());
            let (outputs, next) = after.split_at(n);
            rest = next;
            Some(Step {
                t: *t,
                input,
                outputs,
            })
        })
    }
}

pub fn read_file(path: &Path) -> Result<Recording, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    read_bytes(&bytes)
}

pub fn read_bytes(bytes: &[u8]) -> Result<Recording, ReadError> {
    if !bytes.starts_with(MAGIC) {
        return Err(ReadError::NotMcap);
    }
    let complete = bytes.len() >= 2 * MAGIC.len() && bytes.ends_with(MAGIC);
    let reader = mcap::io::MessageReader::new_with_options(
        bytes,
        LinearReaderOptions::default().with_skip_end_magic(true),
    );
    let mut session: Option<(Ms, Session)> = None;
    let mut entries = Vec::new();
    let mut truncated = !complete;
    for message in reader {
        let message = match message {
            Ok(m) => m,
            // A file cut short ends in a record that cannot be parsed: keep
            // what came before it.
            Err(_) if !complete => {
                truncated = true;
                break;
            }
            Err(e) => return Err(ReadError::Corrupt(e.to_string())),
        };
        let channel = message.channel.topic.as_str();
        let t = from_nanos(message.log_time);
        if session.is_none() {
            if channel != CH_SESSION {
                return Err(ReadError::Foreign(format!(
                    "its first message is on channel {channel:?}, not {CH_SESSION:?}"
                )));
            }
            let value: serde_json::Value = serde_json::from_slice(&message.data)
                .map_err(|e| ReadError::Foreign(format!("its session is not JSON: {e}")))?;
            let found = value.get("format").and_then(|f| f.as_u64());
            match found {
                Some(f) if f == u64::from(FORMAT_VERSION) => {}
                Some(f) => {
                    return Err(ReadError::Incompatible {
                        found: u32::try_from(f).unwrap_or(u32::MAX),
                        supported: FORMAT_VERSION,
                    });
                }
                None => {
                    return Err(ReadError::Foreign(
                        "its session has no format number".into(),
                    ));
                }
            }
            let s: Session = serde_json::from_value(value)
                .map_err(|e| ReadError::Foreign(format!("its session is malformed: {e}")))?;
            session = Some((t, s));
            continue;
        }
        match Entry::from_json(channel, &message.data) {
            Ok(Some(entry)) => entries.push((t, entry)),
            Ok(None) => {
                return Err(ReadError::BadEntry {
                    sequence: message.sequence,
                    channel: channel.to_string(),
                    detail: "unknown channel".into(),
                });
            }
            Err(e) => {
                return Err(ReadError::BadEntry {
                    sequence: message.sequence,
                    channel: channel.to_string(),
                    detail: e.to_string(),
                });
            }
        }
    }
    let Some((start, session)) = session else {
        return Err(if truncated {
            ReadError::Corrupt("the file ends before its first message".into())
        } else {
            ReadError::Foreign("it holds no messages".into())
        });
    };
    Ok(Recording {
        start,
        session,
        entries,
        truncated,
    })
}
