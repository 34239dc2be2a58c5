//! What each connection sends: the benchmark's workloads as per-connection scripts of
//! (event, expected status) steps.
//!
//! Connections share atomic counters, so "a new run per request" and "each run exactly
//! once" hold across connections without locks on the request path.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::payload::{Action, Conclusion, Event};

/// One request to send and the status the service must answer.
#[derive(Clone, Copy, Debug)]
pub struct Step {
    /// The event in the body.
    pub event: Event,
    /// The expected status code.
    pub expect: u16,
}

/// A workload: hands each connection its script.
pub trait Workload: Send + Sync {
    /// The script of connection `index` out of `connections`.
    fn script(&self, index: usize, connections: usize) -> Box<dyn Script + Send + '_>;
}

/// One connection's sequence of steps.
pub trait Script {
    /// The next step, or `None` when this connection is done. `over` says the phase's
    /// time is up; a script that must not stop half-way (lifecycle) may go on a little.
    fn next(&mut self, over: bool) -> Option<Step>;
}

/// How the benchmark numbers its runs and jobs: run `i` is GitHub run `base + i` in
/// repository `i % repos`; its job `j` is job `job_base + i * jobs + j`.
#[derive(Clone, Copy, Debug)]
pub struct RunIds {
    /// Run id of run 0 (each phase uses its own range).
    pub base: u64,
    /// Repositories the runs are spread over.
    pub repos: usize,
    /// Jobs per run (for job numbering).
    pub jobs: u64,
}

impl RunIds {
    /// Run ids starting at `base`, over `repos` repositories, `jobs` jobs per run.
    pub fn new(base: u64, repos: usize, jobs: u64) -> Self {
        Self {
            base,
            repos: repos.max(1),
            jobs: jobs.max(1),
        }
    }

    /// The event for job `job` of run `run` (both 0-based).
    pub fn event(&self, run: u64, job: u64, action: Action) -> Event {
        Event {
            repo: (run % self.repos as u64) as usize,
            run_id: self.base + run,
            job_id: 11_786_061_154 + self.base * 8 + run * self.jobs + job,
            action,
        }
    }
}

/// Creates runs: `queued` for every job of `runs` runs, each event exactly once.
/// Job-major order (job 0 of every run, then job 1 ...) so that concurrent requests hit
/// different runs instead of queueing behind one run's tracker.
pub struct Fill {
    ids: RunIds,
    runs: u64,
    jobs: u64,
    next: AtomicU64,
}

impl Fill {
    /// `queued` events for `jobs` jobs of each of `runs` runs.
    pub fn new(ids: RunIds, runs: u64, jobs: u64) -> Self {
        Self {
            ids,
            runs,
            jobs,
            next: AtomicU64::new(0),
        }
    }
}

impl Workload for Fill {
    fn script(&self, _: usize, _: usize) -> Box<dyn Script + Send + '_> {
        Box::new(FillScript(self))
    }
}

struct FillScript<'a>(&'a Fill);

impl Script for FillScript<'_> {
    /// Ignores the clock: a fill always creates every run it was asked for.
    fn next(&mut self, _over: bool) -> Option<Step> {
        let fill = self.0;
        let k = fill.next.fetch_add(1, Ordering::Relaxed);
        (k < fill.runs * fill.jobs).then(|| Step {
            event: fill.ids.event(k % fill.runs, k / fill.runs, Action::Queued),
            expect: 202,
        })
    }
}

/// The hot path: `in_progress` for job 0 of runs that exist, round robin, until time is up.
/// Nothing changes in the run, so nothing is written: the in-memory ceiling of the service.
pub struct Hot {
    ids: RunIds,
    runs: u64,
}

impl Hot {
    /// `in_progress` events over runs `0..runs`.
    pub fn new(ids: RunIds, runs: u64) -> Self {
        Self {
            ids,
            runs: runs.max(1),
        }
    }
}

impl Workload for Hot {
    fn script(&self, index: usize, connections: usize) -> Box<dyn Script + Send + '_> {
        Box::new(HotScript {
            hot: self,
            at: index as u64,
            stride: connections as u64,
        })
    }
}

struct HotScript<'a> {
    hot: &'a Hot,
    at: u64,
    stride: u64,
}

impl Script for HotScript<'_> {
    fn next(&mut self, over: bool) -> Option<Step> {
        if over {
            return None;
        }
        let run = self.at % self.hot.runs;
        self.at += self.stride;
        Some(Step {
            event: self.hot.ids.event(run, 0, Action::InProgress),
            expect: 202,
        })
    }
}

/// One event per request, numbered by one counter shared by every connection and every
/// load the workload is used for: request `k` is for run `k % runs`, job
/// `k / runs % jobs`. Two uses:
/// - [`Cycle::queued`]: every request `queued` for a new run (job 0): the
///   state-creating, durable path;
/// - [`Cycle::reactivations`]: `in_progress` for a job of stored runs, every request a
///   different run, round robin, and the cursor goes on across warm-up, full speed and
///   paced loads, so a run comes back only after all the others did: with trackers
///   that sleep after a short idle time, each request meets a sleeping run. Every job
///   is `queued` in the store, so `in_progress` changes nothing.
pub struct Cycle {
    ids: RunIds,
    runs: u64,
    jobs: u64,
    action: Action,
    next: AtomicU64,
}

impl Cycle {
    /// Every request `queued` for a new run numbered from `ids.base`.
    pub fn queued(ids: RunIds) -> Self {
        Self::new(ids, u64::MAX, 1, Action::Queued)
    }

    /// `in_progress` events over runs `0..runs` of `jobs` jobs each.
    pub fn reactivations(ids: RunIds, runs: u64, jobs: u64) -> Self {
        Self::new(ids, runs, jobs, Action::InProgress)
    }

    fn new(ids: RunIds, runs: u64, jobs: u64, action: Action) -> Self {
        Self {
            ids,
            runs: runs.max(1),
            jobs: jobs.max(1),
            action,
            next: AtomicU64::new(0),
        }
    }

    /// Requests handed out so far, over every load.
    pub fn sent(&self) -> u64 {
        self.next.load(Ordering::Relaxed)
    }
}

impl Workload for Cycle {
    fn script(&self, _: usize, _: usize) -> Box<dyn Script + Send + '_> {
        Box::new(CycleScript(self))
    }
}

struct CycleScript<'a>(&'a Cycle);

impl Script for CycleScript<'_> {
    fn next(&mut self, over: bool) -> Option<Step> {
        if over {
            return None;
        }
        let w = self.0;
        let k = w.next.fetch_add(1, Ordering::Relaxed);
        let (run, job) = (k % w.runs, k / w.runs % w.jobs);
        Some(Step {
            event: w.ids.event(run, job, w.action),
            expect: 202,
        })
    }
}

/// Whole runs: `queued` for every job, then `in_progress` for every job, then `completed`
/// for every job; about one run in five has one failed job. A connection plays one run at
/// a time, in order; runs on different connections interleave.
pub struct Lifecycle {
    ids: RunIds,
    jobs: u64,
    max_runs: u64,
    next: AtomicU64,
    /// Runs whose last event was sent (only these are due a verdict).
    finished: Mutex<Vec<u64>>,
}

impl Lifecycle {
    /// At most `max_runs` runs of `jobs` jobs each.
    pub fn new(ids: RunIds, jobs: u64, max_runs: u64) -> Self {
        Self {
            ids,
            jobs: jobs.max(1),
            max_runs,
            next: AtomicU64::new(0),
            finished: Mutex::new(Vec::new()),
        }
    }

    /// The failed job of run `run`, if it has one: a hash, so that failures are spread
    /// over repositories and connections rather than every fifth run.
    pub fn failed_job(&self, run: u64) -> Option<u64> {
        let mixed = splitmix(run);
        mixed.is_multiple_of(5).then_some((mixed >> 8) % self.jobs)
    }

    /// The GitHub id of run `run`'s failed job, if it has one (the job whose log the
    /// fake GitHub serves with the failure).
    pub fn failed_job_id(&self, run: u64) -> Option<u64> {
        let job = self.failed_job(run)?;
        Some(self.ids.event(run, job, Action::Queued).job_id)
    }

    /// The runs every event of which was sent.
    pub fn finished_runs(&self) -> Vec<u64> {
        self.finished.lock().expect("finished runs").clone()
    }

    /// The run ids.
    pub fn ids(&self) -> RunIds {
        self.ids
    }
}

impl Workload for Lifecycle {
    fn script(&self, _: usize, _: usize) -> Box<dyn Script + Send + '_> {
        Box::new(LifecycleScript {
            life: self,
            run: None,
            step: 0,
        })
    }
}

struct LifecycleScript<'a> {
    life: &'a Lifecycle,
    run: Option<u64>,
    step: u64,
}

impl Script for LifecycleScript<'_> {
    fn next(&mut self, over: bool) -> Option<Step> {
        let life = self.life;
        let jobs = life.jobs;
        let run = match self.run {
            Some(run) => run,
            None => {
                // Time is up: start no new run, but every run started is played to its end.
                if over {
                    return None;
                }
                let run = life.next.fetch_add(1, Ordering::Relaxed);
                if run >= life.max_runs {
                    return None;
                }
                self.run = Some(run);
                self.step = 0;
                run
            }
        };
        let (stage, job) = (self.step / jobs, self.step % jobs);
        self.step += 1;
        let failed = life.failed_job(run);
        let (action, expect) = match stage {
            0 => (Action::Queued, 202),
            1 => (Action::InProgress, 202),
            _ => {
                let conclusion = if failed == Some(job) {
                    Conclusion::Failure
                } else {
                    Conclusion::Success
                };
                let last = job == jobs - 1;
                let expect = match (last, failed.is_some()) {
                    (false, _) => 202,
                    (true, true) => 201,
                    (true, false) => 200,
                };
                (Action::Completed(conclusion), expect)
            }
        };
        if self.step == 3 * jobs {
            self.run = None;
            life.finished.lock().expect("finished runs").push(run);
        }
        Some(Step {
            event: life.ids.event(run, job, action),
            expect,
        })
    }
}

/// SplitMix64: a cheap, well-spread hash of a counter.
pub fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lifecycle_run_is_queued_started_then_completed_with_the_right_answers() {
        let life = Lifecycle::new(RunIds::new(1, 2, 3), 3, 50);
        let mut script = life.script(0, 1);
        let mut runs = 0;
        let mut failing = 0;
        while let Some(first) = script.next(false) {
            assert!(matches!(first.event.action, Action::Queued));
            let mut steps = vec![first];
            steps.extend((1..9).map(|_| script.next(true).expect("a run is played to its end")));
            let run = first.event.run_id - 1;
            let fails = life.failed_job(run).is_some();
            let expects: Vec<u16> = steps.iter().map(|s| s.expect).collect();
            let last = if fails { 201 } else { 200 };
            assert_eq!(expects, [202, 202, 202, 202, 202, 202, 202, 202, last]);
            let failures = steps
                .iter()
                .filter(|s| s.event.action == Action::Completed(Conclusion::Failure))
                .count();
            assert_eq!(failures, usize::from(fails));
            runs += 1;
            failing += usize::from(fails);
        }
        assert_eq!(runs, 50);
        assert_eq!(life.finished_runs().len(), 50);
        assert!((3..=20).contains(&failing), "{failing} of 50 runs fail");
    }

    #[test]
    fn reactivations_visit_every_run_before_any_comes_back_even_across_loads() {
        let ids = RunIds::new(1, 3, 4);
        let react = Cycle::reactivations(ids, 5, 4);
        let mut runs = Vec::new();
        let mut jobs = Vec::new();
        // Two "loads": the cursor goes on where the first stopped.
        for _ in 0..2 {
            let (mut a, mut b) = (react.script(0, 2), react.script(1, 2));
            for _ in 0..4 {
                for script in [&mut a, &mut b] {
                    let step = script.next(false).expect("goes on until time is up");
                    assert_eq!(step.event.action, Action::InProgress);
                    assert_eq!(step.expect, 202);
                    runs.push(step.event.run_id - 1);
                    jobs.push(step.event.job_id);
                }
            }
            assert!(a.next(true).is_none());
        }
        assert_eq!(react.sent(), 16);
        for window in runs.windows(5) {
            let distinct: std::collections::HashSet<_> = window.iter().collect();
            assert_eq!(distinct.len(), 5, "{runs:?}");
        }
        let fill: std::collections::HashSet<u64> = {
            let fill = Fill::new(ids, 5, 4);
            let mut script = fill.script(0, 1);
            std::iter::from_fn(|| script.next(true).map(|s| s.event.job_id)).collect()
        };
        assert!(
            jobs.iter().all(|job| fill.contains(job)),
            "only stored jobs"
        );
        assert_eq!(
            jobs[0..5]
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len(),
            5
        );
        assert_ne!(jobs[0], jobs[5], "the next round takes the next job");
    }

    #[test]
    fn queued_requests_are_each_for_a_new_run() {
        let queued = Cycle::queued(RunIds::new(7, 3, 1));
        let (mut a, mut b) = (queued.script(0, 2), queued.script(1, 2));
        let runs: Vec<u64> = (0..3)
            .flat_map(|_| [a.next(false), b.next(false)])
            .map(|step| {
                let step = step.expect("goes on until time is up");
                assert_eq!(step.event.action, Action::Queued);
                step.event.run_id
            })
            .collect();
        assert_eq!(runs, [7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn a_fill_sends_every_job_of_every_run_once() {
        let fill = Fill::new(RunIds::new(1, 3, 4), 10, 4);
        let mut script = fill.script(0, 1);
        let mut seen = std::collections::HashSet::new();
        while let Some(step) = script.next(true) {
            assert!(seen.insert(step.event.job_id));
        }
        assert_eq!(seen.len(), 40);
    }
}
