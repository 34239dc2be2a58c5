//! Applying one `workflow_job` event: the job's new state, what its completion says
//! about the previous attempt (flaky, failed again, a lesson, a re-run's effect), an
//! attempt beyond its rule's limit that only teaches, and how the run stands after it
//! (`finish`: passed, skipped, re-run scheduled, …) with the answer for GitHub.

use std::borrow::Cow;

use super::{
    Decided, EventVerdict, Finish, FirstSeen, JobAction, JobEvent, NO_RECORD, Reply, RerunEffect,
    RerunOutcome, RerunState, RunConfig, RunState, Settled, TimerChange, TrackedJob,
};
use crate::ids::Conclusion;
use crate::policy::{self, AtCompletion, Decision, Ineligible, JobFacts, RunFacts};
use crate::run::teaching::Lesson;

impl RunState {
    /// A run first seen at `now`, by an event naming its branch, workflow, attempt,
    /// installation and commit: no job, no re-run, nothing answered yet.
    pub(in crate::run) fn fresh(seen: FirstSeen<'_>, now: u64) -> Self {
        RunState {
            branch: seen.branch.clone(),
            workflow: seen.workflow.clone(),
            attempt: seen.attempt,
            jobs: Vec::new(),
            rerun: RerunState::Idle,
            retries: 0,
            claims: 0,
            first_unrecorded_claim_at: None,
            rerun_failed: Vec::new(),
            confirmed: true,
            first_seen_at: now,
            last_event_at: now,
            answered: Vec::new(),
            run_conclusion: None,
            needs_jobs: false,
            installation: seen.installation,
            head_sha: seen.head_sha,
            rerun_evidence: None,
            failures: Vec::new(),
            teaching: Vec::new(),
            teaching_by_service: false,
            rerun_failed_again: false,
        }
    }

    /// The state made by a run's first event, and the verdict on that event.
    pub fn first_event(event: &JobEvent, now: u64, policy: &RunConfig) -> (Self, EventVerdict) {
        let seen = FirstSeen {
            branch: &event.branch,
            workflow: &event.workflow_name,
            attempt: event.run_attempt,
            installation: event.installation,
            head_sha: event.head_sha,
        };
        let mut state = RunState::fresh(seen, now);
        if let JobAction::Completed(conclusion) = event.action {
            state.confirmed = false;
            state.jobs.push(TrackedJob::new(event, Some(conclusion)));
            let reply = Reply::new(404, NO_RECORD);
            return (
                state,
                EventVerdict {
                    reply,
                    changed: true,
                    timer: TimerChange::Keep,
                    flaky: None,
                    failed_again: None,
                    lesson: None,
                    effect: None,
                    decision: None,
                },
            );
        }
        let mut verdict = state.apply(event, now, policy);
        verdict.changed = true;
        (state, verdict)
    }

    /// Applies one event of this run and says what to answer and do.
    pub fn apply(&mut self, event: &JobEvent, now: u64, policy: &RunConfig) -> EventVerdict {
        if event.run_attempt < self.attempt {
            let reply = match event.action {
                JobAction::Unfinished => Reply::new(202, "event of an older attempt; ignored"),
                JobAction::Completed(_) => Reply::new(200, "event of an older attempt; ignored"),
            };
            return EventVerdict::unchanged(reply);
        }
        if let Some(beyond) = event.beyond_attempts {
            return self.teach(event, beyond.reason(), now);
        }
        self.last_event_at = now;
        let mut changed = false;
        // Kept apart from `changed` until the end: a new installation is no new fact
        // about the jobs (it confirms nothing, makes nothing flaky).
        let installation_changed =
            event.installation.is_some() && event.installation != self.installation;
        if installation_changed {
            self.installation = event.installation;
        }
        // Committed with the next change: a run keeps one commit for all its attempts.
        if self.head_sha.is_none() {
            self.head_sha = event.head_sha;
        }
        let mut timer = TimerChange::Keep;
        if event.run_attempt > self.attempt {
            timer = self.start_attempt(event.run_attempt);
            changed = true;
        }

        let known = self.jobs.iter().position(|job| job.id == event.job_id);
        match (event.action, known) {
            (JobAction::Unfinished, None) => {
                self.jobs.push(TrackedJob::new(event, None));
                changed = true;
                // A job that shows up after the run looked finished (`needs:`): the run is
                // not finished after all, so the decided re-run waits for it. Unless
                // GitHub said the run ended: then it is a late delivery.
                if self.run_conclusion.is_none()
                    && matches!(self.rerun, RerunState::Scheduled { .. })
                {
                    self.rerun = RerunState::Idle;
                    timer = TimerChange::Cancel;
                }
            }
            (JobAction::Completed(conclusion), None) => {
                self.jobs.push(TrackedJob::new(event, Some(conclusion)));
                changed = true;
            }
            (JobAction::Completed(conclusion), Some(index)) => {
                let job = &mut self.jobs[index];
                if job.conclusion.is_none() {
                    *job = TrackedJob::new(event, Some(conclusion));
                    changed = true;
                }
            }
            // A late or repeated queued/in_progress never reopens a job.
            (JobAction::Unfinished, Some(_)) => {}
        }
        let Settled {
            flaky,
            failed_again,
            lesson,
            effect,
        } = if changed {
            self.outcome_of(event)
        } else {
            Settled::default()
        };
        // A run first seen through a completion is confirmed by any later new fact, and
        // by a (late) queued/in_progress; a repeat of the completion confirms nothing.
        if !self.confirmed && (changed || matches!(event.action, JobAction::Unfinished)) {
            self.confirmed = true;
            changed = true;
        }

        let decided_by = event.delivery.as_deref();
        let mut decision = None;
        let finish = self.finish(
            event.run.repo.as_str(),
            now,
            policy,
            decided_by,
            &mut changed,
            &mut timer,
            &mut decision,
        );
        let reply = match event.action {
            JobAction::Unfinished => Reply::new(202, "job recorded"),
            JobAction::Completed(_) => self.completion_reply(finish),
        };
        EventVerdict {
            reply,
            changed: changed || installation_changed,
            timer,
            flaky,
            failed_again,
            lesson,
            effect,
            decision,
        }
    }

    /// What a job's completion says about the previous attempt's failures: flaky or
    /// failed again after the service's re-run (`rerun_failed`), and the lesson of a
    /// judged failure (`teaching`), each said once.
    fn outcome_of(&mut self, event: &JobEvent) -> Settled {
        let JobAction::Completed(conclusion) = event.action else {
            return Settled::default();
        };
        let passed = conclusion == Conclusion::Success;
        let failed = conclusion.is_failure();
        let mut rerun_failed = || {
            let index = self
                .rerun_failed
                .iter()
                .position(|name| *name == event.job_name)?;
            Some(self.rerun_failed.swap_remove(index))
        };
        let (flaky, failed_again) = match (passed, failed) {
            (true, _) => (rerun_failed(), None),
            (_, true) => (None, rerun_failed()),
            _ => (None, None),
        };
        let lesson = self
            .teaching
            .iter()
            .position(|failure| failure.job == event.job_name.as_str())
            .map(|index| self.teaching.swap_remove(index))
            // A cancelled or skipped job says nothing about the failure.
            .filter(|_| passed || failed)
            .map(|failure| Lesson {
                failure,
                passed,
                by_service: self.teaching_by_service,
                attempt: self.attempt.saturating_sub(1),
            });
        self.rerun_failed_again |= failed_again.is_some();
        let effect = self.teaching_by_service.then(|| RerunEffect {
            attempt: self.attempt.saturating_sub(1),
            ran_ms: event.ran_ms,
            turned_green: flaky.is_some()
                && self.rerun_failed.is_empty()
                && !self.rerun_failed_again,
        });
        Settled {
            flaky,
            failed_again,
            lesson,
            effect,
        }
    }

    /// An event of an attempt its rule never re-runs ([`JobEvent::beyond_attempts`]):
    /// its job is not tracked, but its outcome still settles the previous attempt's
    /// failures. Answered 204, like the door's own refusal.
    fn teach(&mut self, event: &JobEvent, why: &'static str, now: u64) -> EventVerdict {
        let mut timer = TimerChange::Keep;
        let mut changed = false;
        if event.run_attempt > self.attempt {
            timer = self.start_attempt(event.run_attempt);
            changed = true;
        }
        let Settled {
            flaky,
            failed_again,
            lesson,
            effect,
        } = self.outcome_of(event);
        changed |=
            flaky.is_some() || failed_again.is_some() || lesson.is_some() || effect.is_some();
        if changed {
            self.last_event_at = now;
        }
        EventVerdict {
            reply: Reply::new(204, why),
            changed,
            timer,
            flaky,
            failed_again,
            lesson,
            effect,
            decision: None,
        }
    }

    /// The answer to an event of an attempt its rule never re-runs, for a run with no
    /// record: nothing to settle, nothing kept.
    pub fn beyond_attempts_unrecorded(why: &'static str) -> EventVerdict {
        EventVerdict::unchanged(Reply::new(204, why))
    }

    /// Starts attempt `attempt` afresh (a newer one than the run's), keeping what the
    /// flaky-job report needs of the old one; says what becomes of the re-run timer.
    pub(in crate::run) fn start_attempt(&mut self, attempt: u32) -> TimerChange {
        let timer = if matches!(self.rerun, RerunState::Scheduled { .. }) {
            TimerChange::Cancel
        } else {
            TimerChange::Keep
        };
        // Jobs that failed in an attempt this service re-ran: if they pass now, they are flaky.
        let by_service = matches!(
            self.rerun,
            RerunState::Done {
                outcome: RerunOutcome::Started,
            }
        );
        self.rerun_failed = if by_service {
            self.failed_job_names()
        } else {
            Vec::new()
        };
        // Whoever started the new attempt, its jobs' outcomes settle the judged failures.
        self.teaching = std::mem::take(&mut self.failures);
        self.teaching_by_service = by_service;
        self.rerun_failed_again = false;
        self.attempt = attempt;
        self.jobs.clear();
        self.rerun = RerunState::Idle;
        self.retries = 0;
        self.claims = 0;
        self.first_unrecorded_claim_at = None;
        self.confirmed = true;
        self.run_conclusion = None;
        self.needs_jobs = false;
        self.rerun_evidence = None;
        timer
    }

    /// The answer to an event that may have finished the run, by how it stands.
    pub(in crate::run) fn completion_reply(&self, finish: Finish) -> Reply {
        match finish {
            Finish::Unconfirmed => Reply::new(404, NO_RECORD),
            Finish::Unfinished => Reply::new(202, "other jobs of the run are unfinished"),
            Finish::Passed => Reply::new(200, "run finished without failed jobs"),
            Finish::ConcludedOk => Reply::new(
                200,
                "GitHub concluded the run without failure: nothing to re-run",
            ),
            Finish::Ineligible => Reply::new(200, "run failed on a branch not in REPO_BRANCHES"),
            Finish::AttemptsUsed => {
                Reply::new(200, "run failed; the policy's attempts are used up")
            }
            Finish::Rerun => Reply::new(201, "re-run scheduled"),
            Finish::AlreadyRerun => {
                Reply::new(201, "re-run of this attempt already scheduled or performed")
            }
            Finish::Skipped | Finish::AlreadySkipped => Reply {
                status: 200,
                reason: Cow::Owned(self.skip_line()),
            },
        }
    }

    /// The one-line answer for a skipped attempt: `not re-run: job build: … (not_started)`,
    /// or `shadow: would re-run after 5s`.
    pub fn skip_line(&self) -> String {
        let RerunState::Done {
            outcome:
                RerunOutcome::Skipped {
                    reason,
                    job,
                    evidence,
                    delay_ms,
                    ..
                },
        } = &self.rerun
        else {
            return "not re-run".to_owned();
        };
        let line = if *reason == policy::Reason::Shadow {
            format!(
                "shadow: would re-run after {}s",
                delay_ms.unwrap_or(0) as f64 / 1000.0
            )
        } else {
            let mut line = String::from("not re-run: ");
            if let Some(job) = job {
                line.push_str(&format!("job {}: ", job.name));
            }
            line.push_str(evidence.as_deref().unwrap_or("skipped"));
            line.push_str(&format!(" ({})", reason.as_str()));
            line
        };
        policy::clean_evidence(&line)
    }

    /// Decides whether the run is finished and, when it is, what the failure policy
    /// says about it: schedules its re-run, or closes the attempt as skipped.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::run) fn finish(
        &mut self,
        repo: &str,
        now: u64,
        policy: &RunConfig,
        decided_by: Option<&str>,
        changed: &mut bool,
        timer: &mut TimerChange,
        decided: &mut Option<Decided>,
    ) -> Finish {
        if !self.confirmed {
            return Finish::Unconfirmed;
        }
        // GitHub's word settles it: a run it concluded is finished, and one it did not
        // conclude as a failure (a failed `continue-on-error` job) is not re-run.
        if self.run_conclusion.is_some_and(|c| !c.is_failure()) {
            return Finish::ConcludedOk;
        }
        if self.run_conclusion.is_none() && self.jobs.iter().any(|job| job.conclusion.is_none()) {
            return Finish::Unfinished;
        }
        if !self.has_failed_job() {
            return Finish::Passed;
        }
        if policy.rules.is_none() && !policy.branch_eligible {
            return Finish::Ineligible;
        }
        let open = match &self.rerun {
            RerunState::Idle => true,
            RerunState::Done {
                outcome: RerunOutcome::Skipped { .. },
            } => return Finish::AlreadySkipped,
            RerunState::Done { outcome } => !outcome.is_final(),
            RerunState::Scheduled { .. } | RerunState::InFlight { .. } => false,
        };
        if !open {
            return Finish::AlreadyRerun;
        }
        let (delay_ms, needs_evidence, debug_logging) =
            match &policy.rules {
                None => match self.jobs.iter().find(|job| {
                    job.conclusion.is_some_and(Conclusion::is_failure) && !job.ran_steps
                }) {
                    // The built-in rule: a job GitHub never started is never re-run.
                    Some(job) => {
                        let decision = Decision {
                            verdict: policy::Verdict::Skip {
                                reason: policy::Reason::NotStarted,
                            },
                            job: Some(policy::JobRef {
                                id: job.id,
                                name: job.name.clone(),
                            }),
                            evidence: Some("the job ran no step: GitHub never started it".into()),
                            pattern: None,
                        };
                        return self.skip(decision, changed, decided);
                    }
                    None => (policy.rerun_delay_ms, false, false),
                },
                Some(rules) => {
                    let rule = rules.rule_for(repo, &self.workflow);
                    let jobs = self.job_facts();
                    let facts = RunFacts {
                        workflow: &self.workflow,
                        branch: &self.branch,
                        attempt: self.attempt,
                        jobs: &jobs,
                    };
                    match policy::decide_at_completion(&facts, &policy.history, rule) {
                        AtCompletion::Ineligible(Ineligible::NoFailedJob) => return Finish::Passed,
                        AtCompletion::Ineligible(Ineligible::Branch) => return Finish::Ineligible,
                        AtCompletion::Ineligible(Ineligible::AttemptsUsed) => {
                            return Finish::AttemptsUsed;
                        }
                        AtCompletion::NeedsEvidence(request) => {
                            *decided = Some(Decided::NeedsEvidence {
                                delay_ms: request.delay_ms,
                            });
                            (request.delay_ms, true, false)
                        }
                        AtCompletion::Decided(decision) => match decision.verdict {
                            policy::Verdict::Rerun(plan) => {
                                self.rerun_evidence = decision.evidence.clone();
                                *decided = Some(Decided::Now(decision));
                                (plan.delay_ms, false, plan.debug_logging)
                            }
                            policy::Verdict::Skip { .. } | policy::Verdict::Shadow(_) => {
                                return self.skip(decision, changed, decided);
                            }
                        },
                    }
                }
            };
        let due_at = now.saturating_add(delay_ms);
        self.rerun = RerunState::Scheduled {
            due_at,
            decided_by: decided_by.map(str::to_owned),
            needs_evidence,
            debug_logging,
        };
        *timer = TimerChange::Arm(due_at);
        *changed = true;
        Finish::Rerun
    }

    /// Closes the attempt as skipped by `decision` (final: never claimed, never tried again).
    pub(in crate::run) fn skip(
        &mut self,
        decision: Decision,
        changed: &mut bool,
        decided: &mut Option<Decided>,
    ) -> Finish {
        let Some(reason) = decision.verdict.reason() else {
            return Finish::AlreadyRerun;
        };
        let delay_ms = match decision.verdict {
            policy::Verdict::Shadow(plan) => Some(plan.delay_ms),
            _ => None,
        };
        self.rerun = RerunState::Done {
            outcome: RerunOutcome::Skipped {
                reason,
                job: decision.job.clone(),
                evidence: decision.evidence.clone(),
                pattern: decision.pattern.clone(),
                delay_ms,
            },
        };
        *decided = Some(Decided::Now(decision));
        *changed = true;
        Finish::Skipped
    }

    /// The current attempt's jobs as the policy reads them.
    pub(in crate::run) fn job_facts(&self) -> Vec<JobFacts> {
        self.jobs
            .iter()
            .filter_map(|job| {
                Some(JobFacts {
                    id: job.id,
                    name: job.name.clone(),
                    conclusion: job.conclusion?,
                    ran_steps: job.ran_steps,
                    failed_steps: job.failed_steps.clone(),
                })
            })
            .collect()
    }

    /// Whether a job of the current attempt failed.
    pub fn has_failed_job(&self) -> bool {
        self.jobs
            .iter()
            .any(|job| job.conclusion.is_some_and(Conclusion::is_failure))
    }

    /// How many jobs of the current attempt have not finished.
    pub fn unfinished_jobs(&self) -> usize {
        self.jobs
            .iter()
            .filter(|job| job.conclusion.is_none())
            .count()
    }

    /// Names of the current attempt's failed jobs.
    pub fn failed_job_names(&self) -> Vec<String> {
        let failed = self
            .jobs
            .iter()
            .filter(|job| job.conclusion.is_some_and(Conclusion::is_failure));
        failed.map(|job| job.name.to_string()).collect()
    }
}
