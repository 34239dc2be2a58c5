//! What a check run, the status pages and `/api/reruns` say about evidence that came
//! from outside: markdown in a log line or a job name is quoted as code in the check
//! run's summary (never rendered: no link, image, mention or heading of a stranger's
//! in an App-authored check run), and common token shapes and the service's own
//! secret values are masked everywhere it is shown.

use job_rerunner::github::markdown::outside_code;
use serde_json::json;

use crate::github_app::{
    check_runs, github_serves_evidence, github_takes_check_runs, rerun_one,
    spawn_reporting_app_with,
};
use crate::helpers::{Job, eventually, get_page, github_expects_rerun, unique};

const STATUS_TOKEN: &str = "a-status-token-for-the-marked-test";
const NPM: &str = "npm_abcdefghijklmnopqrstuvwxyz0123456789";
const SLACK: &str = "xoxb-1234567890-1234567890-abcdefghij";

/// Every secret the evidence carried, none of which may be shown.
fn leaked(text: &str) -> Vec<&'static str> {
    [NPM, SLACK, "abcdefghijklmnop", STATUS_TOKEN]
        .into_iter()
        .filter(|secret| text.contains(secret))
        .collect()
}

#[actix_web::test]
async fn evidence_and_job_names_reach_the_check_run_quoted_as_code_and_masked_everywhere() {
    let rules = "[defaults]\nonly_when = [\"@infra\"]\n";
    let (app, _fake) =
        spawn_reporting_app_with(&[("RULES", rules), ("STATUS_TOKEN", STATUS_TOKEN)]).await;
    let run = unique();
    github_takes_check_runs(&app.github, "org/marked", 201).await;
    github_expects_rerun(&app.github, "org/marked", run).await;
    let lost = format!(
        "The self-hosted runner: b lost communication with the server [x](https://evil.example) @octocat {NPM} {SLACK} {STATUS_TOKEN}"
    );
    let annotations = json!([{"annotation_level": "failure", "message": lost}]);
    github_serves_evidence(&app.github, "org/marked", 81, annotations, "tests\n").await;

    let job = Job::new("org/marked", run, 81)
        .name("# Build ![x](https://evil.example/x.png) @octocat")
        .installation(61);
    assert_eq!(rerun_one(&app, &job).await, "started");
    let (body, _) = eventually("the started re-run's check run", || async {
        check_runs(&app, "org/marked").await.pop()
    })
    .await;
    let title = body["output"]["title"].as_str().unwrap_or_default();
    let summary = body["output"]["summary"].as_str().unwrap_or_default();
    assert!(
        title.contains("lost communication with the server"),
        "{title}"
    );
    assert!(leaked(title).is_empty(), "{title}");
    assert!(leaked(summary).is_empty(), "{summary}");
    let rendered = outside_code(summary);
    for active in ["evil.example", "@octocat", "# Build"] {
        assert!(
            !rendered.contains(active),
            "{active} is rendered: {summary}"
        );
    }
    assert!(
        summary.contains("lost communication with the server"),
        "{summary}"
    );

    for page in ["/api/reruns", "/status", "/api/runs"] {
        let shown = get_page(&app.address, page, Some(STATUS_TOKEN)).await;
        assert_eq!(shown.status, 200, "{page}");
        assert!(leaked(&shown.body).is_empty(), "{page}: {}", shown.body);
    }
}
