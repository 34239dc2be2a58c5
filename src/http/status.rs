//! The status page (`GET /status`, server-rendered HTML, no JavaScript) and the same data
//! as JSON under `/api/…`. Both need `STATUS_TOKEN`: repository names can be private.

use std::fmt::Write as _;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::AppState;
use super::auth::refusal;
use super::status_effects::{self, Effects};
use super::status_html::{HEAD, Table, age, cell, chart, count, escape, figures, list, text};
use super::status_signatures::{self, SIGNATURE_ROWS, SignatureView};
use crate::clock::now_ms;
use crate::ids::RunKey;
use crate::run::{RerunOutcome, RerunRecord, RerunState, RunState};
use crate::store::{FlakyJob, RerunHelp, StoreError, SweepRecord};

/// Runs, re-runs and flaky jobs shown at most.
const ROWS: u32 = 200;
const HOUR_MS: u64 = 3_600_000;
/// The window of the "do re-runs help?" table and of the skip reasons.
const DAY_MS: u64 = 24 * HOUR_MS;

/// A run being tracked.
#[derive(Serialize)]
pub struct TrackedRun {
    repo: String,
    run_id: u64,
    url: String,
    workflow: String,
    branch: String,
    attempt: u32,
    unfinished_jobs: Vec<String>,
    failed_jobs: Vec<String>,
    rerun: &'static str,
    age_seconds: u64,
}

/// An answered re-run.
#[derive(Serialize)]
pub struct AnsweredRerun {
    repo: String,
    run_id: u64,
    url: String,
    workflow: String,
    branch: String,
    attempt: u32,
    outcome: &'static str,
    failed_jobs: Vec<String>,
    finished_at: u64,
    /// A skipped attempt: the policy's reason (`not_started`, …, `shadow`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    /// The job the skip is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    job: Option<String>,
    /// The line the skip rests on.
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<String>,
}

/// Everything the page shows.
#[derive(Serialize)]
pub struct Status {
    now: u64,
    /// Every run the store holds, settled ones included until purged: the figure of
    /// `job_rerunner_runs_tracked`.
    runs_tracked: u64,
    /// The unfinished ones among the most recent runs (at most [`ROWS`]).
    runs: Vec<TrackedRun>,
    reruns: Vec<AnsweredRerun>,
    /// Re-runs started per hour over the last day, oldest hour first.
    reruns_per_hour: Vec<u32>,
    flaky_jobs: Vec<FlakyJob>,
    /// Per job, automatic re-runs of the last 24 h: passed after it, failed again.
    help: Vec<HelpRow>,
    /// Why attempts were not re-run (skip and shadow decisions), last 24 h.
    skip_reasons: Vec<SkipReason>,
    /// The redelivery sweep's last run and what it asked for; `None` when it is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    redeliveries: Option<SweepRecord>,
    /// Failure signatures, last seen first: what learning knows.
    signatures: Vec<SignatureView>,
    /// What automatic re-runs cost and saved; `None` without the learning tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    effects: Option<Effects>,
}

/// A row of "do re-runs help?": a job's automatic re-runs of the last 24 h.
#[derive(Serialize)]
pub struct HelpRow {
    #[serde(flatten)]
    counts: RerunHelp,
    /// `passed / reruns`, in percent, rounded.
    helped_percent: u64,
}

/// A reason attempts were not re-run, counted.
#[derive(Serialize)]
pub struct SkipReason {
    reason: String,
    count: u64,
}

/// The web address of GitHub for an API base (github.com, or an Enterprise Server),
/// without any user name, password or query the API base was given with: it is shown.
fn web_base(api_url: &str) -> String {
    let api_url = crate::redact::url(api_url);
    if api_url == "https://api.github.com" {
        "https://github.com".to_owned()
    } else {
        api_url.trim_end_matches("/api/v3").to_owned()
    }
}

fn rerun_label(state: &RunState) -> &'static str {
    match &state.rerun {
        RerunState::Idle => "",
        RerunState::Scheduled { .. } => "scheduled",
        RerunState::InFlight { .. } => "in flight",
        RerunState::Done { outcome } => outcome.label(),
    }
}

async fn gather(app: &AppState) -> Result<Status, StoreError> {
    let now = now_ms();
    let web = web_base(&app.settings.api_url);
    let url = |key: &RunKey| format!("{web}/{}/actions/runs/{}", key.repo, key.run_id);
    let runs = app
        .store
        .recent_runs(ROWS)
        .await?
        .into_iter()
        .filter(|(_, state)| !state.is_settled())
        .map(|(key, state)| TrackedRun {
            repo: key.repo.to_string(),
            run_id: key.run_id.0,
            url: url(&key),
            workflow: state.workflow.to_string(),
            branch: state.branch.to_string(),
            attempt: state.attempt,
            unfinished_jobs: state
                .jobs
                .iter()
                .filter(|j| j.conclusion.is_none())
                .map(|j| j.name.to_string())
                .collect(),
            failed_jobs: state.failed_job_names(),
            rerun: rerun_label(&state),
            age_seconds: now.saturating_sub(state.first_seen_at) / 1000,
        })
        .collect();
    let runs_tracked = app.store.count_runs().await?;
    let records = app.store.recent_reruns(ROWS * 5).await?;
    let mut reruns_per_hour = vec![0u32; 24];
    for (_, record) in &records {
        let hours_ago = now.saturating_sub(record.finished_at) / HOUR_MS;
        if hours_ago < 24 && record.outcome.label() == "started" {
            reruns_per_hour[23 - hours_ago as usize] += 1;
        }
    }
    let reruns = records
        .into_iter()
        .take(ROWS as usize)
        .map(|(key, record): (RunKey, RerunRecord)| AnsweredRerun {
            reason: match &record.outcome {
                RerunOutcome::Skipped { reason, .. } => Some(reason.as_str()),
                _ => None,
            },
            job: match &record.outcome {
                RerunOutcome::Skipped { job, .. } => job.as_ref().map(|j| j.name.to_string()),
                _ => None,
            },
            evidence: match &record.outcome {
                RerunOutcome::Skipped { evidence, .. } => evidence.clone(),
                _ => None,
            },
            repo: key.repo.to_string(),
            run_id: key.run_id.0,
            url: url(&key),
            workflow: record.workflow,
            branch: record.branch,
            attempt: record.attempt,
            outcome: record.outcome.label(),
            failed_jobs: record.failed_jobs,
            finished_at: record.finished_at,
        })
        .collect();
    let flaky_jobs = app.store.flaky_jobs(ROWS).await?;
    let since = now.saturating_sub(DAY_MS);
    let help = app
        .store
        .rerun_help(since, ROWS)
        .await?
        .into_iter()
        .map(|counts| HelpRow {
            helped_percent: (counts.passed * 100 + counts.reruns / 2) / counts.reruns.max(1),
            counts,
        })
        .collect();
    let skip_reasons = app
        .store
        .skip_reasons(since)
        .await?
        .into_iter()
        .map(|(reason, count)| SkipReason { reason, count })
        .collect();
    let sweeping = app.settings.sweeping;
    let redeliveries = match app.store.recovery().filter(|_| sweeping) {
        Some(recovery) => Some(recovery.sweep_record().await?),
        None => None,
    };
    let (signatures, effects) = match app.store.learning() {
        Some(learning) => (
            learning.signatures(SIGNATURE_ROWS).await?,
            Some(Effects {
                day: learning.effects(since).await?,
                month: learning.effects(now.saturating_sub(30 * DAY_MS)).await?,
            }),
        ),
        None => (Vec::new(), None),
    };
    let signatures = status_signatures::views(signatures, &app.policy);
    Ok(Status {
        signatures,
        effects,
        now,
        runs_tracked,
        runs,
        reruns,
        reruns_per_hour,
        flaky_jobs,
        help,
        skip_reasons,
        redeliveries,
    })
}

fn unavailable(err: &StoreError) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .content_type("text/plain; charset=utf-8")
        .body(format!("{err}\n"))
}

/// `GET /api/status`: everything the page shows, as JSON.
pub async fn api_status(request: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    if let Some(refused) = refusal(&request, &app) {
        return refused;
    }
    match gather(&app).await {
        Ok(status) => HttpResponse::Ok().json(status),
        Err(err) => unavailable(&err),
    }
}

/// `GET /api/{part}`: one part of it (`runs`, `reruns`, `flaky`, `help`, `skips`, `signatures`, `effects`).
pub async fn api_part(
    request: HttpRequest,
    part: web::Path<String>,
    app: web::Data<AppState>,
) -> HttpResponse {
    if let Some(refused) = refusal(&request, &app) {
        return refused;
    }
    // The policy needs no store.
    if part.as_str() == "policy" {
        return HttpResponse::Ok().json(app.policy.current().effective());
    }
    let status = match gather(&app).await {
        Ok(status) => status,
        Err(err) => return unavailable(&err),
    };
    match part.as_str() {
        "runs" => HttpResponse::Ok().json(status.runs),
        "reruns" => HttpResponse::Ok().json(status.reruns),
        "flaky" => HttpResponse::Ok().json(status.flaky_jobs),
        "help" => HttpResponse::Ok().json(status.help),
        "skips" => HttpResponse::Ok().json(status.skip_reasons),
        "signatures" => HttpResponse::Ok().json(status.signatures),
        "effects" => HttpResponse::Ok().json(status.effects),
        _ => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such part: try /api/status, /api/runs, /api/reruns, /api/flaky, /api/help, /api/skips, /api/signatures, /api/effects or /api/policy\n"),
    }
}

/// `GET /status`: the page.
pub async fn page(request: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    if let Some(refused) = refusal(&request, &app) {
        return refused;
    }
    match gather(&app).await {
        Ok(status) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(render(&status)),
        Err(err) => unavailable(&err),
    }
}

/// The redelivery sweep in one paragraph: its last run and what it asked for.
fn redeliveries_line(sweep: &SweepRecord, now: u64) -> String {
    let last = match (sweep.last_sweep_at, &sweep.last_outcome) {
        (Some(at), Some(outcome)) => format!(
            "last sweep {} ago ({}), {} asked for then",
            age(now.saturating_sub(at) / 1000),
            escape(outcome),
            sweep.last_asked
        ),
        _ => "no sweep yet".to_owned(),
    };
    format!(
        "<h2>Missed deliveries</h2><p>{last}; {} redeliveries asked for in the last 3 days.</p>",
        sweep.asked_in_window
    )
}

fn render(status: &Status) -> String {
    let mut html = String::from(HEAD);
    let started_today: u32 = status.reruns_per_hour.iter().sum();
    let not_rerun_today: u64 = status.skip_reasons.iter().map(|skip| skip.count).sum();
    // The same words as the metrics: `runs_tracked` is every run the store holds.
    let _ = write!(
        html,
        r#"<p class="muted">{} tracked ({} unfinished) · {} in the last 24 h · {} in the last 24 h · {}</p>"#,
        count(status.runs_tracked, "run", "runs"),
        status.runs.len(),
        count(
            u64::from(started_today),
            "re-run started",
            "re-runs started"
        ),
        count(not_rerun_today, "attempt not re-run", "attempts not re-run"),
        count(status.flaky_jobs.len() as u64, "flaky job", "flaky jobs"),
    );
    html.push_str("<h2>Re-runs per hour, last 24 hours</h2>");
    html.push_str(&chart(&status.reruns_per_hour));
    if let Some(effects) = &status.effects {
        status_effects::render(&mut html, effects);
    }

    html.push_str("<h2>Flaky jobs</h2><p class=\"muted\">Jobs that failed, were re-run automatically and then passed.</p>");
    if status.flaky_jobs.is_empty() {
        html.push_str("<p>None so far.</p>");
    } else {
        let columns = [
            text("repository"),
            text("workflow"),
            text("job"),
            figures("times"),
        ];
        let mut table = Table::start(&mut html, &columns);
        for flaky in &status.flaky_jobs {
            table.row(&[
                cell(escape(&flaky.repo)),
                cell(escape(&flaky.workflow)),
                cell(escape(&flaky.job)),
                cell(flaky.times.to_string()),
            ]);
        }
        table.end();
    }

    html.push_str("<h2>Do re-runs help? (last 24 h)</h2><p class=\"muted\">Automatic re-runs that completed in the last 24 hours: passed after the re-run (flaky) or failed again (broken).</p>");
    if status.help.is_empty() {
        html.push_str("<p>None in the last 24 hours.</p>");
    } else {
        let columns = [
            text("repository"),
            text("workflow"),
            text("job"),
            figures("re-runs"),
            figures("passed"),
            figures("failed again"),
            figures("helped"),
        ];
        let mut table = Table::start(&mut html, &columns);
        for row in &status.help {
            table.row(&[
                cell(escape(&row.counts.repo)),
                cell(escape(&row.counts.workflow)),
                cell(escape(&row.counts.job)),
                cell(row.counts.reruns.to_string()),
                cell(row.counts.passed.to_string()),
                cell(row.counts.failed_again.to_string()),
                cell(format!("{} %", row.helped_percent)),
            ]);
        }
        table.end();
    }

    html.push_str("<h2>Why not re-run (last 24 h)</h2>");
    if status.skip_reasons.is_empty() {
        html.push_str("<p>No attempt skipped in the last 24 hours.</p>");
    } else {
        let columns = [text("reason"), figures("attempts")];
        let mut table = Table::start(&mut html, &columns);
        for skip in &status.skip_reasons {
            table.row(&[cell(escape(&skip.reason)), cell(skip.count.to_string())]);
        }
        table.end();
    }

    status_signatures::render(&mut html, &status.signatures);

    if let Some(sweep) = &status.redeliveries {
        html.push_str(&redeliveries_line(sweep, status.now));
    }

    html.push_str("<h2>Unfinished runs</h2><p class=\"muted\">Runs with a job still to finish or a re-run still to answer, newest first.</p>");
    if status.runs.is_empty() {
        html.push_str("<p>None.</p>");
    } else {
        let columns = [
            text("repository"),
            text("run"),
            figures("attempt"),
            text("unfinished jobs"),
            text("failed jobs"),
            text("re-run"),
            text("age"),
        ];
        let mut table = Table::start(&mut html, &columns);
        for run in &status.runs {
            table.row(&[
                cell(escape(&run.repo)),
                cell(format!(
                    r#"<a href="{}">{}</a> <span class="muted">{} · {}</span>"#,
                    escape(&run.url),
                    run.run_id,
                    escape(&run.workflow),
                    escape(&run.branch)
                )),
                cell(run.attempt.to_string()),
                cell(list(&run.unfinished_jobs)),
                cell(list(&run.failed_jobs)),
                cell(run.rerun.to_owned()),
                cell(age(run.age_seconds)),
            ]);
        }
        table.end();
    }

    html.push_str("<h2>Recent decisions</h2><p class=\"muted\">Each attempt's last word: a re-run GitHub started, or why there was none.</p>");
    if status.reruns.is_empty() {
        html.push_str("<p>None yet.</p>");
    } else {
        let columns = [
            text("repository"),
            text("run"),
            figures("attempt"),
            text("outcome"),
            text("failed jobs"),
            text("why not"),
            text("when"),
        ];
        let mut table = Table::start(&mut html, &columns);
        for rerun in &status.reruns {
            let why = match rerun.reason {
                Some(reason) => format!(
                    "{reason}{}{}",
                    rerun
                        .job
                        .as_deref()
                        .map(|job| format!(" · {}", escape(job)))
                        .unwrap_or_default(),
                    rerun
                        .evidence
                        .as_deref()
                        .map(|line| format!(r#" <span class="muted">{}</span>"#, escape(line)))
                        .unwrap_or_default()
                ),
                None => String::new(),
            };
            table.row(&[
                cell(escape(&rerun.repo)),
                cell(format!(
                    r#"<a href="{}">{}</a> <span class="muted">{}</span>"#,
                    escape(&rerun.url),
                    rerun.run_id,
                    escape(&rerun.workflow)
                )),
                cell(rerun.attempt.to_string()),
                (rerun.outcome, rerun.outcome.to_owned()),
                cell(list(&rerun.failed_jobs)),
                cell(why),
                cell(format!(
                    "{} ago",
                    age(status.now.saturating_sub(rerun.finished_at) / 1000)
                )),
            ]);
        }
        table.end();
    }
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enterprise_server_runs_link_to_its_web_address() {
        assert_eq!(web_base("https://api.github.com"), "https://github.com");
        assert_eq!(
            web_base("https://ghe.example.com/api/v3"),
            "https://ghe.example.com"
        );
    }

    #[test]
    fn run_links_carry_no_credentials_of_the_api_url() {
        assert_eq!(
            web_base("https://robot:hunter2@ghe.example.com/api/v3?access_token=t"),
            "https://ghe.example.com"
        );
    }
}
