//! What `workflow_run.completed` does to a run: GitHub's own word on how an attempt
//! ended. A run the service tracked in full is decided as before (the completion only
//! confirms it is finished); GitHub's conclusion settles a disagreement (a failed
//! `continue-on-error` job in a run that succeeded is not re-run); a run whose job
//! deliveries were lost, all or some, is scheduled with `needs_jobs`: its claimant
//! lists the attempt's jobs from GitHub and [`RunState::decide_on_jobs`] decides as if
//! every job event had arrived. Pure, like the rest of `src/run/`.

use std::borrow::Cow;

use super::state::{
    Claim, ClaimedRerun, Decided, Finish, FirstSeen, Reply, RerunState, RunConfig, TimerChange,
};
use super::{Conclusion, EventVerdict, RerunOutcome, RunEvent, RunState, TrackedJob};

impl RunState {
    /// The state made by a run's first event when that is its `workflow_run.completed`.
    pub fn first_run_end(event: &RunEvent, now: u64, policy: &RunConfig) -> (Self, EventVerdict) {
        let seen = FirstSeen {
            branch: &event.branch,
            workflow: &event.workflow_name,
            attempt: event.run_attempt,
            installation: event.installation,
            head_sha: event.head_sha,
        };
        let mut state = RunState::fresh(seen, now);
        let mut verdict = state.apply_run_end(event, now, policy);
        // The run is kept: GitHub's word must outlast the job deliveries still to come.
        verdict.changed = true;
        (state, verdict)
    }

    /// Applies `workflow_run.completed` and says what to answer and do.
    pub fn apply_run_end(
        &mut self,
        event: &RunEvent,
        now: u64,
        policy: &RunConfig,
    ) -> EventVerdict {
        let mut verdict = EventVerdict::unchanged(Reply {
            status: 200,
            reason: Cow::Borrowed("event of an older attempt; ignored"),
        });
        if event.run_attempt < self.attempt {
            return verdict;
        }
        self.last_event_at = now;
        if event.run_attempt > self.attempt {
            verdict.timer = self.start_attempt(event.run_attempt);
            verdict.changed = true;
        }
        if self.branch.is_empty() && !event.branch.is_empty() {
            self.branch = event.branch.clone();
        }
        if self.workflow.is_empty() && !event.workflow_name.is_empty() {
            self.workflow = event.workflow_name.clone();
        }
        // As for a job: the latest installation named, the first commit seen.
        if event.installation.is_some() && event.installation != self.installation {
            self.installation = event.installation;
            verdict.changed = true;
        }
        if self.head_sha.is_none() && event.head_sha.is_some() {
            self.head_sha = event.head_sha;
            verdict.changed = true;
        }
        if self.run_conclusion != Some(event.conclusion) || !self.confirmed {
            self.run_conclusion = Some(event.conclusion);
            self.confirmed = true;
            verdict.changed = true;
        }
        if !event.conclusion.is_failure() {
            self.conclude_without_failure(event.conclusion, &mut verdict);
            return verdict;
        }
        let finish = if self.seen_in_full() {
            let mut decided = None;
            let finish = self.finish(
                event.run.repo.as_str(),
                now,
                policy,
                event.delivery.as_deref(),
                &mut verdict.changed,
                &mut verdict.timer,
                &mut decided,
            );
            verdict.decision = decided;
            finish
        } else {
            self.schedule_listing(event, now, policy, &mut verdict)
        };
        verdict.reply = self.completion_reply(finish);
        verdict
    }

    /// Whether every job of the attempt is known to have finished and one of them
    /// failed: what the run's own events would have decided on. Otherwise some job
    /// deliveries were lost (a completion GitHub concluded as a failure has a failed job).
    fn seen_in_full(&self) -> bool {
        self.jobs.iter().all(|job| job.conclusion.is_some()) && self.has_failed_job()
    }

    /// GitHub concluded the attempt as something other than a failure: a decided
    /// re-run is not needed (recorded so), whatever the jobs said.
    fn conclude_without_failure(&mut self, conclusion: Conclusion, verdict: &mut EventVerdict) {
        if matches!(
            self.rerun,
            RerunState::Scheduled { .. } | RerunState::InFlight { .. }
        ) {
            if matches!(self.rerun, RerunState::Scheduled { .. }) {
                verdict.timer = TimerChange::Cancel;
            }
            // A claimant's renewal before its POST fails now: it re-runs nothing.
            self.rerun = RerunState::Done {
                outcome: RerunOutcome::NotNeeded {
                    conclusion: conclusion.as_str().to_owned(),
                },
            };
            self.needs_jobs = false;
            self.claims = 0;
            self.first_unrecorded_claim_at = None;
            verdict.changed = true;
            verdict.reply = Reply {
                status: 200,
                reason: Cow::Borrowed(
                    "GitHub concluded the run without failure: the decided re-run is not needed",
                ),
            };
        } else {
            verdict.reply = self.completion_reply(Finish::ConcludedOk);
        }
    }

    /// A failed attempt seen only in part: if its branch and attempt are eligible and
    /// nothing is decided yet, schedules the re-run to be decided on the jobs GitHub
    /// lists (`needs_jobs`), after the delay a re-run would wait.
    fn schedule_listing(
        &mut self,
        event: &RunEvent,
        now: u64,
        policy: &RunConfig,
        verdict: &mut EventVerdict,
    ) -> Finish {
        let delay_ms = match &policy.rules {
            None if !policy.branch_eligible => return Finish::Ineligible,
            None => policy.rerun_delay_ms,
            Some(rules) => {
                let rule = rules.rule_for(event.run.repo.as_str(), &self.workflow);
                if !rule.branches.matches(&self.branch) {
                    return Finish::Ineligible;
                }
                if self.attempt >= rule.attempts {
                    return Finish::AttemptsUsed;
                }
                crate::policy::backoff_delay_ms(rule, self.attempt.max(1))
            }
        };
        match &self.rerun {
            RerunState::Idle => {}
            RerunState::Done {
                outcome: RerunOutcome::Skipped { .. },
            } => return Finish::AlreadySkipped,
            RerunState::Done { outcome } if !outcome.is_final() => {}
            RerunState::Done { .. }
            | RerunState::Scheduled { .. }
            | RerunState::InFlight { .. } => {
                return Finish::AlreadyRerun;
            }
        }
        let due_at = now.saturating_add(delay_ms);
        self.rerun = RerunState::Scheduled {
            due_at,
            decided_by: event.delivery.clone(),
            needs_evidence: false,
            debug_logging: false,
        };
        self.needs_jobs = true;
        verdict.timer = TimerChange::Arm(due_at);
        verdict.changed = true;
        Finish::Rerun
    }

    /// Decides `claim.owner`'s claimed re-run of `attempt`, scheduled with
    /// `needs_jobs`, on the `jobs` GitHub lists for it: they are merged with the
    /// jobs already known and the failure policy decides as at a completion. A re-run
    /// keeps the claim (its lease renewed) and is returned to be performed (marked
    /// `needs_evidence` when the rule has patterns: it is decided on the evidence that
    /// came with the listing, in the same commit, or gathered next); a
    /// skip closes the attempt as `Done{Skipped}`; a listing without a failed job (or
    /// an ineligible run) closes it as `not_needed`. `None` when the claim is no
    /// longer this owner's, or the jobs were listed already: nothing changes.
    pub fn decide_on_jobs(
        &mut self,
        now: u64,
        attempt: u32,
        claim: &Claim,
        jobs: &[TrackedJob],
        policy: &RunConfig,
        repo: &str,
    ) -> Option<(Option<Decided>, Option<ClaimedRerun>)> {
        let RerunState::InFlight {
            owner, decided_by, ..
        } = &self.rerun
        else {
            return None;
        };
        if *owner != claim.owner || attempt != self.attempt || !self.needs_jobs {
            return None;
        }
        let decided_by = decided_by.clone();
        for listed in jobs {
            match self.jobs.iter_mut().find(|job| job.id == listed.id) {
                Some(known) if known.conclusion.is_none() => *known = listed.clone(),
                Some(_) => {}
                None => self.jobs.push(listed.clone()),
            }
        }
        self.needs_jobs = false;
        self.rerun = RerunState::Idle;
        let (mut changed, mut timer, mut decided) = (false, TimerChange::Keep, None);
        let finish = self.finish(
            repo,
            now,
            policy,
            decided_by.as_deref(),
            &mut changed,
            &mut timer,
            &mut decided,
        );
        match finish {
            Finish::Rerun => {
                let (needs_evidence, debug_logging) = self.rerun_flags();
                // `needs_jobs` was cleared above: the claim goes on to evidence or the POST.
                let claimed = self.hold(now, claim, decided_by, needs_evidence, debug_logging);
                Some((decided, Some(claimed)))
            }
            Finish::Skipped => {
                self.claims = 0;
                self.first_unrecorded_claim_at = None;
                Some((decided, None))
            }
            other => {
                let why = match other {
                    Finish::Ineligible => "the branch is not eligible",
                    Finish::AttemptsUsed => "the policy's attempts are used up",
                    Finish::ConcludedOk => "GitHub concluded the run without failure",
                    _ => "GitHub lists no failed job",
                };
                self.rerun = RerunState::Done {
                    outcome: RerunOutcome::NotNeeded {
                        conclusion: why.to_owned(),
                    },
                };
                self.claims = 0;
                self.first_unrecorded_claim_at = None;
                Some((None, None))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{JobId, RepoName, RunId, RunKey};
    use crate::run::{JobAction, JobEvent};

    const CLAIM: Claim = Claim {
        owner: 7,
        lease_ms: 60_000,
    };

    fn policy() -> RunConfig {
        RunConfig {
            rerun_delay_ms: 1_000,
            branch_eligible: true,
            ..RunConfig::default()
        }
    }

    fn key() -> RunKey {
        RunKey {
            repo: RepoName::parse("org/repo").expect("valid"),
            run_id: RunId(9),
        }
    }

    fn ended(conclusion: Conclusion) -> RunEvent {
        RunEvent {
            delivery: Some("run-end".into()),
            run: key(),
            run_attempt: 1,
            workflow_name: "CI".into(),
            branch: "master".into(),
            conclusion,
            installation: None,
            head_sha: None,
        }
    }

    fn job(id: u64, action: JobAction) -> JobEvent {
        JobEvent {
            delivery: None,
            run: key(),
            run_attempt: 1,
            job_id: JobId(id),
            job_name: format!("job-{id}").into(),
            workflow_name: "CI".into(),
            branch: "master".into(),
            action,
            ran_steps: true,
            failed_steps: Vec::new(),
            installation: None,
            head_sha: None,
            beyond_attempts: None,
            ran_ms: None,
        }
    }

    fn listed(id: u64, conclusion: Conclusion) -> TrackedJob {
        TrackedJob {
            id: JobId(id),
            name: format!("job-{id}").into(),
            conclusion: Some(conclusion),
            ran_steps: true,
            failed_steps: Vec::new(),
            ran_ms: None,
        }
    }

    #[test]
    fn a_failed_run_never_seen_is_scheduled_to_be_decided_on_its_listed_jobs() {
        let (mut run, verdict) =
            RunState::first_run_end(&ended(Conclusion::Failure), 10, &policy());
        assert_eq!(verdict.reply.status, 201);
        assert_eq!(verdict.timer, TimerChange::Arm(1_010));
        assert!(run.needs_jobs);
        let claimed = run.claim(1_010, &CLAIM).expect("due");
        assert!(claimed.needs_jobs() && !claimed.needs_evidence());

        let other = Claim { owner: 8, ..CLAIM };
        let jobs = [
            listed(1, Conclusion::Success),
            listed(2, Conclusion::Failure),
        ];
        assert_eq!(
            run.decide_on_jobs(1_020, 1, &other, &jobs, &policy(), "org/repo"),
            None
        );
        let (_, go_on) = run
            .decide_on_jobs(1_020, 1, &CLAIM, &jobs, &policy(), "org/repo")
            .expect("this owner's claim");
        let go_on = go_on.expect("a re-run");
        assert_eq!(go_on.failed_jobs, vec!["job-2".to_string()]);
        assert!(!go_on.needs_jobs());
        assert!(matches!(
            run.rerun,
            RerunState::InFlight {
                owner: 7,
                lease_until: 61_020,
                ..
            }
        ));
        assert_eq!(
            run.decide_on_jobs(1_030, 1, &CLAIM, &jobs, &policy(), "org/repo"),
            None,
            "listed once"
        );
    }

    #[test]
    fn a_listing_without_a_failed_job_closes_the_attempt_as_not_needed() {
        let (mut run, _) = RunState::first_run_end(&ended(Conclusion::Failure), 10, &policy());
        run.claim(2_000, &CLAIM).expect("due");
        let (decided, go_on) = run
            .decide_on_jobs(
                2_000,
                1,
                &CLAIM,
                &[listed(1, Conclusion::Success)],
                &policy(),
                "org/repo",
            )
            .expect("this owner's claim");
        assert_eq!((decided, go_on), (None, None));
        assert!(matches!(
            run.rerun,
            RerunState::Done {
                outcome: RerunOutcome::NotNeeded { .. }
            }
        ));
        assert_eq!(run.claim(u64::MAX / 2, &CLAIM), None);
    }

    #[test]
    fn github_concluding_success_cancels_the_rerun_a_failed_job_scheduled() {
        let (mut run, _) = RunState::first_event(&job(1, JobAction::Unfinished), 0, &policy());
        let failed = run.apply(
            &job(1, JobAction::Completed(Conclusion::Failure)),
            1,
            &policy(),
        );
        assert_eq!(failed.reply.status, 201);
        let word = run.apply_run_end(&ended(Conclusion::Success), 2, &policy());
        assert_eq!(word.reply.status, 200);
        assert_eq!(word.timer, TimerChange::Cancel);
        assert_eq!(run.claim(u64::MAX / 2, &CLAIM), None);
        let late = run.apply(
            &job(2, JobAction::Completed(Conclusion::Failure)),
            3,
            &policy(),
        );
        assert_eq!(late.reply.status, 200, "{}", late.reply.reason);
    }

    #[test]
    fn a_tracked_failed_run_is_confirmed_and_a_late_job_no_longer_cancels_its_rerun() {
        let (mut run, _) = RunState::first_event(&job(1, JobAction::Unfinished), 0, &policy());
        run.apply(
            &job(1, JobAction::Completed(Conclusion::Failure)),
            1,
            &policy(),
        );
        let word = run.apply_run_end(&ended(Conclusion::Failure), 2, &policy());
        assert_eq!(word.reply.status, 201, "already scheduled");
        assert!(!run.needs_jobs, "seen in full: no listing");
        let late = run.apply(&job(3, JobAction::Unfinished), 3, &policy());
        assert_eq!(late.timer, TimerChange::Keep, "GitHub said the run is over");
        assert!(matches!(run.rerun, RerunState::Scheduled { .. }));
    }

    #[test]
    fn a_run_failed_on_an_ineligible_branch_is_not_listed() {
        let ineligible = RunConfig {
            branch_eligible: false,
            ..policy()
        };
        let (run, verdict) = RunState::first_run_end(&ended(Conclusion::Failure), 10, &ineligible);
        assert_eq!(verdict.reply.status, 200);
        assert!(!run.needs_jobs);
        assert_eq!(run.rerun, RerunState::Idle);
    }
}
