//! What an operator is handed besides the binary: the deployment files (Dockerfile,
//! .dockerignore, app.json, CHECKS, rust-toolchain.toml), docs/operate.md's alert rules, the
//! Grafana dashboard and the GitHub App's manifest. The image cannot be built here (no
//! container registry), so these tests check what can be checked without Docker: the files
//! agree with each other, with the docs and with the service, the files their comments
//! cite exist, and every metric the rules and the dashboard name exists.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::helpers::{Job, github_expects_rerun, spawn_app, unique};

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn toml_file(name: &str) -> toml::Table {
    read(name)
        .parse()
        .unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// The Dockerfile's instructions, continuation lines joined, comments left out.
fn dockerfile() -> Vec<String> {
    read("Dockerfile")
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn the_image_builds_with_the_pinned_toolchain_and_the_ci_build_command() {
    let toolchain = toml_file("rust-toolchain.toml");
    let channel = toolchain["toolchain"]["channel"]
        .as_str()
        .expect("a channel");
    let components = toolchain["toolchain"]["components"]
        .as_array()
        .expect("components");
    for needed in ["rustfmt", "clippy"] {
        assert!(
            components.iter().any(|c| c.as_str() == Some(needed)),
            "rust-toolchain.toml misses {needed}"
        );
    }
    let lines = dockerfile();
    let build_image = lines
        .iter()
        .find(|line| line.starts_with("FROM rust:"))
        .expect("a build stage on the official Rust image");
    assert!(
        build_image.starts_with(&format!("FROM rust:{channel}-")),
        "{build_image} is not rust-toolchain.toml's {channel}"
    );
    let cargo_commands: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.strip_prefix("RUN "))
        .flat_map(|commands| commands.split("&&").map(str::trim))
        .filter(|command| command.starts_with("cargo "))
        .collect();
    assert_eq!(
        cargo_commands, ["cargo build --release --locked"; 2],
        "the dependency layer and the service build as CI builds"
    );
    let runtime = lines
        .iter()
        .filter(|line| line.starts_with("FROM "))
        .nth(1)
        .expect("a runtime stage");
    assert!(
        runtime.starts_with("FROM debian:") && runtime.ends_with("-slim"),
        "{runtime}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.contains("install -y --no-install-recommends ca-certificates"))
    );
    let user = lines
        .iter()
        .rfind(|line| line.starts_with("USER "))
        .expect("a user");
    assert!(
        !user.starts_with("USER 0") && !user.contains("root"),
        "{user}"
    );
    assert!(lines.iter().any(|line| line == "WORKDIR /app"));
    assert!(lines.iter().any(|line| line.contains("mkdir -p /app/db")));
    // The Procfile's command runs in place of CMD, so there is no entry point and the
    // binary is where the Procfile says.
    assert!(!lines.iter().any(|line| line.starts_with("ENTRYPOINT")));
    assert_eq!(
        lines.last().map(String::as_str),
        Some(r#"CMD ["./target/release/job-rerunner"]"#)
    );
    let procfile = read("Procfile");
    assert_eq!(procfile.trim(), "web: ./target/release/job-rerunner");
    assert!(
        lines
            .iter()
            .any(|line| line.ends_with("/app/target/release/job-rerunner")),
        "the binary is not where the Procfile looks"
    );
}

#[test]
fn every_workspace_member_has_its_stub_and_reaches_the_build() {
    let manifest = toml_file("Cargo.toml");
    let members = manifest["workspace"]["members"]
        .as_array()
        .expect("workspace members");
    let default_members = manifest["workspace"]["default-members"]
        .as_array()
        .expect("default members");
    assert_eq!(
        default_members
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>(),
        [Some(".")],
        "`cargo build --release` must build the service only"
    );
    let lines = dockerfile();
    let ignore = read(".dockerignore");
    let passes: BTreeSet<&str> = ignore
        .lines()
        .filter_map(|line| line.strip_prefix('!'))
        .collect();
    for member in members.iter().filter_map(|m| m.as_str()) {
        let (manifest, sources) = if member == "." {
            ("Cargo.toml".to_owned(), "src".to_owned())
        } else {
            (format!("{member}/Cargo.toml"), format!("{member}/src"))
        };
        assert!(
            passes.contains(manifest.as_str()),
            ".dockerignore drops {manifest}"
        );
        assert!(
            passes.contains(sources.as_str()),
            ".dockerignore drops {sources}"
        );
        assert!(
            lines
                .iter()
                .any(|line| line.starts_with("COPY ") && line.contains(&manifest)),
            "the dependency layer lacks {manifest}"
        );
        assert!(
            lines
                .iter()
                .any(|line| line.contains(&format!("> {sources}/main.rs"))),
            "the dependency layer has no stub for {member}"
        );
        assert!(
            lines
                .iter()
                .any(|line| line == &format!("COPY {sources} {sources}")),
            "{sources} is not copied for the real build"
        );
    }
    for needed in ["Cargo.lock", "migrations", "CHECKS", "app.json"] {
        assert!(passes.contains(needed), ".dockerignore drops {needed}");
    }
}

#[actix_web::test]
async fn the_health_checks_of_app_json_and_checks_match_readyz_and_the_exposed_port() {
    let app_json: Value = serde_json::from_str(&read("app.json")).expect("app.json is JSON");
    let web = app_json["healthchecks"]["web"]
        .as_array()
        .expect("web health checks");
    let startup = web
        .iter()
        .find(|check| check["type"] == "startup")
        .expect("a startup check");
    let path = startup["path"].as_str().expect("a path");
    let content = startup["content"].as_str().expect("the expected content");
    let checks = read("CHECKS");
    assert!(
        checks
            .lines()
            .any(|line| line.split_whitespace().collect::<Vec<_>>() == [path, content]),
        "CHECKS does not check {path} for {content:?} as app.json does:\n{checks}"
    );

    let app = spawn_app(&[]).await;
    let mut response = awc::Client::default()
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 200);
    let body = response.body().await.expect("body");
    assert!(String::from_utf8_lossy(&body).contains(content));

    let default_port = job_rerunner::settings::VARIABLES
        .iter()
        .find(|variable| variable.name == "PORT")
        .map(|variable| variable.default())
        .expect("PORT");
    assert!(
        dockerfile().contains(&format!("EXPOSE {default_port}")),
        "the image does not expose the default PORT {default_port}"
    );
}

/// Metric names a page serves (histograms with their series), after a re-run and a
/// refused signature made every family appear.
async fn served_metric_names() -> BTreeSet<String> {
    let app = spawn_app(&[]).await;
    let run = unique();
    github_expects_rerun(&app.github, "org/repo", run).await;
    let job = Job::new("org/repo", run, 1);
    app.send(&job.queued()).await;
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    app.outcome_of("org/repo", run, 1).await;
    app.post(b"{}".to_vec(), &[("X-Hub-Signature-256", "sha256=00")])
        .await;
    let mut response = awc::Client::default()
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("answers");
    let text =
        String::from_utf8_lossy(&response.body().limit(4 << 20).await.expect("body")).into_owned();
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            names.insert(name.to_owned());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
    }
    names
}

/// The metric names an expression uses: ours, and the process collector's.
fn named_metrics(expression: &str) -> BTreeSet<String> {
    let pattern = regex::Regex::new(r"\b(?:job_rerunner|process)_[a-z_]+").expect("pattern");
    pattern
        .find_iter(expression)
        .map(|found| found.as_str().to_owned())
        .collect()
}

/// docs/operate.md's alert rules: the YAML block that follows its "## Alerts" heading.
fn documented_alert_rules() -> String {
    let page = read("docs/operate.md");
    let after = page
        .split_once("\n## Alerts\n")
        .expect("docs/operate.md has the alert rules")
        .1;
    let block = after.split_once("```yaml\n").expect("a YAML block").1;
    block
        .split_once("```")
        .expect("the block ends")
        .0
        .to_owned()
}

#[actix_web::test]
async fn the_alert_rules_and_the_dashboard_use_only_metrics_the_service_serves() {
    let served = served_metric_names().await;

    let rules = documented_alert_rules();
    let used = named_metrics(&rules);
    for needed in [
        "job_rerunner_oldest_overdue_rerun_seconds",
        "job_rerunner_reruns_total",
        "job_rerunner_signature_failures_total",
        "job_rerunner_store_commit_duration_seconds_bucket",
    ] {
        assert!(used.contains(needed), "no alert on {needed}");
    }
    let unknown: Vec<&String> = used.difference(&served).collect();
    assert!(
        unknown.is_empty(),
        "the alert rules name {unknown:?}, not served"
    );

    let dashboard: Value =
        serde_json::from_str(&read("docs/grafana-dashboard.json")).expect("the dashboard is JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let expressions: Vec<&str> = panels
        .iter()
        .flat_map(|panel| panel["targets"].as_array().into_iter().flatten())
        .filter_map(|target| target["expr"].as_str())
        .collect();
    assert!(expressions.len() >= panels.len(), "a panel without a query");
    let used: BTreeSet<String> = expressions.iter().flat_map(|e| named_metrics(e)).collect();
    let unknown: Vec<&String> = used.difference(&served).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard names {unknown:?}, not served"
    );
    for needed in [
        "job_rerunner_reruns_pending",
        "job_rerunner_decisions_total",
        "process_resident_memory_bytes",
        "job_rerunner_build_info",
    ] {
        assert!(
            used.contains(needed),
            "the dashboard does not show {needed}"
        );
    }
}

#[actix_web::test]
#[ignore = "needs promtool (Debian's prometheus), with --include-ignored"]
async fn promtool_accepts_the_alert_rules() {
    let promtool = crate::observe::tool("promtool", "promtool_accepts_the_alert_rules");
    let rules = documented_alert_rules();
    let file = tempfile::Builder::new()
        .suffix(".yml")
        .tempfile()
        .expect("temp file");
    std::fs::write(file.path(), &rules).expect("write");
    let checked = Command::new(promtool)
        .args(["check", "rules"])
        .arg(file.path())
        .output()
        .expect("promtool runs");
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// The comment lines of a file (`#` comments: the Dockerfile, Cargo.toml, .dockerignore).
fn comments(name: &str) -> String {
    read(name)
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_files_the_build_files_comments_cite_exist() {
    let cited = regex::Regex::new(r"\b(?:src|tests|docs|loadgen|migrations)/[\w./-]*\w")
        .expect("the path pattern");
    let mut missing = Vec::new();
    for name in ["Dockerfile", "Cargo.toml", ".dockerignore"] {
        for path in cited.find_iter(&comments(name)) {
            if !Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(path.as_str())
                .exists()
            {
                missing.push(format!("{name} cites {}", path.as_str()));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:?}");
}

#[test]
fn the_docs_name_the_base_images_the_dockerfile_builds_on() {
    let from: BTreeSet<String> = dockerfile()
        .iter()
        .filter_map(|line| line.strip_prefix("FROM "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    let named =
        regex::Regex::new(r"\b(?:rust|debian):[0-9a-z][\w.-]*\w").expect("the image pattern");
    let mut pages = vec!["README.md".to_owned(), "ARCHITECTURE.md".to_owned()];
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    for entry in std::fs::read_dir(docs).expect("docs/") {
        let name = entry
            .expect("an entry")
            .file_name()
            .into_string()
            .expect("UTF-8");
        if name.ends_with(".md") {
            pages.push(format!("docs/{name}"));
        }
    }
    let mut seen = 0;
    for page in pages {
        for image in named.find_iter(&read(&page)) {
            seen += 1;
            assert!(
                from.contains(image.as_str()),
                "{page} names {}, the Dockerfile builds on {from:?}",
                image.as_str()
            );
        }
    }
    assert!(seen >= 2, "the docs name no base image");
}

#[test]
fn the_benchmark_command_in_cargo_toml_is_the_one_that_runs() {
    let manifest = comments("Cargo.toml");
    assert!(
        manifest.contains("`cargo run --release -p loadgen`"),
        "{manifest}"
    );
    assert!(
        !manifest.contains("--bin loadgen"),
        "cargo looks for --bin in the default member only: {manifest}"
    );
}

#[actix_web::test]
async fn the_app_manifest_sends_people_to_pages_that_answer_without_a_token() {
    let manifest: Value =
        serde_json::from_str(&read("docs/github-app.json")).expect("the manifest is JSON");
    let app = spawn_app(&[]).await;
    let path_of = |url: &Value| {
        let url = url::Url::parse(url.as_str().expect("a URL")).expect("a valid URL");
        url.path().to_owned()
    };
    // GitHub sends the browser there with the code to exchange.
    let redirect = path_of(&manifest["redirect_url"]);
    let page = crate::helpers::get_page(&app.address, &format!("{redirect}?code=c0de"), None).await;
    assert_eq!(page.status, 200, "{redirect}: {}", page.body);
    // Deliveries are POSTed to the hook's URL: the service's own.
    assert_eq!(path_of(&manifest["hook_attributes"]["url"]), "/");
}
