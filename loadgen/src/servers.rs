//! The servers the load generator runs in its child processes (hidden subcommands).
//!
//! Each prints `LOADGEN_PORT <port>` on stdout once it listens, which is how the parent
//! learns the port (they all bind port 0).

use std::io::Write as _;
use std::process::ExitCode;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use job_rerunner::http::Door;
use job_rerunner::http::payload::{Classified, classify};
use job_rerunner::http::signature;
use job_rerunner::logging;
use job_rerunner::settings::Settings;
use job_rerunner::startup::Application;

/// The line prefix announcing the port.
pub const PORT_LINE: &str = "LOADGEN_PORT ";

/// Dies with the parent: a benchmark interrupted by ^C or a panic leaves no server behind.
fn die_with_parent() {
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag of this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
}

fn announce(port: u16) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{PORT_LINE}{port}");
    let _ = out.flush();
}

/// `serve-noop`: the ceiling. Reads the whole body, answers 202, nothing else; as many
/// workers as the service (`WORKERS`, default: the cores).
pub fn serve_noop() -> ExitCode {
    die_with_parent();
    let workers = std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    serve("serve-noop", workers, |routes| {
        routes.route(
            "/",
            web::post().to(|body: web::Bytes| async move {
                // The body is read (the extractor waits for all of it) and dropped.
                std::hint::black_box(body.len());
                HttpResponse::Accepted().finish()
            }),
        );
    })
}

/// A floor: the no-op server plus the work every webhook service must do whatever it
/// does next, with the service's own code, so the gap between the no-op ceiling and
/// the service can be split into "unavoidable" and "ours".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Floor {
    /// Verifies `X-Hub-Signature-256` over the body.
    Hmac,
    /// Verifies the signature, then parses and filters the body as the service does.
    HmacParse,
}

impl Floor {
    /// Both floors.
    pub const ALL: [Floor; 2] = [Floor::Hmac, Floor::HmacParse];

    /// The floor whose server `subcommand` runs, if any.
    pub fn from_subcommand(subcommand: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.subcommand() == subcommand)
    }

    /// The hidden subcommand that runs this floor's server.
    pub const fn subcommand(self) -> &'static str {
        match self {
            Floor::Hmac => "serve-noop-hmac",
            Floor::HmacParse => "serve-noop-hmac-parse",
        }
    }
}

/// What a floor server's handler needs: which floor, and the service's settings (the
/// webhook secret; the filters `classify` applies).
struct FloorState {
    floor: Floor,
    settings: Settings,
    /// The door `classify` applies, built once as the service builds it.
    door: Door,
}

/// `serve-noop-hmac`, `serve-noop-hmac-parse`: a floor's server. Its settings come from
/// the environment the parent set, read by the service's own `Settings`, so the key and
/// filters are exactly the service's; its workers are `WORKERS` (default: the cores), as
/// for the no-op server.
pub fn serve_floor(floor: Floor) -> ExitCode {
    die_with_parent();
    let name = floor.subcommand();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("loadgen {name}: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    let workers = settings.workers;
    let door = settings.door();
    let state = web::Data::new(FloorState {
        floor,
        settings,
        door,
    });
    serve(name, workers, move |routes| {
        routes
            .app_data(state.clone())
            .route("/", web::post().to(floor_webhook));
    })
}

/// `POST /` of a floor: the service's signature check (403 when it fails, as the service
/// answers), then for [`Floor::HmacParse`] the service's parse and filters, answering
/// what the service would before it routes the event: 202 for a job event (the run's
/// tracker would answer it), 204 for an ignored one, 400 for a malformed one. The client
/// checks every status, so a floor that did less work than the service would show as
/// errors, not as a flattering rate.
async fn floor_webhook(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<FloorState>,
) -> HttpResponse {
    let headers = request.headers();
    let signature = headers.get("X-Hub-Signature-256").map(|v| v.as_bytes());
    if signature::verify(&state.settings.sign_key, signature, &body).is_err() {
        return HttpResponse::Forbidden().finish();
    }
    if state.floor == Floor::Hmac {
        return HttpResponse::Accepted().finish();
    }
    let delivery = headers
        .get("X-GitHub-Delivery")
        .and_then(|v| v.to_str().ok());
    match classify(&body, delivery, &state.door) {
        Ok(Classified::Job(event)) => {
            // The event is built (strings and all) and dropped, as the parse would give it.
            std::hint::black_box(event);
            HttpResponse::Accepted().finish()
        }
        Ok(Classified::Ignored(_)) => HttpResponse::NoContent().finish(),
        Err(_) => HttpResponse::BadRequest().finish(),
    }
}

/// Runs a bare actix-web server on 127.0.0.1, port 0, with `workers` workers and the
/// routes `routes` adds beside `GET /` (200, for readiness checks); announces its port
/// and serves until stopped. Shared by the no-op server and the floors, so they differ
/// only in their `POST /` handler.
fn serve(
    name: &str,
    workers: usize,
    routes: impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
) -> ExitCode {
    let served = actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .configure(routes.clone())
                .route("/", web::get().to(|| async { HttpResponse::Ok().finish() }))
        })
        .workers(workers)
        .bind(("127.0.0.1", 0))?;
        let port = server.addrs()[0].port();
        let server = server.run();
        announce(port);
        server.await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("loadgen {name}: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `serve-service`: the real service, built exactly as `src/main.rs` builds it, from the
/// environment the parent set.
pub fn serve_service() -> ExitCode {
    die_with_parent();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("loadgen serve-service: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    let (log, _flush_on_exit) = logging::build(&settings.logging);
    let served = actix_web::rt::System::new().block_on(async {
        let app = Application::build(settings, log)
            .await
            .map_err(|err| err.to_string())?;
        announce(app.port());
        app.run_until_stopped().await.map_err(|err| err.to_string())
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("loadgen serve-service: {err}");
            ExitCode::FAILURE
        }
    }
}
