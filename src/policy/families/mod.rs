//! Built-in knowledge of failures: named families of the messages that tools, GitHub
//! and the runner print when a job fails, each family either *transient* (a re-run is
//! likely to pass: the network, a registry, GitHub's own services, the runner),
//! *broken* (the code, the workflow or its configuration is at fault: a re-run fails
//! the same way) or *not started* (GitHub never ran the job).
//!
//! Each family lives in a file of its own and is declared once, as a [`Family`]: its
//! name (what a policy writes after `@`), what it covers, and its [`Pattern`]s, each
//! with the messages it matches as the tools write them and the public thread each
//! message was copied from. docs/policy.md's family table, the policy's `@` words and the
//! tests all come from these declarations, so they cannot drift apart.
//!
//! Patterns are matched against one *message* at a time: a log or annotation line
//! with its timestamp, ANSI colours and its `##[error]` / `Error: ` marker removed
//! (see [`super::decisive`]). Which matching line decides a job is not this module's
//! business: [`super::decisive`] picks the line that failed the step.

pub mod catalog;
mod compile;
mod dependency;
mod deprecated;
mod github_service;
mod lint;
mod network;
mod not_started;
mod permissions;
mod registry;
mod resources;
mod runner;
mod secrets;
mod test_failures;
mod timeout;
mod workflow;

use std::sync::LazyLock;

use regex::{Regex, RegexSet, RegexSetBuilder};

/// What a family says about a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// A re-run is likely to pass.
    Transient,
    /// A re-run fails the same way.
    Broken,
    /// GitHub never ran the job.
    NotStarted,
}

impl Class {
    /// The word shown in tables and by `classify`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transient => "transient",
            Self::Broken => "broken",
            Self::NotStarted => "not_started",
        }
    }
}

/// One message as a tool writes it, and where it was seen.
#[derive(Clone, Copy, Debug)]
pub struct Example {
    /// The message, copied from the source (one line).
    pub text: &'static str,
    /// The public thread it was copied from.
    pub source: &'static str,
}

/// How much a message of a pattern says about where the job failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weight {
    /// The runner or GitHub ended the whole job: the message decides the job wherever
    /// it stands (a later line is the runner's own clean-up, not the cause).
    EndsJob,
    /// A cause: the error itself (`error[E0425]`, `ECONNRESET`, a failed assertion).
    Cause,
    /// A tool's summary of causes it printed above (`test result: FAILED`, `=== 3
    /// failed ===`, `error: could not compile`): it decides only when no cause is known.
    Summary,
}

/// One pattern of a family.
#[derive(Clone, Copy, Debug)]
pub struct Pattern {
    /// A short name, unique in its family: `@network:connection_reset`.
    pub name: &'static str,
    /// The regex, matched against one message.
    pub regex: &'static str,
    /// What a message it matches says about where the job failed.
    pub weight: Weight,
    /// Every message it is known to match (each must).
    pub examples: &'static [Example],
}

/// A named family of failure messages.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    /// The word after `@` in a policy.
    pub name: &'static str,
    /// What it says about a failure.
    pub class: Class,
    /// What it covers, one sentence (docs/policy.md's table).
    pub doc: &'static str,
    /// Its patterns.
    pub patterns: &'static [Pattern],
}

/// Every family, in the order a message that several match is given to the first:
/// a message that says the job never started, or that the workflow or its
/// configuration is wrong, says more than a network word in it.
pub const FAMILIES: &[Family] = &[
    not_started::FAMILY,
    workflow::FAMILY,
    secrets::FAMILY,
    permissions::FAMILY,
    deprecated::FAMILY,
    dependency::FAMILY,
    compile::FAMILY,
    lint::FAMILY,
    runner::FAMILY,
    github_service::FAMILY,
    registry::FAMILY,
    network::FAMILY,
    timeout::FAMILY,
    resources::FAMILY,
    test_failures::FAMILY,
];

/// A word that names several families at once.
#[derive(Clone, Copy, Debug)]
pub struct Group {
    /// The word after `@`.
    pub name: &'static str,
    /// What it stands for.
    pub doc: &'static str,
    /// The families it names.
    pub families: &'static [&'static str],
}

/// The words that name several families, and the old name of one.
pub const GROUPS: &[Group] = &[
    Group {
        name: "transient",
        doc: "every transient family: what a re-run is likely to fix",
        families: &["network", "registry", "github_service", "runner", "timeout"],
    },
    Group {
        name: "broken",
        doc: "every broken family: what a re-run fails the same way",
        families: &[
            "compile",
            "test",
            "lint",
            "workflow",
            "secrets",
            "permissions",
            "deprecated",
            "dependency",
        ],
    },
    Group {
        name: "infra",
        doc: "the old name of @runner, kept so that existing policies keep working",
        families: &["runner"],
    },
];

/// A set of families, as a bit per index of [`FAMILIES`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FamilySet(u32);

impl FamilySet {
    /// No family.
    pub const EMPTY: Self = Self(0);

    /// Whether the family at `index` of [`FAMILIES`] is in the set.
    pub fn contains(self, index: usize) -> bool {
        index < 32 && self.0 & (1 << index) != 0
    }

    /// The set with the family at `index` added.
    fn with(self, index: usize) -> Self {
        Self(self.0 | (1 << index))
    }
}

/// The families a policy word (without its `@`) names, or `None` for an unknown word.
pub fn resolve(word: &str) -> Option<FamilySet> {
    if let Some(index) = FAMILIES.iter().position(|f| f.name == word) {
        return Some(FamilySet::EMPTY.with(index));
    }
    let group = GROUPS.iter().find(|g| g.name == word)?;
    Some(group.families.iter().fold(FamilySet::EMPTY, |set, name| {
        let index = FAMILIES
            .iter()
            .position(|f| f.name == *name)
            .expect("a group names known families (tested)");
        set.with(index)
    }))
}

/// Every word a policy may write after `@`, for error messages.
pub fn words() -> Vec<&'static str> {
    FAMILIES
        .iter()
        .map(|f| f.name)
        .chain(GROUPS.iter().map(|g| g.name))
        .collect()
}

/// A built-in pattern that matched a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Known {
    /// Its family's index in [`FAMILIES`].
    pub family: usize,
    /// Its index in the family's patterns.
    pub pattern: usize,
}

impl Known {
    /// The family.
    pub fn family(self) -> &'static Family {
        &FAMILIES[self.family]
    }

    /// The pattern.
    pub fn pattern(self) -> &'static Pattern {
        &FAMILIES[self.family].patterns[self.pattern]
    }

    /// `network:connection_reset`: the family and pattern, a bounded label.
    pub fn label(self) -> String {
        format!("{}:{}", self.family().name, self.pattern().name)
    }
}

/// Every built-in pattern in one set, in family order, and where each came from.
struct Compiled {
    set: RegexSet,
    origin: Vec<Known>,
}

static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let mut regexes = Vec::new();
    let mut origin = Vec::new();
    for (family, f) in FAMILIES.iter().enumerate() {
        for (pattern, p) in f.patterns.iter().enumerate() {
            regexes.push(p.regex);
            origin.push(Known { family, pattern });
        }
    }
    let set = RegexSetBuilder::new(&regexes)
        .size_limit(64 << 20)
        .build()
        .expect("the built-in patterns compile (tested)");
    Compiled { set, origin }
});

/// The first built-in pattern (in family order) that `message` matches.
pub fn known(message: &str) -> Option<Known> {
    let compiled = &*COMPILED;
    let first = compiled.set.matches(message).iter().next()?;
    Some(compiled.origin[first])
}

/// The first built-in pattern of the families in `set` that `message` matches.
pub fn known_in(message: &str, set: FamilySet) -> Option<Known> {
    let compiled = &*COMPILED;
    compiled
        .set
        .matches(message)
        .iter()
        .map(|i| compiled.origin[i])
        .find(|k| set.contains(k.family))
}

/// Every pattern's regex compiled alone (tests, and the docs' check).
pub fn each_regex() -> impl Iterator<Item = (Known, Regex)> {
    FAMILIES.iter().enumerate().flat_map(|(family, f)| {
        f.patterns.iter().enumerate().map(move |(pattern, p)| {
            let regex = Regex::new(p.regex).expect("the built-in patterns compile (tested)");
            (Known { family, pattern }, regex)
        })
    })
}

#[cfg(test)]
mod tests;
