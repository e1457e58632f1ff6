//! Writing a recording.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::Path;

use borderlane_model::Ms;
use mcap::records::MessageHeader;

use crate::format::{CH_SESSION, Entry, PROFILE, Session, channels, to_nanos};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot create the recording {path}: {source}")]
    Create {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write the recording: {0}")]
    Mcap(#[from] mcap::McapError),
    #[error("cannot encode an entry: {0}")]
    Json(#[from] serde_json::Error),
}

/// Writes a recording as entries come. Chunks are closed and flushed at
/// least once per `flush_every_ms` of station time, so a file cut short by a
/// crash still reads up to its last flushed chunk; [`Recorder::finish`]
/// writes the summary that makes it a complete MCAP file.
pub struct Recorder<W: Write + Seek> {
    writer: mcap::Writer<W>,
    channel_ids: BTreeMap<&'static str, u16>,
    sequence: u32,
    flush_every_ms: Ms,
    last_flush: Option<Ms>,
    entries: u64,
}

impl Recorder<BufWriter<File>> {
    /// Creates `path` (replacing it) and writes the session.
    pub fn create(path: &Path, t: Ms, session: &Session) -> Result<Self, WriteError> {
        let file = File::create(path).map_err(|source| WriteError::Create {
            path: path.display().to_string(),
            source,
        })?;
        Recorder::new(BufWriter::new(file), t, session)
    }
}

impl<W: Write + Seek> Recorder<W> {
    pub fn new(out: W, t: Ms, session: &Session) -> Result<Self, WriteError> {
        let options = mcap::WriteOptions::new()
            .profile(PROFILE)
            .library(concat!("borderlane ", env!("CARGO_PKG_VERSION")))
            .compression(Some(mcap::Compression::Zstd))
            // Chunks are small (one is closed every few seconds), and
            // compressing them on worker threads costs the control loop
            // more than it saves (benches/record_overhead.rs).
            .compression_threads(0)
            .chunk_size(Some(256 * 1024));
        let mut writer = options.create(out)?;
        let mut channel_ids = BTreeMap::new();
        for (topic, schema_name, schema) in channels() {
            let schema_id =
                writer.add_schema(schema_name, "jsonschema", &serde_json::to_vec(&schema)?)?;
            let id = writer.add_channel(schema_id, topic, "json", &BTreeMap::new())?;
            channel_ids.insert(topic, id);
        }
        let mut recorder = Recorder {
            writer,
            channel_ids,
            sequence: 0,
            flush_every_ms: 5_000,
            last_flush: None,
            entries: 0,
        };
        recorder.write_raw(CH_SESSION, t, &serde_json::to_vec(session)?)?;
        recorder.writer.flush()?;
        Ok(recorder)
    }

    /// Sets how often, in station time, chunks are closed and flushed.
    pub fn flush_every(mut self, ms: Ms) -> Self {
        self.flush_every_ms = ms;
        self
    }

    /// Appends one entry at station time `t`.
    pub fn record(&mut self, t: Ms, entry: &Entry) -> Result<(), WriteError> {
        self.write_raw(entry.channel(), t, &entry.to_json()?)?;
        self.entries += 1;
        let due = match self.last_flush {
            Some(last) => t.saturating_sub(last) >= self.flush_every_ms,
            None => true,
        };
        if due {
            self.writer.flush()?;
            self.last_flush = Some(t);
        }
        Ok(())
    }

    /// How many entries were recorded, not counting the session.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Closes the last chunk and writes the summary and footer.
    pub fn finish(mut self) -> Result<W, WriteError> {
        self.writer.finish()?;
        Ok(self.writer.into_inner())
    }

    fn write_raw(&mut self, channel: &str, t: Ms, data: &[u8]) -> Result<(), WriteError> {
        let channel_id = self.channel_ids[channel];
        self.sequence = self.sequence.wrapping_add(1);
        let header = MessageHeader {
            channel_id,
            sequence: self.sequence,
            log_time: to_nanos(t),
            publish_time: to_nanos(t),
        };
        self.writer.write_to_known_channel(&header, data)?;
        Ok(())
    }
}
