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
//! path: its API calls share the pacing, the retries and the pauses, while the log
//! blobs are downloaded outside the lanes (`evidence.rs`); what cannot be fetched is
//! answered as unavailable, never as an error.
//!
//! State: the queue, the pacing of each credential (pause deadline, time of the last
//! POST; taken by its request under way; an idle one is dropped), the credentials with
//! the installation token cache (`github::credentials`), the permits of log downloads
//! in flight (`LOG_DOWNLOADS`) and the awc client (built inside the actor: awc is not
//! `Send`).
//!
//! Messages: [`RerunRequest`] (answered with a [`RerunOutcome`] once performed),
//! [`FetchEvidence`] (answered with a [`JobEvidence`] per job), [`LocateLog`] (where a
//! job's log is, asked by the evidence fetch itself), [`FetchJobs`] (a run's jobs,
//! `jobs.rs`) and [`QueueDepth`].

mod evidence;
mod gather;
mod jobs;
mod perform;
mod report;

pub use evidence::LocateLog;
pub use gather::{EvidenceOf, Gather, Gathered};
pub use jobs::{FetchJobs, Listed};

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use slog::{Logger, debug, info, o, warn};
use tokio::sync::{Semaphore, oneshot};
use tokio::time::{Instant, sleep, sleep_until};

use crate::github::GitHubSettings;
use crate::github::check_run::{self, Report};
use crate::github::meter::{Meter, metered};
use crate::github::{Credential, Credentials, Located, NoCredential, RequestAuth};
use crate::github::{GitHubClient, GitHubError, RateLimit};
use crate::ids::{InstallationId, RunKey};
use crate::metrics::Metrics;
use crate::policy::{JobEvidence, JobRef};
use crate::run::{ClaimedRerun, RerunOutcome};
pub(crate) use evidence::all_unavailable;
use evidence::with_tries;
use perform::{Performer, perform};
use report::create_check_run;

/// Longest pause of the queue, whatever a rate limit asks.
const MAX_PAUSE: Duration = Duration::from_secs(3600);
/// A wait before the POST longer than this means the run is read again first: someone
/// may have re-run it by hand meanwhile.
const STALE_READ: Duration = Duration::from_secs(5);
/// Rate-limit pauses one request may sit through before it gives up.
const MAX_RATE_LIMIT_PAUSES: u32 = 50;
/// How often lanes left idle are dropped (those idle when their request finishes
/// are dropped then).
const PRUNE_LANES_EVERY: Duration = Duration::from_secs(60);
/// Failed jobs whose evidence one request fetches; the others are answered
/// unavailable (a run with more failed jobs is rarely flaky: see `max_failed_jobs`).
pub const MAX_EVIDENCE_JOBS: usize = 30;

/// Re-run the failed jobs of `run` for the claimed attempt.
#[derive(Message, Clone)]
#[rtype(result = "RerunOutcome")]
pub struct RerunRequest {
    /// The run.
    pub run: RunKey,
    /// What this process claimed: the attempt, and the delivery that decided it.
    pub claimed: ClaimedRerun,
    /// Asked right before each POST.
    pub guard: PostGuard,
}

/// The check right before a re-run's POST, supplied by whoever claimed it (the tracker
/// extends its claim in the store): `Ok(true)` while the re-run is still theirs to
/// perform, `Ok(false)` when another process took it over (then that one POSTs), `Err`
/// when it cannot be told now (tried again like a transient error). The GitHub actor
/// only calls it: it knows neither the store nor the run's changes.
pub type PostGuard =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send>> + Send + Sync>;

/// Fetch the evidence the failure policy needs about failed jobs of `run`: each job's
/// check-run annotations and the tail of its log (`LOG_TAIL_BYTES`, at most
/// `LOG_READ_MAX_BYTES` read). Its API calls are queued with the re-runs, so they obey
/// their pacing and pauses; the log blobs are downloaded outside the queue, at most
/// `LOG_DOWNLOADS` at once in the process, all within `EVIDENCE_TIMEOUT`. Answered
/// with one [`JobEvidence`] per job, in order (at most [`MAX_EVIDENCE_JOBS`] fetched;
/// the others unavailable); what could not be fetched (410, a refusal, a malformed
/// answer, a log cut short, retries or the budget spent, no token) is
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
    /// Counts the API requests and log bytes the fetch costs (`github::meter`).
    pub meter: Option<Arc<Meter>>,
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
    Locate {
        request: LocateLog,
        reply: oneshot::Sender<Result<Located, RerunOutcome>>,
    },
    Jobs {
        request: FetchJobs,
        reply: oneshot::Sender<Listed>,
    },
    Gather {
        request: Gather,
        deadline: Instant,
        reply: oneshot::Sender<gather::FirstTurn>,
    },
    Report(ReportDecision),
}

impl Queued {
    /// The request's kind, in a word (the metrics' `request` label).
    fn kind(&self) -> &'static str {
        match self {
            Queued::Rerun { .. } => "rerun",
            Queued::Locate { .. } => "locate",
            Queued::Jobs { .. } => "jobs",
            Queued::Gather { .. } => "gather",
            Queued::Report(_) => "report",
        }
    }

    fn installation(&self) -> Option<InstallationId> {
        match self {
            Queued::Rerun { request, .. } => request.claimed.installation,
            Queued::Locate { request, .. } => request.installation,
            Queued::Jobs { request, .. } => request.installation,
            Queued::Gather { request, .. } => request.installation,
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
    /// Whether nothing would be lost by forgetting it: no pause ahead, no POST within
    /// `min_interval`, no secondary rate limit remembered (for an hour after its pause).
    fn idle(&self, min_interval: Duration, now: Instant) -> bool {
        self.paused_until.is_none_or(|until| {
            until + MAX_PAUSE <= now || (until <= now && self.secondary_strikes == 0)
        }) && self.last_post.is_none_or(|last| last + min_interval <= now)
    }

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
    metrics: Arc<Metrics>,
    dry_run: bool,
    log: Logger,
    client: Option<Rc<GitHubClient>>,
    credentials: Arc<Credentials>,
    queue: VecDeque<Queued>,
    /// Each credential's pacing; `None` while its request under way has it (given
    /// back when it finishes). One entry per credential in use or not idle.
    lanes: HashMap<Lane, Option<Pacing>>,
    /// Log downloads in flight, all credentials together (`LOG_DOWNLOADS`).
    downloads: Rc<Semaphore>,
}

impl GitHubActor {
    /// An actor that calls the API described by `settings`.
    pub fn new(
        settings: GitHubSettings,
        metrics: Arc<Metrics>,
        dry_run: bool,
        log: &Logger,
    ) -> Self {
        Self {
            downloads: Rc::new(Semaphore::new(settings.log_downloads)),
            credentials: Arc::new(Credentials::new(&settings)),
            settings,
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
            if let Queued::Locate { reply, .. } = &queued
                && reply.is_closed()
            {
                continue; // its fetch gave up waiting (the run's budget): no call for it
            }
            self.metrics.count_github_turn(queued.kind());
            let lane = self.credentials.choose(queued.installation());
            let pacing = self
                .lanes
                .insert(lane.ok(), None)
                .flatten()
                .unwrap_or_default();
            self.metrics.github_lanes.set(self.lanes.len() as i64);
            self.metrics.github_queue.set(self.depth() as i64);
            let auth =
                lane.map(|credential| RequestAuth::new(Arc::clone(&self.credentials), credential));
            match queued {
                Queued::Rerun { request, reply } => self.rerun(request, reply, auth, pacing, ctx),
                Queued::Locate { request, reply } => self.locate(request, reply, auth, pacing, ctx),
                Queued::Jobs { request, reply } => {
                    self.list_jobs(request, reply, auth, pacing, ctx)
                }
                Queued::Gather {
                    request,
                    deadline,
                    reply,
                } => self.gather((request, deadline), reply, auth, pacing, ctx),
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
        auth: Result<RequestAuth, NoCredential>,
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

    /// Starts asking where a job's log is (its credential's turn and pacing are taken).
    fn locate(
        &mut self,
        request: LocateLog,
        reply: oneshot::Sender<Result<Located, RerunOutcome>>,
        auth: Result<RequestAuth, NoCredential>,
        pacing: Pacing,
        ctx: &mut Context<Self>,
    ) {
        let lane = auth.as_ref().ok().map(|auth| auth.credential);
        let (client, auth) = match equipped(self.client.clone(), auth) {
            Ok(equipped) => equipped,
            Err(none) => {
                let _ = reply.send(Err(RerunOutcome::no_credential(none)));
                self.finished(lane, pacing, ctx);
                return;
            }
        };
        let meter = request.meter.clone();
        let work = metered(
            meter,
            evidence::locate((client, auth), pacing, self.settings.clone(), request),
        );
        ctx.spawn(
            work.into_actor(self)
                .map(move |(located, pacing), act, ctx| {
                    let _ = reply.send(located);
                    act.finished(lane, pacing, ctx);
                }),
        );
    }

    /// Starts creating a check run (its credential's turn and pacing are taken).
    fn report(
        &mut self,
        report: ReportDecision,
        auth: Result<RequestAuth, NoCredential>,
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
        if pacing.idle(self.settings.min_interval, Instant::now()) {
            // A new request of this credential starts from a default pacing, which is
            // what an idle one is: 10,000 installations seen once do not stay in memory.
            self.lanes.remove(&lane);
        } else {
            self.lanes.insert(lane, Some(pacing));
            // Most often it just posted: idle once GITHUB_MIN_INTERVAL passed.
            let soon =
                self.settings.min_interval.min(PRUNE_LANES_EVERY) + Duration::from_millis(10);
            ctx.run_later(soon, |act, _| act.prune_lanes());
        }
        self.metrics.github_lanes.set(self.lanes.len() as i64);
        self.metrics.github_queue.set(self.depth() as i64);
        self.next(ctx);
    }

    /// Drops the lanes that became idle since their request finished.
    fn prune_lanes(&mut self) {
        let (now, min_interval) = (Instant::now(), self.settings.min_interval);
        self.lanes
            .retain(|_, pacing| pacing.as_ref().is_none_or(|p| !p.idle(min_interval, now)));
        self.metrics.github_lanes.set(self.lanes.len() as i64);
    }
}

impl Actor for GitHubActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(PRUNE_LANES_EVERY, |act, _| act.prune_lanes());
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

    /// The evidence alone: a [`Gather`] that lists nothing.
    fn handle(&mut self, request: FetchEvidence, ctx: &mut Self::Context) -> Self::Result {
        let gather = Gather {
            run: request.run,
            attempt: request.attempt,
            delivery: request.delivery,
            installation: request.installation,
            list_jobs: false,
            evidence: EvidenceOf::Jobs(request.jobs),
            meter: request.meter,
        };
        let gathered = <Self as Handler<Gather>>::handle(self, gather, ctx);
        Box::pin(async move { gathered.await.evidence })
    }
}

impl Handler<LocateLog> for GitHubActor {
    type Result = ResponseFuture<Result<Located, RerunOutcome>>;

    fn handle(&mut self, request: LocateLog, ctx: &mut Self::Context) -> Self::Result {
        let (reply, located) = oneshot::channel();
        self.queue.push_back(Queued::Locate { request, reply });
        self.metrics.github_queue.set(self.depth() as i64);
        self.next(ctx);
        Box::pin(async move {
            located.await.unwrap_or_else(|_| {
                Err(RerunOutcome::GaveUp {
                    tries: 0,
                    last_error: "the GitHub actor stopped".into(),
                })
            })
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

/// A request's client and credential (or credential to be), or why it has none. The
/// client is made when the actor starts, if any credential is set: a request without
/// it has none either.
fn equipped<A>(
    client: Option<Rc<GitHubClient>>,
    auth: Result<A, NoCredential>,
) -> Result<(Rc<GitHubClient>, A), NoCredential> {
    let auth = auth?;
    Ok((client.ok_or(NoCredential::Token)?, auth))
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
            GitHubError::NoCredential(none) => AfterError::Stop(RerunOutcome::no_credential(none)),
        }
    }
}
