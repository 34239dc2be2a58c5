//! `@permissions`: the job's token, or the organisation's policy, forbids what it does.
//!
//! `GITHUB_TOKEN` without the scope a step needs (often in a pull request from a
//! fork), a push refused, an `id-token: write` not granted, an action the
//! organisation does not allow. A re-run has the same permissions.

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "permissions",
    class: Class::Broken,
    doc: "the token lacks a permission: GITHUB_TOKEN scopes, pushes denied, actions not allowed by the organisation's policy",
    patterns: &[
        Pattern {
            name: "integration",
            regex: r#"(?i)Resource not accessible by (?:integration|personal access token)|(?i)refusing to allow (?:a GitHub App|an OAuth App|a Personal Access Token) to create or update workflow|(?i)Unable to get ACTIONS_ID_TOKEN_REQUEST_URL env variable"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "HttpError: Resource not accessible by integration",
                    source: "https://github.com/agrc/create-reminder-action/issues/176",
                },
                Example {
                    text: "Resource not accessible by integration",
                    source: "https://github.com/SamhammerAG/last-successful-build-action/issues/8",
                },
            ],
        },
        Pattern {
            name: "push_denied",
            regex: r#"(?i)Permission to \S+ denied to \S+|(?i)The requested URL returned error: 403\b|(?i)denied: (?:permission_denied|installation not allowed|requested access to the resource is denied)|\binsufficient_scope\b"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "remote: Permission to --- denied to github-actions[bot].",
                    source: "https://github.com/maxam2017/productive-box/pull/92",
                },
                Example {
                    text: "remote: Permission to zzc8081/yarb.git denied to github-actions[bot].",
                    source: "https://github.com/Vu1nT0tal/yarb/issues/17",
                },
            ],
        },
        Pattern {
            name: "actions_policy",
            regex: r#"(?i)is not allowed to be used in \S+\. Actions in this workflow must be|(?i)all actions must be from a repository owned by"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "The action al-cheb/configure-pagefile-action@86589fd789a4de3e62ba628dda2cb10027b66d67 is not allowed in apache/incubator-kie-tools because all actions must be from a repository owned by your enterprise, created by GitHub, verified in the GitHub Marketplace...",
                    source: "https://github.com/apache/incubator-kie-tools/issues/3368",
                },
                Example {
                    text: "actions/checkout@v2 is not allowed to be used in n370/awesome-headless-cms. Actions in this workflow must be: within a repository owned by n370.",
                    source: "https://github.com/n370/awesome-headless-cms/issues/16",
                },
            ],
        },
    ],
};
