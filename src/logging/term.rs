//! `LOG_FORMAT=term`: one line per record for people, its fields in a fixed order.
//!
//! slog hands a drain the call site's fields last-added first, then the logger's
//! context fields from the newest child logger to the root, so slog-term's lines list
//! them backwards and in an order that depends on which logger a line went through.
//! This drain sorts them instead: the message, then the fields that say what a line is
//! about in [`LEADING`]'s order (delivery, event, action, repo, run, attempt, job, …,
//! decision, status, outcome, …), then every other field in the order the call site
//! wrote it, then the context in [`TRAILING`]. A field that is absent is left out
//! (never printed as `None`, nor as `""`: an empty value says nothing either); a value
//! with spaces, quotes or `=` is quoted. A time (a field named `…_at`, in Unix
//! milliseconds as the code and the JSON lines carry it) is written in RFC 3339, UTC:
//! `due_at=2026-12-02T00:39:12.192Z`.
//!
//! `Dec 02 00:39:07.192 INFO webhook answered delivery=d-1 event=workflow_job
//! repo=org/repo run_id=42 status=204 decision="sender is in NO_RETRY_LIST"
//! latency_us=31 actor=http service=job-rerunner`

use std::fmt::{self, Write as _};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use slog::{Drain, KV, Never, OwnedKVList, Record};

/// The fields a line leads with, in this order, when it has them.
pub const LEADING: &[&str] = &[
    "delivery",
    "event",
    "action",
    "repo",
    "run_id",
    "run_attempt",
    "job_id",
    "job",
    "branch",
    "sender",
    "conclusion",
    "decision",
    "reason",
    "status",
    "outcome",
    "detail",
    "error",
];

/// The context every line of a component carries: last, they say least.
pub const TRAILING: &[&str] = &["actor", "service"];

/// Writes records as sorted `key=value` lines to `out`.
pub struct TermLines<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> TermLines<W> {
    /// Lines go to `out` (stdout in the service).
    pub fn new(out: W) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }
}

impl<W: Write + Send> Drain for TermLines<W> {
    type Ok = ();
    type Err = Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), Never> {
        let line = format_line(record, values);
        if let Ok(mut out) = self.out.lock() {
            // A closed stdout has nowhere to report to; the line is dropped.
            let _ = out.write_all(line.as_bytes());
            let _ = out.flush();
        }
        Ok(())
    }
}

/// One record as its line (with the newline), the timestamp in local time.
fn format_line(record: &Record<'_>, values: &OwnedKVList) -> String {
    let mut stamp = Vec::with_capacity(24);
    let _ = slog_term::timestamp_local(&mut stamp);
    let mut line = String::from_utf8_lossy(&stamp).into_owned();
    let _ = write!(line, " {} {}", record.level().as_short_str(), record.msg());
    for (key, value) in sorted_fields(record, values) {
        line.push(' ');
        line.push_str(&key);
        line.push('=');
        match readable_time(&key, &value) {
            Some(time) => line.push_str(&time),
            None => push_value(&mut line, &value),
        }
    }
    line.push('\n');
    line
}

/// The record's and the logger's fields in the documented order, each key once (the
/// call site's value wins over a context value of the same key).
pub fn sorted_fields(record: &Record<'_>, values: &OwnedKVList) -> Vec<(String, String)> {
    let mut call_site = Fields::default();
    let _ = record.kv().serialize(record, &mut call_site);
    let mut context = Fields::default();
    let _ = values.serialize(record, &mut context);
    // Both come newest first: reversed, the call site's in the order written, the
    // context's from the root logger down.
    let mut fields: Vec<(String, String)> = Vec::new();
    for (key, value) in call_site
        .0
        .into_iter()
        .rev()
        .chain(context.0.into_iter().rev())
    {
        if !fields.iter().any(|(seen, _)| *seen == key) {
            fields.push((key, value));
        }
    }
    let rank = |key: &str| {
        if let Some(at) = LEADING.iter().position(|k| *k == key) {
            (0, at)
        } else if let Some(at) = TRAILING.iter().position(|k| *k == key) {
            (2, at)
        } else {
            (1, 0)
        }
    };
    // Stable: the fields of one rank keep their order.
    fields.sort_by_key(|(key, _)| rank(key));
    fields
}

/// A time field (`…_at`, Unix milliseconds) in RFC 3339, UTC, to the millisecond.
fn readable_time(key: &str, value: &str) -> Option<String> {
    let ms: u64 = value.parse().ok().filter(|_| key.ends_with("_at"))?;
    let at = UNIX_EPOCH.checked_add(Duration::from_millis(ms))?;
    Some(humantime::format_rfc3339_millis(at).to_string())
}

/// `value` as written after `key=`: bare when it is one word, quoted otherwise.
fn push_value(line: &mut String, value: &str) {
    let bare = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '=' | '\\'));
    if bare {
        line.push_str(value);
    } else {
        line.push('"');
        for c in value.chars() {
            match c {
                '"' => line.push_str("\\\""),
                '\\' => line.push_str("\\\\"),
                '\n' => line.push_str("\\n"),
                c if c.is_control() => {
                    let _ = write!(line, "\\u{{{:x}}}", c as u32);
                }
                c => line.push(c),
            }
        }
        line.push('"');
    }
}

/// Collects fields as text; absent values (`None`, `()`, an empty text) are left out.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl slog::Serializer for Fields {
    fn emit_arguments(&mut self, key: slog::Key, value: &fmt::Arguments<'_>) -> slog::Result {
        let value = value.to_string();
        if !value.is_empty() {
            self.0.push((key.to_string(), value));
        }
        Ok(())
    }

    fn emit_none(&mut self, _key: slog::Key) -> slog::Result {
        Ok(())
    }

    fn emit_unit(&mut self, _key: slog::Key) -> slog::Result {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use slog::{Logger, info, o};

    use super::*;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(write: impl FnOnce(&Logger)) -> String {
        let out = Shared::default();
        let root = Logger::root(TermLines::new(out.clone()).fuse(), o!("service" => "svc"));
        write(&root);
        String::from_utf8(out.0.lock().expect("buffer").clone()).expect("UTF-8")
    }

    /// The line without its timestamp.
    fn fields_of(line: &str) -> &str {
        line.split_once(" INFO ")
            .map_or(line, |(_, rest)| rest)
            .trim_end()
    }

    #[test]
    fn fields_come_in_the_documented_order_whatever_the_call_site_and_logger_order() {
        let line = logged(|root| {
            let tracker =
                root.new(o!("actor" => "run_tracker", "repo" => "org/r", "run_id" => 7u64));
            let event = tracker.new(o!("run_attempt" => 1u32, "delivery" => "d-1"));
            info!(event, "re-run decided"; "latency_us" => 12u64, "status" => 201u16,
                "decision" => "rerun", "job" => "build", "mailbox" => 0usize);
        });
        assert_eq!(
            fields_of(&line),
            "re-run decided delivery=d-1 repo=org/r run_id=7 run_attempt=1 job=build \
             decision=rerun status=201 latency_us=12 mailbox=0 actor=run_tracker service=svc"
        );
    }

    #[test]
    fn absent_and_empty_values_are_left_out_and_values_with_spaces_are_quoted() {
        let line = logged(|root| {
            info!(root, "webhook answered"; "sender" => None::<&str>, "decision" => "event is not \"workflow_job\"",
                "branch" => "", "repo" => Some("org/r"), "reason" => "");
        });
        assert_eq!(
            fields_of(&line),
            r#"webhook answered repo=org/r decision="event is not \"workflow_job\"" service=svc"#
        );
    }

    #[test]
    fn times_read_as_rfc_3339_and_other_numbers_stay_numbers() {
        let line = logged(|root| {
            info!(root, "re-run scheduled"; "delay_ms" => 5000u64, "due_at" => 1_796_615_346_363u64);
        });
        assert_eq!(
            fields_of(&line),
            "re-run scheduled delay_ms=5000 due_at=2026-12-07T03:49:06.363Z service=svc"
        );
    }

    #[test]
    fn a_call_site_value_wins_over_a_context_value_of_the_same_key() {
        let line = logged(|root| {
            let child = root.new(o!("actor" => "github"));
            info!(child, "stopped"; "actor" => "summary");
        });
        assert_eq!(fields_of(&line), "stopped actor=summary service=svc");
    }
}
