//! `job-rerunner what-if --rules FILE [--since 30d]`: what another policy would have
//! done with the decisions of the last days, before anyone trusts it. It reads the
//! kept decisions from the service's own store (`DATABASE_URL`, as the service
//! would), decides each again under FILE (`policy::compare`) and prints how many
//! change, each changed one with its run, job and evidence, and, where the next
//! attempt's jobs said how the failure ended, how many of the changed re-runs would
//! have helped.
//!
//! Only what each decision kept is replayed (its jobs and each failed job's decisive
//! and matched lines, never the whole log): a regex of FILE that would have matched
//! some other line of a log finds nothing here, and the hourly budget and per-job
//! history are not replayed. The output says so.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::clock::now_ms;
use crate::policy::{self, DecisionFacts, KeptDecision, Report};
use crate::settings::Settings;
use crate::startup::open_store;
use crate::store::DecisionRow;

/// Most decisions replayed in one go.
const MAX_DECISIONS: u32 = 1_000_000;

/// Runs the command: prints the report, or one line naming the problem and exit 2.
pub fn run(settings: &Settings, rules: &Path, since: Duration) -> ExitCode {
    let policy = match policy::load(None, Some(rules), &settings.policy_defaults()) {
        Ok(policy) => policy,
        Err(err) => return fail(&format!("the policy: {err}")),
    };
    let from = now_ms().saturating_sub(since.as_millis().min(u128::from(u64::MAX)) as u64);
    let read = actix_web::rt::System::new().block_on(async {
        let store = open_store(&settings.database).await?;
        match store.learning() {
            Some(learning) => learning.decisions_since(from, MAX_DECISIONS).await,
            None => Ok(Vec::new()),
        }
    });
    let rows = match read {
        Ok(rows) => rows,
        Err(err) => return fail(&format!("the store: {err}")),
    };
    let kept: Vec<KeptDecision> = rows.into_iter().map(kept).collect();
    let report = policy::compare(&kept, &policy);
    let text = render(&report, rules, since);
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    ExitCode::SUCCESS
}

/// A stored row as the comparison reads it; facts that do not parse count as none.
fn kept(row: DecisionRow) -> KeptDecision {
    KeptDecision {
        facts: row
            .facts
            .as_deref()
            .and_then(|json| serde_json::from_str::<DecisionFacts>(json).ok()),
        repo: row.repo,
        run_id: row.run_id,
        attempt: row.attempt,
        verdict: row.verdict,
        reason: row.reason,
        outcome: row.outcome,
    }
}

/// The report as the command prints it.
pub fn render(report: &Report, rules: &Path, since: Duration) -> String {
    let mut out = format!(
        "what-if {}: {} decisions of the last {} replayed",
        rules.display(),
        report.replayed,
        humantime::format_duration(since)
    );
    if report.without_facts > 0 {
        out.push_str(&format!(
            " ({} older ones kept no facts and are left out)",
            report.without_facts
        ));
    }
    out.push('\n');
    let (new, dropped): (Vec<_>, Vec<_>) = report
        .changed
        .iter()
        .partition(|c| c.before.starts_with("skip"));
    out.push_str(&format!(
        "changed:  {} ({} skips would be re-run, {} re-runs would be skipped)\n",
        report.changed.len(),
        new.len(),
        dropped.len()
    ));
    out.push_str(&format!(
        "helped:   of the new re-runs whose outcome is known, {} passed after a re-run and {} failed again\n",
        report.new_reruns_that_helped, report.new_reruns_that_failed_again
    ));
    out.push_str(&format!(
        "saved:    of the dropped re-runs whose outcome is known, {} failed again (saved) and {} passed (a green run lost)\n",
        report.dropped_reruns_that_failed_again, report.dropped_reruns_that_helped
    ));
    for change in &report.changed {
        out.push_str(&format!(
            "\n{}#{} attempt {}{}: {} -> {}{}\n",
            change.repo,
            change.run_id,
            change.attempt,
            change
                .job
                .as_deref()
                .map(|job| format!(" job {job}"))
                .unwrap_or_default(),
            change.before,
            change.after,
            change
                .outcome
                .as_deref()
                .map(|o| format!("; after a re-run: {o}"))
                .unwrap_or_default()
        ));
        if let Some(evidence) = &change.evidence {
            out.push_str(&format!("  evidence: {evidence}\n"));
        }
    }
    out.push_str(
        "\nReplayed on what each decision kept (its jobs, decisive and matched lines), not \
         the whole log; the hourly budget and per-job history are not replayed.\n",
    );
    out
}

fn fail(problem: &str) -> ExitCode {
    let line = problem.lines().next().unwrap_or(problem);
    let _ = writeln!(std::io::stderr().lock(), "job-rerunner what-if: {line}");
    ExitCode::from(2)
}
