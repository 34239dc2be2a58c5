//! The App's webhook deliveries on GitHub: list them (`GET /app/hook/deliveries`, a page
//! at a time, newest first, following the `Link` header's `cursor`) and ask for one to
//! be delivered again (`POST /app/hook/deliveries/{id}/attempts`, 202). Both take the
//! App's JWT. Not `Send` (awc is not): the sweep builds it on its own task. GitHub's
//! answers are input: an entry that does not read is skipped, never unwrapped, and so
//! is one whose guid is not a plain delivery id ([`is_plain`]: the rule the webhook
//! path applies to `X-GitHub-Delivery`), so that no guid of a megabyte reaches the
//! plan, the store or a log line.

use std::sync::Arc;
use std::time::{Instant, UNIX_EPOCH};

use actix_web::http::StatusCode;
use serde::Deserialize;

use super::plan::Delivery;
use crate::github::GitHubError;
use crate::github::GitHubSettings;
use crate::http::headers::{Shape, is_plain};
use crate::metrics::Metrics;
use crate::secret::Secret;

/// Deliveries per page: GitHub's most.
pub const PER_PAGE: u32 = 100;
/// Largest answer read: a page of 100 deliveries is some 40 KB.
const MAX_RESPONSE_BYTES: usize = 4 << 20;

/// One page of the listing.
#[derive(Debug, Default)]
pub struct Page {
    /// Its deliveries that could be read, as listed (newest first).
    pub deliveries: Vec<Delivery>,
    /// Entries that could not be read (skipped).
    pub unreadable: usize,
    /// The next page's cursor, if there is one.
    pub next_cursor: Option<String>,
}

/// The fields of a listed delivery the sweep reads.
#[derive(Deserialize)]
struct Listed {
    id: u64,
    guid: String,
    delivered_at: String,
    #[serde(default)]
    redelivery: bool,
    #[serde(default)]
    status_code: u16,
    #[serde(default)]
    event: String,
}

/// Calls the deliveries endpoints.
pub struct DeliveriesClient {
    http: awc::Client,
    api_url: String,
    metrics: Arc<Metrics>,
}

impl DeliveriesClient {
    /// A client for `settings.api_url` with its request timeout.
    pub fn new(settings: &GitHubSettings, metrics: Arc<Metrics>) -> Self {
        let http = awc::Client::builder()
            .timeout(settings.request_timeout)
            .disable_redirects()
            .add_default_header((
                "User-Agent",
                concat!("job-rerunner/", env!("CARGO_PKG_VERSION")),
            ))
            .add_default_header(("Accept", "application/vnd.github+json"))
            .add_default_header(("X-GitHub-Api-Version", "2022-11-28"))
            .finish();
        Self {
            http,
            api_url: settings.api_url.clone(),
            metrics,
        }
    }

    /// One page of deliveries, newest first, from `cursor` (`None`: the newest).
    pub async fn list(&self, jwt: &Secret, cursor: Option<&str>) -> Result<Page, GitHubError> {
        const ENDPOINT: &str = "app_hook_deliveries";
        let mut url = format!("{}/app/hook/deliveries?per_page={PER_PAGE}", self.api_url);
        if let Some(cursor) = cursor {
            url.push_str("&cursor=");
            url.push_str(
                &url::form_urlencoded::byte_serialize(cursor.as_bytes()).collect::<String>(),
            );
        }
        let request = self.http.get(url).bearer_auth(jwt.expose());
        let (status, headers, body) = self.send(request, ENDPOINT).await?;
        judge(status, &headers, &body)?;
        let next_cursor = headers
            .get("link")
            .and_then(|value| value.to_str().ok())
            .and_then(next_cursor);
        let mut page = read_page(&body)
            .map_err(|why| GitHubError::transient(format!("GET /app/hook/deliveries: {why}")))?;
        page.next_cursor = next_cursor;
        Ok(page)
    }

    /// Asks GitHub to deliver attempt `delivery_id` again (202 is the only success).
    pub async fn redeliver(&self, jwt: &Secret, delivery_id: u64) -> Result<(), GitHubError> {
        const ENDPOINT: &str = "app_hook_redeliver";
        let url = format!(
            "{}/app/hook/deliveries/{delivery_id}/attempts",
            self.api_url
        );
        let request = self.http.post(url).bearer_auth(jwt.expose());
        let (status, headers, body) = self.send(request, ENDPOINT).await?;
        judge(status, &headers, &body)?;
        if status != StatusCode::ACCEPTED {
            return Err(GitHubError::transient(format!(
                "HTTP {} is not GitHub's answer to a redelivery (202)",
                status.as_u16()
            )));
        }
        Ok(())
    }

    /// Sends `request`, reads the answer (bounded), counts the call.
    async fn send(
        &self,
        request: awc::ClientRequest,
        endpoint: &'static str,
    ) -> Result<(StatusCode, actix_web::http::header::HeaderMap, Vec<u8>), GitHubError> {
        let started = Instant::now();
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                self.metrics.github_call(endpoint, None, started.elapsed());
                return Err(GitHubError::transient(format!("{endpoint}: {err}")));
            }
        };
        let status = response.status();
        self.metrics
            .github_call(endpoint, Some(status.as_u16()), started.elapsed());
        let body = response
            .body()
            .limit(MAX_RESPONSE_BYTES)
            .await
            .map_err(|err| {
                GitHubError::transient(format!("{endpoint}: reading the answer: {err}"))
            })?;
        Ok((status, response.headers().clone(), body.to_vec()))
    }
}

/// `Ok` for a 2xx; a redirect (never followed: it could send the JWT elsewhere) is
/// transient; anything else as [`GitHubError::from_response`] reads it (rate limits).
fn judge(
    status: StatusCode,
    headers: &actix_web::http::header::HeaderMap,
    body: &[u8],
) -> Result<(), GitHubError> {
    if status.is_success() {
        return Ok(());
    }
    if status.is_redirection() {
        return Err(GitHubError::transient(format!(
            "HTTP {} redirect not followed",
            status.as_u16()
        )));
    }
    let now_epoch = crate::clock::now_secs();
    Err(GitHubError::from_response(status, headers, body, now_epoch))
}

/// The deliveries of one page's body (no cursor: that is in the headers); an entry
/// that does not read, or whose guid is not plain, is counted as unreadable. `Err`
/// (one line) when the body is not a JSON array.
pub fn read_page(body: &[u8]) -> Result<Page, String> {
    let entries: Vec<serde_json::Value> =
        serde_json::from_slice(body).map_err(|err| format!("unreadable answer: {err}"))?;
    let mut page = Page::default();
    for entry in entries {
        match serde_json::from_value::<Listed>(entry)
            .ok()
            .and_then(delivery)
        {
            Some(delivery) => page.deliveries.push(delivery),
            None => page.unreadable += 1,
        }
    }
    Ok(page)
}

/// A listed entry as the planner takes it; `None` when its time does not read or its
/// guid is not a plain delivery id.
fn delivery(listed: Listed) -> Option<Delivery> {
    if !is_plain(listed.guid.as_bytes(), Shape::Id) {
        return None;
    }
    let at = humantime::parse_rfc3339_weak(&listed.delivered_at).ok()?;
    let delivered_at = at.duration_since(UNIX_EPOCH).ok()?.as_millis() as u64;
    Some(Delivery {
        id: listed.id,
        guid: listed.guid,
        delivered_at,
        status_code: listed.status_code,
        redelivery: listed.redelivery,
        event: listed.event,
    })
}

/// The `cursor` of the `rel="next"` link in a `Link` header, if any.
pub fn next_cursor(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params
            .split(';')
            .any(|param| param.trim() == r#"rel="next""#)
        {
            return None;
        }
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let url = url::Url::parse(target).ok()?;
        url.query_pairs()
            .find(|(name, _)| name == "cursor")
            .map(|(_, value)| value.into_owned())
            .filter(|cursor| !cursor.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_cursor_is_read_from_the_link_header() {
        let link = r#"<https://api.github.com/app/hook/deliveries?per_page=100&cursor=v1_1234>; rel="next", <https://api.github.com/app/hook/deliveries?per_page=100>; rel="first""#;
        assert_eq!(next_cursor(link).as_deref(), Some("v1_1234"));
        assert_eq!(next_cursor(r#"<https://x/y?cursor=a>; rel="prev""#), None);
        assert_eq!(next_cursor("garbage"), None);
        assert_eq!(next_cursor(r#"<not a url>; rel="next""#), None);
    }

    #[test]
    fn a_listed_delivery_reads_its_time_and_an_unreadable_one_is_none() {
        let listed = |at: &str| Listed {
            id: 7,
            guid: "g".into(),
            delivered_at: at.into(),
            redelivery: false,
            status_code: 502,
            event: "workflow_job".into(),
        };
        let read = delivery(listed("2019-06-03T00:57:16Z")).expect("reads");
        assert_eq!(read.delivered_at, 1_559_523_436_000);
        assert!(delivery(listed("yesterday")).is_none());
    }

    #[test]
    fn a_listed_delivery_whose_guid_is_not_a_plain_delivery_id_is_unreadable() {
        let listed = |guid: String| Listed {
            id: 7,
            guid,
            delivered_at: "2019-06-03T00:57:16Z".into(),
            redelivery: false,
            status_code: 502,
            event: "workflow_job".into(),
        };
        assert!(delivery(listed("72d3162e-cc78-11e3-81ab-4c9367dc0958".into())).is_some());
        for guid in [
            "x".repeat(1_300_000),
            String::new(),
            "a b".into(),
            "é".into(),
        ] {
            assert!(delivery(listed(guid)).is_none());
        }
    }
}
