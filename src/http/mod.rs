//! The HTTP side: the webhook endpoint (`POST /`), the liveness page (`GET /`), and
//! what operators watch: metrics, health, the status page and its JSON.

mod auth;
pub mod body;
pub mod budget;
pub mod connections;
mod error;
mod fallback;
pub mod headers;
mod ignored;
mod observe;
pub mod payload;
mod picked;
pub mod run_payload;
pub mod settings;
mod shape;
pub mod signature;
mod status;
mod status_effects;
mod status_html;
mod status_signatures;
pub mod throttle;
mod webhook;

use std::sync::Arc;

use slog::Logger;

pub use error::WebhookError;
pub use fallback::unmatched;
pub use observe::{healthz, metrics as metrics_page, readyz};
pub use settings::{Door, HttpSettings, MAX_BODY_TIMEOUT};
pub use status::{api_part, api_status, page as status_page};
pub use webhook::{alive, receive};

use actix::Addr;

use crate::actors::{GitHubActor, Registry};
use crate::metrics::Metrics;
use crate::store::Store;

/// What the handlers share, through `web::Data`.
pub struct AppState {
    /// What the HTTP layer reads of the configuration (its own section).
    pub settings: HttpSettings,
    /// The run registry, to route events to trackers.
    pub registry: Arc<Registry>,
    /// The root logger.
    pub log: Logger,
    /// Where webhooks are counted.
    pub metrics: Arc<Metrics>,
    /// The store, for readiness and the status page.
    pub store: Arc<dyn Store>,
    /// The GitHub actor, for readiness.
    pub github: Addr<GitHubActor>,
    /// What the defences against abusive clients share between workers.
    pub guards: Guards,
    /// The failure policy in force (the webhook's attempt filter, `GET /api/policy`).
    pub policy: Arc<crate::rules::LivePolicy>,
}

/// The shared state of the defences against abusive clients: the webhook bodies'
/// memory budget and the status page's failure limit.
pub struct Guards {
    /// `MAX_BUFFERED_BYTES`: webhook body bytes held, all connections together.
    pub bodies: budget::BodyBudget,
    /// Wrong `STATUS_TOKEN` credentials per client.
    pub status_failures: throttle::FailureLimit,
}

impl Guards {
    /// Empty guards for these settings.
    pub fn new(settings: &HttpSettings) -> Self {
        Self {
            bodies: budget::BodyBudget::new(settings.max_buffered_bytes, settings.max_body_bytes),
            status_failures: throttle::FailureLimit::default(),
        }
    }
}
