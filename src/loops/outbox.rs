//! The outbox poller: every `OUTBOX_POLL`, the re-runs due in the store (decided before
//! a restart, or left by a claimant that died) wake their trackers.

use std::sync::Arc;
use std::time::Duration;

use slog::{Logger, error, info};

use crate::actors::Registry;
use crate::clock::now_ms;
use crate::store::Store;

/// Due re-runs woken per poll.
const DUE_PER_POLL: u32 = 256;

/// Wakes the trackers of due re-runs: at start (re-runs decided before a restart) and
/// then every `every` (re-runs whose claimant died, or whose process shares the
/// database and went away).
pub(crate) fn spawn_outbox_poller(
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    every: Duration,
    log: Logger,
) {
    actix_web::rt::spawn(async move {
        let mut failing = false;
        loop {
            match store.due_reruns(now_ms(), DUE_PER_POLL).await {
                Ok(due) => {
                    if failing || !due.is_empty() {
                        info!(log, "due re-runs found"; "count" => due.len());
                    }
                    failing = false;
                    for key in &due {
                        registry.wake(key);
                    }
                }
                Err(err) => {
                    if !failing {
                        error!(log, "looking for due re-runs failed"; "error" => %err);
                    }
                    failing = true;
                }
            }
            actix_web::rt::time::sleep(every.max(Duration::from_millis(50))).await;
        }
    });
}
