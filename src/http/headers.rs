//! What a request may put into a log line, a metric label or the store: every value
//! taken from a request (`X-GitHub-Delivery`, `X-GitHub-Event`, a path) passes through
//! [`shown`] first.
//!
//! Anyone can send a request, signed or not, and a header can be 100 KB long: logged
//! verbatim, one request a millisecond fills a disk. GitHub's values are short and plain
//! (a delivery id is a GUID, an event a lower-case word), so such a value passes as it is,
//! borrowed (no allocation on the hot path); anything else is cut to a short printable
//! prefix, marked, and counted by the caller. The cut value keeps a hash of the whole
//! one, so two different long ids stay two ids (in logs, and for the redelivery check,
//! which hashes the delivery id the event carries).

use std::borrow::Cow;

/// Longest value that passes unchanged, and the longest prefix kept of one that does not.
pub const MAX_SHOWN: usize = 64;

/// What a cut value ends with (after the kept prefix and before the hash).
pub const TRUNCATED: &str = "…(truncated ";

/// Which characters a value may have to pass unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// An identifier: ASCII letters, digits, `-`, `_` and `.` (a GUID, an event name).
    Id,
    /// Printable ASCII text without control characters (a path).
    Text,
}

impl Shape {
    fn allows(self, byte: u8) -> bool {
        match self {
            Shape::Id => byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'),
            Shape::Text => (0x20..0x7f).contains(&byte),
        }
    }
}

/// `raw` as it may be logged: borrowed when it is 1 to [`MAX_SHOWN`] bytes of `shape`,
/// otherwise (`Cow::Owned`, which the caller counts) its first [`MAX_SHOWN`] bytes with
/// every byte that is not printable ASCII replaced by `?`, then [`TRUNCATED`], a hash
/// of the whole value and `)`.
pub fn shown(raw: &[u8], shape: Shape) -> Cow<'_, str> {
    if is_plain(raw, shape) {
        // Every byte is ASCII, so this cannot fail; the fallback keeps it panic-free.
        if let Ok(text) = std::str::from_utf8(raw) {
            return Cow::Borrowed(text);
        }
    }
    let mut cut = String::with_capacity(MAX_SHOWN + TRUNCATED.len() + 17);
    cut.extend(raw.iter().take(MAX_SHOWN).map(|&byte| {
        if Shape::Text.allows(byte) {
            char::from(byte)
        } else {
            '?'
        }
    }));
    cut.push_str(TRUNCATED);
    cut.push_str(&format!("{:016x})", fnv1a(raw)));
    Cow::Owned(cut)
}

/// Whether `raw` is as GitHub sends such a value: 1 to [`MAX_SHOWN`] bytes of `shape`.
/// The one rule for a delivery id: the webhook path shows any other one cut, and the
/// redelivery sweep skips a listed delivery whose guid is not plain.
pub fn is_plain(raw: &[u8], shape: Shape) -> bool {
    !raw.is_empty() && raw.len() <= MAX_SHOWN && raw.iter().all(|&byte| shape.allows(byte))
}

/// 64-bit FNV-1a: short, stable across versions and processes (the value may be stored).
fn fnv1a(raw: &[u8]) -> u64 {
    raw.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn githubs_values_pass_unchanged_and_borrowed() {
        for value in [
            "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "workflow_job",
            "delivery-1234",
            &"a".repeat(MAX_SHOWN),
        ] {
            assert!(
                matches!(shown(value.as_bytes(), Shape::Id), Cow::Borrowed(v) if v == value),
                "{value}"
            );
        }
        assert!(matches!(
            shown(b"/api/status", Shape::Text),
            Cow::Borrowed("/api/status")
        ));
    }

    #[test]
    fn long_or_odd_values_are_cut_to_a_printable_prefix_with_a_hash() {
        let long = "x".repeat(100_000);
        let cut = shown(long.as_bytes(), Shape::Id);
        assert!(matches!(cut, Cow::Owned(_)));
        assert!(cut.len() < 100, "{cut}");
        assert!(cut.starts_with(&"x".repeat(MAX_SHOWN)), "{cut}");
        assert!(cut.contains(TRUNCATED) && cut.ends_with(')'), "{cut}");

        let odd = shown(b"id with spaces\n\"quoted\"\xff", Shape::Id);
        assert_eq!(
            odd.split(TRUNCATED).next(),
            Some("id with spaces?\"quoted\"?")
        );
        assert!(matches!(shown(b"", Shape::Id), Cow::Owned(_)));
        assert!(matches!(shown(b"/a\tb", Shape::Text), Cow::Owned(_)));
    }

    #[test]
    fn two_long_values_with_the_same_prefix_stay_apart() {
        let one = format!("{}1", "x".repeat(200));
        let two = format!("{}2", "x".repeat(200));
        assert_ne!(
            shown(one.as_bytes(), Shape::Id),
            shown(two.as_bytes(), Shape::Id)
        );
        assert_eq!(
            shown(one.as_bytes(), Shape::Id),
            shown(one.as_bytes(), Shape::Id)
        );
    }
}
