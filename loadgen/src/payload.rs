//! Realistic `workflow_job` bodies (~8.5 KB, like GitHub's) and the signed request
//! around them.
//!
//! The big, constant parts (repository, organization, sender objects) are serialised
//! once per repository; each request only formats its ~1 KB `workflow_job` object, so
//! the load generator spends its two shared cores on sending, not on building JSON.

use std::io::Write as _;

use job_rerunner::http::signature::sign;
use job_rerunner::settings::Secret;
use serde_json::{Map, Value, json};

/// The organisation every generated repository belongs to.
pub const OWNER: &str = "loadgen-org";
const API: &str = "https://api.github.com";
const WEB: &str = "https://github.com";

/// What happened to the job, as GitHub's `action` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The job waits for a runner.
    Queued,
    /// A runner picked the job up.
    InProgress,
    /// The job finished with this conclusion.
    Completed(Conclusion),
}

/// The two conclusions the benchmark sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conclusion {
    /// The job passed.
    Success,
    /// The job failed (the run is to be re-run).
    Failure,
}

/// One job event to send.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    /// Index into the generated repositories.
    pub repo: usize,
    /// `workflow_job.run_id`.
    pub run_id: u64,
    /// `workflow_job.id`.
    pub job_id: u64,
    /// `action` (and `workflow_job.status`).
    pub action: Action,
}

/// The constant parts of the payloads, serialised once.
pub struct Payloads {
    /// `repository` object of each generated repository, as JSON text.
    repositories: Vec<String>,
    /// `name` of each repository (for URLs inside `workflow_job`).
    names: Vec<String>,
    organization: String,
    sender: String,
    key: Secret,
}

impl Payloads {
    /// Payloads for `repos` repositories, signed with `key`.
    pub fn new(repos: usize, key: Secret) -> Self {
        let names: Vec<String> = (0..repos.max(1))
            .map(|i| format!("service-{i:02}"))
            .collect();
        let repositories = names
            .iter()
            .enumerate()
            .map(|(i, name)| repository(i as u64, name).to_string())
            .collect();
        Self {
            repositories,
            names,
            organization: organization().to_string(),
            sender: user("octo-dev", 88746790, "User").to_string(),
            key,
        }
    }

    /// `owner/name` of repository `repo`.
    pub fn full_name(&self, repo: usize) -> String {
        format!("{OWNER}/{}", self.names[repo])
    }

    /// Writes the JSON body of `event` into `out` (cleared first). `seq` makes every body
    /// unique (GitHub's bodies differ in runner and step timestamps).
    pub fn body(&self, event: &Event, seq: u64, out: &mut Vec<u8>) {
        out.clear();
        let name = &self.names[event.repo];
        let (action, conclusion, completed_at) = match event.action {
            Action::Queued => ("queued", "null", "null"),
            Action::InProgress => ("in_progress", "null", "null"),
            Action::Completed(Conclusion::Success) => {
                ("completed", "\"success\"", "\"2026-03-06T09:41:07Z\"")
            }
            Action::Completed(Conclusion::Failure) => {
                ("completed", "\"failure\"", "\"2026-03-06T09:41:07Z\"")
            }
        };
        let steps = match event.action {
            Action::Queued => String::from("[]"),
            _ => steps(action, conclusion),
        };
        let (run, job) = (event.run_id, event.job_id);
        // Field order and shapes follow GitHub's `workflow_job` webhook.
        let _ = write!(
            out,
            r#"{{"action":"{action}","workflow_job":{{"id":{job},"run_id":{run},"workflow_name":"CI","head_branch":"master","run_url":"{API}/repos/{OWNER}/{name}/actions/runs/{run}","run_attempt":1,"node_id":"CR_kwDOH2Isjs8AAAACvoEFYg","head_sha":"0d5ec357fb8684bd26a74f0b8b3a5020768688eb","url":"{API}/repos/{OWNER}/{name}/actions/jobs/{job}","html_url":"{WEB}/{OWNER}/{name}/actions/runs/{run}/job/{job}","status":"{action}","conclusion":{conclusion},"created_at":"2026-03-06T09:30:16Z","started_at":"2026-03-06T09:30:20Z","completed_at":{completed_at},"name":"test (ubuntu-22.04, {job_mod})","steps":{steps},"check_run_url":"{API}/repos/{OWNER}/{name}/check-runs/{job}","labels":["ubuntu-22.04"],"runner_id":{seq},"runner_name":"GitHub Actions {seq}","runner_group_id":2,"runner_group_name":"GitHub Actions"}},"repository":{repository},"organization":{organization},"sender":{sender}}}"#,
            job_mod = job % 8,
            repository = self.repositories[event.repo],
            organization = self.organization,
            sender = self.sender,
        );
    }

    /// Writes a complete `POST /` request for `body` into `out` (cleared first), with a
    /// fresh delivery id and the body's HMAC, as GitHub sends it.
    pub fn request(&self, host: &str, body: &[u8], delivery: u128, out: &mut Vec<u8>) {
        out.clear();
        let signature = sign(&self.key, body);
        let d = delivery.to_be_bytes();
        let hex = |range: std::ops::Range<usize>| hex::encode(&d[range]);
        let _ = write!(
            out,
            "POST / HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\nUser-Agent: GitHub-Hookshot/0d9a3e1\r\n\
             Content-Type: application/json\r\nX-GitHub-Event: workflow_job\r\n\
             X-GitHub-Delivery: {}-{}-{}-{}-{}\r\nX-GitHub-Hook-ID: 401250163\r\n\
             X-GitHub-Hook-Installation-Target-Type: repository\r\n\
             X-GitHub-Hook-Installation-Target-ID: 526527630\r\n\
             X-Hub-Signature-256: {signature}\r\nContent-Length: {}\r\n\r\n",
            hex(0..4),
            hex(4..6),
            hex(6..8),
            hex(8..10),
            hex(10..16),
            body.len()
        );
        out.extend_from_slice(body);
    }
}

/// The `steps` array of a job that is running or finished.
fn steps(status: &str, conclusion: &str) -> String {
    let names = ["Set up job", "Run actions/checkout@v4", "Build", "Test"];
    let items: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            format!(
                r#"{{"name":"{name}","status":"{status}","conclusion":{conclusion},"number":{},"started_at":"2026-03-06T09:30:2{i}Z","completed_at":null}}"#,
                i + 1
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// A GitHub user or organisation account object (`owner`, `sender`).
fn user(login: &str, id: u64, kind: &str) -> Value {
    let url = format!("{API}/users/{login}");
    json!({
        "login": login, "id": id, "node_id": "MDQ6VXNlcjg4NzQ2Nzkw",
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "", "url": url, "html_url": format!("{WEB}/{login}"),
        "followers_url": format!("{url}/followers"),
        "following_url": format!("{url}/following{{/other_user}}"),
        "gists_url": format!("{url}/gists{{/gist_id}}"),
        "starred_url": format!("{url}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{url}/subscriptions"),
        "organizations_url": format!("{url}/orgs"),
        "repos_url": format!("{url}/repos"),
        "events_url": format!("{url}/events{{/privacy}}"),
        "received_events_url": format!("{url}/received_events"),
        "type": kind, "user_view_type": "public", "site_admin": false,
    })
}

/// The `organization` object.
fn organization() -> Value {
    let url = format!("{API}/orgs/{OWNER}");
    json!({
        "login": OWNER, "id": 2344919, "node_id": "MDEyOk9yZ2FuaXphdGlvbjIzNDQ5MTk=",
        "url": url, "repos_url": format!("{url}/repos"), "events_url": format!("{url}/events"),
        "hooks_url": format!("{url}/hooks"), "issues_url": format!("{url}/issues"),
        "members_url": format!("{url}/members{{/member}}"),
        "public_members_url": format!("{url}/public_members{{/member}}"),
        "avatar_url": "https://avatars.githubusercontent.com/u/2344919?v=4",
        "description": "Load-generator organisation for job-rerunner benchmarks.",
    })
}

/// A full `repository` object, with GitHub's many `*_url` fields.
fn repository(index: u64, name: &str) -> Value {
    let full = format!("{OWNER}/{name}");
    let url = format!("{API}/repos/{full}");
    let mut repo = Map::new();
    let mut put = |key: &str, value: Value| {
        repo.insert(key.to_owned(), value);
    };
    put("id", json!(526527630 + index));
    put("node_id", json!("R_kgDOH2Isjg"));
    put("name", json!(name));
    put("full_name", json!(full));
    put("private", json!(false));
    put("owner", user(OWNER, 2344919, "Organization"));
    put("html_url", json!(format!("{WEB}/{full}")));
    put(
        "description",
        json!("A service whose CI the benchmark pretends to run"),
    );
    put("fork", json!(false));
    put("url", json!(url));
    // GitHub's URL templates, all relative to the repository's API URL.
    let templated = [
        ("forks_url", "/forks"),
        ("keys_url", "/keys{/key_id}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("teams_url", "/teams"),
        ("hooks_url", "/hooks"),
        ("issue_events_url", "/issues/events{/number}"),
        ("events_url", "/events"),
        ("assignees_url", "/assignees{/user}"),
        ("branches_url", "/branches{/branch}"),
        ("tags_url", "/tags"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("trees_url", "/git/trees{/sha}"),
        ("statuses_url", "/statuses/{sha}"),
        ("languages_url", "/languages"),
        ("stargazers_url", "/stargazers"),
        ("contributors_url", "/contributors"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("commits_url", "/commits{/sha}"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("comments_url", "/comments{/number}"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("contents_url", "/contents/{+path}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("merges_url", "/merges"),
        ("archive_url", "/{archive_format}{/ref}"),
        ("downloads_url", "/downloads"),
        ("issues_url", "/issues{/number}"),
        ("pulls_url", "/pulls{/number}"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("labels_url", "/labels{/name}"),
        ("releases_url", "/releases{/id}"),
        ("deployments_url", "/deployments"),
    ];
    for (key, suffix) in templated {
        put(key, json!(format!("{url}{suffix}")));
    }
    put("created_at", json!("2022-08-19T08:39:08Z"));
    put("updated_at", json!("2025-10-05T11:24:55Z"));
    put("pushed_at", json!("2026-03-06T09:30:12Z"));
    put("git_url", json!(format!("git://github.com/{full}.git")));
    put("ssh_url", json!(format!("git@github.com:{full}.git")));
    put("clone_url", json!(format!("{WEB}/{full}.git")));
    put("svn_url", json!(format!("{WEB}/{full}")));
    put("homepage", json!(format!("https://{name}.example.org")));
    put("size", json!(48213));
    put("stargazers_count", json!(212));
    put("watchers_count", json!(212));
    put("language", json!("Rust"));
    for flag in [
        "has_issues",
        "has_projects",
        "has_downloads",
        "has_wiki",
        "has_discussions",
        "allow_forking",
    ] {
        put(flag, json!(true));
    }
    for flag in [
        "has_pages",
        "archived",
        "disabled",
        "is_template",
        "web_commit_signoff_required",
    ] {
        put(flag, json!(false));
    }
    put("forks_count", json!(31));
    put("mirror_url", Value::Null);
    put("open_issues_count", json!(17));
    put(
        "license",
        json!({"key": "mit", "name": "MIT License", "spdx_id": "MIT",
            "url": format!("{API}/licenses/mit"), "node_id": "MDc6TGljZW5zZTEz"}),
    );
    put(
        "topics",
        json!([
            "ci",
            "github-actions",
            "rust",
            "webhooks",
            "benchmark",
            "load-testing",
            "actix-web"
        ]),
    );
    put("visibility", json!("public"));
    put("forks", json!(31));
    put("open_issues", json!(17));
    put("watchers", json!(212));
    put("default_branch", json!("master"));
    put("custom_properties", json!({}));
    Value::Object(repo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads() -> Payloads {
        Payloads::new(3, Secret::new("k"))
    }

    #[test]
    fn bodies_are_valid_json_of_githubs_size() {
        let p = payloads();
        let mut out = Vec::new();
        for action in [
            Action::Queued,
            Action::InProgress,
            Action::Completed(Conclusion::Failure),
        ] {
            let event = Event {
                repo: 2,
                run_id: 4341897961,
                job_id: 11786061154,
                action,
            };
            p.body(&event, 7, &mut out);
            let value: Value = serde_json::from_slice(&out).expect("valid JSON");
            assert_eq!(value["repository"]["full_name"], "loadgen-org/service-02");
            assert_eq!(value["workflow_job"]["run_id"], 4341897961u64);
            assert!((7_500..9_500).contains(&out.len()), "{} bytes", out.len());
        }
    }

    #[test]
    fn requests_carry_a_valid_signature_and_length() {
        let p = payloads();
        let mut body = Vec::new();
        let event = Event {
            repo: 0,
            run_id: 1,
            job_id: 2,
            action: Action::InProgress,
        };
        p.body(&event, 1, &mut body);
        let mut request = Vec::new();
        p.request("127.0.0.1:1", &body, 0xabc, &mut request);
        let text = String::from_utf8(request).expect("utf-8");
        let expected = format!(
            "X-Hub-Signature-256: {}\r\n",
            sign(&Secret::new("k"), &body)
        );
        assert!(text.contains(&expected));
        assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
        assert!(text.contains("X-GitHub-Delivery: 00000000-0000-0000-0000-000000000abc\r\n"));
    }
}
