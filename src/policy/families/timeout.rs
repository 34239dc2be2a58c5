//! `@timeout`: a test ran out of time.
//!
//! A test that hit its runner's time limit (Go's `-timeout`, jest's and mocha's
//! per-test limits, vitest, Playwright, pytest-timeout) on a shared CI machine. In the
//! corpus, most such failures passed on a re-run: the machine was slow, not the code
//! wrong. A test that fails an assertion is `@test`; when one test timed out and
//! another failed an assertion, the assertion decides (a broken cause outweighs a
//! transient one).

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "timeout",
    class: Class::Transient,
    doc: "a test ran out of time on a slow runner: Go's test timeout, jest, mocha, vitest, Playwright and pytest-timeout limits",
    patterns: &[
        Pattern {
            name: "go_test_timeout",
            regex: r#"^panic: test timed out after \d"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "panic: test timed out after 10m0s",
                    source: "https://github.com/ssbc/go-ssb/issues/192",
                },
                Example {
                    text: "panic: test timed out after 1m0s",
                    source: "https://github.com/vocdoni/vocdoni-node/issues/617",
                },
            ],
        },
        Pattern {
            name: "js_test_timeout",
            regex: r#"(?i)\bExceeded timeout of \d+ ?ms for a (?:test|hook)\b|Timeout - Async callback was not invoked within|(?i)\bTimeout of \d+ ?ms exceeded\b|(?i)\bTest timed out in \d+ ?ms\b|(?i)\bTest timeout of \d+ ?ms exceeded\b"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "Timeout - Async callback was not invoked within the 5000ms timeout specified by jest.setTimeout.",
                    source: "https://github.com/sourcecred/sourcecred/issues/719",
                },
                Example {
                    text: "thrown: \"Exceeded timeout of 5000 ms for a test.",
                    source: "https://github.com/Redocly/redoc/issues/2674",
                },
            ],
        },
        Pattern {
            name: "python_test_timeout",
            regex: r#"^\s*(?:E\s+)?Failed: Timeout >\d|subprocess\.TimeoutExpired: Command |\]' timed out after \d+(?:\.\d+)? seconds$"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "subprocess.TimeoutExpired: Command '['/bin/bash', 'src/watch-tasks-stream.sh',",
                source: "https://github.com/sonichi/sutando/issues/2805",
            }],
        },
    ],
};
