//! What a check run says about an automatic decision (`REPORT=check_run`): the body of
//! `POST /repos/{repo}/check-runs` on the run's commit, named `job-rerunner`, completed
//! and `neutral` (a decision is neither a pass nor a failure of the commit), its title
//! and summary saying what was decided and why. Pure: the texts come from the decision
//! and the run's state; the GitHub actor sends it once, fire-and-forget.
//!
//! Job names and evidence come from outside (a workflow file, a log). The title is
//! plain text to GitHub; the summary is markdown, so there each of them is quoted as
//! code ([`markdown::code`]): a link, an image, an `@mention` or a heading in them is
//! shown, never rendered. Both are masked ([`mask_secrets`]: the catalogue's token
//! shapes and the service's own secret values) before they are quoted: a mask after
//! quoting could take a closing backtick with the value it masks.

use serde_json::json;

use super::markdown;
use crate::ids::CommitSha;
use crate::policy::mask_secrets;

/// The check run's name, as it shows in the commit's checks.
pub const NAME: &str = "job-rerunner";

/// One decision to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The run's commit.
    pub head_sha: CommitSha,
    /// One line: what was decided.
    pub title: String,
    /// Why, and where to look.
    pub summary: String,
}

/// A re-run started: `re-run 1 of 3 started: job `test` failed`, and the line it was
/// decided on when the policy gave one (`…, The runner has lost communication …`).
pub fn started(
    head_sha: CommitSha,
    attempt: u32,
    reruns_allowed: u32,
    failed_jobs: &[String],
    evidence: Option<&str>,
) -> Report {
    let evidence = evidence.map(mask_secrets);
    let names = failed_jobs
        .iter()
        .map(|job| markdown::code(&mask_secrets(job)))
        .collect::<Vec<_>>()
        .join(", ");
    let jobs = match failed_jobs {
        [] => "a job failed".to_owned(),
        [_] => format!("job {names} failed"),
        _ => format!("jobs {names} failed"),
    };
    let started = format!("re-run {attempt} of {reruns_allowed} started: {jobs}");
    let (title, decided_on) = match evidence {
        Some(line) => (
            format!("{started}, {line}"),
            format!("\n\nDecided on: {}", markdown::code(&line)),
        ),
        None => (started.clone(), String::new()),
    };
    Report {
        head_sha,
        summary: format!(
            "{started}.{decided_on}\n\njob-rerunner re-ran the failed jobs of attempt {attempt}."
        ),
        title,
    }
}

/// A re-run the policy skipped; `line` is the run's skip line (`not re-run: job build:
/// … (never_when)`).
pub fn skipped(head_sha: CommitSha, line: &str) -> Report {
    let line = mask_secrets(line);
    Report {
        head_sha,
        summary: format!(
            "{}\n\njob-rerunner's policy decided not to re-run this run.",
            markdown::code(&line)
        ),
        title: line,
    }
}

/// The request body; with `public_url`, the summary links to its status page.
pub fn body(report: &Report, public_url: Option<&str>) -> String {
    let mut summary = report.summary.clone();
    if let Some(url) = public_url {
        summary.push_str(&format!("\n\n[job-rerunner's status page]({url}/status)"));
    }
    let mut body = json!({
        "name": NAME,
        "head_sha": report.head_sha.to_string(),
        "status": "completed",
        "conclusion": "neutral",
        "output": {"title": report.title, "summary": summary},
    });
    if let Some(url) = public_url {
        body["details_url"] = json!(format!("{url}/status"));
    }
    body.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: CommitSha = CommitSha([0xab; 20]);

    #[test]
    fn a_started_rerun_names_its_number_the_allowed_reruns_and_the_failed_jobs() {
        let report = started(SHA, 1, 3, &["test (5, 1)".to_owned()], None);
        assert_eq!(
            report.title,
            "re-run 1 of 3 started: job `test (5, 1)` failed"
        );
        let two = started(SHA, 2, 3, &["a".to_owned(), "b".to_owned()], None);
        assert_eq!(two.title, "re-run 2 of 3 started: jobs `a`, `b` failed");
    }

    #[test]
    fn a_started_rerun_decided_on_a_line_says_that_line() {
        let line = "The runner has lost communication with the server";
        let report = started(SHA, 1, 3, &["test (5, 1)".to_owned()], Some(line));
        assert_eq!(
            report.title,
            format!("re-run 1 of 3 started: job `test (5, 1)` failed, {line}")
        );
    }

    #[test]
    fn the_body_is_a_completed_neutral_check_run_on_the_commit_linking_the_status_page() {
        let report = skipped(SHA, "not re-run: job build: error[E0308] (never_when)");
        let body: serde_json::Value =
            serde_json::from_str(&body(&report, Some("https://rerun.example"))).expect("JSON");
        assert_eq!(body["name"], "job-rerunner");
        assert_eq!(body["head_sha"], "ab".repeat(20));
        assert_eq!(body["status"], "completed");
        assert_eq!(body["conclusion"], "neutral");
        assert_eq!(body["details_url"], "https://rerun.example/status");
        assert_eq!(body["output"]["title"], report.title);
        let summary = body["output"]["summary"].as_str().expect("summary");
        assert!(
            summary.contains("https://rerun.example/status"),
            "{summary}"
        );
        let plain: serde_json::Value =
            serde_json::from_str(&super::body(&report, None)).expect("JSON");
        assert!(plain.get("details_url").is_none());
    }
}
