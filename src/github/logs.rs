//! The evidence a failure policy reads about a failed job, as GitHub serves it: the
//! job's check-run annotations (JSON pages) and the tail of its log (a plain-text blob
//! that can be tens of megabytes).
//!
//! This module is the pure part, so it is tested without a server: reading an
//! annotations page, and keeping the last bytes of a streamed log in a fixed ring
//! ([`TailBuffer`]) so that a 40 MB log costs the memory of its tail, not of the log.
//! Reading a download to its verified end is `log_body.rs`; the calls themselves are in
//! [`super::GitHubClient`]; the retries and pacing in the GitHub actor.

use serde::Deserialize;

use crate::policy::{Annotation, AnnotationLevel};

/// Annotations asked for per page (GitHub's largest page).
pub const ANNOTATIONS_PER_PAGE: usize = 100;
/// Pages of annotations read at most: a job with more than 300 annotations is a
/// linter's output, and the failure's own annotation comes first.
pub const MAX_ANNOTATION_PAGES: u32 = 3;

/// One annotation as GitHub sends it; `annotation_level` is nullable in GitHub's
/// schema, so a missing or null level is read as [`AnnotationLevel::Other`] (never
/// matched) rather than making the whole page unreadable.
#[derive(Deserialize)]
struct WireAnnotation {
    #[serde(default)]
    annotation_level: Option<AnnotationLevel>,
    message: String,
}

/// Reads one page of `GET …/check-runs/{id}/annotations`: a JSON array of
/// annotations. Anything else is `Err` with a short reason (no quote of the body).
pub fn parse_annotations(body: &[u8]) -> Result<Vec<Annotation>, String> {
    let wire: Vec<WireAnnotation> = serde_json::from_slice(body).map_err(|err| {
        // serde's message quotes at most a short value; the category and position
        // say enough and quote nothing.
        format!(
            "malformed annotations answer ({:?} at line {} column {})",
            err.classify(),
            err.line(),
            err.column()
        )
        .to_ascii_lowercase()
    })?;
    Ok(wire
        .into_iter()
        .map(|a| Annotation {
            level: a.annotation_level.unwrap_or(AnnotationLevel::Other),
            message: a.message,
        })
        .collect())
}

/// The end of a job's log, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogTail {
    /// The last bytes kept, decoded as UTF-8 (invalid bytes replaced), without the
    /// partial first line when the log was longer than the tail.
    pub text: String,
    /// Bytes read (after content decoding), whether kept or not.
    pub read_bytes: u64,
    /// The log was longer than the tail: its start was dropped.
    pub cut: bool,
    /// Reading stopped at the read cap: the log goes on beyond what was read, and
    /// `text` is the tail of what was read.
    pub capped: bool,
}

/// Keeps the last `capacity` bytes pushed into it, in memory of that size (and one
/// byte more: the byte before the tail says whether the tail starts a line).
#[derive(Debug)]
pub struct TailBuffer {
    ring: Vec<u8>,
    /// The tail's size plus the byte before it.
    capacity: usize,
    /// Where the next byte goes once the ring is full (its oldest byte).
    next: usize,
    pushed: u64,
}

impl TailBuffer {
    /// An empty buffer keeping at most `capacity` bytes (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1) + 1;
        Self {
            // Grown as bytes come: a short log costs its size, not the capacity.
            ring: Vec::new(),
            capacity,
            next: 0,
            pushed: 0,
        }
    }

    /// Adds `bytes` after what was pushed before.
    pub fn push(&mut self, mut bytes: &[u8]) {
        self.pushed += bytes.len() as u64;
        if bytes.len() >= self.capacity {
            // Only its end survives: start the ring afresh with it.
            bytes = &bytes[bytes.len() - self.capacity..];
            self.ring.clear();
            self.ring.extend_from_slice(bytes);
            self.next = 0;
            return;
        }
        let room = self.capacity - self.ring.len();
        if room > 0 {
            let now = room.min(bytes.len());
            self.ring.extend_from_slice(&bytes[..now]);
            bytes = &bytes[now..];
        }
        // The ring is full: overwrite its oldest bytes, wrapping once at most.
        while !bytes.is_empty() {
            let now = (self.capacity - self.next).min(bytes.len());
            self.ring[self.next..self.next + now].copy_from_slice(&bytes[..now]);
            self.next = (self.next + now) % self.capacity;
            bytes = &bytes[now..];
        }
    }

    /// Bytes pushed in total.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// The kept bytes as text: decoded lossily, and without the first line when the
    /// start was dropped and the tail begins inside a line (a partial line, maybe a
    /// partial character). A tail that is one partial line is kept whole: part of a
    /// line says more than nothing.
    pub fn finish(mut self, capped: bool) -> LogTail {
        self.ring.rotate_left(self.next);
        let tail = self.capacity - 1;
        let cut = self.pushed > tail as u64;
        let mut kept: &[u8] = &self.ring;
        if cut {
            // The ring is full: its first byte is the one before the tail.
            let starts_a_line = kept[0] == b'\n';
            kept = &kept[1..];
            if !starts_a_line && let Some(newline) = kept.iter().position(|&b| b == b'\n') {
                kept = &kept[newline + 1..];
            }
        }
        LogTail {
            text: String::from_utf8_lossy(kept).into_owned(),
            read_bytes: self.pushed,
            cut,
            capped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail_of(chunks: &[&[u8]], capacity: usize) -> LogTail {
        let mut tail = TailBuffer::new(capacity);
        for chunk in chunks {
            tail.push(chunk);
        }
        tail.finish(false)
    }

    #[test]
    fn a_short_log_is_kept_whole() {
        let tail = tail_of(&[b"one\n", b"two\n"], 64);
        assert_eq!(tail.text, "one\ntwo\n");
        assert!(!tail.cut);
        assert_eq!(tail.read_bytes, 8);
    }

    #[test]
    fn a_long_log_keeps_its_last_bytes_without_the_partial_first_line() {
        // The last 12 of 15 bytes are "a\nbbbb\ncccc\n": the partial "a" line goes.
        let tail = tail_of(&[b"aaaa\nbb", b"bb\ncc", b"cc\n"], 12);
        assert_eq!(tail.text, "bbbb\ncccc\n");
        assert!(tail.cut);
        let tail = tail_of(&[b"aaaa\nbbbb\ncccc\n"], 7);
        assert_eq!(tail.text, "cccc\n", "the partial line `b` is dropped");
        assert_eq!(tail.read_bytes, 15);
    }

    #[test]
    fn a_tail_that_starts_at_a_line_keeps_that_line() {
        let tail = tail_of(&[b"aaaa\nbb", b"bb\ncccc\n"], 10);
        assert_eq!(tail.text, "bbbb\ncccc\n");
        assert!(tail.cut);
    }

    #[test]
    fn the_ring_wraps_over_many_small_chunks_like_one_big_one() {
        let log: Vec<u8> = (0..10_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let whole = tail_of(&[&log], 1000);
        let mut ring = TailBuffer::new(1000);
        for chunk in log.chunks(7) {
            ring.push(chunk);
        }
        let ring = ring.finish(false);
        assert_eq!(ring, whole);
        assert!(whole.text.ends_with("line 9999\n"));
        assert!(whole.text.starts_with("line "), "{}", &whole.text[..20]);
    }

    #[test]
    fn a_cut_inside_a_character_decodes_lossily_and_one_partial_line_is_kept() {
        let tail = tail_of(&["ééééé".as_bytes()], 3);
        assert_eq!(tail.text, "\u{fffd}é");
        assert!(tail.cut);
    }

    #[test]
    fn annotations_keep_their_level_and_a_null_level_is_other() {
        let body = br#"[
            {"annotation_level":"failure","message":"The runner has received a shutdown signal.","path":".github"},
            {"annotation_level":"warning","message":"Node 16 is deprecated"},
            {"annotation_level":null,"message":"odd"},
            {"annotation_level":"critical","message":"new level"}
        ]"#;
        let got = parse_annotations(body).expect("parsed");
        assert_eq!(
            got.iter().map(|a| a.level).collect::<Vec<_>>(),
            [
                AnnotationLevel::Failure,
                AnnotationLevel::Warning,
                AnnotationLevel::Other,
                AnnotationLevel::Other
            ]
        );
        assert_eq!(got[0].message, "The runner has received a shutdown signal.");
    }

    #[test]
    fn a_malformed_annotations_answer_is_a_short_reason_quoting_nothing() {
        for body in [
            &br#"{"message":"Not Found"}"#[..],
            b"<html>ghp_secretsecretsecretsecretsecret</html>",
            br#"[{"annotation_level":"failure"}]"#,
            b"",
        ] {
            let why = parse_annotations(body).expect_err("malformed");
            assert!(why.starts_with("malformed annotations answer"), "{why}");
            assert!(!why.contains("ghp_") && !why.contains("Not Found"), "{why}");
        }
    }
}
