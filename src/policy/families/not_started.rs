//! `@not_started`: GitHub never ran the job.
//!
//! A spending limit or a locked account, no runner with the requested labels, a job
//! no runner acquired. The service also knows this from the job itself (it ran no
//! step: reason `not_started`); these messages say it for text alone (`classify`,
//! pasted annotations).

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "not_started",
    class: Class::NotStarted,
    doc: "GitHub never ran the job: billing or spending limit, no runner with the labels, a job never acquired",
    patterns: &[
        Pattern {
            name: "billing",
            regex: r#"(?i)The job was not started because"#,
            weight: Weight::EndsJob,
            examples: &[
                Example {
                    text: "The job was not started because recent account payments have failed or your spending limit needs to be increased. Please check the 'Billing & plans' section in your settings",
                    source: "https://github.com/Arcticons-Team/Arcticons/issues/2757",
                },
                Example {
                    text: "The job was not started because recent account payments have failed or",
                    source: "https://github.com/saltstack/salt/pull/66484",
                },
            ],
        },
        Pattern {
            name: "not_acquired",
            regex: r#"(?i)The job was not acquired by Runner of type \S+ even after multiple attempts"#,
            weight: Weight::EndsJob,
            examples: &[
                Example {
                    text: "The job was not acquired by Runner of type hosted even after multiple attempts",
                    source: "https://github.com/spdk/spdk/issues/3876",
                },
                Example {
                    text: "The job was not acquired by Runner of type hosted even after multiple attempts",
                    source: "https://github.com/actions/runner/issues/4065",
                },
            ],
        },
        Pattern {
            name: "no_runner",
            regex: r#"(?i)No runner matching the specified labels was found|(?i)Can't find any online and idle self-hosted runner|(?i)no enabled runners online to process the request|(?i)^Waiting for a (?:self-hosted )?runner to pick ?up this job|(?i)^Job is completed before starting"#,
            weight: Weight::EndsJob,
            examples: &[
                Example {
                    text: "Waiting for a runner to pick up this job...",
                    source: "https://github.com/runs-on/runs-on/issues/168",
                },
                Example {
                    text: "Can't find any online and idle self-hosted runner in the current repository, account/organization and enterprise that matches the required labels: 'ubuntu-16.04'",
                    source: "https://github.com/go-vela/ui/pull/448",
                },
            ],
        },
    ],
};
