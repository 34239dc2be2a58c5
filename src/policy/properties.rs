//! Property tests of the decision over random job sets, rules, histories and
//! evidence, and of the effective policy's text. Rules are built from lists compiled
//! once; one property goes through the TOML text (the effective policy reads back).

use std::sync::LazyLock;
use std::time::Duration;

use proptest::prelude::*;

use super::decision_tests::job;
use super::*;
use crate::ids::Conclusion;
use crate::ids::JobId;

const NAMES: &[&str] = &["build", "test", "deploy / prod", "lint", "docs"];
const STEPS: &[&str] = &["Run tests", "Run lint", "Checkout"];
const LINES: &[&str] = &[
    "all fine",
    "thread 'main' panicked at src/lib.rs:1:1",
    "read ECONNRESET",
    "##[error]The runner has received a shutdown signal.",
    "The operation was canceled.",
    "Authorization: Bearer sk-live-1234567890",
    "git push https://x-access-token:ghs_0123456789abcdefABCDEF0123456789abcd@github.com/o/r",
];

fn conclusion() -> impl Strategy<Value = Conclusion> {
    prop_oneof![
        3 => Just(Conclusion::Failure),
        1 => Just(Conclusion::TimedOut),
        2 => Just(Conclusion::Success),
        1 => Just(Conclusion::Cancelled),
        1 => Just(Conclusion::Skipped),
    ]
}

fn job_facts(id: u64) -> impl Strategy<Value = JobFacts> {
    (
        prop::sample::select(NAMES),
        conclusion(),
        prop::bool::weighted(0.85),
        prop::option::of(prop::sample::select(STEPS)),
    )
        .prop_map(move |(name, conclusion, ran_steps, step)| JobFacts {
            ran_steps,
            failed_steps: step.into_iter().map(Into::into).collect(),
            ..job(id, name, conclusion)
        })
}

fn jobs() -> impl Strategy<Value = Vec<JobFacts>> {
    (1usize..7).prop_flat_map(|n| (0..n as u64).map(job_facts).collect::<Vec<_>>())
}

/// Often empty (so that re-runs are decided often enough to test them), else some of
/// `pool`.
fn subset(pool: &'static [&'static str]) -> impl Strategy<Value = Vec<&'static str>> {
    prop_oneof![
        2 => Just(Vec::new()),
        1 => prop::sample::subsequence(pool, 0..=pool.len()),
    ]
}

/// Often 0 (off), else small.
fn limit() -> impl Strategy<Value = u32> {
    prop_oneof![1 => Just(0u32), 1 => 1u32..5]
}

/// A `[defaults]` section with random values for every field.
fn rule_text() -> impl Strategy<Value = String> {
    (
        (1u32..6, 0u64..10_000, 1.0f64..4.0, 0u64..120_000),
        (limit(), limit(), any::<bool>(), limit()),
        (
            subset(&["Release*", "CI"]),
            subset(&["deploy*", "docs"]),
            subset(&["*lint*"]),
        ),
        (subset(&["panicked at", "boom"]), subset(&["@infra", "ECONNRESET"])),
        (any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                (attempts, delay, backoff, extra),
                (max_failed, budget, timed_out, useless),
                (skip_workflows, skip_jobs, skip_steps),
                (never_when, only_when),
                (debug, shadow),
            )| {
                let list = |items: &[&str]| format!("{items:?}");
                format!(
                    "[defaults]\nbranches = [\"*\"]\nattempts = {attempts}\ndelay = \"{delay}ms\"\n\
                     backoff = {backoff}\nmax_delay = \"{}ms\"\nmax_failed_jobs = {max_failed}\n\
                     budget_per_hour = {budget}\ntimed_out = {timed_out}\nstop_when_useless = {useless}\n\
                     skip_workflows = {}\nskip_jobs = {}\nskip_steps = {}\nnever_when = {}\n\
                     only_when = {}\ndebug_last_attempt = {debug}\nmode = \"{}\"\n",
                    delay + extra,
                    list(&skip_workflows),
                    list(&skip_jobs),
                    list(&skip_steps),
                    list(&never_when).replace('"', "'"),
                    list(&only_when),
                    if shadow { "shadow" } else { "rerun" },
                )
            },
        )
}

/// One of `options`: the first (empty) twice as often as each other one, so that
/// re-runs are decided often enough to test them.
fn one_of<T: Clone + std::fmt::Debug>(options: &'static [T]) -> impl Strategy<Value = T> {
    prop_oneof![2 => Just(0), 1 => 0..options.len()].prop_map(|i| options[i].clone())
}

fn globs(lists: &[&[&str]]) -> Vec<GlobList> {
    let compile = |l: &&[&str]| GlobList::new(l, GlobKind::Name).expect("valid globs");
    lists.iter().map(compile).collect()
}

fn regexes(lists: &[&[&str]]) -> Vec<Patterns> {
    lists
        .iter()
        .map(|l| Patterns::new(l).expect("valid patterns"))
        .collect()
}

// The lists rule() picks from, compiled once for every case (compiling per case was
// most of the properties' time).
static EVERY_BRANCH: LazyLock<GlobList> =
    LazyLock::new(|| GlobList::new(&["*"], GlobKind::Branch).expect("valid"));
static SKIP_WORKFLOWS: LazyLock<Vec<GlobList>> =
    LazyLock::new(|| globs(&[&[], &["Release*"], &["CI"], &["Release*", "CI"]]));
static SKIP_JOBS: LazyLock<Vec<GlobList>> =
    LazyLock::new(|| globs(&[&[], &["deploy*"], &["docs"], &["deploy*", "docs"]]));
static SKIP_STEPS: LazyLock<Vec<GlobList>> = LazyLock::new(|| globs(&[&[], &["*lint*"]]));
static NEVER_WHEN: LazyLock<Vec<Patterns>> =
    LazyLock::new(|| regexes(&[&[], &["panicked at"], &["boom"], &["panicked at", "boom"]]));
static ONLY_WHEN: LazyLock<Vec<Patterns>> =
    LazyLock::new(|| regexes(&[&[], &["@infra"], &["ECONNRESET"], &["@infra", "ECONNRESET"]]));

/// A complete rule with random values for every field, built from precompiled lists.
fn rule() -> impl Strategy<Value = Rule> {
    (
        (1u32..6, 0u64..10_000, 1.0f64..4.0, 0u64..120_000),
        (limit(), limit(), any::<bool>(), limit()),
        (
            one_of(&SKIP_WORKFLOWS),
            one_of(&SKIP_JOBS),
            one_of(&SKIP_STEPS),
        ),
        (one_of(&NEVER_WHEN), one_of(&ONLY_WHEN)),
        (any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                (attempts, delay, backoff, extra),
                (max_failed_jobs, budget_per_hour, timed_out, stop_when_useless),
                (skip_workflows, skip_jobs, skip_steps),
                (never_when, only_when),
                (debug_last_attempt, shadow),
            )| Rule {
                attempts,
                branches: EVERY_BRANCH.clone(),
                delay: Duration::from_millis(delay),
                backoff,
                max_delay: Duration::from_millis(delay + extra),
                max_failed_jobs,
                budget_per_hour,
                timed_out,
                skip_workflows,
                skip_jobs,
                skip_steps,
                never_when,
                only_when,
                stop_when_useless,
                learn_after: 0,
                debug_last_attempt,
                mode: if shadow { Mode::Shadow } else { Mode::Rerun },
            },
        )
}

fn history() -> impl Strategy<Value = History> {
    let outcomes = prop::collection::vec(
        prop_oneof![Just(AfterRerun::Passed), Just(AfterRerun::FailedAgain)],
        0..5,
    );
    (
        0u32..6,
        prop::collection::vec((prop::sample::select(NAMES), outcomes), 0..4),
    )
        .prop_map(|(reruns_last_hour, jobs)| History {
            signatures: Default::default(),
            reruns_last_hour,
            jobs: jobs.into_iter().map(|(n, o)| (n.into(), o)).collect(),
        })
}

/// Evidence for jobs 0..8: random annotation and log lines, sometimes unavailable.
fn evidence() -> impl Strategy<Value = Vec<JobEvidence>> {
    let one = (
        prop::collection::vec(prop::sample::select(LINES), 0..3),
        prop::option::weighted(
            0.9,
            prop::collection::vec(prop::sample::select(LINES), 0..4),
        ),
    );
    prop::collection::vec(one, 8).prop_map(|all| {
        all.into_iter()
            .enumerate()
            .map(|(i, (annotations, log))| JobEvidence {
                job: JobId(i as u64),
                annotations: Fetched::Got(
                    annotations
                        .iter()
                        .map(|s| Annotation::failure(*s))
                        .collect(),
                ),
                log: match log {
                    Some(lines) => Fetched::Got(lines.join("\n")),
                    None => Fetched::Unavailable {
                        why: "410 Gone".into(),
                    },
                },
            })
            .collect()
    })
}

#[derive(Debug)]
struct Case {
    jobs: Vec<JobFacts>,
    attempt: u32,
    workflow: &'static str,
}

fn case() -> impl Strategy<Value = Case> {
    (
        jobs(),
        1u32..6,
        prop::sample::select(&["CI", "Release 2", "Docs"][..]),
    )
        .prop_map(|(jobs, attempt, workflow)| Case {
            jobs,
            attempt,
            workflow,
        })
}

/// The final decision, fetching evidence when asked: `None` when no candidate.
fn decide(
    case: &Case,
    jobs: &[JobFacts],
    h: &History,
    r: &Rule,
    e: &[JobEvidence],
) -> Option<Decision> {
    let run = RunFacts {
        workflow: case.workflow,
        branch: "master",
        attempt: case.attempt,
        jobs,
    };
    match decide_at_completion(&run, h, r) {
        AtCompletion::Ineligible(_) => None,
        AtCompletion::Decided(d) => Some(d),
        AtCompletion::NeedsEvidence(_) => decide_with_evidence(&run, h, r, e).ok(),
    }
}

fn would_rerun(d: &Decision) -> bool {
    matches!(d.verdict, Verdict::Rerun(_) | Verdict::Shadow(_))
}

/// 64 cases unless `PROPTEST_CASES` says otherwise (CI may ask for more).
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 64;
    }
    config
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_rerun_means_every_failed_job_ran_a_step_and_no_skip_glob_matched(
        c in case(), r in rule(), h in history(), e in evidence()
    ) {
        if let Some(d) = decide(&c, &c.jobs, &h, &r, &e) && would_rerun(&d) {
            prop_assert!(!r.skip_workflows.matches(c.workflow));
            let failed: Vec<&JobFacts> = c.jobs.iter().filter(|j| j.conclusion.is_failure()).collect();
            prop_assert!(!failed.is_empty());
            for j in &failed {
                prop_assert!(j.ran_steps, "{j:?}");
                prop_assert!(!r.skip_jobs.matches(&j.name), "{j:?}");
                prop_assert!(j.failed_steps.iter().all(|s| !r.skip_steps.matches(s)), "{j:?}");
                prop_assert!(r.timed_out || j.conclusion != Conclusion::TimedOut);
            }
            prop_assert!(r.max_failed_jobs == 0 || failed.len() <= r.max_failed_jobs as usize);
            prop_assert!(r.budget_per_hour == 0 || h.reruns_last_hour < r.budget_per_hour);
            prop_assert!(c.attempt < r.attempts);
        }
    }

    #[test]
    fn adding_a_job_never_turns_a_skip_into_a_rerun(
        c in case(), r in rule(), h in history(), e in evidence(), extra in job_facts(7)
    ) {
        let before = decide(&c, &c.jobs, &h, &r, &e);
        let mut more = c.jobs.clone();
        more.push(extra);
        let after = decide(&c, &more, &h, &r, &e);
        if let Some(before) = before && !would_rerun(&before) {
            prop_assert!(after.as_ref().is_none_or(|d| !would_rerun(d)), "{before:?} -> {after:?}");
        }
    }

    #[test]
    fn adding_a_broken_job_always_skips(
        c in case(), r in rule(), h in history(), e in evidence(), extra in job_facts(7), by_log in any::<bool>()
    ) {
        // Broken: it never started, or its log matches never_when (while its
        // annotations look transient, to reach the evidence that proves it broken).
        let by_log = by_log && r.never_when.written().iter().any(|p| p == "panicked at");
        let mut more = c.jobs.clone();
        more.push(JobFacts { ran_steps: by_log, conclusion: Conclusion::Failure, ..extra });
        let mut e = e;
        if by_log {
            e[7] = JobEvidence {
                job: JobId(7),
                annotations: Fetched::Got(vec![Annotation::failure("read ECONNRESET"), Annotation::failure(LINES[3])]),
                log: Fetched::Got("thread 'main' panicked at src/main.rs:1:1".into()),
            };
        }
        if let Some(d) = decide(&c, &more, &h, &r, &e) {
            prop_assert!(!would_rerun(&d), "{d:?}");
        }
    }

    #[test]
    fn the_delay_grows_with_k_and_never_passes_max_delay(r in rule(), k in 1u32..50, step in 0u32..50) {
        let here = backoff_delay_ms(&r, k);
        let later = backoff_delay_ms(&r, k + step);
        prop_assert!(here <= later, "{here} > {later}");
        prop_assert!(later as u128 <= r.max_delay.as_millis());
        prop_assert_eq!(backoff_delay_ms(&r, 1) as u128, r.delay.as_millis().min(r.max_delay.as_millis()));
    }

    #[test]
    fn evidence_is_at_most_200_characters_and_never_token_shaped(
        c in case(), r in rule(), h in history(), e in evidence()
    ) {
        if let Some(d) = decide(&c, &c.jobs, &h, &r, &e) && let Some(evidence) = d.evidence {
            prop_assert!(evidence.chars().count() <= EVIDENCE_CHARS);
            prop_assert!(!has_secret(&evidence), "{evidence}");
            prop_assert!(!evidence.contains("0123456789abcdefABCDEF"), "{evidence}");
            prop_assert!(!evidence.contains("sk-live"), "{evidence}");
        }
    }

    #[test]
    fn any_line_cleaned_is_short_and_hides_the_tokens_in_it(
        before in ".{0,300}", token in "[A-Za-z0-9]{36}", prefix in prop::sample::select(&["ghp_", "ghs_", "github_pat_", "Bearer ", "password="][..]), after in ".{0,300}"
    ) {
        let cleaned = clean_evidence(&format!("{before} {prefix}{token} {after}"));
        prop_assert!(cleaned.chars().count() <= EVIDENCE_CHARS);
        prop_assert!(!has_secret(&cleaned), "{cleaned}");
        prop_assert!(!cleaned.contains(&token), "{cleaned}");
        prop_assert_eq!(mask_secrets(&cleaned), cleaned.clone());
    }

    #[test]
    fn with_no_patterns_no_evidence_is_ever_asked_for_and_the_phases_agree(
        c in case(), r in rule(), h in history(), e in evidence()
    ) {
        let mut r = r;
        r.never_when = Patterns::empty();
        r.only_when = Patterns::empty();
        let run = RunFacts { workflow: c.workflow, branch: "master", attempt: c.attempt, jobs: &c.jobs };
        let now = decide_at_completion(&run, &h, &r);
        prop_assert!(!matches!(now, AtCompletion::NeedsEvidence(_)), "{now:?}");
        let later = decide_with_evidence(&run, &h, &r, &e);
        match now {
            AtCompletion::Decided(d) => prop_assert_eq!(later, Ok(d)),
            AtCompletion::Ineligible(i) => prop_assert_eq!(later, Err(i)),
            AtCompletion::NeedsEvidence(_) => unreachable!(),
        }
    }

    #[test]
    fn the_effective_policy_reads_back_as_the_same_policy(text in rule_text()) {
        let env = EnvDefaults { delay: Duration::from_secs(1), ..EnvDefaults::default() };
        let policy = load(Some(&text), None, &env).expect("valid");
        let again = load(Some(&policy.to_string()), None, &env).expect("effective policy parses");
        prop_assert_eq!(again.defaults(), policy.defaults());
    }
}
