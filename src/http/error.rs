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
}

impl WebhookError {
    /// The status code SPEC.md assigns.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unreadable(_) | Self::Payload(_) => StatusCode::BAD_REQUEST,
            Self::Signature(_) => StatusCode::FORBIDDEN,
            Self::NotRecorded(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}
