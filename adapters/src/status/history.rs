//! The 90-day availability history behind the status page's bars: per component and UTC day,
//! the seconds seen operational, degraded and down.
//!
//! A recorder thread (never the event loop, which does no file I/O) samples the components every
//! [`SAMPLE_EVERY`] and adds the time since its last sample to the state it sees now; it writes
//! the file atomically (temporary file, then rename) at most every [`SAVE_EVERY`] and when it
//! stops. Time the node did not run is in no bucket: its day shows what was seen, or "no data".
//!
//! The file is text, one line per component and day:
//! `DAY COMPONENT OPERATIONAL_S DEGRADED_S DOWN_S`, DAY counted in days since 1970-01-01 (UTC),
//! after a first line `hayate-availability 1`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam::channel::{self, RecvTimeoutError, Sender};

use super::components::{Component, ComponentState, ComponentStatus};

/// Days kept (and bars shown).
pub const DAYS: u64 = 90;

/// How often the recorder samples the components.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// How often, at most, the recorder writes the file.
pub const SAVE_EVERY: Duration = Duration::from_secs(60);

/// A gap between two samples longer than this (a suspended machine, a stalled thread) is not
/// counted: nobody saw those seconds.
const MAX_GAP_S: u64 = 60;

const HEADER: &str = "hayate-availability 1";

/// The file's name under the data directory.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("status").join("availability.txt")
}

/// Seconds in each state over one day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayTally {
    /// Seconds operational.
    pub operational: u64,
    /// Seconds degraded.
    pub degraded: u64,
    /// Seconds down.
    pub down: u64,
}

impl DayTally {
    fn add(&mut self, state: ComponentState, seconds: u64) {
        let bucket = match state {
            ComponentState::Operational => &mut self.operational,
            ComponentState::Degraded => &mut self.degraded,
            ComponentState::Down => &mut self.down,
        };
        *bucket = bucket.saturating_add(seconds);
    }

    /// Seconds recorded.
    pub fn total(&self) -> u64 {
        self.operational
            .saturating_add(self.degraded)
            .saturating_add(self.down)
    }

    /// The worst state seen for at least a second, or `None` without data.
    pub fn worst(&self) -> Option<ComponentState> {
        if self.down > 0 {
            Some(ComponentState::Down)
        } else if self.degraded > 0 {
            Some(ComponentState::Degraded)
        } else if self.operational > 0 {
            Some(ComponentState::Operational)
        } else {
            None
        }
    }

    /// The share of the recorded time not down (statuspage counts degraded performance as up),
    /// or `None` without data.
    pub fn uptime(&self) -> Option<f64> {
        let total = self.total();
        (total > 0).then(|| (total - self.down) as f64 / total as f64)
    }
}

/// The history: per day, per component.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    days: BTreeMap<u64, BTreeMap<Component, DayTally>>,
}

impl History {
    /// Counts the seconds from `from_s` to `to_s` (Unix time) in `states`, split at UTC
    /// midnights, then drops the days older than [`DAYS`].
    pub fn record(&mut self, from_s: u64, to_s: u64, states: &[ComponentStatus]) {
        let mut at = from_s;
        while at < to_s {
            let day = at / 86_400;
            let end = to_s.min((day + 1) * 86_400);
            let tallies = self.days.entry(day).or_default();
            for status in states {
                tallies
                    .entry(status.component)
                    .or_default()
                    .add(status.state, end - at);
            }
            at = end;
        }
        self.prune(to_s / 86_400);
    }

    /// Drops the days that fall out of the [`DAYS`] ending with `today`.
    pub fn prune(&mut self, today: u64) {
        let first = (today + 1).saturating_sub(DAYS);
        self.days = self.days.split_off(&first);
    }

    /// A component's tally on a day (zero without data).
    pub fn day(&self, day: u64, component: Component) -> DayTally {
        self.days
            .get(&day)
            .and_then(|d| d.get(&component))
            .copied()
            .unwrap_or_default()
    }

    /// A component's tallies over the [`DAYS`] ending with `today`, oldest first.
    pub fn bars(&self, today: u64, component: Component) -> Vec<(u64, DayTally)> {
        let first = (today + 1).saturating_sub(DAYS);
        (first..=today)
            .map(|day| (day, self.day(day, component)))
            .collect()
    }

    /// A component's uptime over the [`DAYS`] ending with `today`, or `None` without data.
    pub fn uptime(&self, today: u64, component: Component) -> Option<f64> {
        let mut sum = DayTally::default();
        for (_, t) in self.bars(today, component) {
            sum.operational += t.operational;
            sum.degraded += t.degraded;
            sum.down += t.down;
        }
        sum.uptime()
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut out = String::from(HEADER);
        out.push('\n');
        for (day, tallies) in &self.days {
            for (component, t) in tallies {
                out.push_str(&format!(
                    "{day} {} {} {} {}\n",
                    component.id(),
                    t.operational,
                    t.degraded,
                    t.down
                ));
            }
        }
        out
    }

    /// Reads the file's text; any line that does not parse fails the whole file (a half-written
    /// file cannot happen, the writer renames; anything else is not ours to guess at).
    pub fn from_text(text: &str) -> Result<History, String> {
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(format!("the first line is not {HEADER:?}"));
        }
        let mut history = History::default();
        for (n, line) in lines.enumerate() {
            let bad = || format!("line {}: cannot read {line:?}", n + 2);
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            let [day, id, operational, degraded, down] = fields[..] else {
                return Err(bad());
            };
            let component = Component::from_id(id).ok_or_else(bad)?;
            let number = |s: &str| s.parse::<u64>().map_err(|_| bad());
            let tally = DayTally {
                operational: number(operational)?,
                degraded: number(degraded)?,
                down: number(down)?,
            };
            history
                .days
                .entry(number(day)?)
                .or_default()
                .insert(component, tally);
        }
        Ok(history)
    }

    /// Loads the file; a missing file is an empty history, and so is a corrupt one (logged: the
    /// bars start afresh rather than the node refusing to start over its status page).
    pub fn load(file: &Path) -> History {
        match std::fs::read_to_string(file) {
            Ok(text) => History::from_text(&text).unwrap_or_else(|why| {
                tracing::warn!(file = %file.display(), why, "availability history unreadable; starting afresh");
                History::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => History::default(),
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "cannot read the availability history; starting afresh");
                History::default()
            }
        }
    }

    /// Writes the file atomically: a temporary file beside it, synced, then renamed over it.
    pub fn save(&self, file: &Path) -> std::io::Result<()> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = file.with_extension("txt.tmp");
        let mut out = std::fs::File::create(&tmp)?;
        out.write_all(self.to_text().as_bytes())?;
        out.sync_all()?;
        std::fs::rename(&tmp, file)
    }
}

/// Now in Unix seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Days since 1970-01-01 as `YYYY-MM-DD` (proleptic Gregorian).
pub fn date(day: u64) -> String {
    let (y, m, d) = crate::fix::codec::civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC`.
pub fn date_time(unix_s: u64) -> String {
    let seconds = unix_s % 86_400;
    format!(
        "{} {:02}:{:02} UTC",
        date(unix_s / 86_400),
        seconds / 3_600,
        seconds % 3_600 / 60
    )
}

/// What the recorder samples.
pub type Sample = dyn Fn() -> Vec<ComponentStatus> + Send + Sync;

/// The recorder thread; stops (and writes the file a last time) when dropped.
pub struct Recorder {
    history: Arc<Mutex<History>>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// Loads `file` and samples `sample` every `every` until dropped.
    pub fn start(file: PathBuf, every: Duration, sample: Arc<Sample>) -> std::io::Result<Recorder> {
        let history = Arc::new(Mutex::new(History::load(&file)));
        let (stop, stopped) = channel::bounded::<()>(1);
        let shared = Arc::clone(&history);
        let thread = std::thread::Builder::new()
            .name("hayate-status".into())
            .spawn(move || {
                let mut last = unix_now();
                let mut saved = Instant::now();
                loop {
                    let stopping = match stopped.recv_timeout(every) {
                        Err(RecvTimeoutError::Timeout) => false,
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
                    };
                    let now = unix_now();
                    let states = sample();
                    let snapshot = match shared.lock() {
                        Ok(mut history) => {
                            if now > last && now - last <= MAX_GAP_S {
                                history.record(last, now, &states);
                            }
                            (stopping || saved.elapsed() >= SAVE_EVERY).then(|| history.clone())
                        }
                        Err(_) => None,
                    };
                    last = now;
                    // Written outside the lock: the page never waits for the disk.
                    if let Some(snapshot) = snapshot {
                        if let Err(e) = snapshot.save(&file) {
                            tracing::warn!(file = %file.display(), error = %e, "cannot write the availability history");
                        }
                        saved = Instant::now();
                    }
                    if stopping {
                        return;
                    }
                }
            })?;
        Ok(Recorder {
            history,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The history so far (the page reads it under the lock, briefly).
    pub fn history(&self) -> Arc<Mutex<History>> {
        Arc::clone(&self.history)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states(state: ComponentState) -> Vec<ComponentStatus> {
        vec![
            ComponentStatus {
                component: Component::Matching,
                state,
                detail: String::new(),
            },
            ComponentStatus {
                component: Component::FixOrderEntry,
                state: ComponentState::Operational,
                detail: String::new(),
            },
        ]
    }

    #[test]
    fn an_interval_across_midnight_is_split_between_the_days() {
        let mut history = History::default();
        let midnight = 20_000 * 86_400;
        history.record(midnight - 10, midnight + 20, &states(ComponentState::Down));
        assert_eq!(history.day(19_999, Component::Matching).down, 10);
        assert_eq!(history.day(20_000, Component::Matching).down, 20);
        assert_eq!(
            history.day(20_000, Component::FixOrderEntry).operational,
            20
        );
        history.record(
            midnight + 20,
            midnight + 50,
            &states(ComponentState::Degraded),
        );
        let today = history.day(20_000, Component::Matching);
        assert_eq!((today.down, today.degraded), (20, 30));
        assert_eq!(today.worst(), Some(ComponentState::Down));
        assert_eq!(today.uptime(), Some(0.6));
        assert_eq!(history.day(20_000, Component::Replication).worst(), None);
    }

    #[test]
    fn only_ninety_days_are_kept() {
        let mut history = History::default();
        for day in 0..100u64 {
            let at = (1_000 + day) * 86_400;
            history.record(at, at + 60, &states(ComponentState::Operational));
        }
        let today = 1_099;
        assert_eq!(
            history.day(1_000 + 9, Component::Matching),
            DayTally::default()
        );
        assert_eq!(history.day(1_000 + 10, Component::Matching).operational, 60);
        let bars = history.bars(today, Component::Matching);
        assert_eq!(bars.len(), DAYS as usize);
        assert_eq!(bars[0].0, 1_010);
        assert_eq!(bars[89].0, today);
        assert_eq!(history.uptime(today, Component::Matching), Some(1.0));
        assert_eq!(history.uptime(today, Component::Replication), None);
    }

    #[test]
    fn the_file_round_trips_and_a_corrupt_one_starts_afresh() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = path(dir.path());
        assert_eq!(History::load(&file), History::default());
        let mut history = History::default();
        history.record(
            86_400 * 5,
            86_400 * 5 + 30,
            &states(ComponentState::Degraded),
        );
        history.save(&file).expect("save");
        assert_eq!(History::load(&file), history);
        assert!(!file.with_extension("txt.tmp").exists());
        for corrupt in [
            "garbage",
            "hayate-availability 1\n5 matching 1 2\n",
            "hayate-availability 1\n5 nonsense 1 2 3\n",
            "hayate-availability 1\n5 matching 1 -2 3\n",
        ] {
            std::fs::write(&file, corrupt).expect("write");
            assert_eq!(History::load(&file), History::default(), "{corrupt:?}");
        }
    }

    #[test]
    fn the_recorder_accumulates_and_writes_at_stop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = path(dir.path());
        let sample: Arc<Sample> = Arc::new(|| states(ComponentState::Operational));
        let recorder =
            Recorder::start(file.clone(), Duration::from_millis(10), sample).expect("start");
        std::thread::sleep(Duration::from_millis(1_100));
        drop(recorder);
        let history = History::load(&file);
        let today = unix_now() / 86_400;
        let tally = history.day(today, Component::Matching);
        // A second boundary was crossed at least once while it ran (or twice around midnight).
        assert!(
            tally.operational >= 1 || history.day(today - 1, Component::Matching).operational >= 1
        );
    }

    #[test]
    fn dates_are_gregorian() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(11_016), "2000-02-29");
        assert_eq!(date(20_428), "2025-12-06");
        assert_eq!(date_time(86_400 + 3_600 + 120), "1970-01-02 01:02 UTC");
    }
}
