//! What a decision quotes: one line of an annotation or a log, cleaned so that it can
//! go into the store, the logs and the status page. Lines are short (at most
//! [`EVIDENCE_CHARS`] characters), hold no control character (an ANSI colour, a bell,
//! a carriage return: each becomes a space) and carry no secret: the service's own
//! secret values (`crate::own_secrets`), every shape of the catalogue
//! (`crate::token_shapes`: GitHub's, GitLab's, npm's, Slack's, Google's, Stripe's and
//! AWS's tokens, a PEM body line, `docker login -p …`) and the credentials known by
//! their context (a `Bearer` or `Basic` credential, a password in a URL, `password=…`,
//! `token=…`, `curl -u user:pass`, `--password x`, a JWT, a pre-signed URL's
//! signature) are replaced by `***`, before the line is cut, so a cut never leaves half
//! a token behind. GitHub masks the secrets it knows in logs; these are the ones it
//! does not know (a token printed by a tool, a URL with credentials).

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

use crate::token_shapes::{self, TokenShape};

/// Longest evidence kept, in characters.
pub const EVIDENCE_CHARS: usize = 200;

/// What a masked secret is replaced with.
const MASK: &str = "***";

/// Credentials known by their context (the catalogue's shapes come first, see
/// [`SECRETS`]): each regex's group 1 (when present) is kept, the rest masked. A
/// secret part must start with a character other than `*` (and the `…` of a cut), so
/// a masked line has nothing left to mask (masking is idempotent) and a cut after a
/// mask makes no new match.
static CONTEXTUAL: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // Authorization headers, and credentials after their scheme's name (a long
        // opaque word after "token" or "basic": prose says "unexpected token }").
        r#"(?i)\b(authorization["']?\s*[:=]\s*["']?(?:basic|token|bearer)\s+)\**[^\s*"'…][^\s"']*"#,
        r#"(?i)\b(authorization["']?\s*[:=]\s*["']?)[A-Za-z0-9+/=_.-]{16,}"#,
        r"(?i)\b(bearer\s+)\**[^\s*…][^\s]*",
        r"(?i)\b((?:basic|token)\s+)[A-Za-z0-9+/=_.-]{16,}",
        // user:password@ in a URL; a password may hold `@`, the host never does.
        r"(://[^\s/:@]*:)\**[^\s/@*…][^\s/]*@",
        // key=value and key: value for the usual names (also inside DB_PASSWORD= and
        // aws_secret_access_key=); a quoted value is masked to its closing quote. Not
        // the `***@host` a URL's masked password left (`x-access-token:***@github.com`).
        r#"(?i)((?:password|passwd|pwd|secret|api[_-]?key|access[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret)["']?\s*[=:]\s*)(?:"[^"]*"?|'[^']*'?|\**[^\s*"'…@][^\s"']*)"#,
        // Any NAME_TOKEN=value or token=value (only with `=`: prose says "token:").
        r#"(?i)([a-z0-9_.-]*token["']?\s*=\s*)(?:"[^"]*"?|'[^']*'?|\**[^\s*"'…][^\s"']*)"#,
        // Credentials on a command line: curl -u user:pass, --password x, -p x.
        r#"((?:^|\s)(?:-u|--user)(?:\s+|=)["']?[^\s:"']+:)\**[^\s*"'…][^\s"']*"#,
        r#"((?:^|\s)--?(?:password|passwd|pass|token|secret)(?:\s+|=)["']?)\**[^\s*"'…-][^\s"']*"#,
        // JSON Web Tokens (GitHub App and OIDC tokens are JWTs).
        r"\b()eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
        // Pre-signed URL signatures and credentials (the log blob's URL).
        r"(?i)\b((?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&\s*…][^&\s]*",
    ]
    .iter()
    .map(|re| Regex::new(re).expect("the secret patterns are valid"))
    .collect()
});

/// Every pattern masked: the catalogue's shapes (a match counts when its shape accepts
/// it), then the contextual ones.
static SECRETS: LazyLock<Vec<(Option<&'static TokenShape>, &'static Regex)>> =
    LazyLock::new(|| {
        let shapes = token_shapes::COMPILED
            .iter()
            .map(|(shape, regex)| (Some(*shape), regex));
        shapes
            .chain(CONTEXTUAL.iter().map(|regex| (None, regex)))
            .collect()
    });

/// Whether `shape` (none: a contextual pattern) takes `found` for a credential.
fn counts(shape: Option<&TokenShape>, found: &str) -> bool {
    shape.is_none_or(|shape| shape.accepts(found))
}

/// ANSI CSI sequences (colours, cursor moves): `ESC [ parameters final`.
static ANSI: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\x1b\[[0-?]*[ -/]*[@-~]").expect("the ANSI pattern is valid"));

/// What evidence says when masking did not leave it clean (never seen; a guard).
const WITHHELD: &str = "[withheld: looks like a secret]";

/// `text` with the service's own secret values and every token-shaped part replaced
/// by `***`.
pub fn mask_secrets(text: &str) -> String {
    let mut out = crate::own_secrets::mask(text, MASK).into_owned();
    // One pattern's mask can complete another's shape: go on until nothing changes.
    for _ in 0..4 {
        if !has_secret(&out) {
            return out;
        }
        for (shape, re) in SECRETS.iter() {
            if re.find_iter(&out).any(|m| counts(*shape, m.as_str())) {
                out = re
                    .replace_all(&out, |caps: &regex::Captures<'_>| {
                        if !counts(*shape, &caps[0]) {
                            return caps[0].to_owned();
                        }
                        let kept = caps.get(1).map_or("", |m| m.as_str());
                        let tail = if caps[0].ends_with('@') { "@" } else { "" };
                        format!("{kept}{MASK}{tail}")
                    })
                    .into_owned();
            }
        }
    }
    if has_secret(&out) {
        return WITHHELD.to_owned();
    }
    out
}

/// Whether `text` still holds something token-shaped or one of the service's own
/// secret values (what [`mask_secrets`] masks).
pub fn has_secret(text: &str) -> bool {
    crate::own_secrets::found(text)
        || SECRETS
            .iter()
            .any(|(shape, re)| re.find_iter(text).any(|m| counts(*shape, m.as_str())))
}

/// `line` as evidence: control characters made spaces, secrets masked, surrounding
/// blanks trimmed, cut to [`EVIDENCE_CHARS`] characters (the last one `…` when cut).
pub fn clean(line: &str) -> String {
    let printable: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let masked = mask_secrets(&printable);
    let trimmed = masked.trim();
    if trimmed.chars().count() <= EVIDENCE_CHARS {
        return trimmed.to_owned();
    }
    let mut cut: String = trimmed.chars().take(EVIDENCE_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The lines of a job log as a terminal would show them, so that `^` in a pattern
/// means the start of the message: ANSI escapes removed, only what follows the last
/// carriage return (a progress bar redraws its line), no byte-order mark, and no
/// timestamp GitHub puts before each line (`2024-05-01T10:00:00.1234567Z `).
pub fn log_lines(log: &str) -> impl Iterator<Item = Cow<'_, str>> {
    log.lines().map(|line| {
        let line = line.trim_end_matches('\r');
        let shown = line.rsplit('\r').next().unwrap_or(line);
        let plain = if shown.contains('\x1b') {
            ANSI.replace_all(shown, "")
        } else {
            Cow::Borrowed(shown)
        };
        let strip = |text: &str| -> (usize, usize) {
            let unmarked = text.strip_prefix('\u{feff}').unwrap_or(text);
            let rest = strip_timestamp(unmarked);
            (text.len() - rest.len(), text.len())
        };
        match plain {
            Cow::Borrowed(text) => {
                let (from, to) = strip(text);
                Cow::Borrowed(&text[from..to])
            }
            Cow::Owned(text) => {
                let (from, _) = strip(&text);
                Cow::Owned(text[from..].to_owned())
            }
        }
    })
}

fn strip_timestamp(line: &str) -> &str {
    let bytes = line.as_bytes();
    let shaped = bytes.len() > 20
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':'
        && bytes[..4].iter().all(u8::is_ascii_digit);
    if !shaped {
        return line;
    }
    match line.find("Z ") {
        Some(end) if end < 40 => &line[end + 2..],
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_tokens_are_masked() {
        let line = "push failed with ghp_abcdefghijklmnopqrstuvwxyz0123456789 and github_pat_11AAAAAAA0bbbbbbbbbbbbbb_cccccccccccccccccccccccccc";
        let cleaned = clean(line);
        assert_eq!(cleaned, "push failed with ghp_*** and github_pat_***");
        assert!(!has_secret(&cleaned));
    }

    #[test]
    fn credentials_in_headers_urls_and_assignments_are_masked() {
        for (line, secret) in [
            ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
            (
                "curl -H 'Authorization: token 0123456789abcdef'",
                "0123456789abcdef",
            ),
            ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
            ("using token 0123456789abcdef0123", "0123456789abcdef0123"),
            (
                "git clone https://x-access-token:s3cr3t@github.com/o/r",
                "s3cr3t",
            ),
            ("DB_PASSWORD=hunter22 make test", "hunter22"),
            ("\"api_key\": \"k-123456\"", "k-123456"),
            ("GET https://blob/logs?sv=1&sig=AbCdEf%3D&se=2024", "AbCdEf"),
            (
                "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
                "eyJhbGci",
            ),
        ] {
            let cleaned = clean(line);
            assert!(!cleaned.contains(secret), "{line} -> {cleaned}");
            assert!(!has_secret(&cleaned), "{line} -> {cleaned}");
        }
    }

    #[test]
    fn prose_about_tokens_is_left_alone() {
        for line in [
            "SyntaxError: Unexpected token } in JSON at position 4",
            "Basic auth is not configured",
            "the password field is required",
        ] {
            assert_eq!(clean(line), line);
        }
    }

    #[test]
    fn masking_twice_changes_nothing() {
        let once = mask_secrets(
            "Bearer x ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa password='a b' token=t https://u:p@q@h/ -u a:b",
        );
        assert_eq!(mask_secrets(&once), once);
    }

    #[test]
    fn long_lines_are_cut_to_200_characters() {
        let line = "é".repeat(500);
        let cleaned = clean(&line);
        assert_eq!(cleaned.chars().count(), EVIDENCE_CHARS);
        assert!(cleaned.ends_with('…'));
        assert_eq!(clean("  short  "), "short");
    }

    #[test]
    fn a_token_past_the_cut_is_masked_before_cutting() {
        let line = format!("{}ghp_{}", "x ".repeat(98), "a".repeat(40));
        let cleaned = clean(&line);
        assert!(!cleaned.contains("ghp_a"), "{cleaned}");
    }

    #[test]
    fn log_timestamps_are_stripped() {
        let log = "2024-05-01T10:00:00.1234567Z ##[error]Process completed with exit code 1.\nplain line\n";
        let lines: Vec<Cow<'_, str>> = log_lines(log).collect();
        assert_eq!(
            lines,
            ["##[error]Process completed with exit code 1.", "plain line"]
        );
    }

    #[test]
    fn a_github_token_glued_to_a_word_or_to_url_encoding_is_masked() {
        let token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
        for line in [
            format!("GET /x?t%3D{token}"),
            format!("x_{token}"),
            format!("1{token}"),
            format!("token:{}", token.replace("ghp_", "ghs_")),
        ] {
            let cleaned = clean(&line);
            assert!(!cleaned.contains("abcdefghijklmnop"), "{line} -> {cleaned}");
            assert!(!has_secret(&cleaned), "{line} -> {cleaned}");
        }
    }

    #[test]
    fn tokens_keys_and_passwords_in_commands_and_assignments_are_masked() {
        for (line, secret) in [
            ("fetch?token=abcdef0123456789", "abcdef0123456789"),
            (
                "export NPM_TOKEN=npm_abcdefghijklmnopqrstuvwxyz0123456789",
                "abcdefghijklmnop",
            ),
            (
                "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "wJalrXUtnFEMI",
            ),
            ("curl -u user:s3cr3tpass https://x", "s3cr3tpass"),
            ("mysql --password hunter22 -h db", "hunter22"),
            ("password = 'two words'", "words"),
            ("https://u:p@ss@host/x", "ss@"),
        ] {
            let cleaned = clean(line);
            assert!(!cleaned.contains(secret), "{line} -> {cleaned}");
            assert!(!has_secret(&cleaned), "{line} -> {cleaned}");
        }
    }

    #[test]
    fn a_clone_url_keeps_its_host_and_path_when_its_token_is_masked() {
        let line = "git push https://x-access-token:ghs_abcdefghijklmnopqrstuvwxyz0123456789@github.com/o/r.git";
        assert_eq!(
            clean(line),
            "git push https://x-access-token:***@github.com/o/r.git"
        );
    }

    #[test]
    fn evidence_carries_no_control_characters() {
        let cleaned = clean("\u{1b}[31mFAILED\u{1b}[0m 50%\r100%\u{7} done\u{0}");
        assert!(!cleaned.chars().any(char::is_control), "{cleaned:?}");
    }

    #[test]
    fn log_lines_drop_ansi_escapes_a_bom_and_overwritten_progress() {
        let log = "\u{feff}2024-05-01T10:00:00.1234567Z first\n\
                   2024-05-01T10:00:01.1234567Z \u{1b}[31m##[error]\u{1b}[0mProcess completed with exit code 143.\n\
                   \u{1b}[1m2024-05-01T10:00:02.1234567Z bold\n\
                   downloading 10%\rdownloading 100%\r\n";
        let lines: Vec<String> = log_lines(log).map(|l| l.to_string()).collect();
        assert_eq!(
            lines,
            [
                "first",
                "##[error]Process completed with exit code 143.",
                "bold",
                "downloading 100%"
            ]
        );
    }

    #[test]
    fn common_token_shapes_and_the_services_own_secrets_are_masked() {
        crate::own_secrets::register("evidence-test-own-secret");
        for (line, secret) in [
            (
                "//registry.npmjs.org/:_authToken npm_abcdefghijklmnopqrstuvwxyz0123456789",
                "abcdefghijklmnop",
            ),
            (
                "posting with xoxb-1234567890-1234567890-abcdefghijABCDEFGHIJ",
                "abcdefghijABCDEF",
            ),
            (
                "GITLAB glpat-abcdefghij0123456789 expired",
                "abcdefghij0123",
            ),
            (
                "key AIzaSyA-abcdefghijklmnopqrstuvwxyz01234 refused",
                "abcdefghijklmnop",
            ),
            (
                "stripe sk_live_abcdefghijklmnopqrstuvwx",
                "abcdefghijklmnop",
            ),
            (
                "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
                "BgkqhkiG9w0",
            ),
            (
                "+ docker login -u ci -p hunter2hunter2 registry.example",
                "hunter2",
            ),
            ("echo evidence-test-own-secret", "evidence-test-own-secret"),
        ] {
            let cleaned = clean(line);
            assert!(!cleaned.contains(secret), "{line} -> {cleaned}");
            assert!(!has_secret(&cleaned), "{line} -> {cleaned}");
        }
    }
}
