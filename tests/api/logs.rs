//! The real binary's log lines, read back: `LOG_FORMAT=term` lines list their fields in
//! the documented order and hold no Rust debug text, JSON lines carry numbers as
//! numbers; across a run that goes through a full re-run, a policy skip, 204s, a ping,
//! a dry run and a SIGTERM.

use regex::Regex;
use serde_json::{Value, json};
use wiremock::MockServer;

use crate::helpers::{Job, TestApp, github_expects_rerun, unique};
use crate::process::Service;
use job_rerunner::logging::term::{LEADING, TRAILING};

/// Every kind of line a day of service writes, from two services (one with
/// `DRY_RUN=true`), each stopped with SIGTERM; their output, one line each.
/// Returns the runs (re-run, skipped, ignored, dry run) and the logs.
async fn a_day_of_logs(format: &str) -> (Runs, String) {
    let runs = Runs {
        rerun: unique(),
        skipped: unique(),
        ignored: unique(),
        dry: unique(),
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let github = MockServer::start().await;
    github_expects_rerun(&github, "org/repo", runs.rerun).await;
    let db = dir.path().join("db.sqlite");
    let service = Service::start(
        &github,
        &db,
        &[
            ("LOG_FORMAT", format),
            ("NO_RETRY_LIST", "bot"),
            ("RULES", "[defaults]\nskip_jobs = [\"deploy*\"]\n"),
        ],
    );
    let app = TestApp::for_process(service.port, github, db.clone());
    let rerun = Job::new("org/repo", runs.rerun, 1);
    app.send(&rerun.queued()).await;
    assert_eq!(app.send(&rerun.completed("failure")).await.status, 201);
    app.outcome_becomes("org/repo", runs.rerun, 1, "started")
        .await;
    let skipped = Job::new("org/repo", runs.skipped, 1).name("deploy-prod");
    app.send(&skipped.queued()).await;
    assert_eq!(app.send(&skipped.completed("failure")).await.status, 200);
    let ignored = Job::new("org/repo", runs.ignored, 1).sender("bot");
    assert_eq!(app.send(&ignored.queued()).await.status, 204);
    let push = json!({"ref": "refs/heads/main", "repository": {"full_name": "org/repo"},
        "sender": {"login": "someone"}});
    assert_eq!(app.send_as(&push, "push", "d-push").await.status, 204);
    assert_eq!(
        app.send_as(&json!({"zen": "ok"}), "ping", "d-ping")
            .await
            .status,
        200
    );
    let (status, mut logs) = service.terminate();
    assert!(status.success(), "{status:?}\n{logs}");

    let dry_github = MockServer::start().await;
    github_expects_rerun(&dry_github, "org/repo", runs.dry).await;
    let dry_db = dir.path().join("dry.sqlite");
    let dry = Service::start(
        &dry_github,
        &dry_db,
        &[("LOG_FORMAT", format), ("DRY_RUN", "true")],
    );
    let app = TestApp::for_process(dry.port, dry_github, dry_db);
    let job = Job::new("org/repo", runs.dry, 1);
    app.send(&job.queued()).await;
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    app.outcome_becomes("org/repo", runs.dry, 1, "dry_run")
        .await;
    let (status, dry_logs) = dry.terminate();
    assert!(status.success(), "{status:?}\n{dry_logs}");
    logs.push_str(&dry_logs);
    (runs, logs)
}

struct Runs {
    rerun: u64,
    skipped: u64,
    ignored: u64,
    dry: u64,
}

/// A term line's message and its fields, in order.
fn term_fields(line: &str) -> (String, Vec<(String, String)>) {
    let field = Regex::new(r#" ([a-z_]+)=("(?:[^"\\]|\\.)*"|\S*)"#).expect("regex");
    let head =
        Regex::new(r"^\w{3} \d{2} \d{2}:\d{2}:\d{2}\.\d{3} (TRCE|DEBG|INFO|WARN|ERRO|CRIT) ")
            .expect("regex");
    let start = head
        .find(line)
        .unwrap_or_else(|| panic!("not a term line: {line}"))
        .end();
    let first = field
        .find_at(line, start - 1)
        .map_or(line.len(), |m| m.start());
    let message = line[start..first.max(start)].to_owned();
    let fields = field
        .captures_iter(&line[first.max(start - 1)..])
        .map(|c| (c[1].to_owned(), c[2].trim_matches('"').to_owned()))
        .collect();
    (message, fields)
}

/// Rust debug output in a value: `Only(["master"])`, `Some(3)`, `Refused { status`,
/// `["a"]`, a bare variant name (`Started`, `DryRun`).
fn debug_text_in(key: &str, value: &str) -> bool {
    let shapes = Regex::new(r#"\b[A-Z][A-Za-z]*\(|\b[A-Z][A-Za-z]* \{|\["|\bSome\b|\bNone\b"#)
        .expect("regex");
    let variant = Regex::new(r"^[A-Z][a-z]+(?:[A-Z][a-z]+)*$").expect("regex");
    // `message` names an actix message type (`Track`, `RerunRequest`) on debug lines.
    shapes.is_match(value) || (key != "message" && variant.is_match(value))
}

#[actix_web::test]
async fn term_lines_put_their_fields_in_the_documented_order_and_hold_no_debug_text() {
    let (runs, logs) = a_day_of_logs("term").await;
    let mut seen = 0;
    for line in logs.lines().filter(|line| !line.trim().is_empty()) {
        let (message, fields) = term_fields(line);
        assert!(!message.is_empty(), "no message: {line}");
        assert!(!debug_text_in("msg", &message), "debug text: {line}");
        let keys: Vec<&str> = fields.iter().map(|(key, _)| key.as_str()).collect();
        let leading: Vec<usize> = keys
            .iter()
            .filter_map(|key| LEADING.iter().position(|k| k == key))
            .collect();
        assert!(leading.is_sorted(), "leading fields out of order: {line}");
        let last_leading = keys.iter().rposition(|key| LEADING.contains(key));
        let first_other = keys
            .iter()
            .position(|key| !LEADING.contains(key) && !TRAILING.contains(key));
        if let (Some(last), Some(other)) = (last_leading, first_other) {
            assert!(last < other, "a leading field after another: {line}");
        }
        let trailing_from = keys.iter().position(|key| TRAILING.contains(key));
        if let Some(from) = trailing_from {
            assert!(
                keys[from..].iter().all(|key| TRAILING.contains(key)),
                "context fields not last: {line}"
            );
        }
        assert_eq!(keys.last(), Some(&"service"), "{line}");
        for (key, value) in &fields {
            assert!(!debug_text_in(key, value), "debug text in {key}: {line}");
            assert!(
                !value.is_empty(),
                "{key} is printed empty, not left out: {line}"
            );
        }
        seen += 1;
    }
    assert!(seen > 20, "too few lines:\n{logs}");
    let line_with = |parts: &[&str]| {
        logs.lines()
            .find(|line| parts.iter().all(|part| line.contains(part)))
            .unwrap_or_else(|| panic!("no line with {parts:?}:\n{logs}"))
            .to_owned()
    };
    // The 204 says why, and for which repository, run and sender.
    let ignored = line_with(&[" webhook answered ", &format!("run_id={}", runs.ignored)]);
    assert!(
        ignored.contains(&format!(
            "event=workflow_job action=queued repo=org/repo run_id={} run_attempt=1 sender=bot decision=\"sender is in NO_RETRY_LIST\" status=204 latency_us=",
            runs.ignored
        )),
        "{ignored}"
    );
    let push = line_with(&["delivery=d-push"]);
    assert!(
        push.contains(
            "event=push repo=org/repo sender=someone decision=\"event is neither workflow_job nor workflow_run\" status=204"
        ),
        "{push}"
    );
    line_with(&[
        " INFO re-run decided ",
        &format!("run_id={}", runs.skipped),
        "decision=skip reason=job_skipped",
    ]);
    // A re-run decided at completion has no reason, job nor evidence: none is printed.
    let decided = line_with(&[" INFO re-run decided ", &format!("run_id={}", runs.rerun)]);
    assert!(decided.contains("decision=rerun"), "{decided}");
    for absent in ["reason=", "job=", "evidence="] {
        assert!(!decided.contains(absent), "{absent} in {decided}");
    }
    // Its due time is a time people read, to the millisecond, in UTC.
    let scheduled = line_with(&[" INFO re-run scheduled ", &format!("run_id={}", runs.rerun)]);
    let rfc_3339 =
        Regex::new(r" due_at=\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z ").expect("regex");
    assert!(rfc_3339.is_match(&scheduled), "{scheduled}");
    line_with(&[
        " INFO re-run answered ",
        &format!("run_id={}", runs.rerun),
        "outcome=started",
    ]);
    // A dry run is what the service was told to do: info, never a warning.
    let dry = line_with(&["re-run not performed", &format!("run_id={}", runs.dry)]);
    assert!(dry.contains(" INFO re-run not performed "), "{dry}");
    assert!(dry.contains("outcome=dry_run"), "{dry}");
    assert!(
        !logs
            .lines()
            .any(|line| line.contains(" WARN ") && line.contains("dry_run")),
        "{logs}"
    );
    let stopped = line_with(&[" INFO stopped cleanly"]);
    for field in [
        "trackers_awake=",
        "github_queue=",
        "reruns_scheduled=0",
        "reruns_in_flight=0",
    ] {
        assert!(stopped.contains(field), "{field}: {stopped}");
    }
}

/// Fields that are numbers wherever they appear.
const NUMBERS: &[&str] = &[
    "status",
    "run_id",
    "run_attempt",
    "job_id",
    "latency_us",
    "latency_ms",
    "mailbox",
    "queue",
    "github_queue",
    "trackers_awake",
    "runs_tracked",
    "tracker_messages_waiting",
    "pending_reruns",
    "oldest_pending_overdue_s",
    "port",
    "workers",
    "attempts",
    "purged_runs",
    "delay_ms",
    "due_at",
    "failed_jobs",
    "rules",
    "ratelimit_remaining",
    "reruns_scheduled",
    "reruns_in_flight",
    "jobs",
];

#[actix_web::test]
async fn json_lines_carry_numbers_as_json_numbers() {
    let (runs, logs) = a_day_of_logs("json").await;
    let entries: Vec<Value> = logs
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let mut numbers = 0;
    for entry in &entries {
        let fields = entry.as_object().expect("an object");
        for (key, value) in fields {
            if NUMBERS.contains(&key.as_str()) {
                assert!(
                    value.is_u64() || value.is_null(),
                    "{key} is not a number: {entry}"
                );
                numbers += 1;
            }
            if let Some(text) = value.as_str() {
                assert!(
                    text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()),
                    "{key} is a number written as a string: {entry}"
                );
            }
        }
    }
    assert!(numbers > 50, "too few numbers seen:\n{logs}");
    let ignored = entries
        .iter()
        .find(|entry| entry["status"] == 204 && entry["run_id"] == runs.ignored)
        .unwrap_or_else(|| panic!("no 204 line for the run:\n{logs}"));
    assert_eq!(ignored["repo"], "org/repo", "{ignored}");
    assert_eq!(ignored["sender"], "bot", "{ignored}");
    assert_eq!(ignored["run_attempt"], 1, "{ignored}");
    let stopped = entries
        .iter()
        .find(|entry| {
            entry["msg"]
                .as_str()
                .is_some_and(|msg| msg.starts_with("stopped cleanly"))
        })
        .unwrap_or_else(|| panic!("no shutdown line:\n{logs}"));
    assert!(
        stopped["trackers_awake"].is_u64() && stopped["github_queue"].is_u64(),
        "{stopped}"
    );
}
