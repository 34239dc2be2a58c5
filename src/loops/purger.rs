//! The purger: runs quiet for `RUN_TTL` leave the store (sleeping runs have no tracker
//! to expire them), and signatures nobody saw for a month go with them.

use std::sync::Arc;
use std::time::Duration;

use slog::{Logger, error, info};

use crate::clock::now_ms;
use crate::store::{Store, codec};

/// How often, at most, runs quiet for `RUN_TTL` are purged from the store (a quarter
/// of `RUN_TTL` when that is shorter): sleeping runs have no tracker to expire them.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

pub(crate) fn spawn_purger(store: Arc<dyn Store>, ttl: Duration, log: Logger) {
    let every = (ttl / 4).clamp(Duration::from_millis(100), PURGE_EVERY);
    actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(every).await;
            let before = now_ms().saturating_sub(ttl.as_millis() as u64);
            match store.purge_idle(before).await {
                Ok(0) => {}
                Ok(purged) => info!(log, "purged quiet runs"; "purged_runs" => purged),
                Err(err) => error!(log, "purging quiet runs failed"; "error" => %err),
            }
            if let Some(learning) = store.learning() {
                let before = now_ms().saturating_sub(codec::SIGNATURES_KEPT_FOR_MS);
                match learning
                    .prune_signatures(before, codec::SIGNATURES_KEPT)
                    .await
                {
                    Ok(0) => {}
                    Ok(pruned) => {
                        info!(log, "pruned old signatures"; "pruned_signatures" => pruned)
                    }
                    Err(err) => error!(log, "pruning signatures failed"; "error" => %err),
                }
            }
        }
    });
}
