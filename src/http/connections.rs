//! How long a connection may take and stay: the deadlines given to actix-http, and
//! which answers keep a connection open.
//!
//! actix-http applies its header deadline ([`HEADER_TIMEOUT`]) only to the first request
//! of a connection: once a kept-alive connection has sent a byte of its next request,
//! no timer runs until that request's head is complete (measured: a connection that sent
//! one `GET /healthz` and then half a request line stayed open indefinitely). So a
//! connection is kept alive only after a webhook whose signature was verified, that is
//! for GitHub (and the benchmark), who holds the key: every other answer (status
//! pages, health checks, refusals, unknown paths) closes the connection. The webhook
//! handler closes the connection of refusals itself (`WebhookError::closes_connection`);
//! [`KeepAliveForWebhooks`] closes the rest.

use std::time::Duration;

use actix_web::Error;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::{ConnectionType, Method};
use futures_util::FutureExt;
use futures_util::future::{Map, Ready, ready};

/// The first request's head must be complete this long after the connection opened
/// (`client_request_timeout`; actix-http answers 408 and closes after).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A kept-alive connection is closed after this long without a new request.
pub const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// After an answer that closes the connection with a body left unread, actix-http reads
/// and drops what still arrives for at most this long, so that the client reads the
/// answer instead of a reset (`client_disconnect_timeout`).
pub const LINGER: Duration = Duration::from_secs(1);

/// Middleware: closes the connection after every answer except the webhook endpoint's
/// (which decides for itself). No allocation: the answer's future is mapped by a plain
/// function.
pub struct KeepAliveForWebhooks;

impl<S, B> Transform<S, ServiceRequest> for KeepAliveForWebhooks
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = KeepAliveService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(KeepAliveService { service }))
    }
}

/// The service [`KeepAliveForWebhooks`] wraps around the application.
pub struct KeepAliveService<S> {
    service: S,
}

type Answer<B> = Result<ServiceResponse<B>, Error>;

impl<S, B> Service<ServiceRequest> for KeepAliveService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Map<S::Future, fn(Answer<B>) -> Answer<B>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let after: fn(Answer<B>) -> Answer<B> =
            if request.method() == Method::POST && request.path() == "/" {
                std::convert::identity
            } else {
                close
            };
        self.service.call(request).map(after)
    }
}

fn close<B>(answer: Answer<B>) -> Answer<B> {
    answer.map(|mut response| {
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
        response
    })
}
