//! The payload classifier on any body: it answers (a typed event, an ignore reason or a
//! 400 reason), never panics, answers the same twice, and a job event it lets through
//! has what validation promises (a valid `owner/name`; an attempt below RUN_ATTEMPTS,
//! or a completion of one at or above it, marked to teach only).

#![no_main]

use std::collections::HashMap;
use std::sync::LazyLock;

use job_rerunner::http::Door;
use job_rerunner::http::payload::{Classified, classify};
use job_rerunner::ids::RepoName;
use job_rerunner::run::JobAction;
use job_rerunner::settings::Settings;
use libfuzzer_sys::fuzz_target;

static SETTINGS: LazyLock<Settings> = LazyLock::new(|| {
    let vars = HashMap::from([
        ("GITHUB_SIGN_KEY".to_owned(), "fuzz".to_owned()),
        (
            "NO_RETRY_LIST".to_owned(),
            "dependabot[bot],renovate[bot]".to_owned(),
        ),
    ]);
    Settings::from_vars(vars).expect("valid settings")
});

/// The door the service builds from those settings.
static DOOR: LazyLock<Door> = LazyLock::new(|| SETTINGS.door());

fuzz_target!(|body: &[u8]| {
    let first = classify(
        body,
        Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        &DOOR,
    );
    let again = classify(
        body,
        Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        &DOOR,
    );
    assert_eq!(first, again, "classified twice, answered differently");
    if let Ok(Classified::Job(event)) = first {
        assert!(RepoName::parse(event.run.repo.as_str()).is_ok());
        match event.beyond_attempts {
            None => assert!(event.run_attempt < SETTINGS.run_attempts),
            Some(_) => assert!(matches!(event.action, JobAction::Completed(_))),
        }
    }
});
