//! Every row of docs/spec.md's status table, and the answers it adds.

use serde_json::json;

use crate::helpers::{Job, SIGN_KEY, github_expects_rerun, spawn_app, unique};
use job_rerunner::http::signature::sign;
use job_rerunner::settings::Secret;

#[actix_web::test]
async fn a_missing_or_wrong_signature_is_403() {
    let app = spawn_app(&[]).await;
    let body = Job::new("org/repo", unique(), 1).queued().to_string();

    let unsigned = app
        .post(
            body.clone().into_bytes(),
            &[("X-GitHub-Event", "workflow_job")],
        )
        .await;
    assert_eq!(unsigned.status, 403);
    assert_eq!(unsigned.body, "X-Hub-Signature-256 header is missing\n");

    let wrong = sign(&Secret::new("not-the-key"), body.as_bytes());
    let forged = app
        .post(
            body.into_bytes(),
            &[
                ("X-Hub-Signature-256", &wrong),
                ("X-GitHub-Event", "workflow_job"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(!forged.body.contains(SIGN_KEY));
}

#[actix_web::test]
async fn a_signature_over_a_different_body_is_403() {
    let app = spawn_app(&[]).await;
    let signed = Job::new("org/repo", unique(), 1).queued().to_string();
    let signature = sign(&Secret::new(SIGN_KEY), signed.as_bytes());
    let other = Job::new("org/repo", unique(), 2).queued().to_string();
    let answer = app
        .post(
            other.into_bytes(),
            &[
                ("X-Hub-Signature-256", &signature),
                ("X-GitHub-Event", "workflow_job"),
            ],
        )
        .await;
    assert_eq!(answer.status, 403);
}

#[actix_web::test]
async fn events_not_for_us_are_204() {
    let app = spawn_app(&[
        ("NO_RETRY_LIST", "dependabot,Renovate"),
        ("RUN_ATTEMPTS", "3"),
    ])
    .await;
    let denied = Job::new("org/repo", unique(), 1)
        .sender("renovate")
        .completed("failure");
    assert_eq!(app.send(&denied).await.status, 204);
    let no_job = json!({"action": "created", "sender": {"login": "x"}});
    assert_eq!(app.send(&no_job).await.status, 204);
    let last_attempt = Job::new("org/repo", unique(), 1).attempt(3).queued();
    assert_eq!(app.send(&last_attempt).await.status, 204);
    let push = json!({"ref": "refs/heads/master"});
    assert_eq!(app.send_as(&push, "push", "d-push").await.status, 204);
    assert!(app.all_posts().await.is_empty());
}

#[actix_web::test]
async fn a_ping_is_200() {
    let app = spawn_app(&[]).await;
    let ping = json!({"zen": "Keep it logically awesome.", "hook_id": 1});
    let answer = app.send_as(&ping, "ping", "d-ping").await;
    assert_eq!(answer.status, 200);
}

#[actix_web::test]
async fn queued_in_progress_and_unfinished_runs_are_202() {
    let app = spawn_app(&[]).await;
    let run = unique();
    let first = Job::new("org/repo", run, 1);
    let second = Job::new("org/repo", run, 2);
    assert_eq!(app.send(&first.queued()).await.status, 202);
    assert_eq!(app.send(&second.queued()).await.status, 202);
    assert_eq!(app.send(&first.in_progress()).await.status, 202);
    let answer = app.send(&first.completed("failure")).await;
    assert_eq!(
        answer.status, 202,
        "job 2 is still unfinished: {}",
        answer.body
    );
}

#[actix_web::test]
async fn the_last_job_of_a_passing_run_is_200() {
    let app = spawn_app(&[]).await;
    let job = Job::new("org/repo", unique(), 1);
    app.send(&job.queued()).await;
    let answer = app.send(&job.completed("success")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "run finished without failed jobs\n");
}

#[actix_web::test]
async fn the_last_job_of_a_failed_run_on_another_branch_is_200() {
    let app = spawn_app(&[("REPO_BRANCHES", "master,main")]).await;
    let job = Job::new("org/repo", unique(), 1).branch("feature/x");
    app.send(&job.queued()).await;
    let answer = app.send(&job.completed("failure")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "run failed on a branch not in REPO_BRANCHES\n");
}

#[actix_web::test]
async fn the_last_job_of_a_failed_run_on_a_listed_branch_is_201() {
    let app = spawn_app(&[("REPO_BRANCHES", "master,main")]).await;
    let run = unique();
    github_expects_rerun(&app.github, "org/repo", run).await;
    let job = Job::new("org/repo", run, 1).branch("main");
    app.send(&job.queued()).await;
    let answer = app.send(&job.completed("failure")).await;
    assert_eq!(answer.status, 201);
    assert_eq!(app.outcome_of("org/repo", run, 1).await, "started");
}

#[actix_web::test]
async fn a_completion_for_an_unknown_run_is_404() {
    let app = spawn_app(&[]).await;
    let answer = app
        .send(&Job::new("org/repo", unique(), 1).completed("failure"))
        .await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.body,
        "job completed for a run with no earlier record\n"
    );
}

#[actix_web::test]
async fn malformed_payloads_are_400_with_a_reason() {
    let app = spawn_app(&[]).await;
    let body = b"{\"action\": \"queued\", \"workflow_job\": ".to_vec();
    let signature = sign(&Secret::new(SIGN_KEY), &body);
    let answer = app
        .post(
            body,
            &[
                ("X-Hub-Signature-256", &signature),
                ("X-GitHub-Event", "workflow_job"),
            ],
        )
        .await;
    assert_eq!(answer.status, 400);
    assert!(
        answer
            .body
            .starts_with("payload is not valid workflow_job JSON"),
        "{}",
        answer.body
    );
    assert_eq!(answer.body.lines().count(), 1);

    let mut missing = Job::new("org/repo", unique(), 1).queued();
    missing["workflow_job"]
        .as_object_mut()
        .expect("object")
        .remove("run_id");
    let answer = app.send(&missing).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body, "payload is missing workflow_job.run_id\n");

    let mut bad_repo = Job::new("org/repo", unique(), 1).queued();
    bad_repo["repository"]["full_name"] = json!("org/../../admin");
    assert_eq!(app.send(&bad_repo).await.status, 400);
}

#[actix_web::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app(&[("MAX_BODY_BYTES", "4096")]).await;
    let mut big = Job::new("org/repo", unique(), 1).queued();
    big["padding"] = json!("x".repeat(8192));
    let answer = app.send(&big).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.body, "payload larger than 4096 bytes\n");
}

#[actix_web::test]
async fn get_root_says_the_service_is_alive() {
    let app = spawn_app(&[]).await;
    let answer = app.get_root().await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("alive"));
}

#[actix_web::test]
async fn a_signed_form_encoded_delivery_is_400_saying_to_set_the_content_type_to_json() {
    let app = spawn_app(&[]).await;
    let json = Job::new("org/repo", unique(), 1).queued().to_string();
    // As GitHub sends it with its pre-selected content type: the JSON in a form field.
    let encoded: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &json)
        .finish();
    let signature = sign(&Secret::new(SIGN_KEY), encoded.as_bytes());
    for event in ["workflow_job", "ping"] {
        let answer = app
            .post(
                encoded.clone().into_bytes(),
                &[
                    ("X-Hub-Signature-256", &signature),
                    ("X-GitHub-Event", event),
                    ("X-GitHub-Delivery", "form-1"),
                    ("Content-Type", "application/x-www-form-urlencoded"),
                ],
            )
            .await;
        assert_eq!(answer.status, 400, "{event}");
        assert!(
            answer
                .body
                .contains("set the webhook's Content type to application/json"),
            "{event}: {}",
            answer.body
        );
        assert_eq!(answer.body.lines().count(), 1);
    }
    // Unsigned, the form says nothing more than any unsigned request.
    let forged = app
        .post(
            encoded.into_bytes(),
            &[
                ("X-Hub-Signature-256", &sign(&Secret::new("other"), b"x")),
                ("X-GitHub-Event", "workflow_job"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
}

#[actix_web::test]
async fn a_json_body_of_the_wrong_shape_is_400_naming_the_field() {
    let app = spawn_app(&[]).await;
    for (field, value, named) in [
        (
            "run_id",
            json!("123"),
            "workflow_job.run_id must be a whole number",
        ),
        (
            "run_attempt",
            json!(-1),
            "workflow_job.run_attempt must be a whole number",
        ),
        (
            "steps",
            json!({"a": 1}),
            "workflow_job.steps must be a list",
        ),
        (
            "name",
            json!(["x"]),
            "workflow_job.name must be a string, not a list",
        ),
    ] {
        let mut job = Job::new("org/repo", unique(), 1).queued();
        job["workflow_job"][field] = value;
        let answer = app.send(&job).await;
        assert_eq!(answer.status, 400, "{field}");
        assert!(answer.body.contains(named), "{field}: {}", answer.body);
        assert_eq!(answer.body.lines().count(), 1);
    }
    let mut job = Job::new("org/repo", unique(), 1).queued();
    job["repository"] = json!("org/repo");
    let answer = app.send(&job).await;
    assert_eq!(answer.status, 400);
    assert!(
        answer
            .body
            .contains("repository must be an object, not a string"),
        "{}",
        answer.body
    );
}

#[actix_web::test]
async fn head_root_answers_like_get_root_without_a_body() {
    let app = spawn_app(&[]).await;
    let client = awc::Client::default();
    let mut get = client.get(&app.address).send().await.expect("answers");
    let get_body = get.body().await.expect("body");
    let mut head = client.head(&app.address).send().await.expect("answers");
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(head.status(), get.status());
    for name in ["content-type", "content-length"] {
        assert_eq!(head.headers().get(name), get.headers().get(name), "{name}");
    }
    assert_eq!(
        head.headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()),
        Some(get_body.len().to_string().as_str())
    );
    assert!(head.body().await.expect("no body").is_empty());
}
