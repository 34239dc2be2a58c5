//! End-to-end tests: the real service on port 0, a fake GitHub on 127.0.0.1, real
//! signed HTTP requests.

mod check_run_text;
mod cli;
mod database_errors;
mod docs;
mod effects;
mod evidence;
mod evidence_limits;
mod evidence_policy;
mod faults;
mod github_app;
mod github_trouble;
mod hardening_http;
mod helpers;
mod instances;
mod learning;
mod logs;
mod observe;
mod operate;
mod policy;
mod postgres;
mod process;
mod quick_start;
mod redelivery;
mod rerun_trips;
mod reruns;
mod restart;
mod sleeping;
mod status_codes;
mod status_page;
mod store;
mod storm;
mod workflow_run;
