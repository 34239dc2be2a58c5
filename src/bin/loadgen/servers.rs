//! The servers the load generator runs in its child processes (hidden subcommands).
//!
//! Each prints `LOADGEN_PORT <port>` on stdout once it listens, which is how the parent
//! learns the port (they all bind port 0).

use std::io::Write as _;
use std::process::ExitCode;

use actix_web::{App, HttpResponse, HttpServer, web};
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
    let served = actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(|| {
            App::new()
                .route(
                    "/",
                    web::post().to(|body: web::Bytes| async move {
                        // The body is read (the extractor waits for all of it) and dropped.
                        std::hint::black_box(body.len());
                        HttpResponse::Accepted().finish()
                    }),
                )
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
            eprintln!("loadgen serve-noop: {err}");
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
    let (log, _flush_on_exit) = logging::build(&settings);
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
