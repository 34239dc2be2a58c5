//! Which credential an API call is made with, and the installation token cache.
//!
//! A run whose webhook came from a GitHub App installation (`installation.id`) is
//! re-run with that installation's token when the App is configured; any other run
//! with `GITHUB_TOKEN`. [`Credentials`] owns the App key and the cache of installation
//! tokens (one per installation, until [`app_auth::REFRESH_MARGIN_SECS`] before it
//! expires); the GitHub actor owns it and is its only user (the mutex is never
//! contended nor held across an await: it makes the actor `Send` to start). [`RequestAuth`] is one request's
//! credential: the header it resolved once, fetched anew once if GitHub answers 401.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use slog::{Logger, info};

use super::app_auth::{self, AppCredentials, TokenCache};
use super::{Answer, GitHubClient, GitHubError, NoCredential};
use crate::clock::now_secs as now_epoch;
use crate::github::GitHubSettings;
use crate::ids::InstallationId;
use crate::secret::Secret;

/// What a request authenticates with; also the unit of pacing and rate-limit pauses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Credential {
    /// `GITHUB_TOKEN`.
    Token,
    /// The App's installation token of this installation.
    Installation(InstallationId),
}

impl Credential {
    /// For logs: `token` or `installation 123`.
    pub fn describe(self) -> String {
        match self {
            Credential::Token => "token".to_owned(),
            Credential::Installation(id) => format!("installation {id}"),
        }
    }
}

/// The service's credentials: `GITHUB_TOKEN`, the App, the installation tokens.
pub struct Credentials {
    token: Option<Secret>,
    app: Option<AppCredentials>,
    cache: Mutex<TokenCache>,
    /// When the App last asked for an installation token. Those POSTs are all the
    /// App's own (its JWT), whatever the installation: they are paced as one
    /// credential's POSTs are, `GITHUB_MIN_INTERVAL` apart, so that a burst of new
    /// installations does not spend the App's rate limit in seconds. A tokio mutex:
    /// its waiters queue in order, and it is held across the wait on purpose.
    last_token_request: tokio::sync::Mutex<Option<tokio::time::Instant>>,
    min_interval: Duration,
}

impl Credentials {
    /// The credentials `settings` configure.
    pub fn new(settings: &GitHubSettings) -> Self {
        Self {
            token: settings.token.clone(),
            app: settings.app.clone(),
            cache: Mutex::new(TokenCache::default()),
            last_token_request: tokio::sync::Mutex::new(None),
            min_interval: settings.min_interval,
        }
    }

    /// Whether any credential is configured.
    pub fn any(&self) -> bool {
        self.token.is_some() || self.app.is_some()
    }

    /// The credential for a run of `installation` (none: a repository webhook): the
    /// installation's token when the App is configured, else `GITHUB_TOKEN`; `Err`
    /// saying which is missing when neither applies.
    pub fn choose(&self, installation: Option<InstallationId>) -> Result<Credential, NoCredential> {
        match (installation, &self.app, &self.token) {
            (Some(id), Some(_), _) => Ok(Credential::Installation(id)),
            (_, _, Some(_)) => Ok(Credential::Token),
            (Some(_), None, None) => Err(NoCredential::Installation),
            (None, _, None) => Err(NoCredential::Token),
        }
    }

    /// The `Authorization` header value for `credential`: the token, the cached
    /// installation token, or a new one from GitHub.
    async fn authorization(
        &self,
        client: &GitHubClient,
        credential: Credential,
        log: &Logger,
    ) -> Result<Secret, GitHubError> {
        let now = now_epoch();
        let installation = match (credential, &self.token) {
            (Credential::Token, Some(token)) => return Ok(bearer(token)),
            (Credential::Token, None) => return Err(NoCredential::Token.into()),
            (Credential::Installation(id), _) => id,
        };
        if let Some(header) = self.cached(installation, now) {
            return Ok(header);
        }
        let app = self
            .app
            .as_ref()
            .ok_or(GitHubError::NoCredential(NoCredential::Installation))?;
        self.wait_for_token_slot().await;
        let now = now_epoch();
        let jwt = app_auth::app_jwt(app, now).map_err(GitHubError::transient)?;
        let fetched = client
            .installation_token(&bearer(&jwt), installation, log)
            .await?;
        info!(log, "installation token fetched"; "installation" => installation.0,
            "expires_in_s" => fetched.expires_at.saturating_sub(now));
        let header = bearer(&fetched.token);
        self.with_cache(|cache| cache.keep(installation, fetched, now));
        Ok(header)
    }

    /// Waits until `GITHUB_MIN_INTERVAL` passed since the App's last token request.
    async fn wait_for_token_slot(&self) {
        let mut last = self.last_token_request.lock().await;
        if let Some(at) = *last {
            tokio::time::sleep_until(at + self.min_interval).await;
        }
        *last = Some(tokio::time::Instant::now());
    }

    fn cached(&self, installation: InstallationId, now: u64) -> Option<Secret> {
        self.with_cache(|cache| cache.fresh(installation, now).map(bearer))
    }

    fn forget(&self, credential: Credential) {
        if let Credential::Installation(id) = credential {
            self.with_cache(|cache| cache.forget(id));
        }
    }

    /// The cache, even if a panic poisoned its lock (it holds no invariant a panic
    /// can break: at worst a token is fetched again).
    fn with_cache<T>(&self, use_it: impl FnOnce(&mut TokenCache) -> T) -> T {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        use_it(&mut cache)
    }
}

/// One request's credential and the header it resolved.
pub struct RequestAuth {
    credentials: Arc<Credentials>,
    /// The credential.
    pub credential: Credential,
    header: Option<Secret>,
    refreshed: bool,
}

impl RequestAuth {
    /// A request made with `credential`.
    pub fn new(credentials: Arc<Credentials>, credential: Credential) -> Self {
        Self {
            credentials,
            credential,
            header: None,
            refreshed: false,
        }
    }

    /// Makes `call` with this request's `Authorization` header. The header is resolved
    /// on the first call and kept for the request's others; an installation token
    /// GitHub answers 401 to (revoked, or expired early) is forgotten and fetched anew,
    /// once per request, and the call made again with it.
    pub async fn call<T, F, Fut>(
        &mut self,
        client: &GitHubClient,
        log: &Logger,
        call: F,
    ) -> Result<Answer<T>, GitHubError>
    where
        F: Fn(Secret) -> Fut,
        Fut: Future<Output = Result<Answer<T>, GitHubError>>,
    {
        loop {
            let header = match &self.header {
                Some(header) => header.clone(),
                None => {
                    let header = self
                        .credentials
                        .authorization(client, self.credential, log)
                        .await?;
                    self.header = Some(header.clone());
                    header
                }
            };
            match call(header).await {
                Err(GitHubError::Rejected { status: 401, .. })
                    if !self.refreshed
                        && matches!(self.credential, Credential::Installation(_)) =>
                {
                    info!(log, "installation token refused (401): fetching a new one";
                        "credential" => self.credential.describe());
                    self.refreshed = true;
                    self.header = None;
                    self.credentials.forget(self.credential);
                }
                answered => return answered,
            }
        }
    }
}

fn bearer(token: &Secret) -> Secret {
    Secret::new(format!("Bearer {}", token.expose()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials(token: bool, app: bool) -> Credentials {
        let key = include_str!("../../tests/fixtures/github-app-test-key.pem");
        Credentials {
            token: token.then(|| Secret::new("t")),
            app: app.then(|| AppCredentials {
                id: 1,
                key: app_auth::parse_private_key(key).expect("test key"),
                key_file: None,
            }),
            cache: Mutex::default(),
            last_token_request: tokio::sync::Mutex::new(None),
            min_interval: Duration::ZERO,
        }
    }

    #[test]
    fn an_installations_run_uses_the_app_and_any_other_the_token() {
        let both = credentials(true, true);
        let id = InstallationId(7);
        assert_eq!(both.choose(Some(id)), Ok(Credential::Installation(id)));
        assert_eq!(both.choose(None), Ok(Credential::Token));
        let token_only = credentials(true, false);
        assert_eq!(token_only.choose(Some(id)), Ok(Credential::Token));
        let app_only = credentials(false, true);
        assert_eq!(app_only.choose(Some(id)), Ok(Credential::Installation(id)));
        assert_eq!(app_only.choose(None), Err(NoCredential::Token));
        let neither = credentials(false, false);
        assert!(neither.choose(Some(id)).is_err() && neither.choose(None).is_err());
    }
}
