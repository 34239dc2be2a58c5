//! The two kinds of pattern a policy holds, compiled once when the policy is loaded:
//! globs on names (repositories, branches, workflows, jobs, steps) and regexes on
//! lines (annotations, log). Each keeps its text as written, for the effective
//! policy and for comparing policies.
//!
//! A regex list is parsed one pattern at a time (cheap, and the error names the
//! pattern at fault), then compiled once into a single `RegexSet` with a size limit,
//! so one pass over a line tries every pattern. The built-in families a list names
//! with `@` (`src/policy/families/`) are compiled once per process, not once per list.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use regex::{RegexSet, RegexSetBuilder};

use super::costly;
use super::error::one_line;
use super::families::{self, FamilySet, Known};

/// Why a list of globs or regexes was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListError {
    /// The item at fault (0-based); `None`: the list as a whole.
    pub index: Option<usize>,
    /// What is wrong, one line.
    pub problem: String,
}

impl ListError {
    fn at(index: usize, problem: impl Into<String>) -> Self {
        Self {
            index: Some(index),
            problem: problem.into(),
        }
    }
}

/// Most regexes in one `never_when` or `only_when` list.
pub const MAX_PATTERNS: usize = 100;

/// Longest regex, in characters.
pub const MAX_PATTERN_CHARS: usize = 1000;

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
    pub fn new<S: AsRef<str>>(globs: &[S], kind: GlobKind) -> Result<Self, ListError> {
        let mut builder = GlobSetBuilder::new();
        for (index, glob) in globs.iter().enumerate() {
            let glob = glob.as_ref();
            if glob.trim().is_empty() {
                return Err(ListError::at(index, "is empty"));
            }
            let compiled = GlobBuilder::new(glob)
                .literal_separator(kind == GlobKind::Repo)
                .case_insensitive(kind != GlobKind::Branch)
                .backslash_escape(true)
                .build()
                .map_err(|e| ListError::at(index, format!("invalid glob: {}", e.kind())))?;
            builder.add(compiled);
        }
        let set = builder.build().map_err(|e| ListError {
            index: None,
            problem: format!("invalid globs: {}", e.kind()),
        })?;
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

/// Largest compiled size of one list's regexes together. The regex crate's own
/// default (10 MiB) takes seconds to reach and refuse in a debug build; a policy's
/// patterns are a few words each and need far less.
const SET_SIZE_LIMIT: usize = 2 << 20;

/// Which entry of a list matched a line first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hit {
    /// The regex at this index of the list, as written.
    Written(usize),
    /// A built-in family's pattern, through the `@word` the list wrote.
    Family {
        /// The word as written, without `@` (`network`, `transient`, `infra`).
        word: &'static str,
        /// The pattern that matched.
        known: Known,
    },
}

impl Hit {
    /// The name decisions and metrics use: `@network:connection_reset` (`@infra:…`
    /// when the list named the runner family by its old name), or `never_when[1]` for
    /// the list `field`'s regex 1 (a bounded label, unlike the regex itself).
    pub fn name(&self, field: &str) -> String {
        match self {
            Self::Written(index) => format!("{field}[{index}]"),
            Self::Family { word, known } => family_name(word, *known),
        }
    }
}

fn family_name(word: &str, known: Known) -> String {
    let family = if word == "infra" {
        word
    } else {
        known.family().name
    };
    format!("@{family}:{}", known.pattern().name)
}

/// Compiled regexes matched against single lines, and the built-in families the list
/// names with `@`.
#[derive(Clone, Debug)]
pub struct Patterns {
    written: Vec<String>,
    /// The list's own regexes (`@` words excepted), for one pass per line.
    set: RegexSet,
    /// For each regex of `set`, its index in `written`.
    index: Vec<usize>,
    /// Each `@` word: its index in `written`, the word, the families it names.
    words: Vec<(usize, &'static str, FamilySet)>,
}

impl Patterns {
    /// Compiles `patterns`; `@word` names built-in families. The error names the
    /// pattern at fault, or the list when only the patterns together are too large.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, ListError> {
        if patterns.len() > MAX_PATTERNS {
            return Err(ListError::at(
                MAX_PATTERNS,
                format!("more than {MAX_PATTERNS} patterns: join some with |"),
            ));
        }
        let mut regexes = Vec::new();
        let mut index = Vec::new();
        let mut words = Vec::new();
        for (at, pattern) in patterns.iter().enumerate() {
            let pattern = pattern.as_ref();
            if let Some((word, set)) = pattern.strip_prefix('@').and_then(|w| {
                Some((
                    families::words().into_iter().find(|k| *k == w)?,
                    families::resolve(w)?,
                ))
            }) {
                words.push((at, word, set));
                continue;
            }
            check(pattern).map_err(|problem| ListError::at(at, problem))?;
            regexes.push(pattern);
            index.push(at);
        }
        let set = RegexSetBuilder::new(&regexes)
            .size_limit(SET_SIZE_LIMIT)
            .build()
            .map_err(|e| {
                let why = match e {
                    regex::Error::CompiledTooBig(_) => format!(
                        "the compiled size limit ({} MiB); use fewer or shorter repetitions, or ASCII classes ((?-u:\\w))",
                        SET_SIZE_LIMIT >> 20
                    ),
                    // Every pattern parsed alone: not seen, but say what regex says.
                    other => return ListError {
                        index: None,
                        problem: format!("invalid regexes: {}", one_line(&other.to_string())),
                    },
                };
                match index.as_slice() {
                    [only] => ListError::at(*only, format!("compiled, exceeds {why}")),
                    _ => ListError {
                        index: None,
                        problem: format!("the {} patterns together exceed {why}", regexes.len()),
                    },
                }
            })?;
        if !regexes.is_empty() && costly::gives_up(&regexes) {
            const WHY: &str = "too costly to match: the regex engine gives up on 4 KiB log lines (too many states); avoid counted repetitions after a repeated class, such as [a-z]*a[a-z]{20}";
            return Err(match index.as_slice() {
                [only] => ListError::at(*only, format!("is {WHY}")),
                _ => ListError {
                    index: None,
                    problem: format!("the {} patterns together are {WHY}", regexes.len()),
                },
            });
        }
        Ok(Self {
            written: patterns.iter().map(|p| p.as_ref().to_owned()).collect(),
            set,
            index,
            words,
        })
    }

    /// No pattern.
    pub fn empty() -> Self {
        Self {
            written: Vec::new(),
            set: RegexSet::empty(),
            index: Vec::new(),
            words: Vec::new(),
        }
    }

    /// Whether the list has no pattern.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty()
    }

    /// The patterns as written (`@` words unexpanded).
    pub fn written(&self) -> &[String] {
        &self.written
    }

    /// Whether the list names a built-in family.
    pub fn has_families(&self) -> bool {
        !self.words.is_empty()
    }

    /// Whether the list has regexes of its own.
    pub fn has_regexes(&self) -> bool {
        !self.index.is_empty()
    }

    /// The index (in the list as written) of the first own regex `line` matches.
    pub fn matching_regex(&self, line: &str) -> Option<usize> {
        self.set.matches(line).iter().next().map(|k| self.index[k])
    }

    /// The name of the first `@` word of the list whose families hold `known`.
    pub fn family_hit(&self, known: Known) -> Option<String> {
        self.words
            .iter()
            .find(|(_, _, set)| set.contains(known.family))
            .map(|(_, word, _)| family_name(word, known))
    }

    /// The first entry of the list (in list order) that `line` matches, if any: an own
    /// regex, or a pattern of a family the list names. (Decisions match families
    /// against the decisive line only; this is for one line on its own.)
    pub fn matching(&self, line: &str) -> Option<Hit> {
        let own = self.matching_regex(line);
        let family = self.words.iter().find_map(|(at, word, set)| {
            let known = families::known_in(line, *set)?;
            Some((*at, Hit::Family { word, known }))
        });
        match (own, family) {
            (Some(at), Some((family_at, _))) if at < family_at => Some(Hit::Written(at)),
            (_, Some((_, hit))) => Some(hit),
            (Some(at), None) => Some(Hit::Written(at)),
            (None, None) => None,
        }
    }
}

/// Why one regex a user wrote is refused, if it is.
fn check(pattern: &str) -> Result<(), String> {
    let trimmed = pattern.trim();
    if let Some(word) = trimmed.strip_prefix('@') {
        if families::resolve(word).is_some() {
            return Err(format!("has blanks around the built-in: write {trimmed:?}"));
        }
        let known: Vec<String> = families::words().iter().map(|w| format!("@{w}")).collect();
        return Err(format!(
            "unknown built-in {pattern:?} (the built-ins are {})",
            known.join(", ")
        ));
    }
    if pattern.is_empty() {
        return Err("is empty (it would match every line)".to_owned());
    }
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(format!("is longer than {MAX_PATTERN_CHARS} characters"));
    }
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .map_err(|e| format!("invalid regex: {}", one_line(&e.to_string())))?;
    if hir.properties().minimum_len() == Some(0) {
        return Err(
            "can match an empty text (as '.*', '^' and 'a*' do), so it would match every line"
                .to_owned(),
        );
    }
    Ok(())
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
        assert_eq!(err.index, Some(1));
        assert!(err.problem.starts_with("invalid glob"), "{}", err.problem);
    }

    #[test]
    fn infra_expands_and_names_the_built_in_that_matched() {
        let patterns = Patterns::new(&["ECONNRESET", "@infra"]).expect("valid");
        assert_eq!(patterns.written(), ["ECONNRESET", "@infra"]);
        let name = |line| patterns.matching(line).map(|hit| hit.name("only_when"));
        assert_eq!(
            name("The hosted runner: GitHub Actions 3 lost communication with the server.")
                .as_deref(),
            Some("@infra:runner_lost")
        );
        assert_eq!(name("read ECONNRESET").as_deref(), Some("only_when[0]"));
        assert_eq!(name("all good"), None);
        // In list order: a line both match is the earlier pattern's.
        let infra_first = Patterns::new(&["@infra", "lost communication"]).expect("valid");
        assert_eq!(
            infra_first
                .matching("The hosted runner: GitHub Actions 3 lost communication with the server.")
                .map(|hit| hit.name("only_when"))
                .as_deref(),
            Some("@infra:runner_lost")
        );
    }

    #[test]
    fn an_unknown_built_in_is_refused() {
        let err = Patterns::new(&["@flaky"]).expect_err("unknown");
        assert!(err.problem.contains("@infra"), "{}", err.problem);
    }

    #[test]
    fn patterns_too_big_together_are_blamed_on_the_list_not_on_a_valid_first_one() {
        // One \w{20} compiles to about half a MiB (Unicode classes are large).
        let patterns: Vec<String> = (0..8).map(|i| format!(r"\w{{20}}{i}")).collect();
        assert!(Patterns::new(&patterns[..1]).is_ok());
        let err = Patterns::new(&patterns).expect_err("too big together");
        assert_eq!(err.index, None, "{}", err.problem);
        assert!(
            err.problem.contains("8 patterns together"),
            "{}",
            err.problem
        );
    }

    #[test]
    fn patterns_too_costly_to_match_together_are_refused_at_load() {
        let costly: Vec<String> = (0..100)
            .map(|i| format!("[a-z]*a[a-z]{{{}}}\\p{{Greek}}", 10 + i % 7))
            .collect();
        let err = Patterns::new(&costly).expect_err("too costly");
        assert_eq!(err.index, None, "{}", err.problem);
        assert!(
            err.problem
                .contains("the 100 patterns together are too costly"),
            "{}",
            err.problem
        );
    }

    #[test]
    fn too_many_or_too_long_patterns_are_refused() {
        let many: Vec<String> = (0..MAX_PATTERNS + 1).map(|i| format!("p{i}")).collect();
        let err = Patterns::new(&many).expect_err("too many");
        assert!(err.problem.contains("more than"), "{}", err.problem);
        let long = vec!["ok".to_owned(), "x".repeat(MAX_PATTERN_CHARS + 1)];
        let err = Patterns::new(&long).expect_err("too long");
        assert_eq!(err.index, Some(1), "{}", err.problem);
        assert!(err.problem.contains("longer than"), "{}", err.problem);
    }
}
