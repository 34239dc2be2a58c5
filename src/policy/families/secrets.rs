//! `@secrets`: a secret or an input the job needs is missing or wrong.
//!
//! An action input that was never supplied (often a secret that is empty in a fork's
//! pull request), credentials GitHub or a registry refused. A re-run gets the same
//! secrets.

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "secrets",
    class: Class::Broken,
    doc: "a secret or input is missing or wrong: required inputs not supplied, bad credentials, registries refusing the login",
    patterns: &[
        Pattern {
            name: "input_missing",
            regex: r#"(?i)Input required and not supplied: |(?i)Parameter token or opts\.auth is required|(?i)Missing input '|(?i)\bUsername and password required\b|(?i)Must provide --username with --password-stdin"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "+ echo '::error::[2023-02-13T17:26:08+0000]: Missing input '\\''source_repo_path: ${{ input.source_repo_path }}'\\''.'",
                    source: "https://github.com/AndreasAugustin/actions-template-sync/issues/312",
                },
                Example {
                    text: "Unhandled error: Error: Input required and not supplied: github-token",
                    source: "https://github.com/google/adk-python/issues/3383",
                },
            ],
        },
        Pattern {
            name: "bad_credentials",
            regex: r#"(?i)\bBad credentials\b|(?i)unauthorized: incorrect username or password|(?i)unauthorized: authentication required|(?i)\bcould not read Username for 'https?://[^']+': terminal prompts disabled|(?i)\bHost key verification failed\b|\bE401\b|(?i)\bnpm (?:ERR!|error) code ENEEDAUTH\b"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "Error response from daemon: Get https://registry-1.docker.io/v2/: unauthorized: incorrect username or password",
                    source: "https://github.com/docker/login-action/issues/95",
                },
                Example {
                    text: "fatal: could not read Username for 'https://github.com': terminal prompts disabled",
                    source: "https://github.com/actions/checkout/issues/62",
                },
            ],
        },
        Pattern {
            name: "cloud_credentials",
            regex: r#"(?i)Could not load credentials from any providers|(?i)Unable to locate credentials|(?i)Credentials could not be loaded|(?i)the secret is being injected|(?i)\bsecrets are not passed to workflows triggered from forks"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "google-github-actions/auth failed with: the GitHub Action workflow must specify exactly one of \"workload_identity_provider\" or \"credentials_json\"! If you are specifying input values via GitHub secrets, ensure the secret is being injected into the environment. By default, secrets are not passed to workflows triggered from forks, including Dependabot.",
                source: "https://github.com/google/adk-python/issues/3383",
            }],
        },
    ],
};
