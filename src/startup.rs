//! Wires the service together: store, GitHub actor, registry, background loops, HTTP
//! server. Tests, the benchmark and the binary all start the service through
//! [`Application::build`].

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use futures_util::StreamExt;
use slog::{Logger, error, info, warn};

use crate::actors::storm_watch::{self, StormWatch};
use crate::actors::{GitHubActor, QueueDepth, Registry, TrackerDeps};
use crate::clock::now_ms;
use crate::http::{
    AppState, alive, api_part, api_status, healthz, metrics_page, readyz, receive, status_page,
};
use crate::http::{Guards, connections, unmatched};
use crate::metrics::Metrics;
use crate::rules::LivePolicy;
use crate::run::{Claim, RerunState};
use crate::settings::{DatabaseUrl, Settings};
use crate::store::{PostgresStore, SqliteStore, Store, StoreError, StoreWatch, codec};

/// How often, at most, runs quiet for `RUN_TTL` are purged from the store (a quarter
/// of `RUN_TTL` when that is shorter): sleeping runs have no tracker to expire them.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How often the registry and the allocator are asked to give back what trackers that
/// slept left (`src/memory.rs`), and the fall in trackers awake that is worth it.
const MEMORY_LOOK_EVERY: Duration = Duration::from_secs(1);
const MEMORY_LEAST_FALL: usize = 5_000;
/// Due re-runs woken per poll.
const DUE_PER_POLL: u32 = 256;
/// Pending re-runs the mailbox summary looks at: the pending gauges stop counting there
/// (a backlog that size is worth an alert already), so a summary costs at most this
/// many row reads.
const PENDING_SCAN: u32 = 256;
/// Row reads of the summary at a time, so that it never takes a PostgreSQL pool whole.
const PENDING_READS_AT_ONCE: usize = 8;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened, migrated or read.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The failure policy (`RULES` / `RULES_FILE`) is invalid: one line naming it.
    #[error("{0}")]
    Policy(#[from] crate::policy::PolicyError),
    /// The port could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// host:port
        address: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A built, listening service.
pub struct Application {
    port: u16,
    server: Server,
    registry: Arc<Registry>,
    /// What the shutdown line asks about what was in flight.
    github: Addr<GitHubActor>,
    store: Arc<dyn Store>,
    log: Logger,
}

/// This process's id in claims: unique among the processes sharing a database.
fn instance_id() -> u64 {
    let nanos = crate::clock::now_nanos();
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Opens the store `DATABASE_URL` names (reporting unreadable rows nowhere).
pub async fn open_store(database: &DatabaseUrl) -> Result<Arc<dyn Store>, StoreError> {
    open_store_watched(database, Arc::new(StoreWatch::silent())).await
}

/// Opens the store `DATABASE_URL` names, reporting unreadable rows to `watch`.
pub async fn open_store_watched(
    database: &DatabaseUrl,
    watch: Arc<StoreWatch>,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match database {
        DatabaseUrl::Sqlite(path) => Arc::new(SqliteStore::open_watched(path, watch)?),
        DatabaseUrl::Postgres(url) => {
            Arc::new(PostgresStore::open_watched(url.expose(), watch).await?)
        }
    })
}

/// Binds `HOST:PORT`: first of all, so that a second instance started on a taken port
/// stops before it opens, creates or migrates a database.
fn bind(settings: &Settings) -> Result<TcpListener, StartError> {
    let address = format!("{}:{}", settings.host, settings.port);
    TcpListener::bind(&address).map_err(|source| StartError::Listen { address, source })
}

impl Application {
    /// Binds the port, opens the store, starts the actors and background loops.
    /// Must be called inside an actix system.
    pub async fn build(settings: Settings, log: Logger) -> Result<Self, StartError> {
        let listener = bind(&settings)?;
        let metrics = Arc::new(Metrics::new());
        let watch = StoreWatch::new(log.clone(), metrics.store_rows_unreadable.clone());
        let store = open_store_watched(&settings.database, Arc::new(watch)).await?;
        Self::start(settings, log, store, metrics, listener).await
    }

    /// As [`Application::build`], on a store the caller opened (`DATABASE_URL` is then
    /// only described in the logs). For tests and benchmarks that wrap a real store, for
    /// example to inject faults; the binary uses `build`.
    pub async fn build_with_store(
        settings: Settings,
        log: Logger,
        store: Arc<dyn Store>,
    ) -> Result<Self, StartError> {
        let listener = bind(&settings)?;
        Self::start(settings, log, store, Arc::new(Metrics::new()), listener).await
    }

    async fn start(
        settings: Settings,
        log: Logger,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        listener: TcpListener,
    ) -> Result<Self, StartError> {
        register_own_secrets(&settings);
        let settings = Arc::new(settings);
        let policy = Arc::new(LivePolicy::load(&settings)?);
        if !store.newer_migrations().is_empty() {
            warn!(log, "the database was migrated by a newer version; starting anyway (each migration keeps the previous version working)";
                "newer_migrations" => store.newer_migrations().join(", "));
        }
        let claim = Claim {
            owner: instance_id(),
            lease_ms: settings.claim_lease.as_millis() as u64,
        };
        let github = GitHubActor::new(
            settings.github.clone(),
            Arc::clone(&metrics),
            settings.dry_run,
            &log,
        )
        .start();
        let storms = Arc::new(StormWatch::new(
            settings.storm,
            Arc::clone(&metrics),
            log.clone(),
        ));
        let registry = Registry::new(TrackerDeps {
            store: Arc::clone(&store),
            github: github.clone(),
            settings: Arc::clone(&settings),
            log: log.clone(),
            claim,
            metrics: Arc::clone(&metrics),
            policy: Arc::clone(&policy),
            storms: Arc::clone(&storms),
        });

        let purged = store
            .purge_idle(now_ms().saturating_sub(settings.run_ttl.as_millis() as u64))
            .await?;
        info!(log, "store ready"; "database" => settings.database.describe(), "backend" => store.backend(),
            "purged_runs" => purged, "instance" => claim.owner);
        spawn_outbox_poller(
            Arc::clone(&store),
            Arc::clone(&registry),
            settings.outbox_poll,
            log.clone(),
        );
        spawn_purger(Arc::clone(&store), settings.run_ttl, log.clone());
        spawn_quiet_sweeper(Arc::clone(&registry), settings.run_ttl);
        spawn_memory_keeper(Arc::clone(&registry));
        storm_watch::spawn_ticker(storms);
        spawn_policy_reloader(Arc::clone(&policy), log.clone());
        spawn_redelivery_sweep(&settings, &store, claim.owner, &metrics, &log);
        let github_for_http = github.clone();
        let github_for_shutdown = github.clone();
        let summary = Summary {
            every: settings.summary_every,
            backlog_warning: settings.backlog_warning,
        };
        spawn_summary(
            summary,
            Arc::clone(&registry),
            github,
            Arc::clone(&store),
            Arc::clone(&metrics),
            log.clone(),
        );

        let port = listener
            .local_addr()
            .map_err(|source| StartError::Listen {
                address: format!("{}:{}", settings.host, settings.port),
                source,
            })?
            .port();
        let state = web::Data::new(AppState {
            settings: Arc::clone(&settings),
            registry: Arc::clone(&registry),
            log: log.clone(),
            metrics,
            store: Arc::clone(&store),
            github: github_for_http,
            guards: Guards::new(&settings),
            policy: Arc::clone(&policy),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/", web::post().to(receive))
                .route("/", web::get().to(alive))
                .route("/", web::head().to(alive))
                .route("/metrics", web::get().to(metrics_page))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
                .route("/status", web::get().to(status_page))
                .route("/api/status", web::get().to(api_status))
                .route("/api/{part}", web::get().to(api_part))
                .default_service(web::to(unmatched))
                .wrap(connections::KeepAliveForWebhooks)
        })
        .workers(settings.workers)
        // Stated, not left to actix's defaults: ARCHITECTURE.md's "Limits" documents them.
        .client_request_timeout(connections::HEADER_TIMEOUT)
        .keep_alive(connections::KEEP_ALIVE)
        .client_disconnect_timeout(connections::LINGER)
        .listen(listener)
        .map_err(|source| StartError::Listen {
            address: format!("port {port}"),
            source,
        })?
        .run();
        let current = policy.current();
        info!(log, "policy in force"; "source" => current.source().to_string(),
            "rules" => current.rules().len());
        // What decides, whatever set it: the policy's [defaults] (which REPO_BRANCHES,
        // RUN_ATTEMPTS and RERUN_DELAY fill when no policy is set), and how many
        // [[rule]]s may say otherwise for some runs.
        let defaults = current.defaults();
        info!(log, "listening"; "version" => crate::VERSION, "port" => port, "workers" => settings.workers,
            "branches" => defaults.branches.written().join(","), "attempts" => defaults.attempts,
            "delay_ms" => defaults.delay.as_millis() as u64, "rules" => current.rules().len());
        Ok(Self {
            port,
            server,
            registry,
            github: github_for_shutdown,
            store,
            log,
        })
    }

    /// The port the service listens on (useful with `PORT=0`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The run registry (tests look at live trackers).
    pub fn registry(&self) -> Arc<Registry> {
        Arc::clone(&self.registry)
    }

    /// Serves until the server is stopped (SIGTERM, SIGINT or the handle), then logs
    /// what was in flight.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if served.is_ok() {
            log_shutdown(&self.registry, &self.github, &self.store, &self.log).await;
        }
        served
    }
}

/// The last line of a clean stop (the HTTP server has drained its requests): what was
/// in flight. Nothing is lost by stopping: a decided re-run is in the store, and the
/// next start (or another instance, once the claim's lease ends) performs it.
async fn log_shutdown(
    registry: &Registry,
    github: &Addr<GitHubActor>,
    store: &Arc<dyn Store>,
    log: &Logger,
) {
    let github_queue = github.send(QueueDepth).await.unwrap_or(0);
    let pending = pending_reruns(store, now_ms()).await.unwrap_or_default();
    info!(log, "stopped cleanly; pending re-runs stay in the store and resume at the next start";
        "trackers_awake" => registry.len(), "github_queue" => github_queue,
        "reruns_scheduled" => pending.scheduled, "reruns_in_flight" => pending.in_flight);
}

/// Wakes the trackers of due re-runs: at start (re-runs decided before a restart) and
/// then every `every` (re-runs whose claimant died, or whose process shares the
/// database and went away).
fn spawn_outbox_poller(
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

fn spawn_purger(store: Arc<dyn Store>, ttl: Duration, log: Logger) {
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

/// Starts the redelivery sweep (`src/recovery/`) when `REDELIVER_EVERY` is not zero and
/// the GitHub App's JWT is at hand: the `/app/hook/deliveries` endpoints take no token.
fn spawn_redelivery_sweep(
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

/// Reloads the failure policy on each `SIGHUP`: a valid one replaces the policy in
/// force (`policy reloaded`), an invalid one is refused with its one-line error and
/// the old one stays. Decisions already made keep what they decided.
fn spawn_policy_reloader(policy: Arc<LivePolicy>, log: Logger) {
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

/// Asks the trackers awake whether their runs went quiet for `RUN_TTL`, a few times
/// per `RUN_TTL` (at most every 5 minutes, at least every 100 ms): a run whose tracker
/// is awake is forgotten within a quarter of `RUN_TTL` (or 5 minutes) after it expired.
fn spawn_quiet_sweeper(registry: Arc<Registry>, ttl: Duration) {
    let every = quiet_sweep_every(ttl);
    actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(every).await;
            registry.sweep_quiet();
        }
    });
}

/// See [`spawn_quiet_sweeper`].
fn quiet_sweep_every(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(300))
}

/// Shrinks the registry and gives the allocator's free memory back once many trackers
/// slept (`src/memory.rs`); the trim runs on a blocking thread.
fn spawn_memory_keeper(registry: Arc<Registry>) {
    actix_web::rt::spawn(async move {
        let mut watch = crate::memory::TrimWatch::new(MEMORY_LEAST_FALL);
        loop {
            actix_web::rt::time::sleep(MEMORY_LOOK_EVERY).await;
            let shrunk = registry.shrink_if_sparse();
            if watch.observe(registry.len()) || shrunk {
                let _ = actix_web::rt::task::spawn_blocking(crate::memory::give_back).await;
            }
        }
    });
}

/// When the mailbox summary is logged, and when it warns.
struct Summary {
    every: Duration,
    backlog_warning: usize,
}

/// Logs the mailboxes every `SUMMARY_EVERY` (the first time at start), warns when a
/// backlog builds up, and sets the pending re-run gauges.
fn spawn_summary(
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
struct Pending {
    /// Decided, waiting for their due time or for a claim.
    scheduled: u64,
    /// Claimed by an instance whose GitHub actor performs them.
    in_flight: u64,
    /// How long the oldest overdue one has been due: a scheduled re-run past its due
    /// time, or a claim that ran out (its instance died or hangs); zero when none is.
    oldest_overdue: Duration,
}

/// Counts the pending re-runs: the keys come oldest first from the outbox index, each
/// state is read to tell scheduled from in flight.
async fn pending_reruns(store: &Arc<dyn Store>, now: u64) -> Result<Pending, StoreError> {
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

/// Registers the service's own secret values to be masked wherever text from outside
/// is recorded, shown or logged (`crate::own_secrets`; the App key's lines were
/// registered when the settings read it).
fn register_own_secrets(settings: &Settings) {
    let own = [
        Some(&settings.sign_key),
        settings.github.token.as_ref(),
        settings.status_token.as_ref(),
    ];
    for secret in own.into_iter().flatten() {
        crate::own_secrets::register(secret.expose());
    }
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
