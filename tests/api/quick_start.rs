//! The README's quick start as a reader follows it (issue 21): the real binary under
//! the policy it points at, the flaky workflow it shows failing on a `main` branch,
//! and the log lines it says will come: they must be the lines that come.

use std::path::Path;

use regex::Regex;
use serde_json::json;
use wiremock::MockServer;

use crate::evidence_policy::serves_evidence_in;
use crate::helpers::{Job, TestApp, github_expects_rerun, unique};
use crate::process::Service;

/// The repository the README's lines name.
const REPO: &str = "you/repo";

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    std::fs::read_to_string(path).expect("README.md")
}

/// The lines of the first plain fenced block after the README's sentence `after`.
fn shown_after(after: &str) -> Vec<String> {
    let readme = readme();
    let rest = readme
        .split_once(after)
        .unwrap_or_else(|| panic!("the README says {after:?}"))
        .1;
    let block = rest.split_once("```\n").expect("a block").1;
    let block = block.split_once("```").expect("the block ends").0;
    block.lines().map(str::to_owned).collect()
}

/// Whether `log` has a line holding the pieces of `shown` (cut at its `…`), in order.
fn shows(log: &str, shown: &str) -> bool {
    let pieces: Vec<&str> = shown
        .split('…')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    log.lines().any(|line| {
        let mut rest = line;
        pieces.iter().all(|piece| match rest.find(piece) {
            Some(at) => {
                rest = &rest[at + piece.len()..];
                true
            }
            None => false,
        })
    })
}

/// The README's flaky workflow's failing line: what its first attempt echoes.
fn failing_line() -> String {
    let readme = readme();
    let workflow = readme
        .split_once("```yaml\n")
        .expect("the README shows a workflow")
        .1;
    let echo = workflow
        .lines()
        .find_map(|line| line.trim().strip_prefix("echo \""))
        .expect("the workflow echoes its failure");
    echo.trim_end_matches('"').to_owned()
}

fn recommended_policy() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/policies/recommended.toml");
    std::fs::read_to_string(path).expect("the recommended policy")
}

#[actix_web::test]
async fn the_readmes_start_up_lines_are_the_ones_the_service_writes() {
    let github = MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // As the README runs it: from the repository root, RULES_FILE relative to it.
    let service = Service::start(
        &github,
        &dir.path().join("db.sqlite"),
        &[
            ("LOG_FORMAT", "term"),
            ("RULES_FILE", "docs/policies/recommended.toml"),
        ],
    );
    let log = service.kill();
    // The README's service listens on the default port; this one on a free one.
    let log = Regex::new(r"port=\d+")
        .expect("regex")
        .replace_all(&log, "port=5000");
    let shown = shown_after("says what decides when it is ready:");
    assert!(!shown.is_empty());
    for line in &shown {
        assert!(
            shows(&log, line),
            "the README shows\n{line}\nthe log has\n{log}"
        );
    }
}

#[actix_web::test]
async fn the_readmes_flaky_job_is_re_run_on_main_as_the_readme_shows() {
    let github = MockServer::start().await;
    let blob = MockServer::start().await;
    let run = unique();
    github_expects_rerun(&github, REPO, run).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db.sqlite");
    // The recommended policy as it is, but for its delay: the test does not wait 30 s.
    let policy = recommended_policy().replace("delay = \"30s\"", "delay = \"0s\"");
    assert_ne!(
        policy,
        recommended_policy(),
        "the delay is the recommended one's"
    );
    let service = Service::start(
        &github,
        &db,
        &[("LOG_FORMAT", "term"), ("RULES", policy.as_str())],
    );
    let app = TestApp::for_process(service.port, github, db);
    // The job's log as GitHub keeps it: the step's script, its output, the exit.
    let failing = failing_line();
    let log = format!(
        "2026-12-02T10:00:00.1000000Z ##[group]Run if [ \"$GITHUB_RUN_ATTEMPT\" = 1 ]; then\n\
         2026-12-02T10:00:00.1000000Z   echo \"{failing}\"\n\
         2026-12-02T10:00:00.1000000Z ##[endgroup]\n\
         2026-12-02T10:00:00.2000000Z {failing}\n\
         2026-12-02T10:00:00.3000000Z ##[error]Process completed with exit code 1.\n"
    );
    let exit =
        json!([{"annotation_level": "failure", "message": "Process completed with exit code 1."}]);
    serves_evidence_in(&app, &blob, REPO, 7, exit, &log).await;
    let job = Job::new(REPO, run, 7).name("flaky").branch("main");
    app.send(&job.queued()).await;
    let answer = app.send(&job.completed("failure")).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert!(answer.body.contains("re-run scheduled"), "{}", answer.body);
    app.outcome_becomes(REPO, run, 1, "started").await;
    let log = service.kill();
    let shown = shown_after("Its log says:");
    assert_eq!(shown.len(), 2, "{shown:?}");
    for line in &shown {
        assert!(
            shows(&log, line),
            "the README shows\n{line}\nthe log has\n{log}"
        );
    }
}
