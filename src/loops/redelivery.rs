//! Starting the redelivery sweep (`crate::recovery`) when it is on.

use std::sync::Arc;

use slog::{Logger, info};

use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::store::Store;

/// Starts the redelivery sweep (`src/recovery/`) when `REDELIVER_EVERY` is not zero and
/// the GitHub App's JWT is at hand: the `/app/hook/deliveries` endpoints take no token.
pub(crate) fn spawn_redelivery_sweep(
    settings: &Settings,
    store: &Arc<dyn Store>,
    owner: u64,
    metrics: &Arc<Metrics>,
    log: &Logger,
) {
    if settings.redeliver_every.is_zero() {
        return;
    }
    let Some(jwt) = settings.app_jwt.clone() else {
        info!(
            log,
            "redelivery sweep off: it needs GitHub App authentication"
        );
        return;
    };
    info!(log, "redelivery sweep on"; "every_s" => settings.redeliver_every.as_secs_f64());
    crate::recovery::Sweeper {
        store: Arc::clone(store),
        github: settings.github.clone(),
        jwt,
        owner,
        every: settings.redeliver_every,
        metrics: Arc::clone(metrics),
        log: log.clone(),
    }
    .spawn();
}
