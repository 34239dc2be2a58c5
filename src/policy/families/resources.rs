//! `@resources`: the runner ran out of disk space or memory.
//!
//! In the corpus these are as often broken as transient: a build that outgrew the
//! runner fails again until someone frees space or memory. So `@resources` is not in
//! `@transient`; a policy that names it says it trusts a re-run here, and learning
//! (a signature whose re-runs passed) covers the repositories where it does.

use super::{Class, Example, Family, Pattern, Weight};

/// The family.
pub const FAMILY: Family = Family {
    name: "resources",
    class: Class::Transient,
    doc: "the runner ran out of disk or memory; a re-run passes only when something else on the machine used it",
    patterns: &[
        Pattern {
            name: "no_space",
            regex: r#"(?i)\bNo space left on device\b|\bENOSPC\b|(?i)There is not enough space on the disk"#,
            weight: Weight::Cause,
            examples: &[Example {
                text: "System.IO.IOException: No space left on device",
                source: "https://github.com/helium/helium-program-library/pull/1198",
            }],
        },
        Pattern {
            name: "out_of_memory",
            regex: r#"(?i)JavaScript heap out of memory|java\.lang\.OutOfMemoryError|(?i)\bCannot allocate memory\b|^MemoryError\b|(?i)internal compiler error: Killed|(?i)Killed signal terminated program|(?i)terminated with signal 9|\bSIGKILL: kill\b|(?i)\bKilled\s+(?:signal )?\S|^Killed$|(?i)\bsignal: killed\b"#,
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "c++: internal compiler error: Killed (program cc1plus)",
                    source: "https://github.com/AliceO2Group/AliceO2/pull/2788",
                },
                Example {
                    text: "g++: internal compiler error: Killed (program cc1plus)",
                    source: "https://github.com/jsk-ros-pkg/jsk_travis/issues/132",
                },
            ],
        },
        // 143 = 128 + SIGTERM, 137 = 128 + SIGKILL: the step's process was killed, by a
        // runner that shut down (which says so in its own message, `@runner`) or by
        // the out-of-memory killer; Gradle words the same for its test workers.
        Pattern {
            name: "killed",
            regex: r"^Process completed with exit code (?:137|143)\b|finished with non-zero exit value 137\b",
            weight: Weight::Cause,
            examples: &[
                Example {
                    text: "Process completed with exit code 143.",
                    source: "https://github.com/actions/runner-images/issues/6680",
                },
                Example {
                    text: "Process completed with exit code 137.",
                    source: "https://github.com/actions/runner/issues/3724",
                },
            ],
        },
    ],
};
