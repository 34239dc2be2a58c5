//! One workflow run's state and its transitions. Pure: time comes in as an argument,
//! effects (commit, timers, replies) go out in a [`EventVerdict`].

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::teaching::{Failure, Lesson};
use super::{Conclusion, JobAction, JobEvent, Name, RerunOutcome};
use crate::ids::{CommitSha, InstallationId, JobId};
use crate::policy::{self, Decision, History};

/// One job of the current attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedJob {
    /// The job's id.
    pub id: JobId,
    /// The job's name, for logs and the flaky-job report.
    pub name: Name,
    /// `None` while the job is unfinished.
    pub conclusion: Option<Conclusion>,
    /// Whether its completion listed any step (see [`JobEvent::ran_steps`]). Rows
    /// stored before this field existed read as true: they never become `not_started`.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub ran_steps: bool,
    /// The names of its failed steps, from its completion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_steps: Vec<Name>,
    /// How long it ran, ms, from its completion (see [`JobEvent::ran_ms`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_ms: Option<u64>,
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl TrackedJob {
    fn new(event: &JobEvent, conclusion: Option<Conclusion>) -> Self {
        let completed = conclusion.is_some();
        Self {
            id: event.job_id,
            name: event.job_name.clone(),
            conclusion,
            ran_steps: !completed || event.ran_steps,
            failed_steps: if completed {
                event.failed_steps.clone()
            } else {
                Vec::new()
            },
            ran_ms: event.ran_ms,
        }
    }
}

/// Where the current attempt's re-run stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RerunState {
    /// Nothing decided.
    Idle,
    /// Decided; the call is due at `due_at` (unix ms) unless a new job of the attempt shows up first.
    Scheduled {
        /// When the re-run call is due, in unix milliseconds.
        due_at: u64,
        /// The delivery that completed the run, to trace the webhook to its API call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decided_by: Option<String>,
        /// The policy's decision needs the failed jobs' annotations and logs: the
        /// GitHub actor fetches them and decides with them before it re-runs
        /// (`policy::decide_with_evidence`).
        #[serde(default, skip_serializing_if = "is_false")]
        needs_evidence: bool,
        /// Ask GitHub for debug logs (`debug_last_attempt` on the last re-run).
        #[serde(default, skip_serializing_if = "is_false")]
        debug_logging: bool,
    },
    /// Claimed by one process, whose GitHub actor is performing it. Another process may
    /// take it over only once the lease ran out (the claimant died).
    InFlight {
        /// The claiming process's instance id.
        owner: u64,
        /// Unix ms until which the claim holds.
        lease_until: u64,
        /// As in `Scheduled`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decided_by: Option<String>,
        /// As in `Scheduled`.
        #[serde(default, skip_serializing_if = "is_false")]
        needs_evidence: bool,
        /// As in `Scheduled`.
        #[serde(default, skip_serializing_if = "is_false")]
        debug_logging: bool,
    },
    /// The GitHub actor answered.
    Done {
        /// Its answer.
        outcome: RerunOutcome,
    },
}

/// What the tracker must do with its re-run timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerChange {
    /// Leave it as it is.
    Keep,
    /// Arm it to fire at this unix-ms instant (replacing any armed one).
    Arm(u64),
    /// Disarm it: the run is not finished after all, or a newer attempt started.
    Cancel,
}

/// What a job's completion settles about the previous attempt (see `outcome_of`):
/// the fields of [`EventVerdict`] of the same names.
#[derive(Default)]
struct Settled {
    flaky: Option<String>,
    failed_again: Option<String>,
    lesson: Option<Lesson>,
    effect: Option<RerunEffect>,
}

const NO_RECORD: &str = "job completed for a run with no earlier record";

/// What an event of an attempt its rule will not re-run is answered (204): the door
/// says it without reading the run, or the run says it after the event's outcome
/// taught what it could ([`JobEvent::beyond_attempts`]).
pub const RULE_ATTEMPTS_REACHED: &str = super::BeyondAttempts::RuleAttempts.reason();

/// The HTTP answer to one event: status code and a one-line reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// 200, 201, 202 or 404 (docs/spec.md's table).
    pub status: u16,
    /// Why, in a few words, one line; also logged.
    pub reason: Cow<'static, str>,
}

impl Reply {
    const fn new(status: u16, reason: &'static str) -> Self {
        Self {
            status,
            reason: Cow::Borrowed(reason),
        }
    }

    /// The answer to a delivery answered before (same `X-GitHub-Delivery`): its status again.
    pub fn redelivered(status: u16) -> Self {
        Self::new(status, "redelivery of an answered event")
    }
}

/// Everything one event decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventVerdict {
    /// The answer for GitHub.
    pub reply: Reply,
    /// Whether the state changed and must be committed before answering.
    pub changed: bool,
    /// What to do with the re-run timer once committed.
    pub timer: TimerChange,
    /// A job that failed, was re-run automatically and now passed: a flaky job.
    pub flaky: Option<String>,
    /// A job that failed, was re-run automatically and failed again: the re-run did
    /// not help (what `stop_when_useless` reads).
    pub failed_again: Option<String>,
    /// A judged failure of the previous attempt that this job's outcome settled,
    /// whoever re-ran it: what learning counts.
    pub lesson: Option<Lesson>,
    /// This job completed in an attempt the service re-ran: what it cost, and
    /// whether it made the run green.
    pub effect: Option<RerunEffect>,
    /// The failure policy's decision, when this event made one (the run's last job
    /// completed with a failure on an eligible branch).
    pub decision: Option<Decided>,
}

impl EventVerdict {
    /// An answer that changes nothing and settles nothing.
    pub fn unchanged(reply: Reply) -> Self {
        Self {
            reply,
            changed: false,
            timer: TimerChange::Keep,
            flaky: None,
            failed_again: None,
            lesson: None,
            effect: None,
            decision: None,
        }
    }
}

/// What one job of an attempt the service re-ran says about that re-run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RerunEffect {
    /// The attempt that was re-run (this one is the next).
    pub attempt: u32,
    /// How long the job ran: runner time the re-run spent.
    pub ran_ms: Option<u64>,
    /// Its pass was the last of the jobs the service re-ran, none failed again: the
    /// re-run turned the run green.
    pub turned_green: bool,
}

/// What the policy decided when the run completed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decided {
    /// Decided without a GitHub call: re-run (scheduled), skip or shadow.
    Now(Decision),
    /// The rule has patterns: scheduled, to be decided on evidence when due.
    NeedsEvidence {
        /// The wait before the evidence is fetched and the decision made.
        delay_ms: u64,
    },
}

impl Decided {
    /// The decision, when one was made.
    pub fn into_decision(self) -> Option<Decision> {
        match self {
            Decided::Now(decision) => Some(decision),
            Decided::NeedsEvidence { .. } => None,
        }
    }
}

/// What a claimed re-run is decided on: each failed job's judged evidence, and
/// until when a storm holds it.
#[derive(Clone, Copy, Debug)]
pub struct Evidence<'a> {
    /// The judgements, by job id.
    pub judged: &'a [policy::JobJudgement],
    /// A storm holds a re-run until then (unix ms).
    pub hold_until: Option<u64>,
}

/// Who claims a due re-run, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// This process's instance id.
    pub owner: u64,
    /// How long a claim holds before another process may take the re-run over.
    pub lease_ms: u64,
}

/// A claimed re-run: what the GitHub actor needs and what the record keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedRerun {
    /// The attempt to re-run.
    pub attempt: u32,
    /// The delivery that decided it.
    pub decided_by: Option<String>,
    /// Names of the attempt's failed jobs.
    pub failed_jobs: Vec<String>,
    /// The attempt's failed jobs (id and name), whose evidence is gathered when the
    /// decision needs it (empty otherwise).
    pub evidence_jobs: Vec<policy::JobRef>,
    /// What the claimant does next: gather what the decision needs, or POST.
    pub next: NextStep,
    /// Send `{"enable_debug_logging": true}` with the POST.
    pub debug_logging: bool,
    /// The App installation whose token re-runs it (and fetches its evidence);
    /// `None`: `GITHUB_TOKEN`.
    pub installation: Option<InstallationId>,
}

/// What the claimant of a re-run does next. The path goes one way: a claim that still
/// needs something from GitHub gathers all of it in one request and decides in one
/// commit (`RunChange::Decide`), which hands back a claim whose next step is the POST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// Ask GitHub for what the decision needs, then decide on it in one commit.
    Gather {
        /// The attempt's jobs, listed first: their deliveries were lost (see
        /// [`RunState::needs_jobs`]); the failed ones' evidence comes with them when
        /// the rule reads it.
        list_jobs: bool,
        /// The failed jobs' annotations and logs (`evidence_jobs`): the rule has
        /// patterns (see [`RerunState::Scheduled`]).
        evidence: bool,
    },
    /// The re-run is decided: POST it, behind the claim's guard.
    Post,
}

impl ClaimedRerun {
    /// The attempt's jobs are to be listed from GitHub before the decision.
    pub fn needs_jobs(&self) -> bool {
        matches!(
            self.next,
            NextStep::Gather {
                list_jobs: true,
                ..
            }
        )
    }

    /// The failed jobs' evidence is to be gathered before the decision.
    pub fn needs_evidence(&self) -> bool {
        matches!(self.next, NextStep::Gather { evidence: true, .. })
    }
}

/// When a re-run whose answer settled nothing is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait before looking again at a run GitHub still showed in progress.
    pub still_running_every_ms: u64,
    /// How many times in all a re-run is scheduled again.
    pub still_running_tries: u32,
    /// First wait after the GitHub actor gave up (an outage); doubles each time.
    pub gave_up_first_ms: u64,
    /// Longest such wait.
    pub gave_up_max_ms: u64,
    /// How many times a re-run is scheduled again after the GitHub actor gave up.
    pub gave_up_tries: u32,
}

/// What the run logic is told about the service's configuration.
#[derive(Clone, Debug, Default)]
pub struct RunConfig {
    /// Milliseconds between a run looking finished and the re-run call (without `rules`).
    pub rerun_delay_ms: u64,
    /// Whether the run's branch is in `REPO_BRANCHES` (without `rules`).
    pub branch_eligible: bool,
    /// The failure policy in force (the environment's defaults when no `RULES` or
    /// `RULES_FILE` is set): when present it decides, through
    /// [`policy::decide_at_completion`] with the rule [`policy::Policy::rule_for`] gives
    /// the run, and the two fields above are not read. `None` (unit tests of the run
    /// logic alone): today's rules and the built-in one, a failed job that ran no step
    /// is never re-run.
    pub rules: Option<Arc<policy::Policy>>,
    /// What the store remembers of the repository's recent re-runs (read in the
    /// change's transaction when the rule needs it, see `RunChange::wants_history`).
    pub history: History,
}

/// How a run stands once an event has been applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// Only a completion is known: the run had no record when it arrived.
    Unconfirmed,
    /// Some jobs have not finished.
    Unfinished,
    /// Every job finished and none failed.
    Passed,
    /// GitHub concluded the run as something other than a failure (`workflow_run`).
    ConcludedOk,
    /// Some job failed, but the branch is not in `REPO_BRANCHES`.
    Ineligible,
    /// Some job failed, but the policy's `attempts` are used up.
    AttemptsUsed,
    /// Some job failed and this event decided, for good, not to re-run it (shadow
    /// mode included).
    Skipped,
    /// Some job failed and the attempt's re-run was skipped by an earlier event.
    AlreadySkipped,
    /// Some job failed and this event scheduled the re-run.
    Rerun,
    /// Some job failed and the attempt's re-run was already scheduled, under way or done.
    AlreadyRerun,
}

/// What the first event of a run (a job's or the run's own end) says about it.
pub(super) struct FirstSeen<'a> {
    pub(super) branch: &'a Name,
    pub(super) workflow: &'a Name,
    pub(super) attempt: u32,
    pub(super) installation: Option<InstallationId>,
    pub(super) head_sha: Option<CommitSha>,
}

/// A tracked workflow run: its current attempt, that attempt's jobs and its re-run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    /// `head_branch`.
    pub branch: Name,
    /// `workflow_name`.
    pub workflow: Name,
    /// The newest attempt seen; events of older attempts are ignored.
    pub attempt: u32,
    /// The jobs of `attempt`, in the order first seen.
    pub jobs: Vec<TrackedJob>,
    /// The re-run of `attempt`.
    pub rerun: RerunState,
    /// How many times the attempt's re-run was scheduled again after an answer that
    /// settled nothing.
    #[serde(default)]
    pub retries: u32,
    /// Claims of the attempt's re-run since an outcome was last recorded for it: a
    /// claim whose outcome cannot be recorded (the store refuses the record) would
    /// otherwise be taken up again after every lease, forever. See
    /// [`MAX_UNRECORDED_CLAIMS`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub claims: u32,
    /// When the first of those claims was made, unix ms (`None` while `claims` is 0,
    /// and in rows written before it was kept). The bound is on time as well as on
    /// count: a live claimant whose GitHub actor is paused by a rate limit loses its
    /// lease again and again, and that is no reason to give a healthy re-run up. See
    /// [`unrecorded_claims_exhausted`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_unrecorded_claim_at: Option<u64>,
    /// Names of the jobs that failed in the previous attempt, which this service re-ran
    /// and which have not passed yet in this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rerun_failed: Vec<String>,
    /// False while the only thing known is a completion that arrived with no earlier
    /// record (answered 404): such a run is kept, so that a late `queued` puts it right,
    /// but it is not re-run on that completion alone.
    pub confirmed: bool,
    /// When the run was first seen, unix ms.
    pub first_seen_at: u64,
    /// When the last event arrived, unix ms.
    pub last_event_at: u64,
    /// The deliveries that changed this run, newest last: each a 48-bit hash of the
    /// `X-GitHub-Delivery` id and the status it was answered with (see [`answer_token`]).
    /// A redelivery carries the same run, so the run's own row is where it is
    /// recognised: one row read, no delivery table, no index to keep. Stored as one
    /// base64 string (11 characters a delivery).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "answers::tokens"
    )]
    pub answered: Vec<u64>,
    /// How the current attempt ended, in GitHub's own word (`workflow_run.completed`):
    /// once known, the run is finished (no late `needs:` job is waited for) and a
    /// conclusion that is not a failure means no re-run, whatever the jobs said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_conclusion: Option<Conclusion>,
    /// The scheduled re-run was decided on `workflow_run.completed` for a run whose
    /// `workflow_job` deliveries were lost (all or some): when claimed, the attempt's
    /// jobs are listed from GitHub first and the re-run decided on them
    /// (`RunState::decide_on_jobs`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub needs_jobs: bool,
    /// The GitHub App installation the run's deliveries came from (the latest that
    /// named one), so that its re-run uses that installation's token whoever performs
    /// it, after a restart too. `None` (rows written before it was kept, repository
    /// webhooks): `GITHUB_TOKEN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installation: Option<InstallationId>,
    /// The run's commit (`head_sha`), where its decisions are reported as check runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<CommitSha>,
    /// The line a re-run of the current attempt was decided on, when the policy gave
    /// one (an `only_when` or `@infra` match, masked, at most 200 characters), so that
    /// the check run of the started re-run says why, whoever performs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_evidence: Option<String>,
    /// The current attempt's judged failures (see [`super::teaching`]): set when its
    /// re-run is decided on evidence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Failure>,
    /// The previous attempt's judged failures not settled yet by a job of this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teaching: Vec<Failure>,
    /// Whether the service re-ran the previous attempt (false: a person did).
    #[serde(default, skip_serializing_if = "is_false")]
    pub teaching_by_service: bool,
    /// A job the service re-ran failed again in this attempt: the re-run did not turn
    /// the run green.
    #[serde(default, skip_serializing_if = "is_false")]
    pub rerun_failed_again: bool,
}

/// How many times the re-run of one attempt is claimed without an outcome recorded
/// before the next due claim may give it up (`Done` with `gave_up`) instead; it does
/// once [`UNRECORDED_CLAIMS_FOR_MS`] has passed as well.
pub const MAX_UNRECORDED_CLAIMS: u32 = 5;

/// The least time since the first unrecorded claim before a re-run is given up: longer
/// than GitHub's rate-limit pause (up to an hour), so that claims taken over from live
/// but paused claimants do not give a healthy re-run up.
pub const UNRECORDED_CLAIMS_FOR_MS: u64 = 2 * 60 * 60 * 1000;

/// Whether the next due claim of `state`'s re-run gives it up: claimed
/// [`MAX_UNRECORDED_CLAIMS`] times with no outcome recorded, the first of them longer
/// ago than `max(MAX_UNRECORDED_CLAIMS × lease, UNRECORDED_CLAIMS_FOR_MS)`. Pure: `now`
/// and the lease come in. A row without `first_unrecorded_claim_at` (written before it
/// was kept) is not given up; its next claim starts the clock.
pub fn unrecorded_claims_exhausted(state: &RunState, now: u64, lease_ms: u64) -> bool {
    let bound = lease_ms
        .saturating_mul(u64::from(MAX_UNRECORDED_CLAIMS))
        .max(UNRECORDED_CLAIMS_FOR_MS);
    state.claims >= MAX_UNRECORDED_CLAIMS
        && state
            .first_unrecorded_claim_at
            .is_some_and(|first| now.saturating_sub(first) >= bound)
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

mod answers;
mod apply;
mod rerun;

pub use answers::ANSWERS_KEPT;

#[cfg(test)]
impl RunState {
    /// A run for tests elsewhere in the crate: workflow `CI` on `main`, attempt 1,
    /// one failed job `test` (id 70), first seen at 1 s, last event at 2 s, and this
    /// re-run.
    pub(crate) fn one_failed_job(rerun: RerunState) -> Self {
        RunState {
            branch: "main".into(),
            workflow: "CI".into(),
            attempt: 1,
            jobs: vec![TrackedJob {
                id: crate::ids::JobId(70),
                name: "test".into(),
                conclusion: Some(Conclusion::Failure),
                ran_steps: true,
                failed_steps: Vec::new(),
                ran_ms: None,
            }],
            rerun,
            retries: 0,
            claims: 0,
            first_unrecorded_claim_at: None,
            rerun_failed: Vec::new(),
            confirmed: true,
            first_seen_at: 1_000,
            last_event_at: 2_000,
            answered: Vec::new(),
            run_conclusion: None,
            needs_jobs: false,
            installation: None,
            head_sha: None,
            rerun_evidence: None,
            failures: Vec::new(),
            teaching: Vec::new(),
            teaching_by_service: false,
            rerun_failed_again: false,
        }
    }
}

#[cfg(test)]
mod tests;
