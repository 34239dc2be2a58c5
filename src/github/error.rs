//! What a GitHub API answer means for the caller.

use std::time::Duration;

use actix_web::http::{StatusCode, header::HeaderMap};

use crate::redact;

/// How long GitHub asks us to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimit {
    /// `retry-after` or `x-ratelimit-reset` named the wait.
    For(Duration),
    /// A secondary rate limit that names no wait: at least a minute, backing off.
    Unspecified,
}

/// A failed API call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GitHubError {
    /// 403 or 429 because of a rate limit: the whole queue pauses.
    #[error("rate limited")]
    RateLimited(RateLimit),
    /// 5xx, timeout, connection or read error, a redirect of a read not followed, more
    /// redirects than are followed (a loop), an answer to a re-run that is not GitHub's: worth retrying after a back-off. Made
    /// with [`GitHubError::transient`], which makes the text safe to log and store.
    #[error("{0}")]
    Transient(String),
    /// Any other refusal (401, 403 without a rate limit, 404, 422): retrying will not help.
    #[error("HTTP {status}: {message}")]
    Rejected {
        /// The status code.
        status: u16,
        /// GitHub's `message`, or the start of the body (made safe by [`redact::message`]).
        message: String,
    },
    /// No credential applies to the request's run: no call was made, and none will be
    /// until the settings change.
    #[error("{0}")]
    NoCredential(#[from] NoCredential),
}

/// Why no credential applies to a request (`Credentials::choose`): its text is the
/// refusal's reason, as the re-run's outcome and the evidence's `why` say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoCredential {
    /// `GITHUB_TOKEN` is not set, and the run is of no App installation.
    #[error("GITHUB_TOKEN is not set")]
    Token,
    /// The run is of an App installation, and neither `GITHUB_TOKEN` nor the App is set.
    #[error("neither GITHUB_TOKEN nor the GitHub App (GITHUB_APP_ID) is set")]
    Installation,
}

/// Which call an answer is for: they differ in what counts as success and in whether a
/// redirect is worth trying again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `GET` a run. Any 2xx carries the run; any redirect (a loop, a proxy bouncing the
    /// request) is transient: reading again harms nothing, and the tries are bounded.
    ReadRun,
    /// `POST …/rerun-failed-jobs`. Only 201 (or 204) means GitHub started the re-run: a
    /// 200 HTML page is a proxy or a sign-in page answering in GitHub's place.
    Rerun,
    /// `GET …/check-runs/{job}/annotations`: a read, judged as [`Call::ReadRun`].
    ReadAnnotations,
    /// `GET …/actions/runs/{id}/jobs`: a read, judged as [`Call::ReadRun`].
    ReadJobs,
    /// `POST /app/installations/{id}/access_tokens`: any 2xx carries the token; judged
    /// as a read (asking again for a token harms nothing).
    InstallationToken,
    /// `POST /repos/{repo}/check-runs`: any 2xx created it (GitHub answers 201).
    CreateCheckRun,
}

impl GitHubError {
    /// A short fixed label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::RateLimited(_) => "rate_limited",
            Self::Transient(_) => "transient",
            Self::Rejected { .. } => "rejected",
            Self::NoCredential(_) => "no_credential",
        }
    }

    /// A transient error described by `text` (which may quote an answer), made safe to
    /// log and store.
    pub fn transient(text: impl std::fmt::Display) -> Self {
        Self::Transient(redact::message(&text.to_string()))
    }

    /// Judges an answer to `call`: `Ok` when it is the success the call expects.
    ///
    /// A redirect judged here is one the client did not follow (`redirect.rs` follows
    /// those on the API host that keep the method): one elsewhere could send the token
    /// to another host, and awc turns a redirected POST into a GET, whose 200 would read
    /// as a started re-run. Retrying the same URL gets the same redirect, so one of the
    /// re-run POST is a refusal; a redirect of a read is transient (reading again harms
    /// nothing, and the tries are bounded). `location` is logged and stored without its
    /// query (it may carry a sign-in token).
    pub fn judge(
        call: Call,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now_epoch: u64,
    ) -> Result<(), Self> {
        if status.is_redirection() {
            let location = headers
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| "nowhere".to_owned(), redact::url);
            let text = format!(
                "HTTP {} redirect to {location}; API calls follow no redirects",
                status.as_u16()
            );
            return Err(if call != Call::Rerun {
                Self::transient(text)
            } else {
                Self::Rejected {
                    status: status.as_u16(),
                    message: redact::message(&text),
                }
            });
        }
        if status.is_success() {
            let expected = call != Call::Rerun || matches!(status.as_u16(), 201 | 204);
            if expected {
                return Ok(());
            }
            let kind = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("no content type");
            return Err(Self::transient(format!(
                "HTTP {} ({kind}) is not GitHub's answer to a re-run (201): {}",
                status.as_u16(),
                github_message(body)
            )));
        }
        Err(Self::from_response(status, headers, body, now_epoch))
    }

    /// Reads an unsuccessful answer. `now_epoch` is the current Unix time in seconds, to
    /// turn `x-ratelimit-reset` into a wait.
    pub fn from_response(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now_epoch: u64,
    ) -> Self {
        let message = github_message(body);
        if status == StatusCode::FORBIDDEN || status == StatusCode::TOO_MANY_REQUESTS {
            if let Some(seconds) = header_number(headers, "retry-after") {
                let seconds = seconds.min(LONGEST_WAIT_SECONDS);
                return Self::RateLimited(RateLimit::For(Duration::from_secs(seconds)));
            }
            if header_number(headers, "x-ratelimit-remaining") == Some(0) {
                let reset = header_number(headers, "x-ratelimit-reset").unwrap_or(now_epoch + 60);
                let wait = reset
                    .saturating_sub(now_epoch)
                    .clamp(1, LONGEST_WAIT_SECONDS);
                return Self::RateLimited(RateLimit::For(Duration::from_secs(wait)));
            }
            if status == StatusCode::TOO_MANY_REQUESTS
                || message.to_ascii_lowercase().contains("rate limit")
            {
                return Self::RateLimited(RateLimit::Unspecified);
            }
        }
        if status.is_server_error() {
            return Self::transient(format!("HTTP {}: {message}", status.as_u16()));
        }
        Self::Rejected {
            status: status.as_u16(),
            message,
        }
    }
}

/// How long to pause before the next call when a successful answer says the quota is spent.
pub fn exhausted_quota_wait(headers: &HeaderMap, now_epoch: u64) -> Option<Duration> {
    if header_number(headers, "x-ratelimit-remaining") != Some(0) {
        return None;
    }
    let reset = header_number(headers, "x-ratelimit-reset")?;
    Some(Duration::from_secs(
        reset
            .saturating_sub(now_epoch)
            .clamp(1, LONGEST_WAIT_SECONDS),
    ))
}

/// Waits longer than this in GitHub's headers are taken as this (an hour).
const LONGEST_WAIT_SECONDS: u64 = 3600;

fn header_number(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// GitHub's error bodies are `{"message": …}`; anything else is quoted. Either way
/// made one short line without tokens ([`redact::message`]): it is logged and stored.
fn github_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: String,
    }
    let text = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => parsed.message,
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    redact::message(&text)
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    #[test]
    fn an_exhausted_quota_waits_until_the_reset() {
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1002"),
        ]);
        let err = GitHubError::from_response(StatusCode::FORBIDDEN, &h, b"{}", 1000);
        assert_eq!(
            err,
            GitHubError::RateLimited(RateLimit::For(Duration::from_secs(2)))
        );
    }

    #[test]
    fn an_absurd_wait_is_capped_at_an_hour() {
        let h = headers(&[("retry-after", "18446744073709551615")]);
        let err = GitHubError::from_response(StatusCode::TOO_MANY_REQUESTS, &h, b"", 0);
        assert_eq!(
            err,
            GitHubError::RateLimited(RateLimit::For(Duration::from_secs(3600)))
        );
    }

    #[test]
    fn retry_after_is_obeyed() {
        let h = headers(&[("retry-after", "30")]);
        let err = GitHubError::from_response(StatusCode::TOO_MANY_REQUESTS, &h, b"", 0);
        assert_eq!(
            err,
            GitHubError::RateLimited(RateLimit::For(Duration::from_secs(30)))
        );
    }

    #[test]
    fn a_secondary_limit_without_headers_is_recognised_by_its_message() {
        let body = br#"{"message":"You have exceeded a secondary rate limit."}"#;
        let err = GitHubError::from_response(StatusCode::FORBIDDEN, &HeaderMap::new(), body, 0);
        assert_eq!(err, GitHubError::RateLimited(RateLimit::Unspecified));
    }

    #[test]
    fn a_plain_403_is_a_refusal_and_5xx_is_transient() {
        let body = br#"{"message":"Must have admin rights to Repository."}"#;
        let err = GitHubError::from_response(StatusCode::FORBIDDEN, &HeaderMap::new(), body, 0);
        assert_eq!(
            err,
            GitHubError::Rejected {
                status: 403,
                message: "Must have admin rights to Repository.".into()
            }
        );
        let err =
            GitHubError::from_response(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>", 0);
        assert_eq!(err.label(), "transient");
    }

    #[test]
    fn a_successful_answer_with_no_quota_left_pauses() {
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1010"),
        ]);
        assert_eq!(
            exhausted_quota_wait(&h, 1000),
            Some(Duration::from_secs(10))
        );
        let h = headers(&[
            ("x-ratelimit-remaining", "5"),
            ("x-ratelimit-reset", "1010"),
        ]);
        assert_eq!(exhausted_quota_wait(&h, 1000), None);
    }

    #[test]
    fn a_redirect_is_never_a_success() {
        let to = headers(&[("location", "https://sso.example/login?state=secret#x")]);
        let judge = |call, status| GitHubError::judge(call, status, &to, b"", 0);
        let Err(GitHubError::Rejected { status, message }) = judge(Call::Rerun, StatusCode::FOUND)
        else {
            panic!("a 302 of the re-run is a refusal");
        };
        assert_eq!(status, 302);
        assert!(message.contains("https://sso.example/login"), "{message}");
        assert!(!message.contains("secret"), "{message}");
        for status in [
            StatusCode::TEMPORARY_REDIRECT,
            StatusCode::PERMANENT_REDIRECT,
        ] {
            // Not followed (off the API host): the same URL would get the same answer.
            assert_eq!(
                judge(Call::Rerun, status).map_err(|e| e.label()),
                Err("rejected")
            );
        }
        for status in [
            StatusCode::MOVED_PERMANENTLY,
            StatusCode::FOUND,
            StatusCode::SEE_OTHER,
        ] {
            assert_eq!(
                judge(Call::ReadRun, status).map_err(|e| e.label()),
                Err("transient")
            );
        }
    }

    #[test]
    fn only_201_or_204_is_a_started_rerun() {
        let html = headers(&[("content-type", "text/html")]);
        let judge = |call, code| {
            let status = StatusCode::from_u16(code).expect("status");
            GitHubError::judge(call, status, &html, b"<html>Sign in</html>", 0)
        };
        assert_eq!(judge(Call::Rerun, 201), Ok(()));
        assert_eq!(judge(Call::Rerun, 204), Ok(()));
        let Err(GitHubError::Transient(text)) = judge(Call::Rerun, 200) else {
            panic!("a 200 page is not a started re-run");
        };
        assert!(text.contains("text/html"), "{text}");
        assert_eq!(judge(Call::ReadRun, 200), Ok(()));
    }

    #[test]
    fn githubs_message_is_one_short_line_without_tokens() {
        let body = format!(
            r#"{{"message":"Bad credentials ghp_{} \u001b[2J\nforged {}"}}"#,
            "x".repeat(36),
            "y ".repeat(300)
        );
        let err = GitHubError::from_response(
            StatusCode::UNAUTHORIZED,
            &HeaderMap::new(),
            body.as_bytes(),
            0,
        );
        let GitHubError::Rejected { message, .. } = err else {
            panic!("a 401 is a refusal");
        };
        assert!(
            message.starts_with("Bad credentials [redacted] [2J forged y"),
            "{message}"
        );
        assert!(message.chars().count() <= 200);
        assert!(
            !message.contains('\x1b') && !message.contains('\n'),
            "{message:?}"
        );
        let err = GitHubError::from_response(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            b"upstream said: Authorization: Bearer s3cr3t-value",
            0,
        );
        assert_eq!(
            err,
            GitHubError::Transient(
                "HTTP 502: upstream said: Authorization: Bearer [redacted]".into()
            )
        );
    }
}
