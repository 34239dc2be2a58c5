//! Performing one claimed re-run: read the run, judge what GitHub shows (already
//! re-run, still running, not failed), extend the claim in the store right before the
//! POST, POST, and retry or wait as GitHub asks. The pacing comes and goes with it.

use std::rc::Rc;

use slog::{Logger, info};

use super::{AfterError, Pacing, RerunRequest, STALE_READ, Tries, equipped};
use crate::github::{
    GitHubClient, GitHubError, GitHubSettings, NoCredential, RequestAuth, WorkflowRun,
};
use crate::ids::Conclusion;
use crate::run::RerunOutcome;

/// What the run's current state says about re-running `attempt`.
fn judge(run: &WorkflowRun, attempt: u32) -> Option<RerunOutcome> {
    if let Some(github_attempt) = run.run_attempt.filter(|&current| current > attempt) {
        return Some(RerunOutcome::AlreadyRerun { github_attempt });
    }
    if run.status.as_deref() != Some("completed") {
        return Some(RerunOutcome::StillRunning);
    }
    let conclusion = run.conclusion.as_deref().unwrap_or("none");
    if !Conclusion::parse(conclusion).is_failure() {
        return Some(RerunOutcome::NotNeeded {
            conclusion: conclusion.to_owned(),
        });
    }
    None
}

/// What one request needs to be performed.
pub(super) struct Performer {
    pub(super) client: Option<Rc<GitHubClient>>,
    pub(super) dry_run: bool,
    pub(super) settings: GitHubSettings,
    pub(super) log: Logger,
}

impl Performer {
    /// Extends this process's claim on the re-run right before the POST: if the claim ran
    /// out and another process took the re-run over, that process performs it, not us.
    async fn claim_still_ours(&self, request: &RerunRequest) -> Result<bool, GitHubError> {
        (request.guard)()
            .await
            .map_err(|why| GitHubError::transient(format!("confirming the claim: {why}")))
    }
}

/// Performs one re-run request to the end: read the run, POST when it is due, retry and
/// wait as GitHub asks. Hands the pacing back with the outcome.
pub(super) async fn perform(
    performer: Performer,
    auth: Result<RequestAuth, NoCredential>,
    mut pacing: Pacing,
    request: RerunRequest,
) -> (RerunOutcome, Pacing) {
    let Performer {
        client,
        settings,
        log,
        ..
    } = &performer;
    let (client, mut auth) = match equipped(client.clone(), auth) {
        Ok(equipped) => equipped,
        Err(none) => return (RerunOutcome::no_credential(none), pacing),
    };
    let client = &client;
    let attempt = request.claimed.attempt;
    let mut tries = Tries {
        settings,
        log,
        transient: 0,
        rate_limited: 0,
        max_transient: settings.max_tries,
    };
    loop {
        pacing.wait_for_pause().await;
        let run_key = &request.run;
        let read = auth.call(client, log, |header| async move {
            client.get_run(&header, run_key, log).await
        });
        let run = match read.await {
            Ok(answer) => {
                if let Some(wait) = answer.quota_wait {
                    pacing.pause(wait);
                }
                answer.value
            }
            Err(err) => match tries.after(err, &mut pacing).await {
                AfterError::TryAgain => continue,
                AfterError::Stop(outcome) => return (outcome, pacing),
            },
        };
        // A run GitHub still shows in progress (it may, for a few seconds after its last
        // job) is answered at once: the tracker schedules another look, so the queue
        // does not wait on it.
        if let Some(outcome) = judge(&run, attempt) {
            return (outcome, pacing);
        }
        if pacing.wait_for_post_slot(settings.min_interval).await > STALE_READ {
            continue;
        }
        if performer.dry_run {
            info!(
                log,
                "dry run: the run would be re-run now; DRY_RUN=true keeps it from the API"
            );
            return (RerunOutcome::DryRun, pacing);
        }
        match performer.claim_still_ours(&request).await {
            Ok(true) => {}
            Ok(false) => return (RerunOutcome::Superseded, pacing),
            Err(err) => match tries.after(err, &mut pacing).await {
                AfterError::TryAgain => continue,
                AfterError::Stop(outcome) => return (outcome, pacing),
            },
        }
        pacing.posted();
        let debug_logging = request.claimed.debug_logging;
        let run_key = &request.run;
        let posted = auth.call(client, log, |header| async move {
            client
                .rerun_failed_jobs(&header, run_key, debug_logging, log)
                .await
        });
        match posted.await {
            Ok(answer) => {
                if let Some(wait) = answer.quota_wait {
                    pacing.pause(wait);
                }
                pacing.secondary_strikes = 0;
                return (RerunOutcome::Started, pacing);
            }
            Err(err) => match tries.after(err, &mut pacing).await {
                AfterError::TryAgain => continue,
                AfterError::Stop(outcome) => return (outcome, pacing),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: &str, conclusion: Option<&str>, attempt: u32) -> WorkflowRun {
        WorkflowRun {
            status: Some(status.into()),
            conclusion: conclusion.map(str::to_owned),
            run_attempt: Some(attempt),
        }
    }

    #[test]
    fn a_failed_completed_run_at_the_same_attempt_is_due() {
        assert_eq!(judge(&run("completed", Some("failure"), 1), 1), None);
        assert_eq!(judge(&run("completed", Some("timed_out"), 2), 2), None);
    }

    #[test]
    fn a_newer_attempt_means_already_rerun() {
        assert_eq!(
            judge(&run("queued", None, 2), 1),
            Some(RerunOutcome::AlreadyRerun { github_attempt: 2 })
        );
    }

    #[test]
    fn a_running_or_passed_run_is_not_rerun() {
        assert_eq!(
            judge(&run("in_progress", None, 1), 1),
            Some(RerunOutcome::StillRunning)
        );
        assert_eq!(
            judge(&run("completed", Some("cancelled"), 1), 1),
            Some(RerunOutcome::NotNeeded {
                conclusion: "cancelled".into()
            })
        );
    }
}
