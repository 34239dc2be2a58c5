//! The answer to a request no route takes: 404 for an unknown path, 405 (with `Allow`)
//! for a known path asked with another method. actix-web's own answers to these have
//! an empty body; like every other refusal here, these say why in one line.
//!
//! The 400 and 431 that actix-http writes itself for a malformed request or a head over
//! 128 KiB (and its 408 for a head that did not arrive within the header deadline) stay
//! empty: they are written by its connection dispatcher, which never calls the
//! application and takes no setting for their body (actix-http 3.20, `h1/dispatcher.rs`:
//! `send_error_response(res, BoxBody::new(()))`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

/// The default service: 404 or 405 with a reason.
pub async fn unmatched(request: HttpRequest) -> HttpResponse {
    // A path some route matches was asked with a method no route of it takes (routes
    // here are guarded by method only). Every route is GET except the webhook's POST /
    // and `HEAD /`.
    if request.resource_map().has_resource(request.path()) {
        let allow = if request.path() == "/" {
            "GET, HEAD, POST"
        } else {
            "GET"
        };
        return HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, allow))
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "method not allowed here: this path answers {allow}\n"
            ));
    }
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body(
            "no such page: webhooks are POSTed to /; GET /, /healthz, /readyz, /metrics, \
             /status and /api/status answer\n",
        )
}
