//! Wires the service together: store, GitHub actor, registry, background loops, HTTP
//! server. Tests, the benchmark and the binary all start the service through
//! [`Application::build`].

use std::net::TcpListener;
use std::sync::Arc;

use actix::{Actor, Addr};
use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use slog::{Logger, info, warn};

use crate::actors::storm_watch::{self, StormWatch};
use crate::actors::{GitHubActor, QueueDepth, Registry, TrackerDeps};
use crate::clock::now_ms;
use crate::http::{
    AppState, alive, api_part, api_status, healthz, metrics_page, readyz, receive, status_page,
};
use crate::http::{Guards, connections, unmatched};
use crate::loops::{
    Summary, pending_reruns, spawn_memory_keeper, spawn_outbox_poller, spawn_policy_reloader,
    spawn_purger, spawn_quiet_sweeper, spawn_redelivery_sweep, spawn_summary,
};
use crate::metrics::Metrics;
use crate::rules::LivePolicy;
use crate::run::Claim;
use crate::settings::Settings;
use crate::store::{DatabaseUrl, PostgresStore, SqliteStore, Store, StoreError, StoreWatch};

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
        let policy = Arc::new(LivePolicy::load(settings.policy())?);
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
            settings: settings.tracker(),
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
        let http_settings = settings.http();
        let state = web::Data::new(AppState {
            guards: Guards::new(&http_settings),
            settings: http_settings,
            registry: Arc::clone(&registry),
            log: log.clone(),
            metrics,
            store: Arc::clone(&store),
            github: github_for_http,
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
