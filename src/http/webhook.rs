//! The webhook handler (the "HTTP actor"): refuses a request without a well-formed
//! signature or an event header before reading its body, reads the raw body under its
//! limits (`body.rs`), verifies the signature before parsing, parses once into a typed
//! event (`workflow_job`, or `workflow_run`: `run_payload.rs`), applies docs/spec.md's
//! filters and routes the event to its run's tracker. No run logic here.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use actix_web::http::{ConnectionType, StatusCode, header};
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use slog::{info, warn};

use super::auth::client_address;
use super::body::{self, BodyError, BodyLimits};
use super::headers::{Shape, shown};
use super::ignored::About;
use super::payload::{Classified, classify_with};
use super::run_payload::{RunClassified, classify_run};
use super::throttle::Client;
use super::{AppState, WebhookError, signature};
use crate::run::{JobAction, JobEvent, RunEvent};

/// `GET /` and `HEAD /` (uptime monitors; actix sends a HEAD answer's headers only):
/// says the service is alive.
pub async fn alive() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("job-rerunner is alive: POST GitHub workflow_job and workflow_run webhooks to this URL\n")
}

/// What the handler did with a delivery.
enum Handled {
    Pong,
    /// 204, with what the payload says about itself (`ignored.rs`).
    Ignored(&'static str, About),
    Tracked {
        event: Arc<JobEvent>,
        status: u16,
        reason: Cow<'static, str>,
        mailbox: usize,
    },
    /// `workflow_run.requested` / `in_progress`: 202, nothing changed.
    RunUnfinished,
    /// `workflow_run.completed`, answered by its run's tracker.
    RunTracked {
        event: Arc<RunEvent>,
        status: u16,
        reason: Cow<'static, str>,
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
    // Only sanitised values go on: into log lines, labels and the event (its delivery id
    // is stored with a decided re-run).
    let delivery = logged(&app, &request, "X-GitHub-Delivery");
    let event_name = logged(&app, &request, "X-GitHub-Event");
    let outcome = handle(
        &request,
        payload,
        &app,
        started,
        delivery.as_deref(),
        event_name.as_deref(),
    )
    .await;
    let elapsed = started.elapsed();
    let latency_us = elapsed.as_micros() as u64;
    app.metrics.webhook_seconds.observe(elapsed.as_secs_f64());
    let delivery = delivery.as_deref().unwrap_or_default();
    let event_name = event_name.as_deref().unwrap_or_default();
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
                "status" => status.as_u16(), "decision" => &*reason, "mailbox" => mailbox,
                "latency_us" => latency_us);
            text(status, &reason)
        }
        Ok(Handled::RunTracked {
            event,
            status,
            reason,
            mailbox,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            count(&app, event_name, "completed", status);
            info!(app.log, "webhook answered"; "actor" => "http", "delivery" => delivery,
                "event" => event_name, "action" => "completed",
                "conclusion" => event.conclusion.as_str(), "repo" => event.run.repo.as_str(),
                "run_id" => event.run.run_id.0, "run_attempt" => event.run_attempt,
                "branch" => event.branch.as_str(), "status" => status.as_u16(),
                "decision" => &*reason, "mailbox" => mailbox, "latency_us" => latency_us);
            text(status, &reason)
        }
        Ok(Handled::RunUnfinished) => {
            count(&app, event_name, "unfinished", StatusCode::ACCEPTED);
            info!(app.log, "webhook answered"; "actor" => "http", "delivery" => delivery,
                "event" => event_name, "action" => "unfinished", "status" => 202,
                "decision" => RUN_UNFINISHED, "latency_us" => latency_us);
            text(StatusCode::ACCEPTED, RUN_UNFINISHED)
        }
        Ok(Handled::Pong) => {
            count(&app, event_name, "", StatusCode::OK);
            info!(app.log, "webhook answered"; "actor" => "http", "delivery" => delivery,
                "event" => event_name, "status" => 200, "decision" => "pong", "latency_us" => latency_us);
            text(StatusCode::OK, "pong")
        }
        Ok(Handled::Ignored(reason, about)) => {
            count(&app, event_name, "", StatusCode::NO_CONTENT);
            info!(app.log, "webhook answered"; "actor" => "http", "delivery" => delivery,
                "event" => event_name, about, "status" => 204u16, "decision" => reason,
                "latency_us" => latency_us);
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
            let mut answer = text(err.status(), &message);
            if let Some(seconds) = err.retry_after() {
                answer
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
            }
            if err.closes_connection() {
                answer.head_mut().set_connection_type(ConnectionType::Close);
            }
            answer
        }
    }
}

/// Counts a delivery by event, action and status. The event name comes from outside:
/// only GitHub's names we know become labels, so a sender cannot grow the label set.
fn count(app: &AppState, event: &str, action: &str, status: StatusCode) {
    let event = match event {
        "workflow_job" | "workflow_run" | "ping" | "" => event,
        _ => "other",
    };
    app.metrics.count_webhook(event, action, status.as_u16());
}

fn text(status: StatusCode, line: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(format!("{line}\n"))
}

/// A header's value as it may be logged (`headers.rs`); a cut value is counted.
/// An empty value counts as absent.
fn logged<'r>(
    app: &AppState,
    request: &'r HttpRequest,
    name: &'static str,
) -> Option<Cow<'r, str>> {
    let raw = request.headers().get(name)?.as_bytes();
    if raw.is_empty() {
        return None;
    }
    let value = shown(raw, Shape::Id);
    if matches!(value, Cow::Owned(_)) {
        app.metrics
            .truncated_headers
            .with_label_values(&[name])
            .inc();
    }
    Some(value)
}

/// Whether the delivery says it is `application/x-www-form-urlencoded` (GitHub's
/// default content type, which wraps the JSON in a `payload=` form field).
fn is_form_encoded(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Checks what can be checked before the body is read (the signature header's shape,
/// the event header), then reads the body under its limits, verifies it, parses it and
/// routes the event.
async fn handle(
    request: &HttpRequest,
    payload: web::Payload,
    app: &AppState,
    started: Instant,
    delivery: Option<&str>,
    event_name: Option<&str>,
) -> Result<Handled, WebhookError> {
    let digest = signature::parse(
        request
            .headers()
            .get("X-Hub-Signature-256")
            .map(|v| v.as_bytes()),
    )?;
    let event_name = event_name.ok_or(WebhookError::MissingEvent)?;
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let settings = &app.settings;
    let limits = BodyLimits {
        max_bytes: settings.max_body_bytes,
        deadline: body::deadline(started, settings.body_timeout),
    };
    let client = Client::from(client_address(request, settings.trust_forwarded_for));
    let body = body::read(payload, announced, client, limits, &app.guards.bodies)
        .await
        .map_err(|err| match err {
            BodyError::TooLarge => WebhookError::TooLarge(settings.max_body_bytes),
            BodyError::TimedOut => WebhookError::BodyTimeout(settings.body_timeout.as_secs_f64()),
            BodyError::OverBudget => {
                WebhookError::Busy(body::retry_after_seconds(settings.body_timeout))
            }
            BodyError::Unreadable(reason) => WebhookError::Unreadable(reason),
        })?;
    signature::check(&settings.sign_key, &digest, &body)?;
    // After the signature: GitHub signs the form body too, and only a verified sender
    // learns what to change (a ping sent so fails, which shows at once in GitHub's UI).
    if is_form_encoded(request) {
        return Err(WebhookError::FormEncoded);
    }
    match event_name {
        "ping" => return Ok(Handled::Pong),
        "workflow_job" => {}
        "workflow_run" => return run_event(app, body, delivery).await,
        _ => {
            let about = About::read(&body);
            return Ok(Handled::Ignored(
                "event is neither workflow_job nor workflow_run",
                about,
            ));
        }
    }
    let classified = classify_with(&body, delivery, &settings.door, &*app.policy)?;
    let event = match classified {
        Classified::Ignored(reason) => return Ok(Handled::Ignored(reason, About::read(&body))),
        Classified::Job(event) => event,
    };
    // The event owns what it needs: the body's share of MAX_BUFFERED_BYTES goes back
    // before waiting for the tracker (up to 8 s when the store is slow).
    drop(body);
    let event = Arc::new(event);
    let (reply, mailbox) = app.registry.track(Arc::clone(&event)).await?;
    Ok(Handled::Tracked {
        event,
        status: reply.status,
        reason: reply.reason,
        mailbox,
    })
}

/// The answer to `workflow_run.requested` / `in_progress`.
const RUN_UNFINISHED: &str = "run recorded by its jobs; nothing to do until it completes";

/// A verified `workflow_run` delivery: parsed, filtered, and its completion routed to
/// the run's tracker; `requested` / `in_progress` are answered here (no store write).
async fn run_event(
    app: &AppState,
    body: body::Body<'_>,
    delivery: Option<&str>,
) -> Result<Handled, WebhookError> {
    let classified = classify_run(&body, delivery, &app.settings.door, &*app.policy)?;
    let event = match classified {
        RunClassified::Ignored(reason) => return Ok(Handled::Ignored(reason, About::read(&body))),
        RunClassified::Unfinished => return Ok(Handled::RunUnfinished),
        RunClassified::Completed(event) => Arc::new(event),
    };
    // As for a job: the body's share of MAX_BUFFERED_BYTES goes back before the wait.
    drop(body);
    let (reply, mailbox) = app.registry.track_run(Arc::clone(&event)).await?;
    Ok(Handled::RunTracked {
        event,
        status: reply.status,
        reason: reply.reason,
        mailbox,
    })
}
