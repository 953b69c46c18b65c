//! The thread that reads notices from the journal into the board (see the module above): from
//! the sequence the board's file covers, then every [`POLL`] for what is new. It never touches
//! the order path: it reads the journal's committed records the way the replication tailer does.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel::{self, RecvTimeoutError, Sender};
use hayate_core::Command;
use hayate_core::command::NoticeAssembler;
use hayate_journal::{JournalError, Tailer};

use super::NoticeBoard;

/// How often the journal is read for new notices: a notice shows on the page this long after
/// the admin's answer at most.
pub const POLL: Duration = Duration::from_millis(200);

/// Records read per poll at most, so a long backlog is read in steps.
const BATCH: usize = 100_000;

/// The board's file in the data directory.
pub fn board_file(data_dir: &Path) -> PathBuf {
    data_dir.join("status").join("notices.json")
}

/// Reads the board kept in `path`; a missing file is an empty board, and a file that does not
/// parse is logged and replaced by reading the journal from its start.
pub fn load(path: &Path) -> NoticeBoard {
    match std::fs::read(path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(board) => board,
            Err(e) => {
                tracing::warn!(file = %path.display(), "notices: the board's file does not parse ({e}); reading the journal again");
                NoticeBoard::default()
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => NoticeBoard::default(),
        Err(e) => {
            tracing::warn!(file = %path.display(), "notices: cannot read the board's file ({e}); reading the journal again");
            NoticeBoard::default()
        }
    }
}

/// Writes the board to `path` atomically (a temporary file renamed over it).
pub fn save(path: &Path, board: &NoticeBoard) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec(board).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Reads notices from the journal in `journal_dir` into `board`, and keeps the board's file.
pub struct NoticeFollower {
    stop: Option<(Sender<()>, JoinHandle<()>)>,
}

impl std::fmt::Debug for NoticeFollower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoticeFollower").finish_non_exhaustive()
    }
}

struct Reader {
    journal_dir: PathBuf,
    file: PathBuf,
    board: Arc<Mutex<NoticeBoard>>,
    tailer: Tailer,
    assembler: NoticeAssembler,
    /// The first sequence of a notice whose parts are still coming: the file never claims to
    /// cover it, so a restart reads it whole.
    pending_from: Option<u64>,
}

impl Reader {
    /// Reads what is new (at most a bounded batch); returns whether the board changed and how
    /// many records were read.
    fn poll(&mut self) -> (bool, usize) {
        let mut changed = false;
        let mut last = None;
        let mut read = 0;
        let mut complete = Vec::new();
        let assembler = &mut self.assembler;
        let pending_from = &mut self.pending_from;
        let polled = self.tailer.poll_at_most(BATCH, |seq, payload| {
            last = Some(seq);
            read += 1;
            let Ok(command) = Command::from_bytes(payload) else {
                return;
            };
            if let Some(part) = command.notice_part() {
                if part.part == 0 {
                    *pending_from = Some(seq);
                }
                if let Some(done) = assembler.push(seq, &command) {
                    *pending_from = None;
                    complete.push(done);
                }
            }
        });
        match polled {
            Ok(_) => {}
            Err(JournalError::SeqNotInJournal { seq, .. }) => {
                // Segments a snapshot covers were deleted since the board's file was written
                // (or the file was lost): start again from what the journal holds.
                tracing::warn!(
                    dir = %self.journal_dir.display(),
                    seq,
                    "notices: the journal no longer holds the board's next sequence; reading what it holds"
                );
                match Tailer::open(&self.journal_dir, 0) {
                    Ok(tailer) => self.tailer = tailer,
                    Err(e) => tracing::warn!("notices: cannot reopen the journal: {e}"),
                }
                self.assembler = NoticeAssembler::default();
                self.pending_from = None;
                *self.board.lock().unwrap_or_else(PoisonError::into_inner) = NoticeBoard::default();
                return (true, 0);
            }
            Err(e) => {
                // A journal that does not read is the journaler's and recovery's business; the
                // board keeps what it has and tries again.
                tracing::warn!(dir = %self.journal_dir.display(), "notices: cannot read the journal: {e}");
            }
        }
        let mut board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        for (id, at_ns, notice) in &complete {
            board.apply(*id, *at_ns, notice);
            changed = true;
        }
        if let Some(last) = last {
            board.seq = match self.pending_from {
                Some(from) => from.saturating_sub(1).max(board.seq),
                None => last,
            };
        }
        (changed, read)
    }

    fn save(&self) {
        let board = self
            .board
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Err(e) = save(&self.file, &board) {
            tracing::warn!(file = %self.file.display(), "notices: cannot write the board: {e}");
        }
    }
}

impl NoticeFollower {
    /// Loads the board from `data_dir`'s file into `board`, reads the journal written since
    /// (at once, so the page is right from the start), then follows it on a thread of its own
    /// until dropped.
    pub fn start(
        journal_dir: PathBuf,
        data_dir: &Path,
        board: Arc<Mutex<NoticeBoard>>,
    ) -> std::io::Result<NoticeFollower> {
        let file = board_file(data_dir);
        let loaded = load(&file);
        let from = loaded.seq + 1;
        *board.lock().unwrap_or_else(PoisonError::into_inner) = loaded;
        let tailer = Tailer::open(&journal_dir, from).map_err(std::io::Error::other)?;
        let mut reader = Reader {
            journal_dir,
            file,
            board,
            tailer,
            assembler: NoticeAssembler::default(),
            pending_from: None,
        };
        // Catch up through the backlog (each poll is bounded) before the page is served.
        loop {
            let (reset, read) = reader.poll();
            if !reset && read < BATCH {
                break;
            }
        }
        reader.save();
        let (stop, stopped) = channel::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("hayate-notices".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(POLL) {
                    if reader.poll().0 {
                        reader.save();
                    }
                }
                reader.poll();
                reader.save();
            })?;
        Ok(NoticeFollower {
            stop: Some((stop, thread)),
        })
    }
}

impl Drop for NoticeFollower {
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.stop.take() {
            drop(stop);
            let _ = thread.join();
        }
    }
}
