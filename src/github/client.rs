//! The two API calls, over awc with TLS verification on and awc's redirects off (see
//! [`GitHubError::judge`]; the few worth following are followed by hand, `redirect.rs`).
//! Not `Send` (awc is not): it lives inside the GitHub actor.
//! Every text it makes from an answer or an error goes through [`crate::redact`].

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use serde::Deserialize;
use slog::{Logger, info, warn};

use super::GitHubError;
use super::error::{Call, exhausted_quota_wait};
use super::redirect;
use crate::ids::RunKey;
use crate::metrics::Metrics;
use crate::settings::{GitHubSettings, Secret};

/// Largest API answer read; a workflow run's JSON is a few KB.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

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
    api_url: String,
    authorization: String,
    metrics: Arc<Metrics>,
}

impl GitHubClient {
    /// A client for `settings.api_url`, authenticated with `token`, counting its calls.
    pub fn new(settings: &GitHubSettings, token: &Secret, metrics: Arc<Metrics>) -> Self {
        let user_agent = concat!("job-rerunner/", env!("CARGO_PKG_VERSION"));
        let http = awc::Client::builder()
            .timeout(settings.request_timeout)
            // A redirect is an answer to judge, never a request to send elsewhere.
            .disable_redirects()
            .add_default_header(("User-Agent", user_agent))
            .add_default_header(("Accept", "application/vnd.github+json"))
            .add_default_header(("X-GitHub-Api-Version", "2022-11-28"))
            .finish();
        Self {
            http,
            api_url: settings.api_url.clone(),
            authorization: format!("Bearer {}", token.expose()),
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
        run: &RunKey,
        log: &Logger,
    ) -> Result<Answer<WorkflowRun>, GitHubError> {
        let path = Self::run_path(run);
        let request = self.http.get(format!("{}{path}", self.api_url));
        let answer = self.call(request, Call::ReadRun, &path, log).await?;
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
    pub async fn rerun_failed_jobs(
        &self,
        run: &RunKey,
        log: &Logger,
    ) -> Result<Answer<()>, GitHubError> {
        let path = format!("{}/rerun-failed-jobs", Self::run_path(run));
        let request = self.http.post(format!("{}{path}", self.api_url));
        let answer = self.call(request, Call::Rerun, &path, log).await?;
        Ok(Answer {
            value: (),
            quota_wait: answer.quota_wait,
        })
    }

    /// Sends `request`, following the redirects [`redirect::next`] allows (same
    /// method, headers and empty body, on the API host) up to [`redirect::MAX_HOPS`].
    async fn call(
        &self,
        request: awc::ClientRequest,
        call: Call,
        path: &str,
        log: &Logger,
    ) -> Result<Answer<actix_web::web::Bytes>, GitHubError> {
        let method = request.get_method().clone();
        let headers = request.headers().clone();
        let mut request = request;
        let mut path = path.to_owned();
        for hop in 0..=redirect::MAX_HOPS {
            let next = match self.call_once(request, call, &path, log).await? {
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
        request: awc::ClientRequest,
        call: Call,
        path: &str,
        log: &Logger,
    ) -> Result<Sent, GitHubError> {
        let method = request.get_method().clone();
        let url = request.get_uri().to_string();
        let endpoint = match call {
            Call::ReadRun => "get_run",
            Call::Rerun => "rerun_failed_jobs",
        };
        let started = Instant::now();
        let sent = request
            .insert_header(("Authorization", self.authorization.as_str()))
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(err) => {
                self.metrics.github_call(endpoint, None, started.elapsed());
                let err = GitHubError::transient(format!("{path}: {err}"));
                info!(log, "GitHub API call failed"; "endpoint" => endpoint, "path" => path,
                    "error" => %err, "latency_ms" => started.elapsed().as_millis() as u64);
                return Err(err);
            }
        };
        let status = response.status();
        let body = response
            .body()
            .limit(MAX_RESPONSE_BYTES)
            .await
            .map_err(|err| GitHubError::transient(format!("{path}: reading the answer: {err}")))?;
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
            "ratelimit_remaining" => remaining.unwrap_or("-").to_owned());
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
        let now_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
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
