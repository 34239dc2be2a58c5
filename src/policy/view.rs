//! The effective policy, as people and programs read it: `check-config` prints its
//! `Display` (TOML that parses back to the same policy, every field of every rule
//! filled in), a future `GET /api/policy` serves [`PolicyView`] as JSON. A policy
//! holds no secret (globs, regexes, numbers), so nothing is hidden; patterns are
//! shown as written, `@infra` unexpanded.

use std::fmt;

use serde::Serialize;

use super::patterns::{GlobList, Patterns};
use super::rule::{Policy, Rule, ScopedRule};

/// Every field of one complete rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleView {
    /// `attempts`.
    pub attempts: u32,
    /// `branches`.
    pub branches: Vec<String>,
    /// `delay`, as humantime writes it (`"5s"`).
    pub delay: String,
    /// `backoff`.
    pub backoff: f64,
    /// `max_delay`.
    pub max_delay: String,
    /// `max_failed_jobs`.
    pub max_failed_jobs: u32,
    /// `budget_per_hour`.
    pub budget_per_hour: u32,
    /// `timed_out`.
    pub timed_out: bool,
    /// `skip_workflows`.
    pub skip_workflows: Vec<String>,
    /// `skip_jobs`.
    pub skip_jobs: Vec<String>,
    /// `skip_steps`.
    pub skip_steps: Vec<String>,
    /// `never_when`.
    pub never_when: Vec<String>,
    /// `only_when`.
    pub only_when: Vec<String>,
    /// `stop_when_useless`.
    pub stop_when_useless: u32,
    /// `learn_after`.
    pub learn_after: u32,
    /// `debug_last_attempt`.
    pub debug_last_attempt: bool,
    /// `mode`.
    pub mode: &'static str,
}

/// One `[[rule]]`: its scope, what it sets itself, the complete rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScopedRuleView {
    /// `repos`; absent: every repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repos: Option<Vec<String>>,
    /// `workflows`; absent: every workflow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflows: Option<Vec<String>>,
    /// The fields the rule writes; the others come from `[defaults]`.
    pub sets: Vec<&'static str>,
    /// The complete rule.
    #[serde(flatten)]
    pub rule: RuleView,
}

/// The whole effective policy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PolicyView {
    /// `RULES`, `RULES_FILE path` or `environment`.
    pub source: String,
    /// `[defaults]`, merged with the environment.
    pub defaults: RuleView,
    /// The `[[rule]]`s in the order they are tried.
    pub rules: Vec<ScopedRuleView>,
}

fn written_globs(g: &GlobList) -> Vec<String> {
    g.written().to_vec()
}

fn written_patterns(p: &Patterns) -> Vec<String> {
    p.written().to_vec()
}

impl From<&Rule> for RuleView {
    fn from(r: &Rule) -> Self {
        Self {
            attempts: r.attempts,
            branches: written_globs(&r.branches),
            delay: humantime::format_duration(r.delay).to_string(),
            backoff: r.backoff,
            max_delay: humantime::format_duration(r.max_delay).to_string(),
            max_failed_jobs: r.max_failed_jobs,
            budget_per_hour: r.budget_per_hour,
            timed_out: r.timed_out,
            skip_workflows: written_globs(&r.skip_workflows),
            skip_jobs: written_globs(&r.skip_jobs),
            skip_steps: written_globs(&r.skip_steps),
            never_when: written_patterns(&r.never_when),
            only_when: written_patterns(&r.only_when),
            stop_when_useless: r.stop_when_useless,
            learn_after: r.learn_after,
            debug_last_attempt: r.debug_last_attempt,
            mode: r.mode.as_str(),
        }
    }
}

impl From<&ScopedRule> for ScopedRuleView {
    fn from(r: &ScopedRule) -> Self {
        Self {
            repos: r.repos.as_ref().map(written_globs),
            workflows: r.workflows.as_ref().map(written_globs),
            sets: r.sets.clone(),
            rule: RuleView::from(&r.rule),
        }
    }
}

impl Policy {
    /// The effective policy, for `check-config` and `GET /api/policy`.
    pub fn effective(&self) -> PolicyView {
        PolicyView {
            source: self.source.to_string(),
            defaults: RuleView::from(&self.defaults),
            rules: self.rules.iter().map(ScopedRuleView::from).collect(),
        }
    }
}

/// The TOML of one section: a `[defaults]` table or a one-element `[[rule]]` array.
#[derive(Serialize)]
struct Section<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    defaults: Option<&'a RuleView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rule: Vec<TomlRule<'a>>,
}

#[derive(Serialize)]
struct TomlRule<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    repos: Option<&'a Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    workflows: Option<&'a Vec<String>>,
    #[serde(flatten)]
    rule: &'a RuleView,
}

impl fmt::Display for PolicyView {
    /// TOML that parses back to the same policy, with a comment per section.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `to_string()` panics on a `fmt::Error` that is not the writer's: a section
        // TOML cannot write becomes a comment line instead.
        let toml =
            |f: &mut fmt::Formatter<'_>, section: &Section<'_>| match toml::to_string(section) {
                Ok(text) => f.write_str(&text),
                Err(e) => writeln!(f, "# error: this section cannot be written as TOML: {e}"),
            };
        writeln!(f, "# effective re-run policy, from {}", self.source)?;
        toml(
            f,
            &Section {
                defaults: Some(&self.defaults),
                rule: Vec::new(),
            },
        )?;
        for (index, rule) in self.rules.iter().enumerate() {
            let sets = if rule.sets.is_empty() {
                "nothing".to_owned()
            } else {
                rule.sets.join(", ")
            };
            writeln!(
                f,
                "\n# [[rule]] {}: sets {sets}; the rest is from [defaults]",
                index + 1
            )?;
            toml(
                f,
                &Section {
                    defaults: None,
                    rule: vec![TomlRule {
                        repos: rule.repos.as_ref(),
                        workflows: rule.workflows.as_ref(),
                        rule: &rule.rule,
                    }],
                },
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.effective().fmt(f)
    }
}
