//! An incident is not N flaky jobs. When failures with the same transient signature
//! (the decisive line with what varies normalised away, from a family of
//! `@transient`) come from [`StormSettings::repos`] or more repositories within
//! [`StormSettings::window_ms`], GitHub or a registry is down: re-running each of
//! them at once fails again and adds load. Their re-runs are held while the storm
//! lasts, then released a few at a time.
//!
//! - A storm starts when the threshold is reached, and ends once fewer repositories
//!   than the threshold failed that way within the last window (held re-runs checking
//!   again do not count: only new failures keep a storm going).
//! - A held re-run is looked at again every half window; after the end, held re-runs
//!   are released one every [`StormSettings::pace_ms`] (a sixtieth of the window), in
//!   the order they look again.
//!
//! Pure: time comes in, [`StormEvent`]s go out. The tracker asks
//! (`actors/storm_watch.rs` holds one [`Storms`] per process behind a mutex, logs the
//! events and sets the gauges); each instance sees the failures it judges.

use std::collections::{HashMap, HashSet, VecDeque};

/// When failures make a storm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StormSettings {
    /// Distinct repositories failing with one transient signature within the window
    /// that make a storm (`STORM_REPOS`); 0: never.
    pub repos: u32,
    /// The window, in ms (`STORM_WINDOW`).
    pub window_ms: u64,
}

impl StormSettings {
    /// Between two releases of held re-runs once a storm ended.
    pub fn pace_ms(&self) -> u64 {
        (self.window_ms / 60).max(1)
    }

    /// How long a held re-run waits before it is looked at again.
    pub fn recheck_ms(&self) -> u64 {
        (self.window_ms / 2).max(1)
    }
}

/// A storm began or ended: what the log says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StormEvent {
    /// The threshold was reached.
    Started {
        /// The transient signature.
        signature: String,
        /// Repositories that failed with it within the window.
        repos: usize,
    },
    /// Fewer repositories than the threshold failed with it within the last window.
    Ended {
        /// The transient signature.
        signature: String,
        /// Re-runs held by it, to be released now, paced.
        held: usize,
        /// How long it lasted, ms.
        lasted_ms: u64,
    },
}

/// One failed run's failure, seen.
struct Seen {
    at: u64,
    repo: String,
    run: String,
}

struct Storm {
    started_at: u64,
    ended_at: Option<u64>,
    /// Runs whose re-run it holds (not released yet).
    held: HashSet<String>,
    /// Released since it ended.
    released: u64,
}

#[derive(Default)]
struct Watch {
    /// Within the window, oldest first.
    seen: VecDeque<Seen>,
    storm: Option<Storm>,
}

impl Watch {
    fn repos(&self) -> usize {
        self.seen
            .iter()
            .map(|seen| seen.repo.as_str())
            .collect::<HashSet<_>>()
            .len()
    }
}

/// The storms of one process.
pub struct Storms {
    settings: StormSettings,
    watches: HashMap<String, Watch>,
}

impl Storms {
    /// No storm yet.
    pub fn new(settings: StormSettings) -> Self {
        Self {
            settings,
            watches: HashMap::new(),
        }
    }

    /// Notes the transient signatures of `run`'s judged failure (in `repo`) and says
    /// until when its re-run waits (`None`: it goes ahead now), with the storms this
    /// started or ended.
    pub fn consider(
        &mut self,
        run: &str,
        repo: &str,
        signatures: &[&str],
        now: u64,
    ) -> (Option<u64>, Vec<StormEvent>) {
        if self.settings.repos == 0 {
            return (None, Vec::new());
        }
        let mut events = self.tick(now);
        let mut until: Option<u64> = None;
        let settings = self.settings;
        for signature in signatures {
            let watch = self.watches.entry((*signature).to_owned()).or_default();
            let held = watch
                .storm
                .as_ref()
                .is_some_and(|storm| storm.held.contains(run));
            if !held && !watch.seen.iter().any(|seen| seen.run == run) {
                watch.seen.push_back(Seen {
                    at: now,
                    repo: repo.to_owned(),
                    run: run.to_owned(),
                });
            }
            let repos = watch.repos();
            let storming = watch.storm.as_ref().is_some_and(|s| s.ended_at.is_none());
            if !storming && repos >= settings.repos as usize {
                // A storm that ended starts again, keeping the re-runs it still holds.
                let storm = watch.storm.get_or_insert_with(|| Storm {
                    started_at: now,
                    ended_at: None,
                    held: HashSet::new(),
                    released: 0,
                });
                (storm.started_at, storm.ended_at, storm.released) = (now, None, 0);
                events.push(StormEvent::Started {
                    signature: (*signature).to_owned(),
                    repos,
                });
            }
            let Some(storm) = &mut watch.storm else {
                continue;
            };
            let wait = match storm.ended_at {
                None => {
                    storm.held.insert(run.to_owned());
                    Some(now.saturating_add(settings.recheck_ms()))
                }
                Some(ended_at) if storm.held.remove(run) => {
                    let slot =
                        ended_at.saturating_add(storm.released.saturating_mul(settings.pace_ms()));
                    storm.released += 1;
                    (slot > now).then_some(slot)
                }
                Some(_) => None,
            };
            until = until.max(wait);
        }
        (until, events)
    }

    /// Ends the storms whose window holds too few repositories now, and forgets what
    /// is over.
    pub fn tick(&mut self, now: u64) -> Vec<StormEvent> {
        let settings = self.settings;
        let since = now.saturating_sub(settings.window_ms);
        let mut events = Vec::new();
        for (signature, watch) in &mut self.watches {
            while watch.seen.front().is_some_and(|seen| seen.at < since) {
                watch.seen.pop_front();
            }
            let repos = watch.repos();
            if let Some(storm) = &mut watch.storm
                && storm.ended_at.is_none()
                && repos < settings.repos as usize
            {
                storm.ended_at = Some(now);
                events.push(StormEvent::Ended {
                    signature: signature.clone(),
                    held: storm.held.len(),
                    lasted_ms: now.saturating_sub(storm.started_at),
                });
            }
        }
        // A storm is forgotten once its held re-runs were released, or a window after
        // its end (a held run that never looked again: skipped, or run by a person).
        self.watches.retain(|_, watch| match &watch.storm {
            None => !watch.seen.is_empty(),
            Some(storm) => match storm.ended_at {
                None => true,
                Some(ended_at) => {
                    !storm.held.is_empty() && now < ended_at.saturating_add(settings.window_ms)
                }
            },
        });
        events
    }

    /// Storms going on now.
    pub fn active(&self) -> usize {
        self.watches
            .values()
            .filter(|watch| watch.storm.as_ref().is_some_and(|s| s.ended_at.is_none()))
            .count()
    }

    /// Re-runs held and not released yet.
    pub fn held(&self) -> usize {
        self.watches
            .values()
            .filter_map(|watch| watch.storm.as_ref())
            .map(|storm| storm.held.len())
            .sum()
    }
}

#[cfg(test)]
mod tests;
