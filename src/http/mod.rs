//! The HTTP side: the webhook endpoint (`POST /`) and the liveness page (`GET /`).

mod error;
pub mod payload;
pub mod signature;
mod webhook;

use std::sync::Arc;

use slog::Logger;

pub use error::WebhookError;
pub use webhook::{alive, receive};

use crate::actors::Registry;
use crate::settings::Settings;

/// What the handlers share, through `web::Data`.
pub struct AppState {
    /// The service's settings.
    pub settings: Arc<Settings>,
    /// The run registry, to route events to trackers.
    pub registry: Arc<Registry>,
    /// The root logger.
    pub log: Logger,
}
