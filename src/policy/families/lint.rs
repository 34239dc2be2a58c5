//! `@lint`: a linter or a formatter check failed.
//!
//! rustfmt and black diffs, prettier and eslint reports,
//! ruff and flake8 codes, golangci-lint's linters, shellcheck and hadolint rules. A
//! re-run lints the same code.

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "lint",
    class: Class::Broken,
    doc: "a linter or formatter check failed: rustfmt, black, prettier, eslint, ruff, flake8, golangci-lint, shellcheck, hadolint",
    patterns: &[
        Pattern {
            name: "formatters",
            regex: r#"^Diff in \S+|^would reformat |(?i)\b\d+ files? would be reformatted|Oh no! 💥 💔 💥|(?i)Code style issues (?:found|were found) in|(?i)Run Prettier with --write to fix"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "would reformat /home/runner/work/py-shiny/py-shiny/examples/airmass/location.py",
                    source: "https://github.com/posit-dev/py-shiny/issues/2147",
                },
                Example {
                    text: "Diff in /home/travis/build/gnzlbg/ctest/src/lib.rs at line 721:",
                    source: "https://github.com/rust-lang/rustfmt/issues/3136",
                },
            ],
        },
        Pattern {
            name: "eslint",
            regex: r#"^\s*\d+:\d+\s+error\s+.+\s{2,}[\w/@-]+$"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "47:28  error  Missing space before function parentheses  space-before-function-paren",
                source: "https://github.com/uswds/uswds/issues/2018",
            }],
        },
        Pattern {
            name: "eslint_summary",
            regex: r#"✖ \d+ problems? \(\d+ errors?"#,
            weight: Weight::Summary,
            examples: &[Example {
                text: "✖ 1 problem (1 error, 0 warnings)",
                source: "https://github.com/uswds/uswds/issues/2018",
            }],
        },
        Pattern {
            name: "python_lint",
            regex: r#"^\S+\.py:\d+:\d+: [A-Z]{1,3}\d{3,4} |^Found \d+ errors?\.$"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "tests/testapp/sixmock.py:2:80: E501 line too long (92 > 79 characters)",
                    source: "https://github.com/zsoldosp/django-act-as-auth/issues/17",
                },
                Example {
                    text: "home/forms.py:1:1: F401 're' imported but unused",
                    source: "https://github.com/Yadgah/Yadgah/issues/8",
                },
            ],
        },
        Pattern {
            name: "go_lint",
            regex: r#"\.go:\d+:\d+: .*\((?:errcheck|govet|staticcheck|unused|gosimple|ineffassign|revive|gofmt|gofumpt|goimports|stylecheck|gocritic|misspell|lll|gosec|typecheck|unparam|prealloc|dupl|nakedret)\)$"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "server/plugin_test.go:29:2: b declared but not used (typecheck)",
                source: "https://github.com/mattermost-community/focalboard/pull/2844",
            }],
        },
        Pattern {
            name: "shell_docker_lint",
            regex: r#"\bSC\d{4}\b.*(?:\((?:error|warning|info|style)\)|:)|\bDL\d{4}\b"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: ".github/workflows/release.yml:20:9: shellcheck reported issue in this script: SC2086:info:1:51: Double quote to prevent globbing and word splitting [shellcheck]",
                    source: "https://github.com/rhysd/actionlint/issues/42",
                },
                Example {
                    text: "^------------^ SC2086: Double quote to prevent globbing and word splitting.",
                    source: "https://github.com/CircleCI-Archived/orb-starter-kit/pull/31",
                },
            ],
        },
    ],
};
