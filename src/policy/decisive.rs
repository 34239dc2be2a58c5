//! The decisive line of a failed job: the line that failed the step, found the way a
//! person reads a log from the bottom up, not any line that happens to contain a word.
//!
//! Text arrives in three shapes: the raw log (timestamps, `##[error]` markers, ANSI
//! colours), check-run annotations (one message each), and the UI's rendering that
//! people paste (`Error: Process completed with exit code 1.`). Each line becomes a
//! [`Message`]: its text without those markers, and its level: an error, a warning
//! (`##[warning]`, `Warning: `, a tool's own `warning:`), or plain output.
//!
//! Where the job's failure is:
//! - a message of a family that ends the whole job (the runner lost, GitHub's
//!   internal error, billing) decides wherever it stands;
//! - otherwise the failed step's output ends at the first `Process completed with
//!   exit code N` (later lines are post steps and clean-up). Within it, warnings
//!   never decide (a network warning above a compile error is not the failure, the
//!   compile error is), and a tool's summary (`=== 3 failed ===`) decides only when
//!   no cause above it is known. Of the causes, a broken one outweighs a transient
//!   one (a re-run cannot pass while one cause of the failure stays), and of causes of
//!   one class the last decides;
//! - a text whose only known messages are warnings (an excerpt that ends at the
//!   retries, `Warning: Failed to download action … 503`) is decided by the last of
//!   them, unless an error-looking message no family knows stands below it;
//! - a log with no known message is decided by its last error-looking message, which
//!   no family knows ([`Decisive::known`] is `None`): its signature is what learning
//!   remembers.
//!
//! The log and the failure annotations are read alike. A message that ends the job
//! decides from either; then a known message of the log; then one of the annotations
//! (they repeat the log's `##[error]` lines, and are all there is when the log could
//! not be fetched); then the log's last error-looking message.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use super::evidence::log_lines;
use super::families::{self, Class, Known, Weight};

/// How a line presents itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `##[error]`, `Error: `, `::error::`.
    Error,
    /// `##[warning]`, `Warning: `, or a tool's `warning:` / `WARN`: never decisive.
    Warning,
    /// Anything else.
    Plain,
}

/// One line as a message: its marker removed, its level kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// The text, without timestamp, ANSI escapes or `##[error]` / `Error: ` marker.
    pub text: Cow<'a, str>,
    /// Its level.
    pub level: Level,
}

/// Markers GitHub and its UI put before a message, and the level each gives.
const MARKERS: &[(&str, Level)] = &[
    ("##[error]", Level::Error),
    ("##[warning]", Level::Warning),
    ("[error]", Level::Error),
    ("[warning]", Level::Warning),
    ("##[notice]", Level::Plain),
    ("##[debug]", Level::Plain),
    ("Error: ", Level::Error),
    ("Warning: ", Level::Warning),
    ("Notice: ", Level::Plain),
];

/// A tool's own warning line (cargo's `warning: spurious network error`, npm's
/// `npm WARN retry`, apt's `W: `, Maven's `[WARNING]`, yarn's `info … Retrying`).
static TOOL_WARNING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:warning(?:\[[^\]]*\])?:|warn\b|npm warn\b|\[warn(?:ing)?\]|w: |info\b|notice\b|retrying\b|.*\bwill retry\b|.*\bretrying in\b)",
    )
    .expect("the warning pattern is valid")
});

/// `::error file=x,line=1::message`: a workflow command echoed as it was written.
static COMMAND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^::(error|warning|notice)(?: [^:]*)?::").expect("the command pattern is valid")
});

/// The step's own end: GitHub's `Process completed with exit code N.`.
static STEP_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^Process completed with exit code \d+").expect("the step-end pattern is valid")
});

/// A message that reads like an error, when no family knows any.
static ERROR_LIKE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:error|fatal|failed|failure|exception|panic(?:ked)?|cannot|could not|unable to|timed? ?out|denied|refused|not found)\b")
        .expect("the error-like pattern is valid")
});

/// What a copy from the UI or a BuildKit log puts before a line: the UI's line link
/// (`[72](https://github.com/…#step:2:72)`), BuildKit's step and time (`#10 18.23 `).
static PASTE_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:\[\d+\]\(https?://[^)\s]*\)|#\d+ \d+(?:\.\d+)? )")
        .expect("the paste-prefix pattern is valid")
});

/// `line` (already a log line: timestamp and ANSI gone) as a message.
pub fn message(line: &str) -> Message<'_> {
    let line = match PASTE_PREFIX.find(line) {
        Some(prefix) => &line[prefix.end()..],
        None => line,
    };
    // Azure Pipelines' pastes put a comma before the marker.
    let trimmed = line.trim_start().trim_start_matches(',');
    for (marker, level) in MARKERS {
        if let Some(rest) = trimmed.strip_prefix(marker) {
            let level = if *level == Level::Plain && TOOL_WARNING.is_match(rest) {
                Level::Warning
            } else {
                *level
            };
            return Message {
                text: Cow::Borrowed(rest.trim_end()),
                level,
            };
        }
    }
    if let Some(found) = COMMAND.captures(trimmed) {
        let level = match &found[1] {
            "error" => Level::Error,
            "warning" => Level::Warning,
            _ => Level::Plain,
        };
        return Message {
            text: Cow::Borrowed(trimmed[found[0].len()..].trim_end()),
            level,
        };
    }
    let level = if TOOL_WARNING.is_match(trimmed) {
        Level::Warning
    } else {
        Level::Plain
    };
    Message {
        text: Cow::Borrowed(line.trim_end()),
        level,
    }
}

/// The line that decides a failed job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decisive {
    /// The message, as matched (markers removed; not yet cleaned for display).
    pub line: String,
    /// The built-in pattern that knows it; `None`: the last error-looking message,
    /// which no family knows.
    pub known: Option<Known>,
    /// No message said why: the line is only the step's `Process completed with exit
    /// code N`. Such a line is the same for every failure, so nothing is learned from it.
    pub exit_only: bool,
}

/// Where a text stops being read, so that one job's matching stays bounded.
pub trait Budget {
    /// Whether `bytes` more may be read; false once the budget is spent.
    fn take(&mut self, bytes: usize) -> bool;
}

/// No limit (tests and `classify`).
pub struct Unbounded;

impl Budget for Unbounded {
    fn take(&mut self, _: usize) -> bool {
        true
    }
}

/// What reading a job's text found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// The decisive line, if any line was worth it.
    pub decisive: Option<Decisive>,
    /// The budget ran out before the text was read to its end.
    pub cut_short: bool,
}

/// The decisive line of a job from its log and its failure annotations.
pub fn decide_line<'t>(
    log: Option<&'t str>,
    annotations: impl IntoIterator<Item = &'t str>,
    budget: &mut dyn Budget,
) -> Reading {
    let from_log = log
        .map(|log| read_text(log, true, budget))
        .unwrap_or_default();
    let mut joined = String::new();
    for annotation in annotations {
        joined.push_str(annotation);
        joined.push('\n');
    }
    let from_annotations = read_text(&joined, false, budget);
    let cut_short = from_log.cut_short || from_annotations.cut_short;
    let ends_job = |r: &Reading| {
        r.decisive
            .as_ref()
            .and_then(|d| d.known)
            .is_some_and(|k| k.pattern().weight == Weight::EndsJob)
    };
    let known = |r: &Reading| r.decisive.as_ref().is_some_and(|d| d.known.is_some());
    let decisive = if ends_job(&from_log) || (known(&from_log) && !ends_job(&from_annotations)) {
        from_log.decisive
    } else if known(&from_annotations) {
        from_annotations.decisive
    } else {
        from_log.decisive.or(from_annotations.decisive)
    };
    Reading {
        decisive,
        cut_short,
    }
}

/// Reads one text: a log (whose failed step ends at its exit code), or annotations
/// one after another (each a message of its own: none ends another).
fn read_text(text: &str, is_log: bool, budget: &mut dyn Budget) -> Reading {
    let mut found = Found::default();
    let mut cut_short = false;
    for line in log_lines(text) {
        if !budget.take(line.len() + 1) {
            cut_short = true;
            break;
        }
        let message = message(&line);
        if message.text.is_empty() {
            continue;
        }
        let known = families::known(&message.text);
        if let Some(known) = known.filter(|k| k.pattern().weight == Weight::EndsJob) {
            found
                .ends_job
                .get_or_insert_with(|| decisive(&message, Some(known)));
            continue;
        }
        if found.step_end.is_some() {
            // Past the failed step: only a message that ends the job still counts.
            continue;
        }
        let is_end = STEP_END.is_match(&message.text);
        let ends_step = is_end && is_log;
        match (message.level, known) {
            (Level::Warning, Some(known)) => found.note_warning(&message, known),
            (Level::Warning, None) => {}
            (_, Some(known)) => found.note_known(&message, known),
            (_, None) if !is_end => found.note_unknown(&message),
            (_, None) => {}
        }
        if ends_step {
            found.step_end = Some(message.text.to_string());
        } else if is_end && found.step_end.is_none() {
            found
                .exit_code
                .get_or_insert_with(|| message.text.to_string());
        }
    }
    Reading {
        decisive: found.into_decisive(),
        cut_short,
    }
}

fn decisive(message: &Message<'_>, known: Option<Known>) -> Decisive {
    Decisive {
        line: message.text.to_string(),
        known,
        exit_only: false,
    }
}

/// The candidates one text offers, by rank.
#[derive(Default)]
struct Found {
    ends_job: Option<Decisive>,
    broken_cause: Option<Decisive>,
    other_cause: Option<Decisive>,
    summary: Option<Decisive>,
    /// The last known cause a warning gave, while no error-looking message came after.
    warning: Option<Decisive>,
    /// The last error-looking message no family knows, and whether it was marked.
    unknown: Option<(String, bool)>,
    /// The log's `Process completed with exit code N`: the end of the failed step.
    step_end: Option<String>,
    /// The same line in an annotation (no end: annotations are read to the last).
    exit_code: Option<String>,
}

impl Found {
    fn note_known(&mut self, message: &Message<'_>, known: Known) {
        let slot = match (known.pattern().weight, known.family().class) {
            (Weight::Summary, _) => &mut self.summary,
            (_, Class::Broken) => &mut self.broken_cause,
            _ => &mut self.other_cause,
        };
        *slot = Some(decisive(message, Some(known)));
    }

    fn note_warning(&mut self, message: &Message<'_>, known: Known) {
        if known.pattern().weight != Weight::Summary {
            self.warning = Some(decisive(message, Some(known)));
        }
    }

    fn note_unknown(&mut self, message: &Message<'_>) {
        let marked = message.level == Level::Error;
        if !marked && !ERROR_LIKE.is_match(&message.text) {
            return;
        }
        // An error below a warning is what failed, not the warning.
        self.warning = None;
        // A marked error outranks an unmarked error-looking line, wherever they stand.
        let replace = match &self.unknown {
            Some((_, was_marked)) => marked || !was_marked,
            None => true,
        };
        if replace {
            self.unknown = Some((message.text.to_string(), marked));
        }
    }

    fn into_decisive(self) -> Option<Decisive> {
        self.ends_job
            .or(self.broken_cause)
            .or(self.other_cause)
            .or(self.summary)
            .or(self.warning)
            .or_else(|| {
                let exit_only = self.unknown.is_none();
                let line = (self.unknown.map(|(line, _)| line))
                    .or(self.step_end)
                    .or(self.exit_code)?;
                Some(Decisive {
                    line,
                    known: None,
                    exit_only,
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decisive(log: &str) -> Option<(String, Option<String>)> {
        let read = decide_line(Some(log), [], &mut Unbounded);
        read.decisive.map(|d| (d.line, d.known.map(Known::label)))
    }

    fn family_of(log: &str) -> Option<&'static str> {
        decide_line(Some(log), [], &mut Unbounded)
            .decisive
            .and_then(|d| d.known)
            .map(|k| k.family().name)
    }

    #[test]
    fn markers_are_removed_and_give_the_level() {
        assert_eq!(
            message("##[error]Process completed with exit code 1."),
            Message {
                text: "Process completed with exit code 1.".into(),
                level: Level::Error
            }
        );
        assert_eq!(message("Error: boom").level, Level::Error);
        assert_eq!(message("Warning: cache miss").level, Level::Warning);
        assert_eq!(
            message("warning: spurious network error (2 tries remaining)").level,
            Level::Warning
        );
        assert_eq!(message("npm WARN retry will retry").level, Level::Warning);
        assert_eq!(message("::error file=a.rs,line=3::boom").text, "boom");
        assert_eq!(message("plain output").level, Level::Plain);
    }

    #[test]
    fn ui_line_links_and_buildkit_prefixes_are_removed() {
        assert_eq!(
            message("[72](https://github.com/o/r/actions/runs/1/job/2#step:2:72)npm ERR! code ECONNRESET").text,
            "npm ERR! code ECONNRESET"
        );
        assert_eq!(
            message("#10 18.23 pip._vendor.urllib3.exceptions.ReadTimeoutError: x").text,
            "pip._vendor.urllib3.exceptions.ReadTimeoutError: x"
        );
    }

    #[test]
    fn the_ui_rendering_of_a_killed_step_is_known() {
        assert_eq!(
            family_of("Error: Process completed with exit code 143."),
            Some("resources")
        );
    }

    #[test]
    fn a_warning_decides_only_when_nothing_below_it_looks_like_an_error() {
        let alone = "Download action repository 'actions/checkout@v2'\n\
                     Warning: Failed to download action 'https://api.github.com/repos/actions/checkout/tarball/ee06'. Error: Response status code does not indicate success: 503 (Service Unavailable).\n";
        assert_eq!(family_of(alone), Some("github_service"));
        let below = "Warning: Failed to restore: Cache service responded with 503\n\
                     src/Main.hs:12:5: error: Variable not in scope: frob\n\
                     ##[error]Process completed with exit code 1.\n";
        assert_eq!(family_of(below), None);
    }

    #[test]
    fn a_compile_error_below_a_network_warning_decides() {
        let log = "2024-05-01T10:00:00.1234567Z warning: spurious network error (2 tries remaining): [28] Timeout was reached\n\
                   2024-05-01T10:00:01.1234567Z error[E0425]: cannot find value `x` in this scope\n\
                   2024-05-01T10:00:02.1234567Z ##[error]Process completed with exit code 101.\n";
        assert_eq!(family_of(log), Some("compile"));
    }

    #[test]
    fn a_broken_cause_in_the_failed_step_outweighs_a_transient_one_below_it() {
        let log = "error[E0425]: cannot find value `x` in this scope\n\
                   npm ERR! code ECONNRESET\n\
                   ##[error]Process completed with exit code 1.\n";
        assert_eq!(family_of(log), Some("compile"));
    }

    #[test]
    fn lines_after_the_failed_step_do_not_decide() {
        let log = "npm ERR! code ECONNRESET\n\
                   ##[error]Process completed with exit code 1.\n\
                   Post job cleanup.\n\
                   error[E0308]: mismatched types\n";
        assert_eq!(family_of(log), Some("registry"));
    }

    #[test]
    fn a_test_summary_decides_only_when_no_cause_above_it_is_known() {
        let network = "FAILED tests/test_api.py::test_fetch - requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='example.org', port=443): Read timed out.\n\
                       ======== 1 failed, 20 passed in 3.20s ========\n";
        assert_eq!(family_of(network), Some("network"));
        let plain = "collected 21 items\n======== 1 failed, 20 passed in 3.20s ========\n";
        assert_eq!(family_of(plain), Some("test"));
    }

    #[test]
    fn a_message_that_ends_the_job_decides_wherever_it_stands() {
        let log = "##[error]The runner has received a shutdown signal. This can happen when the runner service is stopped, or a manually started runner is canceled.\n\
                   error[E0308]: mismatched types\n\
                   ##[error]Process completed with exit code 1.\n";
        assert_eq!(family_of(log), Some("runner"));
    }

    #[test]
    fn a_word_in_ordinary_output_is_no_failure() {
        let log = "test network::retries_on_econnreset ... ok\n\
                   test result: ok. 12 passed; 0 failed\n\
                   error: could not compile `app` (bin \"app\") due to 1 previous error\n\
                   ##[error]Process completed with exit code 101.\n";
        assert_eq!(family_of(log), Some("compile"));
    }

    #[test]
    fn an_unknown_failure_is_decided_by_its_last_error_looking_message() {
        let log = "Starting the frobnicator\n\
                   frobnicate: the widget registry is inconsistent\n\
                   ##[error]frobnicate failed: 3 widgets left over\n\
                   ##[error]Process completed with exit code 1.\n";
        assert_eq!(
            decisive(log),
            Some(("frobnicate failed: 3 widgets left over".to_owned(), None))
        );
    }

    #[test]
    fn a_log_with_only_the_exit_code_is_decided_by_it() {
        assert_eq!(
            decisive("all fine\n##[error]Process completed with exit code 2.\n"),
            Some(("Process completed with exit code 2.".to_owned(), None))
        );
    }

    #[test]
    fn annotations_decide_when_the_log_knows_nothing() {
        let read = decide_line(
            None,
            [
                "Process completed with exit code 1.",
                "error TS2322: Type 'string' is not assignable to type 'number'.",
            ],
            &mut Unbounded,
        );
        let known = read.decisive.and_then(|d| d.known).expect("known");
        assert_eq!(known.family().name, "compile");
    }

    #[test]
    fn a_spent_budget_stops_reading_and_says_so() {
        struct Lines(usize);
        impl Budget for Lines {
            fn take(&mut self, _: usize) -> bool {
                self.0 = self.0.saturating_sub(1);
                self.0 > 0
            }
        }
        let log = "ok\nok\nok\nnpm ERR! code ECONNRESET\n";
        let read = decide_line(Some(log), [], &mut Lines(3));
        assert!(read.cut_short);
        assert_eq!(read.decisive, None);
    }
}
