//! Learning from what re-runs did, end to end (issue 19): people's re-runs of a
//! failure no family knows, answered 204 because the rule's attempts are used, still
//! teach; once three of them passed, the service re-runs that failure itself and says
//! why; `/api/signatures` shows the counts and what the policy would do now.

use serde_json::{Value, json};

use wiremock::MockServer;

use crate::cli::{binary_that_could_serve, run_to_end};
use crate::evidence_policy::{REPO, STATUS_TOKEN, rerun_entry, serves_evidence, start, start_with};
use crate::helpers::{Job, TestApp, eventually, get_page, github_expects_rerun, unique};
use crate::postgres::fresh_database;

/// Only transient families, learning after 3 re-runs, one automatic attempt: every
/// person's re-run is beyond the rule's attempts.
const POLICY: &str = "[defaults]\nattempts = 2\nonly_when = ['@transient']\nlearn_after = 3\n";

/// A log whose decisive line no family knows; its numbers differ from run to run.
fn unknown_failure(n: u64) -> String {
    format!(
        "2026-12-01T10:00:00.0000000Z ##[group]Run ./ci/check\n\
         2026-12-01T10:00:01.0000000Z ##[error]frobnicator {n} wobbled after {n}ms on shard {}\n\
         2026-12-01T10:00:02.0000000Z ##[error]Process completed with exit code 1.\n",
        n % 7
    )
}

/// The `/api/signatures` rows.
async fn signatures(address: &str) -> Vec<Value> {
    let page = get_page(address, "/api/signatures", Some(STATUS_TOKEN)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    serde_json::from_str::<Value>(&page.body)
        .ok()
        .and_then(|rows| rows.as_array().cloned())
        .unwrap_or_default()
}

/// `(verdict, outcome)` of every decision kept, oldest first.
fn decision_column_of_every_run(db: &std::path::Path) -> Vec<(String, Option<String>)> {
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return Vec::new();
    };
    let Ok(mut stmt) = conn.prepare("SELECT verdict, outcome FROM decisions ORDER BY decided_at")
    else {
        return Vec::new();
    };
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

fn decision_column<T: rusqlite::types::FromSql>(
    db: &std::path::Path,
    run: u64,
    column: &str,
) -> Option<T> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    conn.query_row(
        &format!("SELECT {column} FROM decisions WHERE repo = ?1 AND run_id = ?2 AND attempt = 1"),
        rusqlite::params![REPO, run as i64],
        |row| row.get(0),
    )
    .ok()
}

/// Three runs fail with the unknown failure, are skipped, and a person re-runs each:
/// the re-run passes.
async fn three_peoples_re_runs_pass(app: &TestApp, blob: &MockServer) {
    for n in 1..=3u64 {
        let run = unique();
        let (first, second) = (100 + n, 200 + n);
        serves_evidence(app, blob, first, json!([]), &unknown_failure(n * 1000 + n)).await;
        let job = Job::new(REPO, run, first).name("check");
        assert_eq!(app.send(&job.queued()).await.status, 202);
        assert_eq!(app.send(&job.completed("failure")).await.status, 201);
        let entry = rerun_entry(app, run).await;
        assert_eq!(entry["reason"], "no_transient_match", "{entry}");
        // A person clicks "Re-run failed jobs": attempt 2, at the rule's attempts.
        let rerun = Job::new(REPO, run, second).name("check").attempt(2);
        let queued = app.send(&rerun.queued()).await;
        assert_eq!(queued.status, 204, "{}", queued.body);
        let passed = app.send(&rerun.completed("success")).await;
        assert_eq!(passed.status, 204, "{}", passed.body);
        assert!(
            app.rerun_posts(REPO, run).await.is_empty(),
            "never re-run by the service"
        );
        eventually(&format!("run {run}'s re-run is counted"), || async {
            let rows = signatures(&app.address).await;
            (rows.first()?["reruns"] == json!(n)).then_some(())
        })
        .await;
    }
}

#[actix_web::test]
async fn peoples_re_runs_beyond_the_rules_attempts_teach_and_a_learned_failure_is_re_run() {
    let (app, blob) = start(POLICY).await;
    three_peoples_re_runs_pass(&app, &blob).await;
    let skipped = decision_column_of_every_run(&app.db_path);
    assert_eq!(
        skipped,
        vec![("skip".to_owned(), Some("passed".to_owned())); 3],
        "each skip learned how the person's re-run ended"
    );
    let rows = signatures(&app.address).await;
    assert_eq!(
        rows.len(),
        1,
        "one signature for the three failures: {rows:?}"
    );
    let row = &rows[0];
    assert_eq!(row["repo"], REPO);
    assert_eq!(
        (&row["seen"], &row["reruns"], &row["passed"], &row["people"]),
        (&json!(3), &json!(3), &json!(3), &json!(3)),
        "{row}"
    );
    assert_eq!(row["class"], Value::Null, "no family knows it");
    assert_eq!(row["verdict_now"], "re-run: learned: 3 of 3 re-runs passed");
    assert!(
        row["example"]
            .as_str()
            .is_some_and(|line| line.starts_with("frobnicator 3003 wobbled")),
        "{row}"
    );

    // The same failure once more, with other numbers: re-run, and the record says why.
    let run = the_same_failure_once_more(&app, &blob).await;
    app.outcome_becomes(REPO, run, 1, "started").await;
    assert_eq!(
        app.rerun_posts(REPO, run).await.len(),
        1,
        "exactly one POST"
    );
    assert_eq!(
        decision_column::<String>(&app.db_path, run, "pattern").as_deref(),
        Some("learned")
    );
    // The decision says what its evidence cost: the annotations and the log's
    // location (two API calls), and the log's bytes.
    let cost = (
        decision_column::<i64>(&app.db_path, run, "api_calls"),
        decision_column::<i64>(&app.db_path, run, "log_bytes"),
    );
    assert_eq!(cost, (Some(2), Some(unknown_failure(98_765).len() as i64)));
    assert!(
        decision_column::<String>(&app.db_path, run, "evidence")
            .is_some_and(|line| line
                .starts_with("learned: 3 of 3 re-runs passed: frobnicator 98765 wobbled")),
    );
    let page = get_page(&app.address, "/status", Some(STATUS_TOKEN)).await;
    assert!(
        page.body.contains("Failures and what re-runs did"),
        "{}",
        page.body
    );
    assert!(page.body.contains("re-run: learned: 3 of 3 re-runs passed"));
}

/// A fourth run fails with the same failure, other numbers; its id.
async fn the_same_failure_once_more(app: &TestApp, blob: &MockServer) -> u64 {
    let run = unique();
    github_expects_rerun(&app.github, REPO, run).await;
    serves_evidence(app, blob, 400, json!([]), &unknown_failure(98_765)).await;
    let job = Job::new(REPO, run, 400).name("check");
    assert_eq!(app.send(&job.queued()).await.status, 202);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    run
}

/// `job-rerunner what-if --rules <policy> --since 1d` on the service's database.
fn what_if(app: &TestApp, policy: &str) -> String {
    let dir = tempfile::tempdir().expect("a directory");
    let rules = dir.path().join("try.toml");
    std::fs::write(&rules, policy).expect("written");
    let mut command = binary_that_could_serve(&app.db_path);
    command
        .args(["what-if", "--rules"])
        .arg(&rules)
        .args(["--since", "1d"]);
    let output = run_to_end(command);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

#[actix_web::test]
async fn what_if_replays_the_stored_decisions_under_another_policy_and_says_what_would_have_helped()
{
    let (app, blob) = start(POLICY).await;
    three_peoples_re_runs_pass(&app, &blob).await;
    // A policy that names the failure itself: the three skips become re-runs, and the
    // people's re-runs say all three would have helped.
    let report = what_if(
        &app,
        "[defaults]\nattempts = 2\nonly_when = ['(?i)frobnicator']\n",
    );
    assert!(
        report.contains("3 decisions of the last 1day replayed"),
        "{report}"
    );
    assert!(
        report.contains("changed:  3 (3 skips would be re-run, 0 re-runs would be skipped)"),
        "{report}"
    );
    assert!(
        report.contains("3 passed after a re-run and 0 failed again"),
        "{report}"
    );
    assert!(
        report
            .contains("skip (no_transient_match) -> rerun (only_when[0]); after a re-run: passed"),
        "{report}"
    );
    assert!(
        report.contains("  evidence: frobnicator 3003 wobbled"),
        "{report}"
    );
    // The policy in force decides alike: nothing changes.
    let same = what_if(&app, POLICY);
    assert!(same.contains("changed:  0 (0 skips"), "{same}");
    // A policy that is not valid is one line and exit code 2.
    let dir = tempfile::tempdir().expect("a directory");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[defaults]\nattempts = 0\n").expect("written");
    let mut command = binary_that_could_serve(&app.db_path);
    command.args(["what-if", "--rules"]).arg(&bad);
    let output = run_to_end(command);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("job-rerunner what-if: the policy: "),
        "{stderr}"
    );
}

#[actix_web::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL, with --include-ignored"]
async fn on_postgresql_peoples_re_runs_teach_a_learned_failure_is_re_run_and_what_if_replays() {
    let database =
        fresh_database("on_postgresql_peoples_re_runs_teach_a_learned_failure_is_re_run").await;
    let (app, blob) = start_with(POLICY, &[("DATABASE_URL", database.url.as_str())]).await;
    three_peoples_re_runs_pass(&app, &blob).await;
    let run = the_same_failure_once_more(&app, &blob).await;
    eventually("the learned re-run is POSTed", || async {
        (app.rerun_posts(REPO, run).await.len() == 1).then_some(())
    })
    .await;
    let rows = signatures(&app.address).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (
            &rows[0]["seen"],
            &rows[0]["reruns"],
            &rows[0]["passed"],
            &rows[0]["people"]
        ),
        (&json!(4), &json!(3), &json!(3), &json!(3)),
        "{rows:?}"
    );
    let dir = tempfile::tempdir().expect("a directory");
    let rules = dir.path().join("try.toml");
    std::fs::write(
        &rules,
        "[defaults]\nattempts = 2\nonly_when = ['@network']\n",
    )
    .expect("written");
    let mut command = binary_that_could_serve(&app.db_path);
    command
        .env("DATABASE_URL", &database.url)
        .args(["what-if", "--rules"])
        .arg(&rules);
    let output = run_to_end(command);
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        report.contains("changed:  1 (0 skips would be re-run, 1 re-runs would be skipped)"),
        "{report}"
    );
    assert!(
        report.contains("rerun -> skip (no_transient_match)"),
        "{report}"
    );
    database.drop_now().await;
}
