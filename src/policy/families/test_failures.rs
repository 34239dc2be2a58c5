//! `@test`: the tests ran and some failed.
//!
//! The failure lines and summaries of the common test runners. Tests can be flaky, and
//! a policy cannot tell a flaky test from a broken one by its words: that is what
//! learning is for (a signature whose re-runs passed in this repository). A test line
//! that also names a network error is `@network` (the families are tried in order).

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "test",
    class: Class::Broken,
    doc: "tests failed: the failures and summaries of cargo test, pytest, jest, mocha, go test, JUnit, RSpec, PHPUnit, dotnet test and ctest",
    patterns: &[
        Pattern {
            name: "rust_test",
            regex: r#"thread '[^']*' panicked at|assertion `left (?:==|!=) right` failed"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "assertion `left == right` failed",
                    source: "https://github.com/apache/casbin-rs/issues/406",
                },
                Example {
                    text: "thread 'kad::addresses::tests::not_connected_expire' panicked at 'assertion failed: `(left == right)`",
                    source: "https://github.com/stegos/stegos/issues/717",
                },
            ],
        },
        Pattern {
            name: "rust_test_summary",
            regex: r#"test result: FAILED|error: test failed, to rerun pass"#,
            weight: Weight::Summary,
            examples: &[Example {
                text: "test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 1 filtered out; finished in 0.00s",
                source: "https://github.com/diem/diem/issues/8661",
            }],
        },
        Pattern {
            name: "pytest",
            regex: r#"^FAILED \S+::|^ERROR \S+::|^E\s+AssertionError"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "FAILED test_example.py::test_fail - assert 0",
                    source: "https://github.com/pytest-dev/pytest/blob/main/doc/en/how-to/output.rst",
                },
                Example {
                    text: "ERROR test_example.py::test_error - assert 0",
                    source: "https://github.com/pytest-dev/pytest/blob/main/doc/en/how-to/output.rst",
                },
            ],
        },
        Pattern {
            name: "pytest_summary",
            regex: r#"^=+ .*\b\d+ (?:failed|errors?)\b.* =+$"#,
            weight: Weight::Summary,
            examples: &[Example {
                text: "=========== 3 failed, 234 passed, 120 warnings in 105.97s (0:01:45) ============",
                source: "https://github.com/ASFHyP3/hyp3/issues/3157",
            }],
        },
        Pattern {
            name: "js_test",
            regex: r#"expect\(received\)\.|^\s*●\s.+›"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "expect(received).toEqual(expected)",
                source: "https://github.com/postlight/ci-failed-test-reporter/pull/4",
            }],
        },
        Pattern {
            name: "js_test_summary",
            regex: r#"^\s*Tests:\s+\d+ failed|^FAIL\s+\S+\.(?:[jt]sx?|[cm]js|vue|svelte)\b|^\s*\d+ failing$"#,
            weight: Weight::Summary,
            examples: &[Example {
                text: "FAIL __tests__/git.test.ts",
                source: "https://github.com/JamesIves/github-pages-deploy-action/issues/866",
            }],
        },
        Pattern {
            name: "go_test",
            regex: r#"^--- FAIL: "#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "--- FAIL: TestRunner_PRGuard_MergeBaseFailure_OpenPRExists_EndsCompleted (0.03s)",
                source: "https://github.com/qf-studio/pilot/issues/5370",
            }],
        },
        Pattern {
            name: "go_test_summary",
            regex: r#"^FAIL\s+\S+\s+[\d.]+s$|^FAIL$"#,
            weight: Weight::Summary,
            examples: &[Example {
                text: "FAIL",
                source: "https://github.com/keikoproj/upgrade-manager/issues/68",
            }],
        },
        Pattern {
            name: "jvm_test",
            regex: r#"AssertionFailedError\b|expected: ?<[^>]*> but was: ?<"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "org.opentest4j.AssertionFailedError: expected: <4> but was: <5>",
                source: "https://github.com/aistomin/maven-browser/issues/139",
            }],
        },
        Pattern {
            name: "jvm_test_summary",
            regex: r#"Tests run: \d+, Failures: (?:[1-9]\d*, Errors: \d+|\d+, Errors: [1-9])|There (?:was|were) \d+ failures?|\d+ tests? completed, \d+ failed|(?i)There (?:were|are) (?:failing tests|test failures)"#,
            weight: Weight::Summary,
            examples: &[
                Example {
                    text: "[ERROR] Tests run: 6, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 1.815 s <<< FAILURE! - in com.github.aistomin.maven.browser.MavenCentralTest",
                    source: "https://github.com/aistomin/maven-browser/issues/139",
                },
                Example {
                    text: "Tests run: 1015, Failures: 2, Errors: 0, Skipped: 0",
                    source: "https://github.com/pkiraly/qa-catalogue/issues/457",
                },
            ],
        },
        Pattern {
            name: "other_test",
            regex: r#"AssertionError\b|(?i)\bassertion failed\b|XCTAssert\w* failed|Failed asserting that"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "thread 'kad::addresses::tests::not_connected_expire' panicked at 'assertion failed: `(left == right)`",
                    source: "https://github.com/stegos/stegos/issues/717",
                },
                Example {
                    text: "Failed asserting that two arrays are identical.",
                    source: "https://github.com/sebastianbergmann/phpunit/issues/4319",
                },
            ],
        },
        Pattern {
            name: "other_test_summary",
            regex: r#"^FAILURES!$|^\d+ examples?, [1-9]\d* failures?|^Failed!\s+- Failed:\s+[1-9]|\d+% tests passed, \d+ tests? failed out of"#,
            weight: Weight::Summary,
            examples: &[Example {
                text: "FAILURES!",
                source: "https://github.com/GCTC-NTGC/gc-digital-talent/issues/3624",
            }],
        },
    ],
};
