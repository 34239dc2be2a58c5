//! `@workflow`: the workflow, or a script or action it runs, is invalid.
//!
//! YAML GitHub cannot parse, expressions naming what does not exist, an action whose
//! `action.yml` cannot be found or loaded. A re-run reads the same file.

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "workflow",
    class: Class::Broken,
    doc: "the workflow file, an expression in it or an action's own definition is invalid",
    patterns: &[
        Pattern {
            name: "invalid_workflow",
            regex: r#"(?i)\bInvalid workflow file\b|(?i)The workflow is not valid|(?i)This run likely failed because of a workflow file issue|(?i)error parsing called workflow|(?i)You have an error in your yaml syntax on line \d+"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "Invalid workflow file : .github/workflows/github-actions.yml#L6",
                    source: "https://github.com/arneph/Katara/pull/3",
                },
                Example {
                    text: "Invalid workflow file: .github/workflows/update.yaml#L7",
                    source: "https://github.com/mindersec/minder-rules-and-profiles/pull/205",
                },
            ],
        },
        Pattern {
            name: "expression",
            regex: r#"(?i)Unrecognized (?:named-value|function): '|(?i)The template is not valid|\(Line: \d+, Col: \d+\): (?:Unexpected value|Required property is missing|Unexpected symbol|A sequence was not expected|A mapping was not expected)"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "(Line: 24, Col: 13): Unrecognized named-value: 'secrets'. Located at position 1 within expression: secrets.GH_PAT != ''",
                    source: "https://github.com/PavanMudigonda/html-reporter-github-pages/issues/55",
                },
                Example {
                    text: "/home/runner/work/pinecone-ts-client/pinecone-ts-client/./.github/actions/e2e-testing/edge/action.yml (Line: 20, Col: 25): Unrecognized named-value: 'secrets'. Located at position 1 within expression: secrets.VERCEL_TOKEN",
                    source: "https://github.com/pinecone-io/pinecone-ts-client/pull/259",
                },
            ],
        },
        Pattern {
            name: "action_file",
            regex: r#"(?i)^Fail(?:ed)? to load \S+action\.ya?ml|(?i)\bCan't find 'action\.ya?ml', 'action\.ya?ml' or 'Dockerfile'"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under '/home/runner/work/_actions/akaihola/darker/1.3.2'. Did you forget to run actions/checkout before running your local action?",
                    source: "https://github.com/akaihola/darker/issues/253",
                },
                Example {
                    text: "Fail to load /home/runner/work/_actions/GokulDas027/TelegramBridge/master/action.yml",
                    source: "https://github.com/GokulDas027/TelegramBridge/issues/2",
                },
            ],
        },
    ],
};
