//! [`FetchJobs`]: the GitHub actor lists the jobs of a run whose `workflow_job`
//! deliveries were lost, for the claimant of its re-run (decided on
//! `workflow_run.completed` with `needs_jobs`). Queued FIFO with the re-runs and the
//! evidence fetches, sharing their pacing, tries and rate-limit pauses; never on the
//! webhook path.

use std::rc::Rc;

use actix::prelude::*;
use slog::{Logger, debug, info};
use tokio::sync::oneshot;

use super::{GitHubActor, Pacing, Queued, equipped, with_tries};
use crate::github::GitHubClient;
use crate::github::GitHubSettings;
use crate::github::{NoCredential, RequestAuth};
use crate::ids::{InstallationId, RunKey};
use crate::run::{RerunOutcome, TrackedJob};

/// What listing a run's jobs came to: the attempt's jobs, or the outcome that stopped
/// it (GitHub shows a newer attempt, a refusal, tries spent).
pub type Listed = Result<Vec<TrackedJob>, RerunOutcome>;

/// List the jobs of `run`'s `attempt` (`GET …/actions/runs/{id}/jobs?filter=latest`,
/// every page).
#[derive(Message, Clone, Debug)]
#[rtype(result = "Listed")]
pub struct FetchJobs {
    /// The run.
    pub run: RunKey,
    /// The attempt whose jobs are wanted.
    pub attempt: u32,
    /// The delivery that decided the re-run (for the log lines).
    pub delivery: Option<String>,
    /// The run's App installation, whose token lists the jobs (`None`: `GITHUB_TOKEN`).
    pub installation: Option<InstallationId>,
}

impl Handler<FetchJobs> for GitHubActor {
    type Result = ResponseFuture<Listed>;

    fn handle(&mut self, request: FetchJobs, ctx: &mut Self::Context) -> Self::Result {
        let (reply, listed) = oneshot::channel();
        debug!(self.log, "message received"; "message" => "FetchJobs",
            "repo" => request.run.repo.to_string(), "run_id" => request.run.run_id.0,
            "run_attempt" => request.attempt, "queue" => self.depth() + 1);
        self.queue.push_back(Queued::Jobs { request, reply });
        self.metrics.github_queue.set(self.depth() as i64);
        self.next(ctx);
        Box::pin(async move {
            listed.await.unwrap_or_else(|_| {
                Err(RerunOutcome::GaveUp {
                    tries: 0,
                    last_error: "the GitHub actor stopped".into(),
                })
            })
        })
    }
}

impl GitHubActor {
    /// Starts listing a run's jobs (its credential's turn and pacing are taken).
    pub(super) fn list_jobs(
        &mut self,
        request: FetchJobs,
        reply: oneshot::Sender<Listed>,
        auth: Result<RequestAuth, NoCredential>,
        pacing: Pacing,
        ctx: &mut Context<Self>,
    ) {
        let lane = auth.as_ref().ok().map(|auth| auth.credential);
        let delivery = request.delivery.as_deref();
        let log = self.request_log(&request.run, request.attempt, delivery, lane);
        info!(log, "jobs listing started"; "queue" => self.depth());
        let work = list(
            self.client.clone(),
            auth,
            self.settings.clone(),
            log.clone(),
            pacing,
            request,
        );
        ctx.spawn(
            work.into_actor(self)
                .map(move |(listed, pacing), act, ctx| {
                    match &listed {
                        Ok(jobs) => info!(log, "jobs listing finished"; "jobs" => jobs.len(),
                    "queue" => act.queue.len()),
                        Err(outcome) => {
                            info!(log, "jobs listing stopped"; "outcome" => outcome.label(),
                    "detail" => %outcome, "queue" => act.queue.len())
                        }
                    }
                    let _ = reply.send(listed);
                    act.finished(lane, pacing, ctx);
                }),
        );
    }
}

/// Lists the jobs, retried and paused as the evidence calls are.
pub(super) async fn list(
    client: Option<Rc<GitHubClient>>,
    auth: Result<RequestAuth, NoCredential>,
    settings: GitHubSettings,
    log: Logger,
    mut pacing: Pacing,
    request: FetchJobs,
) -> (Listed, Pacing) {
    let (client, mut auth) = match equipped(client, auth) {
        Ok(equipped) => equipped,
        Err(none) => return (Err(RerunOutcome::no_credential(none)), pacing),
    };
    let client = &*client;
    let (run, attempt, log) = (&request.run, request.attempt, &log);
    let call = |header| async move { client.run_jobs(&header, run, attempt, log).await };
    let on = (client, &mut auth);
    let listed = match with_tries(&mut pacing, &settings, log, on, call).await {
        Ok(listing) => match listing.newer_attempt {
            Some(github_attempt) => Err(RerunOutcome::AlreadyRerun { github_attempt }),
            None => Ok(listing.jobs),
        },
        Err(stopped) => Err(stopped),
    };
    (listed, pacing)
}
