//! Identifier newtypes. They validate on construction, so a repository name that
//! is not `owner/name` can never reach a GitHub API URL or the store.

use std::fmt;
use std::sync::{Arc, OnceLock};

use dashmap::DashSet;

use serde::{Deserialize, Serialize};

/// A repository's `owner/name`, as GitHub spells it in `repository.full_name`.
///
/// Cheap to clone, and interned: every run, event, log line and API request of a
/// repository shares one allocation (a live run costs no copy of its repository's name).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(Arc<str>);

/// Why a string was refused as a repository name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("repository.full_name {0:?} is not of the form owner/name")]
pub struct InvalidRepoName(String);

impl RepoName {
    /// Accepts `owner/name` where both parts are non-empty and made of the characters
    /// GitHub allows (letters, digits, `-`, `_`, `.`); nothing that could change a URL path.
    pub fn parse(full_name: &str) -> Result<Self, InvalidRepoName> {
        let valid_part = |part: &str| {
            !part.is_empty()
                && part.len() <= 100
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        match full_name.split_once('/') {
            Some((owner, name)) if valid_part(owner) && valid_part(name) => {
                Ok(Self(intern(full_name)))
            }
            _ => Err(InvalidRepoName(full_name.to_owned())),
        }
    }

    /// The validated `owner/name`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Names interned so far. Repositories are few next to their runs; past this many
/// (which no organisation reaches) new names are simply not shared.
const INTERNED_MAX: usize = 100_000;

/// The shared allocation of `name`.
fn intern(name: &str) -> Arc<str> {
    static INTERNED: OnceLock<DashSet<Arc<str>>> = OnceLock::new();
    let names = INTERNED.get_or_init(DashSet::new);
    if let Some(known) = names.get(name) {
        return Arc::clone(&known);
    }
    let fresh: Arc<str> = Arc::from(name);
    if names.len() < INTERNED_MAX {
        names.insert(Arc::clone(&fresh));
    }
    fresh
}

impl Serialize for RepoName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RepoName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        RepoName::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

/// A workflow run's id (`workflow_job.run_id`), unique across GitHub.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(pub u64);

/// A job's id (`workflow_job.id`); every attempt of a run gets new job ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub u64);

/// A GitHub App installation's id (`installation.id` of an App's webhook): which
/// installation token the run's API calls are made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstallationId(pub u64);

impl fmt::Display for InstallationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A commit's SHA-1 (`workflow_job.head_sha`), kept as its 20 bytes: a run keeps it
/// (for its check runs) without an allocation per delivery. Stored as 40 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CommitSha(pub [u8; 20]);

impl CommitSha {
    /// Reads 40 hex digits; anything else is `None`.
    pub fn parse(hex_text: &str) -> Option<Self> {
        let mut bytes = [0; 20];
        hex::decode_to_slice(hex_text, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl fmt::Display for CommitSha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl Serialize for CommitSha {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for CommitSha {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| serde::de::Error::custom("head_sha: not 40 hex digits"))
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Identifies one tracked workflow run: the registry, the store and the logs key on it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunKey {
    /// The repository the run belongs to.
    pub repo: RepoName,
    /// The run's id.
    pub run_id: RunId,
}

impl fmt::Display for RunKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.repo, self.run_id)
    }
}

/// A branch, workflow or job name. Such names are short: up to 24 bytes are kept
/// inline, so that a live run's names cost no allocation each (a whole organisation's
/// live runs are in memory).
pub type Name = compact_str::CompactString;

/// A finished job's `conclusion`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    /// The job passed.
    Success,
    /// The job failed.
    Failure,
    /// The job ran out of time; counts as a failure.
    TimedOut,
    /// The job was cancelled (by a person, or by `fail-fast`); not a reason to re-run.
    Cancelled,
    /// The job was skipped (`if:` or a failed `needs:`); not a reason to re-run.
    Skipped,
    /// Any other conclusion (`neutral`, `action_required`, `stale`, new ones).
    Other,
}

impl Conclusion {
    /// Reads GitHub's spelling; unknown words are `Other`, never an error.
    pub fn parse(raw: &str) -> Self {
        match raw {
            "success" => Self::Success,
            "failure" => Self::Failure,
            "timed_out" => Self::TimedOut,
            "cancelled" => Self::Cancelled,
            "skipped" => Self::Skipped,
            _ => Self::Other,
        }
    }

    /// Whether a job that ended like this makes its run worth re-running.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failure | Self::TimedOut)
    }

    /// GitHub's spelling, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
            Self::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_slash_name_is_a_repository() {
        let repo = RepoName::parse("tarantool/devx-team-sandbox").expect("valid");
        assert_eq!(repo.as_str(), "tarantool/devx-team-sandbox");
    }

    #[test]
    fn runs_of_one_repository_share_its_name() {
        let first = RepoName::parse("tarantool/interned").expect("valid");
        let second = RepoName::parse("tarantool/interned").expect("valid");
        assert!(Arc::ptr_eq(&first.0, &second.0));
        assert_eq!(first, second);
    }

    #[test]
    fn names_that_could_change_a_url_path_are_refused() {
        for bad in [
            "",
            "tarantool",
            "/repo",
            "owner/",
            "a/b/c",
            "../x",
            "owner/..",
            "o w/n",
            "a/b?x=1",
            "a/b#frag",
        ] {
            assert!(RepoName::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
