//! What a GitHub API answer means for the caller.

use std::time::Duration;

use actix_web::http::{StatusCode, header::HeaderMap};

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
    /// 5xx, timeout, connection or read error: worth retrying after a back-off.
    #[error("{0}")]
    Transient(String),
    /// Any other refusal (401, 403 without a rate limit, 404, 422): retrying will not help.
    #[error("HTTP {status}: {message}")]
    Rejected {
        /// The status code.
        status: u16,
        /// GitHub's `message`, or the start of the body.
        message: String,
    },
}

impl GitHubError {
    /// A short fixed label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::RateLimited(_) => "rate_limited",
            Self::Transient(_) => "transient",
            Self::Rejected { .. } => "rejected",
        }
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
            return Self::Transient(format!("HTTP {}: {message}", status.as_u16()));
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

/// GitHub's error bodies are `{"message": …}`; anything else is quoted, shortened.
fn github_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        message: String,
    }
    let text = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => parsed.message,
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(200).collect()
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
}
