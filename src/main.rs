//! The binary: reads the command line and the settings, builds the logger and runs the
//! service. Everything it calls is in the library (`cli`, `settings`, `startup`).

use std::process::ExitCode;

use job_rerunner::cli::{self, Action};
use job_rerunner::logging;
use job_rerunner::rules::LivePolicy;
use job_rerunner::settings::Settings;
use job_rerunner::startup::Application;

fn main() -> ExitCode {
    let action = match cli::parse(std::env::args_os()) {
        Ok(action) => action,
        Err(exit) => return exit.print(),
    };
    // classify needs no settings: it runs wherever the binary is.
    if let Action::Classify { rules, input } = &action {
        return cli::classify::run(rules.as_deref(), input.as_deref());
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("job-rerunner: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    // The policy is checked before anything starts, and like a setting: one line, exit 2.
    let policy = match LivePolicy::load(settings.policy()) {
        Ok(policy) => policy,
        Err(err) => {
            eprintln!("job-rerunner: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    match action {
        Action::CheckConfig => cli::print_effective(&settings, &policy.current()),
        Action::Serve => serve(settings),
        Action::WhatIf { rules, since } => cli::what_if::run(&settings, &rules, since),
        Action::Classify { .. } => ExitCode::SUCCESS,
    }
}

fn serve(settings: Settings) -> ExitCode {
    let (log, _flush_on_exit) = logging::build(&settings.logging);
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
