//! Whether a failed run is worth re-running: a pure function of what the service
//! knows (the run's jobs, the repository's recent re-runs, the complete [`Rule`]) and,
//! only where the rule has patterns, of what GitHub says about the failed jobs.
//!
//! Two phases, because evidence costs GitHub calls and is not ready the moment a run
//! completes. [`decide_at_completion`] runs on the completing delivery and settles
//! everything that needs no call (the delivery's reply then says why); when the rule
//! has `never_when`/`only_when` patterns it answers [`AtCompletion::NeedsEvidence`]
//! instead, the caller waits the delay, fetches annotations and log tails, and calls
//! [`decide_with_evidence`], which checks everything again with fresher history.
//!
//! The run is re-run only if every failed job is worth it: one job that is not makes
//! the re-run pointless (the run cannot go green), and the decision names that job.
//! Reasons are tried in this order, the first that applies to any failed job (in
//! the order the jobs are given) wins: `workflow_skipped`, `not_started`,
//! `too_many_failed_jobs`, `job_skipped`, `step_skipped`, `timed_out_off`,
//! `useless_before`, `budget_spent`, then with evidence `broken_log`,
//! `no_transient_match`. In shadow mode a re-run becomes `shadow`, carrying what it
//! would have done.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::decisive::Unbounded;
use super::evidence;
use super::job_evidence::{JobEvidence, JobRef};
use super::judgement::{JobJudgement, Matched, judge};
use super::learning::{AfterRerun, SignatureHistory, learned, useless};
use super::rule::{Mode, Rule};
use crate::ids::JobId;
use crate::ids::{Conclusion, Name};

/// A failed job of the attempt, as its `completed` event described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFacts {
    /// `workflow_job.id`.
    pub id: JobId,
    /// `workflow_job.name`.
    pub name: Name,
    /// Its conclusion.
    pub conclusion: Conclusion,
    /// Whether `steps` was non-empty: GitHub started the job on a runner.
    pub ran_steps: bool,
    /// The names of the steps that failed (a step and its `Post …` clean-up can
    /// both fail); `skip_steps` skips the job when it matches any of them.
    pub failed_steps: Vec<Name>,
}

/// The completed attempt a decision is about (its repository chose the [`Rule`]).
#[derive(Clone, Copy, Debug)]
pub struct RunFacts<'a> {
    /// `workflow_name`.
    pub workflow: &'a str,
    /// `head_branch`.
    pub branch: &'a str,
    /// `run_attempt` of the attempt that completed; its re-run is re-run number
    /// `attempt`.
    pub attempt: u32,
    /// Every job of the attempt (those that did not fail are ignored).
    pub jobs: &'a [JobFacts],
}

/// What the service remembers of earlier re-runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Automatic re-runs *decided* for this repository in the last rolling hour:
    /// every decision whose [`Decision::counts_against_budget`] is true, whether its
    /// re-run is still waiting for its delay, in flight, or started. Counting at
    /// decision time, not when GitHub accepts the re-run, is what keeps a burst of
    /// failures completing in the same second within `budget_per_hour`. A run
    /// waiting for its evidence ([`AtCompletion::NeedsEvidence`]) is not counted until
    /// [`decide_with_evidence`] decides it; the attempt being decided is never in it.
    /// In shadow mode the would-be re-runs ([`Verdict::Shadow`]) count too, so shadow
    /// reports `budget_spent` where a real run would.
    pub reruns_last_hour: u32,
    /// Per job name (in this repository's workflow): what its last automatic re-runs
    /// did, oldest first. Only the last `stop_when_useless` entries are read.
    pub jobs: HashMap<Name, Vec<AfterRerun>>,
    /// Per signature of the failed jobs' decisive lines: what re-runs of it did, here
    /// and everywhere (read when the rule learns or has `stop_when_useless`).
    pub signatures: HashMap<String, SignatureHistory>,
}

/// Why a failed run is not re-run: the closed set the store, the metrics' `reason`
/// label and the status page use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A failed job ran no step: GitHub never started it (spending limit, invalid
    /// workflow, no runner).
    NotStarted,
    /// A failed job's name matches `skip_jobs`.
    JobSkipped,
    /// A failed job's failed step matches `skip_steps`.
    StepSkipped,
    /// The workflow matches `skip_workflows`.
    WorkflowSkipped,
    /// A failed job's log or annotations match `never_when`.
    BrokenLog,
    /// `only_when` is set and a failed job matches none of it.
    NoTransientMatch,
    /// More jobs failed than `max_failed_jobs`.
    TooManyFailedJobs,
    /// The repository's `budget_per_hour` is spent.
    BudgetSpent,
    /// A failed job's last `stop_when_useless` re-runs all failed again.
    UselessBefore,
    /// A failed job timed out and `timed_out = false`.
    TimedOutOff,
    /// Shadow mode: it would have been re-run.
    Shadow,
}

impl Reason {
    /// Every reason, for metrics that list their labels up front.
    pub const ALL: [Reason; 11] = [
        Self::NotStarted,
        Self::JobSkipped,
        Self::StepSkipped,
        Self::WorkflowSkipped,
        Self::BrokenLog,
        Self::NoTransientMatch,
        Self::TooManyFailedJobs,
        Self::BudgetSpent,
        Self::UselessBefore,
        Self::TimedOutOff,
        Self::Shadow,
    ];

    /// The fixed label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotStarted => "not_started",
            Self::JobSkipped => "job_skipped",
            Self::StepSkipped => "step_skipped",
            Self::WorkflowSkipped => "workflow_skipped",
            Self::BrokenLog => "broken_log",
            Self::NoTransientMatch => "no_transient_match",
            Self::TooManyFailedJobs => "too_many_failed_jobs",
            Self::BudgetSpent => "budget_spent",
            Self::UselessBefore => "useless_before",
            Self::TimedOutOff => "timed_out_off",
            Self::Shadow => "shadow",
        }
    }
}

/// How to re-run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RerunPlan {
    /// Wait after the run completed: `delay * backoff^(k-1)`, at most `max_delay`,
    /// for re-run number k. (After evidence was fetched it has normally passed.)
    pub delay_ms: u64,
    /// Send `{"enable_debug_logging": true}`: `debug_last_attempt` and this is the
    /// last automatic re-run.
    pub debug_logging: bool,
}

/// What to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Ask GitHub to re-run the failed jobs.
    Rerun(RerunPlan),
    /// Do not; final for the attempt.
    Skip {
        /// Why (never `Shadow`: that is [`Verdict::Shadow`]).
        reason: Reason,
    },
    /// Shadow mode: skipped with reason `shadow`, and this is what would have been done.
    Shadow(RerunPlan),
}

impl Verdict {
    /// The reason recorded with a skip (`shadow` for shadow mode); `None` for a re-run.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Self::Rerun(_) => None,
            Self::Skip { reason } => Some(*reason),
            Self::Shadow(_) => Some(Reason::Shadow),
        }
    }

    /// `"rerun"` or `"skip"`, for the `decision` log field.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Rerun(_) => "rerun",
            Self::Skip { .. } | Self::Shadow(_) => "skip",
        }
    }
}

/// A decision and what it rests on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// What to do.
    pub verdict: Verdict,
    /// The job it is about: the job not worth a re-run, or for a re-run decided on
    /// evidence, the first failed job and its `only_when` match. `None` for reasons
    /// about the whole run.
    pub job: Option<JobRef>,
    /// The line it rests on (a log or annotation line, or a short statement of the
    /// fact), at most 200 characters, secrets masked.
    pub evidence: Option<String>,
    /// The pattern that matched that line: `@infra:runner_lost`, or `never_when[1]` /
    /// `only_when[0]` for a pattern of the rule's list (a bounded label for metrics
    /// and the status page). `None` when no pattern was involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

impl Decision {
    /// Whether this decision counts in [`History::reruns_last_hour`] from now on: a
    /// re-run, or in shadow mode the re-run it would have been.
    pub fn counts_against_budget(&self) -> bool {
        matches!(self.verdict, Verdict::Rerun(_) | Verdict::Shadow(_))
    }
}

/// Why a run is not even a candidate: no re-run is decided nor recorded, as today.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ineligible {
    /// No job failed.
    NoFailedJob,
    /// The branch matches no `branches` glob.
    Branch,
    /// `attempt >= attempts`: the automatic re-runs are used up.
    AttemptsUsed,
}

impl Ineligible {
    /// A fixed label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoFailedJob => "no_failed_job",
            Self::Branch => "branch_not_eligible",
            Self::AttemptsUsed => "attempts_used",
        }
    }
}

/// What the failed jobs' evidence must be fetched for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceRequest {
    /// The failed jobs, in order: fetch annotations and the log tail of each.
    pub jobs: Vec<JobRef>,
    /// When to decide, after the run completed (what a re-run would wait).
    pub delay_ms: u64,
}

/// The answer when a run completes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AtCompletion {
    /// Not a candidate: nothing to record.
    Ineligible(Ineligible),
    /// Decided without any GitHub call.
    Decided(Decision),
    /// The rule has patterns: fetch these jobs' evidence, then [`decide_with_evidence`].
    NeedsEvidence(EvidenceRequest),
}

/// Decides what needs no GitHub call, when the attempt completes.
pub fn decide_at_completion(run: &RunFacts<'_>, history: &History, rule: &Rule) -> AtCompletion {
    let failed = match prefilter(run, history, rule) {
        Ok(Prefiltered::Failed(failed)) => failed,
        Ok(Prefiltered::Skip(decision)) => return AtCompletion::Decided(decision),
        Err(ineligible) => return AtCompletion::Ineligible(ineligible),
    };
    let plan = plan(run, rule);
    if rule.needs_evidence() {
        return AtCompletion::NeedsEvidence(EvidenceRequest {
            jobs: failed.iter().map(|j| job_ref(j)).collect(),
            delay_ms: plan.delay_ms,
        });
    }
    AtCompletion::Decided(rerun(rule, plan, None, None))
}

/// Decides with the failed jobs' evidence, read without a budget: what
/// [`judge`] and [`decide_on_judgements`] do together (tests, `classify`).
pub fn decide_with_evidence(
    run: &RunFacts<'_>,
    history: &History,
    rule: &Rule,
    evidence: &[JobEvidence],
) -> Result<Decision, Ineligible> {
    let judged = judge(rule, evidence, &mut Unbounded);
    decide_on_judgements(run, history, rule, &judged)
}

/// Decides on the failed jobs' judged evidence ([`judge`]). Everything
/// [`decide_at_completion`] checks is checked again (the budget may have been spent
/// meanwhile). A failed job with no judgement counts as one whose log and
/// annotations are unavailable.
pub fn decide_on_judgements(
    run: &RunFacts<'_>,
    history: &History,
    rule: &Rule,
    judged: &[JobJudgement],
) -> Result<Decision, Ineligible> {
    let failed = match prefilter(run, history, rule)? {
        Prefiltered::Failed(failed) => failed,
        Prefiltered::Skip(decision) => return Ok(decision),
    };
    let plan = plan(run, rule);
    let missing = JobJudgement::unavailable(JobId(0), "not fetched");
    let of = |job: &JobFacts| judged.iter().find(|j| j.job == job.id).unwrap_or(&missing);

    // A broken job anywhere outweighs a job with no transient match: it says more.
    for job in &failed {
        if let Some(found) = &of(job).never {
            let mut decision = skip(Reason::BrokenLog, Some(job), Some(&found.line));
            decision.pattern = Some(found.pattern.clone());
            return Ok(decision);
        }
    }
    // A failure whose re-runs here kept failing is not re-run again, whatever knows it.
    for job in &failed {
        let Some(decisive) = &of(job).decisive else {
            continue;
        };
        if let Some(why) = useless(rule, history.signatures.get(&decisive.signature)) {
            let fact = format!("{why}: {}", decisive.line);
            return Ok(skip(Reason::UselessBefore, Some(job), Some(&fact)));
        }
    }
    let mut transient = None;
    if !rule.only_when.is_empty() {
        for job in &failed {
            let judgement = of(job);
            match (&judgement.only, learned_match(rule, history, judgement)) {
                (Some(found), _) => {
                    transient.get_or_insert((job, found.clone()));
                }
                (None, Some(found)) => {
                    transient.get_or_insert((job, found));
                }
                (None, None) => {
                    let why = no_match_evidence(judgement);
                    return Ok(skip(Reason::NoTransientMatch, Some(job), why.as_deref()));
                }
            }
        }
    }
    Ok(match transient {
        Some((job, found)) => rerun(rule, plan, Some(job), Some(&found)),
        None => rerun(rule, plan, None, None),
    })
}

/// A job's decisive line that no family knows, which its signature's re-runs say is
/// worth a re-run: matched by the pattern `learned`, the evidence saying why
/// (`learned: 3 of 4 re-runs passed: <the line>`), so that every place that shows a
/// decision's evidence (the log line, the check run, the page) says it.
fn learned_match(rule: &Rule, history: &History, judgement: &JobJudgement) -> Option<Matched> {
    let decisive = judgement.decisive.as_ref()?;
    if decisive.known.is_some() || decisive.exit_only || judgement.unread.is_some() {
        return None;
    }
    let why = learned(rule, history.signatures.get(&decisive.signature))?;
    Some(Matched {
        line: evidence::clean(&format!("{why}: {}", decisive.line)),
        pattern: LEARNED.to_owned(),
    })
}

/// The pattern of a re-run that learning decided (a bounded label, as every pattern).
pub const LEARNED: &str = "learned";

/// What a skip for no transient match quotes: why the evidence could not be read,
/// else the decisive line and what knows it.
fn no_match_evidence(judgement: &JobJudgement) -> Option<String> {
    if let Some(why) = &judgement.unread {
        return Some(why.clone());
    }
    let decisive = judgement.decisive.as_ref()?;
    Some(match &decisive.known {
        Some(known) => format!("{} ({known})", decisive.line),
        None => decisive.line.clone(),
    })
}

/// `delay * backoff^(k-1)`, capped by `max_delay`, for re-run number `k` (k ≥ 1).
pub fn backoff_delay_ms(rule: &Rule, k: u32) -> u64 {
    let max = rule.max_delay.as_millis().min(u128::from(u64::MAX)) as f64;
    let mut delay = (rule.delay.as_millis().min(u128::from(u64::MAX)) as f64).min(max);
    // Multiplying step by step (never below the previous value, since backoff >= 1)
    // keeps the delay monotone in k, which a closed-form power does not promise in
    // floating point. A huge k stops growing once max_delay is reached or after
    // 10,000 steps.
    if rule.backoff > 1.0 {
        for _ in 1..k.min(10_000) {
            delay = (delay * rule.backoff).min(max);
            if delay >= max {
                break;
            }
        }
    }
    delay as u64
}

enum Prefiltered<'a> {
    /// Nothing settled the decision: these are the failed jobs.
    Failed(Vec<&'a JobFacts>),
    /// A reason that needs no evidence applies.
    Skip(Decision),
}

/// The checks both phases make, in the order of the module's documentation.
fn prefilter<'a>(
    run: &RunFacts<'a>,
    history: &History,
    rule: &Rule,
) -> Result<Prefiltered<'a>, Ineligible> {
    let failed: Vec<&JobFacts> = run
        .jobs
        .iter()
        .filter(|j| j.conclusion.is_failure())
        .collect();
    if failed.is_empty() {
        return Err(Ineligible::NoFailedJob);
    }
    if !rule.branches.matches(run.branch) {
        return Err(Ineligible::Branch);
    }
    if run.attempt >= rule.attempts {
        return Err(Ineligible::AttemptsUsed);
    }
    let found = |decision| Ok(Prefiltered::Skip(decision));
    if let Some(glob) = rule.skip_workflows.first_match(run.workflow) {
        let fact = format!(
            "workflow {:?} matches skip_workflows {glob:?}",
            run.workflow
        );
        return found(skip(Reason::WorkflowSkipped, None, Some(&fact)));
    }
    if let Some(job) = failed.iter().find(|j| !j.ran_steps) {
        let fact = "the job ran no step: GitHub never started it";
        return found(skip(Reason::NotStarted, Some(job), Some(fact)));
    }
    let limit = rule.max_failed_jobs;
    if limit > 0 && failed.len() > limit as usize {
        let fact = format!(
            "{} jobs failed, more than max_failed_jobs {limit}",
            failed.len()
        );
        return found(skip(Reason::TooManyFailedJobs, None, Some(&fact)));
    }
    for job in &failed {
        if let Some(glob) = rule.skip_jobs.first_match(&job.name) {
            let fact = format!("job {:?} matches skip_jobs {glob:?}", job.name.as_str());
            return found(skip(Reason::JobSkipped, Some(job), Some(&fact)));
        }
    }
    for job in &failed {
        for step in &job.failed_steps {
            if let Some(glob) = rule.skip_steps.first_match(step) {
                let fact = format!(
                    "failed step {:?} matches skip_steps {glob:?}",
                    step.as_str()
                );
                return found(skip(Reason::StepSkipped, Some(job), Some(&fact)));
            }
        }
    }
    let timed_out = failed.iter().find(|j| j.conclusion == Conclusion::TimedOut);
    if let (false, Some(job)) = (rule.timed_out, timed_out) {
        let fact = "the job timed out and timed_out = false";
        return found(skip(Reason::TimedOutOff, Some(job), Some(fact)));
    }
    let useless = rule.stop_when_useless as usize;
    if useless > 0 {
        for job in &failed {
            let recent = history.jobs.get(&job.name).map_or(&[][..], Vec::as_slice);
            let last = &recent[recent.len().saturating_sub(useless)..];
            if last.len() == useless && last.iter().all(|a| *a == AfterRerun::FailedAgain) {
                let fact = format!("its last {useless} automatic re-runs all failed again");
                return found(skip(Reason::UselessBefore, Some(job), Some(&fact)));
            }
        }
    }
    let budget = rule.budget_per_hour;
    if budget > 0 && history.reruns_last_hour >= budget {
        let fact = format!(
            "{} re-runs in the last hour, budget_per_hour {budget}",
            history.reruns_last_hour
        );
        return found(skip(Reason::BudgetSpent, None, Some(&fact)));
    }
    Ok(Prefiltered::Failed(failed))
}

fn plan(run: &RunFacts<'_>, rule: &Rule) -> RerunPlan {
    // Re-run k turns attempt k into attempt k + 1; the last automatic one makes
    // attempt `attempts`.
    RerunPlan {
        delay_ms: backoff_delay_ms(rule, run.attempt.max(1)),
        debug_logging: rule.debug_last_attempt && run.attempt.saturating_add(1) == rule.attempts,
    }
}

fn job_ref(job: &JobFacts) -> JobRef {
    JobRef {
        id: job.id,
        name: job.name.clone(),
    }
}

fn skip(reason: Reason, job: Option<&JobFacts>, evidence: Option<&str>) -> Decision {
    Decision {
        verdict: Verdict::Skip { reason },
        job: job.map(job_ref),
        evidence: evidence.map(evidence::clean),
        pattern: None,
    }
}

fn rerun(
    rule: &Rule,
    plan: RerunPlan,
    job: Option<&JobFacts>,
    found: Option<&Matched>,
) -> Decision {
    let (evidence, pattern) = match found {
        Some(m) => (Some(m.line.clone()), Some(m.pattern.clone())),
        None => (None, None),
    };
    Decision {
        verdict: match rule.mode {
            Mode::Rerun => Verdict::Rerun(plan),
            Mode::Shadow => Verdict::Shadow(plan),
        },
        job: job.map(job_ref),
        evidence,
        pattern,
    }
}
