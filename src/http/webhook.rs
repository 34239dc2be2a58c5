//! The webhook handler (the "HTTP actor"): reads the raw body under a size cap,
//! verifies the signature before parsing, parses once into a typed event, applies
//! SPEC.md's filters and routes the event to its run's tracker. No run logic here.

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::web::{self, BytesMut};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;
use slog::{info, warn};

use super::payload::{Classified, classify};
use super::{AppState, WebhookError, signature};
use crate::run::{JobAction, JobEvent};

/// `GET /`: says the service is alive.
pub async fn alive() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("job-rerunner is alive: POST GitHub workflow_job webhooks to this URL\n")
}

/// What the handler did with a delivery.
enum Handled {
    Pong,
    Ignored(&'static str),
    Tracked {
        event: Arc<JobEvent>,
        status: u16,
        reason: &'static str,
        mailbox: usize,
    },
}

/// `POST /`: one GitHub webhook delivery.
pub async fn receive(
    request: HttpRequest,
    payload: web::Payload,
    app: web::Data<AppState>,
) -> HttpResponse {
    let started = Instant::now();
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let delivery = header("X-GitHub-Delivery");
    let event_name = header("X-GitHub-Event");
    let outcome = handle(&request, payload, &app, delivery, event_name).await;
    let elapsed = started.elapsed();
    let latency_us = elapsed.as_micros() as u64;
    app.metrics.webhook_seconds.observe(elapsed.as_secs_f64());
    let delivery = delivery.unwrap_or_default();
    let event_name = event_name.unwrap_or_default();
    match outcome {
        Ok(Handled::Tracked {
            event,
            status,
            reason,
            mailbox,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let (action, conclusion) = match event.action {
                JobAction::Unfinished => ("unfinished", ""),
                JobAction::Completed(conclusion) => ("completed", conclusion.as_str()),
            };
            count(&app, event_name, action, status);
            // Borrowed values only: the line costs no allocation when the level drops it.
            info!(app.log, "webhook answered"; "actor" => "http", "delivery" => delivery,
                "event" => event_name, "action" => action, "conclusion" => conclusion,
                "repo" => event.run.repo.as_str(), "run_id" => event.run.run_id.0,
                "run_attempt" => event.run_attempt, "job_id" => event.job_id.0,
                "job" => event.job_name.as_str(), "branch" => event.branch.as_str(),
                "status" => status.as_u16(), "decision" => reason, "mailbox" => mailbox,
                "latency_us" => latency_us);
            text(status, reason)
        }
        Ok(Handled::Pong) => {
            count(&app, event_name, "", StatusCode::OK);
            info!(app.log, "webhook answered"; "actor" => "http", "delivery" => delivery,
                "event" => event_name, "status" => 200, "decision" => "pong", "latency_us" => latency_us);
            text(StatusCode::OK, "pong")
        }
        Ok(Handled::Ignored(reason)) => {
            count(&app, event_name, "", StatusCode::NO_CONTENT);
            info!(app.log, "webhook answered"; "actor" => "http", "delivery" => delivery,
                "event" => event_name, "status" => 204, "decision" => reason, "latency_us" => latency_us);
            HttpResponse::NoContent().finish()
        }
        Err(err) => {
            if matches!(err, WebhookError::Signature(_)) {
                app.metrics.signature_failures.inc();
            }
            count(&app, event_name, "", err.status());
            let message = err.to_string();
            warn!(app.log, "webhook refused"; "actor" => "http", "delivery" => delivery,
                "event" => event_name, "status" => err.status().as_u16(), "reason" => &message,
                "latency_us" => latency_us);
            text(err.status(), &message)
        }
    }
}

/// Counts a delivery by event, action and status. The event name comes from outside:
/// only GitHub's names we know become labels, so a sender cannot grow the label set.
fn count(app: &AppState, event: &str, action: &str, status: StatusCode) {
    let event = match event {
        "workflow_job" | "ping" | "" => event,
        _ => "other",
    };
    app.metrics.count_webhook(event, action, status.as_u16());
}

fn text(status: StatusCode, line: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(format!("{line}\n"))
}

async fn handle(
    request: &HttpRequest,
    payload: web::Payload,
    app: &AppState,
    delivery: Option<&str>,
    event_name: Option<&str>,
) -> Result<Handled, WebhookError> {
    let body = read_body(request, payload, app.settings.max_body_bytes).await?;
    let signature = request
        .headers()
        .get("X-Hub-Signature-256")
        .map(|v| v.as_bytes());
    signature::verify(&app.settings.sign_key, signature, &body)?;
    match event_name {
        Some("ping") => return Ok(Handled::Pong),
        Some("workflow_job") | None => {}
        Some(_) => return Ok(Handled::Ignored("event is not workflow_job")),
    }
    let event = match classify(&body, delivery, &app.settings)? {
        Classified::Ignored(reason) => return Ok(Handled::Ignored(reason)),
        Classified::Job(event) => event,
    };
    let event = Arc::new(event);
    let (reply, mailbox) = app.registry.track(Arc::clone(&event)).await?;
    Ok(Handled::Tracked {
        event,
        status: reply.status,
        reason: reply.reason,
        mailbox,
    })
}

/// Reads the body, refusing it as soon as it is known to be larger than `limit`.
async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<BytesMut, WebhookError> {
    let announced = request
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|length| length > limit) {
        return Err(WebhookError::TooLarge(limit));
    }
    let mut body = BytesMut::with_capacity(announced.unwrap_or(8192).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|err| WebhookError::Unreadable(err.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(WebhookError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
