//! Reporting a decision as a check run on the run's commit (`REPORT=check_run`): one
//! call with the installation's token, in its credential's lane, never retried.

use std::rc::Rc;
use std::time::Duration;

use slog::{Logger, info, warn};

use super::Pacing;
use crate::github::{GitHubClient, GitHubError, NoCredential, RateLimit, RequestAuth};
use crate::secret::Secret;

/// Creates one check run, once: paced and paused as the credential's POSTs are, and
/// never retried (a decision's report is not worth holding a re-run back).
pub(super) async fn create_check_run(
    client: Option<Rc<GitHubClient>>,
    auth: Result<RequestAuth, NoCredential>,
    mut pacing: Pacing,
    min_interval: Duration,
    (repo, body): (crate::ids::RepoName, String),
    log: Logger,
) -> Pacing {
    let (Some(client), Ok(mut auth)) = (client, auth) else {
        return pacing;
    };
    pacing.wait_for_post_slot(min_interval).await;
    pacing.posted();
    let (client, repo, body, log) = (&*client, &repo, body.as_str(), &log);
    let call =
        |header: Secret| async move { client.create_check_run(&header, repo, body, log).await };
    match auth.call(client, log, call).await {
        Ok(answer) => {
            if let Some(wait) = answer.quota_wait {
                pacing.pause(wait);
            }
            info!(log, "check run created");
        }
        Err(err) => {
            if let GitHubError::RateLimited(RateLimit::For(wait)) = &err {
                pacing.pause(*wait);
            }
            warn!(log, "check run not created"; "error" => %err);
        }
    }
    pacing
}
