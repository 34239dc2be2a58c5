//! The quiet-run sweep: every tracker awake is asked, a few times per `RUN_TTL`,
//! whether its run went quiet for that long (one sweep instead of a timer each).

use std::sync::Arc;
use std::time::Duration;

use crate::actors::Registry;

/// Asks the trackers awake whether their runs went quiet for `RUN_TTL`, a few times
/// per `RUN_TTL` (at most every 5 minutes, at least every 100 ms): a run whose tracker
/// is awake is forgotten within a quarter of `RUN_TTL` (or 5 minutes) after it expired.
pub(crate) fn spawn_quiet_sweeper(registry: Arc<Registry>, ttl: Duration) {
    let every = quiet_sweep_every(ttl);
    actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(every).await;
            registry.sweep_quiet();
        }
    });
}

/// See [`spawn_quiet_sweeper`].
pub(crate) fn quiet_sweep_every(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quiet_sweep_comes_four_times_per_ttl_within_its_bounds() {
        assert_eq!(
            quiet_sweep_every(Duration::from_secs(86_400)),
            Duration::from_secs(300)
        );
        assert_eq!(
            quiet_sweep_every(Duration::from_secs(1)),
            Duration::from_millis(250)
        );
        assert_eq!(
            quiet_sweep_every(Duration::ZERO),
            Duration::from_millis(100)
        );
    }
}
