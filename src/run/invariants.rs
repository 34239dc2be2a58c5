//! The run logic's invariants, checked over any sequence of changes to one run.
//!
//! The unit tests beside [`RunState`] and [`apply_change`] show chosen stories; this
//! module is for the stories nobody chose: property tests (`cargo test`) and the fuzz
//! target `run_logic` (`fuzz/`) drive a [`Checker`] with random [`Step`]s (deliveries,
//! redeliveries, claims by several processes, renewals, outcomes, expiry, time passing),
//! apply each through [`apply_change`] as a store would, and check after every step
//! that:
//!
//! - no two processes hold a live claim on one attempt's re-run at the same time, and
//!   only the claimant renews it;
//! - no claim succeeds after `started` was recorded for the attempt, and `started` is
//!   recorded at most once per attempt;
//! - the attempt never goes backwards;
//! - a delivery that changed the run and is delivered again (while the run still is at
//!   that attempt) gets the same status and changes nothing;
//! - an attempt the failure policy skipped (a failed job that ran no step: every
//!   fifth job id here) is final: its re-run is never claimed;
//! - a decision on evidence (`Decide`) changes the run only for the live claimant: a
//!   re-run renews its lease, a skip closes the attempt for good;
//! - `workflow_run.completed` deliveries (`RunEnded`, in any order with the job events,
//!   redelivered) and the jobs listing of a re-run decided on them (`ListJobs`) keep
//!   all of the above: a listing changes the run only for the live claimant, and
//!   GitHub's conclusion without failure closes the attempt without a re-run;
//! - every state survives its JSON encoding ([`crate::store::codec`]) unchanged;
//! - lease takeovers alone (claims with no outcome recorded since the first of them)
//!   never close the re-run before [`UNRECORDED_CLAIMS_FOR_MS`] has passed: a live
//!   claimant paused by GitHub's rate limit loses its lease, and that is no reason to
//!   give a healthy re-run up.
//!
//! Events are judged by the environment's policy (`RunConfig::from_env`, every branch),
//! through the same `decide_at_completion` the service uses.
//!
//! Expiry forgets a run (its row is deleted), and a forgotten run starts afresh: the
//! invariants hold per life of the stored row (a *generation* here). A run is forgotten
//! only after `RUN_TTL` without events and with no pending re-run; GitHub's own attempt
//! number, read before each POST, guards a run that is seen again after that.
//!
//! It is public, not `#[cfg(test)]`, so that the fuzz crate (outside this package's
//! build) can use it; the service never does.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::{
    Applied, ChangeResult, Claim, ClaimedRerun, Conclusion, JobAction, JobEvent, Persist,
    RerunOutcome, RerunState, RetryPolicy, RunChange, RunConfig, RunEvent, RunState, TrackedJob,
    UNRECORDED_CLAIMS_FOR_MS, apply_change,
};
use crate::ids::{JobId, RepoName, RunId, RunKey};

/// The re-run delay the checker's events are judged with, ms.
const DELAY_MS: u64 = 1_000;
/// How long a claim holds, ms.
const LEASE_MS: u64 = 5_000;
/// When an answer that settles nothing is tried again: few tries, so that sequences
/// reach the end of them.
const RETRY: RetryPolicy = RetryPolicy {
    still_running_every_ms: 500,
    still_running_tries: 2,
    gave_up_first_ms: 1_000,
    gave_up_max_ms: 4_000,
    gave_up_tries: 2,
};

/// What GitHub or a process does next to the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A new delivery (a fresh delivery id) about job `job` of attempt `attempt`.
    Deliver {
        /// The job's id (small, so that jobs repeat).
        job: u64,
        /// `run_attempt`.
        attempt: u32,
        /// What happened to the job.
        action: JobAction,
    },
    /// GitHub sends the `nth` delivery made so far again (modulo their number).
    Redeliver {
        /// Which one.
        nth: usize,
    },
    /// Time passes.
    Wait {
        /// How long, ms.
        ms: u64,
    },
    /// Process `owner`'s timer or poll fires: it tries to claim the re-run.
    Claim {
        /// The process's instance id.
        owner: u64,
    },
    /// Process `owner` is about to POST the re-run it claimed last: it renews the claim.
    Renew {
        /// The process's instance id.
        owner: u64,
    },
    /// Process `owner`'s GitHub actor answered the re-run it claimed last (or, with no
    /// claim, answers for the current attempt anyway: a confused process).
    Record {
        /// The process's instance id.
        owner: u64,
        /// The answer.
        outcome: RerunOutcome,
    },
    /// Process `owner`'s evidence for the re-run it claimed last came back: it decides
    /// on it (`RunChange::Decide`, under a rule with `never_when = ['broken']`).
    Decide {
        /// The process's instance id.
        owner: u64,
        /// Whether the failed job's log matches `never_when` (a skip), or not (a re-run).
        broken: bool,
    },
    /// A new `workflow_run.completed` delivery for attempt `attempt`.
    RunEnded {
        /// `run_attempt`.
        attempt: u32,
        /// Whether GitHub concluded it `failure` (else `success`).
        failed: bool,
    },
    /// Process `owner`'s jobs listing for the re-run it claimed last came back
    /// (`RunChange::Decide` on listed jobs): the jobs known so far, completed as they stand (or
    /// failed), and job 9, failed or passed.
    ListJobs {
        /// The process's instance id.
        owner: u64,
        /// Whether job 9 failed.
        failed: bool,
    },
    /// A tracker's quiet check: forget the run if it has been quiet for `ttl_ms`.
    Expire {
        /// `RUN_TTL`, ms.
        ttl_ms: u64,
    },
}

/// An invariant that did not hold: at which step, and what happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The index of the step that broke it.
    pub step: usize,
    /// What was wrong.
    pub what: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {}: {}", self.step, self.what)
    }
}

impl std::error::Error for Violation {}

/// A delivery's event.
enum Delivered {
    Job(Arc<JobEvent>),
    Run(Arc<RunEvent>),
}

/// One delivery sent so far.
struct Sent {
    event: Delivered,
    /// Its first answer, if it changed the run: status, generation, attempt afterwards.
    remembered: Option<(u16, u32, u32)>,
}

/// A claim the checker believes live.
#[derive(Clone, Copy)]
struct Live {
    owner: u64,
    attempt: u32,
    lease_until: u64,
}

/// Applies steps to one run as a store would and checks the invariants after each.
pub struct Checker {
    key: RunKey,
    state: Option<RunState>,
    now: u64,
    /// Bumped whenever the run's row is deleted.
    generation: u32,
    steps: usize,
    sent: Vec<Sent>,
    /// The last re-run each process claimed, and in which generation.
    claimed: HashMap<u64, (ClaimedRerun, u32)>,
    live: Option<Live>,
    /// Attempts whose `started` was recorded, with their generation.
    started: Vec<(u32, u32)>,
    /// Attempts the policy skipped, with their generation.
    skipped: Vec<(u32, u32)>,
    /// The policy events are judged by.
    rules: Option<Arc<crate::policy::Policy>>,
    /// The first claim since an outcome was last recorded: generation, attempt, when.
    unrecorded_since: Option<(u32, u32, u64)>,
}

impl Default for Checker {
    fn default() -> Self {
        Self::new()
    }
}

impl Checker {
    /// A checker for a run with no record yet.
    pub fn new() -> Self {
        let repo = RepoName::parse("octo-org/octo-repo").expect("a valid constant name");
        Self {
            key: RunKey {
                repo,
                run_id: RunId(30433642),
            },
            state: None,
            now: 1_700_000_000_000,
            generation: 0,
            steps: 0,
            sent: Vec::new(),
            claimed: HashMap::new(),
            live: None,
            started: Vec::new(),
            skipped: Vec::new(),
            rules: crate::policy::Policy::from_env(&crate::policy::EnvDefaults {
                attempts: 1_000,
                branches: crate::settings::BranchFilter::Any,
                delay: std::time::Duration::from_millis(DELAY_MS),
            })
            .ok()
            .map(Arc::new),
            unrecorded_since: None,
        }
    }

    /// The run's stored state now (`None`: no record).
    pub fn state(&self) -> Option<&RunState> {
        self.state.as_ref()
    }

    /// Applies every step in turn; the first broken invariant stops it.
    pub fn run(&mut self, steps: &[Step]) -> Result<(), Violation> {
        steps.iter().try_for_each(|step| self.step(step))
    }

    /// Applies one step and checks the invariants.
    pub fn step(&mut self, step: &Step) -> Result<(), Violation> {
        let index = self.steps;
        self.steps += 1;
        self.apply(step)
            .map_err(|what| Violation { step: index, what })
    }

    fn apply(&mut self, step: &Step) -> Result<(), String> {
        let before = self.state.as_ref().map(|s| s.attempt);
        let generation = self.generation;
        match step {
            Step::Deliver {
                job,
                attempt,
                action,
            } => {
                let event = JobEvent {
                    delivery: Some(format!("72d3162e-cc78-11e3-81ab-{:012}", self.sent.len())),
                    run: self.key.clone(),
                    run_attempt: *attempt,
                    job_id: JobId(*job),
                    job_name: format!("job-{job}").into(),
                    workflow_name: "CI".into(),
                    branch: "master".into(),
                    action: *action,
                    ran_steps: job % 5 != 4,
                    failed_steps: Vec::new(),
                    installation: None,
                    head_sha: None,
                    beyond_attempts: None,
                    ran_ms: None,
                };
                self.sent.push(Sent {
                    event: Delivered::Job(Arc::new(event)),
                    remembered: None,
                });
                self.deliver(self.sent.len() - 1)?;
            }
            Step::RunEnded { attempt, failed } => {
                let event = RunEvent {
                    delivery: Some(format!("72d3162e-cc78-11e3-81ab-{:012}", self.sent.len())),
                    run: self.key.clone(),
                    run_attempt: *attempt,
                    workflow_name: "CI".into(),
                    branch: "master".into(),
                    conclusion: if *failed {
                        Conclusion::Failure
                    } else {
                        Conclusion::Success
                    },
                    installation: None,
                    head_sha: None,
                };
                self.sent.push(Sent {
                    event: Delivered::Run(Arc::new(event)),
                    remembered: None,
                });
                self.deliver(self.sent.len() - 1)?;
            }
            Step::ListJobs { owner, failed } => self.list_jobs(*owner, *failed)?,
            Step::Redeliver { nth } => {
                if !self.sent.is_empty() {
                    self.deliver(nth % self.sent.len())?;
                }
            }
            Step::Wait { ms } => self.now = self.now.saturating_add(*ms),
            Step::Claim { owner } => self.claim(*owner)?,
            Step::Renew { owner } => self.renew(*owner)?,
            Step::Record { owner, outcome } => self.record(*owner, outcome)?,
            Step::Decide { owner, broken } => self.decide(*owner, *broken)?,
            Step::Expire { ttl_ms } => {
                let change = RunChange::Expire {
                    now: self.now,
                    ttl_ms: *ttl_ms,
                    last_seen: 0,
                };
                let applied = self.change(&change)?;
                if applied.persist == Persist::Delete {
                    self.generation += 1;
                    self.live = None;
                }
            }
        }
        if let (Some(before), Some(after), true) = (
            before,
            self.state.as_ref().map(|s| s.attempt),
            generation == self.generation,
        ) && after < before
        {
            return Err(format!("the attempt went back from {before} to {after}"));
        }
        self.check_codec()
    }

    /// Applies `change` to the stored state as the store does, and keeps the result.
    fn change(&mut self, change: &RunChange) -> Result<Applied, String> {
        let applied = apply_change(self.state.clone(), change);
        match (applied.persist, &applied.state) {
            (Persist::Save, None) => return Err("asked to save no state".into()),
            (Persist::Delete, Some(_)) => return Err("deleted but kept a state".into()),
            _ => {}
        }
        // Unchanged: the store writes nothing, so the stored state stays as it was.
        if applied.persist != Persist::Unchanged {
            self.state = applied.state.clone();
        }
        Ok(applied)
    }

    fn deliver(&mut self, index: usize) -> Result<(), String> {
        let policy = self.policy();
        let change = match &self.sent[index].event {
            Delivered::Job(event) => RunChange::Event {
                event: Arc::clone(event),
                policy,
                now: self.now,
            },
            Delivered::Run(event) => RunChange::RunEnded {
                event: Arc::clone(event),
                policy,
                now: self.now,
            },
        };
        let applied = self.change(&change)?;
        let ChangeResult::Event(verdict) = &applied.result else {
            return Err(format!("an event answered {:?}", applied.result));
        };
        let status = verdict.reply.status;
        if ![200, 201, 202, 404].contains(&status) {
            return Err(format!("an event answered {status}"));
        }
        if let Some(state) = &self.state
            && matches!(
                state.rerun,
                RerunState::Done {
                    outcome: RerunOutcome::Skipped { .. }
                }
            )
        {
            let skipped = (self.generation, state.attempt);
            if self.started.contains(&skipped) {
                return Err(format!("attempt {} skipped after `started`", state.attempt));
            }
            if !self.skipped.contains(&skipped) {
                self.skipped.push(skipped);
            }
        }
        let attempt = self.state.as_ref().map(|s| s.attempt);
        // Its first answer counts while the run is the same row at the same attempt.
        let remembered = self.sent[index]
            .remembered
            .filter(|&(_, generation, at)| generation == self.generation && Some(at) == attempt);
        match remembered {
            Some((first, ..)) if status != first || applied.persist != Persist::Unchanged => {
                return Err(format!(
                    "delivery {index} answered {first} first, then {status} ({:?})",
                    applied.persist
                ));
            }
            Some(_) => {}
            None if applied.persist == Persist::Save => {
                self.sent[index].remembered =
                    attempt.map(|attempt| (status, self.generation, attempt));
            }
            None => {}
        }
        Ok(())
    }

    /// The environment's policy the events are judged by.
    fn policy(&self) -> RunConfig {
        RunConfig {
            rerun_delay_ms: DELAY_MS,
            branch_eligible: true,
            rules: self.rules.clone(),
            history: Default::default(),
        }
    }

    /// A jobs listing: it changes the run only for the live claimant; a re-run renews
    /// its lease, a skip or a listing without failure closes the attempt.
    fn list_jobs(&mut self, owner: u64, failed: bool) -> Result<(), String> {
        let Some((claimed, _)) = self.claimed.get(&owner) else {
            return Ok(());
        };
        let attempt = claimed.attempt;
        let mut jobs: Vec<TrackedJob> = self
            .state
            .iter()
            .flat_map(|s| s.jobs.iter().cloned())
            .map(|mut job| {
                job.conclusion.get_or_insert(Conclusion::Failure);
                job
            })
            .collect();
        jobs.push(TrackedJob {
            id: JobId(9),
            name: "job-9".into(),
            conclusion: Some(if failed {
                Conclusion::Failure
            } else {
                Conclusion::Success
            }),
            ran_steps: true,
            failed_steps: Vec::new(),
            ran_ms: None,
        });
        let applied = self.change(&RunChange::Decide {
            now: self.now,
            attempt,
            claim: Claim {
                owner,
                lease_ms: LEASE_MS,
            },
            repo: self.key.repo.to_string(),
            workflow: "CI".into(),
            listed: Some(Arc::new(jobs)),
            judged: None,
            hold_until: None,
            cost: Default::default(),
            policy: self.policy(),
        })?;
        let ChangeResult::Decided { claimed, .. } = applied.result else {
            return Err(format!(
                "Decide on listed jobs answered {:?}",
                applied.result
            ));
        };
        if applied.persist == Persist::Unchanged {
            return Ok(());
        }
        let holds =
            matches!(self.live, Some(live) if live.owner == owner && live.attempt == attempt);
        if !holds {
            return Err(format!(
                "{owner} listed attempt {attempt}'s jobs without holding its claim"
            ));
        }
        if self.started.contains(&(self.generation, attempt)) {
            return Err(format!("{owner} listed attempt {attempt} after `started`"));
        }
        match claimed {
            Some(_) => {
                if let Some(live) = &mut self.live {
                    live.lease_until = self.now + LEASE_MS;
                }
            }
            None => {
                self.live = None;
                if let Some(RerunState::Done {
                    outcome: RerunOutcome::Skipped { .. },
                }) = self.state.as_ref().map(|s| &s.rerun)
                {
                    let skipped = (self.generation, attempt);
                    if !self.skipped.contains(&skipped) {
                        self.skipped.push(skipped);
                    }
                }
            }
        }
        Ok(())
    }

    fn claim(&mut self, owner: u64) -> Result<(), String> {
        let claim = Claim {
            owner,
            lease_ms: LEASE_MS,
        };
        let applied = self.change(&RunChange::Claim {
            now: self.now,
            claim,
        })?;
        let attempt = self.state.as_ref().map_or(0, |s| s.attempt);
        let since = self
            .unrecorded_since
            .filter(|&(generation, at, _)| generation == self.generation && at == attempt)
            .map(|(.., since)| since);
        if let ChangeResult::GaveUp { claims, .. } = applied.result {
            let taken_over_for = since.map(|since| self.now.saturating_sub(since));
            if taken_over_for.is_none_or(|ms| ms < UNRECORDED_CLAIMS_FOR_MS) {
                return Err(format!(
                    "attempt {attempt}'s re-run was given up after {claims} claims over {taken_over_for:?} ms"
                ));
            }
        }
        let ChangeResult::Claimed(Some(claimed)) = applied.result else {
            return Ok(());
        };
        if since.is_none() {
            self.unrecorded_since = Some((self.generation, attempt, self.now));
        }
        if claimed.attempt != attempt {
            return Err(format!(
                "claimed attempt {} of a run at {attempt}",
                claimed.attempt
            ));
        }
        if let Some(live) = self.live
            && live.attempt == claimed.attempt
            && live.lease_until > self.now
        {
            return Err(format!(
                "{owner} claimed attempt {attempt} while {}'s claim holds until {}",
                live.owner, live.lease_until
            ));
        }
        if self.started.contains(&(self.generation, claimed.attempt)) {
            return Err(format!("{owner} claimed attempt {attempt} after `started`"));
        }
        if self.skipped.contains(&(self.generation, claimed.attempt)) {
            return Err(format!(
                "{owner} claimed attempt {attempt}, which the policy skipped"
            ));
        }
        self.live = Some(Live {
            owner,
            attempt,
            lease_until: self.now + LEASE_MS,
        });
        self.claimed.insert(owner, (claimed, self.generation));
        Ok(())
    }

    fn renew(&mut self, owner: u64) -> Result<(), String> {
        let Some((claimed, _)) = self.claimed.get(&owner) else {
            return Ok(());
        };
        let attempt = claimed.attempt;
        let applied = self.change(&RunChange::Renew {
            now: self.now,
            attempt,
            claim: Claim {
                owner,
                lease_ms: LEASE_MS,
            },
        })?;
        if applied.result != ChangeResult::Renewed(true) {
            return Ok(());
        }
        match &mut self.live {
            Some(live) if live.owner == owner && live.attempt == attempt => {
                live.lease_until = self.now + LEASE_MS;
                Ok(())
            }
            _ => Err(format!(
                "{owner} renewed a claim on attempt {attempt} it does not hold"
            )),
        }
    }

    /// A decision on evidence: it changes the run only for the live claimant, a re-run
    /// renews its lease, a skip closes the attempt for good.
    fn decide(&mut self, owner: u64, broken: bool) -> Result<(), String> {
        let Some((claimed, _)) = self.claimed.get(&owner) else {
            return Ok(());
        };
        let attempt = claimed.attempt;
        let evidence: Vec<crate::policy::JobEvidence> = claimed
            .evidence_jobs
            .iter()
            .map(|job| job.id)
            .chain(self.state.iter().flat_map(|s| s.jobs.iter().map(|j| j.id)))
            .map(|job| crate::policy::JobEvidence {
                job,
                annotations: crate::policy::Fetched::Got(Vec::new()),
                log: crate::policy::Fetched::Got(if broken { "broken" } else { "fine" }.into()),
            })
            .collect();
        let rules = crate::policy::parse(
            "[defaults]\nbranches = [\"*\"]\nattempts = 51\nnever_when = ['broken']\n",
            crate::policy::PolicySource::Inline,
            &crate::policy::EnvDefaults::default(),
        )
        .map_err(|err| format!("the checker's policy: {err}"))?;
        let judged = crate::policy::judge(
            rules.rule_for(self.key.repo.as_str(), "CI"),
            &evidence,
            &mut crate::policy::Unbounded,
        );
        let policy = RunConfig {
            rules: Some(Arc::new(rules)),
            ..RunConfig::default()
        };
        let applied = self.change(&RunChange::Decide {
            now: self.now,
            attempt,
            claim: Claim {
                owner,
                lease_ms: LEASE_MS,
            },
            repo: self.key.repo.to_string(),
            workflow: "CI".into(),
            listed: None,
            judged: Some(Arc::new(judged)),
            hold_until: None,
            cost: Default::default(),
            policy,
        })?;
        let ChangeResult::Decided { claimed, decision } = applied.result else {
            return Err(format!("Decide answered {:?}", applied.result));
        };
        if applied.persist == Persist::Unchanged {
            return Ok(());
        }
        let holds =
            matches!(self.live, Some(live) if live.owner == owner && live.attempt == attempt);
        if !holds {
            return Err(format!(
                "{owner} decided attempt {attempt}'s re-run without holding its claim"
            ));
        }
        if self.started.contains(&(self.generation, attempt)) {
            return Err(format!("{owner} decided attempt {attempt} after `started`"));
        }
        match (claimed, decision) {
            (Some(_), _) => {
                if let Some(live) = &mut self.live {
                    live.lease_until = self.now + LEASE_MS;
                }
            }
            (None, Some(_)) => {
                self.live = None;
                let skipped = (self.generation, attempt);
                if !self.skipped.contains(&skipped) {
                    self.skipped.push(skipped);
                }
            }
            (None, None) => return Err("a saved decision that decided nothing".into()),
        }
        Ok(())
    }

    fn record(&mut self, owner: u64, outcome: &RerunOutcome) -> Result<(), String> {
        let claimed = match self.claimed.get(&owner) {
            Some((claimed, _)) => claimed.clone(),
            None => ClaimedRerun {
                attempt: self.state.as_ref().map_or(1, |s| s.attempt),
                decided_by: None,
                failed_jobs: Vec::new(),
                evidence_jobs: Vec::new(),
                next: crate::run::NextStep::Post,
                debug_logging: false,
                installation: None,
            },
        };
        let before = self.state.as_ref().map(|state| state.rerun.clone());
        // Any answer for the current attempt counts the claims afresh.
        if self.state.as_ref().map(|s| s.attempt) == Some(claimed.attempt) {
            self.unrecorded_since = None;
        }
        let applied = self.change(&RunChange::Record {
            now: self.now,
            claimed: claimed.clone(),
            owner,
            outcome: outcome.clone(),
            retry: RETRY,
        })?;
        // A stale claimant's answer may be saved (it counts the claims afresh), but it
        // must leave the re-run as it was.
        let after = applied.state.as_ref().map(|state| state.rerun.clone());
        if applied.persist != Persist::Save || after == before {
            return Ok(());
        }
        match self.live {
            Some(live) if live.owner == owner && live.attempt == claimed.attempt => {}
            _ => {
                return Err(format!(
                    "{owner}'s answer for attempt {} was recorded without its claim",
                    claimed.attempt
                ));
            }
        }
        self.live = None;
        if *outcome == RerunOutcome::Started {
            let done = (self.generation, claimed.attempt);
            if self.started.contains(&done) {
                return Err(format!("attempt {} started twice", claimed.attempt));
            }
            self.started.push(done);
        }
        Ok(())
    }

    fn check_codec(&self) -> Result<(), String> {
        let Some(state) = &self.state else {
            return Ok(());
        };
        let encoded =
            crate::store::codec::encode_state(&self.key, state).map_err(|e| e.to_string())?;
        let decoded =
            crate::store::codec::decode_state(&self.key, &encoded).map_err(|e| e.to_string())?;
        if decoded != *state {
            return Err(format!("the state changed through JSON: {encoded}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
