//! `@runner` (formerly `@infra`): the runner or GitHub's service ended the job.
//!
//! A job that failed with one of these failed because of the machine, not because of
//! the code: re-running it is what a person would do. The wording was checked against
//! the runner's source and public reports; GitHub words these messages, not us, and
//! varies their casing ("Github Actions has encountered…"), so they are matched
//! without regard to case. Each is anchored at the start of the message: a test that
//! prints or quotes one mid-line is no runner failure.
//!
//! Exit codes 137 and 143 alone (the step's process killed) are `@resources`: on real
//! text they were as often a build that outgrew the runner as a runner that went away,
//! and a runner that went away says so in one of the messages below.
//!
//! "The operation was canceled." alone is no proof (a step's own `timeout-minutes`
//! produces it too), so it is never a match: the real message is in the log or in
//! another annotation. "The job was not acquired by Runner of type …" is in
//! `@not_started`: such a job ran no step.

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "runner",
    class: Class::Transient,
    doc: "the runner was shut down, lost or deprovisioned, or GitHub's service failed the job",
    patterns: &[
        // actions/runner src/Runner.Worker/JobRunner.cs, ShutdownReason.UserCancelled
        // (the source writes the messages: the examples of the next one are its text).
        Pattern {
            name: "runner_shutdown",
            regex: r"(?i)^The runner has received a shutdown signal",
            weight: Weight::EndsJob,
            examples: &[Example {
                text: "The runner has received a shutdown signal. This can happen when the runner service is stopped, or a manually started runner is canceled.",
                source: "https://github.com/actions/runner/issues/2427",
            }],
        },
        // The same place, ShutdownReason.OperatingSystemShutdown (Windows services).
        Pattern {
            name: "os_shutdown",
            regex: r"(?i)^Operating system is shutting down for computer",
            weight: Weight::EndsJob,
            examples: &[Example {
                text: "Operating system is shutting down for computer '{Environment.MachineName}'",
                source: "https://github.com/actions/runner/blob/main/src/Runner.Worker/JobRunner.cs",
            }],
        },
        // GitHub's server when a runner stops sending heartbeats.
        Pattern {
            name: "runner_lost",
            regex: r"(?i)^The (?:self-hosted |hosted )?runner\b.* lost communication with the server",
            weight: Weight::EndsJob,
            examples: &[
                Example {
                    text: "The self-hosted runner: ci-runner-7 lost communication with the server. Verify the machine is running and has a healthy network connection. Anything in your workflow that terminates the runner process, starves it for CPU/Memory, or blocks its network access can cause this error.",
                    source: "https://github.com/actions/runner/issues/2624",
                },
                Example {
                    text: "The hosted runner: GitHub Actions 9 lost communication with the server. Anything in your workflow that terminates the runner process, starves it for CPU/Memory, or blocks its network access can cause this error.",
                    source: "https://github.com/fedimint/fedimint/issues/6021",
                },
                Example {
                    text: "The self-hosted runner lost communication with the server. Verify the machine is running and has a healthy network connection.",
                    source: "https://github.com/ankidroid/Anki-Android-Backend/issues/600",
                },
            ],
        },
        // Larger and hosted runners that vanished ("(Error Type: Disconnect)").
        Pattern {
            name: "hosted_runner_error",
            regex: r"(?i)^The hosted runner encountered an error while running your job",
            weight: Weight::EndsJob,
            examples: &[Example {
                text: "The hosted runner encountered an error while running your job. (Error Type: Disconnect).",
                source: "https://github.com/actions/runner-images/issues/10401",
            }],
        },
        // A hosted runner that could not be provisioned, or was lost while provisioned.
        Pattern {
            name: "provisioning",
            regex: r"(?i)^An error occurred while provisioning resources \(Error Type:",
            weight: Weight::EndsJob,
            examples: &[Example {
                text: "An error occurred while provisioning resources (Error Type: Disconnect).",
                source: "https://github.com/actions/runner-images/issues/3517",
            }],
        },
        // The runner's VM was taken back.
        Pattern {
            name: "deprovisioned",
            regex: r"(?i)^Received request to deprovision",
            weight: Weight::EndsJob,
            examples: &[Example {
                text: "Received request to deprovision: The request was cancelled by the remote provider.",
                source: "https://github.com/actions/runner-images/issues/9812",
            }],
        },
        // GitHub's service failed the job, often during an incident.
        Pattern {
            name: "internal_error",
            regex: r"(?i)^GitHub Actions has encountered an internal error when running your job",
            weight: Weight::EndsJob,
            examples: &[
                Example {
                    text: "GitHub Actions has encountered an internal error when running your job.",
                    source: "https://github.com/actions/runner/issues/744",
                },
                Example {
                    text: "Github Actions has encountered an internal error when running your job.",
                    source: "https://github.com/actions/runner-images/issues/3412",
                },
            ],
        },
    ],
};
