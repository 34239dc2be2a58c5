//! A secret value (a token, the webhook key, a JWT, a signed URL) that no `Debug`,
//! log line or error text shows: only [`Secret::expose`] gives it, where it is used.
//! A leaf: the settings read secrets, the GitHub client sends them, neither owns them.

use std::fmt;

/// A secret value (token, webhook key) whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is used (signing, the Authorization header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
