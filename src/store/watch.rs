//! Rows the store could not read, and other trouble the store works around.
//!
//! One bad row (a repository name this version refuses, a state it cannot decode)
//! must not stop the store's other answers: the due re-runs, the status page. So a
//! row that does not decode is skipped, and reported here: logged once (the keys
//! already logged are remembered, a bounded number of them) and counted in
//! `store_rows_unreadable_total`. The backends call it from their own threads, so
//! it is shared and locked; it is only reached when something is wrong.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use prometheus::{IntCounterVec, Opts};
use slog::{Logger, warn};

use super::StoreError;

/// How many logged row keys are remembered; beyond that the oldest is forgotten (and
/// logged and counted again should it be found again).
const KEYS_KEPT: usize = 1024;

/// Where the store reports rows it skipped. See the module documentation.
pub struct StoreWatch {
    log: Logger,
    unreadable: IntCounterVec,
    seen: Mutex<Seen>,
}

/// The keys already logged, oldest first.
#[derive(Default)]
struct Seen {
    order: VecDeque<String>,
    keys: HashSet<String>,
}

impl Seen {
    /// Remembers `key`; false if it was remembered already.
    fn first_time(&mut self, key: String) -> bool {
        if self.keys.contains(&key) {
            return false;
        }
        if self.order.len() >= KEYS_KEPT
            && let Some(oldest) = self.order.pop_front()
        {
            self.keys.remove(&oldest);
        }
        self.order.push_back(key.clone());
        self.keys.insert(key);
        true
    }
}

impl StoreWatch {
    /// Reports to `log`, counting in `unreadable` (labelled by table).
    pub fn new(log: Logger, unreadable: IntCounterVec) -> Self {
        Self {
            log: log.new(slog::o!("actor" => "store")),
            unreadable,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Logs nowhere and counts in a counter no one reads (tests, tools).
    pub fn silent() -> Self {
        let unreadable = IntCounterVec::new(
            Opts::new("store_rows_unreadable_total", "unregistered"),
            &["table"],
        )
        .expect("a valid metric");
        Self::new(Logger::root(slog::Discard, slog::o!()), unreadable)
    }

    /// A row of `table` (identified by `key`) could not be read and was skipped.
    pub fn unreadable(&self, table: &'static str, key: &str, error: &str) {
        if self.first_time(table, key) {
            self.unreadable.with_label_values(&[table]).inc();
            warn!(self.log, "skipped an unreadable row"; "table" => table, "row" => key,
                "error" => error);
        }
    }

    /// A run's stored state could not be read when a change needed it: its row was
    /// moved to the `quarantine` table and the run starts afresh.
    pub fn quarantined(&self, key: &str, error: &str) {
        // The same row may have been skipped (and counted) by a listing already.
        if self.first_time("runs", key) {
            self.unreadable.with_label_values(&["runs"]).inc();
        }
        if self.first_time("quarantine", key) {
            warn!(self.log, "a run's stored state is unreadable: moved to the quarantine table, the run starts afresh";
                "row" => key, "error" => error);
        }
    }

    /// A run's stored state is JSON this version cannot read: written by a newer
    /// version. It is left as it is; the change that needed it fails with the error
    /// returned here. Logged and counted once, as an unreadable row of `runs`.
    pub fn newer(&self, key: &str, error: StoreError) -> StoreError {
        if self.first_time("runs", key) {
            self.unreadable.with_label_values(&["runs"]).inc();
        }
        if self.first_time("newer", key) {
            warn!(self.log, "a run's stored state was written by a newer version: left as it is";
                "row" => key, "error" => &error.message());
        }
        StoreError::Newer(format!(
            "run {key} was written by a newer version; this instance leaves it alone"
        ))
    }

    /// A re-run's record (the history behind the status page) could not be written;
    /// the run's own state was saved without it.
    pub fn record_lost(&self, key: &str, error: &str) {
        warn!(self.log, "the re-run's record could not be written; the run's state is saved without it";
            "row" => key, "error" => error);
    }

    fn first_time(&self, table: &str, key: &str) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .first_time(format!("{table}:{key}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_row_is_counted_once_however_often_it_is_skipped() {
        let watch = StoreWatch::silent();
        for _ in 0..5 {
            watch.unreadable("runs", "bad/name#1", "invalid");
        }
        watch.unreadable("runs", "other#2", "invalid");
        assert_eq!(watch.unreadable.with_label_values(&["runs"]).get(), 2);
    }

    #[test]
    fn the_keys_remembered_are_bounded() {
        let mut seen = Seen::default();
        for i in 0..(KEYS_KEPT + 10) {
            assert!(seen.first_time(i.to_string()));
        }
        assert_eq!(seen.order.len(), KEYS_KEPT);
        assert_eq!(seen.keys.len(), KEYS_KEPT);
        assert!(seen.first_time("0".into()), "the oldest was forgotten");
        assert!(!seen.first_time((KEYS_KEPT + 9).to_string()));
    }
}
