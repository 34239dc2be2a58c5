//! [`Gather`]: everything a claimed re-run's decision needs from GitHub, asked in one
//! request and answered once, so that the tracker decides in one commit. The
//! attempt's jobs when their deliveries were lost, and the failed jobs' evidence when
//! the rule reads it: either the jobs the tracker names, or the failed ones of the
//! listing.
//!
//! The first turn in the credential's lane lists the jobs and reads the chosen jobs'
//! annotations; each log's location then takes a turn of its own ([`LocateLog`]) and
//! the blob is downloaded outside the lane, as for [`FetchEvidence`]: a slow log
//! holds no other run's turn. The listing is bounded by its tries (as `FetchJobs`);
//! the evidence by one budget (`EVIDENCE_TIMEOUT`), counted from the request, or from
//! the end of the listing when there is one, so that a slow listing never leaves the
//! evidence unread. Only the evidence is metered (`decisions.api_calls`,
//! `log_bytes`): the listing is no cost of the decision's evidence, as before.
//!
//! [`LocateLog`]: super::LocateLog
//! [`FetchEvidence`]: super::FetchEvidence

use std::rc::Rc;
use std::sync::Arc;

use actix::prelude::*;
use slog::{Logger, debug, info};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::evidence::{self, LogFetcher};
use super::jobs::{self, FetchJobs, Listed};
use super::{GitHubActor, Pacing, Queued, all_unavailable, equipped};
use crate::github::meter::{Meter, metered};
use crate::github::{GitHubClient, GitHubSettings, NoCredential, RequestAuth};
use crate::ids::{Conclusion, InstallationId, JobId, RunKey};
use crate::metrics::Metrics;
use crate::policy::{Annotation, Fetched, JobEvidence, JobRef};
use crate::run::RerunOutcome;

/// Whose evidence a gathering fetches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvidenceOf {
    /// None: the rule reads no evidence.
    Nothing,
    /// These jobs' (the attempt's failed jobs, known from their deliveries).
    Jobs(Vec<JobRef>),
    /// The failed jobs of the listing (asked with `list_jobs`).
    FailedListed,
}

/// Gather what the decision on `run`'s claimed re-run of `attempt` needs.
#[derive(Message, Clone, Debug)]
#[rtype(result = "Gathered")]
pub struct Gather {
    /// The run.
    pub run: RunKey,
    /// The attempt claimed.
    pub attempt: u32,
    /// The delivery that decided the re-run (for the log lines).
    pub delivery: Option<String>,
    /// The run's App installation, whose token is used (`None`: `GITHUB_TOKEN`).
    pub installation: Option<InstallationId>,
    /// List the attempt's jobs (`GET …/jobs?filter=latest`, every page) first.
    pub list_jobs: bool,
    /// Whose annotations and log tails to fetch.
    pub evidence: EvidenceOf,
    /// The run's evidence meter (`github::meter`).
    pub meter: Option<Arc<Meter>>,
}

/// What a gathering found.
#[derive(Debug)]
pub struct Gathered {
    /// The attempt's jobs, or the outcome that stopped the listing (`None`: not asked).
    pub listed: Option<Listed>,
    /// One [`JobEvidence`] per job whose evidence was fetched, in order (none when
    /// no evidence was asked for, or the listing failed).
    pub evidence: Vec<JobEvidence>,
}

impl Gathered {
    /// The answer when nothing could be asked: the listing stopped and every named
    /// job's evidence unavailable, for `why`.
    pub fn nothing(request: &Gather, why: &str) -> Self {
        let stopped = RerunOutcome::GaveUp {
            tries: 0,
            last_error: why.to_owned(),
        };
        Self {
            listed: request.list_jobs.then_some(Err(stopped)),
            evidence: all_unavailable(&named_jobs(&request.evidence), why),
        }
    }
}

/// The jobs `evidence` names before any listing.
fn named_jobs(evidence: &EvidenceOf) -> Vec<JobId> {
    match evidence {
        EvidenceOf::Jobs(jobs) => jobs.iter().map(|job| job.id).collect(),
        EvidenceOf::Nothing | EvidenceOf::FailedListed => Vec::new(),
    }
}

/// What the gathering's turn in the lane found: the listing, the jobs chosen for
/// evidence and their annotations.
pub(super) struct FirstTurn {
    listed: Option<Listed>,
    jobs: Vec<JobId>,
    annotations: Vec<Fetched<Vec<Annotation>>>,
    /// When the evidence's budget ends.
    deadline: Instant,
}

impl Handler<Gather> for GitHubActor {
    type Result = ResponseFuture<Gathered>;

    fn handle(&mut self, request: Gather, ctx: &mut Self::Context) -> Self::Result {
        debug!(self.log, "message received"; "message" => "Gather",
            "repo" => request.run.repo.to_string(), "run_id" => request.run.run_id.0,
            "list_jobs" => request.list_jobs, "queue" => self.depth() + 1);
        let lane = self.credentials.choose(request.installation);
        let (client, credential) = match equipped(self.client.clone(), lane) {
            Ok(equipped) => equipped,
            Err(none) => {
                let mut nothing = Gathered::nothing(&request, &none.to_string());
                nothing.listed = request
                    .list_jobs
                    .then(|| Err(RerunOutcome::no_credential(none)));
                return Box::pin(std::future::ready(nothing));
            }
        };
        // The evidence's budget: annotations, questions and downloads all end by it
        // (counted again from the end of a listing, `first_turn`).
        let deadline = Instant::now() + self.settings.evidence_timeout;
        let log = self.request_log(
            &request.run,
            request.attempt,
            request.delivery.as_deref(),
            Some(credential),
        );
        let (repo, installation) = (request.run.repo.clone(), request.installation);
        let meter = request.meter.clone();
        let stopped = Gathered::nothing(&request, "the GitHub actor stopped");
        let (reply, first) = oneshot::channel();
        self.queue.push_back(Queued::Gather {
            request,
            deadline,
            reply,
        });
        self.metrics.github_queue.set(self.depth() as i64);
        self.next(ctx);
        let logs = LogFetcher {
            actor: ctx.address(),
            client,
            downloads: Rc::clone(&self.downloads),
            settings: self.settings.clone(),
            metrics: Arc::clone(&self.metrics),
            log: log.clone(),
            meter: meter.clone(),
        };
        Box::pin(metered(meter, async move {
            let Ok(first) = first.await else {
                return stopped;
            };
            let tails = logs
                .fetch((&repo, installation), &first.jobs, first.deadline)
                .await;
            let evidence: Vec<JobEvidence> = first
                .jobs
                .iter()
                .zip(first.annotations.into_iter().zip(tails))
                .map(|(&job, (annotations, log))| JobEvidence {
                    job,
                    annotations,
                    log,
                })
                .collect();
            if !evidence.is_empty() {
                let unavailable = evidence
                    .iter()
                    .map(|e| {
                        usize::from(matches!(e.annotations, Fetched::Unavailable { .. }))
                            + usize::from(matches!(e.log, Fetched::Unavailable { .. }))
                    })
                    .sum::<usize>();
                info!(log, "evidence fetch finished"; "jobs" => evidence.len(),
                    "unavailable" => unavailable);
            }
            Gathered {
                listed: first.listed,
                evidence,
            }
        }))
    }
}

impl GitHubActor {
    /// Starts a gathering's turn in its credential's lane (its turn and pacing are
    /// taken): the listing, then the chosen jobs' annotations.
    pub(super) fn gather(
        &mut self,
        (request, deadline): (Gather, Instant),
        reply: oneshot::Sender<FirstTurn>,
        auth: Result<RequestAuth, NoCredential>,
        pacing: Pacing,
        ctx: &mut Context<Self>,
    ) {
        let lane = auth.as_ref().ok().map(|auth| auth.credential);
        let delivery = request.delivery.as_deref();
        let log = self.request_log(&request.run, request.attempt, delivery, lane);
        info!(log, "gathering started"; "list_jobs" => request.list_jobs,
            "jobs" => named_jobs(&request.evidence).len(), "queue" => self.depth());
        let (Some(client), Ok(auth)) = (self.client.clone(), auth) else {
            // The handler answers a request without a credential at once.
            self.finished(lane, pacing, ctx);
            return;
        };
        let read_auth = RequestAuth::new(Arc::clone(&self.credentials), auth.credential);
        let work = first_turn(
            (client, auth, read_auth),
            pacing,
            (self.settings.clone(), Arc::clone(&self.metrics)),
            (request, deadline),
            log,
        );
        ctx.spawn(work.into_actor(self).map(move |(first, pacing), act, ctx| {
            let _ = reply.send(first);
            act.finished(lane, pacing, ctx);
        }));
    }
}

/// In the lane: the listing (when asked), then the annotations of the jobs whose
/// evidence is wanted.
async fn first_turn(
    (client, list_auth, read_auth): (Rc<GitHubClient>, RequestAuth, RequestAuth),
    pacing: Pacing,
    (settings, metrics): (GitHubSettings, Arc<Metrics>),
    (request, deadline): (Gather, Instant),
    log: Logger,
) -> (FirstTurn, Pacing) {
    let (listed, pacing) = if request.list_jobs {
        let listing = FetchJobs {
            run: request.run.clone(),
            attempt: request.attempt,
            delivery: request.delivery.clone(),
            installation: request.installation,
        };
        let client = Some(Rc::clone(&client));
        let (listed, pacing) = jobs::list(
            client,
            Ok(list_auth),
            settings.clone(),
            log.clone(),
            pacing,
            listing,
        )
        .await;
        match &listed {
            Ok(jobs) => info!(log, "jobs listing finished"; "jobs" => jobs.len()),
            Err(outcome) => info!(log, "jobs listing stopped"; "outcome" => outcome.label(),
                "detail" => %outcome),
        }
        (Some(listed), pacing)
    } else {
        (None, pacing)
    };
    let jobs: Vec<JobId> = match (&request.evidence, &listed) {
        (EvidenceOf::FailedListed, Some(Ok(listed))) => listed
            .iter()
            .filter(|job| job.conclusion.is_some_and(Conclusion::is_failure))
            .map(|job| job.id)
            .collect(),
        (evidence, _) => named_jobs(evidence),
    };
    // A listing took its own time: the evidence gets its whole budget after it.
    let deadline = match listed {
        Some(_) => Instant::now() + settings.evidence_timeout,
        None => deadline,
    };
    if jobs.is_empty() {
        let first = FirstTurn {
            listed,
            jobs,
            annotations: Vec::new(),
            deadline,
        };
        return (first, pacing);
    }
    let (annotations, pacing) = metered(
        request.meter.clone(),
        evidence::annotations(
            (client, read_auth),
            pacing,
            (settings, metrics),
            (request.run.repo, jobs.clone(), deadline),
            log,
        ),
    )
    .await;
    let first = FirstTurn {
        listed,
        jobs,
        annotations,
        deadline,
    };
    (first, pacing)
}
