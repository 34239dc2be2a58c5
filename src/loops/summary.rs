//! The mailbox summary: at start and every `SUMMARY_EVERY`, one line with what waits
//! (tracker mailboxes, the GitHub queue, pending re-runs) and the gauges it sets.

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use futures_util::StreamExt;
use slog::{Logger, info, warn};

use crate::actors::{GitHubActor, QueueDepth, Registry};
use crate::clock::now_ms;
use crate::metrics::Metrics;
use crate::run::RerunState;
use crate::store::{Store, StoreError};

/// Pending re-runs the mailbox summary looks at: the pending gauges stop counting there
/// (a backlog that size is worth an alert already), so a summary costs at most this
/// many row reads.
const PENDING_SCAN: u32 = 256;

/// Row reads of the summary at a time, so that it never takes a PostgreSQL pool whole.
const PENDING_READS_AT_ONCE: usize = 8;

/// When the mailbox summary is logged, and when it warns.
pub(crate) struct Summary {
    pub(crate) every: Duration,
    pub(crate) backlog_warning: usize,
}

/// Logs the mailboxes every `SUMMARY_EVERY` (the first time at start), warns when a
/// backlog builds up, and sets the pending re-run gauges.
pub(crate) fn spawn_summary(
    summary: Summary,
    registry: Arc<Registry>,
    github: Addr<GitHubActor>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    log: Logger,
) {
    actix_web::rt::spawn(async move {
        loop {
            let github_queue = github.send(QueueDepth).await.unwrap_or(0);
            let waiting = registry.waiting_messages();
            // A store that does not answer leaves the gauges at their last values; the
            // store's own errors are logged where they happen.
            let pending = pending_reruns(&store, now_ms()).await.ok();
            if let Some(pending) = &pending {
                metrics.set_pending_reruns(
                    pending.scheduled,
                    pending.in_flight,
                    pending.oldest_overdue,
                );
            }
            let pending = pending.unwrap_or_default();
            // Unknown (the store did not answer): the gauge keeps its last value, the
            // line says -1.
            let runs_tracked = match store.count_runs().await {
                Ok(runs) => {
                    metrics.runs_tracked.set(runs as i64);
                    runs as i64
                }
                Err(_) => -1,
            };
            info!(log, "mailboxes"; "actor" => "summary", "trackers_awake" => registry.len(),
                "runs_tracked" => runs_tracked,
                "tracker_messages_waiting" => waiting, "github_queue" => github_queue,
                "pending_reruns" => pending.scheduled + pending.in_flight,
                "oldest_pending_overdue_s" => pending.oldest_overdue.as_secs());
            if waiting > summary.backlog_warning || github_queue > summary.backlog_warning {
                warn!(log, "backlog growing"; "tracker_messages_waiting" => waiting,
                    "github_queue" => github_queue);
            }
            actix_web::rt::time::sleep(summary.every.max(Duration::from_millis(50))).await;
        }
    });
}

/// The decided re-runs the store holds and has not answered (up to [`PENDING_SCAN`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pending {
    /// Decided, waiting for their due time or for a claim.
    pub(crate) scheduled: u64,
    /// Claimed by an instance whose GitHub actor performs them.
    pub(crate) in_flight: u64,
    /// How long the oldest overdue one has been due: a scheduled re-run past its due
    /// time, or a claim that ran out (its instance died or hangs); zero when none is.
    oldest_overdue: Duration,
}

/// Counts the pending re-runs: the keys come oldest first from the outbox index, each
/// state is read to tell scheduled from in flight.
pub(crate) async fn pending_reruns(
    store: &Arc<dyn Store>,
    now: u64,
) -> Result<Pending, StoreError> {
    let keys = store.due_reruns(u64::MAX, PENDING_SCAN).await?;
    let mut states = futures_util::stream::iter(keys)
        .map(|key| store.load(&key))
        .buffer_unordered(PENDING_READS_AT_ONCE);
    let mut pending = Pending::default();
    while let Some(state) = states.next().await {
        // A run answered or gone since the keys were read is no longer pending; a state
        // this version cannot read (a newer version's) is left to the instance that can.
        let Ok(Some(state)) = state else { continue };
        match state.rerun {
            RerunState::Scheduled { .. } => pending.scheduled += 1,
            RerunState::InFlight { .. } => pending.in_flight += 1,
            RerunState::Idle | RerunState::Done { .. } => continue,
        }
        if let Some(due) = state.pending_rerun_at().filter(|due| *due <= now) {
            let overdue = Duration::from_millis(now - due);
            pending.oldest_overdue = pending.oldest_overdue.max(overdue);
        }
    }
    Ok(pending)
}
