//! One workflow run's state and its transitions. Pure: time comes in as an argument,
//! effects (commit, timers, replies) go out in a [`Verdict`].

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::teaching::{Failure, Lesson, failures_of};
use super::{Conclusion, JobAction, JobEvent, Name, RerunOutcome};
use crate::ids::{CommitSha, InstallationId, JobId};
use crate::policy::{self, AtCompletion, Decision, History, Ineligible, JobFacts, RunFacts};

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

/// What a job's completion says about the previous attempt (see `outcome_of`).
type Outcome = (
    Option<String>,
    Option<String>,
    Option<Lesson>,
    Option<RerunEffect>,
);

const NO_RECORD: &str = "job completed for a run with no earlier record";

/// What an event of an attempt its rule will not re-run is answered (204): the door
/// says it without reading the run, or the run says it after the event's outcome
/// taught what it could ([`JobEvent::beyond_attempts`]).
pub const RULE_ATTEMPTS_REACHED: &str = super::BeyondAttempts::RuleAttempts.reason();

/// The HTTP answer to one event: status code and a one-line reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// 200, 201, 202 or 404 (SPEC.md's table).
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
pub struct Verdict {
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

impl Verdict {
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
    /// The attempt's failed jobs (id and name), whose evidence is fetched when
    /// `needs_evidence` (empty otherwise).
    pub evidence_jobs: Vec<policy::JobRef>,
    /// The decision needs evidence first (see [`RerunState::Scheduled`]).
    pub needs_evidence: bool,
    /// Send `{"enable_debug_logging": true}` with the POST.
    pub debug_logging: bool,
    /// The attempt's jobs are to be listed from GitHub first, and the re-run decided on
    /// them (see [`RunState::needs_jobs`]).
    pub needs_jobs: bool,
    /// The App installation whose token re-runs it (and fetches its evidence);
    /// `None`: `GITHUB_TOKEN`.
    pub installation: Option<InstallationId>,
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
pub struct Policy {
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
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "tokens")]
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

/// How many answered deliveries a run remembers beyond two per job of its current
/// attempt. A job changes its run at most twice (first seen, completed), so every
/// delivery of the current attempt is kept, and this many of the previous attempts
/// (among them the one that decided the previous attempt's re-run).
pub const ANSWERS_KEPT: usize = 32;

/// `answered` as one base64 string of big-endian 8-byte tokens: a run of many jobs keeps
/// hundreds, and a list of 20-digit numbers would double the row.
mod tokens {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(tokens: &[u64], serializer: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = tokens
            .iter()
            .flat_map(|token| token.to_be_bytes())
            .collect();
        serializer.serialize_str(&STANDARD_NO_PAD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u64>, D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = STANDARD_NO_PAD
            .decode(text.as_bytes())
            .map_err(|err| D::Error::custom(format!("answered: {err}")))?;
        if bytes.len() % 8 != 0 {
            return Err(D::Error::custom("answered: not a whole number of tokens"));
        }
        Ok(bytes
            .chunks_exact(8)
            .map(|chunk| {
                let mut token = [0; 8];
                token.copy_from_slice(chunk);
                u64::from_be_bytes(token)
            })
            .collect())
    }
}

/// A delivery id's 64-bit FNV-1a hash. Among the ids one run remembers (a few hundred
/// for the biggest matrices), a collision of even 48 bits is not a practical concern.
fn delivery_hash(delivery: &str) -> u64 {
    delivery.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One remembered answer: the delivery's hash in the high 48 bits, the status in the
/// low 16, so that a run keeps 8 bytes per delivery.
fn answer_token(delivery: &str, status: u16) -> u64 {
    (delivery_hash(delivery) & !0xFFFF) | u64::from(status)
}

impl RunState {
    /// The status `delivery` was answered with, if it changed this run before.
    pub fn answered(&self, delivery: &str) -> Option<u16> {
        let wanted = answer_token(delivery, 0);
        self.answered
            .iter()
            .rev()
            .find(|token| *token & !0xFFFF == wanted)
            .map(|token| (token & 0xFFFF) as u16)
    }

    /// Remembers that `delivery` changed this run and was answered `status`.
    pub fn remember_answer(&mut self, delivery: &str, status: u16) {
        let kept = 2 * self.jobs.len() + ANSWERS_KEPT;
        if self.answered.len() >= kept {
            let extra = self.answered.len() + 1 - kept;
            self.answered.drain(..extra);
        }
        self.answered.push(answer_token(delivery, status));
    }

    /// A run first seen at `now`, by an event naming its branch, workflow, attempt,
    /// installation and commit: no job, no re-run, nothing answered yet.
    pub(super) fn fresh(seen: FirstSeen<'_>, now: u64) -> Self {
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
    pub fn first_event(event: &JobEvent, now: u64, policy: &Policy) -> (Self, Verdict) {
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
                Verdict {
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
    pub fn apply(&mut self, event: &JobEvent, now: u64, policy: &Policy) -> Verdict {
        if event.run_attempt < self.attempt {
            let reply = match event.action {
                JobAction::Unfinished => Reply::new(202, "event of an older attempt; ignored"),
                JobAction::Completed(_) => Reply::new(200, "event of an older attempt; ignored"),
            };
            return Verdict::unchanged(reply);
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
        let (flaky, failed_again, lesson, effect) = if changed {
            self.outcome_of(event)
        } else {
            (None, None, None, None)
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
        Verdict {
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
    fn outcome_of(&mut self, event: &JobEvent) -> Outcome {
        let JobAction::Completed(conclusion) = event.action else {
            return (None, None, None, None);
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
        (flaky, failed_again, lesson, effect)
    }

    /// An event of an attempt its rule never re-runs ([`JobEvent::beyond_attempts`]):
    /// its job is not tracked, but its outcome still settles the previous attempt's
    /// failures. Answered 204, like the door's own refusal.
    fn teach(&mut self, event: &JobEvent, why: &'static str, now: u64) -> Verdict {
        let mut timer = TimerChange::Keep;
        let mut changed = false;
        if event.run_attempt > self.attempt {
            timer = self.start_attempt(event.run_attempt);
            changed = true;
        }
        let (flaky, failed_again, lesson, effect) = self.outcome_of(event);
        changed |=
            flaky.is_some() || failed_again.is_some() || lesson.is_some() || effect.is_some();
        if changed {
            self.last_event_at = now;
        }
        Verdict {
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
    pub fn beyond_attempts_unrecorded(why: &'static str) -> Verdict {
        Verdict::unchanged(Reply::new(204, why))
    }

    /// Starts attempt `attempt` afresh (a newer one than the run's), keeping what the
    /// flaky-job report needs of the old one; says what becomes of the re-run timer.
    pub(super) fn start_attempt(&mut self, attempt: u32) -> TimerChange {
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
    pub(super) fn completion_reply(&self, finish: Finish) -> Reply {
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
    pub(super) fn finish(
        &mut self,
        repo: &str,
        now: u64,
        policy: &Policy,
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
    pub(super) fn skip(
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
    pub(super) fn job_facts(&self) -> Vec<JobFacts> {
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

    /// Claims the re-run for `claim.owner` if it is due: scheduled and past its due time,
    /// or claimed by a process whose lease ran out. Returns what to perform.
    /// Counts the claim in `claims` (and notes when the first of them was made).
    pub fn claim(&mut self, now: u64, claim: &Claim) -> Option<ClaimedRerun> {
        let decided_by = self.claimable(now)?.clone();
        let (needs_evidence, debug_logging) = self.rerun_flags();
        self.claims = self.claims.saturating_add(1);
        if self.first_unrecorded_claim_at.is_none() {
            self.first_unrecorded_claim_at = Some(now);
        }
        Some(self.hold(now, claim, decided_by, needs_evidence, debug_logging))
    }

    /// Holds the re-run for `claim.owner` (`InFlight` until its lease ends) and says
    /// what that owner is to do with it: list the jobs, fetch evidence, or POST.
    pub(super) fn hold(
        &mut self,
        now: u64,
        claim: &Claim,
        decided_by: Option<String>,
        needs_evidence: bool,
        debug_logging: bool,
    ) -> ClaimedRerun {
        self.rerun = RerunState::InFlight {
            owner: claim.owner,
            lease_until: now.saturating_add(claim.lease_ms),
            decided_by: decided_by.clone(),
            needs_evidence,
            debug_logging,
        };
        ClaimedRerun {
            attempt: self.attempt,
            decided_by,
            failed_jobs: self.failed_job_names(),
            evidence_jobs: if needs_evidence {
                self.failed_job_refs()
            } else {
                Vec::new()
            },
            needs_evidence,
            debug_logging,
            needs_jobs: self.needs_jobs,
            installation: self.installation,
        }
    }

    /// The current attempt's failed jobs, id and name.
    pub(super) fn failed_job_refs(&self) -> Vec<policy::JobRef> {
        self.jobs
            .iter()
            .filter(|job| job.conclusion.is_some_and(Conclusion::is_failure))
            .map(|job| policy::JobRef {
                id: job.id,
                name: job.name.clone(),
            })
            .collect()
    }

    /// Decides `claim.owner`'s claimed re-run of `attempt` on the failed jobs'
    /// `evidence` (`policy::decide_with_evidence`, with the run's `rule` and the
    /// repository's `history`). A re-run keeps the claim (its lease renewed, the
    /// decision kept: a claim taken up again after a restart POSTs without fetching
    /// again) and is returned to be performed; a skip (or shadow) closes the attempt
    /// as `Done{Skipped}`. `None` when the claim is no longer this owner's (another
    /// process took it over, or a newer attempt started): nothing changes.
    pub fn decide_on_evidence(
        &mut self,
        now: u64,
        attempt: u32,
        claim: &Claim,
        rule: &policy::Rule,
        history: &History,
        evidence: Evidence<'_>,
    ) -> Option<(Option<Decision>, Option<ClaimedRerun>)> {
        let judged = evidence.judged;
        let RerunState::InFlight {
            owner, decided_by, ..
        } = &self.rerun
        else {
            return None;
        };
        // A re-run decided on `workflow_run` lists its jobs before anything else.
        if *owner != claim.owner || attempt != self.attempt || self.needs_jobs {
            return None;
        }
        let decided_by = decided_by.clone();
        let jobs = self.job_facts();
        let facts = RunFacts {
            workflow: &self.workflow,
            branch: &self.branch,
            attempt: self.attempt,
            jobs: &jobs,
        };
        // Ineligible now (a reload changed the branches or attempts since the run
        // completed): the decision made at completion stands, the re-run goes ahead.
        let decision = policy::decide_on_judgements(&facts, history, rule, judged).ok();
        self.failures = failures_of(judged, &self.jobs);
        let debug_logging = match decision.as_ref().map(|d| &d.verdict) {
            // A storm holds it: decided again, on fresh evidence, when the hold ends.
            Some(policy::Verdict::Rerun(plan)) if evidence.hold_until.is_some_and(|t| t > now) => {
                self.rerun = RerunState::Scheduled {
                    due_at: evidence.hold_until.unwrap_or(now),
                    decided_by,
                    needs_evidence: true,
                    debug_logging: plan.debug_logging,
                };
                self.claims = 0;
                self.first_unrecorded_claim_at = None;
                return Some((None, None));
            }
            Some(policy::Verdict::Rerun(plan)) => {
                self.rerun_evidence = decision.as_ref().and_then(|d| d.evidence.clone());
                plan.debug_logging
            }
            None => false,
            Some(policy::Verdict::Skip { .. } | policy::Verdict::Shadow(_)) => {
                let decision = decision.clone()?;
                let (mut changed, mut decided) = (false, None);
                self.skip(decision, &mut changed, &mut decided);
                self.claims = 0;
                self.first_unrecorded_claim_at = None;
                return Some((decided.and_then(Decided::into_decision), None));
            }
        };
        // `needs_jobs` is false here (checked above): the claim goes on to the POST.
        let claimed = self.hold(now, claim, decided_by, false, debug_logging);
        Some((decision, Some(claimed)))
    }

    /// `needs_evidence` and `debug_logging` of a decided re-run (false otherwise).
    pub(super) fn rerun_flags(&self) -> (bool, bool) {
        match &self.rerun {
            RerunState::Scheduled {
                needs_evidence,
                debug_logging,
                ..
            }
            | RerunState::InFlight {
                needs_evidence,
                debug_logging,
                ..
            } => (*needs_evidence, *debug_logging),
            _ => (false, false),
        }
    }

    /// Whether the re-run can be claimed at `now` (scheduled and due, or claimed and
    /// its lease ran out); if so, the delivery that decided it.
    pub fn claimable(&self, now: u64) -> Option<&Option<String>> {
        match &self.rerun {
            RerunState::Scheduled {
                due_at, decided_by, ..
            } if *due_at <= now => Some(decided_by),
            RerunState::InFlight {
                lease_until,
                decided_by,
                ..
            } if *lease_until <= now => Some(decided_by),
            _ => None,
        }
    }

    /// Extends `claim.owner`'s claim on `attempt`'s re-run; false when it is no longer
    /// theirs (another process took it over, or a newer attempt started).
    pub fn renew(&mut self, now: u64, attempt: u32, claim: &Claim) -> bool {
        match &mut self.rerun {
            RerunState::InFlight {
                owner, lease_until, ..
            } if *owner == claim.owner && attempt == self.attempt => {
                *lease_until = now.saturating_add(claim.lease_ms);
                true
            }
            _ => false,
        }
    }

    /// Records the GitHub actor's answer for `attempt`, performed by `owner`. False
    /// (nothing changes) when a newer attempt started or another process took it over.
    /// An answer that settles nothing (the run still in progress, GitHub unreachable)
    /// schedules the re-run again, as `retry` says, so that it is never forgotten.
    pub fn record_outcome(
        &mut self,
        attempt: u32,
        owner: u64,
        outcome: RerunOutcome,
        now: u64,
        retry: &RetryPolicy,
    ) -> bool {
        // Any answer for the attempt (even one from a claimant that lost the claim)
        // shows that answers are recorded: the claims are counted afresh.
        let counted = attempt == self.attempt && self.claims > 0;
        if counted {
            self.claims = 0;
            self.first_unrecorded_claim_at = None;
        }
        let (needs_evidence, debug_logging) = self.rerun_flags();
        let decided_by = match &self.rerun {
            RerunState::InFlight {
                owner: claimant,
                decided_by,
                ..
            } if *claimant == owner && attempt == self.attempt => decided_by.clone(),
            _ => return counted,
        };
        let again_in = match outcome {
            RerunOutcome::StillRunning if self.retries < retry.still_running_tries => {
                Some(retry.still_running_every_ms)
            }
            RerunOutcome::GaveUp { .. } if self.retries < retry.gave_up_tries => Some(
                retry
                    .gave_up_first_ms
                    .saturating_mul(1 << self.retries.min(16))
                    .min(retry.gave_up_max_ms),
            ),
            _ => None,
        };
        self.rerun = match again_in {
            Some(wait) => {
                self.retries += 1;
                RerunState::Scheduled {
                    due_at: now.saturating_add(wait),
                    decided_by,
                    needs_evidence,
                    debug_logging,
                }
            }
            None => RerunState::Done { outcome },
        };
        true
    }

    /// When a decided re-run needs attention: its due time, or when its claim runs out.
    /// The store indexes this, so that every process finds the re-runs to resume.
    pub fn pending_rerun_at(&self) -> Option<u64> {
        match self.rerun {
            RerunState::Scheduled { due_at, .. } => Some(due_at),
            RerunState::InFlight { lease_until, .. } => Some(lease_until),
            _ => None,
        }
    }

    /// When the run is forgotten for want of events (lost deliveries): `ttl_ms` after its
    /// last event. `None` while a re-run is decided and unanswered: that is never dropped.
    pub fn expires_at(&self, ttl_ms: u64) -> Option<u64> {
        match self.pending_rerun_at() {
            Some(_) => None,
            None => Some(self.last_event_at.saturating_add(ttl_ms)),
        }
    }

    /// Whether the tracker has nothing left to wait for: every job finished and no
    /// re-run pending. Such a tracker may leave memory; its state stays in the store.
    pub fn is_settled(&self) -> bool {
        self.unfinished_jobs() == 0
            && !matches!(
                self.rerun,
                RerunState::Scheduled { .. } | RerunState::InFlight { .. }
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{RepoName, RunId, RunKey};

    const DELAY: u64 = 5_000;
    const OWNER: u64 = 77;
    const CLAIM: Claim = Claim {
        owner: OWNER,
        lease_ms: 60_000,
    };
    const RETRY: RetryPolicy = RetryPolicy {
        still_running_every_ms: 100,
        still_running_tries: 2,
        gave_up_first_ms: 1_000,
        gave_up_max_ms: 3_000,
        gave_up_tries: 3,
    };

    /// Claims the re-run as the timer would once it is due.
    fn take_due(run: &mut RunState) -> Option<u32> {
        run.claim(1_000_000, &CLAIM).map(|claimed| claimed.attempt)
    }

    fn policy() -> Policy {
        Policy {
            rerun_delay_ms: DELAY,
            branch_eligible: true,
            ..Policy::default()
        }
    }

    fn event(job: u64, attempt: u32, action: JobAction) -> JobEvent {
        JobEvent {
            delivery: None,
            run: RunKey {
                repo: RepoName::parse("org/repo").expect("valid"),
                run_id: RunId(7),
            },
            run_attempt: attempt,
            job_id: JobId(job),
            job_name: format!("job-{job}").into(),
            workflow_name: "ci".into(),
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

    fn queued(job: u64) -> JobEvent {
        event(job, 1, JobAction::Unfinished)
    }

    fn completed(job: u64, conclusion: Conclusion) -> JobEvent {
        event(job, 1, JobAction::Completed(conclusion))
    }

    /// A run whose jobs were all queued at t=0.
    fn run_with_jobs(jobs: &[u64]) -> RunState {
        let (mut state, _) = RunState::first_event(&queued(jobs[0]), 0, &policy());
        for &job in &jobs[1..] {
            state.apply(&queued(job), 0, &policy());
        }
        state
    }

    #[test]
    fn the_runs_installation_is_kept_and_goes_with_its_claimed_rerun() {
        let from = |event: JobEvent, id| JobEvent {
            installation: Some(InstallationId(id)),
            ..event
        };
        let (mut run, _) = RunState::first_event(&from(queued(1), 7), 0, &policy());
        assert_eq!(run.installation, Some(InstallationId(7)));
        // A delivery without one (say, a repository webhook as well) leaves it.
        let verdict = run.apply(&completed(1, Conclusion::Failure), 10, &policy());
        assert_eq!(verdict.reply.status, 201);
        assert_eq!(run.installation, Some(InstallationId(7)));
        let claim = Claim {
            owner: 1,
            lease_ms: 1000,
        };
        let claimed = run.claim(u64::MAX / 2, &claim).expect("due");
        assert_eq!(claimed.installation, Some(InstallationId(7)));
        let json = serde_json::to_string(&run).expect("encodes");
        assert!(json.contains(r#""installation":7"#), "{json}");
        let old_row: RunState =
            serde_json::from_str(&json.replace(r#","installation":7"#, "")).expect("decodes");
        assert_eq!(
            old_row.installation, None,
            "rows written before it was kept"
        );
    }

    #[test]
    fn the_last_failed_completion_schedules_one_rerun_after_the_delay() {
        let mut run = run_with_jobs(&[1, 2, 3]);
        assert_eq!(
            run.apply(&completed(1, Conclusion::Success), 10, &policy())
                .reply
                .status,
            202
        );
        assert_eq!(
            run.apply(&completed(2, Conclusion::Failure), 20, &policy())
                .reply
                .status,
            202
        );
        let last = run.apply(&completed(3, Conclusion::Success), 30, &policy());
        assert_eq!(last.reply.status, 201);
        assert!(last.changed);
        assert_eq!(last.timer, TimerChange::Arm(30 + DELAY));
        assert_eq!(run.pending_rerun_at(), Some(30 + DELAY));
    }

    #[test]
    fn a_run_without_failures_answers_200_and_schedules_nothing() {
        let mut run = run_with_jobs(&[1, 2]);
        run.apply(&completed(1, Conclusion::Success), 1, &policy());
        let last = run.apply(&completed(2, Conclusion::Skipped), 2, &policy());
        assert_eq!(last.reply.status, 200);
        assert_eq!(last.timer, TimerChange::Keep);
        assert!(run.is_settled());
    }

    #[test]
    fn cancelled_and_skipped_jobs_do_not_trigger_a_rerun() {
        let mut run = run_with_jobs(&[1, 2]);
        run.apply(&completed(1, Conclusion::Cancelled), 1, &policy());
        assert_eq!(
            run.apply(&completed(2, Conclusion::Skipped), 2, &policy())
                .reply
                .status,
            200
        );
    }

    #[test]
    fn timed_out_counts_as_failed() {
        let mut run = run_with_jobs(&[1]);
        assert_eq!(
            run.apply(&completed(1, Conclusion::TimedOut), 1, &policy())
                .reply
                .status,
            201
        );
    }

    #[test]
    fn an_ineligible_branch_answers_200_without_a_rerun() {
        let mut run = run_with_jobs(&[1]);
        let ineligible = Policy {
            branch_eligible: false,
            ..policy()
        };
        let last = run.apply(&completed(1, Conclusion::Failure), 1, &ineligible);
        assert_eq!(last.reply.status, 200);
        assert_eq!(last.timer, TimerChange::Keep);
        assert_eq!(run.rerun, RerunState::Idle);
    }

    #[test]
    fn a_redelivered_completion_changes_nothing_and_schedules_no_second_rerun() {
        let mut run = run_with_jobs(&[1]);
        let first = run.apply(&completed(1, Conclusion::Failure), 1, &policy());
        let again = run.apply(&completed(1, Conclusion::Failure), 2, &policy());
        assert_eq!(first.reply.status, 201);
        assert_eq!(again.reply.status, 201);
        assert!(!again.changed);
        assert_eq!(again.timer, TimerChange::Keep);
        assert_eq!(
            run.pending_rerun_at(),
            Some(1 + DELAY),
            "the due time must not move"
        );
    }

    #[test]
    fn a_late_queued_for_a_completed_job_does_not_reopen_it() {
        let mut run = run_with_jobs(&[1, 2]);
        run.apply(&completed(1, Conclusion::Failure), 1, &policy());
        run.apply(&completed(2, Conclusion::Success), 2, &policy());
        let late = run.apply(&event(1, 1, JobAction::Unfinished), 3, &policy());
        assert_eq!(late.reply.status, 202);
        assert!(!late.changed);
        assert_eq!(late.timer, TimerChange::Keep);
        assert_eq!(run.unfinished_jobs(), 0);
        assert!(matches!(run.rerun, RerunState::Scheduled { .. }));
    }

    #[test]
    fn a_job_queued_after_the_run_looked_finished_cancels_the_scheduled_rerun() {
        let mut run = run_with_jobs(&[1]);
        run.apply(&completed(1, Conclusion::Failure), 1, &policy());
        let needs = run.apply(&queued(2), 2, &policy());
        assert_eq!(needs.reply.status, 202);
        assert_eq!(needs.timer, TimerChange::Cancel);
        assert_eq!(run.rerun, RerunState::Idle);
        // When the late job completes, the run is finished again and the re-run comes back.
        let last = run.apply(&completed(2, Conclusion::Skipped), 3, &policy());
        assert_eq!(last.reply.status, 201);
        assert_eq!(last.timer, TimerChange::Arm(3 + DELAY));
    }

    #[test]
    fn a_completion_with_no_record_answers_404_and_is_not_rerun_alone() {
        let (run, verdict) =
            RunState::first_event(&completed(1, Conclusion::Failure), 5, &policy());
        assert_eq!(verdict.reply.status, 404);
        assert!(
            verdict.changed,
            "kept so that a late queued can put it right"
        );
        assert_eq!(verdict.timer, TimerChange::Keep);
        assert_eq!(run.rerun, RerunState::Idle);
    }

    #[test]
    fn a_late_queued_confirms_a_run_first_seen_completed() {
        let (mut run, _) = RunState::first_event(&completed(1, Conclusion::Failure), 5, &policy());
        let redelivered = run.apply(&completed(1, Conclusion::Failure), 6, &policy());
        assert_eq!(
            redelivered.reply.status, 404,
            "a repeat is not a new record"
        );
        let late = run.apply(&queued(1), 7, &policy());
        assert_eq!(late.reply.status, 202);
        assert_eq!(late.timer, TimerChange::Arm(7 + DELAY));
    }

    #[test]
    fn a_newer_attempt_starts_afresh_and_older_events_are_ignored() {
        let mut run = run_with_jobs(&[1]);
        run.apply(&completed(1, Conclusion::Failure), 1, &policy());
        assert_eq!(take_due(&mut run), Some(1));
        assert!(run.record_outcome(1, OWNER, RerunOutcome::Started, 0, &RETRY));

        let next = run.apply(&event(10, 2, JobAction::Unfinished), 2, &policy());
        assert_eq!(next.reply.status, 202);
        assert!(next.changed);
        assert_eq!(run.attempt, 2);
        assert_eq!(run.jobs.len(), 1);
        assert_eq!(run.rerun, RerunState::Idle);

        let stale = run.apply(&completed(1, Conclusion::Failure), 3, &policy());
        assert_eq!(stale.reply.status, 200);
        assert!(!stale.changed);
        let stale_queued = run.apply(&queued(5), 3, &policy());
        assert_eq!(stale_queued.reply.status, 202);
        assert!(!stale_queued.changed);
        assert_eq!(run.jobs.len(), 1);
    }

    #[test]
    fn a_newer_attempt_cancels_a_scheduled_rerun_of_the_older_one() {
        let mut run = run_with_jobs(&[1]);
        run.apply(&completed(1, Conclusion::Failure), 1, &policy());
        let next = run.apply(&event(10, 2, JobAction::Unfinished), 2, &policy());
        assert_eq!(next.timer, TimerChange::Cancel);
        assert_eq!(take_due(&mut run), None);
    }

    #[test]
    fn an_outcome_for_an_older_attempt_is_not_recorded_on_the_new_one() {
        let mut run = run_with_jobs(&[1]);
        run.apply(&completed(1, Conclusion::Failure), 1, &policy());
        take_due(&mut run);
        run.apply(&event(10, 2, JobAction::Unfinished), 2, &policy());
        assert!(!run.record_outcome(1, OWNER, RerunOutcome::Started, 0, &RETRY));
        assert_eq!(run.rerun, RerunState::Idle);
    }

    #[test]
    fn a_final_outcome_closes_the_attempt() {
        let mut run = run_with_jobs(&[1, 2]);
        run.apply(&completed(1, Conclusion::Failure), 1, &policy());
        run.apply(&completed(2, Conclusion::Success), 1, &policy());
        take_due(&mut run);
        assert!(run.record_outcome(1, OWNER, RerunOutcome::Started, 5, &RETRY));
        assert!(run.is_settled());
        let late = run.apply(
            &event(3, 1, JobAction::Completed(Conclusion::Failure)),
            2,
            &policy(),
        );
        assert_eq!(late.timer, TimerChange::Keep, "an attempt is re-run once");
        assert_eq!(late.reply.status, 201);
    }

    #[test]
    fn a_run_still_in_progress_is_looked_at_again_a_bounded_number_of_times() {
        let mut run = run_with_jobs(&[1]);
        run.apply(&completed(1, Conclusion::Failure), 1, &policy());
        for look in 0..2 {
            take_due(&mut run).expect("due");
            assert!(run.record_outcome(1, OWNER, RerunOutcome::StillRunning, 1_000, &RETRY));
            assert_eq!(
                run.pending_rerun_at(),
                Some(1_100),
                "look {look}: due again after the poll interval"
            );
        }
        take_due(&mut run).expect("due");
        run.record_outcome(1, OWNER, RerunOutcome::StillRunning, 1_000, &RETRY);
        assert_eq!(run.pending_rerun_at(), None, "the looks are used up");
        // A later completion of the attempt opens it again.
        let later = run.apply(&completed(2, Conclusion::Success), 9, &policy());
        assert_eq!(later.timer, TimerChange::Arm(9 + DELAY));
    }

    #[test]
    fn an_outage_schedules_the_rerun_again_with_growing_waits() {
        let mut run = run_with_jobs(&[1]);
        run.apply(&completed(1, Conclusion::Failure), 1, &policy());
        let gave_up = || RerunOutcome::GaveUp {
            tries: 10,
            last_error: "HTTP 502".into(),
        };
        let mut waits = Vec::new();
        for _ in 0..3 {
            take_due(&mut run).expect("due");
            run.record_outcome(1, OWNER, gave_up(), 10_000, &RETRY);
            waits.push(run.pending_rerun_at().map(|at| at - 10_000));
        }
        assert_eq!(waits, vec![Some(1_000), Some(2_000), Some(3_000)]);
        take_due(&mut run).expect("due");
        run.record_outcome(1, OWNER, gave_up(), 10_000, &RETRY);
        assert_eq!(
            run.pending_rerun_at(),
            None,
            "tries used up: given up for good, and logged"
        );
    }

    #[test]
    fn a_claim_is_taken_over_only_after_its_lease_ran_out() {
        let mut run = run_with_jobs(&[1]);
        let done = run.apply(&completed(1, Conclusion::Failure), 1, &policy());
        assert_eq!(done.timer, TimerChange::Arm(1 + DELAY));
        assert_eq!(run.claim(DELAY, &CLAIM), None, "not due yet");
        let claimed = run.claim(1 + DELAY, &CLAIM).expect("due");
        assert_eq!(claimed.attempt, 1);
        assert_eq!(claimed.failed_jobs, vec!["job-1".to_string()]);
        let other = Claim {
            owner: 99,
            lease_ms: 60_000,
        };
        assert_eq!(run.claim(2 + DELAY, &other), None, "the first claim holds");
        assert!(run.renew(30_000, 1, &CLAIM), "the claimant may extend it");
        assert!(!run.renew(30_000, 1, &other), "nobody else may");
        assert_eq!(run.pending_rerun_at(), Some(90_000));
        // The claimant died: once the lease ran out another process takes the re-run over.
        assert!(run.claim(90_000, &other).is_some());
        // The old claimant's answer is void (it only counts the claims afresh).
        run.record_outcome(1, OWNER, RerunOutcome::Started, 0, &RETRY);
        assert!(
            matches!(run.rerun, RerunState::InFlight { owner: 99, .. }),
            "the old claimant's answer is void"
        );
        assert_eq!(run.claims, 0);
        assert!(run.record_outcome(1, 99, RerunOutcome::Started, 0, &RETRY));
        assert_eq!(run.pending_rerun_at(), None);
    }

    #[test]
    fn a_job_that_fails_then_passes_on_the_automatic_rerun_is_flaky() {
        let mut run = run_with_jobs(&[1, 2]);
        run.apply(&completed(1, Conclusion::Failure), 1, &policy());
        run.apply(&completed(2, Conclusion::Failure), 1, &policy());
        take_due(&mut run);
        run.record_outcome(1, OWNER, RerunOutcome::Started, 2, &RETRY);
        // Attempt 2 re-runs both failed jobs (new ids, same names).
        run.apply(&event(11, 2, JobAction::Unfinished), 3, &policy());
        let mut second = event(11, 2, JobAction::Completed(Conclusion::Success));
        second.job_name = "job-1".into();
        let passed = run.apply(&second, 4, &policy());
        assert_eq!(passed.flaky.as_deref(), Some("job-1"));
        let mut again = event(12, 2, JobAction::Completed(Conclusion::Failure));
        again.job_name = "job-2".into();
        assert_eq!(
            run.apply(&again, 5, &policy()).flaky,
            None,
            "failing again is not flaky"
        );
        let repeat = run.apply(&second, 6, &policy());
        assert_eq!(repeat.flaky, None, "counted once");
    }

    #[test]
    fn a_job_that_fails_again_after_the_automatic_rerun_is_reported_once() {
        let mut run = run_with_jobs(&[1]);
        run.apply(&completed(1, Conclusion::Failure), 1, &policy());
        take_due(&mut run);
        run.record_outcome(1, OWNER, RerunOutcome::Started, 2, &RETRY);
        let mut again = event(11, 2, JobAction::Completed(Conclusion::Failure));
        again.job_name = "job-1".into();
        let verdict = run.apply(&again, 3, &policy());
        assert_eq!(verdict.failed_again.as_deref(), Some("job-1"));
        assert_eq!(verdict.flaky, None);
        assert_eq!(run.apply(&again, 4, &policy()).failed_again, None, "once");
    }

    #[test]
    fn a_quiet_run_expires_after_the_ttl_unless_a_rerun_is_pending() {
        let mut run = run_with_jobs(&[1, 2]);
        run.apply(&completed(1, Conclusion::Failure), 100, &policy());
        assert_eq!(
            run.expires_at(1_000),
            Some(1_100),
            "counted from the last event"
        );
        run.apply(&completed(2, Conclusion::Success), 200, &policy());
        assert_eq!(
            run.expires_at(1_000),
            None,
            "a decided re-run is never forgotten"
        );
        take_due(&mut run);
        assert_eq!(run.expires_at(1_000), None, "nor one in flight");
        run.record_outcome(1, OWNER, RerunOutcome::Started, 0, &RETRY);
        assert_eq!(run.expires_at(1_000), Some(1_200));
    }

    fn with_rules(toml: &str) -> Policy {
        let rules = crate::policy::parse(
            toml,
            crate::policy::PolicySource::Inline,
            &crate::policy::EnvDefaults::default(),
        )
        .expect("a valid policy");
        Policy {
            rules: Some(Arc::new(rules)),
            ..policy()
        }
    }

    fn never_started(job: u64) -> JobEvent {
        JobEvent {
            ran_steps: false,
            ..completed(job, Conclusion::Failure)
        }
    }

    fn skipped_reason(run: &RunState) -> Option<policy::Reason> {
        match &run.rerun {
            RerunState::Done {
                outcome: RerunOutcome::Skipped { reason, .. },
            } => Some(*reason),
            _ => None,
        }
    }

    #[test]
    fn a_failed_job_that_ran_no_step_closes_the_attempt_as_skipped_without_any_policy() {
        let mut run = run_with_jobs(&[1, 2]);
        run.apply(&never_started(1), 1, &policy());
        let last = run.apply(&completed(2, Conclusion::Success), 2, &policy());
        assert_eq!(last.reply.status, 200);
        assert!(
            last.reply.reason.ends_with("(not_started)"),
            "{}",
            last.reply.reason
        );
        assert_eq!(last.timer, TimerChange::Keep);
        assert!(matches!(last.decision, Some(Decided::Now(_))));
        assert_eq!(skipped_reason(&run), Some(policy::Reason::NotStarted));
        assert_eq!(
            take_due(&mut run),
            None,
            "a skipped attempt is never claimed"
        );
        let again = run.apply(&completed(3, Conclusion::Failure), 3, &policy());
        assert_eq!(again.reply.status, 200);
        assert_eq!(again.decision, None, "decided once per attempt");
        assert_eq!(take_due(&mut run), None);
    }

    #[test]
    fn a_job_that_never_started_is_skipped_under_a_policy_too_and_a_passing_one_is_not() {
        let rules = with_rules("[defaults]\nbranches = [\"*\"]\n");
        let mut run = run_with_jobs(&[1]);
        assert_eq!(run.apply(&never_started(1), 1, &rules).reply.status, 200);
        assert_eq!(skipped_reason(&run), Some(policy::Reason::NotStarted));
        let mut ran = run_with_jobs(&[1]);
        let verdict = ran.apply(&completed(1, Conclusion::Failure), 1, &rules);
        assert_eq!(verdict.reply.status, 201);
        assert_eq!(
            verdict.timer,
            TimerChange::Arm(1 + 5_000),
            "RERUN_DELAY's default"
        );
    }

    #[test]
    fn the_policys_delay_and_backoff_set_the_stored_due_time() {
        let rules = with_rules("[defaults]\ndelay = \"10s\"\nbackoff = 2.0\n");
        let mut run = run_with_jobs(&[1]);
        run.apply(&completed(1, Conclusion::Failure), 100, &rules);
        assert_eq!(run.pending_rerun_at(), Some(100 + 10_000));
        take_due(&mut run).expect("due");
        assert!(run.record_outcome(1, OWNER, RerunOutcome::Started, 0, &RETRY));
        let mut second = event(5, 3, JobAction::Completed(Conclusion::Failure));
        second.run_attempt = 3;
        run.apply(&second, 200, &rules);
        assert_eq!(
            run.pending_rerun_at(),
            Some(200 + 40_000),
            "re-run 3: 10 s × 2²"
        );
    }

    #[test]
    fn shadow_mode_closes_the_attempt_with_what_it_would_have_done() {
        let rules = with_rules("[defaults]\nmode = \"shadow\"\ndelay = \"3s\"\n");
        let mut run = run_with_jobs(&[1]);
        let verdict = run.apply(&completed(1, Conclusion::Failure), 1, &rules);
        assert_eq!(verdict.reply.status, 200);
        assert_eq!(verdict.reply.reason, "shadow: would re-run after 3s");
        assert_eq!(skipped_reason(&run), Some(policy::Reason::Shadow));
        assert_eq!(take_due(&mut run), None);
    }

    #[test]
    fn a_rule_with_patterns_schedules_the_rerun_marked_as_needing_evidence() {
        let rules = with_rules("[defaults]\nnever_when = ['segfault']\ndelay = \"1s\"\n");
        let mut run = run_with_jobs(&[1]);
        let verdict = run.apply(&completed(1, Conclusion::Failure), 1, &rules);
        assert_eq!(verdict.reply.status, 201);
        assert_eq!(
            verdict.decision,
            Some(Decided::NeedsEvidence { delay_ms: 1_000 })
        );
        let claimed = run.claim(2_000, &CLAIM).expect("due");
        assert!(claimed.needs_evidence);
        assert!(!claimed.debug_logging);
    }

    #[test]
    fn the_last_automatic_rerun_asks_for_debug_logs_when_the_policy_says_so() {
        let rules = with_rules("[defaults]\nattempts = 3\ndebug_last_attempt = true\n");
        let mut run = run_with_jobs(&[1]);
        run.apply(&completed(1, Conclusion::Failure), 1, &rules);
        assert!(!take_claim(&mut run).debug_logging, "re-run 1 of 2");
        run.record_outcome(1, OWNER, RerunOutcome::Started, 0, &RETRY);
        run.apply(
            &event(7, 2, JobAction::Completed(Conclusion::Failure)),
            2,
            &rules,
        );
        let claimed = take_claim(&mut run);
        assert_eq!(claimed.attempt, 2);
        assert!(claimed.debug_logging, "re-run 2 of 2 is the last");
        // A retry after an outage keeps the flag.
        let gave_up = RerunOutcome::GaveUp {
            tries: 1,
            last_error: "HTTP 502".into(),
        };
        run.record_outcome(2, OWNER, gave_up, 0, &RETRY);
        assert!(take_claim(&mut run).debug_logging);
    }

    fn take_claim(run: &mut RunState) -> ClaimedRerun {
        run.claim(u64::MAX / 2, &CLAIM).expect("due")
    }

    #[test]
    fn a_stored_job_without_ran_steps_reads_as_having_run() {
        let json = r#"{"id":1,"name":"build","conclusion":"failure"}"#;
        let job: TrackedJob = serde_json::from_str(json).expect("an older row");
        assert!(
            job.ran_steps,
            "rows stored before the field never become not_started"
        );
        assert!(job.failed_steps.is_empty());
    }

    #[test]
    fn the_state_round_trips_through_json() {
        let mut run = run_with_jobs(&[1, 2]);
        run.apply(&completed(1, Conclusion::TimedOut), 1, &policy());
        let json = serde_json::to_string(&run).expect("serialise");
        let back: RunState = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, run);
    }
}
