//! The binary: reads the settings, builds the logger and runs the service.

use std::io::Write;
use std::process::ExitCode;

use job_rerunner::logging;
use job_rerunner::rules::LivePolicy;
use job_rerunner::settings::{Settings, help_text};
use job_rerunner::startup::Application;

fn main() -> ExitCode {
    if std::env::args()
        .skip(1)
        .any(|arg| arg == "--help" || arg == "-h")
    {
        print!("{}", help_text());
        return ExitCode::SUCCESS;
    }
    let check_only = std::env::args().nth(1).as_deref() == Some("check-config");
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("job-rerunner: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    // The policy is checked before anything starts, and like a setting: one line, exit 2.
    let policy = match LivePolicy::load(&settings) {
        Ok(policy) => policy,
        Err(err) => {
            eprintln!("job-rerunner: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    if check_only {
        let mut out = std::io::stdout().lock();
        for (name, value) in settings.effective() {
            // A closed pipe (`| head`) is not an error worth a panic.
            if writeln!(out, "{name}={value}").is_err() {
                break;
            }
        }
        let _ = write!(out, "\n{}", policy.current());
        return ExitCode::SUCCESS;
    }
    let (log, _flush_on_exit) = logging::build(&settings);
    let served = actix_web::rt::System::new().block_on(async {
        let app = Application::build(settings, log.clone())
            .await
            .map_err(|err| err.to_string())?;
        app.run_until_stopped().await.map_err(|err| err.to_string())
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            slog::crit!(log, "job-rerunner stopped"; "error" => &err);
            eprintln!("job-rerunner: {err}");
            ExitCode::FAILURE
        }
    }
}
