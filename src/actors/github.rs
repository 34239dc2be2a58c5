//! `GitHubActor`: the one place that calls the GitHub API.
//!
//! Role: performs re-run requests and evidence fetches in the order they came (one
//! FIFO), one at a time per credential ([`Credential`]: `GITHUB_TOKEN`, or one App
//! installation's token), each credential paced to at most one POST per
//! `GITHUB_MIN_INTERVAL`. Before each POST it reads the
//! run and only re-runs it if it is completed, concluded as a failure and still at the
//! attempt the tracker saw, so a run re-run by hand, or by us before a crash, is never
//! re-run twice. Transient errors are retried with exponential back-off; a rate limit
//! pauses the requests of its credential until GitHub's reset, while those of other
//! credentials go on (GitHub counts its limits per token and per installation). Evidence for the failure policy (a
//! failed job's annotations and log tail) is fetched here too, never on the webhook
//! path, so it shares the pacing, the retries and the pauses; what cannot be fetched
//! is answered as unavailable, never as an error.
//!
//! State: the queue, the pacing of each credential (pause deadline, time of the last
//! POST; taken by its request under way), the credentials with the installation token
//! cache (`github::credentials`) and the awc client (built inside the actor: awc is
//! not `Send`).
//!
//! Messages: [`RerunRequest`] (answered with a [`RerunOutcome`] once performed),
//! [`FetchEvidence`] (answered with a [`JobEvidence`] per job), [`FetchJobs`] (a run's
//! jobs, `jobs.rs`) and [`QueueDepth`].

mod jobs;

pub use jobs::{FetchJobs, Listed};

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use slog::{Logger, debug, info, o, warn};
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep, sleep_until};

use crate::actors::run_tracker::now_ms;
use crate::github::check_run::{self, Report};
use crate::github::credentials::NO_CREDENTIAL;
use crate::github::{Answer, LogTail};
use crate::github::{Credential, Credentials, RequestAuth};
use crate::github::{GitHubClient, GitHubError, RateLimit, WorkflowRun};
use crate::ids::{InstallationId, JobId, RunKey};
use crate::metrics::Metrics;
use crate::policy::{Annotation, Fetched, JobEvidence, JobRef};
use crate::run::{ChangeResult, Claim, ClaimedRerun, Conclusion, RerunOutcome, RunChange};
use crate::settings::{GitHubSettings, Secret};
use crate::store::Store;

/// Longest pause of the queue, whatever a rate limit asks.
const MAX_PAUSE: Duration = Duration::from_secs(3600);
/// A wait before the POST longer than this means the run is read again first: someone
/// may have re-run it by hand meanwhile.
const STALE_READ: Duration = Duration::from_secs(5);
/// Rate-limit pauses one request may sit through before it gives up.
const MAX_RATE_LIMIT_PAUSES: u32 = 50;
/// Tries of one evidence call on transient errors (at most `GITHUB_MAX_TRIES`): the
/// queue's re-runs wait behind it, and an unavailable log is an answer too.
const EVIDENCE_MAX_TRIES: u32 = 3;
/// Looks at a job's log that GitHub answers 404 for (not archived yet), waiting
/// `GITHUB_BACKOFF`, doubling, between them.
const LOG_NOT_READY_TRIES: u32 = 3;
/// Failed jobs whose evidence one request fetches; the others are answered
/// unavailable (a run with more failed jobs is rarely flaky: see `max_failed_jobs`).
pub const MAX_EVIDENCE_JOBS: usize = 30;

/// Re-run the failed jobs of `run` for the claimed attempt.
#[derive(Message, Clone, Debug)]
#[rtype(result = "RerunOutcome")]
pub struct RerunRequest {
    /// The run.
    pub run: RunKey,
    /// What this process claimed: the attempt, and the delivery that decided it.
    pub claimed: ClaimedRerun,
}

/// Fetch the evidence the failure policy needs about failed jobs of `run`: each job's
/// check-run annotations and the tail of its log (`LOG_TAIL_BYTES`, at most
/// `LOG_READ_MAX_BYTES` read). Queued with the re-runs, so it obeys their pacing and
/// pauses. Answered with one [`JobEvidence`] per job, in order (at most
/// [`MAX_EVIDENCE_JOBS`] fetched; the others unavailable); what could not be fetched
/// (410, a refusal, a malformed answer, retries spent, no token) is
/// [`Fetched::Unavailable`] with a short reason that never holds a URL.
#[derive(Message, Clone, Debug)]
#[rtype(result = "Vec<JobEvidence>")]
pub struct FetchEvidence {
    /// The run.
    pub run: RunKey,
    /// Its attempt (for the log lines).
    pub attempt: u32,
    /// The delivery that completed the attempt (for the log lines).
    pub delivery: Option<String>,
    /// The App installation the run belongs to: fetched with the credential its re-run uses.
    pub installation: Option<InstallationId>,
    /// The failed jobs to fetch the evidence of.
    pub jobs: Vec<JobRef>,
}

/// Report an automatic decision as a check run on the run's commit (`REPORT=check_run`,
/// an App installation's run only). Fire-and-forget: queued with the re-runs of its
/// installation, sent once after the outcome; a failure is logged, never retried.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct ReportDecision {
    /// The run.
    pub run: RunKey,
    /// Its installation: the check run is created with its token.
    pub installation: InstallationId,
    /// What to say.
    pub report: Report,
}

/// How many requests wait in the queue (the one under way included).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct QueueDepth;

enum Queued {
    Rerun {
        request: RerunRequest,
        reply: oneshot::Sender<RerunOutcome>,
    },
    Evidence {
        request: FetchEvidence,
        reply: oneshot::Sender<Vec<JobEvidence>>,
    },
    Jobs {
        request: FetchJobs,
        reply: oneshot::Sender<Listed>,
    },
    Report(ReportDecision),
}

impl Queued {
    fn installation(&self) -> Option<InstallationId> {
        match self {
            Queued::Rerun { request, .. } => request.claimed.installation,
            Queued::Evidence { request, .. } => request.installation,
            Queued::Jobs { request, .. } => request.installation,
            Queued::Report(report) => Some(report.installation),
        }
    }
}

/// Whose requests share a pacing: one credential's (`None`: no credential applies;
/// such requests are answered at once).
type Lane = Option<Credential>;

/// Pacing shared by one credential's requests: its pause and its last POST.
#[derive(Default)]
struct Pacing {
    paused_until: Option<Instant>,
    last_post: Option<Instant>,
    secondary_strikes: u32,
}

impl Pacing {
    async fn wait_for_pause(&self) {
        if let Some(until) = self.paused_until {
            sleep_until(until).await;
        }
    }

    /// Waits out any pause and the least interval since the last POST; returns how long
    /// that took.
    async fn wait_for_post_slot(&mut self, min_interval: Duration) -> Duration {
        let started = Instant::now();
        self.wait_for_pause().await;
        if let Some(last) = self.last_post {
            sleep_until(last + min_interval).await;
        }
        started.elapsed()
    }

    fn posted(&mut self) {
        self.last_post = Some(Instant::now());
    }

    fn pause(&mut self, wait: Duration) {
        // GitHub's headers are not trusted to be sane: no pause is longer than an hour.
        let until = Instant::now() + wait.min(MAX_PAUSE);
        self.paused_until = Some(
            self.paused_until
                .map_or(until, |current| current.max(until)),
        );
    }
}

/// The GitHub actor. See the module documentation.
pub struct GitHubActor {
    settings: GitHubSettings,
    store: Arc<dyn Store>,
    claim: Claim,
    metrics: Arc<Metrics>,
    dry_run: bool,
    log: Logger,
    client: Option<Rc<GitHubClient>>,
    credentials: Arc<Credentials>,
    queue: VecDeque<Queued>,
    /// Each credential's pacing; `None` while its request under way has it (given
    /// back when it finishes). One entry per credential used since start-up.
    lanes: HashMap<Lane, Option<Pacing>>,
}

impl GitHubActor {
    /// An actor that calls the API described by `settings`, and confirms `claim` in
    /// `store` before each POST.
    pub fn new(
        settings: GitHubSettings,
        store: Arc<dyn Store>,
        claim: Claim,
        metrics: Arc<Metrics>,
        dry_run: bool,
        log: &Logger,
    ) -> Self {
        Self {
            credentials: Arc::new(Credentials::new(&settings)),
            settings,
            store,
            claim,
            metrics,
            dry_run,
            log: log.new(o!("actor" => "github")),
            client: None,
            queue: VecDeque::new(),
            lanes: HashMap::new(),
        }
    }

    /// Requests waiting or under way.
    fn depth(&self) -> usize {
        self.queue.len() + self.lanes.values().filter(|p| p.is_none()).count()
    }

    /// Starts the first waiting request of every credential that has none under way.
    fn next(&mut self, ctx: &mut Context<Self>) {
        loop {
            let credentials = &self.credentials;
            let lanes = &self.lanes;
            let Some(index) = self.queue.iter().position(|queued| {
                let lane = credentials.choose(queued.installation()).ok();
                !matches!(lanes.get(&lane), Some(None))
            }) else {
                return; // each one waiting is behind its credential's request under way
            };
            let Some(queued) = self.queue.remove(index) else {
                return;
            };
            let lane = self.credentials.choose(queued.installation());
            let pacing = self
                .lanes
                .insert(lane.ok(), None)
                .flatten()
                .unwrap_or_default();
            self.metrics.github_queue.set(self.depth() as i64);
            let auth =
                lane.map(|credential| RequestAuth::new(Arc::clone(&self.credentials), credential));
            match queued {
                Queued::Rerun { request, reply } => self.rerun(request, reply, auth, pacing, ctx),
                Queued::Evidence { request, reply } => {
                    self.fetch(request, reply, auth, pacing, ctx)
                }
                Queued::Jobs { request, reply } => {
                    self.list_jobs(request, reply, auth, pacing, ctx)
                }
                Queued::Report(report) => self.report(report, auth, pacing, ctx),
            }
        }
    }

    /// The logger of one request: its run, attempt, deciding delivery and credential.
    fn request_log(
        &self,
        run: &RunKey,
        attempt: u32,
        delivery: Option<&str>,
        lane: Lane,
    ) -> Logger {
        self.log
            .new(o!("repo" => run.repo.to_string(), "run_id" => run.run_id.0,
            "run_attempt" => attempt, "delivery" => delivery.unwrap_or_default().to_owned(),
            "credential" => lane.map_or_else(|| "none".to_owned(), Credential::describe)))
    }

    /// Starts performing a re-run (its credential's turn and pacing are taken).
    fn rerun(
        &mut self,
        request: RerunRequest,
        reply: oneshot::Sender<RerunOutcome>,
        auth: Result<RequestAuth, &'static str>,
        pacing: Pacing,
        ctx: &mut Context<Self>,
    ) {
        let lane = auth.as_ref().ok().map(|auth| auth.credential);
        let delivery = request.claimed.decided_by.as_deref();
        let log = self.request_log(&request.run, request.claimed.attempt, delivery, lane);
        info!(log, "re-run started"; "queue" => self.depth());
        let performer = Performer {
            client: self.client.clone(),
            dry_run: self.dry_run,
            settings: self.settings.clone(),
            store: Arc::clone(&self.store),
            claim: self.claim,
            log: log.clone(),
        };
        let work = perform(performer, auth, pacing, request);
        ctx.spawn(work.into_actor(self).map(move |(outcome, pacing), act, ctx| {
            info!(log, "re-run finished"; "outcome" => outcome.label(), "detail" => %outcome,
                "queue" => act.queue.len());
            let _ = reply.send(outcome);
            act.finished(lane, pacing, ctx);
        }));
    }

    /// Starts fetching evidence (its credential's turn and pacing are taken).
    fn fetch(
        &mut self,
        request: FetchEvidence,
        reply: oneshot::Sender<Vec<JobEvidence>>,
        auth: Result<RequestAuth, &'static str>,
        pacing: Pacing,
        ctx: &mut Context<Self>,
    ) {
        let lane = auth.as_ref().ok().map(|auth| auth.credential);
        let delivery = request.delivery.as_deref();
        let log = self.request_log(&request.run, request.attempt, delivery, lane);
        info!(log, "evidence fetch started"; "jobs" => request.jobs.len(),
            "queue" => self.depth());
        let fetcher = Fetcher {
            client: self.client.clone(),
            settings: self.settings.clone(),
            metrics: Arc::clone(&self.metrics),
            log: log.clone(),
        };
        let work = gather(fetcher, auth, pacing, request);
        ctx.spawn(
            work.into_actor(self)
                .map(move |(evidence, pacing), act, ctx| {
                    let unavailable = evidence
                        .iter()
                        .map(|e| {
                            usize::from(matches!(e.annotations, Fetched::Unavailable { .. }))
                                + usize::from(matches!(e.log, Fetched::Unavailable { .. }))
                        })
                        .sum::<usize>();
                    info!(log, "evidence fetch finished"; "jobs" => evidence.len(),
                "unavailable" => unavailable, "queue" => act.queue.len());
                    let _ = reply.send(evidence);
                    act.finished(lane, pacing, ctx);
                }),
        );
    }

    /// Starts creating a check run (its credential's turn and pacing are taken).
    fn report(
        &mut self,
        report: ReportDecision,
        auth: Result<RequestAuth, &'static str>,
        pacing: Pacing,
        ctx: &mut Context<Self>,
    ) {
        let lane = auth.as_ref().ok().map(|auth| auth.credential);
        let log = self.log.new(o!("repo" => report.run.repo.to_string(),
            "run_id" => report.run.run_id.0, "installation" => report.installation.0));
        let body = check_run::body(&report.report, self.settings.public_url.as_deref());
        let work = create_check_run(
            self.client.clone(),
            auth,
            pacing,
            self.settings.min_interval,
            (report.run.repo, body),
            log,
        );
        ctx.spawn(work.into_actor(self).map(move |pacing, act, ctx| {
            act.finished(lane, pacing, ctx);
        }));
    }

    /// A request of `lane` is done: give its pacing back and start what can start.
    fn finished(&mut self, lane: Lane, pacing: Pacing, ctx: &mut Context<Self>) {
        self.lanes.insert(lane, Some(pacing));
        self.metrics.github_queue.set(self.depth() as i64);
        self.next(ctx);
    }
}

impl Actor for GitHubActor {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Self::Context) {
        self.client = self
            .credentials
            .any()
            .then(|| Rc::new(GitHubClient::new(&self.settings, Arc::clone(&self.metrics))));
        let token = match (&self.settings.token, &self.settings.app) {
            (Some(_), _) => "set",
            (None, Some(_)) => "unset: runs of no App installation are refused",
            (None, None) => "unset: re-runs are refused",
        };
        let app = self
            .settings
            .app
            .as_ref()
            .map_or_else(|| "unset".to_owned(), |app| app.id.to_string());
        info!(self.log, "actor started"; "api_url" => crate::redact::url(&self.settings.api_url), "token" => token,
            "app_id" => app, "dry_run" => self.dry_run);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        info!(self.log, "actor stopped"; "queue" => self.queue.len());
    }
}

impl Handler<RerunRequest> for GitHubActor {
    type Result = ResponseFuture<RerunOutcome>;

    fn handle(&mut self, request: RerunRequest, ctx: &mut Self::Context) -> Self::Result {
        let (reply, outcome) = oneshot::channel();
        debug!(self.log, "message received"; "message" => "RerunRequest",
            "repo" => request.run.repo.to_string(), "run_id" => request.run.run_id.0,
            "run_attempt" => request.claimed.attempt, "queue" => self.queue.len() + 1);
        self.queue.push_back(Queued::Rerun { request, reply });
        self.metrics.github_queue.set(self.depth() as i64);
        self.next(ctx);
        Box::pin(async move {
            outcome.await.unwrap_or_else(|_| RerunOutcome::GaveUp {
                tries: 0,
                last_error: "the GitHub actor stopped".into(),
            })
        })
    }
}

impl Handler<FetchEvidence> for GitHubActor {
    type Result = ResponseFuture<Vec<JobEvidence>>;

    fn handle(&mut self, request: FetchEvidence, ctx: &mut Self::Context) -> Self::Result {
        let (reply, evidence) = oneshot::channel();
        debug!(self.log, "message received"; "message" => "FetchEvidence",
            "repo" => request.run.repo.to_string(), "run_id" => request.run.run_id.0,
            "jobs" => request.jobs.len(), "queue" => self.queue.len() + 1);
        let jobs: Vec<JobId> = request.jobs.iter().map(|j| j.id).collect();
        self.queue.push_back(Queued::Evidence { request, reply });
        self.metrics.github_queue.set(self.depth() as i64);
        self.next(ctx);
        Box::pin(async move {
            evidence
                .await
                .unwrap_or_else(|_| all_unavailable(&jobs, "the GitHub actor stopped"))
        })
    }
}

impl Handler<ReportDecision> for GitHubActor {
    type Result = ();

    fn handle(&mut self, report: ReportDecision, ctx: &mut Self::Context) {
        if !self.settings.report_check_runs || self.settings.app.is_none() || self.dry_run {
            return;
        }
        self.queue.push_back(Queued::Report(report));
        self.metrics.github_queue.set(self.depth() as i64);
        self.next(ctx);
    }
}

impl Handler<QueueDepth> for GitHubActor {
    type Result = usize;

    fn handle(&mut self, _: QueueDepth, _ctx: &mut Self::Context) -> usize {
        self.depth()
    }
}

/// What to do after a failed call.
enum AfterError {
    TryAgain,
    Stop(RerunOutcome),
}

/// Counts one request's failures and decides whether it goes on.
struct Tries<'a> {
    settings: &'a GitHubSettings,
    log: &'a Logger,
    transient: u32,
    rate_limited: u32,
    /// Transient errors after which it gives up.
    max_transient: u32,
}

impl Tries<'_> {
    async fn after(&mut self, err: GitHubError, pacing: &mut Pacing) -> AfterError {
        match err {
            GitHubError::RateLimited(limit) => {
                self.rate_limited += 1;
                if self.rate_limited > MAX_RATE_LIMIT_PAUSES {
                    return AfterError::Stop(RerunOutcome::GaveUp {
                        tries: self.transient + self.rate_limited,
                        last_error: "rate limited too many times".into(),
                    });
                }
                let wait = match limit {
                    RateLimit::For(wait) => wait,
                    RateLimit::Unspecified => {
                        let doubled = self
                            .settings
                            .secondary_limit_wait
                            .saturating_mul(1 << pacing.secondary_strikes.min(6));
                        pacing.secondary_strikes += 1;
                        doubled.min(MAX_PAUSE)
                    }
                };
                warn!(self.log, "GitHub rate limit: pausing the queue"; "wait_ms" => wait.as_millis() as u64);
                pacing.pause(wait);
                AfterError::TryAgain
            }
            GitHubError::Transient(message) => {
                self.transient += 1;
                if self.transient >= self.max_transient {
                    return AfterError::Stop(RerunOutcome::GaveUp {
                        tries: self.transient,
                        last_error: message,
                    });
                }
                let wait = self
                    .settings
                    .backoff_base
                    .saturating_mul(1 << (self.transient - 1).min(20))
                    .min(self.settings.backoff_max);
                warn!(self.log, "GitHub API call failed; backing off"; "error" => &message,
                    "try" => self.transient, "wait_ms" => wait.as_millis() as u64);
                sleep(wait).await;
                AfterError::TryAgain
            }
            GitHubError::Rejected { status, message } => {
                AfterError::Stop(RerunOutcome::Refused { status, message })
            }
        }
    }
}

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
struct Performer {
    client: Option<Rc<GitHubClient>>,
    dry_run: bool,
    settings: GitHubSettings,
    store: Arc<dyn Store>,
    claim: Claim,
    log: Logger,
}

impl Performer {
    /// Extends this process's claim on the re-run right before the POST: if the claim ran
    /// out and another process took the re-run over, that process performs it, not us.
    async fn claim_still_ours(&self, request: &RerunRequest) -> Result<bool, GitHubError> {
        let change = RunChange::Renew {
            now: now_ms(),
            attempt: request.claimed.attempt,
            claim: self.claim,
        };
        match self.store.transition(&request.run, change).await {
            Ok(applied) => Ok(applied.result == ChangeResult::Renewed(true)),
            Err(err) => Err(GitHubError::transient(format!(
                "confirming the claim: {err}"
            ))),
        }
    }
}

/// Performs one re-run request to the end: read the run, POST when it is due, retry and
/// wait as GitHub asks. Hands the pacing back with the outcome.
async fn perform(
    performer: Performer,
    auth: Result<RequestAuth, &'static str>,
    mut pacing: Pacing,
    request: RerunRequest,
) -> (RerunOutcome, Pacing) {
    let Performer {
        client,
        settings,
        log,
        ..
    } = &performer;
    let (client, mut auth) = match (client, auth) {
        (Some(client), Ok(auth)) => (client, auth),
        (_, auth) => {
            let refused = RerunOutcome::Refused {
                status: 0,
                message: auth.err().unwrap_or(NO_CREDENTIAL).into(),
            };
            return (refused, pacing);
        }
    };
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

/// Creates one check run, once: paced and paused as the credential's POSTs are, and
/// never retried (a decision's report is not worth holding a re-run back).
async fn create_check_run(
    client: Option<Rc<GitHubClient>>,
    auth: Result<RequestAuth, &'static str>,
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

/// What one evidence request needs.
struct Fetcher {
    client: Option<Rc<GitHubClient>>,
    settings: GitHubSettings,
    metrics: Arc<Metrics>,
    log: Logger,
}

pub(crate) fn all_unavailable(jobs: &[JobId], why: &str) -> Vec<JobEvidence> {
    jobs.iter()
        .map(|&job| JobEvidence {
            job,
            annotations: Fetched::Unavailable {
                why: why.to_owned(),
            },
            log: Fetched::Unavailable {
                why: why.to_owned(),
            },
        })
        .collect()
}

/// Why a call that stopped left its evidence unavailable, in a few words.
fn stopped_why(outcome: &RerunOutcome) -> String {
    match outcome {
        RerunOutcome::GaveUp { tries, last_error } => {
            format!("gave up after {tries} tries: {last_error}")
        }
        RerunOutcome::Refused { status, message } => format!("HTTP {status}: {message}"),
        other => other.label().to_owned(),
    }
}

/// One evidence call with the request's credential, retried and paused as a re-run's
/// calls are; `Err` is the outcome that stopped it.
async fn with_tries<T, F, Fut>(
    pacing: &mut Pacing,
    settings: &GitHubSettings,
    log: &Logger,
    (client, auth): (&GitHubClient, &mut RequestAuth),
    call: F,
) -> Result<T, RerunOutcome>
where
    F: Fn(Secret) -> Fut,
    Fut: Future<Output = Result<Answer<T>, GitHubError>>,
{
    let mut tries = Tries {
        settings,
        log,
        transient: 0,
        rate_limited: 0,
        max_transient: settings.max_tries.min(EVIDENCE_MAX_TRIES),
    };
    loop {
        pacing.wait_for_pause().await;
        match auth.call(client, log, &call).await {
            Ok(answer) => {
                if let Some(wait) = answer.quota_wait {
                    pacing.pause(wait);
                }
                return Ok(answer.value);
            }
            Err(err) => match tries.after(err, pacing).await {
                AfterError::TryAgain => {}
                AfterError::Stop(outcome) => return Err(outcome),
            },
        }
    }
}

/// Fetches each job's annotations and log tail, in order.
async fn gather(
    fetcher: Fetcher,
    auth: Result<RequestAuth, &'static str>,
    mut pacing: Pacing,
    request: FetchEvidence,
) -> (Vec<JobEvidence>, Pacing) {
    let jobs: Vec<JobId> = request.jobs.iter().map(|j| j.id).collect();
    let (client, mut auth) = match (fetcher.client.clone(), auth) {
        (Some(client), Ok(auth)) => (client, auth),
        (_, auth) => {
            let why = auth.err().unwrap_or(NO_CREDENTIAL);
            return (all_unavailable(&jobs, why), pacing);
        }
    };
    let client = &*client;
    let mut evidence = Vec::with_capacity(jobs.len());
    for (index, &job) in jobs.iter().enumerate() {
        if index >= MAX_EVIDENCE_JOBS {
            let why = format!("not fetched: more than {MAX_EVIDENCE_JOBS} failed jobs");
            evidence.extend(all_unavailable(&jobs[index..], &why));
            break;
        }
        let log = fetcher.log.new(o!("job_id" => job.0));
        let on = (client, &mut auth);
        let annotations = fetch_annotations(&fetcher, on, &mut pacing, &request, job, &log);
        let annotations = annotations.await;
        let on = (client, &mut auth);
        let tail = fetch_log(&fetcher, on, &mut pacing, &request, job, &log).await;
        evidence.push(JobEvidence {
            job,
            annotations,
            log: tail,
        });
    }
    (evidence, pacing)
}

async fn fetch_annotations(
    fetcher: &Fetcher,
    (client, auth): (&GitHubClient, &mut RequestAuth),
    pacing: &mut Pacing,
    request: &FetchEvidence,
    job: JobId,
    log: &Logger,
) -> Fetched<Vec<Annotation>> {
    let repo = &request.run.repo;
    let call =
        |header: Secret| async move { client.job_annotations(&header, repo, job, log).await };
    let on = (client, auth);
    let fetched = match with_tries(pacing, &fetcher.settings, log, on, call).await {
        Ok(fetched) => fetched,
        Err(stopped) => Fetched::Unavailable {
            why: stopped_why(&stopped),
        },
    };
    let result = match &fetched {
        Fetched::Got(_) => "ok",
        Fetched::Unavailable { why } => {
            info!(log, "job annotations unavailable"; "why" => why);
            "unavailable"
        }
    };
    fetcher
        .metrics
        .evidence_fetches
        .with_label_values(&["annotations", result])
        .inc();
    fetched
}

async fn fetch_log(
    fetcher: &Fetcher,
    (client, auth): (&GitHubClient, &mut RequestAuth),
    pacing: &mut Pacing,
    request: &FetchEvidence,
    job: JobId,
    log: &Logger,
) -> Fetched<String> {
    let settings = &fetcher.settings;
    let repo = &request.run.repo;
    let mut not_ready = 0;
    let read: Result<LogTail, String> = loop {
        let call = |header: Secret| async move {
            client
                .job_log_tail(
                    &header,
                    repo,
                    job,
                    settings.log_tail_bytes,
                    settings.log_read_max_bytes,
                    log,
                )
                .await
        };
        match with_tries(pacing, settings, log, (client, &mut *auth), call).await {
            Ok(tail) => break Ok(tail),
            Err(RerunOutcome::Refused { status: 404, .. })
                if not_ready + 1 < LOG_NOT_READY_TRIES =>
            {
                not_ready += 1;
                // The log is archived a few seconds after the job completes.
                let wait = settings
                    .backoff_base
                    .saturating_mul(1 << (not_ready - 1))
                    .min(settings.backoff_max);
                info!(log, "job log not ready yet; asking again"; "try" => not_ready,
                    "wait_ms" => wait.as_millis() as u64);
                sleep(wait).await;
            }
            Err(stopped) => break Err(stopped_why(&stopped)),
        }
    };
    let (result, fetched) = match read {
        Ok(tail) if tail.capped => {
            info!(log, "job log read cap reached; its tail of what was read is used";
                "read_bytes" => tail.read_bytes, "cap" => settings.log_read_max_bytes);
            ("capped", Fetched::Got(tail.text))
        }
        Ok(tail) => ("ok", Fetched::Got(tail.text)),
        Err(why) => {
            info!(log, "job log unavailable"; "why" => &why);
            ("unavailable", Fetched::Unavailable { why })
        }
    };
    fetcher
        .metrics
        .evidence_fetches
        .with_label_values(&["log", result])
        .inc();
    fetched
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
