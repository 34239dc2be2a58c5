//! Reading policies: the issue's example, precedence of rules, the effective policy,
//! and every kind of error with the line it prints.

use std::time::Duration;

use super::*;
use crate::settings::BranchFilter;

/// The policy of issue 9, as users write it.
pub(super) const EXAMPLE: &str = r#"
[defaults]
attempts = 4                 # as RUN_ATTEMPTS
branches = ["master", "release/*"]
delay = "5s"
backoff = 2.0
max_delay = "30m"
max_failed_jobs = 5
budget_per_hour = 30
timed_out = true
skip_workflows = ["Release*"]
skip_jobs = ["deploy*"]
skip_steps = ["*lint*"]
never_when = ['(?i)assertion.*failed', 'error\[E\d{4}\]']
only_when = ["@infra", 'ECONNRESET']
stop_when_useless = 3
learn_after = 0
debug_last_attempt = false
mode = "rerun"

[[rule]]
repos = ["tarantool/*"]
workflows = ["CI", "fuzzing"]
attempts = 3
never_when = ['(?i)segmentation fault']
"#;

fn env() -> EnvDefaults {
    EnvDefaults::default()
}

fn inline(text: &str) -> Result<Policy, PolicyError> {
    load(Some(text), None, &env())
}

fn error_of(text: &str) -> String {
    inline(text).expect_err("must be refused").to_string()
}

#[test]
fn the_issue_example_parses_with_every_field() {
    let policy = inline(EXAMPLE).expect("valid");
    let d = policy.defaults();
    assert_eq!(d.attempts, 4);
    assert_eq!(d.branches.written(), ["master", "release/*"]);
    assert_eq!(d.delay, Duration::from_secs(5));
    assert_eq!(d.backoff, 2.0);
    assert_eq!(d.max_delay, Duration::from_secs(1800));
    assert_eq!((d.max_failed_jobs, d.budget_per_hour), (5, 30));
    assert!(d.timed_out && !d.debug_last_attempt);
    assert_eq!(d.skip_workflows.written(), ["Release*"]);
    assert_eq!(d.skip_jobs.written(), ["deploy*"]);
    assert_eq!(d.skip_steps.written(), ["*lint*"]);
    assert_eq!(d.never_when.written().len(), 2);
    assert_eq!(d.only_when.written(), ["@infra", "ECONNRESET"]);
    assert_eq!(d.stop_when_useless, 3);
    assert_eq!(d.mode, Mode::Rerun);
    assert_eq!(policy.rules().len(), 1);
    assert_eq!(policy.rules()[0].sets, ["attempts", "never_when"]);
}

#[test]
fn no_policy_is_the_environment_as_today() {
    let env = EnvDefaults {
        attempts: 6,
        branches: BranchFilter::Only(vec!["main".into(), "v{1}".into()]),
        delay: Duration::from_millis(250),
    };
    let policy = load(None, None, &env).expect("valid");
    assert_eq!(policy.source(), &PolicySource::Environment);
    let rule = policy.rule_for("o/r", "CI");
    assert_eq!(rule.attempts, 6);
    assert_eq!(rule.delay, Duration::from_millis(250));
    assert!(rule.branches.matches("main"));
    // REPO_BRANCHES names branches exactly: braces are no glob.
    assert!(rule.branches.matches("v{1}") && !rule.branches.matches("v1"));
    assert_eq!(rule.backoff, 1.0);
    assert!(!rule.needs_evidence());
    assert_eq!(load(Some("  "), None, &env), Ok(policy));
}

#[test]
fn a_file_overrides_only_the_environment_values_it_names() {
    let env = EnvDefaults {
        attempts: 6,
        branches: BranchFilter::Any,
        delay: Duration::from_secs(9),
    };
    let policy = load(Some("[defaults]\nattempts = 2\n"), None, &env).expect("valid");
    let rule = policy.defaults();
    assert_eq!(rule.attempts, 2);
    assert_eq!(rule.delay, Duration::from_secs(9));
    assert!(rule.branches.matches("any/branch/at/all"));
}

#[test]
fn the_first_matching_rule_supplies_its_fields_and_defaults_the_rest() {
    let policy = inline(
        r#"
[defaults]
attempts = 5
delay = "10s"

[[rule]]
repos = ["tarantool/*"]
attempts = 3

[[rule]]
repos = ["tarantool/tarantool", "other/*"]
attempts = 2
delay = "1m"
"#,
    )
    .expect("valid");
    // tarantool/tarantool matches both rules: the first wins, with the defaults' delay.
    let rule = policy.rule_for("tarantool/tarantool", "CI");
    assert_eq!(
        policy.matching("tarantool/tarantool", "CI"),
        RuleRef::Rule(0)
    );
    assert_eq!((rule.attempts, rule.delay), (3, Duration::from_secs(10)));
    let rule = policy.rule_for("other/x", "CI");
    assert_eq!((rule.attempts, rule.delay), (2, Duration::from_secs(60)));
    let rule = policy.rule_for("someone/else", "CI");
    assert_eq!(policy.matching("someone/else", "CI"), RuleRef::Defaults);
    assert_eq!((rule.attempts, rule.delay), (5, Duration::from_secs(10)));
}

#[test]
fn a_rule_overrides_defaults_for_one_repository_only() {
    let policy = inline(EXAMPLE).expect("valid");
    let tarantool = policy.rule_for("tarantool/tarantool", "CI");
    assert_eq!(tarantool.attempts, 3);
    assert_eq!(tarantool.never_when.written(), ["(?i)segmentation fault"]);
    // What the rule leaves out comes from [defaults].
    assert_eq!(tarantool.only_when.written(), ["@infra", "ECONNRESET"]);
    assert_eq!(tarantool.budget_per_hour, 30);
    // Another workflow of the same repository, and another repository: the defaults.
    for (repo, workflow) in [("tarantool/tarantool", "Docs"), ("other/repo", "CI")] {
        let rule = policy.rule_for(repo, workflow);
        assert_eq!(rule.attempts, 4, "{repo} {workflow}");
        assert_eq!(rule.never_when.written().len(), 2, "{repo} {workflow}");
    }
}

#[test]
fn durations_take_humantime_words_or_seconds() {
    let policy =
        inline("[defaults]\ndelay = 2.5\nmax_delay = \"1h 30m\"\nbackoff = 3\n").expect("valid");
    let d = policy.defaults();
    assert_eq!(d.delay, Duration::from_millis(2500));
    assert_eq!(d.max_delay, Duration::from_secs(5400));
    assert_eq!(d.backoff, 3.0);
}

#[test]
fn a_policy_file_is_read_from_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, EXAMPLE).expect("write");
    let policy = load(None, Some(&path), &env()).expect("valid");
    assert_eq!(policy.source(), &PolicySource::File(path.clone()));
    assert_eq!(policy.rules().len(), 1);
}

#[test]
fn a_missing_file_is_one_line_naming_it() {
    let err = load(
        None,
        Some(std::path::Path::new("/nonexistent/policy.toml")),
        &env(),
    )
    .expect_err("missing");
    let line = err.to_string();
    assert!(
        line.starts_with("RULES_FILE /nonexistent/policy.toml: cannot be read: "),
        "{line}"
    );
    assert!(!line.contains('\n'));
}

#[test]
fn both_rules_and_rules_file_set_is_refused() {
    let err = load(
        Some(EXAMPLE),
        Some(std::path::Path::new("policy.toml")),
        &env(),
    )
    .expect_err("both");
    assert_eq!(
        err.to_string(),
        "RULES, RULES_FILE: both are set; set one of them (RULES holds the policy itself, RULES_FILE a path to it)"
    );
}

#[test]
fn a_bad_regex_names_the_file_line_and_pattern() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("policy.toml");
    let text = "[defaults]\nattempts = 3\n\n[[rule]]\nrepos = [\"a/b\"]\n\n\
                never_when = ['ok', 'assert(ion']\n";
    std::fs::write(&path, text).expect("write");
    let err = load(None, Some(&path), &env()).expect_err("bad regex");
    assert_eq!(
        err.to_string(),
        format!(
            "RULES_FILE {}:7:21: [[rule]] 1 never_when[1]: invalid regex: unclosed group",
            path.display()
        )
    );
}

#[test]
fn an_unknown_field_is_named_with_its_line() {
    let line = error_of("[defaults]\nattempts = 3\natempts = 4\n");
    assert!(
        line.starts_with("RULES:3:1: [defaults] atempts: unknown field `atempts`"),
        "{line}"
    );
    let line = error_of("[[rule]]\nrepos = [\"a/b\"]\nnever_wen = []\n");
    assert!(
        line.starts_with("RULES:3:1: [[rule]] 1 never_wen: unknown field `never_wen`"),
        "{line}"
    );
    let line = error_of("[default]\nattempts = 3\n");
    assert!(
        line.starts_with("RULES:1:2: default: unknown field `default`"),
        "{line}"
    );
}

#[test]
fn a_wrong_type_is_named_with_its_field() {
    let line = error_of("[defaults]\ntimed_out = \"yes\"\n");
    assert!(
        line.starts_with("RULES:2:13: [defaults] timed_out: "),
        "{line}"
    );
    let line = error_of("[defaults]\nbranches = \"master\"\n");
    assert!(
        line.starts_with("RULES:2:12: [defaults] branches: "),
        "{line}"
    );
}

#[test]
fn a_bad_glob_names_its_index() {
    let line = error_of("[defaults]\nskip_jobs = [\"ok\", \"[bad\"]\n");
    assert!(
        line.starts_with("RULES:2:20: [defaults] skip_jobs[1]: invalid glob: "),
        "{line}"
    );
}

#[test]
fn a_bad_duration_names_its_field() {
    let line = error_of("\n[defaults]\ndelay = \"soon\"\n");
    assert!(
        line.starts_with("RULES:3:9: [defaults] delay: \"soon\" is not a duration"),
        "{line}"
    );
    let line = error_of("[defaults]\nmax_delay = -1\n");
    assert!(
        line.starts_with("RULES:2:13: [defaults] max_delay: -1 is not"),
        "{line}"
    );
    let line = error_of("[defaults]\ndelay = \"40 days\"\n");
    assert!(line.contains("longer than 30days"), "{line}");
}

#[test]
fn a_max_delay_shorter_than_the_delay_is_refused_where_it_is_written() {
    let line = error_of("[defaults]\nmax_delay = \"1s\"\n");
    assert_eq!(
        line,
        "RULES:2:13: [defaults] max_delay: max_delay 1s is shorter than RERUN_DELAY 5s"
    );
    let line = error_of(
        "[defaults]\nmax_delay = \"1m\"\n[[rule]]\nworkflows = [\"CI\"]\ndelay = \"2m\"\n",
    );
    assert_eq!(
        line,
        "RULES:5:9: [[rule]] 1 delay: max_delay 1m is shorter than delay 2m"
    );
}

#[test]
fn out_of_range_numbers_and_words_are_refused() {
    for (text, starts) in [
        (
            "[defaults]\nattempts = 0\n",
            "RULES:2:12: [defaults] attempts: 0 is not a whole number from 1",
        ),
        (
            "[defaults]\nbudget_per_hour = -3\n",
            "RULES:2:19: [defaults] budget_per_hour: -3 is not",
        ),
        (
            "[defaults]\nbackoff = 0.5\n",
            "RULES:2:11: [defaults] backoff: 0.5 is not between 1 and 100",
        ),
        (
            "[defaults]\nmode = \"dry\"\n",
            "RULES:2:8: [defaults] mode: \"dry\" is neither",
        ),
        (
            "[defaults]\nbranches = []\n",
            "RULES:2:12: [defaults] branches: is empty",
        ),
        (
            "[defaults]\nonly_when = [\"@flaky\"]\n",
            "RULES:2:14: [defaults] only_when[0]: unknown built-in",
        ),
        (
            "[defaults]\nrepos = [\"a/b\"]\n",
            "RULES:2:9: [defaults] repos: only a [[rule]] takes it",
        ),
        (
            "[[rule]]\nattempts = 2\n",
            "RULES:1:1: [[rule]] 1: names neither repos nor workflows",
        ),
        (
            "[[rule]]\nrepos = [\"tarantool\"]\n",
            "RULES:2:10: [[rule]] 1 repos[0]: \"tarantool\" has no '/'",
        ),
        (
            "[[rule]]\nworkflows = []\n",
            "RULES:2:13: [[rule]] 1 workflows: is empty",
        ),
        ("[defaults\n", "RULES:1:10: "),
    ] {
        let line = error_of(text);
        assert!(
            line.starts_with(starts),
            "{text:?}\n  got: {line}\n want: {starts}"
        );
        assert!(!line.contains('\n'), "{line}");
    }
}

#[test]
fn the_effective_policy_is_toml_that_reads_back_the_same() {
    let policy = inline(EXAMPLE).expect("valid");
    let text = policy.to_string();
    let again = inline(&text).expect("the effective policy parses");
    assert_eq!(again.defaults(), policy.defaults());
    assert_eq!(again.rules().len(), 1);
    assert_eq!(again.rules()[0].rule, policy.rules()[0].rule);
    assert_eq!(again.rules()[0].repos, policy.rules()[0].repos);
}

#[test]
fn the_effective_policy_text_shows_every_field_and_what_each_rule_sets() {
    let policy = inline(EXAMPLE).expect("valid");
    let text = policy.to_string();
    let expected = r#"# effective re-run policy, from RULES
[defaults]
attempts = 4
branches = ["master", "release/*"]
delay = "5s"
backoff = 2.0
max_delay = "30m"
max_failed_jobs = 5
budget_per_hour = 30
timed_out = true
skip_workflows = ["Release*"]
skip_jobs = ["deploy*"]
skip_steps = ["*lint*"]
never_when = ["(?i)assertion.*failed", 'error\[E\d{4}\]']
only_when = ["@infra", "ECONNRESET"]
stop_when_useless = 3
learn_after = 0
debug_last_attempt = false
mode = "rerun"

# [[rule]] 1: sets attempts, never_when; the rest is from [defaults]
[[rule]]
repos = ["tarantool/*"]
workflows = ["CI", "fuzzing"]
attempts = 3
branches = ["master", "release/*"]
delay = "5s"
backoff = 2.0
max_delay = "30m"
max_failed_jobs = 5
budget_per_hour = 30
timed_out = true
skip_workflows = ["Release*"]
skip_jobs = ["deploy*"]
skip_steps = ["*lint*"]
never_when = ["(?i)segmentation fault"]
only_when = ["@infra", "ECONNRESET"]
stop_when_useless = 3
learn_after = 0
debug_last_attempt = false
mode = "rerun"
"#;
    assert_eq!(text, expected);
}

#[test]
fn the_effective_policy_as_json_names_its_source_and_rules() {
    let policy = inline(EXAMPLE).expect("valid");
    let json = serde_json::to_value(policy.effective()).expect("serializes");
    assert_eq!(json["source"], "RULES");
    assert_eq!(json["defaults"]["delay"], "5s");
    assert_eq!(json["rules"][0]["repos"][0], "tarantool/*");
    assert_eq!(
        json["rules"][0]["sets"],
        serde_json::json!(["attempts", "never_when"])
    );
    assert_eq!(json["rules"][0]["attempts"], 3);
}

#[test]
fn the_environment_defaults_come_from_the_settings() {
    let vars = [
        ("GITHUB_SIGN_KEY", "k"),
        ("RUN_ATTEMPTS", "5"),
        ("REPO_BRANCHES", "*"),
        ("RERUN_DELAY", "0.5"),
    ];
    let settings = crate::settings::Settings::from_vars(
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
    .expect("valid settings");
    let env = settings.policy_defaults();
    assert_eq!(
        env,
        EnvDefaults {
            attempts: 5,
            branches: BranchFilter::Any,
            delay: Duration::from_millis(500),
        }
    );
    let rule = load(None, None, &env).expect("valid").defaults().clone();
    assert!(rule.branches.matches("feature/x") && rule.attempts == 5);
}

#[test]
fn a_delay_longer_than_an_hour_raises_the_default_max_delay() {
    // docs/policy.md ("Fields"): max_delay defaults to "1h (or delay if longer)", at every level.
    let policy = inline("[defaults]\ndelay = \"2h\"\n").expect("valid");
    assert_eq!(policy.defaults().max_delay, Duration::from_secs(7200));
    let policy = inline("[[rule]]\nrepos = [\"a/b\"]\ndelay = \"2h\"\n").expect("valid");
    assert_eq!(policy.rules()[0].rule.max_delay, Duration::from_secs(7200));
    // A max_delay someone wrote is kept, and still checked against a rule's delay.
    let line =
        error_of("[defaults]\nmax_delay = \"1h\"\n[[rule]]\nrepos = [\"a/b\"]\ndelay = \"2h\"\n");
    assert_eq!(
        line,
        "RULES:5:9: [[rule]] 1 delay: max_delay 1h is shorter than delay 2h"
    );
}

#[test]
fn a_duplicate_key_names_its_field() {
    let line = error_of("[defaults]\nattempts = 3\nattempts = 4\n");
    assert!(
        line.starts_with("RULES:3:1: [defaults] attempts: "),
        "{line}"
    );
    let line = error_of(
        "[defaults]\n[[rule]]\nrepos = ['a/b']\n[[rule]]\nrepos = ['c/d']\nrepos = ['e/f']\n",
    );
    assert!(line.starts_with("RULES:6:1: [[rule]] 2 repos: "), "{line}");
}

#[test]
fn a_backslash_in_double_quotes_names_the_field_and_says_to_use_single_quotes() {
    let line = error_of("[defaults]\nnever_when = [\"\\d\"]\n");
    assert!(
        line.starts_with("RULES:2:17: [defaults] never_when: "),
        "{line}"
    );
    assert!(line.contains("write regexes in single quotes"), "{line}");
}

#[test]
fn a_rule_written_as_a_single_table_says_to_write_double_brackets() {
    let line = error_of("[rule]\nrepos = [\"a/b\"]\n");
    assert!(line.contains("write [[rule]]"), "{line}");
}

#[test]
fn a_huge_number_of_seconds_is_called_too_large() {
    let line = error_of("[defaults]\ndelay = 1e300\n");
    assert!(line.starts_with("RULES:2:9: [defaults] delay: "), "{line}");
    assert!(line.contains("too large") && line.len() < 150, "{line}");
}

#[test]
fn patterns_that_match_an_empty_text_are_refused() {
    for pattern in [".*", "^", "a*", "(?m)$", "x|"] {
        let line = error_of(&format!("[defaults]\nnever_when = ['ok', '{pattern}']\n"));
        assert!(
            line.starts_with("RULES:2:21: [defaults] never_when[1]: ") && line.contains("empty"),
            "{pattern}: {line}"
        );
    }
}

#[test]
fn an_infra_token_with_blanks_around_it_is_refused_with_the_spelling() {
    let line = error_of("[defaults]\nonly_when = [' @infra']\n");
    assert!(
        line.starts_with("RULES:2:14: [defaults] only_when[0]: ") && line.contains("\"@infra\""),
        "{line}"
    );
}

#[test]
fn max_attempts_is_the_largest_of_the_defaults_and_the_rules() {
    let policy = inline(
        "[defaults]\nattempts = 3\n[[rule]]\nrepos = ['a/*']\nattempts = 7\n[[rule]]\nrepos = ['b/*']\nattempts = 2\n",
    )
    .expect("valid");
    assert_eq!(policy.max_attempts(), 7);
    assert_eq!(load(None, None, &env()).expect("valid").max_attempts(), 4);
}

#[test]
fn a_list_too_large_together_is_named_as_the_list() {
    let patterns: Vec<String> = (0..8).map(|i| format!(r"'\w{{20}}{i}'")).collect();
    let line = error_of(&format!(
        "[defaults]\nnever_when = [{}]\n",
        patterns.join(", ")
    ));
    assert!(
        line.starts_with("RULES:2:14: [defaults] never_when: the 8 patterns together exceed"),
        "{line}"
    );
}

#[test]
fn attempts_above_51_are_refused_because_github_refuses_a_51st_rerun() {
    let line = error_of("[defaults]\nattempts = 52\n");
    assert!(
        line.starts_with("RULES:2:12: [defaults] attempts: 52 is more than 51"),
        "{line}"
    );
    assert!(line.contains("more than 50 re-runs"), "{line}");
    assert!(load(Some("[defaults]\nattempts = 51\n"), None, &env()).is_ok());
}

#[cfg(unix)]
#[test]
fn a_rules_file_that_is_a_fifo_or_a_device_is_refused_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("rules.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    for path in [fifo.as_path(), std::path::Path::new("/dev/zero")] {
        let (tx, rx) = std::sync::mpsc::channel();
        let path = path.to_owned();
        std::thread::spawn(move || {
            let _ = tx.send(load(None, Some(&path), &env()).map(|_| ()));
        });
        let answer = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("answered within 5 s, not blocked");
        let err = answer.expect_err("refused").to_string();
        assert!(err.contains("is not a regular file"), "{err}");
    }
}
