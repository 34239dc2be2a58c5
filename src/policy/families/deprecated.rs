//! `@deprecated`: something the workflow relies on is deprecated, removed or missing.
//!
//! An action version GitHub now refuses, an action that cannot be resolved, a tool
//! version the `setup-*` action cannot find, a retired runner image. A re-run finds it missing again. Deprecation *warnings* are
//! warnings: they never decide a job.

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "deprecated",
    class: Class::Broken,
    doc: "an action version, runner image or tool version that is deprecated, removed or missing",
    patterns: &[
        Pattern {
            name: "deprecated_action",
            regex: r#"(?i)This request has been automatically failed because it uses a deprecated version of|(?i)Missing download info for actions/|(?i)This legacy service is shutting down"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "This request has been automatically failed because it uses a deprecated version of `actions/upload-artifact: v3`. Learn more: https://github.blog/changelog/2024-04-16-deprecation-notice-v3-of-the-artifact-actions/",
                    source: "https://github.com/awalsh128/cache-apt-pkgs-action/issues/147",
                },
                Example {
                    text: "This request has been automatically failed because it uses a deprecated version of `actions/upload-artifact: v2`. Learn more: https://github.blog/changelog/2024-02-13-deprecation-notice-v1-and-v2-of-the-artifact-actions/",
                    source: "https://github.com/machsix/Super-preloader/pull/1308",
                },
            ],
        },
        Pattern {
            name: "unresolved_action",
            regex: r#"(?i)Unable to resolve actions?\b|(?i)\bunable to find version `"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "Unable to resolve action `akaihola/darker@1.4.0`, unable to find version `1.4.0`",
                    source: "https://github.com/akaihola/darker/issues/253",
                },
                Example {
                    text: "Unable to resolve actions. Repository not found: hashicorp/packer-github-actions.",
                    source: "https://github.com/hashicorp/setup-packer/issues/70",
                },
            ],
        },
        Pattern {
            name: "tool_version",
            regex: r#"(?i)The version '[^']+' with architecture '[^']+' was not found|(?i)\bVersion \S+ with arch \S+ not found|(?i)Version \S+ was not found in the local cache|(?i)go\.mod requires go >= |(?i)version `GLIBC_[\d.]+' not found"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "Version 3.[6](https://github.com/offscale/cdd-python/actions/runs/3494131617/jobs/5857054239#step:3:6) was not found in the local cache",
                    source: "https://github.com/actions/setup-python/issues/544",
                },
                Example {
                    text: "Version 3.9.6 was not found in the local cache",
                    source: "https://github.com/actions/setup-python/issues/552",
                },
            ],
        },
        Pattern {
            name: "retired_image",
            regex: r#"(?i)This is a scheduled [\w. -]+ brownout|(?i)The [\w. -]+ environment is deprecated|(?i)The `(?:set-env|add-path)` command is disabled"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "This is a scheduled Ubuntu-18.04 brownout. The Ubuntu-18.04 environment is deprecated and will be removed on April 1st, 2023. For more details, see https://github.com/actions/runner-images/issues/6002",
                    source: "https://github.com/chinthakagodawita/autoupdate/issues/364",
                },
                Example {
                    text: "This is a scheduled Ubuntu-18.04 brownout. The Ubuntu-18.04 environment is deprecated and will be removed on December 1st, 2022. For more details, see https://github.com/actions/runner-images/issues/6002",
                    source: "https://github.com/oxidecomputer/omicron/issues/1637",
                },
            ],
        },
    ],
};
