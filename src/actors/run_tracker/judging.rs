//! Reading a claimed re-run's evidence off the actor's thread, within a budget.
//!
//! Matching a rule's patterns and finding each failed job's decisive line is the one
//! costly step of a decision: regexes over up to `LOG_TAIL_BYTES` of log per failed
//! job. It runs on a blocking thread, before the decision's store transaction (which
//! then only decides on the [`JobJudgement`]s and records the decision), so that
//! neither the tracker's arbiter, nor the store's writer, nor other runs' webhooks
//! wait on it. One decision reads at most [`JUDGING_BYTES`] and for at most
//! [`JUDGING_TIME`]; a job whose reading the budget cut short is judged on what was
//! read, and its evidence says so.

use std::time::{Duration, Instant};

use crate::policy::{Budget, JobEvidence, JobJudgement, Rule, judge};

/// Most bytes of evidence one decision reads (every failed job's log and
/// annotations, each read once for the rule's own regexes and once for the decisive
/// line): 30 jobs of the default 256 KiB tail, twice, fit with room to spare.
pub const JUDGING_BYTES: usize = 32 << 20;

/// Longest one decision spends reading its evidence.
pub const JUDGING_TIME: Duration = Duration::from_secs(2);

/// A budget of bytes and of time, checked every 64 KiB read.
struct Spend {
    bytes_left: usize,
    until: Instant,
    since_check: usize,
}

impl Budget for Spend {
    fn take(&mut self, bytes: usize) -> bool {
        if bytes > self.bytes_left {
            self.bytes_left = 0;
            return false;
        }
        self.bytes_left -= bytes;
        self.since_check += bytes;
        if self.since_check >= 64 << 10 {
            self.since_check = 0;
            if Instant::now() >= self.until {
                self.bytes_left = 0;
                return false;
            }
        }
        true
    }
}

/// Judges `evidence` under `rule` on a blocking thread. If that thread cannot be had
/// (the runtime is shutting down), every job counts as unread.
pub async fn judge_off_thread(rule: Rule, evidence: Vec<JobEvidence>) -> Vec<JobJudgement> {
    let jobs: Vec<_> = evidence.iter().map(|e| e.job).collect();
    let judged = actix_web::rt::task::spawn_blocking(move || {
        let mut spend = Spend {
            bytes_left: JUDGING_BYTES,
            until: Instant::now() + JUDGING_TIME,
            since_check: 0,
        };
        judge(&rule, &evidence, &mut spend)
    })
    .await;
    judged.unwrap_or_else(|_| {
        jobs.into_iter()
            .map(|job| JobJudgement::unavailable(job, "the evidence could not be read"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_of_bytes_runs_out() {
        let mut spend = Spend {
            bytes_left: 10,
            until: Instant::now() + Duration::from_secs(60),
            since_check: 0,
        };
        assert!(spend.take(6));
        assert!(!spend.take(6));
        assert!(!spend.take(1));
    }

    #[test]
    fn a_budget_of_time_runs_out_at_the_next_check() {
        let mut spend = Spend {
            bytes_left: usize::MAX,
            until: Instant::now(),
            since_check: 0,
        };
        assert!(spend.take(1));
        assert!(!spend.take(64 << 10));
    }
}
