//! For operators and their tools: `/metrics`, `/healthz`, `/readyz`.

use std::time::Duration;

use actix_web::{HttpResponse, web};

use super::AppState;
use crate::actors::QueueDepth;

/// How long a readiness check waits for the store and the GitHub actor.
const READY_WITHIN: Duration = Duration::from_secs(2);

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics(app: web::Data<AppState>) -> HttpResponse {
    // Gauges that are cheaper to read at scrape time than to keep up to date.
    let awake = app.registry.len() as i64;
    app.metrics.trackers_awake.set(awake);
    app.metrics.trackers.set(awake);
    app.metrics
        .tracker_messages_waiting
        .set(app.registry.waiting_messages() as i64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(app.metrics.render())
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// `GET /readyz`: a write to the store commits (`Store::ping`: a heartbeat row updated
/// in a transaction of its own; on SQLite also the file at the path is still the one
/// opened) and the GitHub actor is alive; what a deploy waits for. A store that answers
/// reads but takes no write is not ready: events would be refused (503).
pub async fn readyz(app: web::Data<AppState>) -> HttpResponse {
    let store = actix_web::rt::time::timeout(READY_WITHIN, app.store.ping()).await;
    let problem = match store {
        Err(_) => Some("store: no answer".to_owned()),
        Ok(Err(err)) => Some(err.to_string()),
        Ok(Ok(())) => {
            match actix_web::rt::time::timeout(READY_WITHIN, app.github.send(QueueDepth)).await {
                Ok(Ok(_)) => None,
                _ => Some("the GitHub actor does not answer".to_owned()),
            }
        }
    };
    match problem {
        None => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready\n"),
        Some(problem) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body(format!("not ready: {problem}\n")),
    }
}
