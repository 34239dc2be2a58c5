//! The two kinds of pattern a policy holds, compiled once when the policy is loaded:
//! globs on names (repositories, branches, workflows, jobs, steps) and regexes on
//! lines (annotations, log). Each keeps its text as written, for the effective
//! policy and for comparing policies.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use regex::{Regex, RegexSet};

use super::error::one_line;
use super::infra::{INFRA, INFRA_TOKEN};

/// How a glob list compares names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobKind {
    /// Branches: `*` crosses `/` (`"*"` is every branch, `release/*` every branch
    /// under `release/`); case-sensitive, as git is.
    Branch,
    /// Repositories `owner/name`: `*` stops at `/`; case-insensitive, as GitHub is.
    Repo,
    /// Workflow, job and step names: free text (a reusable workflow's job is named
    /// `caller / callee`), so `*` crosses `/`; case-insensitive.
    Name,
}

/// Compiled globs; matches when any of them does. An empty list matches nothing.
#[derive(Clone, Debug)]
pub struct GlobList {
    written: Vec<String>,
    set: GlobSet,
}

impl GlobList {
    /// Compiles `globs`; the error names the index of the bad one and why.
    pub fn new<S: AsRef<str>>(globs: &[S], kind: GlobKind) -> Result<Self, (usize, String)> {
        let mut builder = GlobSetBuilder::new();
        for (index, glob) in globs.iter().enumerate() {
            let glob = glob.as_ref();
            if glob.trim().is_empty() {
                return Err((index, "is empty".to_owned()));
            }
            let compiled = GlobBuilder::new(glob)
                .literal_separator(kind == GlobKind::Repo)
                .case_insensitive(kind != GlobKind::Branch)
                .backslash_escape(true)
                .build()
                .map_err(|e| (index, format!("invalid glob: {}", e.kind())))?;
            builder.add(compiled);
        }
        let set = builder
            .build()
            .map_err(|e| (0, format!("invalid glob: {}", e.kind())))?;
        Ok(Self {
            written: globs.iter().map(|g| g.as_ref().to_owned()).collect(),
            set,
        })
    }

    /// No glob: matches nothing.
    pub fn empty() -> Self {
        Self {
            written: Vec::new(),
            set: GlobSet::empty(),
        }
    }

    /// Whether `name` matches one of the globs.
    pub fn matches(&self, name: &str) -> bool {
        self.set.is_match(name)
    }

    /// The first glob `name` matches, as written (the evidence of a skip).
    pub fn first_match(&self, name: &str) -> Option<&str> {
        self.set
            .matches(name)
            .first()
            .map(|&i| self.written[i].as_str())
    }

    /// The globs as written.
    pub fn written(&self) -> &[String] {
        &self.written
    }

    /// Whether the list has no glob.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty()
    }
}

impl PartialEq for GlobList {
    fn eq(&self, other: &Self) -> bool {
        self.written == other.written
    }
}

/// Compiled regexes matched against single lines, with `@infra` expanded.
#[derive(Clone, Debug)]
pub struct Patterns {
    written: Vec<String>,
    /// Every regex, `@infra` expanded, for one pass per line.
    set: RegexSet,
    /// The same regexes one by one, to say which matched.
    each: Vec<(String, Regex)>,
}

impl Patterns {
    /// Compiles `patterns`; `@infra` stands for the built-in list. The error names the
    /// index of the bad one and why.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, (usize, String)> {
        let mut each = Vec::new();
        for (index, pattern) in patterns.iter().enumerate() {
            let pattern = pattern.as_ref();
            if pattern == INFRA_TOKEN {
                for builtin in INFRA {
                    let regex = Regex::new(builtin.regex)
                        .map_err(|e| (index, format!("built-in {}: {e}", builtin.name)))?;
                    each.push((format!("{INFRA_TOKEN}:{}", builtin.name), regex));
                }
                continue;
            }
            if pattern.starts_with('@') {
                return Err((
                    index,
                    format!("unknown built-in {pattern:?} (the one built-in is {INFRA_TOKEN})"),
                ));
            }
            if pattern.is_empty() {
                return Err((index, "is empty (it would match every line)".to_owned()));
            }
            let regex = Regex::new(pattern).map_err(|e| {
                (
                    index,
                    format!("invalid regex: {}", one_line(&e.to_string())),
                )
            })?;
            each.push((pattern.to_owned(), regex));
        }
        let set = RegexSet::new(each.iter().map(|(_, r)| r.as_str()))
            .map_err(|e| (0, format!("invalid regex: {e}")))?;
        Ok(Self {
            written: patterns.iter().map(|p| p.as_ref().to_owned()).collect(),
            set,
            each,
        })
    }

    /// No pattern.
    pub fn empty() -> Self {
        Self {
            written: Vec::new(),
            set: RegexSet::empty(),
            each: Vec::new(),
        }
    }

    /// Whether the list has no pattern.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty()
    }

    /// The patterns as written (`@infra` unexpanded).
    pub fn written(&self) -> &[String] {
        &self.written
    }

    /// The name of the first pattern `line` matches (`@infra:runner_lost` for a
    /// built-in one), if any.
    pub fn matching(&self, line: &str) -> Option<&str> {
        let first = self.set.matches(line).into_iter().next()?;
        self.each.get(first).map(|(name, _)| name.as_str())
    }
}

impl PartialEq for Patterns {
    fn eq(&self, other: &Self) -> bool {
        self.written == other.written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_globs_cross_slashes_and_compare_case() {
        let branches = GlobList::new(&["release/*", "master"], GlobKind::Branch).expect("valid");
        assert!(branches.matches("release/2.x"));
        assert!(branches.matches("release/2.x/fix"));
        assert!(!branches.matches("Master"));
        let every = GlobList::new(&["*"], GlobKind::Branch).expect("valid");
        assert!(every.matches("feature/a/b"));
        let jobs = GlobList::new(&["deploy*"], GlobKind::Name).expect("valid");
        assert!(jobs.matches("deploy / production"));
        assert!(jobs.matches("Deploy docs"));
    }

    #[test]
    fn repository_globs_ignore_case_and_stop_at_the_slash() {
        let repos = GlobList::new(&["tarantool/*"], GlobKind::Repo).expect("valid");
        assert!(repos.matches("Tarantool/tarantool"));
        assert!(!repos.matches("other/tarantool"));
        let owners = GlobList::new(&["*/docs"], GlobKind::Repo).expect("valid");
        assert!(owners.matches("a/docs") && !owners.matches("a/b/docs"));
    }

    #[test]
    fn a_bad_glob_is_named_by_index() {
        let err = GlobList::new(&["ok", "[a"], GlobKind::Name).expect_err("invalid");
        assert_eq!(err.0, 1);
        assert!(err.1.starts_with("invalid glob"), "{}", err.1);
    }

    #[test]
    fn infra_expands_and_names_the_built_in_that_matched() {
        let patterns = Patterns::new(&["ECONNRESET", "@infra"]).expect("valid");
        assert_eq!(patterns.written(), ["ECONNRESET", "@infra"]);
        assert_eq!(
            patterns.matching(
                "The hosted runner: GitHub Actions 3 lost communication with the server."
            ),
            Some("@infra:runner_lost")
        );
        assert_eq!(patterns.matching("read ECONNRESET"), Some("ECONNRESET"));
        assert_eq!(patterns.matching("all good"), None);
    }

    #[test]
    fn an_unknown_built_in_is_refused() {
        let err = Patterns::new(&["@flaky"]).expect_err("unknown");
        assert!(err.1.contains("@infra"), "{}", err.1);
    }
}
