//! Reading a policy: `RULES` (the TOML text) or `RULES_FILE` (a path), never both,
//! parsed into the raw structs of [`super::raw`] and validated into a [`Policy`]:
//! globs and regexes compiled, numbers and durations in range, every `[[rule]]`
//! merged with `[defaults]`, which is merged with the environment. The first
//! problem found is the error, one line naming the source, line, column and field.

use std::io::Read;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::error::{PolicyError, PolicySource};
use super::patterns::{GlobKind, GlobList, ListError, Patterns};
use super::raw::{RawDuration, RawList, RawPolicy, RawSection};
use super::rule::{DEFAULT_MAX_DELAY, EnvDefaults, Mode, Policy, Rule, ScopedRule};
use crate::small_file::{OpenError, open_regular};

/// Largest policy file read. A policy is a few hundred bytes; a bigger file is a
/// wrong path (a log, a binary), refused before it fills memory.
pub const MAX_POLICY_BYTES: u64 = 1024 * 1024;

/// Most `attempts`: the first attempt and GitHub's limit of 50 re-runs of one run.
pub const MAX_ATTEMPTS: u32 = 51;

/// Longest `delay` or `max_delay`: GitHub re-runs a run only within 30 days of it.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Reads the policy from `RULES` or `RULES_FILE` (both set is an error), or returns
/// the environment's defaults when neither is set. An empty `RULES` counts as unset.
pub fn load(
    rules: Option<&str>,
    rules_file: Option<&Path>,
    env: &EnvDefaults,
) -> Result<Policy, PolicyError> {
    let rules = rules.filter(|text| !text.trim().is_empty());
    match (rules, rules_file) {
        (Some(_), Some(_)) => Err(PolicyError::sources(
            None,
            "both are set; set one of them (RULES holds the policy itself, RULES_FILE a path to it)",
        )),
        (Some(text), None) => parse(text, PolicySource::Inline, env),
        (None, Some(path)) => {
            let source = PolicySource::File(path.to_owned());
            let text = read_file(path)
                .map_err(|problem| PolicyError::sources(Some(source.clone()), problem))?;
            parse(&text, source, env)
        }
        (None, None) => Policy::from_env(env),
    }
}

fn read_file(path: &Path) -> Result<String, String> {
    let (file, _) = open_regular(path).map_err(|err| match err {
        OpenError::Io(e) => format!("cannot be read: {e}"),
        OpenError::NotRegular => {
            "is not a regular file (a FIFO or a device is not read)".to_owned()
        }
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_POLICY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(format!(
            "is larger than {MAX_POLICY_BYTES} bytes: not a policy"
        ));
    }
    String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_owned())
}

/// Parses and validates a policy's TOML text.
pub fn parse(text: &str, source: PolicySource, env: &EnvDefaults) -> Result<Policy, PolicyError> {
    let raw: RawPolicy =
        toml::from_str(text).map_err(|e| PolicyError::from_toml(&source, text, &e))?;
    let base = Rule::from_env(env)?;
    let defaults_scope = Scope {
        source: &source,
        text,
        name: "[defaults]".to_owned(),
    };
    let raw_defaults = raw.defaults.unwrap_or_default();
    for (field, list) in [
        ("repos", &raw_defaults.repos),
        ("workflows", &raw_defaults.workflows),
    ] {
        if let Some(list) = list {
            return Err(defaults_scope.err(
                list.span(),
                field,
                "only a [[rule]] takes it ([defaults] applies to every run)",
            ));
        }
    }
    let partial = defaults_scope.section(&raw_defaults)?;
    let defaults = defaults_scope
        .merge(&base, partial, "RERUN_DELAY", false)?
        .0;
    // Whether the rules inherit a max_delay someone wrote, or the default that
    // follows their own delay.
    let defaults_wrote_max_delay = raw_defaults.max_delay.is_some();

    let mut rules = Vec::with_capacity(raw.rules.len());
    for (index, raw_rule) in raw.rules.iter().enumerate() {
        let scope = Scope {
            source: &source,
            text,
            name: format!("[[rule]] {}", index + 1),
        };
        let section = raw_rule.get_ref();
        if section.repos.is_none() && section.workflows.is_none() {
            return Err(scope.err(
                raw_rule.span(),
                "",
                "names neither repos nor workflows (what applies to every run belongs in [defaults])",
            ));
        }
        let repos = section
            .repos
            .as_ref()
            .map(|list| scope.repos(list))
            .transpose()?;
        let workflows = section
            .workflows
            .as_ref()
            .map(|list| scope.nonempty_globs(list, "workflows", GlobKind::Name))
            .transpose()?;
        let partial = scope.section(section)?;
        let (rule, sets) = scope.merge(
            &defaults,
            partial,
            "[defaults] delay",
            defaults_wrote_max_delay,
        )?;
        rules.push(ScopedRule {
            repos,
            workflows,
            sets,
            rule,
        });
    }
    Ok(Policy {
        source,
        defaults,
        rules,
    })
}

/// The fields one section sets, validated; `None`: taken from the level above.
#[derive(Default)]
struct Partial {
    attempts: Option<u32>,
    branches: Option<GlobList>,
    delay: Option<(Duration, Range<usize>)>,
    backoff: Option<f64>,
    max_delay: Option<(Duration, Range<usize>)>,
    max_failed_jobs: Option<u32>,
    budget_per_hour: Option<u32>,
    timed_out: Option<bool>,
    skip_workflows: Option<GlobList>,
    skip_jobs: Option<GlobList>,
    skip_steps: Option<GlobList>,
    never_when: Option<Patterns>,
    only_when: Option<Patterns>,
    stop_when_useless: Option<u32>,
    learn_after: Option<u32>,
    debug_last_attempt: Option<bool>,
    mode: Option<Mode>,
    /// The fields the section writes, in the order docs/policy.md ("Fields") lists them.
    sets: Vec<&'static str>,
}

/// One section being validated: where its errors point.
struct Scope<'a> {
    source: &'a PolicySource,
    text: &'a str,
    /// `[defaults]` or `[[rule]] N`.
    name: String,
}

impl Scope<'_> {
    fn err(&self, span: Range<usize>, field: &str, problem: impl Into<String>) -> PolicyError {
        let field = if field.is_empty() {
            self.name.clone()
        } else {
            format!("{} {field}", self.name)
        };
        PolicyError::at(self.source, self.text, span, field, problem)
    }

    fn section(&self, raw: &RawSection) -> Result<Partial, PolicyError> {
        let mut p = Partial::default();
        let mut set = |name: &'static str, present: bool| {
            if present {
                p.sets.push(name);
            }
        };
        set("attempts", raw.attempts.is_some());
        set("branches", raw.branches.is_some());
        set("delay", raw.delay.is_some());
        set("backoff", raw.backoff.is_some());
        set("max_delay", raw.max_delay.is_some());
        set("max_failed_jobs", raw.max_failed_jobs.is_some());
        set("budget_per_hour", raw.budget_per_hour.is_some());
        set("timed_out", raw.timed_out.is_some());
        set("skip_workflows", raw.skip_workflows.is_some());
        set("skip_jobs", raw.skip_jobs.is_some());
        set("skip_steps", raw.skip_steps.is_some());
        set("never_when", raw.never_when.is_some());
        set("only_when", raw.only_when.is_some());
        set("stop_when_useless", raw.stop_when_useless.is_some());
        set("learn_after", raw.learn_after.is_some());
        set("debug_last_attempt", raw.debug_last_attempt.is_some());
        set("mode", raw.mode.is_some());

        p.attempts = raw
            .attempts
            .as_ref()
            .map(|v| self.attempts(v))
            .transpose()?;
        p.branches = raw
            .branches
            .as_ref()
            .map(|list| self.nonempty_globs(list, "branches", GlobKind::Branch))
            .transpose()?;
        p.delay = raw
            .delay
            .as_ref()
            .map(|v| Ok((self.duration(v, "delay")?, v.span())))
            .transpose()?;
        p.max_delay = raw
            .max_delay
            .as_ref()
            .map(|v| Ok((self.duration(v, "max_delay")?, v.span())))
            .transpose()?;
        p.backoff = raw
            .backoff
            .as_ref()
            .map(|v| {
                let b = v.get_ref().0;
                if b.is_finite() && (1.0..=100.0).contains(&b) {
                    Ok(b)
                } else {
                    Err(self.err(
                        v.span(),
                        "backoff",
                        format!("{b} is not between 1 and 100 (1: every re-run waits delay)"),
                    ))
                }
            })
            .transpose()?;
        p.max_failed_jobs = raw
            .max_failed_jobs
            .as_ref()
            .map(|v| self.count(v, "max_failed_jobs", 0))
            .transpose()?;
        p.budget_per_hour = raw
            .budget_per_hour
            .as_ref()
            .map(|v| self.count(v, "budget_per_hour", 0))
            .transpose()?;
        p.stop_when_useless = raw
            .stop_when_useless
            .as_ref()
            .map(|v| self.count(v, "stop_when_useless", 0))
            .transpose()?;
        p.learn_after = raw
            .learn_after
            .as_ref()
            .map(|v| self.count(v, "learn_after", 0))
            .transpose()?;
        p.timed_out = raw.timed_out.as_ref().map(|v| *v.get_ref());
        p.debug_last_attempt = raw.debug_last_attempt.as_ref().map(|v| *v.get_ref());
        p.skip_workflows = raw
            .skip_workflows
            .as_ref()
            .map(|l| self.globs(l, "skip_workflows", GlobKind::Name))
            .transpose()?;
        p.skip_jobs = raw
            .skip_jobs
            .as_ref()
            .map(|l| self.globs(l, "skip_jobs", GlobKind::Name))
            .transpose()?;
        p.skip_steps = raw
            .skip_steps
            .as_ref()
            .map(|l| self.globs(l, "skip_steps", GlobKind::Name))
            .transpose()?;
        p.never_when = raw
            .never_when
            .as_ref()
            .map(|l| self.patterns(l, "never_when"))
            .transpose()?;
        p.only_when = raw
            .only_when
            .as_ref()
            .map(|l| self.patterns(l, "only_when"))
            .transpose()?;
        p.mode = raw
            .mode
            .as_ref()
            .map(|v| match v.get_ref().as_str() {
                "rerun" => Ok(Mode::Rerun),
                "shadow" => Ok(Mode::Shadow),
                other => Err(self.err(
                    v.span(),
                    "mode",
                    format!("{other:?} is neither \"rerun\" nor \"shadow\""),
                )),
            })
            .transpose()?;
        Ok(p)
    }

    /// `base` with what `p` sets; checks that `max_delay` is not shorter than `delay`
    /// (naming `inherited_delay` when the delay came from the level above). When no
    /// level wrote `max_delay` (`base_wrote_max_delay` false and `p` none), it is
    /// [`DEFAULT_MAX_DELAY`] or this level's delay if longer.
    fn merge(
        &self,
        base: &Rule,
        p: Partial,
        inherited_delay: &str,
        base_wrote_max_delay: bool,
    ) -> Result<(Rule, Vec<&'static str>), PolicyError> {
        let delay = p.delay.as_ref().map_or(base.delay, |d| d.0);
        let max_delay = match (&p.max_delay, base_wrote_max_delay) {
            (Some((written, _)), _) => *written,
            (None, true) => base.max_delay,
            (None, false) => DEFAULT_MAX_DELAY.max(delay),
        };
        let rule = Rule {
            attempts: p.attempts.unwrap_or(base.attempts),
            branches: p.branches.unwrap_or_else(|| base.branches.clone()),
            delay,
            backoff: p.backoff.unwrap_or(base.backoff),
            max_delay,
            max_failed_jobs: p.max_failed_jobs.unwrap_or(base.max_failed_jobs),
            budget_per_hour: p.budget_per_hour.unwrap_or(base.budget_per_hour),
            timed_out: p.timed_out.unwrap_or(base.timed_out),
            skip_workflows: p
                .skip_workflows
                .unwrap_or_else(|| base.skip_workflows.clone()),
            skip_jobs: p.skip_jobs.unwrap_or_else(|| base.skip_jobs.clone()),
            skip_steps: p.skip_steps.unwrap_or_else(|| base.skip_steps.clone()),
            never_when: p.never_when.unwrap_or_else(|| base.never_when.clone()),
            only_when: p.only_when.unwrap_or_else(|| base.only_when.clone()),
            stop_when_useless: p.stop_when_useless.unwrap_or(base.stop_when_useless),
            learn_after: p.learn_after.unwrap_or(base.learn_after),
            debug_last_attempt: p.debug_last_attempt.unwrap_or(base.debug_last_attempt),
            mode: p.mode.unwrap_or(base.mode),
        };
        if rule.max_delay < rule.delay {
            let delay_from = if p.delay.is_some() {
                "delay"
            } else {
                inherited_delay
            };
            let problem = format!(
                "max_delay {} is shorter than {delay_from} {}",
                humantime::format_duration(rule.max_delay),
                humantime::format_duration(rule.delay)
            );
            // Point at whichever of the two this section wrote.
            let (span, field) = match (&p.max_delay, &p.delay) {
                (Some((_, span)), _) => (span.clone(), "max_delay"),
                (None, Some((_, span))) => (span.clone(), "delay"),
                (None, None) => (0..0, ""),
            };
            return Err(self.err(span, field, problem));
        }
        Ok((rule, p.sets))
    }

    /// `attempts`: GitHub refuses a 51st re-run of one workflow run, so at most 51.
    fn attempts(&self, v: &Spanned<i64>) -> Result<u32, PolicyError> {
        let n = *v.get_ref();
        if n > i64::from(MAX_ATTEMPTS) {
            return Err(self.err(
                v.span(),
                "attempts",
                format!(
                    "{n} is more than {MAX_ATTEMPTS}: GitHub refuses more than 50 re-runs of one workflow run"
                ),
            ));
        }
        self.count(v, "attempts", 1)
    }

    fn count(&self, v: &Spanned<i64>, field: &str, least: i64) -> Result<u32, PolicyError> {
        let n = *v.get_ref();
        if n < least || n > i64::from(u32::MAX) {
            return Err(self.err(
                v.span(),
                field,
                format!("{n} is not a whole number from {least} to {}", u32::MAX),
            ));
        }
        Ok(n as u32)
    }

    fn duration(&self, v: &Spanned<RawDuration>, field: &str) -> Result<Duration, PolicyError> {
        let parsed = match v.get_ref() {
            // humantime says where it stopped reading ("expected number at 0"); a person
            // wants to know what to write.
            RawDuration::Text(text) => humantime::parse_duration(text.trim()).map_err(|_| {
                format!(
                    "{text:?} is not a duration; write a number and a unit (ms, s, m, h, d), \
                     such as {field} = \"30s\", \"5m\" or \"1h 30m\""
                )
            }),
            // A huge number would print as hundreds of digits: say what is wrong instead.
            RawDuration::Seconds(s) if *s > MAX_DURATION.as_secs_f64() => Err(format!(
                "is too large: at most {} seconds (30 days)",
                MAX_DURATION.as_secs()
            )),
            RawDuration::Seconds(s) if s.is_nan() || s.abs() > MAX_DURATION.as_secs_f64() => {
                Err(format!(
                    "is not a number of seconds from 0 to {}",
                    MAX_DURATION.as_secs()
                ))
            }
            RawDuration::Seconds(s) => Duration::try_from_secs_f64(*s)
                .map_err(|_| format!("{s} is not a non-negative number of seconds")),
        };
        let d = parsed.map_err(|problem| self.err(v.span(), field, problem))?;
        if d > MAX_DURATION {
            return Err(self.err(
                v.span(),
                field,
                format!(
                    "{} is longer than {} (GitHub re-runs a run only within 30 days)",
                    humantime::format_duration(d),
                    humantime::format_duration(MAX_DURATION)
                ),
            ));
        }
        Ok(d)
    }

    fn globs(&self, list: &RawList, field: &str, kind: GlobKind) -> Result<GlobList, PolicyError> {
        let items = list.get_ref();
        let texts: Vec<&str> = items.iter().map(|s| s.get_ref().as_str()).collect();
        GlobList::new(&texts, kind).map_err(|e| self.list_err(list, field, e))
    }

    fn nonempty_globs(
        &self,
        list: &RawList,
        field: &str,
        kind: GlobKind,
    ) -> Result<GlobList, PolicyError> {
        if list.get_ref().is_empty() {
            let hint = if field == "branches" {
                "is empty: no branch would be re-run (\"*\" is every branch; attempts = 1 turns re-runs off)"
            } else {
                "is empty: the rule would match nothing"
            };
            return Err(self.err(list.span(), field, hint));
        }
        self.globs(list, field, kind)
    }

    fn repos(&self, list: &RawList) -> Result<GlobList, PolicyError> {
        for (index, item) in list.get_ref().iter().enumerate() {
            let glob = item.get_ref();
            if !glob.contains('/') {
                return Err(self.err(
                    item.span(),
                    &format!("repos[{index}]"),
                    format!(
                        "{glob:?} has no '/': repositories are owner/name (\"{glob}/*\" is every repository of {glob})"
                    ),
                ));
            }
        }
        self.nonempty_globs(list, "repos", GlobKind::Repo)
    }

    fn patterns(&self, list: &RawList, field: &str) -> Result<Patterns, PolicyError> {
        let items = list.get_ref();
        let texts: Vec<&str> = items.iter().map(|s| s.get_ref().as_str()).collect();
        Patterns::new(&texts).map_err(|e| self.list_err(list, field, e))
    }

    /// A list's error at its item (`field[i]`), or at the list when about all of it.
    fn list_err(&self, list: &RawList, field: &str, e: ListError) -> PolicyError {
        match e.index.and_then(|i| Some((i, list.get_ref().get(i)?))) {
            Some((index, item)) => self.err(item.span(), &format!("{field}[{index}]"), e.problem),
            None => self.err(list.span(), field, e.problem),
        }
    }
}
