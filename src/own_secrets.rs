//! The service's own secret values (`GITHUB_SIGN_KEY`, `GITHUB_TOKEN`, `STATUS_TOKEN`,
//! the lines of the App's private key), masked wherever text from outside is recorded,
//! shown or logged: a step that echoes the token, a proxy that quotes the key. The
//! catalogue of shapes (`crate::token_shapes`) cannot know them: a webhook secret has
//! no shape.
//!
//! They are registered once at start-up (`Application::build` for the three values,
//! the settings' reading of the key for its lines) in a process-wide, append-only list:
//! the masking functions are called deep in pure code (a decision's evidence, an
//! error's message) that is given no settings, and threading them through every
//! caller for a list that never changes after start-up would touch every boundary.
//! Append-only because a test process starts several services, each with its values;
//! masking another service's values too costs nothing. Values shorter than
//! [`MIN_CHARS`] are not registered: masking every `k` in every line would ruin the
//! evidence and protect nothing a guess would not find.

use std::borrow::Cow;
use std::sync::{PoisonError, RwLock};

/// Shortest value registered.
pub const MIN_CHARS: usize = 8;

static OWN: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Registers `value` (trimmed) to be masked from now on.
pub fn register(value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_CHARS {
        return;
    }
    let mut own = OWN.write().unwrap_or_else(PoisonError::into_inner);
    if !own.iter().any(|known| known == value) {
        own.push(value.to_owned());
        // Longest first: a value that contains another is masked whole.
        own.sort_by_key(|known| std::cmp::Reverse(known.len()));
    }
}

/// Registers every body line of a PEM text (`-----BEGIN …` and `-----END …` lines are
/// not secret); a literal `\n` counts as a line break, as in `GITHUB_APP_PRIVATE_KEY`.
pub fn register_pem(text: &str) {
    for line in text.split('\n').flat_map(|line| line.split("\\n")) {
        let line = line.trim();
        if !line.starts_with("-----") {
            register(line);
        }
    }
}

/// `text` with every registered value replaced by `mask`.
pub fn mask<'a>(text: &'a str, mask: &str) -> Cow<'a, str> {
    let own = OWN.read().unwrap_or_else(PoisonError::into_inner);
    let mut out = Cow::Borrowed(text);
    for value in own.iter() {
        if out.contains(value.as_str()) {
            out = Cow::Owned(out.replace(value.as_str(), mask));
        }
    }
    out
}

/// Whether `text` holds a registered value.
pub fn found(text: &str) -> bool {
    let own = OWN.read().unwrap_or_else(PoisonError::into_inner);
    own.iter().any(|value| text.contains(value.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_value_is_masked_and_a_short_one_is_not_registered() {
        register("own-secret-value-for-the-test");
        register("short");
        assert_eq!(
            mask("echo own-secret-value-for-the-test short", "***"),
            "echo *** short"
        );
        assert!(found("xown-secret-value-for-the-testx"));
        assert!(!found("short"));
    }

    #[test]
    fn a_pem_key_registers_its_body_lines_not_its_markers() {
        register_pem(
            "-----BEGIN PRIVATE KEY-----\\nQUJDREVGR0hJSktMTU5PUA==\\n-----END PRIVATE KEY-----\n",
        );
        assert_eq!(
            mask("key QUJDREVGR0hJSktMTU5PUA== leaked", "***"),
            "key *** leaked"
        );
        assert!(!found("-----BEGIN PRIVATE KEY-----"));
    }
}
