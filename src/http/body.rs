//! Reading a webhook's body: under a size cap (`MAX_BODY_BYTES`), a deadline
//! (`BODY_TIMEOUT`, from the end of the headers to the last byte) and a budget shared
//! by all connections (`MAX_BUFFERED_BYTES`, split per client in `budget.rs`).
//!
//! Without the deadline and the budget, anyone could open connections that announce a
//! big body and send it slowly (or never), and hold a megabyte of memory and a
//! connection each for as long as they like. GitHub sends a body at once, so a short
//! deadline costs it nothing. The budget counts the bytes actually buffered, chunk by
//! chunk, not the announced `Content-Length`: an announcement costs the sender nothing,
//! so reserving it would let a few header-only connections refuse every delivery for a
//! deadline at a time; bytes cost bandwidth. A [`Reservation`] gives its bytes back when
//! it is dropped, whatever happened (answer, error, timeout, disconnect).

use std::time::{Duration, Instant};

use actix_web::web::{self, BytesMut};
use futures_util::StreamExt;

use super::budget::{BodyBudget, Reservation};
use super::throttle::Client;

/// Capacity reserved up front at most; a bigger body grows the buffer as it arrives, so
/// that an announced length that never arrives costs no memory.
const INITIAL_CAPACITY: usize = 64 * 1024;

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than `MAX_BODY_BYTES` (announced or as it arrived).
    TooLarge,
    /// Not all of it arrived before `BODY_TIMEOUT`.
    TimedOut,
    /// Buffering it would pass `MAX_BUFFERED_BYTES`.
    OverBudget,
    /// The connection failed or closed before the end of the body.
    Unreadable(String),
}

/// A body read in full, holding its share of the budget until it is dropped.
pub struct Body<'a> {
    bytes: BytesMut,
    _reserved: Reservation<'a>,
}

impl std::ops::Deref for Body<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// The limits a body is read under.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    /// `MAX_BODY_BYTES`.
    pub max_bytes: usize,
    /// The instant the last byte must have arrived by (`BODY_TIMEOUT` after the headers).
    pub deadline: Instant,
}

/// Reads the body, refusing it as soon as it is known to be too large, late or over
/// the budget. `announced` is the request's `Content-Length`, if any.
pub async fn read<'a>(
    mut payload: web::Payload,
    announced: Option<usize>,
    client: Client,
    limits: BodyLimits,
    budget: &'a BodyBudget,
) -> Result<Body<'a>, BodyError> {
    if announced.is_some_and(|length| length > limits.max_bytes) {
        return Err(BodyError::TooLarge);
    }
    let mut reserved = budget.reservation(client, announced);
    let mut bytes = BytesMut::with_capacity(
        announced
            .unwrap_or(8192)
            .min(limits.max_bytes)
            .min(INITIAL_CAPACITY),
    );
    let reading = async {
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|err| BodyError::Unreadable(err.to_string()))?;
            if bytes.len() + chunk.len() > limits.max_bytes {
                return Err(BodyError::TooLarge);
            }
            if !reserved.grow(chunk.len()) {
                return Err(BodyError::OverBudget);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(())
    };
    // A body that is all there already (GitHub's) is read on the first poll, which
    // happens before the timer is looked at: no timer is registered for it.
    let outcome = tokio::time::timeout_at(limits.deadline.into(), reading).await;
    match outcome {
        Ok(Ok(())) => Ok(Body {
            bytes,
            _reserved: reserved,
        }),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(BodyError::TimedOut),
    }
}

/// The instant `timeout` after `start`. Settings bound `BODY_TIMEOUT`, but an instant
/// that cannot be represented must not panic a request: it is capped to
/// `MAX_BODY_TIMEOUT`, or `start` (the body is then late at once) if even that overflows.
pub fn deadline(start: Instant, timeout: Duration) -> Instant {
    start
        .checked_add(timeout)
        .or_else(|| start.checked_add(super::MAX_BODY_TIMEOUT))
        .unwrap_or(start)
}

/// Whole seconds (at least 1) until `duration` has passed: a `Retry-After` value.
pub fn retry_after_seconds(duration: Duration) -> u64 {
    duration.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_that_cannot_be_represented_is_capped_rather_than_a_panic() {
        let start = Instant::now();
        assert_eq!(
            deadline(start, Duration::MAX),
            start + super::super::MAX_BODY_TIMEOUT
        );
        assert_eq!(
            deadline(start, Duration::from_secs(5)),
            start + Duration::from_secs(5)
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::from_millis(500)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(5000)), 5);
        assert_eq!(retry_after_seconds(Duration::from_millis(5001)), 6);
    }
}
