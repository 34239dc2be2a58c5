//! `@infra`: GitHub's own infrastructure failure messages, in one documented list.
//!
//! A job that failed with one of these failed because of the machine, not because of
//! the code: re-running it is what a person would do. `@infra` in `only_when` or
//! `never_when` stands for every pattern below. The wording was checked against the
//! runner's source and against public reports (cited per entry); GitHub words these
//! messages, not us, so each entry has a test with the message as GitHub writes it.
//!
//! Every pattern is anchored at the start of the line, after an optional `##[error]`
//! (annotations, and log lines once their timestamp is stripped, start with the
//! message): a test that prints or quotes one of these messages mid-line is not an
//! infrastructure failure.
//!
//! GitHub has moved some of these messages from the check-run annotations into the log
//! only; the annotation then just says "The operation was canceled.". That sentence
//! alone is no proof (a step's own `timeout-minutes` produces it too), so it is never
//! a match: the decision looks at both the annotations and the log, and the real
//! message is in one of them.
//!
//! Not listed: "The job was not acquired by Runner of type … even after multiple
//! attempts" (such a job ran no step, so `not_started` decides it first and no pattern
//! is ever tried), and "An internal error occurred" alone (wording seen in no report;
//! ordinary programs print it).

/// One built-in pattern.
#[derive(Clone, Copy, Debug)]
pub struct InfraPattern {
    /// A short name, shown in the effective policy and in tests.
    pub name: &'static str,
    /// The regex, matched against each annotation and log line.
    pub regex: &'static str,
    /// The messages as GitHub writes them (each must match).
    pub examples: &'static [&'static str],
}

/// The patterns `@infra` expands to.
pub const INFRA: &[InfraPattern] = &[
    // actions/runner src/Runner.Worker/JobRunner.cs, ShutdownReason.UserCancelled;
    // reported in actions/runner#2427 (annotation and log), runner-images#6680.
    InfraPattern {
        name: "runner_shutdown",
        regex: r"^(?:##\[error\])?The runner has received a shutdown signal",
        examples: &[
            "The runner has received a shutdown signal. This can happen when the runner service is stopped, or a manually started runner is canceled.",
            "##[error]The runner has received a shutdown signal. This can happen when the runner service is stopped, or a manually started runner is canceled.",
        ],
    },
    // The same place, ShutdownReason.OperatingSystemShutdown (Windows services).
    InfraPattern {
        name: "os_shutdown",
        regex: r"^(?:##\[error\])?Operating system is shutting down for computer",
        examples: &["Operating system is shutting down for computer 'runner-42'"],
    },
    // GitHub's server when a runner stops sending heartbeats: actions/runner#2624 and
    // #2040 (self-hosted, with and without the runner's name), fedimint#6021 (hosted),
    // ankidroid/Anki-Android-Backend#600 (self-hosted, no name).
    InfraPattern {
        name: "runner_lost",
        regex: r"^(?:##\[error\])?The (?:self-hosted |hosted )?runner\b.* lost communication with the server",
        examples: &[
            "The self-hosted runner: ci-runner-7 lost communication with the server. Verify the machine is running and has a healthy network connection. Anything in your workflow that terminates the runner process, starves it for CPU/Memory, or blocks its network access can cause this error.",
            "The hosted runner: GitHub Actions 9 lost communication with the server. Anything in your workflow that terminates the runner process, starves it for CPU/Memory, or blocks its network access can cause this error.",
            "The self-hosted runner lost communication with the server. Verify the machine is running and has a healthy network connection.",
        ],
    },
    // Larger and hosted runners that vanished (users' reports quote the annotations:
    // "(Error Type: Disconnect)" and "(Error Type: Failure)").
    InfraPattern {
        name: "hosted_runner_error",
        regex: r"^(?:##\[error\])?The hosted runner encountered an error while running your job",
        examples: &[
            "The hosted runner encountered an error while running your job. (Error Type: Disconnect).",
            "The hosted runner encountered an error while running your job. (Error Type: Failure).",
        ],
    },
    // The same reports: the runner's VM was taken back.
    InfraPattern {
        name: "deprovisioned",
        regex: r"^(?:##\[error\])?Received request to deprovision",
        examples: &[
            "Received request to deprovision: The request was cancelled by the remote provider.",
        ],
    },
    // actions/runner#744 and #1727, actions/runner-images#2179 and #9519: GitHub's
    // service failed the job, often during an incident.
    InfraPattern {
        name: "internal_error",
        regex: r"^(?:##\[error\])?GitHub Actions has encountered an internal error when running your job",
        examples: &[
            "GitHub Actions has encountered an internal error when running your job.",
            "##[error]GitHub Actions has encountered an internal error when running your job.",
        ],
    },
    // 143 = 128 + SIGTERM, 137 = 128 + SIGKILL: the step's process was killed, by a
    // runner that shut down (runner-images#6680 shows 143 beside the shutdown message,
    // actions/runner#3724 shows 137 beside it) or by the machine running out of memory
    // (jackc/pgx#1934, actions/runner#3521).
    InfraPattern {
        name: "killed",
        regex: r"^(?:##\[error\])?Process completed with exit code (?:137|143)\b",
        examples: &[
            "Process completed with exit code 143.",
            "##[error]Process completed with exit code 137.",
        ],
    },
];

/// The word that stands for [`INFRA`] in a pattern list.
pub const INFRA_TOKEN: &str = "@infra";

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn any_matches(line: &str) -> Option<&'static str> {
        INFRA.iter().find_map(|p| {
            Regex::new(p.regex)
                .expect("built-in patterns compile")
                .is_match(line)
                .then_some(p.name)
        })
    }

    #[test]
    fn every_built_in_pattern_matches_each_of_its_messages() {
        for pattern in INFRA {
            let regex = Regex::new(pattern.regex).expect(pattern.name);
            assert!(!pattern.examples.is_empty(), "{}", pattern.name);
            for example in pattern.examples {
                assert!(regex.is_match(example), "{}: {example}", pattern.name);
            }
        }
    }

    #[test]
    fn the_runner_shutdown_message_is_infra() {
        assert_eq!(
            any_matches(
                "##[error]The runner has received a shutdown signal. This can happen when the runner service is stopped, or a manually started runner is canceled."
            ),
            Some("runner_shutdown")
        );
    }

    #[test]
    fn a_self_hosted_runner_that_lost_communication_is_infra() {
        assert_eq!(
            any_matches(
                "The self-hosted runner: box-3 lost communication with the server. Verify the machine is running and has a healthy network connection."
            ),
            Some("runner_lost")
        );
    }

    #[test]
    fn a_hosted_runner_that_lost_communication_is_infra() {
        assert_eq!(
            any_matches("The hosted runner: GitHub Actions 12 lost communication with the server."),
            Some("runner_lost")
        );
    }

    #[test]
    fn every_built_in_pattern_is_anchored_at_the_start_of_the_message() {
        for pattern in INFRA {
            assert!(
                pattern.regex.starts_with(r"^(?:##\[error\])?"),
                "{}",
                pattern.name
            );
        }
    }

    #[test]
    fn an_internal_error_is_infra() {
        assert_eq!(
            any_matches("GitHub Actions has encountered an internal error when running your job."),
            Some("internal_error")
        );
    }

    #[test]
    fn exit_codes_143_and_137_are_infra_and_other_codes_are_not() {
        assert_eq!(
            any_matches("Process completed with exit code 143."),
            Some("killed")
        );
        assert_eq!(
            any_matches("Process completed with exit code 137."),
            Some("killed")
        );
        for code in ["1", "2", "1370", "14", "101"] {
            let line = format!("Process completed with exit code {code}.");
            assert_eq!(any_matches(&line), None, "{line}");
        }
    }

    #[test]
    fn the_operation_was_canceled_alone_is_only_a_hint() {
        let hint = "The operation was canceled.";
        assert_eq!(any_matches(hint), None);
        assert_eq!(any_matches(&format!("##[error]{hint}")), None);
    }

    #[test]
    fn ordinary_test_failures_are_not_infra() {
        for line in [
            "assertion `left == right` failed",
            "error[E0425]: cannot find value `x` in this scope",
            "FAILED tests/test_api.py::test_login - AssertionError",
            "npm ERR! code ELIFECYCLE",
            "The program reported that an internal error occurred in module x",
        ] {
            assert_eq!(any_matches(line), None, "{line}");
        }
    }

    #[test]
    fn ordinary_output_that_mentions_the_same_words_is_not_infra() {
        for line in [
            "mysql: client lost communication with the server",
            "Error: lost communication with the server while uploading artifact",
            "An internal error occurred while saving the fixture",
            "    note: a test printed ##[error]Process completed with exit code 143.",
            "test output: The runner has received a shutdown signal (simulated)",
        ] {
            assert_eq!(any_matches(line), None, "{line}");
        }
    }
}
