//! The job logs the fake GitHub's blob store serves: the end of a failed job's log,
//! ~200 timestamped lines of build output and then the failure, the same text every
//! time for a given job id.
//!
//! The job id decides the failure, so that the evidence mode knows which runs the
//! recommended policy must re-run without asking the service: an even id failed
//! transiently (npm lost its connection to the registry: `@registry`, one of
//! `@transient`), an odd one is broken (a type error: `@compile`, one of `@broken`).

use std::fmt::Write as _;

/// Lines of ordinary build output before the failure.
const OUTPUT_LINES: u32 = 200;

/// What a transient failure ends with: npm's registry connection was reset.
const TRANSIENT: [&str; 3] = [
    "npm ERR! code ECONNRESET",
    "npm ERR! network read ECONNRESET",
    "##[error]Process completed with exit code 1.",
];

/// What a broken job ends with: the code does not compile.
const BROKEN: [&str; 2] = [
    "error[E0308]: mismatched types",
    "##[error]Process completed with exit code 101.",
];

/// Whether job `job_id`'s log shows a transient failure (else a broken one).
pub fn transient(job_id: u64) -> bool {
    job_id.is_multiple_of(2)
}

/// The log of job `job_id`.
pub fn text(job_id: u64) -> String {
    let failure: &[&str] = if transient(job_id) {
        &TRANSIENT
    } else {
        &BROKEN
    };
    let mut log = String::with_capacity(12 << 10);
    for n in 1..=OUTPUT_LINES {
        line(&mut log, n, &format!("some build output line {n}"));
    }
    for (k, text) in (OUTPUT_LINES + 1..).zip(failure) {
        line(&mut log, k, text);
    }
    log
}

/// Appends `text` stamped as GitHub stamps a log line, `second` seconds after 10:00.
fn line(log: &mut String, second: u32, text: &str) {
    let (h, m, s) = (10 + second / 3600, second / 60 % 60, second % 60);
    let _ = writeln!(log, "2026-12-01T{h:02}:{m:02}:{s:02}.0000000Z {text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_is_two_hundred_stamped_lines_then_the_failure_its_job_id_picks() {
        let transient_log = text(10);
        let lines: Vec<&str> = transient_log.lines().collect();
        assert_eq!(lines.len(), 203);
        assert_eq!(
            lines[0],
            "2026-12-01T10:00:01.0000000Z some build output line 1"
        );
        assert_eq!(
            lines[199],
            "2026-12-01T10:03:20.0000000Z some build output line 200"
        );
        assert!(lines[201].ends_with("Z npm ERR! network read ECONNRESET"));
        let broken_log = text(11);
        assert!(broken_log.contains("Z error[E0308]: mismatched types\n"));
        assert!(broken_log.ends_with("Z ##[error]Process completed with exit code 101.\n"));
        assert_eq!(text(10), transient_log, "the same text every time");
        // BENCHMARK.md gives these sizes.
        assert_eq!((transient_log.len(), broken_log.len()), (11_282, 11_228));
    }
}
