//! Wires the service together: store, GitHub actor, registry, HTTP server.
//! Tests and the binary both start the service through [`Application::build`].

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use slog::{Logger, error, info};

use crate::actors::run_tracker::now_ms;
use crate::actors::{GitHubActor, Registry, TrackerDeps};
use crate::http::{AppState, alive, receive};
use crate::settings::{DatabaseUrl, Settings};
use crate::store::{SqliteStore, Store, StoreError};

/// How often runs that went quiet without a tracker are purged from the store.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened, migrated or read.
    #[error("{0}")]
    Store(#[from] StoreError),
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
}

impl Application {
    /// Opens the store, starts the actors, resumes decided re-runs and binds the port.
    /// Must be called inside an actix system.
    pub async fn build(settings: Settings, log: Logger) -> Result<Self, StartError> {
        let settings = Arc::new(settings);
        let store: Arc<dyn Store> = match &settings.database {
            DatabaseUrl::Sqlite(path) => Arc::new(SqliteStore::open(path)?),
        };
        let github = GitHubActor::new(settings.github.clone(), &log).start();
        let registry = Registry::new(TrackerDeps {
            store: Arc::clone(&store),
            github,
            settings: Arc::clone(&settings),
            log: log.clone(),
        });

        let purged = store
            .purge_idle(now_ms().saturating_sub(settings.run_ttl.as_millis() as u64))
            .await?;
        let pending = store.pending_reruns().await?;
        for key in &pending {
            registry.wake(key);
        }
        info!(log, "store ready"; "database" => ?settings.database, "resumed_reruns" => pending.len(),
            "purged_runs" => purged);
        spawn_purger(Arc::clone(&store), settings.run_ttl, log.clone());

        let address = format!("{}:{}", settings.host, settings.port);
        let listener = TcpListener::bind(&address).map_err(|source| StartError::Listen {
            address: address.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Listen { address, source })?
            .port();
        let state = web::Data::new(AppState {
            settings: Arc::clone(&settings),
            registry: Arc::clone(&registry),
            log: log.clone(),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/", web::post().to(receive))
                .route("/", web::get().to(alive))
        })
        .workers(settings.workers)
        .listen(listener)
        .map_err(|source| StartError::Listen {
            address: format!("port {port}"),
            source,
        })?
        .run();
        info!(log, "listening"; "port" => port, "workers" => settings.workers,
            "branches" => ?settings.branches, "run_attempts" => settings.run_attempts,
            "rerun_delay_ms" => settings.rerun_delay.as_millis() as u64);
        Ok(Self {
            port,
            server,
            registry,
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

    /// Serves until the server is stopped (SIGTERM, SIGINT or the handle).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn spawn_purger(store: Arc<dyn Store>, ttl: Duration, log: Logger) {
    actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(PURGE_EVERY).await;
            let before = now_ms().saturating_sub(ttl.as_millis() as u64);
            match store.purge_idle(before).await {
                Ok(purged) => info!(log, "purged quiet runs"; "purged_runs" => purged),
                Err(err) => error!(log, "purging quiet runs failed"; "error" => %err),
            }
        }
    });
}
