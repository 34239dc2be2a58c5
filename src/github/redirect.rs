//! Which redirects of an API call are followed, and where to.
//!
//! awc's own redirects stay off (it would send the token wherever a `Location` points,
//! and turn a redirected POST into a GET whose 200 reads as a started re-run). But
//! GitHub itself redirects: for a renamed or transferred repository it answers 301 to
//! a GET and 307 to a POST, pointing at the repository's new path on the same API
//! host. Retrying the old URL gets the same redirect every time, so the client follows
//! these by hand: at most [`MAX_HOPS`] of them, only on the scheme, host and port of
//! `GITHUB_API_URL` and under its base path (the token is for that API only), and only
//! those that keep the method: 301/302/307/308 for a GET, 307/308 for a POST (a 301,
//! 302 or 303 of a POST is a proxy or a sign-in page; it is judged a refusal).
//! Everything else is left to [`super::GitHubError::judge`].

use actix_web::http::{Method, StatusCode};
use url::Url;

/// Most redirects followed for one call; a longer chain is a loop (transient).
pub const MAX_HOPS: usize = 3;

/// Where to send `method` again after it got `status` with `location` for the request
/// to `current`, or `None` when this redirect is not followed.
pub fn next(
    api_url: &str,
    method: &Method,
    status: StatusCode,
    current: &str,
    location: Option<&str>,
) -> Option<Url> {
    let keeps_method = match status.as_u16() {
        307 | 308 => true,
        301 | 302 => method == Method::GET,
        _ => false,
    };
    if !keeps_method {
        return None;
    }
    // Relative locations resolve against the request's URL; parsing also resolves
    // `..` and `%2e` segments, so the base-path check below sees the real path.
    let mut target = Url::parse(current).ok()?.join(location?).ok()?;
    target.set_fragment(None);
    on_api(api_url, &target).then_some(target)
}

/// Whether `target` is on the API: same scheme, host and port as `api_url`, under its
/// path, with no credentials of its own.
fn on_api(api_url: &str, target: &Url) -> bool {
    let Ok(base) = Url::parse(api_url) else {
        return false;
    };
    let base_path = base.path().trim_end_matches('/');
    let under_base = target
        .path()
        .strip_prefix(base_path)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    target.scheme() == base.scheme()
        && target.host_str() == base.host_str()
        && target.port_or_known_default() == base.port_or_known_default()
        && target.username().is_empty()
        && target.password().is_none()
        && under_base
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "https://ghe.example/api/v3";
    const RUN: &str = "https://ghe.example/api/v3/repos/org/old/actions/runs/7";

    fn follow(method: Method, status: u16, location: &str) -> Option<String> {
        let status = StatusCode::from_u16(status).expect("status");
        next(API, &method, status, RUN, Some(location)).map(|url| url.to_string())
    }

    #[test]
    fn a_renamed_repository_is_followed_on_the_api_host() {
        let new = "https://ghe.example/api/v3/repositories/42/actions/runs/7";
        assert_eq!(follow(Method::GET, 301, new).as_deref(), Some(new));
        assert_eq!(follow(Method::POST, 307, new).as_deref(), Some(new));
        assert_eq!(follow(Method::POST, 308, new).as_deref(), Some(new));
        assert_eq!(
            follow(Method::GET, 302, "/api/v3/repos/org/new/actions/runs/7#x").as_deref(),
            Some("https://ghe.example/api/v3/repos/org/new/actions/runs/7")
        );
        assert_eq!(
            follow(Method::GET, 301, "HTTPS://GHE.example:443/api/v3/x").as_deref(),
            Some("https://ghe.example/api/v3/x")
        );
    }

    #[test]
    fn a_redirect_that_changes_the_method_or_leaves_the_api_is_not_followed() {
        let new = "https://ghe.example/api/v3/repos/org/new/actions/runs/7";
        for status in [301, 302, 303] {
            assert_eq!(follow(Method::POST, status, new), None, "{status}");
        }
        assert_eq!(follow(Method::GET, 303, new), None);
        assert_eq!(follow(Method::GET, 304, new), None);
        for elsewhere in [
            "https://evil.example/api/v3/x",
            "http://ghe.example/api/v3/x",
            "https://ghe.example:8443/api/v3/x",
            "https://ghe.example/login?state=s",
            "https://ghe.example/api/v30/x",
            "https://ghe.example/api/v3/../../login",
            "https://ghe.example/api/v3/%2e%2e/%2e%2e/login",
            "https://user:pw@ghe.example/api/v3/x",
            "//evil.example/api/v3/x",
        ] {
            assert_eq!(follow(Method::GET, 307, elsewhere), None, "{elsewhere}");
        }
        let status = StatusCode::MOVED_PERMANENTLY;
        assert_eq!(next(API, &Method::GET, status, RUN, None), None);
    }

    #[test]
    fn an_api_at_the_root_takes_any_path_on_its_host() {
        let run = "https://api.github.com/repos/org/old/actions/runs/7";
        let new = Some("/repositories/42/actions/runs/7");
        let status = StatusCode::MOVED_PERMANENTLY;
        let api = "https://api.github.com";
        assert_eq!(
            next(api, &Method::GET, status, run, new).map(|u| u.to_string()),
            Some("https://api.github.com/repositories/42/actions/runs/7".to_owned())
        );
    }
}
