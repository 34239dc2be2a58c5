//! A run's evidence for the failure policy: each failed job's annotations and log tail.
//!
//! The calls that need the credential run in its lane, one request at a time as
//! the re-runs do: the annotations of all the run's jobs ([`annotations`], one queued
//! request), then, per job, the question where its log is ([`locate`], one queued
//! request each, [`LocateLog`]). The log blob itself needs no credential: it is
//! downloaded outside the lane ([`LogFetcher`]), so a slow blob host holds no one's
//! turn (a re-run of another repository on the same token goes between two jobs'
//! questions). Downloads in flight are bounded process-wide (`LOG_DOWNLOADS`: a
//! permit taken once the URL is in hand, so that a credential paused by a rate limit
//! holds none; waited for at most [`URL_FRESH_FOR`], since the signed URL expires,
//! else the location is asked again) and one run's evidence by one time budget
//! (`EVIDENCE_TIMEOUT`, from the request): what is not read by then is unavailable,
//! never waited for. A download cut short is retried (with a fresh URL), then
//! unavailable. A log the API serves itself (no redirect) is read in the lane.

use std::rc::Rc;
use std::sync::Arc;

use actix::prelude::*;
use futures_util::StreamExt;
use slog::{Logger, info, o, warn};
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep, timeout_at};

use super::{AfterError, GitHubActor, MAX_EVIDENCE_JOBS, Pacing, Tries};
use crate::github::GitHubSettings;
use crate::github::meter::Meter;
use crate::github::{Answer, Located, LogRead, LogTail, RequestAuth};
use crate::github::{GitHubClient, GitHubError};
use crate::ids::{InstallationId, JobId, RepoName};
use crate::metrics::Metrics;
use crate::policy::{Annotation, Fetched, JobEvidence};
use crate::run::RerunOutcome;
use crate::secret::Secret;

/// Tries of one evidence call on transient errors (at most `GITHUB_MAX_TRIES`): the
/// queue's re-runs wait behind it, and an unavailable log is an answer too.
const EVIDENCE_MAX_TRIES: u32 = 3;
/// Looks at a job's log that GitHub answers 404 for (not archived yet), waiting
/// `GITHUB_BACKOFF`, doubling, between them.
const LOG_NOT_READY_TRIES: u32 = 3;
/// Logs of one run downloaded at once (within `LOG_DOWNLOADS` for all runs).
const RUN_DOWNLOADS: usize = 4;
/// Longest wait for a download permit with a signed URL in hand: GitHub's expire
/// after a minute, so a longer wait asks for a fresh one.
const URL_FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// Where one failed job's log is: asked with the run's credential, in its lane.
#[derive(Message)]
#[rtype(result = "Result<Located, RerunOutcome>")]
pub struct LocateLog {
    /// The job's repository.
    pub repo: RepoName,
    /// The job.
    pub job: JobId,
    /// The installation the run belongs to (its credential).
    pub installation: Option<InstallationId>,
    /// How a log served directly is read.
    pub read: LogRead,
    /// The job's logger.
    pub log: Logger,
    /// The run's evidence meter (`github::meter`).
    pub meter: Option<Arc<Meter>>,
}

pub(crate) fn all_unavailable(jobs: &[JobId], why: &str) -> Vec<JobEvidence> {
    jobs.iter()
        .map(|&job| JobEvidence {
            job,
            annotations: unavailable(why),
            log: unavailable(why),
        })
        .collect()
}

fn unavailable<T>(why: &str) -> Fetched<T> {
    Fetched::Unavailable {
        why: why.to_owned(),
    }
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

/// Why the jobs left when the run's budget ran out are unavailable.
fn over_budget(settings: &GitHubSettings) -> String {
    format!(
        "not fetched: the run's evidence took its whole EVIDENCE_TIMEOUT ({} s)",
        settings.evidence_timeout.as_secs_f64()
    )
}

/// One evidence call with the request's credential, retried and paused as a re-run's
/// calls are; `Err` is the outcome that stopped it.
pub(super) async fn with_tries<T, F, Fut>(
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

/// In the lane: each job's annotations, in order, until the run's `deadline`.
pub(super) async fn annotations(
    (client, mut auth): (Rc<GitHubClient>, RequestAuth),
    mut pacing: Pacing,
    (settings, metrics): (GitHubSettings, Arc<Metrics>),
    (repo, jobs, deadline): (RepoName, Vec<JobId>, Instant),
    log: Logger,
) -> (Vec<Fetched<Vec<Annotation>>>, Pacing) {
    let client = &*client;
    let mut fetched = Vec::with_capacity(jobs.len());
    for (index, &job) in jobs.iter().enumerate() {
        if index >= MAX_EVIDENCE_JOBS {
            let why = format!("not fetched: more than {MAX_EVIDENCE_JOBS} failed jobs");
            fetched.extend(jobs[index..].iter().map(|_| unavailable(&why)));
            break;
        }
        if Instant::now() >= deadline {
            let why = over_budget(&settings);
            fetched.extend(jobs[index..].iter().map(|_| unavailable(&why)));
            break;
        }
        let log = log.new(o!("job_id" => job.0));
        let (repo, log) = (&repo, &log);
        let call =
            |header: Secret| async move { client.job_annotations(&header, repo, job, log).await };
        let on = (client, &mut auth);
        let one = match with_tries(&mut pacing, &settings, log, on, call).await {
            Ok(one) => one,
            Err(stopped) => unavailable(&stopped_why(&stopped)),
        };
        let result = match &one {
            Fetched::Got(_) => "ok",
            Fetched::Unavailable { why } => {
                info!(log, "job annotations unavailable"; "why" => why);
                "unavailable"
            }
        };
        metrics
            .evidence_fetches
            .with_label_values(&["annotations", result])
            .inc();
        fetched.push(one);
    }
    (fetched, pacing)
}

/// In the lane: where one job's log is (a log served directly is read here).
pub(super) async fn locate(
    (client, mut auth): (Rc<GitHubClient>, RequestAuth),
    mut pacing: Pacing,
    settings: GitHubSettings,
    request: LocateLog,
) -> (Result<Located, RerunOutcome>, Pacing) {
    let LocateLog {
        repo,
        job,
        read,
        log,
        ..
    } = request;
    let (client, repo, read, log) = (&*client, &repo, &read, &log);
    let call = |header: Secret| async move {
        client.job_log_location(&header, repo, job, read, log).await
    };
    let located = with_tries(&mut pacing, &settings, log, (client, &mut auth), call).await;
    (located, pacing)
}

/// Downloads a run's logs outside the lane. See the module documentation.
pub(super) struct LogFetcher {
    /// The GitHub actor, whose lane answers [`LocateLog`].
    pub actor: Addr<GitHubActor>,
    pub client: Rc<GitHubClient>,
    /// Downloads in flight, all runs together (`LOG_DOWNLOADS` permits).
    pub downloads: Rc<Semaphore>,
    pub settings: GitHubSettings,
    pub metrics: Arc<Metrics>,
    pub log: Logger,
    /// The run's evidence meter, handed on to each [`LocateLog`].
    pub meter: Option<Arc<Meter>>,
}

impl LogFetcher {
    /// Each job's log tail, in order, a few at once, all by `deadline`.
    pub async fn fetch(
        &self,
        (repo, installation): (&RepoName, Option<InstallationId>),
        jobs: &[JobId],
        deadline: Instant,
    ) -> Vec<Fetched<String>> {
        let fetched = jobs.len().min(MAX_EVIDENCE_JOBS);
        let mut logs: Vec<Fetched<String>> = futures_util::stream::iter(&jobs[..fetched])
            .map(|&job| self.fetch_one((repo, installation), job, deadline))
            .buffered(RUN_DOWNLOADS)
            .collect()
            .await;
        let why = format!("not fetched: more than {MAX_EVIDENCE_JOBS} failed jobs");
        logs.extend(jobs[fetched..].iter().map(|_| unavailable(&why)));
        logs
    }

    async fn fetch_one(
        &self,
        (repo, installation): (&RepoName, Option<InstallationId>),
        job: JobId,
        deadline: Instant,
    ) -> Fetched<String> {
        let log = self.log.new(o!("job_id" => job.0));
        let read = self.read(repo, installation, job, deadline, &log).await;
        let settings = &self.settings;
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
        self.metrics
            .evidence_fetches
            .with_label_values(&["log", result])
            .inc();
        fetched
    }

    /// One job's log: where it is (in the lane), a download permit, the download;
    /// again with a fresh URL after a transient failure, later after a 404.
    async fn read(
        &self,
        repo: &RepoName,
        installation: Option<InstallationId>,
        job: JobId,
        deadline: Instant,
        log: &Logger,
    ) -> Result<LogTail, String> {
        let settings = &self.settings;
        let max_transient = settings.max_tries.min(EVIDENCE_MAX_TRIES);
        let (mut transient, mut not_ready) = (0, 0);
        loop {
            let ask = LocateLog {
                repo: repo.clone(),
                job,
                installation,
                read: self.log_read(deadline),
                log: log.clone(),
                meter: self.meter.clone(),
            };
            let located = match timeout_at(deadline, self.actor.send(ask)).await {
                Err(_) => return Err(over_budget(settings)),
                Ok(Err(_)) => return Err("the GitHub actor stopped".to_owned()),
                Ok(Ok(located)) => located,
            };
            let url = match located {
                Ok(Located::Direct(tail)) => return Ok(tail),
                Ok(Located::Blob(url)) => url,
                Err(RerunOutcome::Refused { status: 404, .. })
                    if not_ready + 1 < LOG_NOT_READY_TRIES =>
                {
                    not_ready += 1;
                    // The log is archived a few seconds after the job completes.
                    let wait = self.backoff(not_ready);
                    info!(log, "job log not ready yet; asking again"; "try" => not_ready,
                        "wait_ms" => wait.as_millis() as u64);
                    sleep(wait).await;
                    continue;
                }
                Err(stopped) => return Err(stopped_why(&stopped)),
            };
            // The permit comes after the location, so that a credential paused by a
            // rate limit holds no permit; waited for while the URL is fresh, else the
            // location is asked again.
            let fresh = deadline.min(Instant::now() + URL_FRESH_FOR);
            let Ok(Ok(permit)) = timeout_at(fresh, self.downloads.acquire()).await else {
                if Instant::now() >= deadline {
                    return Err(over_budget(settings));
                }
                continue;
            };
            let read = self.log_read(deadline);
            let failed = match self.client.download_log(&url, &read, log).await {
                Ok(tail) => return Ok(tail),
                Err(err) => err,
            };
            drop(permit);
            let message = match failed {
                GitHubError::Rejected { status, message } => {
                    return Err(format!("HTTP {status}: {message}"));
                }
                GitHubError::Transient(message) => message,
                GitHubError::RateLimited(_) => "log download: rate limited".to_owned(),
                // A blob needs no credential: not an answer a download gives.
                GitHubError::NoCredential(none) => return Err(none.to_string()),
            };
            transient += 1;
            if transient >= max_transient || Instant::now() >= deadline {
                return Err(format!("gave up after {transient} tries: {message}"));
            }
            let wait = self.backoff(transient);
            warn!(log, "log download failed; backing off"; "error" => &message,
                "try" => transient, "wait_ms" => wait.as_millis() as u64);
            sleep(wait).await;
        }
    }

    /// One download's limits: `LOG_READ_TIMEOUT`, or what is left of the run's budget.
    fn log_read(&self, deadline: Instant) -> LogRead {
        let settings = &self.settings;
        let left = deadline.saturating_duration_since(Instant::now());
        let (allowed, setting) = if left < settings.log_read_timeout {
            (left, "EVIDENCE_TIMEOUT")
        } else {
            (settings.log_read_timeout, "LOG_READ_TIMEOUT")
        };
        LogRead {
            tail_bytes: settings.log_tail_bytes,
            max_read_bytes: settings.log_read_max_bytes,
            deadline: Instant::now() + allowed,
            allowed,
            setting,
        }
    }

    fn backoff(&self, tries: u32) -> std::time::Duration {
        let settings = &self.settings;
        settings
            .backoff_base
            .saturating_mul(1 << (tries.max(1) - 1).min(20))
            .min(settings.backoff_max)
    }
}
