//! A check run's texts on any job name and evidence: every byte of them ends up inside
//! a code span of the summary (what is left outside the spans is the fixed template,
//! whatever the input), a code span of any text is one span, and nothing panics.

#![no_main]

use job_rerunner::github::check_run::{skipped, started};
use job_rerunner::github::markdown::{code, outside_code};
use job_rerunner::ids::CommitSha;
use libfuzzer_sys::fuzz_target;

const SHA: CommitSha = CommitSha([0xab; 20]);

fuzz_target!(|input: &str| {
    assert_eq!(outside_code(&code(input)), "", "{input:?}");
    let (name, evidence) = input.split_once('\u{1f}').unwrap_or((input, input));
    let template = started(SHA, 1, 3, &["x".to_owned()], Some("x"));
    let report = started(SHA, 1, 3, &[name.to_owned()], Some(evidence));
    assert_eq!(outside_code(&report.summary), outside_code(&template.summary));
    let template = skipped(SHA, "x");
    let report = skipped(SHA, evidence);
    assert_eq!(outside_code(&report.summary), outside_code(&template.summary));
});
