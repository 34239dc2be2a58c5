//! The failure policy read again on `SIGHUP` (`RULES_FILE`).

use std::sync::Arc;

use slog::{Logger, error, info};

use crate::rules::LivePolicy;

/// Reloads the failure policy on each `SIGHUP`: a valid one replaces the policy in
/// force (`policy reloaded`), an invalid one is refused with its one-line error and
/// the old one stays. Decisions already made keep what they decided.
pub(crate) fn spawn_policy_reloader(policy: Arc<LivePolicy>, log: Logger) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Installed now, before `listening` is logged: a SIGHUP that came before the
        // spawned task first ran would otherwise meet the default action and end the
        // process.
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(err) => {
                error!(log, "cannot listen for SIGHUP; the policy cannot be reloaded"; "error" => %err);
                return;
            }
        };
        actix_web::rt::spawn(async move {
            while hangups.recv().await.is_some() {
                match policy.reload() {
                    Ok(loaded) => {
                        info!(log, "policy reloaded"; "source" => loaded.source().to_string(),
                    "rules" => loaded.rules().len(), "max_attempts" => loaded.max_attempts())
                    }
                    Err(err) => error!(log, "policy reload refused; the old policy stays in force";
                    "error" => err.to_string()),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (policy, log);
}
