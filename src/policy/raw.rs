//! The policy file exactly as written: serde structs that refuse unknown fields and
//! keep every value's span, so that validation ([`super::config`]) can point at the
//! line of a bad value. Nothing here is checked beyond TOML's own types.

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

/// A list of strings, each with its span.
pub(super) type RawList = Spanned<Vec<Spanned<String>>>;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    /// `[defaults]`.
    #[serde(default)]
    pub defaults: Option<RawSection>,
    /// The `[[rule]]`s, in file order.
    #[serde(default, rename = "rule")]
    pub rules: Vec<Spanned<RawSection>>,
}

/// `[defaults]` or one `[[rule]]`: the same fields, `repos` and `workflows` only
/// allowed in a rule (one struct, so that both refuse the same unknown fields).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSection {
    pub repos: Option<RawList>,
    pub workflows: Option<RawList>,
    pub attempts: Option<Spanned<i64>>,
    pub branches: Option<RawList>,
    pub delay: Option<Spanned<RawDuration>>,
    pub backoff: Option<Spanned<RawNumber>>,
    pub max_delay: Option<Spanned<RawDuration>>,
    pub max_failed_jobs: Option<Spanned<i64>>,
    pub budget_per_hour: Option<Spanned<i64>>,
    pub timed_out: Option<Spanned<bool>>,
    pub skip_workflows: Option<RawList>,
    pub skip_jobs: Option<RawList>,
    pub skip_steps: Option<RawList>,
    pub never_when: Option<RawList>,
    pub only_when: Option<RawList>,
    pub stop_when_useless: Option<Spanned<i64>>,
    pub learn_after: Option<Spanned<i64>>,
    pub debug_last_attempt: Option<Spanned<bool>>,
    pub mode: Option<Spanned<String>>,
}

/// A duration as users write it: `"5s"`, `"30m"`, `"1h 30m"`, or a number of
/// seconds (as `RERUN_DELAY` takes it).
#[derive(Clone, Debug, PartialEq)]
pub(super) enum RawDuration {
    /// humantime's syntax.
    Text(String),
    /// Seconds.
    Seconds(f64),
}

impl<'de> Deserialize<'de> for RawDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = RawDuration;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration such as \"5s\" or \"30m\", or a number of seconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawDuration::Text(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RawDuration::Seconds(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RawDuration::Seconds(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(RawDuration::Seconds(v))
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}

/// A number written as an integer or a float (`backoff = 2` and `backoff = 2.0`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct RawNumber(pub f64);

impl<'de> Deserialize<'de> for RawNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumberVisitor;
        impl Visitor<'_> for NumberVisitor {
            type Value = RawNumber;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(RawNumber(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(RawNumber(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(RawNumber(v))
            }
        }
        deserializer.deserialize_any(NumberVisitor)
    }
}
