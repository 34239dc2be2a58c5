//! What GitHub says about one failed job, as a decision reads it: its check-run
//! annotations and its log tail, each fetched or unavailable with why. The GitHub
//! actor fills these in; `judgement` reads them; nothing here decides.

use serde::{Deserialize, Serialize};

use crate::ids::{JobId, Name};

/// Something fetched from GitHub, or why it could not be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched<T> {
    /// The content.
    Got(T),
    /// 410 (expired), a failure after retries, a log too large: recorded as such.
    Unavailable {
        /// Why, in a few words (no URL: a pre-signed URL is a credential).
        why: String,
    },
}

/// A check-run annotation's level, as GitHub's `annotation_level` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnotationLevel {
    /// `notice`.
    Notice,
    /// `warning` (a deprecation, a cache miss: no sign of a broken job).
    Warning,
    /// `failure`: the only level patterns are matched against.
    Failure,
    /// A level GitHub may add later; never matched.
    #[serde(other)]
    Other,
}

/// One check-run annotation, in the fields of GitHub's answer that a decision reads.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Annotation {
    /// `annotation_level`.
    #[serde(rename = "annotation_level")]
    pub level: AnnotationLevel,
    /// `message`.
    pub message: String,
}

impl Annotation {
    /// A `failure` annotation.
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            level: AnnotationLevel::Failure,
            message: message.into(),
        }
    }
}

/// What GitHub says about one failed job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobEvidence {
    /// The job.
    pub job: JobId,
    /// Its check-run annotations, every level (only `failure` ones are matched).
    pub annotations: Fetched<Vec<Annotation>>,
    /// The tail of its log (timestamps are stripped here).
    pub log: Fetched<String>,
}

/// A job a decision is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRef {
    /// Its id.
    pub id: JobId,
    /// Its name.
    pub name: Name,
}
