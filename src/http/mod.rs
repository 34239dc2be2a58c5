//! The HTTP side: the webhook endpoint (`POST /`), the liveness page (`GET /`), and
//! what operators watch: metrics, health, the status page and its JSON.

mod auth;
mod error;
mod observe;
pub mod payload;
mod picked;
pub mod signature;
mod status;
mod webhook;

use std::sync::Arc;

use slog::Logger;

pub use error::WebhookError;
pub use observe::{healthz, metrics as metrics_page, readyz};
pub use status::{api_part, api_status, page as status_page};
pub use webhook::{alive, receive};

use actix::Addr;

use crate::actors::{GitHubActor, Registry};
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::store::Store;

/// What the handlers share, through `web::Data`.
pub struct AppState {
    /// The service's settings.
    pub settings: Arc<Settings>,
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
}
