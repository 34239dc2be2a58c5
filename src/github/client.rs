//! The API calls, over awc with TLS verification on and awc's redirects off (see
//! [`GitHubError::judge`]; the few worth following are followed by hand, `redirect.rs`):
//! read a run, re-run its failed jobs, and read a failed job's evidence (annotations,
//! log tail). Not `Send` (awc is not): it lives inside the GitHub actor. Every text it
//! makes from an answer or an error goes through [`crate::redact`].

pub(crate) mod job_log;
pub(crate) mod jobs;

use std::time::{Duration, Instant};

use std::sync::Arc;

use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;
use serde::Deserialize;
use slog::{Logger, info, warn};

use super::GitHubError;
use super::app_auth::{self, InstallationToken};
use super::error::{Call, exhausted_quota_wait};
use super::logs::{self, ANNOTATIONS_PER_PAGE, MAX_ANNOTATION_PAGES};
use super::redirect;
use crate::clock::now_secs as now_epoch;
use crate::github::GitHubSettings;
use crate::ids::InstallationId;
use crate::ids::{JobId, RepoName, RunKey};
use crate::metrics::Metrics;
use crate::policy::{Annotation, Fetched};
use crate::secret::Secret;

/// Largest API answer read; a workflow run's JSON is a few KB.
const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// The body of a re-run that asks GitHub for debug logs (`debug_last_attempt`).
const DEBUG_LOGGING_BODY: &str = r#"{"enable_debug_logging":true}"#;

/// The fields of `GET /repos/{owner}/{repo}/actions/runs/{run_id}` the service reads.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct WorkflowRun {
    /// `queued`, `in_progress`, `completed`, …
    pub status: Option<String>,
    /// `failure`, `success`, `cancelled`, … once completed.
    pub conclusion: Option<String>,
    /// The run's current attempt.
    pub run_attempt: Option<u32>,
}

/// A successful answer, with how long the quota says to pause before the next call.
pub struct Answer<T> {
    /// The answer's content.
    pub value: T,
    /// Set when `x-ratelimit-remaining` reached 0.
    pub quota_wait: Option<Duration>,
}

/// Makes the service's GitHub API calls.
pub struct GitHubClient {
    http: awc::Client,
    /// For the log blob's pre-signed URL on another host: no token, no GitHub headers,
    /// no timeout of its own (each download has its deadline), no redirects.
    blob: awc::Client,
    api_url: String,
    metrics: Arc<Metrics>,
}

impl GitHubClient {
    /// A client for `settings.api_url`, counting its calls. Each call is given its
    /// `Authorization` header (`auth`: `Bearer …`), which depends on the run
    /// ([`super::credentials`]).
    pub fn new(settings: &GitHubSettings, metrics: Arc<Metrics>) -> Self {
        let user_agent = concat!("job-rerunner/", env!("CARGO_PKG_VERSION"));
        let http = awc::Client::builder()
            .timeout(settings.request_timeout)
            // A redirect is an answer to judge, never a request to send elsewhere.
            .disable_redirects()
            .add_default_header(("User-Agent", user_agent))
            .add_default_header(("Accept", "application/vnd.github+json"))
            .add_default_header(("X-GitHub-Api-Version", "2022-11-28"))
            .finish();
        let blob = awc::Client::builder()
            .disable_timeout()
            .disable_redirects()
            .add_default_header(("User-Agent", user_agent))
            .finish();
        Self {
            http,
            blob,
            api_url: settings.api_url.clone(),
            metrics,
        }
    }

    /// The API path of a run.
    pub fn run_path(run: &RunKey) -> String {
        format!("/repos/{}/actions/runs/{}", run.repo, run.run_id)
    }

    /// Reads a workflow run.
    pub async fn get_run(
        &self,
        auth: &Secret,
        run: &RunKey,
        log: &Logger,
    ) -> Result<Answer<WorkflowRun>, GitHubError> {
        let path = Self::run_path(run);
        let request = self.http.get(format!("{}{path}", self.api_url));
        let answer = self
            .call(auth, request, None, Call::ReadRun, &path, log)
            .await?;
        // serde quotes the value it could not read: `transient` makes that safe.
        let value = serde_json::from_slice(&answer.value).map_err(|err| {
            GitHubError::transient(format!("GET {path}: unreadable answer: {err}"))
        })?;
        Ok(Answer {
            value,
            quota_wait: answer.quota_wait,
        })
    }

    /// Asks GitHub to re-run the run's failed jobs (201 on success; no other answer is).
    /// With `debug_logging` the body is `{"enable_debug_logging":true}` (the policy's
    /// `debug_last_attempt`); otherwise no body is sent, as GitHub's default.
    pub async fn rerun_failed_jobs(
        &self,
        auth: &Secret,
        run: &RunKey,
        debug_logging: bool,
        log: &Logger,
    ) -> Result<Answer<()>, GitHubError> {
        let path = format!("{}/rerun-failed-jobs", Self::run_path(run));
        let request = self.http.post(format!("{}{path}", self.api_url));
        let body = debug_logging.then_some(DEBUG_LOGGING_BODY);
        let answer = self
            .call(auth, request, body, Call::Rerun, &path, log)
            .await?;
        Ok(Answer {
            value: (),
            quota_wait: answer.quota_wait,
        })
    }

    /// Asks for an installation token of the App (`jwt`: `Bearer <the App's JWT>`):
    /// `POST /app/installations/{id}/access_tokens`. A refusal names the call, never
    /// the answer (it holds the token when it is a success).
    pub async fn installation_token(
        &self,
        jwt: &Secret,
        installation: InstallationId,
        log: &Logger,
    ) -> Result<InstallationToken, GitHubError> {
        let path = format!("/app/installations/{installation}/access_tokens");
        let request = self.http.post(format!("{}{path}", self.api_url));
        let answer = self
            .call(jwt, request, None, Call::InstallationToken, &path, log)
            .await
            .map_err(|err| match err {
                GitHubError::Rejected { status, message } => GitHubError::Rejected {
                    status,
                    message: format!(
                        "installation token of installation {installation}: {message}"
                    ),
                },
                other => other,
            })?;
        app_auth::parse_access_token(&answer.value).map_err(GitHubError::transient)
    }

    /// Creates a check run (`POST /repos/{repo}/check-runs`, 201) with the JSON `body`.
    pub async fn create_check_run(
        &self,
        auth: &Secret,
        repo: &RepoName,
        body: &str,
        log: &Logger,
    ) -> Result<Answer<()>, GitHubError> {
        let path = format!("/repos/{repo}/check-runs");
        let request = self.http.post(format!("{}{path}", self.api_url));
        let answer = self
            .call(auth, request, Some(body), Call::CreateCheckRun, &path, log)
            .await?;
        Ok(Answer {
            value: (),
            quota_wait: answer.quota_wait,
        })
    }

    /// Reads a job's check-run annotations (a workflow job's id is its check run's id),
    /// every level, up to [`MAX_ANNOTATION_PAGES`] pages of [`ANNOTATIONS_PER_PAGE`].
    /// A malformed answer is `Ok(Fetched::Unavailable)`: asking again would not mend
    /// it. `Err` is what the actor retries or gives up on (a refusal included).
    pub async fn job_annotations(
        &self,
        auth: &Secret,
        repo: &RepoName,
        job: JobId,
        log: &Logger,
    ) -> Result<Answer<Fetched<Vec<Annotation>>>, GitHubError> {
        let path = format!("/repos/{repo}/check-runs/{job}/annotations");
        let mut all = Vec::new();
        let mut quota_wait = None;
        for page in 1..=MAX_ANNOTATION_PAGES {
            let url = format!(
                "{}{path}?per_page={ANNOTATIONS_PER_PAGE}&page={page}",
                self.api_url
            );
            let answer = self
                .call(
                    auth,
                    self.http.get(url),
                    None,
                    Call::ReadAnnotations,
                    &path,
                    log,
                )
                .await?;
            quota_wait = answer.quota_wait.or(quota_wait);
            let annotations = match logs::parse_annotations(&answer.value) {
                Ok(annotations) => annotations,
                Err(why) => {
                    info!(log, "job annotations unreadable"; "path" => &path, "page" => page,
                        "why" => &why);
                    return Ok(Answer {
                        value: Fetched::Unavailable { why },
                        quota_wait,
                    });
                }
            };
            let full = annotations.len() >= ANNOTATIONS_PER_PAGE;
            all.extend(annotations);
            if !full {
                break;
            }
        }
        Ok(Answer {
            value: Fetched::Got(all),
            quota_wait,
        })
    }

    /// Sends an API request with `auth`; a request that got no answer is logged
    /// and counted here.
    async fn send(
        &self,
        auth: &Secret,
        request: awc::ClientRequest,
        json: Option<&str>,
        endpoint: &'static str,
        path: &str,
        log: &Logger,
    ) -> Result<(awc::ClientResponse<impl BodyStream>, Instant), GitHubError> {
        let started = Instant::now();
        super::meter::count_call();
        let request = request.insert_header(("Authorization", auth.expose()));
        let sent = match json {
            Some(body) => {
                request
                    .insert_header(("Content-Type", "application/json"))
                    .send_body(body.to_owned())
                    .await
            }
            None => request.send().await,
        };
        match sent {
            Ok(response) => Ok((response, started)),
            Err(err) => {
                self.metrics.github_call(endpoint, None, started.elapsed());
                let err = GitHubError::transient(format!("{path}: {err}"));
                info!(log, "GitHub API call failed"; "endpoint" => endpoint, "path" => path,
                    "error" => %err, "latency_ms" => started.elapsed().as_millis() as u64);
                Err(err)
            }
        }
    }

    /// Counts and logs an answer, and notes the quota it reports.
    fn observe<S>(
        &self,
        endpoint: &'static str,
        path: &str,
        response: &awc::ClientResponse<S>,
        started: Instant,
        log: &Logger,
    ) {
        let status = response.status();
        self.metrics
            .github_call(endpoint, Some(status.as_u16()), started.elapsed());
        let remaining = response
            .headers()
            .get("x-ratelimit-remaining")
            .and_then(|v| v.to_str().ok());
        if let Some(remaining) = remaining.and_then(|v| v.trim().parse::<i64>().ok()) {
            self.metrics.github_ratelimit_remaining.set(remaining);
        }
        info!(log, "GitHub API call"; "endpoint" => endpoint, "path" => path,
            "status" => status.as_u16(), "latency_ms" => started.elapsed().as_millis() as u64,
            "ratelimit_remaining" => remaining.and_then(|left| left.parse::<u64>().ok()));
    }

    /// Sends `request` (with the JSON body `json`, if any), following the redirects
    /// [`redirect::next`] allows (same method, headers and body, on the API host) up to
    /// [`redirect::MAX_HOPS`].
    async fn call(
        &self,
        auth: &Secret,
        request: awc::ClientRequest,
        json: Option<&str>,
        call: Call,
        path: &str,
        log: &Logger,
    ) -> Result<Answer<actix_web::web::Bytes>, GitHubError> {
        let method = request.get_method().clone();
        let headers = request.headers().clone();
        let mut request = request;
        let mut path = path.to_owned();
        for hop in 0..=redirect::MAX_HOPS {
            let next = match self
                .call_once(auth, request, json, call, &path, log)
                .await?
            {
                Sent::Answer(answer) => return Ok(answer),
                Sent::Redirect(next) if hop < redirect::MAX_HOPS => next,
                Sent::Redirect(_) => break,
            };
            let mut again = self.http.request(method.clone(), next.as_str());
            *again.headers_mut() = headers.clone();
            request = again;
            path = next.path().to_owned();
        }
        Err(GitHubError::transient(format!(
            "{path}: more than {} redirects (a loop?); gave up on this try",
            redirect::MAX_HOPS
        )))
    }

    /// One request: its answer, or where a redirect to follow points.
    async fn call_once(
        &self,
        auth: &Secret,
        request: awc::ClientRequest,
        json: Option<&str>,
        call: Call,
        path: &str,
        log: &Logger,
    ) -> Result<Sent, GitHubError> {
        let method = request.get_method().clone();
        let url = request.get_uri().to_string();
        let endpoint = match call {
            Call::ReadRun => "get_run",
            Call::Rerun => "rerun_failed_jobs",
            Call::ReadAnnotations => "job_annotations",
            Call::ReadJobs => "run_jobs",
            Call::InstallationToken => "installation_token",
            Call::CreateCheckRun => "create_check_run",
        };
        let (mut response, started) = self.send(auth, request, json, endpoint, path, log).await?;
        let status = response.status();
        let body = response
            .body()
            .limit(MAX_RESPONSE_BYTES)
            .await
            .map_err(|err| GitHubError::transient(format!("{path}: reading the answer: {err}")))?;
        self.observe(endpoint, path, &response, started, log);
        if status.is_redirection() {
            let raw = response.headers().get("location");
            let target = raw.and_then(|v| v.to_str().ok());
            if let Some(next) = redirect::next(&self.api_url, &method, status, &url, target) {
                info!(log, "GitHub API call redirected; following"; "endpoint" => endpoint,
                    "path" => path, "status" => status.as_u16(),
                    "location" => crate::redact::url(next.as_str()));
                return Ok(Sent::Redirect(next));
            }
            // Where it pointed, without its query (it may carry a sign-in token).
            let location = raw.map_or_else(
                || "none".to_owned(),
                |v| crate::redact::url(&String::from_utf8_lossy(v.as_bytes())),
            );
            warn!(log, "GitHub API call redirected; not followed"; "endpoint" => endpoint,
                "path" => path, "status" => status.as_u16(), "location" => location);
        }
        let now_epoch = now_epoch();
        GitHubError::judge(call, status, response.headers(), &body, now_epoch)?;
        Ok(Sent::Answer(Answer {
            value: body,
            quota_wait: exhausted_quota_wait(response.headers(), now_epoch),
        }))
    }
}

/// What one request came back with.
enum Sent {
    /// The call's answer, judged a success.
    Answer(Answer<actix_web::web::Bytes>),
    /// A redirect to follow, to this URL.
    Redirect(url::Url),
}

/// The body of an answer, read chunk by chunk.
trait BodyStream: Stream<Item = Result<Bytes, PayloadError>> + Unpin {}

impl<S: Stream<Item = Result<Bytes, PayloadError>> + Unpin> BodyStream for S {}
