//! Documentation that cannot drift from the code (issue 21): every relative link of
//! README.md and docs/*.md resolves, every TOML block is a policy the service takes,
//! docs/configuration.md's table is the one `--help` prints and the ranges it states are
//! the settings catalog's, docs/policy.md explains every field a policy takes, and
//! docs/operate.md lists every metric `/metrics` serves.

mod markdown;

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use job_rerunner::policy::{self, EnvDefaults, PolicySource};
use job_rerunner::settings::{Kind, MAX_DURATION, VARIABLES};
use serde_json::json;

use crate::evidence_policy::{serves_evidence, start};
use crate::helpers::{Job, get_page, github_expects_rerun, unique};
use markdown::{Page, documentation};

/// Where a relative link of `page` points, from the repository root; `None` when it
/// leaves the repository.
fn resolve(page: &Path, target: &str) -> Option<PathBuf> {
    let mut resolved = PathBuf::new();
    let base = page.parent().unwrap_or(Path::new(""));
    for part in base.join(target).components() {
        match part {
            Component::ParentDir => {
                if !resolved.pop() {
                    return None;
                }
            }
            Component::CurDir => {}
            other => resolved.push(other),
        }
    }
    Some(resolved)
}

/// What is wrong with one link of `page`, if anything.
fn broken(page: &Page, target: &str) -> Option<String> {
    let is_url = target
        .split_once(':')
        .is_some_and(|(scheme, _)| scheme.chars().all(|c| c.is_ascii_alphabetic()));
    if is_url || target.is_empty() {
        return None;
    }
    let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
    let path = if file.is_empty() {
        page.path.clone()
    } else {
        match resolve(&page.path, file) {
            Some(path) => path,
            None => return Some("points outside the repository".into()),
        }
    };
    let full = markdown::root().join(&path);
    if !full.exists() {
        return Some(format!("{} does not exist", path.display()));
    }
    let is_page = path.extension().is_some_and(|ext| ext == "md");
    if !anchor.is_empty() && is_page && !markdown::anchors(&markdown::read(&path)).contains(anchor)
    {
        return Some(format!("no heading of {} makes #{anchor}", path.display()));
    }
    None
}

#[test]
fn every_relative_link_of_the_readme_and_the_docs_resolves() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for page in documentation() {
        for link in markdown::links(&page.text) {
            checked += 1;
            if let Some(problem) = broken(&page, &link.target) {
                problems.push(format!(
                    "{}:{}: ({}) {problem}",
                    page.path.display(),
                    link.line,
                    link.target
                ));
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} links found: is the reader broken?"
    );
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_toml_block_of_the_docs_is_a_policy_the_service_takes() {
    let mut problems = Vec::new();
    let mut parsed = 0;
    for page in documentation() {
        for block in markdown::fenced_blocks(&page.text) {
            if block.lang != "toml" || matches!(block.note.as_deref(), Some("fragment" | "refused"))
            {
                continue;
            }
            parsed += 1;
            if let Err(err) =
                policy::parse(&block.body, PolicySource::Inline, &EnvDefaults::default())
            {
                problems.push(format!("{}:{}: {err}", page.path.display(), block.line));
            }
        }
    }
    assert!(parsed >= 2, "only {parsed} TOML blocks found");
    assert!(
        problems.is_empty(),
        "TOML blocks that are no policy (mark a piece of one with <!-- fragment --> on the line before):\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_refused_policy_shown_is_refused_with_the_line_shown_after_it() {
    let page = markdown::read(Path::new("docs/policy.md"));
    let blocks = markdown::fenced_blocks(&page);
    let mut shown = 0;
    for (at, block) in blocks.iter().enumerate() {
        if block.note.as_deref() != Some("refused") {
            continue;
        }
        shown += 1;
        let line = blocks
            .get(at + 1)
            .filter(|next| next.lang.is_empty())
            .unwrap_or_else(|| panic!("docs/policy.md:{}: no line after it", block.line));
        let err = policy::parse(&block.body, PolicySource::Inline, &EnvDefaults::default())
            .expect_err("a policy shown as refused is refused");
        assert_eq!(
            err.to_string(),
            line.body.trim_end(),
            "docs/policy.md:{}: the line shown is not the one printed",
            line.line
        );
    }
    assert!(shown >= 5, "only {shown} refused policies shown");
    let both = policy::load(
        Some("[defaults]"),
        Some(Path::new("policy.toml")),
        &EnvDefaults::default(),
    )
    .expect_err("both sources are refused");
    assert!(
        page.contains(&format!("`{both}`")),
        "docs/policy.md does not show: {both}"
    );
}

/// The policy docs/policy.md shows under "The recommended policy".
fn documented_recommended_policy() -> String {
    let page = markdown::read(Path::new("docs/policy.md"));
    let section = markdown::section(&page, "The recommended policy");
    markdown::fenced_blocks(&section)
        .into_iter()
        .find(|block| block.lang == "toml")
        .expect("a TOML block under \"The recommended policy\"")
        .body
}

#[test]
fn the_recommended_policy_shown_is_the_one_in_docs_policies() {
    let parse = |text: &str| {
        policy::parse(text, PolicySource::Inline, &EnvDefaults::default())
            .expect("a valid policy")
            .effective()
    };
    let file = markdown::read(Path::new("docs/policies/recommended.toml"));
    assert_eq!(
        parse(&documented_recommended_policy()),
        parse(&file),
        "docs/policy.md shows another policy than docs/policies/recommended.toml"
    );
}

#[test]
fn the_configuration_table_is_the_list_help_prints() {
    let page = markdown::read(Path::new("docs/configuration.md"));
    let documented: Vec<(String, String, String)> = markdown::table_after(&page, "Every variable")
        .into_iter()
        .map(|cells| {
            assert_eq!(cells.len(), 3, "a row of three cells: {cells:?}");
            (
                cells[0].trim_matches('`').to_owned(),
                cells[1].clone(),
                cells[2].clone(),
            )
        })
        .collect();
    let read: Vec<(String, String, String)> = VARIABLES
        .iter()
        .map(|variable| {
            (
                variable.name.to_owned(),
                variable.default(),
                variable.help.to_owned(),
            )
        })
        .collect();
    let names = |rows: &[(String, String, String)]| -> BTreeSet<String> {
        rows.iter().map(|(name, _, _)| name.clone()).collect()
    };
    let missing: Vec<String> = names(&read)
        .difference(&names(&documented))
        .cloned()
        .collect();
    let unknown: Vec<String> = names(&documented)
        .difference(&names(&read))
        .cloned()
        .collect();
    assert!(missing.is_empty(), "read but not documented: {missing:?}");
    assert!(unknown.is_empty(), "documented but never read: {unknown:?}");
    for (doc, code) in documented.iter().zip(&read) {
        assert_eq!(
            doc, code,
            "docs/configuration.md and settings::VARIABLES differ"
        );
    }
}

/// A range the page states in its prose after a variable's name: `RUN_ATTEMPTS` 2 to
/// 51 (or takes 2 to 51), `WORKERS` ≥ 1, `BODY_TIMEOUT` at most 300.
#[derive(Debug, PartialEq)]
enum Stated {
    Between(u64, u64),
    AtLeast(u64),
    AtMost(u64),
}

/// Every range docs/configuration.md states after a variable's name, in order.
fn ranges_stated(page: &str) -> Vec<(String, Stated)> {
    let words: Vec<&str> = page.split_whitespace().collect();
    let number = |at: usize| {
        words
            .get(at)
            .map(|word| word.trim_end_matches([',', '.', ';', ':', ')']))
            .and_then(|word| word.parse::<u64>().ok())
    };
    let mut found = Vec::new();
    for (at, word) in words.iter().enumerate() {
        let Some(name) = word.strip_prefix('`').and_then(|w| w.strip_suffix('`')) else {
            continue;
        };
        let at = if words.get(at + 1) == Some(&"takes") {
            at + 2
        } else {
            at + 1
        };
        let stated = match (words.get(at), number(at), words.get(at + 1)) {
            (_, Some(low), Some(&"to")) => number(at + 2).map(|high| Stated::Between(low, high)),
            (Some(&"≥"), _, _) => number(at + 1).map(Stated::AtLeast),
            (Some(&"at"), _, Some(&"most")) => number(at + 2).map(Stated::AtMost),
            _ => None,
        };
        found.extend(stated.map(|stated| (name.to_owned(), stated)));
    }
    found
}

#[test]
fn every_range_the_configuration_page_states_is_the_catalogs() {
    let page = markdown::read(Path::new("docs/configuration.md"));
    let stated = ranges_stated(&page);
    assert!(stated.len() >= 6, "only {stated:?}");
    for (name, stated) in &stated {
        let kind = VARIABLES
            .iter()
            .find(|variable| variable.name == name)
            .map(|variable| variable.kind);
        let agrees = match (kind, stated) {
            (Some(Kind::Count(count)), Stated::Between(low, high)) => {
                (*low, *high) == (count.min, count.max)
            }
            (Some(Kind::Count(count)), Stated::AtLeast(low)) => *low == count.min,
            (Some(Kind::Count(count)), Stated::AtMost(high)) => *high == count.max,
            (Some(Kind::Seconds(seconds)), Stated::AtMost(high)) => *high == seconds.max.as_secs(),
            _ => false,
        };
        assert!(
            agrees,
            "docs/configuration.md says {name} {stated:?}; settings::VARIABLES declares {kind:?}"
        );
    }
    let longest = MAX_DURATION.as_secs();
    assert!(
        page.contains(&format!(
            "Every duration is at most {longest} seconds (30 days)"
        )),
        "docs/configuration.md does not give the longest duration, {longest} seconds"
    );
}

#[test]
fn every_refused_value_shown_is_refused_with_the_line_shown() {
    let page = markdown::read(Path::new("docs/configuration.md"));
    let rows = markdown::table_after(&page, "When a value is refused");
    assert!(rows.len() >= 5, "only {} refused values shown", rows.len());
    for cells in &rows {
        let set = cells[0].trim_matches('`');
        let (name, value) = set.split_once('=').expect("NAME=value");
        let vars = [("GITHUB_SIGN_KEY", "k"), (name, value)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let err = job_rerunner::settings::Settings::from_vars(vars)
            .expect_err(&format!("{set} is refused"));
        // As `src/main.rs` prints it.
        let printed = format!("job-rerunner: configuration error: {err}");
        assert_eq!(printed, cells[1].trim_matches('`').trim(), "{set}");
    }
    let typo =
        job_rerunner::cli::parse(["job-rerunner", "chek-config"]).expect_err("a typo is refused");
    assert_eq!(typo.code, 2);
    let line = typo.text.trim_end();
    assert!(
        page.contains(&format!("`{line}`")),
        "docs/configuration.md does not show: {line}"
    );
}

/// The fields a policy section takes, in the words of the parser's own refusal.
fn policy_fields() -> Vec<String> {
    let err = policy::parse(
        "[defaults]\nnot_a_field = 1\n",
        PolicySource::Inline,
        &EnvDefaults::default(),
    )
    .expect_err("an unknown field is refused")
    .to_string();
    let listed = err
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("the refusal lists the fields: {err}"))
        .1;
    listed
        .split(", ")
        .map(|field| field.trim().trim_matches('`').to_owned())
        .collect()
}

#[test]
fn docs_policy_md_explains_every_field_a_policy_takes() {
    let page = markdown::read(Path::new("docs/policy.md"));
    let documented: Vec<String> = markdown::table_after(&page, "Fields")
        .into_iter()
        .map(|cells| cells[0].trim_matches('`').to_owned())
        .collect();
    let fields = policy_fields();
    assert!(fields.len() > 10, "{fields:?}");
    assert_eq!(
        documented, fields,
        "docs/policy.md's table and the parser's fields"
    );
}

/// The metric names a `/metrics` page declares (`# TYPE` lines), and each sample's
/// label names and values.
fn declared(page: &str) -> (BTreeSet<String>, BTreeSet<(String, String, String)>) {
    let names = page
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    let label = regex::Regex::new(r#"([a-z_]+)="([^"]*)""#).expect("the label pattern");
    let mut labels = BTreeSet::new();
    for line in page.lines().filter(|line| !line.starts_with('#')) {
        let Some((series, _)) = line.split_once('{') else {
            continue;
        };
        let series = series
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        for capture in label.captures_iter(line) {
            if &capture[1] != "le" {
                labels.insert((
                    series.to_owned(),
                    capture[1].to_owned(),
                    capture[2].to_owned(),
                ));
            }
        }
    }
    (names, labels)
}

/// `/metrics` after a run re-run on its log's evidence, a forged signature, a wrong
/// status token and an oversized delivery id: most of what the service counts.
async fn metrics_after_a_busy_minute() -> String {
    let (app, blob) = start("[defaults]\nonly_when = [\"@transient\"]\n").await;
    let run = unique();
    github_expects_rerun(&app.github, crate::evidence_policy::REPO, run).await;
    let log = "2026-12-01T10:00:01.0000000Z npm ERR! network read ECONNRESET\n\
               2026-12-01T10:00:02.0000000Z ##[error]Process completed with exit code 1.\n";
    serves_evidence(&app, &blob, 21, json!([]), log).await;
    let job = Job::new(crate::evidence_policy::REPO, run, 21).name("test");
    app.send(&job.queued()).await;
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    app.outcome_becomes(crate::evidence_policy::REPO, run, 1, "started")
        .await;
    app.post(b"{}".to_vec(), &[("X-Hub-Signature-256", "sha256=00")])
        .await;
    let long_id = "x".repeat(100);
    app.post(
        b"{}".to_vec(),
        &[
            ("X-Hub-Signature-256", "sha256=00"),
            ("X-GitHub-Delivery", &long_id),
        ],
    )
    .await;
    get_page(&app.address, "/status", Some("not-the-status-token")).await;
    let page = get_page(&app.address, "/metrics", None).await;
    assert_eq!(page.status, 200);
    page.body
}

#[actix_web::test]
async fn every_metric_served_is_in_docs_operate_md_with_its_labels() {
    let (served, labels) = declared(&metrics_after_a_busy_minute().await);
    let page = markdown::read(Path::new("docs/operate.md"));
    let rows: Vec<Vec<String>> = markdown::table_after(&page, "Metrics");
    let row_of = |name: &str| {
        rows.iter()
            .find(|cells| cells[0] == format!("`{name}`"))
            .map(|cells| cells.join(" | "))
    };
    let mut problems = Vec::new();
    for name in &served {
        if let Some(ours) = name.strip_prefix("job_rerunner_") {
            if row_of(ours).is_none() {
                problems.push(format!("{name} is served, not in the metrics table"));
            }
        } else if !page.contains(&format!("`{name}`")) {
            problems.push(format!("{name} is served, not named in docs/operate.md"));
        }
    }
    for (series, label, value) in &labels {
        let Some(mut row) = series.strip_prefix("job_rerunner_").and_then(row_of) else {
            continue;
        };
        // A row may give its labels "as" another metric's row: read that one too.
        let named: Vec<String> = rows
            .iter()
            .filter(|cells| row.contains(&cells[0]))
            .map(|cells| cells.join(" | "))
            .collect();
        row.push_str(&named.concat());
        // A label's name is listed; a value from a fixed set is too (numbers and the
        // version are not).
        let fixed = !value.is_empty()
            && !value.chars().all(|c| c.is_ascii_digit())
            && !matches!(label.as_str(), "version" | "event" | "action");
        if !row.contains(&format!("`{label}`")) || (fixed && !row.contains(&format!("`{value}`"))) {
            problems.push(format!(
                "{series}{{{label}=\"{value}\"}}: the row does not say so"
            ));
        }
    }
    // Declared in src/metrics.rs: a documented metric the scenario did not serve still exists.
    let declarations = markdown::read(Path::new("src/metrics.rs"));
    for cells in &rows {
        let name = cells[0].trim_matches('`');
        if !declarations.contains(&format!("\"{name}\"")) {
            problems.push(format!("{name} is documented, never declared"));
        }
    }
    assert!(served.len() > 25, "only {} metrics served", served.len());
    assert!(
        problems.is_empty(),
        "docs/operate.md and /metrics differ:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_github_endpoints_the_service_calls_are_labels_of_the_calls_metric() {
    let page = markdown::read(Path::new("docs/operate.md"));
    let row = markdown::table_after(&page, "Metrics")
        .into_iter()
        .find(|cells| cells[0] == "`github_api_calls_total`")
        .expect("a row for github_api_calls_total")
        .join(" ");
    // The calls an App makes (installation tokens, check runs) and the jobs listing of
    // a run whose deliveries were lost: the busy minute above makes none of them.
    for endpoint in ["run_jobs", "installation_token", "create_check_run"] {
        assert!(
            row.contains(&format!("`{endpoint}`")),
            "{endpoint} is not listed: {row}"
        );
    }
}
