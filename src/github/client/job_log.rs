//! A failed job's log, in two calls that the GitHub actor makes in different places.
//!
//! [`GitHubClient::job_log_location`] asks `GET …/actions/jobs/{job}/logs` with the
//! credential (so in the credential's lane): GitHub answers a redirect to a short-lived
//! pre-signed URL on another host (or, some servers, the log itself). The blob behind
//! that URL is then fetched by [`GitHubClient::download_log`] without any credential
//! (the blob store refuses it, and it must never leave for another host), outside the
//! lane: a slow blob host holds no one's turn. Both read the body with
//! [`log_body::read_tail`]: `Accept-Encoding: identity` is asked (so `Content-Length`
//! counts the very bytes read, checked byte for byte, and no CPU goes to inflating),
//! awc's own decoding is off, and a host that compresses anyway is decoded in bounded
//! steps. The signed URL is a [`Secret`], logged without its query.
//!
//! The blob is asked for its tail only (`Range: bytes=-N`, N the tail kept): GitHub's
//! log host honours it (206), so a 50 MB log costs N bytes, not 50 MB. A host that
//! ignores it answers 200 with the whole log, streamed as before; an empty log answers
//! 416. The bytes read are counted either way (`job_rerunner_log_bytes_read_total`).

use std::time::Instant;

use awc::http::header;
use slog::{Logger, info};

use super::{Answer, BodyStream, GitHubClient, GitHubError, now_epoch};
use crate::github::error::exhausted_quota_wait;
use crate::github::log_body::{self, BodyHead, Encoding, ReadError};
use crate::github::logs::LogTail;
use crate::ids::{JobId, RepoName};
use crate::secret::Secret;

/// Metrics label of the API call.
const ENDPOINT: &str = "job_logs";
/// Metrics label of the blob download.
const DOWNLOAD: &str = "job_log_download";

/// Where a job's log is.
pub enum Located {
    /// At this pre-signed URL (its query is its signature: a secret).
    Blob(Secret),
    /// The API served it itself, read already.
    Direct(LogTail),
}

/// How much of a log to read, and until when.
#[derive(Clone, Copy, Debug)]
pub struct LogRead {
    /// Bytes kept of its end.
    pub tail_bytes: usize,
    /// Most bytes read (decoded).
    pub max_read_bytes: u64,
    /// When reading gives up.
    pub deadline: tokio::time::Instant,
    /// The time `deadline` allowed when it was set, for the error's text.
    pub allowed: std::time::Duration,
    /// The setting that set `deadline`, for the error's text (`LOG_READ_TIMEOUT`, or
    /// `EVIDENCE_TIMEOUT` when the run's evidence budget ends first).
    pub setting: &'static str,
}

impl LogRead {
    fn timed_out(&self, what: &str) -> GitHubError {
        GitHubError::transient(format!(
            "log download: {what} {} ms ({})",
            self.allowed.as_millis(),
            self.setting
        ))
    }
}

impl GitHubClient {
    /// Asks where a job's log is. 404 (not archived yet) is `Err(Rejected { status:
    /// 404 })`: the actor asks again later. A log served directly (200) is read here,
    /// within `read`'s deadline.
    pub async fn job_log_location(
        &self,
        auth: &Secret,
        repo: &RepoName,
        job: JobId,
        read: &LogRead,
        log: &Logger,
    ) -> Result<Answer<Located>, GitHubError> {
        let path = format!("/repos/{repo}/actions/jobs/{job}/logs");
        let request = self
            .http
            .get(format!("{}{path}", self.api_url))
            .no_decompress()
            .insert_header((header::ACCEPT_ENCODING, "identity"));
        let (mut response, started) = self.send(auth, request, None, ENDPOINT, &path, log).await?;
        self.observe(ENDPOINT, &path, &response, started, log);
        let status = response.status();
        let now_epoch = now_epoch();
        let quota_wait = exhausted_quota_wait(response.headers(), now_epoch);
        if status.is_success() {
            let tail = self.read_body(response, read, log).await?;
            info!(log, "job log read"; "path" => &path, "read_bytes" => tail.read_bytes,
                "kept_bytes" => tail.text.len(), "cut" => tail.cut, "capped" => tail.capped,
                "latency_ms" => started.elapsed().as_millis() as u64);
            return Ok(Answer {
                value: Located::Direct(tail),
                quota_wait,
            });
        }
        if status.is_redirection() {
            let Some(location) = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
            else {
                return Err(GitHubError::Rejected {
                    status: status.as_u16(),
                    message: "log redirect without an absolute http(s) location".into(),
                });
            };
            return Ok(Answer {
                value: Located::Blob(Secret::new(location)),
                quota_wait,
            });
        }
        let body = response
            .body()
            .limit(super::MAX_RESPONSE_BYTES)
            .await
            .map_err(|err| GitHubError::transient(format!("{path}: reading the answer: {err}")))?;
        Err(GitHubError::from_response(
            status,
            response.headers(),
            &body,
            now_epoch,
        ))
    }

    /// Downloads a log blob from its pre-signed `url`, with no credential, and reads
    /// its end as `read` says. A cut-short body is a transient error (asked again).
    pub async fn download_log(
        &self,
        url: &Secret,
        read: &LogRead,
        log: &Logger,
    ) -> Result<LogTail, GitHubError> {
        let shown = crate::redact::url(url.expose());
        info!(log, "following the log redirect"; "to" => &shown);
        let started = Instant::now();
        let request = self
            .blob
            .get(url.expose())
            .no_decompress()
            .insert_header((header::ACCEPT_ENCODING, "identity"))
            .insert_header((header::RANGE, format!("bytes=-{}", read.tail_bytes)));
        let sent = tokio::time::timeout_at(read.deadline, request.send()).await;
        let blob = match sent {
            Ok(Ok(blob)) => blob,
            Ok(Err(err)) => {
                self.metrics.github_call(DOWNLOAD, None, started.elapsed());
                // awc's error names no URL; the text is made safe all the same.
                return Err(GitHubError::transient(format!("log download: {err}")));
            }
            Err(_) => {
                self.metrics.github_call(DOWNLOAD, None, started.elapsed());
                return Err(read.timed_out("no answer within"));
            }
        };
        let status = blob.status();
        self.metrics
            .github_call(DOWNLOAD, Some(status.as_u16()), started.elapsed());
        info!(log, "log download answered"; "to" => &shown, "status" => status.as_u16(),
            "latency_ms" => started.elapsed().as_millis() as u64);
        if status.as_u16() == 416 {
            // No byte to give from the end: the log is empty.
            return Ok(LogTail {
                text: String::new(),
                read_bytes: 0,
                cut: false,
                capped: false,
            });
        }
        // 206: the tail asked for. Where the range starts past the log's first byte,
        // its first line is cut: dropped, as a tail read whole drops it.
        let partial_from = (status.as_u16() == 206)
            .then(|| content_range_start(blob.headers()))
            .flatten()
            .filter(|start| *start > 0);
        if !status.is_success() {
            // The blob store is not the API: its 403 is an expired or refused
            // signature, never GitHub's rate limit.
            let text = format!("log download: HTTP {}", status.as_u16());
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                GitHubError::transient(text)
            } else {
                GitHubError::Rejected {
                    status: status.as_u16(),
                    message: text,
                }
            });
        }
        let mut tail = self.read_body(blob, read, log).await?;
        if partial_from.is_some() {
            drop_first_line(&mut tail);
        }
        info!(log, "job log read"; "to" => &shown, "read_bytes" => tail.read_bytes,
            "ranged" => partial_from.is_some(),
            "kept_bytes" => tail.text.len(), "cut" => tail.cut, "capped" => tail.capped,
            "latency_ms" => started.elapsed().as_millis() as u64);
        Ok(tail)
    }

    /// Reads a log answer's body to its checked end.
    async fn read_body<S: BodyStream>(
        &self,
        response: awc::ClientResponse<S>,
        read: &LogRead,
        log: &Logger,
    ) -> Result<LogTail, GitHubError> {
        let headers = response.headers();
        let encoding = headers
            .get(header::CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap_or("unreadable"));
        let encoding = Encoding::parse(encoding)
            .map_err(|why| GitHubError::transient(format!("log download: {why}")))?;
        let content_length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if encoding != Encoding::Identity {
            info!(log, "the log host compressed the log despite Accept-Encoding: identity; decoding it in bounded steps";
                "encoding" => format!("{encoding:?}").to_ascii_lowercase());
        }
        let head = BodyHead {
            content_length,
            encoding,
        };
        let count = |n: u64| {
            self.metrics.log_bytes_read.inc_by(n);
            crate::github::meter::count_bytes(n);
        };
        let limits = (read.tail_bytes, read.max_read_bytes);
        log_body::read_tail(response, head, limits, read.deadline, count)
            .await
            .map_err(|err| match err {
                ReadError::Stream(err) => GitHubError::transient(format!("log download: {err}")),
                ReadError::Incomplete(why) => {
                    GitHubError::transient(format!("log download: cut short: {why}"))
                }
                ReadError::Deadline(_) => read.timed_out("not complete within"),
            })
    }
}

/// The first byte of a 206's `Content-Range: bytes START-END/TOTAL`.
fn content_range_start(headers: &awc::http::header::HeaderMap) -> Option<u64> {
    let value = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes ")?;
    range.split('-').next()?.trim().parse().ok()
}

/// A tail that starts mid-log loses its first, partial line (and says it was cut).
fn drop_first_line(tail: &mut LogTail) {
    tail.cut = true;
    match tail.text.find('\n') {
        Some(end) => {
            tail.text.drain(..=end);
        }
        None => tail.text.clear(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_range_gives_its_first_byte() {
        let mut headers = awc::http::header::HeaderMap::new();
        headers.insert(
            header::CONTENT_RANGE,
            header::HeaderValue::from_static("bytes 1000-1999/2000"),
        );
        assert_eq!(content_range_start(&headers), Some(1000));
        headers.insert(
            header::CONTENT_RANGE,
            header::HeaderValue::from_static("bytes */2000"),
        );
        assert_eq!(content_range_start(&headers), None);
    }

    #[test]
    fn a_ranged_tail_drops_its_partial_first_line() {
        let mut tail = LogTail {
            text: "ial line\nwhole line\n".into(),
            read_bytes: 20,
            cut: false,
            capped: false,
        };
        drop_first_line(&mut tail);
        assert_eq!(tail.text, "whole line\n");
        assert!(tail.cut);
    }
}
