//! What became of one re-run request: the GitHub actor's answer to a tracker.

use serde::{Deserialize, Serialize};

use crate::policy::{JobRef, Reason};

/// The result of asking GitHub to re-run a run's failed jobs for one attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RerunOutcome {
    /// GitHub accepted the re-run (201): the next attempt starts.
    Started,
    /// GitHub already shows a newer attempt (re-run by hand, or by us before a crash).
    AlreadyRerun {
        /// The attempt GitHub reported.
        github_attempt: u32,
    },
    /// The run did not conclude as a failure (cancelled by a person, for example).
    NotNeeded {
        /// The run's conclusion as GitHub reported it.
        conclusion: String,
    },
    /// GitHub refused the request (a 4xx that is not a rate limit), or no credential
    /// applies to the run ([`RerunOutcome::no_credential`]).
    Refused {
        /// The HTTP status, 0 when no request was made (no credential applied).
        status: u16,
        /// GitHub's message, or ours.
        message: String,
    },
    /// GitHub kept showing the run in progress.
    StillRunning,
    /// `DRY_RUN=true`: the run was due and would have been re-run.
    DryRun,
    /// Another process took the re-run over (this one's claim ran out): it performs it.
    Superseded,
    /// The failure policy decided not to re-run the attempt (in shadow mode, reason
    /// `shadow`: it would have). Final: the attempt is never claimed nor tried again.
    Skipped {
        /// Why, from the policy's closed set.
        reason: Reason,
        /// The job the decision is about, if it is about one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job: Option<JobRef>,
        /// The line it rests on (at most 200 characters, secrets masked).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<String>,
        /// The pattern that matched it (`never_when[0]`, `@infra:runner_lost`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
        /// Shadow mode: the delay the re-run would have waited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delay_ms: Option<u64>,
    },
    /// Transient errors (5xx, timeouts, connection errors) outlasted every try.
    GaveUp {
        /// Tries made.
        tries: u32,
        /// The last error seen.
        last_error: String,
    },
}

/// The status of a `Refused` outcome for which no request was made: no credential
/// applied ([`RerunOutcome::no_credential`]).
const NO_REQUEST: u16 = 0;

impl RerunOutcome {
    /// A request that no credential applies to (the GitHub side names the case
    /// `NoCredential`): `why` says what is missing, and no call was made. The one place
    /// that case becomes an outcome.
    ///
    /// It keeps the form it always had, a refusal of status 0 (`NO_REQUEST`; label
    /// `refused`), rather than a variant of its own: outcomes are serialized into the
    /// store's rows, which must still read as they were written, and the label is
    /// `reruns_total{outcome}` (docs/operate.md), which operators' dashboards and alerts
    /// count. Its Display is `why` alone, as before.
    pub fn no_credential(why: impl std::fmt::Display) -> Self {
        Self::Refused {
            status: NO_REQUEST,
            message: why.to_string(),
        }
    }

    /// A short fixed label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::AlreadyRerun { .. } => "already_rerun",
            Self::NotNeeded { .. } => "not_needed",
            Self::Refused { .. } => "refused",
            Self::StillRunning => "still_running",
            Self::Superseded => "superseded",
            Self::DryRun => "dry_run",
            Self::GaveUp { .. } => "gave_up",
            Self::Skipped { .. } => "skipped",
        }
    }

    /// Whether it is worth a warning: GitHub refused, kept the run running, or failed
    /// every try. A dry run, a policy skip or a run that needs none is the service
    /// doing what it was told (info).
    pub fn is_trouble(&self) -> bool {
        matches!(
            self,
            Self::Refused { .. } | Self::StillRunning | Self::GaveUp { .. }
        )
    }

    /// Whether this settles the attempt for good. The others leave the door open: a later
    /// completion of the same attempt may schedule the re-run again.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::StillRunning | Self::GaveUp { .. })
    }
}

/// What happened, in a few words for a log line (`detail`): no Rust debug text.
impl std::fmt::Display for RerunOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Started => f.write_str("GitHub started the re-run"),
            Self::AlreadyRerun { github_attempt } => {
                write!(f, "GitHub already shows attempt {github_attempt}")
            }
            Self::NotNeeded { conclusion } => {
                write!(f, "the run concluded {conclusion}, not as a failure")
            }
            Self::Refused {
                status: NO_REQUEST,
                message,
            } => f.write_str(message),
            Self::Refused { status, message } => write!(f, "GitHub answered {status}: {message}"),
            Self::StillRunning => f.write_str("GitHub kept showing the run in progress"),
            Self::DryRun => f.write_str("DRY_RUN=true: the re-run was not sent to GitHub"),
            Self::Superseded => f.write_str("another instance took the re-run over"),
            Self::Skipped {
                reason,
                job,
                pattern,
                ..
            } => {
                write!(f, "skipped: {}", reason.as_str())?;
                if let Some(job) = job {
                    write!(f, " (job {})", job.name)?;
                }
                if let Some(pattern) = pattern {
                    write!(f, " matching {pattern}")?;
                }
                Ok(())
            }
            Self::GaveUp { tries, last_error } => {
                write!(f, "gave up after {tries} tries: {last_error}")
            }
        }
    }
}
