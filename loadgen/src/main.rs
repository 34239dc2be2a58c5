//! `loadgen`: the benchmark of job-rerunner. One command runs everything:
//!
//! ```text
//! cargo run --release -p loadgen [-- --help]
//! ```
//!
//! It starts its servers as child processes of itself (hidden subcommands `serve-noop`,
//! `serve-noop-hmac`, `serve-noop-hmac-parse` and `serve-service`), runs a fake GitHub
//! API on a thread of its own, loads the servers with signed ~8.5 KB `workflow_job`
//! webhooks over a hand-written HTTP/1.1 keep-alive client, and prints a summary.
//! BENCHMARK.md describes the modes and the figures.
//!
//! It is a package of its own in the workspace (`loadgen/`), so its dependencies
//! (hdrhistogram, libc) stay out of the service's build: `cargo build --release` at
//! the root builds the service only. That is also why it takes `-p loadgen`: cargo's
//! `--bin` looks only in the workspace's default members, which is the service alone.

mod bench;
mod child;
mod cli;
mod client;
mod database;
mod engine;
mod fake_github;
mod fake_log;
mod metrics;
mod payload;
mod report;
mod scratch;
mod servers;
mod stats;
mod workload;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve-noop") => return servers::serve_noop(),
        Some("serve-service") => return servers::serve_service(),
        Some(other) => {
            if let Some(floor) = servers::Floor::from_subcommand(other) {
                return servers::serve_floor(floor);
            }
        }
        None => {}
    }
    let options = match cli::parse(&args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{}", cli::HELP);
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("loadgen: {err}");
            return ExitCode::from(2);
        }
    };
    let json = options.json;
    let database_url = options.database_url.clone();
    let measured = bench::Bench::new(options).and_then(bench::Bench::run);
    if let Some(admin) = database_url {
        // The servers are stopped by now: their databases can go.
        if let Err(err) = database::drop_all(&admin) {
            eprintln!("loadgen: dropping the benchmark's databases: {err}");
        }
    }
    let summary = match measured {
        Ok(summary) => summary,
        Err(err) => {
            eprintln!("loadgen: {err}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        match serde_json::to_string_pretty(&summary) {
            Ok(text) => println!("{text}"),
            Err(err) => {
                eprintln!("loadgen: {err}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", summary.table());
    }
    if summary.check_failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
