//! `@dependency`: the dependencies as written cannot be resolved.
//!
//! A version that does not exist, requirements that conflict, a lock file that no
//! longer matches the manifest, an image tag that is gone. A re-run resolves the same
//! manifest the same way (a registry that briefly served a 404 is the rare exception,
//! and learning, not this family, is the way to trust a re-run there).

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "dependency",
    class: Class::Broken,
    doc: "a dependency cannot be resolved: versions that do not exist, conflicting requirements, lock files out of date",
    patterns: &[
        Pattern {
            name: "npm_resolve",
            regex: r#"\bERESOLVE\b|(?i)\bcan only install packages when your package\.json and package-lock\.json\b|npm (?:ERR!|error) code (?:ETARGET|E404)\b|(?i)\bnotarget No matching version found for\b|(?i)No matching version found for \S+"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "npm ERR! code ERESOLVE",
                    source: "https://github.com/codeforkagoshima/covid19/pull/617",
                },
                Example {
                    text: "npm ERR! `npm ci` can only install packages when your package.json and package-lock.json or npm-shrinkwrap.json are in sync. Please update your lock file with `npm install` before continuing.",
                    source: "https://github.com/h5bp/create-html5-boilerplate/issues/296",
                },
            ],
        },
        Pattern {
            name: "lockfile",
            regex: r#"ERR_PNPM_(?:OUTDATED_LOCKFILE|FROZEN_LOCKFILE_WITH_OUTDATED_LOCKFILE|NO_MATCHING_VERSION)\b|(?i)Your lockfile needs to be updated, but yarn was run with `--frozen-lockfile`|YN0028: The lockfile would have been modified|(?i)needs to be updated but --locked was passed|missing go\.sum entry|go: updates to go\.mod needed"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "ERR_PNPM_OUTDATED_LOCKFILE  Cannot install with \"frozen-lockfile\" because pnpm-lock.yaml is not up-to-date with packages/config/package.json",
                    source: "https://github.com/JamieMason/syncpack-github-action/pull/1",
                },
                Example {
                    text: "ERR_PNPM_FROZEN_LOCKFILE_WITH_OUTDATED_LOCKFILE  Cannot perform a frozen installation because the lockfile needs updates",
                    source: "https://github.com/hyoban/rss-to-bot/issues/2",
                },
            ],
        },
        Pattern {
            name: "python_resolve",
            regex: r#"(?i)No matching distribution found for|(?i)Could not find a version that satisfies the requirement \S+ \(from versions: [\d\w]|ResolutionImpossible|(?i)\bSolverProblemError\b|(?i)\bversion solving failed\b"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "No matching distribution found for GitPython===3.0.5",
                    source: "https://github.com/peter-evans/create-pull-request/issues/96",
                },
                Example {
                    text: "ERROR: No matching distribution found for partcad-utils==0.7.158",
                    source: "https://github.com/partcad/partcad/pull/508",
                },
            ],
        },
        Pattern {
            name: "cargo_resolve",
            regex: r#"(?i)failed to select a version for|(?i)no matching package named"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "error: failed to select a version for the requirement `git-cliff-core = \"^0.2.5\"`",
                source: "https://github.com/LukeMathWalker/cargo-chef/issues/93",
            }],
        },
        Pattern {
            name: "jvm_resolve",
            regex: r#"Could not find artifact \S+ in |(?i)^\s*> Could not find [\w.-]+:[\w.-]+:[\w.-]+\."#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "[ERROR] Plugin org.apache.maven.plugins:maven-surefire-plugin:2.18.2 or one of its dependencies could not be resolved: Could not find artifact org.apache.maven.plugins:maven-surefire-plugin:jar:2.18.2 in central (https://repo.maven.apache.org/maven2) -> [Help 1]",
                source: "https://github.com/camelinaction/camelinaction2/issues/24",
            }],
        },
    ],
};
