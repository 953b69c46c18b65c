//! Where the bridge writes: one [`Sink`] per external system (PostgreSQL, NATS JetStream). The
//! bridge hands each sink consecutive commands after the sink's own cursor; a sink keeps that
//! cursor in the system it writes to, committed with the data, so a bridge killed at any moment
//! and restarted from the cursor loses and duplicates nothing.

use super::rows::Applied;

/// Why a sink could not take a batch.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The system is down or unreachable, or refused the write for now: the bridge waits, asks
    /// the cursor again and retries.
    #[error("{sink} unavailable: {message}")]
    Unavailable {
        /// The sink's name.
        sink: &'static str,
        /// What happened.
        message: String,
    },
    /// The system holds something the bridge cannot continue from (another exchange's data, a
    /// cursor past the journal, a schema it does not know): the bridge stops and says why.
    #[error("{sink}: {message}")]
    Fatal {
        /// The sink's name.
        sink: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// One external system the bridge publishes to.
pub trait Sink: Send {
    /// A short name for logs and metrics (`postgres`, `nats`).
    fn name(&self) -> &'static str;

    /// The last journal sequence whose output the system holds completely (0: nothing yet).
    /// Read at start and after every failed [`Sink::write`].
    fn cursor(&mut self) -> Result<u64, SinkError>;

    /// Writes `batch` — consecutive commands, the first one right after the cursor — and moves
    /// the cursor to the last one's sequence. Returns once the system holds it durably. On an
    /// error part of the batch may have been written; the bridge reads [`Sink::cursor`] again
    /// before it retries, and never hands the sink a command at or before its cursor.
    fn write(&mut self, batch: &[Applied]) -> Result<(), SinkError>;
}
