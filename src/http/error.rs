//! Everything that makes the webhook endpoint refuse a delivery, and its status code.

use actix_web::http::StatusCode;

use super::payload::PayloadError;
use super::signature::SignatureError;
use crate::actors::TrackError;

/// A refused delivery. Each message is one line, safe to log and to send back.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The body is larger than `MAX_BODY_BYTES`.
    #[error("payload larger than {0} bytes")]
    TooLarge(usize),
    /// The body could not be read off the socket.
    #[error("reading the payload failed: {0}")]
    Unreadable(String),
    /// The signature is missing or wrong.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The payload is not a usable `workflow_job` event.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The event could not be recorded; GitHub may redeliver it.
    #[error("event not recorded: {0}")]
    NotRecorded(#[from] TrackError),
    /// No `X-GitHub-Event` header (checked before the body is read).
    #[error("X-GitHub-Event header is missing")]
    MissingEvent,
    /// The body did not arrive in full within `BODY_TIMEOUT` of the headers.
    #[error("payload did not arrive within {0} s of the headers (BODY_TIMEOUT)")]
    BodyTimeout(f64),
    /// A signed delivery sent form-encoded (`payload=…`), the content type GitHub
    /// pre-selects when a webhook is created: the most common set-up mistake.
    #[error(
        "payload is form-encoded: set the webhook's Content type to application/json (repository Settings → Webhooks → Edit)"
    )]
    FormEncoded,
    /// Reading the body would pass `MAX_BUFFERED_BYTES`; the sender may retry.
    #[error("too many payloads being read at once: retry in {0} s")]
    Busy(u64),
}

impl WebhookError {
    /// The status code docs/spec.md assigns.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unreadable(_) | Self::Payload(_) => StatusCode::BAD_REQUEST,
            Self::Signature(_) => StatusCode::FORBIDDEN,
            Self::NotRecorded(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::MissingEvent | Self::FormEncoded => StatusCode::BAD_REQUEST,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Whether the answer closes the connection: every refusal of a request whose
    /// signature was not verified does (its body may be unread, and only GitHub, who
    /// holds the key, keeps a connection open; see `connections.rs`).
    pub fn closes_connection(&self) -> bool {
        !matches!(
            self,
            Self::Payload(_) | Self::NotRecorded(_) | Self::FormEncoded
        )
    }

    /// The `Retry-After` seconds to send with the answer, if any.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Busy(seconds) => Some(*seconds),
            _ => None,
        }
    }
}
