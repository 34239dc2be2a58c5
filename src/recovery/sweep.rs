//! The redelivery sweep: every `REDELIVER_EVERY`, on one instance at a time, list the
//! App's recent deliveries, plan (`plan.rs`, pure) and ask GitHub to redeliver the
//! never-delivered ones. A task of its own on the main arbiter, with its own awc client
//! (built on the task: awc is not `Send`); it owns only its pause after a rate limit.
//! Everything shared lives in the store ([`RecoveryStore`]): the lease, the mark the
//! next listing reaches back to, the guids asked for. Errors are logged and left to the
//! next sweep; nothing here panics on GitHub's answers.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use slog::{Logger, info, warn};

use super::deliveries::DeliveriesClient;
use super::plan::{self, Delivery, REDELIVERY_WINDOW_MS};
use crate::clock::now_ms;
use crate::github::GitHubSettings;
use crate::github::app_auth::AppJwt;
use crate::github::{GitHubError, RateLimit};
use crate::metrics::Metrics;
use crate::store::{FinishedSweep, RecoveryStore, Store, StoreError, SweepRecord};

/// Most redeliveries asked for in one sweep; the rest wait for the next one.
pub const MAX_PER_SWEEP: usize = 50;
/// Most pages (of 100) listed in one sweep.
const MAX_PAGES: usize = 100;
/// How far before the last mark the next listing reaches, so that the attempts of a
/// guid near the mark are seen together.
const OVERLAP_MS: u64 = 5 * 60_000;
/// How long the lease holds while a sweep runs; renewed before every call.
const LEASE_MS: u64 = 2 * 60_000;
/// Pause after a rate limit that names no wait.
const UNSPECIFIED_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// What the sweep needs.
pub struct Sweeper {
    /// The store the sweep's bookkeeping lives in.
    pub store: Arc<dyn Store>,
    /// API base and timeout.
    pub github: GitHubSettings,
    /// The App's JWT.
    pub jwt: AppJwt,
    /// This instance, as the lease's owner.
    pub owner: u64,
    /// `REDELIVER_EVERY` (not zero).
    pub every: Duration,
    /// Where the sweeps are counted.
    pub metrics: Arc<Metrics>,
    /// The service's logger.
    pub log: Logger,
}

/// How one sweep ended: its label (`job_rerunner_redelivery_sweeps_total{outcome}`:
/// `ok`, `recent` (another sweep was less than half a period ago), `leased_elsewhere`,
/// `lease_lost`, `github_error`, `rate_limited`, `store_error`, `no_store`; a tick
/// during a rate limit's pause counts as `paused`), and a pause GitHub asked for.
struct Ended {
    outcome: &'static str,
    pause: Option<Duration>,
}

impl Ended {
    fn because(outcome: &'static str) -> Self {
        Self {
            outcome,
            pause: None,
        }
    }
}

impl Sweeper {
    /// Starts the sweep's task on the current arbiter: a first sweep now, then one every
    /// `every`, none while a rate limit lasts.
    pub fn spawn(self) {
        actix_web::rt::spawn(async move {
            let client = DeliveriesClient::new(&self.github, Arc::clone(&self.metrics));
            let log = self.log.new(slog::o!("actor" => "redelivery_sweep"));
            let mut paused_until: Option<Instant> = None;
            loop {
                let outcome = if paused_until.is_some_and(|until| Instant::now() < until) {
                    "paused"
                } else {
                    let ended = self.sweep(&client, &log).await;
                    paused_until = ended.pause.map(|pause| Instant::now() + pause);
                    ended.outcome
                };
                self.metrics
                    .redelivery_sweeps
                    .with_label_values(&[outcome])
                    .inc();
                actix_web::rt::time::sleep(self.every).await;
            }
        });
    }

    async fn sweep(&self, client: &DeliveriesClient, log: &Logger) -> Ended {
        let Some(store) = self.store.recovery() else {
            return Ended::because("no_store");
        };
        let now = now_ms();
        match store
            .take_sweep_lease(self.owner, now, now + LEASE_MS)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Ended::because("leased_elsewhere"),
            Err(err) => return store_failed(log, &err),
        }
        let record = match store.sweep_record().await {
            Ok(record) => record,
            Err(err) => return store_failed(log, &err),
        };
        // Several instances each have a timer: whoever comes within half a period of
        // the last sweep (any instance's) leaves it, and gives the lease back.
        let half_period = (self.every / 2).as_millis() as u64;
        if record
            .last_sweep_at
            .is_some_and(|at| now.saturating_sub(at) < half_period)
        {
            return match store.take_sweep_lease(self.owner, now, 0).await {
                Ok(_) => Ended::because("recent"),
                Err(err) => store_failed(log, &err),
            };
        }
        let swept = self.sweep_leased(store, client, record, now, log).await;
        let (ended, seen_until, asked) = match swept {
            Ok(done) => done,
            Err(err) => return store_failed(log, &err),
        };
        let finished = FinishedSweep {
            owner: self.owner,
            now: now_ms(),
            seen_until,
            outcome: ended.outcome,
            asked,
            forget_before: now.saturating_sub(REDELIVERY_WINDOW_MS),
        };
        if let Err(err) = store.finish_sweep(finished).await {
            return store_failed(log, &err);
        }
        if asked > 0 || ended.outcome != "ok" {
            info!(log, "redelivery sweep done"; "outcome" => ended.outcome, "asked" => asked);
        }
        ended
    }

    /// Lists, plans and asks, holding the lease. Returns how it ended, the new mark and
    /// how many redeliveries were asked for.
    async fn sweep_leased(
        &self,
        store: &dyn RecoveryStore,
        client: &DeliveriesClient,
        record: SweepRecord,
        now: u64,
        log: &Logger,
    ) -> Result<(Ended, Option<u64>, u64), StoreError> {
        let window_start = now.saturating_sub(REDELIVERY_WINDOW_MS);
        let reach_back = record
            .seen_until
            .map_or(window_start, |mark| mark.saturating_sub(OVERLAP_MS))
            .max(window_start);
        let listed = match self.list(store, client, reach_back, now, log).await? {
            Ok(listed) => listed,
            Err(ended) => return Ok((ended, None, 0)),
        };
        let listed_guids: HashSet<&str> = listed.iter().map(|d| d.guid.as_str()).collect();
        let listed_guids = listed_guids.into_iter().map(str::to_owned).collect();
        let asked: HashSet<String> = store.asked_among(listed_guids).await?.into_iter().collect();
        let plan = plan::plan(&listed, &asked, now, MAX_PER_SWEEP);
        let mut seen_until = plan.seen_until;
        let mut count = 0;
        for wanted in &plan.redeliver {
            if !self.renew(store, now_ms()).await? {
                seen_until = seen_until.map(|mark| mark.min(wanted.first_at));
                return Ok((Ended::because("lease_lost"), seen_until, count));
            }
            if !store
                .claim_guid(wanted.guid.clone(), wanted.delivery_id, now_ms())
                .await?
            {
                continue;
            }
            let asked = match self.jwt.make() {
                Ok(jwt) => client.redeliver(&jwt, wanted.delivery_id).await,
                Err(why) => Err(GitHubError::transient(format!("no App JWT: {why}"))),
            };
            match asked {
                Ok(()) => {
                    count += 1;
                    self.metrics.redeliveries_requested.inc();
                    info!(log, "redelivery asked for"; "delivery" => &wanted.guid,
                        "delivery_id" => wanted.delivery_id);
                }
                // Asking again would get the same answer (gone, too old): asked once.
                Err(GitHubError::Rejected { status, message }) => {
                    warn!(log, "redelivery refused"; "delivery" => &wanted.guid,
                        "status" => status, "error" => message);
                }
                Err(err) => {
                    // Left for the next sweep, which must see this guid again.
                    store.release_guid(wanted.guid.clone()).await?;
                    seen_until = seen_until.map(|mark| mark.min(wanted.first_at));
                    return Ok((github_failed(log, &err), seen_until, count));
                }
            }
        }
        Ok((Ended::because("ok"), seen_until, count))
    }

    /// Lists deliveries newest first until one older than `reach_back`, the last page
    /// or [`MAX_PAGES`]. `Ok(Err(ended))`: GitHub did not answer as it should.
    async fn list(
        &self,
        store: &dyn RecoveryStore,
        client: &DeliveriesClient,
        reach_back: u64,
        now: u64,
        log: &Logger,
    ) -> Result<Result<Vec<Delivery>, Ended>, StoreError> {
        let mut listed = Vec::new();
        let mut cursor: Option<String> = None;
        let mut unreadable = 0;
        for page_number in 1..=MAX_PAGES {
            if !self.renew(store, now_ms()).await? {
                return Ok(Err(Ended::because("lease_lost")));
            }
            let page = match self.jwt.make() {
                Ok(jwt) => client.list(&jwt, cursor.as_deref()).await,
                Err(why) => Err(GitHubError::transient(format!("no App JWT: {why}"))),
            };
            let page = match page {
                Ok(page) => page,
                Err(err) => return Ok(Err(github_failed(log, &err))),
            };
            unreadable += page.unreadable;
            let reached = page.deliveries.is_empty()
                || page
                    .deliveries
                    .iter()
                    .any(|delivery| delivery.delivered_at < reach_back);
            listed.extend(page.deliveries);
            cursor = page.next_cursor;
            if reached || cursor.is_none() {
                break;
            }
            if page_number == MAX_PAGES {
                warn!(log, "delivery listing cut"; "pages" => MAX_PAGES,
                    "looked_back_s" => now.saturating_sub(reach_back) / 1000);
            }
        }
        if unreadable > 0 {
            warn!(log, "unreadable deliveries skipped"; "count" => unreadable);
        }
        Ok(Ok(listed))
    }

    async fn renew(&self, store: &dyn RecoveryStore, now: u64) -> Result<bool, StoreError> {
        store
            .take_sweep_lease(self.owner, now, now + LEASE_MS)
            .await
    }
}

fn store_failed(log: &Logger, err: &StoreError) -> Ended {
    warn!(log, "redelivery sweep left for later: the store failed"; "error" => %err);
    Ended::because("store_error")
}

/// Logs a GitHub error (texts are made safe by `GitHubError`) and what it means.
fn github_failed(log: &Logger, err: &GitHubError) -> Ended {
    warn!(log, "redelivery sweep left for later: GitHub failed"; "error" => %err,
        "kind" => err.label());
    match err {
        GitHubError::RateLimited(limit) => Ended {
            outcome: "rate_limited",
            pause: Some(match limit {
                RateLimit::For(wait) => *wait,
                RateLimit::Unspecified => UNSPECIFIED_LIMIT_WAIT,
            }),
        },
        _ => Ended::because("github_error"),
    }
}
