//! Who may read the status page and `/api/…`: whoever presents `STATUS_TOKEN`, as a
//! bearer token or as the password of HTTP basic auth (so a browser can log in).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use base64::Engine;

use crate::settings::Secret;

/// `None` when the request carries the token; otherwise the answer to send instead.
pub fn refusal(request: &HttpRequest, token: Option<&Secret>) -> Option<HttpResponse> {
    let Some(token) = token else {
        return Some(
            HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body("the status page is off: set STATUS_TOKEN to turn it on\n"),
        );
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(presented_token);
    match presented {
        Some(presented) if same(presented.as_bytes(), token.expose().as_bytes()) => None,
        _ => Some(
            HttpResponse::Unauthorized()
                .insert_header((
                    header::WWW_AUTHENTICATE,
                    "Basic realm=\"job-rerunner\", charset=\"UTF-8\"",
                ))
                .content_type("text/plain; charset=utf-8")
                .body("STATUS_TOKEN required: as a bearer token, or as the basic-auth password\n"),
        ),
    }
}

/// The token in `Bearer <token>` or `Basic base64(<user>:<token>)`.
fn presented_token(authorization: &str) -> Option<String> {
    if let Some(token) = authorization.strip_prefix("Bearer ") {
        return Some(token.trim().to_owned());
    }
    let encoded = authorization.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
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
    fn tokens_compare_exactly() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }
}
