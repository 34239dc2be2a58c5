//! The catalogue of token shapes: credentials recognisable from their value alone (a
//! prefix and an alphabet), each declared once with its name, pattern, the public
//! source it follows and an example that the tests mask. Evidence masking
//! (`crate::policy::mask_secrets`) and the text made safe for logs and errors
//! ([`crate::redact::message`]) both read it, so that a shape added here is masked
//! everywhere at once. Shapes that need their context (a `password=` before a value,
//! an `Authorization:` header) stay with the evidence masking.
//!
//! Why a list of our own and not a crate: the crates that ship such a catalogue
//! (redact-secret, cribra, rust-sanitize, leaktor, …) are pre-1.0, young or
//! single-maintainer, and built to scan files (their own engines, reports, validators);
//! the shapes themselves are public and few, and gitleaks' `config/gitleaks.toml` and
//! GitHub's list of secret-scanning patterns are the maintained sources each entry
//! names, to be compared against when a shape changes.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// One credential shape.
#[derive(Debug)]
pub struct TokenShape {
    /// A short stable name (for the docs and test messages).
    pub name: &'static str,
    /// The pattern; its group 1 (possibly empty) is a prefix kept when masking (it
    /// says what was there: `npm_***`), the rest of the match is masked. The masked
    /// part starts with a character other than `*`, so a masked text has nothing left
    /// to mask.
    pub pattern: &'static str,
    /// Where the shape is documented.
    pub source: &'static str,
    /// A made-up value of this shape (never a real credential); the tests mask it.
    pub example: &'static str,
    /// Only a match holding an upper-case letter, a lower-case letter and a digit
    /// counts: random base64 does, a hex digest (`sha256:…`) or a path does not.
    pub mixed_alphabet: bool,
}

const GITLEAKS: &str = "https://github.com/gitleaks/gitleaks/blob/master/config/gitleaks.toml";

/// Every shape, most specific first.
pub const TOKEN_SHAPES: &[TokenShape] = &[
    TokenShape {
        name: "github-token",
        // Personal (classic), OAuth, user-to-server, server-to-server, refresh. No `\b`
        // before: glued to a word or URL encoding (`t%3Dghp_…`) it is still a token.
        pattern: r"(gh[pousr]_)[A-Za-z0-9]{30,}",
        source: "https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/",
        example: "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        mixed_alphabet: false,
    },
    TokenShape {
        name: "github-fine-grained-pat",
        pattern: r"(github_pat_)[A-Za-z0-9_]{30,}",
        source: GITLEAKS,
        example: "github_pat_11AAAAAAA0bbbbbbbbbbbbbb_cccccccccccccccccccccccccc",
        mixed_alphabet: false,
    },
    TokenShape {
        name: "gitlab-token",
        // Personal, project/group (glpat), deploy, runner, pipeline trigger, feed, SCIM,
        // CI job tokens.
        pattern: r"\b(gl(?:pat|dt|rt|ptt|ft|soat|cbt)-)[A-Za-z0-9_-]{20,}",
        source: "https://docs.gitlab.com/security/tokens/#token-prefixes",
        example: "glpat-abcdefghij0123456789",
        mixed_alphabet: false,
    },
    TokenShape {
        name: "npm-token",
        pattern: r"\b(npm_)[A-Za-z0-9]{36}",
        source: GITLEAKS,
        example: "npm_abcdefghijklmnopqrstuvwxyz0123456789",
        mixed_alphabet: false,
    },
    TokenShape {
        name: "slack-token",
        // Bot, user, app-level, refresh, configuration tokens.
        pattern: r"\b(xox[abeoprs]-)[A-Za-z0-9-]{10,}",
        source: GITLEAKS,
        example: "xoxb-1234567890-1234567890-abcdefghijABCDEFGHIJ",
        mixed_alphabet: false,
    },
    TokenShape {
        name: "slack-webhook",
        pattern: r"(hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9_][A-Za-z0-9+/_-]{19,}",
        source: GITLEAKS,
        example: "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
        mixed_alphabet: false,
    },
    TokenShape {
        name: "google-api-key",
        pattern: r"\b()AIza[A-Za-z0-9_-]{35}",
        source: GITLEAKS,
        example: "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
        mixed_alphabet: false,
    },
    TokenShape {
        name: "stripe-key",
        pattern: r"\b((?:sk|rk)_(?:live|test|prod)_)[A-Za-z0-9]{10,}",
        source: GITLEAKS,
        example: "sk_live_abcdefghijklmnopqrstuvwx",
        mixed_alphabet: false,
    },
    TokenShape {
        name: "aws-access-key-id",
        pattern: r"\b()(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
        source: GITLEAKS,
        example: "AKIAIOSFODNN7EXAMPLE",
        mixed_alphabet: false,
    },
    TokenShape {
        name: "pypi-token",
        pattern: r"\b(pypi-)AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}",
        source: GITLEAKS,
        example: "pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMAACKlsz",
        mixed_alphabet: false,
    },
    TokenShape {
        name: "pem-body-line",
        // A line of a PEM block's base64 body, alone on its line (64 characters a line;
        // OpenSSH's 70): a private key printed by a step. The block's short last line
        // is not caught; a path of letters and slashes is not one (no digit).
        pattern: r"^(\s*)[A-Za-z0-9+/]{60,76}={0,2}\s*$",
        source: "https://www.rfc-editor.org/rfc/rfc7468#section-2",
        example: "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
        mixed_alphabet: true,
    },
    TokenShape {
        name: "docker-login-password",
        pattern: r#"(docker\s+login\b.*?\s(?:-p|--password)(?:\s+|=)["']?)\**[^\s*"'…-][^\s"']*"#,
        source: "https://docs.docker.com/reference/cli/docker/login/",
        example: "docker login -u ci -p hunter2hunter2 registry.example",
        mixed_alphabet: false,
    },
];

/// The catalogue's patterns, compiled once.
pub static COMPILED: LazyLock<Vec<(&'static TokenShape, Regex)>> = LazyLock::new(|| {
    TOKEN_SHAPES
        .iter()
        .map(|shape| {
            let regex = Regex::new(shape.pattern).expect("the token shapes are valid");
            (shape, regex)
        })
        .collect()
});

impl TokenShape {
    /// Whether `found` (a match of the pattern) is one of these credentials.
    pub fn accepts(&self, found: &str) -> bool {
        !self.mixed_alphabet
            || (found.chars().any(|c| c.is_ascii_uppercase())
                && found.chars().any(|c| c.is_ascii_lowercase())
                && found.chars().any(|c| c.is_ascii_digit()))
    }
}

/// `text` with every catalogued credential replaced: its kept prefix, then `mask`.
pub fn mask<'a>(text: &'a str, mask: &str) -> Cow<'a, str> {
    replace(text, mask, true)
}

/// `text` with every catalogued credential, its prefix too, replaced by `with`.
pub fn redact<'a>(text: &'a str, with: &str) -> Cow<'a, str> {
    replace(text, with, false)
}

fn replace<'a>(text: &'a str, mask: &str, keep_prefix: bool) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    for (shape, regex) in COMPILED.iter() {
        if !found_by(shape, regex, &out) {
            continue;
        }
        let replaced = regex
            .replace_all(&out, |caps: &regex::Captures<'_>| {
                if !shape.accepts(&caps[0]) {
                    return caps[0].to_owned();
                }
                let kept = caps.get(1).filter(|_| keep_prefix);
                format!("{}{mask}", kept.map_or("", |m| m.as_str()))
            })
            .into_owned();
        out = Cow::Owned(replaced);
    }
    out
}

/// Whether `text` holds a catalogued credential.
pub fn found(text: &str) -> bool {
    COMPILED
        .iter()
        .any(|(shape, regex)| found_by(shape, regex, text))
}

fn found_by(shape: &TokenShape, regex: &Regex, text: &str) -> bool {
    regex.find_iter(text).any(|m| shape.accepts(m.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_masks_its_example_and_leaves_nothing_to_mask() {
        for shape in TOKEN_SHAPES {
            let masked = mask(shape.example, "***");
            assert!(masked.contains("***"), "{}: {masked}", shape.name);
            assert!(!found(&masked), "{}: {masked}", shape.name);
            assert_eq!(
                mask(&masked, "***"),
                masked,
                "{}: masking twice",
                shape.name
            );
            assert!(
                shape.source.starts_with("https://"),
                "{}: names its source",
                shape.name
            );
        }
    }

    #[test]
    fn hex_digests_commit_shas_paths_and_prose_are_left_alone() {
        for line in [
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a089f86d081884c7d659a2f",
            "checked out 0d5ec357fb8684bd26a74f0b8b3a5020768688eb",
            "npm_config_cache is set",
            "docker login registry.example",
            "AKIA is a prefix",
            "/home/runner/work/Project/Project/src/main/java/com/Example/AppTest",
        ] {
            assert_eq!(mask(line, "***"), line);
            assert!(!found(line), "{line}");
        }
    }
}
