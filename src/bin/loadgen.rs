//! `loadgen`: the benchmark of job-rerunner. One command runs everything:
//!
//! ```text
//! cargo run --release --bin loadgen [-- --help]
//! ```
//!
//! It starts its servers as child processes of itself (hidden subcommands `serve-noop`,
//! `serve-noop-hmac`, `serve-noop-hmac-parse` and `serve-service`), runs a fake GitHub
//! API on a thread of its own, loads the servers with signed ~8.5 KB `workflow_job`
//! webhooks over a hand-written HTTP/1.1 keep-alive client, and prints a summary.
//! BENCHMARK.md describes the modes and the figures.
//!
//! The modules live in `src/bin/loadgen/` (hence the `#[path]`s: a binary's root file
//! looks for modules beside itself).

#[path = "loadgen/bench.rs"]
mod bench;
#[path = "loadgen/child.rs"]
mod child;
#[path = "loadgen/cli.rs"]
mod cli;
#[path = "loadgen/client.rs"]
mod client;
#[path = "loadgen/database.rs"]
mod database;
#[path = "loadgen/engine.rs"]
mod engine;
#[path = "loadgen/fake_github.rs"]
mod fake_github;
#[path = "loadgen/payload.rs"]
mod payload;
#[path = "loadgen/report.rs"]
mod report;
#[path = "loadgen/scratch.rs"]
mod scratch;
#[path = "loadgen/servers.rs"]
mod servers;
#[path = "loadgen/stats.rs"]
mod stats;
#[path = "loadgen/workload.rs"]
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
    let failed_check = summary.rerun_check.as_ref().is_some_and(|c| !c.pass);
    if failed_check {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
