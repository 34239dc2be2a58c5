//! Missed deliveries recovered: the redelivery sweep against a fake GitHub serving the
//! App's deliveries (three pages; a guid that failed then succeeded, one that only
//! failed, one older than GitHub's 3-day window) → exactly the never-delivered guid is
//! asked for, once: also on later sweeps, after a restart, and with two instances on
//! PostgreSQL sweeping at once. GitHub's errors leave the sweep for later.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix_web::dev::ServerHandle;
use job_rerunner::settings::{AppJwt, Secret, Settings};
use job_rerunner::startup::Application;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::helpers::{
    Job, eventually, get_page, github_expects_rerun, send_to, test_logger, test_vars, unique,
};
use crate::postgres::fresh_database;

const JWT: &str = "test-app-jwt";
const STATUS_TOKEN: &str = "a-status-token-of-some-length";
const DELIVERIES: &str = "/app/hook/deliveries";
const MINUTE: Duration = Duration::from_secs(60);

/// A service with the sweep on (App JWT `JWT`), on `database`.
struct Sweeping {
    address: String,
    handle: ServerHandle,
}

async fn start(github: &MockServer, database: &str, every: &str) -> Sweeping {
    start_with(
        github,
        database,
        every,
        &[],
        Some(AppJwt(Arc::new(|| Ok(Secret::new(JWT))))),
    )
    .await
}

/// As [`start`], with more settings, and the JWT source `jwt` (`None`: the settings').
async fn start_with(
    github: &MockServer,
    database: &str,
    every: &str,
    more: &[(&str, &str)],
    jwt: Option<AppJwt>,
) -> Sweeping {
    let mut vars = test_vars(github, std::path::Path::new("unused.db"));
    vars.insert("DATABASE_URL".into(), database.to_owned());
    vars.insert("REDELIVER_EVERY".into(), every.to_owned());
    vars.insert("STATUS_TOKEN".into(), STATUS_TOKEN.to_owned());
    for (name, value) in more {
        vars.insert((*name).to_owned(), (*value).to_owned());
    }
    let mut settings = Settings::from_vars(vars).expect("test settings are valid");
    if jwt.is_some() {
        settings.app_jwt = jwt;
    }
    let app = Application::build(settings, test_logger())
        .await
        .expect("service starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    Sweeping { address, handle }
}

/// How many sweeps of `outcome` the service at `address` counted.
async fn sweeps(address: &str, outcome: &str) -> u64 {
    let metrics = get_page(address, "/metrics", None).await.body;
    let wanted = format!("job_rerunner_redelivery_sweeps_total{{outcome=\"{outcome}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&wanted))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits until the service has counted `at_least` sweeps of `outcome`.
async fn swept(address: &str, outcome: &str, at_least: u64) {
    eventually(&format!("{at_least} {outcome} sweeps"), || async {
        (sweeps(address, outcome).await >= at_least).then_some(())
    })
    .await;
}

fn rfc3339(ago: Duration) -> String {
    humantime::format_rfc3339_seconds(SystemTime::now() - ago).to_string()
}

fn delivery(id: u64, guid: &str, ago: Duration, status_code: u16, redelivery: bool) -> Value {
    json!({
        "id": id, "guid": guid, "delivered_at": rfc3339(ago), "redelivery": redelivery,
        "duration": 0.5, "status": if (200..300).contains(&status_code) { "OK" } else { "Bad" },
        "status_code": status_code, "event": "workflow_job", "action": "completed",
        "installation_id": 1, "repository_id": 2,
    })
}

/// The guids of one fake: the never-delivered one and its original attempt's id.
struct Fake {
    lost: String,
    lost_id: u64,
}

/// Serves the App's deliveries in three pages (only with the App's JWT) and accepts
/// redeliveries (202): `recovered` failed then succeeded, `lost` failed twice,
/// `ancient` failed four days ago; `fine` got a 2xx at once.
async fn github_lists_deliveries(github: &MockServer) -> Fake {
    github_lists_deliveries_slowly(github, Duration::ZERO).await
}

/// As [`github_lists_deliveries`], each page answered after `delay`.
async fn github_lists_deliveries_slowly(github: &MockServer, delay: Duration) -> Fake {
    let tag = unique();
    let guid = |name: &str| format!("{name}-{tag}");
    let link = |cursor: &str| {
        format!(
            "<{}{DELIVERIES}?per_page=100&cursor={cursor}>; rel=\"next\"",
            github.uri()
        )
    };
    let pages = [
        (
            None,
            vec![
                delivery(106, &guid("recovered"), MINUTE, 202, true),
                delivery(105, &guid("lost"), 2 * MINUTE, 500, true),
                delivery(104, &guid("fine"), 3 * MINUTE, 201, false),
            ],
            Some(link("page2")),
        ),
        (
            Some("page2"),
            vec![
                delivery(103, &guid("lost"), 20 * MINUTE, 502, false),
                delivery(102, &guid("recovered"), 30 * MINUTE, 503, false),
            ],
            Some(link("page3")),
        ),
        (
            Some("page3"),
            vec![delivery(
                101,
                &guid("ancient"),
                4 * 24 * 60 * MINUTE,
                500,
                false,
            )],
            None,
        ),
    ];
    for (cursor, deliveries, next) in pages {
        let mut answer = ResponseTemplate::new(200)
            .set_body_json(json!(deliveries))
            .set_delay(delay);
        if let Some(next) = next {
            answer = answer.insert_header("link", next.as_str());
        }
        let listing = Mock::given(method("GET"))
            .and(path(DELIVERIES))
            .and(query_param("per_page", "100"))
            .and(header("authorization", format!("Bearer {JWT}").as_str()));
        match cursor {
            None => listing.and(query_param_is_missing("cursor")),
            Some(cursor) => listing.and(query_param("cursor", cursor)),
        }
        .respond_with(answer)
        .mount(github)
        .await;
    }
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex(
            r"^/app/hook/deliveries/\d+/attempts$",
        ))
        .and(header("authorization", format!("Bearer {JWT}").as_str()))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({})))
        .mount(github)
        .await;
    Fake {
        lost: guid("lost"),
        lost_id: 103,
    }
}

/// The redeliveries GitHub was asked for, by path.
async fn redeliveries(github: &MockServer) -> Vec<String> {
    requests(github, "POST")
        .await
        .into_iter()
        .map(|request| request.url.path().to_owned())
        .filter(|path| path.starts_with(DELIVERIES))
        .collect()
}

async fn requests(github: &MockServer, verb: &str) -> Vec<Request> {
    github
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|request| request.method.as_str() == verb)
        .collect()
}

/// Listings of the page with `cursor` GitHub answered.
async fn listings_of(github: &MockServer, cursor: &str) -> usize {
    requests(github, "GET")
        .await
        .iter()
        .filter(|request| request.url.path() == DELIVERIES)
        .filter(|request| {
            request
                .url
                .query_pairs()
                .any(|(k, v)| k == "cursor" && v == cursor)
        })
        .count()
}

fn attempts_path(id: u64) -> String {
    format!("{DELIVERIES}/{id}/attempts")
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("job-rerunner.db").display())
}

#[actix_web::test]
async fn the_sweep_asks_exactly_for_the_never_delivered_guid_once_over_several_sweeps() {
    let github = MockServer::start().await;
    let fake = github_lists_deliveries(&github).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = start(&github, &sqlite_url(&dir), "0.1").await;
    swept(&app.address, "ok", 3).await;
    assert_eq!(
        redeliveries(&github).await,
        vec![attempts_path(fake.lost_id)]
    );
    assert_eq!(
        listings_of(&github, "page3").await,
        1,
        "later sweeps look back only to the mark"
    );

    let metrics = get_page(&app.address, "/metrics", None).await.body;
    assert!(
        metrics.contains("job_rerunner_redeliveries_requested_total 1"),
        "{metrics}"
    );
    let status = get_page(&app.address, "/api/status", Some(STATUS_TOKEN)).await;
    let status: Value = serde_json::from_str(&status.body).expect("JSON");
    assert_eq!(status["redeliveries"]["asked_in_window"], 1, "{status}");
    assert_eq!(status["redeliveries"]["last_outcome"], "ok", "{status}");
    let page = get_page(&app.address, "/status", Some(STATUS_TOKEN))
        .await
        .body;
    assert!(page.contains("Missed deliveries"), "{page}");
    assert!(
        page.contains("1 redeliveries asked for in the last 3 days"),
        "{page}"
    );
    app.handle.stop(true).await;
}

#[actix_web::test]
async fn with_app_authentication_the_sweep_signs_its_calls_with_the_apps_jwt() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(DELIVERIES))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([delivery(
            400,
            &format!("lost-{}", unique()),
            MINUTE,
            500,
            false
        )])))
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path(attempts_path(400)))
        .respond_with(ResponseTemplate::new(202))
        .mount(&github)
        .await;
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/github-app-test-key.pem"
    );
    let app_settings = [
        ("GITHUB_APP_ID", "4242"),
        ("GITHUB_APP_PRIVATE_KEY_FILE", key),
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    let app = start_with(&github, &sqlite_url(&dir), "0.1", &app_settings, None).await;
    eventually("the redelivery asked for", || async {
        (!redeliveries(&github).await.is_empty()).then_some(())
    })
    .await;
    let public = include_bytes!("../fixtures/github-app-test-key.pub.pem");
    let public = jsonwebtoken::DecodingKey::from_rsa_pem(public).expect("the test public key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&["4242"]);
    for request in github.received_requests().await.unwrap_or_default() {
        let bearer = request
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .expect("a bearer JWT");
        let claims = jsonwebtoken::decode::<Value>(bearer, &public, &validation)
            .expect("signed by the App's key")
            .claims;
        let (iat, exp) = (claims["iat"].as_u64(), claims["exp"].as_u64());
        assert!(
            iat.zip(exp).is_some_and(|(iat, exp)| exp - iat <= 660),
            "{claims}"
        );
    }
    app.handle.stop(true).await;
}

#[actix_web::test]
async fn a_restarted_service_neither_asks_again_nor_looks_again_from_the_start() {
    let github = MockServer::start().await;
    let fake = github_lists_deliveries(&github).await;
    let dir = tempfile::tempdir().expect("temp dir");
    // The first instance sweeps once at start, then not for an hour.
    let first = start(&github, &sqlite_url(&dir), "3600").await;
    swept(&first.address, "ok", 1).await;
    first.handle.stop(true).await;
    let second = start(&github, &sqlite_url(&dir), "0.1").await;
    swept(&second.address, "ok", 2).await;
    assert_eq!(
        redeliveries(&github).await,
        vec![attempts_path(fake.lost_id)]
    );
    assert_eq!(
        listings_of(&github, "page3").await,
        1,
        "the mark survived the restart"
    );
    assert!(
        listings_of(&github, "page2").await >= 2,
        "the overlap is looked at again"
    );
    second.handle.stop(true).await;
}

#[actix_web::test]
async fn a_github_error_leaves_the_sweep_for_later_without_a_panic() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(DELIVERIES))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path(DELIVERIES))
        .respond_with(ResponseTemplate::new(200).set_body_string("not json"))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&github)
        .await;
    let fake = github_lists_deliveries(&github).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = start(&github, &sqlite_url(&dir), "0.1").await;
    swept(&app.address, "github_error", 3).await;
    swept(&app.address, "ok", 1).await;
    assert_eq!(
        redeliveries(&github).await,
        vec![attempts_path(fake.lost_id)]
    );
    assert_eq!(
        get_page(&app.address, "/", None).await.status,
        200,
        "still serving"
    );
    app.handle.stop(true).await;
}

#[actix_web::test]
async fn a_failed_redelivery_request_is_asked_again_by_the_next_sweep() {
    let github = MockServer::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex(
            r"^/app/hook/deliveries/\d+/attempts$",
        ))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&github)
        .await;
    let fake = github_lists_deliveries(&github).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = start(&github, &sqlite_url(&dir), "0.1").await;
    eventually("the redelivery asked for again", || async {
        (redeliveries(&github).await.len() >= 2).then_some(())
    })
    .await;
    swept(&app.address, "ok", 2).await;
    let asked = redeliveries(&github).await;
    assert_eq!(
        asked,
        vec![attempts_path(fake.lost_id); 2],
        "one failed, one accepted"
    );
    app.handle.stop(true).await;
}

#[actix_web::test]
async fn a_rate_limit_pauses_the_sweep_until_its_reset() {
    let github = MockServer::start().await;
    let reset = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 3600;
    Mock::given(method("GET"))
        .and(path(DELIVERIES))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_json(json!({"message": "API rate limit exceeded"})),
        )
        .mount(&github)
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = start(&github, &sqlite_url(&dir), "0.05").await;
    swept(&app.address, "rate_limited", 1).await;
    swept(&app.address, "paused", 5).await;
    let listings = requests(&github, "GET").await.len();
    assert_eq!(listings, 1, "no listing while the limit lasts");
    app.handle.stop(true).await;
}

#[actix_web::test]
async fn a_redelivered_event_goes_through_the_normal_path_and_is_not_rerun_twice() {
    let github = MockServer::start().await;
    let repo = "org/redelivered";
    let run_id = unique();
    github_expects_rerun(&github, repo, run_id).await;
    // GitHub timed out on the completion (the service answered after 10 s, say): its
    // listing shows the attempt failed although the service recorded the event.
    let guid = format!("late-{}", unique());
    let failed = json!([delivery(300, &guid, MINUTE, 0, false)]);
    Mock::given(method("GET"))
        .and(path(DELIVERIES))
        .respond_with(ResponseTemplate::new(200).set_body_json(failed))
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path(attempts_path(300)))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({})))
        .mount(&github)
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = start(&github, &sqlite_url(&dir), "0.1").await;
    let client = awc::Client::default();
    let job = Job::new(repo, run_id, 1);
    send_to(&client, &app.address, &job.queued()).await;
    let completed = job.completed("failure");
    let first = send_signed_as(&client, &app.address, &completed, &guid).await;
    assert_eq!(first, 201);
    eventually("the redelivery asked for", || async {
        (!redeliveries(&github).await.is_empty()).then_some(())
    })
    .await;
    // GitHub redelivers: same guid, same payload.
    let again = send_signed_as(&client, &app.address, &completed, &guid).await;
    assert_eq!(again, 201, "answered with its first status");
    eventually("the re-run", || async {
        let posts = requests(&github, "POST").await;
        posts
            .iter()
            .any(|r| r.url.path().ends_with("/rerun-failed-jobs"))
            .then_some(())
    })
    .await;
    swept(&app.address, "ok", 3).await;
    let reruns = requests(&github, "POST")
        .await
        .into_iter()
        .filter(|r| r.url.path().ends_with("/rerun-failed-jobs"))
        .count();
    assert_eq!(reruns, 1);
    app.handle.stop(true).await;
}

/// Sends `payload` as a signed `workflow_job` delivery with the id `guid`; its status.
async fn send_signed_as(client: &awc::Client, address: &str, payload: &Value, guid: &str) -> u16 {
    let body = payload.to_string();
    let signature = job_rerunner::http::signature::sign(
        &Secret::new(crate::helpers::SIGN_KEY),
        body.as_bytes(),
    );
    client
        .post(address)
        .insert_header(("X-GitHub-Event", "workflow_job"))
        .insert_header(("X-GitHub-Delivery", guid))
        .insert_header(("X-Hub-Signature-256", signature.as_str()))
        .insert_header(("Content-Type", "application/json"))
        .send_body(body)
        .await
        .map(|response| response.status().as_u16())
        .unwrap_or(0)
}

#[actix_web::test]
#[ignore = "needs TEST_DATABASE_URL"]
async fn two_instances_on_postgres_sweeping_at_once_ask_once_per_guid() {
    let database =
        fresh_database("two_instances_on_postgres_sweeping_at_once_ask_once_per_guid").await;
    let github = MockServer::start().await;
    // Slow pages: the first instance's sweep is under way when the second one starts.
    let fake = github_lists_deliveries_slowly(&github, Duration::from_millis(300)).await;
    let one = start(&github, &database.url, "0.05").await;
    let two = start(&github, &database.url, "0.05").await;
    for app in [&one, &two] {
        eventually("both instances sweeping", || async {
            let ticks = sweeps(&app.address, "ok").await
                + sweeps(&app.address, "recent").await
                + sweeps(&app.address, "leased_elsewhere").await;
            (ticks >= 10).then_some(())
        })
        .await;
    }
    assert_eq!(
        redeliveries(&github).await,
        vec![attempts_path(fake.lost_id)]
    );
    let competed = sweeps(&one.address, "leased_elsewhere").await
        + sweeps(&two.address, "leased_elsewhere").await;
    assert!(competed > 0, "the instances met at the lease");
    let client = crate::postgres::connect(&database.url).await;
    let asked = client
        .query("SELECT guid FROM redelivery_asked", &[])
        .await
        .expect("the asked guids");
    let asked: Vec<String> = asked.iter().map(|row| row.get(0)).collect();
    assert_eq!(asked, vec![fake.lost]);
    one.handle.stop(true).await;
    two.handle.stop(true).await;
    database.drop_now().await;
}

#[actix_web::test]
async fn a_listed_guid_that_is_not_a_plain_delivery_id_is_never_asked_for_nor_kept() {
    let github = MockServer::start().await;
    let lost = format!("lost-{}", unique());
    // A megabyte guid, as a hostile or broken GitHub Enterprise proxy may list.
    let huge = format!("{}-{}", "x".repeat(1 << 20), unique());
    Mock::given(method("GET"))
        .and(path(DELIVERIES))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            delivery(501, &huge, MINUTE, 500, false),
            delivery(500, &lost, 2 * MINUTE, 500, false),
            delivery(502, "two words", 3 * MINUTE, 500, false),
        ])))
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path_regex(
            r"^/app/hook/deliveries/\d+/attempts$",
        ))
        .respond_with(ResponseTemplate::new(202))
        .mount(&github)
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = start(&github, &sqlite_url(&dir), "0.1").await;
    swept(&app.address, "ok", 2).await;
    assert_eq!(redeliveries(&github).await, vec![attempts_path(500)]);
    let status = get_page(&app.address, "/api/status", Some(STATUS_TOKEN)).await;
    let status: Value = serde_json::from_str(&status.body).expect("JSON");
    assert_eq!(status["redeliveries"]["asked_in_window"], 1, "{status}");
    app.handle.stop(true).await;
    let kept = std::fs::metadata(dir.path().join("job-rerunner.db"))
        .map(|meta| meta.len())
        .unwrap_or(0);
    assert!(kept < 1 << 20, "the store kept {kept} bytes");
}
