//! A failure's signature: its decisive line with what varies between two occurrences
//! of the same failure normalised away, so that learning can count them together.
//!
//! What varies: URLs and host names (`<url>`, `<host>`), IP addresses (`<ip>`), paths
//! (`<path>`), quoted values (`<q>`), hashes, UUIDs and long hex ids (`<hex>`), numbers
//! and durations (`<n>`). What stays: the words the tool wrote, in lower case, with
//! runs of blanks made one. A signature is at most [`SIGNATURE_CHARS`] characters and
//! holds no secret: the line is masked before it is normalised, and what is left of a
//! masked value is a placeholder.

use std::sync::LazyLock;

use regex::Regex;

use super::evidence::mask_secrets;

/// Longest signature, in characters.
pub const SIGNATURE_CHARS: usize = 160;

/// Replacements, in order: each sees the text the ones before it left.
static STEPS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        (r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\x22<>()\[\]]+", "<url>"),
        (
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
            "<hex>",
        ),
        (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "<ip>"),
        (r"\b[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{1,4}){2,7}\b", "<ip>"),
        (r"'[^']{0,200}'|\x22[^\x22]{0,200}\x22|`[^`]{0,200}`", "<q>"),
        (r"(?:[A-Za-z]:)?(?:[\\/][\w.@+~-]+){2,}[\\/]?", "<path>"),
        (
            r"\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:com|org|net|io|dev|cn|co|uk|de|jp|ru|app|cloud|sh|rs|gov|edu|info|me)\b(?::\d+)?",
            "<host>",
        ),
        (r"\b(?:sha\d+:)?[0-9a-fA-F]{7,}\b", "<hex>"),
        (r"\b[0-9a-zA-Z]*\d[0-9a-zA-Z]*[a-zA-Z][0-9a-zA-Z]*\d[0-9a-zA-Z]*\b", "<id>"),
        (r"\b\d+(?:[.,]\d+)*(?:ms|s|m|h|%|kb|mb|gb|b)?\b", "<n>"),
        (r"\s+", " "),
    ]
    .into_iter()
    .map(|(re, to)| (Regex::new(re).expect("the signature patterns are valid"), to))
    .collect()
});

/// The signature of a decisive line.
pub fn signature(line: &str) -> String {
    let mut text = mask_secrets(line);
    for (re, to) in STEPS.iter() {
        if re.is_match(&text) {
            text = re.replace_all(&text, *to).into_owned();
        }
    }
    let lowered = text.trim().to_lowercase();
    let mut cut: String = lowered.chars().take(SIGNATURE_CHARS).collect();
    if lowered.chars().count() > SIGNATURE_CHARS {
        cut.pop();
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrences_of_one_failure_share_a_signature() {
        let pairs = [
            (
                "npm ERR! network request to https://registry.npmjs.org/react/-/react-18.2.0.tgz failed, reason: read ECONNRESET",
                "npm ERR! network request to https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz failed, reason: read ECONNRESET",
            ),
            (
                "connect ETIMEDOUT 140.82.112.4:443",
                "connect ETIMEDOUT 140.82.113.21:443",
            ),
            (
                "Failed to fetch http://azure.archive.ubuntu.com/ubuntu/pool/main/c/curl/curl_7.81.0-1ubuntu1.15_amd64.deb  Hash Sum mismatch",
                "Failed to fetch http://azure.archive.ubuntu.com/ubuntu/pool/main/o/openssl/libssl3_3.0.2-0ubuntu1.12_amd64.deb  Hash Sum mismatch",
            ),
            (
                "thread 'store::tests::commit' panicked at src/store/sqlite.rs:412:9: took 5012ms",
                "thread 'store::tests::commit' panicked at src/store/sqlite.rs:418:9: took 5107ms",
            ),
            (
                "Error response from daemon: Head \"https://registry-1.docker.io/v2/library/postgres/manifests/15\": toomanyrequests",
                "Error response from daemon: Head \"https://registry-1.docker.io/v2/library/redis/manifests/7\": toomanyrequests",
            ),
            (
                "Cache not found for key sha256:3f2a9c0d1e7b",
                "Cache not found for key sha256:9b8e7d6c5a41",
            ),
        ];
        for (a, b) in pairs {
            assert_eq!(signature(a), signature(b), "{a} / {b}");
        }
    }

    #[test]
    fn different_failures_keep_different_signatures() {
        assert_ne!(
            signature("npm ERR! code ECONNRESET"),
            signature("npm ERR! code ETIMEDOUT")
        );
        assert_ne!(
            signature("error[E0425]: cannot find value `x` in this scope"),
            signature("error[E0308]: mismatched types")
        );
    }

    #[test]
    fn a_signature_is_short_and_holds_no_secret() {
        let long = format!("token=ghp_{} {}", "a".repeat(40), "word ".repeat(100));
        let sig = signature(&long);
        assert!(sig.chars().count() <= SIGNATURE_CHARS);
        assert!(!sig.contains("aaaaaaaa"), "{sig}");
    }
}
