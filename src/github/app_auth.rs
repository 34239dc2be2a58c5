//! GitHub App authentication, the pure parts: the App's private key (read and checked
//! at start-up), the JWT it signs (RS256: `iat` 60 s in the past for clock drift, `exp`
//! 9 minutes ahead, under GitHub's 10, `iss` the App id), the answer of
//! `POST /app/installations/{id}/access_tokens`, and when a cached installation token
//! is still worth using. The cache itself and the calls live in
//! [`super::credentials`]. Nothing here formats a key, a JWT or a token into a text.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use crate::ids::InstallationId;
use crate::secret::Secret;

/// Seconds `iat` is set in the past: GitHub refuses a JWT issued "in the future" by a
/// clock a little ahead of its own.
pub const IAT_BACKDATE_SECS: u64 = 60;
/// Seconds `exp` is set ahead: GitHub refuses more than 10 minutes.
pub const JWT_LIFETIME_SECS: u64 = 9 * 60;
/// A cached installation token is fetched anew this long before its `expires_at`
/// (GitHub issues them for an hour), so that no call starts with one about to expire.
pub const REFRESH_MARGIN_SECS: u64 = 5 * 60;

/// The App's private key, checked to sign. `Debug` never shows it.
#[derive(Clone)]
pub struct AppKey(EncodingKey);

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The GitHub App the service authenticates as (`GITHUB_APP_ID` and its key).
#[derive(Clone, Debug)]
pub struct AppCredentials {
    /// `GITHUB_APP_ID`.
    pub id: u64,
    /// The private key.
    pub key: AppKey,
    /// `GITHUB_APP_PRIVATE_KEY_FILE`, when the key was read from a file (for
    /// `check-config`).
    pub key_file: Option<PathBuf>,
}

impl PartialEq for AppCredentials {
    /// Two settings are the same App when id and key source match (keys are not compared).
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.key_file == other.key_file
    }
}

/// The claims of an App JWT.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppClaims {
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
    /// The App id.
    pub iss: String,
}

/// The claims of a JWT made at `now_epoch` for App `app_id`.
pub fn claims(app_id: u64, now_epoch: u64) -> AppClaims {
    AppClaims {
        iat: now_epoch.saturating_sub(IAT_BACKDATE_SECS),
        exp: now_epoch.saturating_add(JWT_LIFETIME_SECS),
        iss: app_id.to_string(),
    }
}

/// Why a private key was refused; never quotes it.
pub const BAD_KEY: &str = "is not an RSA private key in PEM form (the .pem file GitHub \
     generates, -----BEGIN RSA PRIVATE KEY-----)";

/// Reads the App's private key from its PEM text. A literal `\n` (a key pasted into
/// one environment variable line) is taken as a line break. The key is checked by
/// signing with it, since a PEM that parses may still hold no usable RSA key.
pub fn parse_private_key(pem: &str) -> Result<AppKey, &'static str> {
    let text = pem.trim().replace("\\n", "\n");
    let key = EncodingKey::from_rsa_pem(text.as_bytes()).map_err(|_| BAD_KEY)?;
    let key = AppKey(key);
    sign(&key, &claims(0, IAT_BACKDATE_SECS)).map_err(|_| BAD_KEY)?;
    Ok(key)
}

fn sign(key: &AppKey, claims: &AppClaims) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key.0)
}

/// A JWT for `app` made at `now_epoch`, to ask GitHub for installation tokens.
pub fn app_jwt(app: &AppCredentials, now_epoch: u64) -> Result<Secret, String> {
    sign(&app.key, &claims(app.id, now_epoch))
        .map(Secret::new)
        // jsonwebtoken's error names the failure (a ring error), never the key.
        .map_err(|err| format!("signing the App JWT: {err}"))
}

/// An installation token and when it expires.
#[derive(Clone, Debug)]
pub struct InstallationToken {
    /// The token.
    pub token: Secret,
    /// `expires_at`, Unix seconds.
    pub expires_at: u64,
}

/// Reads the answer of `POST /app/installations/{id}/access_tokens`. An answer without
/// a readable `expires_at` is taken to expire at once: it is used for the call that
/// asked for it and never again. The error text never quotes the answer (it holds
/// the token).
pub fn parse_access_token(body: &[u8]) -> Result<InstallationToken, &'static str> {
    #[derive(Deserialize)]
    struct Answer {
        token: Option<String>,
        expires_at: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|_| "the installation token answer is not the JSON GitHub sends")?;
    let token = answer
        .token
        .filter(|token| !token.is_empty())
        .ok_or("the installation token answer has no token")?;
    let expires_at = answer
        .expires_at
        .and_then(|at| humantime::parse_rfc3339_weak(&at).ok())
        .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    Ok(InstallationToken {
        token: Secret::new(token),
        expires_at,
    })
}

/// Whether a token expiring at `expires_at` is still used at `now_epoch` (both Unix
/// seconds): until [`REFRESH_MARGIN_SECS`] before it expires.
pub fn still_fresh(expires_at: u64, now_epoch: u64) -> bool {
    now_epoch.saturating_add(REFRESH_MARGIN_SECS) < expires_at
}

/// Installation tokens by installation, each until shortly before it expires.
#[derive(Debug, Default)]
pub struct TokenCache {
    tokens: HashMap<InstallationId, InstallationToken>,
}

impl TokenCache {
    /// The cached token of `installation`, if it is still fresh at `now_epoch`.
    pub fn fresh(&self, installation: InstallationId, now_epoch: u64) -> Option<&Secret> {
        self.tokens
            .get(&installation)
            .filter(|cached| still_fresh(cached.expires_at, now_epoch))
            .map(|cached| &cached.token)
    }

    /// Keeps `token` for `installation`; tokens gone stale are dropped meanwhile, so
    /// the cache holds no more than the installations in use within the last hour.
    pub fn keep(&mut self, installation: InstallationId, token: InstallationToken, now_epoch: u64) {
        self.tokens
            .retain(|_, cached| still_fresh(cached.expires_at, now_epoch));
        self.tokens.insert(installation, token);
    }

    /// Forgets `installation`'s token (GitHub refused it: 401).
    pub fn forget(&mut self, installation: InstallationId) {
        self.tokens.remove(&installation);
    }
}

/// Where the redelivery sweep gets a fresh GitHub App JWT (`/app/…` endpoints take the
/// App's JWT, not an installation token): [`AppJwt::for_app`] with App authentication;
/// tests may put in another.
#[derive(Clone)]
pub struct AppJwt(pub std::sync::Arc<dyn Fn() -> Result<Secret, String> + Send + Sync>);

impl AppJwt {
    /// Signs a fresh JWT for `app` on each call: one lives 10 minutes, a sweep may last
    /// longer.
    pub fn for_app(app: AppCredentials) -> Self {
        Self(std::sync::Arc::new(move || {
            app_jwt(&app, crate::clock::now_secs())
        }))
    }

    /// A fresh JWT, or why none can be made (never the key).
    pub fn make(&self) -> Result<Secret, String> {
        (self.0)()
    }
}

impl fmt::Debug for AppJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppJwt([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;

    const KEY: &str = include_str!("../../tests/fixtures/github-app-test-key.pem");
    const PUBLIC: &str = include_str!("../../tests/fixtures/github-app-test-key.pub.pem");

    #[test]
    fn a_jwt_is_issued_a_minute_back_expires_in_nine_minutes_and_names_the_app() {
        let claims = claims(12345, 1_700_000_000);
        assert_eq!(claims.iat, 1_700_000_000 - 60);
        assert_eq!(claims.exp, 1_700_000_000 + 540);
        assert_eq!(claims.iss, "12345");
        assert!(
            claims.exp - claims.iat <= 600,
            "GitHub refuses more than 10 minutes"
        );
    }

    #[test]
    fn the_jwt_is_rs256_and_verifies_with_the_apps_public_key() {
        let app = AppCredentials {
            id: 42,
            key: parse_private_key(KEY).expect("the test key"),
            key_file: None,
        };
        let now = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let jwt = app_jwt(&app, now).expect("signed");
        let public = DecodingKey::from_rsa_pem(PUBLIC.as_bytes()).expect("public key");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&["42"]);
        let decoded =
            jsonwebtoken::decode::<AppClaims>(jwt.expose(), &public, &validation).expect("valid");
        assert_eq!(decoded.header.alg, Algorithm::RS256);
        assert_eq!(decoded.claims, claims(42, now));
    }

    #[test]
    fn a_key_with_literal_backslash_n_is_read_and_garbage_is_refused_without_quoting_it() {
        let one_line = KEY.trim().replace('\n', "\\n");
        parse_private_key(&one_line).expect("literal \\n taken as line breaks");
        for bad in [
            "not a key",
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
            PUBLIC,
        ] {
            let err = parse_private_key(bad).expect_err(bad);
            assert!(!err.contains("AAAA") && !err.contains("not a key"), "{err}");
        }
    }

    #[test]
    fn a_token_is_used_until_five_minutes_before_it_expires() {
        let expires = 10_000;
        assert!(still_fresh(expires, expires - 3600));
        assert!(still_fresh(expires, expires - 301));
        assert!(!still_fresh(expires, expires - 300));
        assert!(!still_fresh(expires, expires + 1));
    }

    #[test]
    fn the_cache_keeps_a_token_per_installation_until_it_goes_stale_or_is_refused() {
        let mut cache = TokenCache::default();
        let token = |text: &str, expires_at| InstallationToken {
            token: Secret::new(text),
            expires_at,
        };
        cache.keep(InstallationId(1), token("one", 4000), 0);
        cache.keep(InstallationId(2), token("two", 8000), 0);
        assert_eq!(
            cache.fresh(InstallationId(1), 0).map(Secret::expose),
            Some("one")
        );
        assert_eq!(
            cache.fresh(InstallationId(2), 0).map(Secret::expose),
            Some("two")
        );
        assert!(
            cache.fresh(InstallationId(1), 3700).is_none(),
            "within the margin"
        );
        assert!(cache.fresh(InstallationId(3), 0).is_none());
        cache.forget(InstallationId(2));
        assert!(cache.fresh(InstallationId(2), 0).is_none());
        cache.keep(InstallationId(3), token("three", 9000), 3800);
        assert!(cache.tokens.len() == 1, "stale tokens are dropped");
    }

    #[test]
    fn the_access_token_answer_gives_the_token_and_its_expiry_and_errors_never_quote_it() {
        let answer =
            br#"{"token":"ghs_secret","expires_at":"2016-07-11T22:14:10Z","permissions":{}}"#;
        let token = parse_access_token(answer).expect("readable");
        assert_eq!(token.token.expose(), "ghs_secret");
        assert_eq!(token.expires_at, 1_468_275_250);
        let no_expiry = parse_access_token(br#"{"token":"ghs_x"}"#).expect("readable");
        assert_eq!(no_expiry.expires_at, 0, "used once, never cached as fresh");
        for bad in [
            &br#"{"token":42}"#[..],
            br#"{"expires_at":"x"}"#,
            b"ghs_secret",
        ] {
            let err = parse_access_token(bad).expect_err("unreadable");
            assert!(!err.contains("ghs_") && !err.contains("42"), "{err}");
        }
    }
}
