//! Lists a run's jobs (`GET …/actions/runs/{id}/jobs?filter=latest`), for a run whose
//! `workflow_job` deliveries were lost: the claimant of its re-run decides on them as
//! if every job event had arrived. Paginated by `total_count` (100 a page, at most
//! [`MAX_JOB_PAGES`]); each job becomes the [`TrackedJob`] its completion would have
//! made (conclusion, whether it ran a step, its failed steps). A listed job that names
//! another run (`run_id`) is dropped: GitHub's answer is input, and a job of another
//! run must never decide this one's re-run.

use serde::Deserialize;
use slog::Logger;

use super::{Answer, GitHubClient, GitHubError};
use crate::github::error::Call;
use crate::ids::{JobId, RunKey};
use crate::run::{Conclusion, Name, TrackedJob};
use crate::secret::Secret;

/// Jobs asked for per page (GitHub's largest page).
pub const JOBS_PER_PAGE: usize = 100;
/// Pages read at most: GitHub caps a matrix at 256 jobs, so this reads every run.
pub const MAX_JOB_PAGES: u32 = 10;

/// One page of the listing, the fields read.
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    total_count: Option<u64>,
    jobs: Vec<ListedJob>,
}

#[derive(Deserialize)]
struct ListedJob {
    id: u64,
    #[serde(default)]
    run_id: Option<u64>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    run_attempt: Option<u32>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    steps: Option<Vec<ListedStep>>,
}

#[derive(Deserialize)]
struct ListedStep {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
}

/// What GitHub lists for one attempt of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobsListing {
    /// The attempt's jobs (those of older attempts that it kept included).
    pub jobs: Vec<TrackedJob>,
    /// The newest attempt a listed job belongs to, when it is newer than the one
    /// asked about: the run was re-run meanwhile.
    pub newer_attempt: Option<u32>,
}

impl ListedJob {
    fn into_tracked(self) -> TrackedJob {
        let conclusion = match self.status.as_deref() {
            Some("completed") | None => self.conclusion.as_deref().map(Conclusion::parse),
            Some(_) => None,
        };
        let failed_steps = self
            .steps
            .iter()
            .flatten()
            .filter(|step| step.conclusion.as_deref() == Some("failure"))
            .map(|step| Name::from(step.name.as_deref().unwrap_or_default()))
            .collect();
        TrackedJob {
            id: JobId(self.id),
            name: Name::from(self.name.as_deref().unwrap_or_default()),
            conclusion,
            // As in a completion: no steps at all says nothing; an empty list is a job
            // GitHub never started.
            ran_steps: self.steps.as_ref().is_none_or(|steps| !steps.is_empty()),
            failed_steps,
            ran_ms: None,
        }
    }
}

/// Reads one page of run `run_id`'s jobs into `listing`; says how many jobs the
/// listing has in all (when GitHub said) and how many this page had (another run's
/// jobs, dropped, included: they took their place on the page).
fn read_page(
    body: &[u8],
    run_id: u64,
    attempt: u32,
    listing: &mut JobsListing,
) -> Result<(Option<u64>, usize), String> {
    let page: Page =
        serde_json::from_slice(body).map_err(|err| format!("unreadable jobs page: {err}"))?;
    let count = page.jobs.len();
    for job in page.jobs {
        if job.run_id.is_some_and(|listed| listed != run_id) {
            continue;
        }
        match job.run_attempt {
            Some(newer) if newer > attempt => {
                listing.newer_attempt = Some(listing.newer_attempt.map_or(newer, |n| n.max(newer)));
            }
            _ => listing.jobs.push(job.into_tracked()),
        }
    }
    Ok((page.total_count, count))
}

impl GitHubClient {
    /// Lists the jobs of `run`'s latest attempt, every page, as [`TrackedJob`]s of
    /// `attempt`. An unreadable page is transient (the actor's tries bound it).
    pub async fn run_jobs(
        &self,
        auth: &Secret,
        run: &RunKey,
        attempt: u32,
        log: &Logger,
    ) -> Result<Answer<JobsListing>, GitHubError> {
        let path = format!("{}/jobs", Self::run_path(run));
        let mut listing = JobsListing::default();
        let mut quota_wait = None;
        let mut seen = 0u64;
        for page in 1..=MAX_JOB_PAGES {
            let url = format!(
                "{}{path}?filter=latest&per_page={JOBS_PER_PAGE}&page={page}",
                self.api_url
            );
            let answer = self
                .call(auth, self.http.get(url), None, Call::ReadJobs, &path, log)
                .await?;
            quota_wait = answer.quota_wait.or(quota_wait);
            let (total, count) = read_page(&answer.value, run.run_id.0, attempt, &mut listing)
                .map_err(|why| GitHubError::transient(format!("GET {path}: {why}")))?;
            seen += count as u64;
            if count < JOBS_PER_PAGE || total.is_some_and(|total| seen >= total) {
                break;
            }
        }
        Ok(Answer {
            value: listing,
            quota_wait,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The run the tests list jobs of.
    const RUN: u64 = 30;

    fn read(body: serde_json::Value, attempt: u32) -> JobsListing {
        let mut listing = JobsListing::default();
        read_page(body.to_string().as_bytes(), RUN, attempt, &mut listing).expect("readable");
        listing
    }

    #[test]
    fn a_listed_job_becomes_what_its_completion_would_have_made() {
        let listing = read(
            json!({"total_count": 3, "jobs": [
                {"id": 1, "name": "build", "run_attempt": 1, "status": "completed", "conclusion": "failure",
                 "steps": [{"name": "Set up job", "conclusion": "success"}, {"name": "Test", "conclusion": "failure"}]},
                {"id": 2, "name": "never", "run_attempt": 1, "status": "completed", "conclusion": "failure", "steps": []},
                {"id": 3, "name": "late", "run_attempt": 1, "status": "in_progress", "conclusion": null},
            ]}),
            1,
        );
        assert_eq!(listing.newer_attempt, None);
        let [build, never, late] = listing.jobs.as_slice() else {
            panic!("three jobs: {listing:?}");
        };
        assert_eq!(build.conclusion, Some(Conclusion::Failure));
        assert_eq!(build.failed_steps, vec![Name::from("Test")]);
        assert!(build.ran_steps);
        assert!(!never.ran_steps, "an empty steps list: never started");
        assert_eq!(late.conclusion, None);
        assert!(late.ran_steps, "no steps key says nothing");
    }

    #[test]
    fn a_job_of_a_newer_attempt_says_the_run_was_rerun() {
        let listing = read(
            json!({"jobs": [
                {"id": 1, "name": "a", "run_attempt": 1, "status": "completed", "conclusion": "success"},
                {"id": 2, "name": "b", "run_attempt": 2, "status": "queued", "conclusion": null},
            ]}),
            1,
        );
        assert_eq!(listing.newer_attempt, Some(2));
        assert_eq!(listing.jobs.len(), 1, "the kept job of the older attempt");
    }

    #[test]
    fn an_unreadable_page_is_refused_with_a_reason() {
        let mut listing = JobsListing::default();
        assert!(read_page(b"<html>", RUN, 1, &mut listing).is_err());
        assert!(read_page(br#"{"jobs": [{"id": "x"}]}"#, RUN, 1, &mut listing).is_err());
    }

    #[test]
    fn a_listed_job_of_another_run_is_dropped() {
        let listing = read(
            json!({"total_count": 2, "jobs": [
                {"id": 1, "run_id": RUN, "name": "ours", "run_attempt": 1, "status": "completed", "conclusion": "failure"},
                {"id": 2, "run_id": RUN + 1, "name": "theirs", "run_attempt": 1, "status": "completed", "conclusion": "failure"},
            ]}),
            1,
        );
        let names: Vec<&Name> = listing.jobs.iter().map(|job| &job.name).collect();
        assert_eq!(names, [&Name::from("ours")]);
    }
}
