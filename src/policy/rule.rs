//! The validated policy: the defaults, the `[[rule]]`s in file order, each already
//! merged with the defaults, and which of them applies to a run. What the decision
//! reads is one [`Rule`], complete: it never looks at the file again.

use std::time::Duration;

use super::error::{PolicyError, PolicySource};
use super::patterns::{GlobKind, GlobList, Patterns};

/// Which branches' runs may be re-run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BranchFilter {
    /// Every branch (`REPO_BRANCHES=*`).
    Any,
    /// Only these branch names.
    Only(Vec<String>),
}

impl BranchFilter {
    /// Whether runs of `branch` are eligible for automatic re-runs.
    pub fn allows(&self, branch: &str) -> bool {
        match self {
            BranchFilter::Any => true,
            BranchFilter::Only(names) => names.iter().any(|name| name == branch),
        }
    }
}

/// What the environment says, before any policy file: `RUN_ATTEMPTS`,
/// `REPO_BRANCHES` and `RERUN_DELAY` are the defaults the policy overrides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvDefaults {
    /// `RUN_ATTEMPTS`.
    pub attempts: u32,
    /// `REPO_BRANCHES`: exact branch names, or every branch.
    pub branches: BranchFilter,
    /// `RERUN_DELAY`.
    pub delay: Duration,
}

impl Default for EnvDefaults {
    /// The environment's own defaults (`RUN_ATTEMPTS=4`, `REPO_BRANCHES=master`,
    /// `RERUN_DELAY=5`).
    fn default() -> Self {
        Self {
            attempts: 4,
            branches: BranchFilter::Only(vec!["master".to_owned()]),
            delay: Duration::from_secs(5),
        }
    }
}

/// Whether decisions are acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Re-run what is worth it.
    Rerun,
    /// Decide, record and report everything; never ask GitHub to re-run.
    Shadow,
}

impl Mode {
    /// The word the policy file uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rerun => "rerun",
            Self::Shadow => "shadow",
        }
    }
}

/// Longest `max_delay` when neither the policy nor a long `RERUN_DELAY` sets one.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(3600);

/// Everything that decides one run's re-run, every field set. Field meanings and
/// defaults are those of docs/policy.md ("Fields").
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// At most `attempts - 1` automatic re-runs of a run.
    pub attempts: u32,
    /// Globs on `head_branch`.
    pub branches: GlobList,
    /// Wait before the first re-run.
    pub delay: Duration,
    /// Re-run k waits `delay * backoff^(k-1)`, at least 1.
    pub backoff: f64,
    /// ... at most this long.
    pub max_delay: Duration,
    /// More failed jobs than this in one attempt: broken. 0: no limit.
    pub max_failed_jobs: u32,
    /// Re-runs per repository per rolling hour. 0: no limit.
    pub budget_per_hour: u32,
    /// Whether a `timed_out` job is worth a re-run.
    pub timed_out: bool,
    /// Workflows never re-run.
    pub skip_workflows: GlobList,
    /// Failed jobs never re-run.
    pub skip_jobs: GlobList,
    /// Failed steps whose job is never re-run.
    pub skip_steps: GlobList,
    /// A failed job whose log or annotations match one is broken.
    pub never_when: Patterns,
    /// If set, re-run only when every failed job matches one.
    pub only_when: Patterns,
    /// A job whose last N automatic re-runs all failed again is not re-run. 0: off.
    pub stop_when_useless: u32,
    /// A failure no family knows is re-run once this many of its re-runs are known
    /// and at least half of them passed (see `learning`). 0: off.
    pub learn_after: u32,
    /// Ask for debug logs on the last automatic re-run.
    pub debug_last_attempt: bool,
    /// Act, or only decide.
    pub mode: Mode,
}

impl Rule {
    /// The rule when no policy says anything: today's behaviour, from the environment.
    pub fn from_env(env: &EnvDefaults) -> Result<Self, PolicyError> {
        let branches = match &env.branches {
            BranchFilter::Any => vec!["*".to_owned()],
            // REPO_BRANCHES names branches exactly: a `{` in a name is no glob.
            BranchFilter::Only(names) => names.iter().map(|n| globset::escape(n)).collect(),
        };
        let branches = GlobList::new(&branches, GlobKind::Branch).map_err(|e| {
            PolicyError::sources(
                Some(PolicySource::Environment),
                format!("REPO_BRANCHES: {}", e.problem),
            )
        })?;
        Ok(Self {
            attempts: env.attempts,
            branches,
            delay: env.delay,
            backoff: 1.0,
            max_delay: DEFAULT_MAX_DELAY.max(env.delay),
            max_failed_jobs: 0,
            budget_per_hour: 0,
            timed_out: true,
            skip_workflows: GlobList::empty(),
            skip_jobs: GlobList::empty(),
            skip_steps: GlobList::empty(),
            never_when: Patterns::empty(),
            only_when: Patterns::empty(),
            stop_when_useless: 0,
            learn_after: 0,
            debug_last_attempt: false,
            mode: Mode::Rerun,
        })
    }

    /// Whether deciding needs the failed jobs' annotations and logs.
    pub fn needs_evidence(&self) -> bool {
        !self.never_when.is_empty() || !self.only_when.is_empty()
    }
}

/// One `[[rule]]`: which runs it is for, and the complete rule they get.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopedRule {
    /// Globs on `owner/name`; `None`: every repository.
    pub repos: Option<GlobList>,
    /// Globs on the workflow's name; `None`: every workflow.
    pub workflows: Option<GlobList>,
    /// The fields this `[[rule]]` sets itself, in the order docs/policy.md ("Fields") lists
    /// them; the others came from `[defaults]`.
    pub sets: Vec<&'static str>,
    /// The rule, merged with the defaults.
    pub rule: Rule,
}

impl ScopedRule {
    /// Whether runs of `workflow` in `repo` get this rule.
    pub fn applies_to(&self, repo: &str, workflow: &str) -> bool {
        self.repos.as_ref().is_none_or(|g| g.matches(repo))
            && self.workflows.as_ref().is_none_or(|g| g.matches(workflow))
    }
}

/// Which part of the policy a run gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleRef {
    /// No `[[rule]]` matched: `[defaults]`.
    Defaults,
    /// The `[[rule]]` at this index (0-based; the file's first is 0).
    Rule(usize),
}

/// A validated policy, ready to decide.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub(crate) source: PolicySource,
    pub(crate) defaults: Rule,
    pub(crate) rules: Vec<ScopedRule>,
}

impl Policy {
    /// The policy with no file: the environment's defaults, no `[[rule]]`.
    pub fn from_env(env: &EnvDefaults) -> Result<Self, PolicyError> {
        Ok(Self {
            source: PolicySource::Environment,
            defaults: Rule::from_env(env)?,
            rules: Vec::new(),
        })
    }

    /// Where the policy came from.
    pub fn source(&self) -> &PolicySource {
        &self.source
    }

    /// `[defaults]`, merged with the environment.
    pub fn defaults(&self) -> &Rule {
        &self.defaults
    }

    /// The `[[rule]]`s, in file order.
    pub fn rules(&self) -> &[ScopedRule] {
        &self.rules
    }

    /// Which part of the policy runs of `workflow` in `repo` get: the first
    /// `[[rule]]` that matches, or the defaults.
    pub fn matching(&self, repo: &str, workflow: &str) -> RuleRef {
        self.rules
            .iter()
            .position(|r| r.applies_to(repo, workflow))
            .map_or(RuleRef::Defaults, RuleRef::Rule)
    }

    /// The complete rule for runs of `workflow` in `repo`.
    pub fn rule_for(&self, repo: &str, workflow: &str) -> &Rule {
        match self.matching(repo, workflow) {
            RuleRef::Defaults => &self.defaults,
            RuleRef::Rule(i) => &self.rules[i].rule,
        }
    }

    /// The largest `attempts` of `[defaults]` and every `[[rule]]`. The webhook must
    /// not drop the events of runs whose `run_attempt` is below it (it drops those
    /// at or above `RUN_ATTEMPTS` today): a rule may allow more attempts than the
    /// environment.
    pub fn max_attempts(&self) -> u32 {
        self.rules
            .iter()
            .map(|r| r.rule.attempts)
            .fold(self.defaults.attempts, u32::max)
    }

    /// Whether every rule has the same `attempts` (then [`Self::max_attempts`] is each
    /// run's limit, and the webhook's filter needs no rule lookup).
    pub fn uniform_attempts(&self) -> bool {
        self.rules
            .iter()
            .all(|r| r.rule.attempts == self.defaults.attempts)
    }

    /// Whether any part of the policy needs annotations or logs.
    pub fn needs_evidence(&self) -> bool {
        self.defaults.needs_evidence() || self.rules.iter().any(|r| r.rule.needs_evidence())
    }
}
