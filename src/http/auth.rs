//! Who may read the status page and `/api/…`: whoever presents `STATUS_TOKEN`, as a
//! bearer token or as the password of HTTP basic auth (so a browser can log in). The
//! scheme is case-insensitive (RFC 7235: `bearer` and `basic` work too). Wrong
//! credentials are logged (client and path, never what was presented), counted, and
//! limited per client (`throttle.rs`).

use std::net::IpAddr;
use std::time::Instant;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;
use slog::warn;

use super::AppState;
use super::body::retry_after_seconds;
use super::headers::{Shape, shown};
use super::throttle::Client;

/// `None` when the request carries the token; otherwise the answer to send instead.
pub fn refusal(request: &HttpRequest, app: &AppState) -> Option<HttpResponse> {
    let Some(token) = app.settings.status_token.as_ref() else {
        return Some(
            HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body("the status page is off: set STATUS_TOKEN to turn it on\n"),
        );
    };
    let address = client_address(request, app.settings.trust_forwarded_for);
    let client = Client::from(address);
    let limit = &app.guards.status_failures;
    let now = Instant::now();
    if let Some(left) = limit.locked(client, now) {
        app.metrics
            .status_auth_failures
            .with_label_values(&["429"])
            .inc();
        let seconds = retry_after_seconds(left);
        return Some(
            HttpResponse::TooManyRequests()
                .insert_header((header::RETRY_AFTER, seconds.to_string()))
                .content_type("text/plain; charset=utf-8")
                .body(format!(
                    "too many wrong STATUS_TOKEN credentials from this address: retry in {seconds} s\n"
                )),
        );
    }
    let Some(authorization) = request.headers().get(header::AUTHORIZATION) else {
        return Some(unauthorized());
    };
    let presented = authorization.to_str().ok().and_then(presented_token);
    if presented.is_some_and(|presented| same(presented.as_bytes(), token.expose().as_bytes())) {
        return None;
    }
    // Wrong or unusable credentials: a guess. (No credentials at all is a browser
    // asking for the login prompt, below; that is not counted.)
    let failure = limit.failed(client, now);
    app.metrics
        .status_auth_failures
        .with_label_values(&["401"])
        .inc();
    let path = shown(request.path().as_bytes(), Shape::Text);
    if matches!(path, std::borrow::Cow::Owned(_)) {
        app.metrics
            .truncated_headers
            .with_label_values(&["path"])
            .inc();
    }
    warn!(app.log, "status page credentials refused"; "actor" => "http", "client" => %address,
        "path" => &*path, "failures" => failure.failures, "locked" => failure.locks);
    Some(unauthorized())
}

/// 401 with the basic-auth prompt (a browser then asks for the token).
fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((
            header::WWW_AUTHENTICATE,
            "Basic realm=\"job-rerunner\", charset=\"UTF-8\"",
        ))
        .content_type("text/plain; charset=utf-8")
        .body("STATUS_TOKEN required: as a bearer token, or as the basic-auth password\n")
}

/// The client a failure counts against: the peer, or behind a trusted proxy the last
/// `X-Forwarded-For` address (the one the proxy added; those before it are the
/// client's own word).
pub(super) fn client_address(request: &HttpRequest, trust_forwarded_for: bool) -> IpAddr {
    let peer = request
        .peer_addr()
        .map_or(IpAddr::from([0, 0, 0, 0]), |peer| peer.ip());
    if !trust_forwarded_for {
        return peer;
    }
    request
        .headers()
        .get_all("x-forwarded-for")
        .last()
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.rsplit(',').next())
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(peer)
}

/// The token in `Bearer <token>` or `Basic base64(<user>:<token>)`, schemes in any case.
fn presented_token(authorization: &str) -> Option<String> {
    let (scheme, credentials) = authorization.trim_start().split_once(' ')?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(credentials.to_owned());
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .ok()?;
    let credentials = String::from_utf8(decoded).ok()?;
    credentials
        .split_once(':')
        .map(|(_, password)| password.to_owned())
}

/// Compares in time that does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_basic_credentials_yield_the_token() {
        assert_eq!(presented_token("Bearer abc").as_deref(), Some("abc"));
        // base64("ops:abc")
        assert_eq!(
            presented_token("Basic b3BzOmFiYw==").as_deref(),
            Some("abc")
        );
        assert_eq!(presented_token("Basic !!!"), None);
        assert_eq!(presented_token("Digest x"), None);
    }

    #[test]
    fn schemes_are_case_insensitive() {
        for header in [
            "bearer abc",
            "BEARER abc",
            "bEaReR   abc",
            "basic b3BzOmFiYw==",
        ] {
            assert_eq!(presented_token(header).as_deref(), Some("abc"), "{header}");
        }
        assert_eq!(presented_token("Bearerabc"), None);
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }

    #[test]
    fn the_client_is_the_peer_unless_the_proxy_is_trusted() {
        let request = actix_web::test::TestRequest::default()
            .peer_addr("10.0.0.1:4000".parse().expect("address"))
            .insert_header(("X-Forwarded-For", "203.0.113.9, 198.51.100.7"))
            .to_http_request();
        assert_eq!(client_address(&request, false), IpAddr::from([10, 0, 0, 1]));
        assert_eq!(
            client_address(&request, true),
            IpAddr::from([198, 51, 100, 7])
        );
        let spoofed = actix_web::test::TestRequest::default()
            .peer_addr("10.0.0.1:4000".parse().expect("address"))
            .insert_header(("X-Forwarded-For", "not an address"))
            .to_http_request();
        assert_eq!(client_address(&spoofed, true), IpAddr::from([10, 0, 0, 1]));
    }
}
