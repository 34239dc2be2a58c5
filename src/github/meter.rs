//! What one decision's evidence cost: requests to the GitHub API and log bytes read.
//!
//! Counted where they happen (every API request in `GitHubClient::send`, every log
//! byte in the log reader) for whichever future runs under a [`Meter`] ([`metered`]):
//! the GitHub actor runs a run's evidence calls (its annotations, each log's
//! location, the downloads) under the meter the tracker handed over, so no call in
//! between needs to know. Outside a metered future nothing is counted here (the
//! process-wide metrics count everything).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

tokio::task_local! {
    static METER: Arc<Meter>;
}

/// One decision's counts.
#[derive(Debug, Default)]
pub struct Meter {
    calls: AtomicU32,
    bytes: AtomicU64,
}

impl Meter {
    /// GitHub API requests made (answered or not; redirects followed count each).
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Log bytes read (as received: compressed bytes for a compressed log).
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Runs `work` counting its API requests and log bytes in `meter` (none: uncounted).
pub async fn metered<F: Future>(meter: Option<Arc<Meter>>, work: F) -> F::Output {
    match meter {
        Some(meter) => METER.scope(meter, work).await,
        None => work.await,
    }
}

/// Counts one API request for the metered future running now, if any.
pub(crate) fn count_call() {
    let _ = METER.try_with(|meter| meter.calls.fetch_add(1, Ordering::Relaxed));
}

/// Counts `n` log bytes for the metered future running now, if any.
pub(crate) fn count_bytes(n: u64) {
    let _ = METER.try_with(|meter| meter.bytes.fetch_add(n, Ordering::Relaxed));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn only_the_metered_future_counts_and_nested_awaits_count_too() {
        let meter = Arc::new(Meter::default());
        count_call();
        metered(Some(Arc::clone(&meter)), async {
            count_call();
            async {
                count_call();
                count_bytes(300);
            }
            .await;
        })
        .await;
        metered(None, async { count_call() }).await;
        assert_eq!((meter.calls(), meter.bytes()), (2, 300));
    }
}
