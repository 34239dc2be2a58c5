//! Sleeping trackers (issue 13): a tracker whose run was quiet for `TRACKER_IDLE` leaves
//! memory, and the next event (or the outbox poller, for a re-run due far away) wakes it
//! from the store. A run that slept and woke gets exactly the answers and the one re-run
//! it would have got awake: across a redelivery, a late `needs:` job, a re-run due while
//! asleep, sleeps racing events under load, and on two instances sharing PostgreSQL. The
//! gauges and the `mailboxes` line tell trackers awake from runs tracked.

use std::cell::Cell;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{
    Job, TestApp, eventually, get_page, github_expects_rerun, run_path, send_as_to, send_to,
    spawn_app, unique,
};
use crate::observe::sample;
use crate::postgres::fresh_database;
use crate::process::Service;

/// A quiet tracker sleeps almost at once.
const SLEEPY: (&str, &str) = ("TRACKER_IDLE", "0.05");
/// No tracker sleeps within a test.
const WAKEFUL: (&str, &str) = ("TRACKER_IDLE", "600");

/// A sample of the service's `/metrics` at `address` (`job_rerunner_` and `name`).
async fn metric(address: &str, name: &str) -> f64 {
    let page = get_page(address, "/metrics", None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    sample(&page.body, &format!("job_rerunner_{name}"))
}

/// A delivery's status and line, as compared between a run that slept and one that did not.
type Answers = Vec<(u16, String)>;

/// A service a scenario runs on: one whose trackers sleep whenever the run is quiet, or
/// one whose trackers never sleep (the reference).
struct Subject {
    app: TestApp,
    sleepy: bool,
    /// Trackers seen asleep so far (`tracker_sleeps_total`).
    sleeps_seen: Cell<f64>,
    answers: std::cell::RefCell<Answers>,
}

impl Subject {
    async fn new(sleepy: bool, overrides: &[(&str, &str)]) -> Self {
        let mut settings = vec![if sleepy { SLEEPY } else { WAKEFUL }];
        settings.extend_from_slice(overrides);
        Self {
            app: spawn_app(&settings).await,
            sleepy,
            sleeps_seen: Cell::new(0.0),
            answers: std::cell::RefCell::default(),
        }
    }

    /// Sends `payload` as delivery `delivery` and keeps the answer.
    async fn send(&self, payload: &Value, delivery: &str) -> u16 {
        let answer = self.app.send_as(payload, "workflow_job", delivery).await;
        self.answers
            .borrow_mut()
            .push((answer.status, answer.body.clone()));
        answer.status
    }

    /// Lets the run go quiet: on a sleepy service, until every tracker slept once more
    /// (the registry is empty and `tracker_sleeps_total` rose); on the reference, not at all.
    async fn quiet(&self) {
        if !self.sleepy {
            return;
        }
        let registry = self.app.registry.clone().expect("in-process service");
        let seen = self.sleeps_seen.get();
        let sleeps = eventually("the run's tracker to sleep", || async {
            let sleeps = metric(&self.app.address, "tracker_sleeps_total").await;
            (registry.is_empty() && sleeps > seen).then_some(sleeps)
        })
        .await;
        self.sleeps_seen.set(sleeps);
    }

    /// The answers so far, and checks that the reference never slept.
    async fn answers(&self) -> Answers {
        let sleeps = metric(&self.app.address, "tracker_sleeps_total").await;
        if self.sleepy {
            assert!(sleeps > 0.0, "no tracker slept");
        } else {
            assert_eq!(sleeps, 0.0, "a tracker of the reference slept");
        }
        self.answers.borrow().clone()
    }
}

/// Whether `repo`'s run `run` is stored with a re-run due (`Some(Some(at))`), stored with
/// none due (`Some(None)`), or not stored.
fn stored_rerun_due(db: &Path, repo: &str, run: u64) -> Option<Option<i64>> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    conn.query_row(
        "SELECT pending_rerun_at FROM runs WHERE repo = ?1 AND run_id = ?2",
        rusqlite::params![repo, run as i64],
        |row| row.get(0),
    )
    .ok()
}

/// A fake GitHub for many runs: every run shows attempt 1 failed, every re-run is accepted.
async fn github_reruns_any_run(github: &MockServer) {
    Mock::given(method("GET"))
        .and(path_regex(r"^/repos/[^/]+/[^/]+/actions/runs/\d+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"status": "completed", "conclusion": "failure", "run_attempt": 1}),
        ))
        .mount(github)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(
            r"^/repos/[^/]+/[^/]+/actions/runs/\d+/rerun-failed-jobs$",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({})))
        .mount(github)
        .await;
}

/// Re-run POSTs GitHub received, per run path (`/repos/o/r/actions/runs/N`).
async fn reruns_per_run(github: &MockServer) -> HashMap<String, usize> {
    let mut posts = HashMap::new();
    for request in github.received_requests().await.unwrap_or_default() {
        if request.method.as_str() != "POST" {
            continue;
        }
        if let Some(run) = request.url.path().strip_suffix("/rerun-failed-jobs") {
            *posts.entry(run.to_owned()).or_insert(0) += 1;
        }
    }
    posts
}

/// The pause before a run's `step`th event: load shaping, so that under load some of a
/// run's events come at once, most of them about when its tracker falls asleep (racing
/// it), and one after it slept. Every 7 consecutive steps of a run take each pause once.
async fn pause_before(run_index: usize, step: usize) {
    const PAUSES_MS: [u64; 7] = [0, 30, 45, 50, 55, 70, 180];
    let ms = PAUSES_MS[(run_index + step * 3) % PAUSES_MS.len()];
    actix_web::rt::time::sleep(Duration::from_millis(ms)).await;
}

/// A failed run (re-run at once) and a passing run, whose deciding completions and
/// first events are redelivered after the tracker slept; a failed run last, as the
/// sentinel: once its re-run is answered, a second re-run decided before would be too.
async fn redeliveries_across_sleeps(subject: &Subject) -> [u64; 3] {
    let app = &subject.app;
    let [failed, passed, sentinel] = [unique(), unique(), unique()];
    for run in [failed, sentinel] {
        github_expects_rerun(&app.github, "org/repo", run).await;
    }
    let job = Job::new("org/repo", failed, 1);
    let (queued, completed) = (format!("q-{failed}"), format!("c-{failed}"));
    assert_eq!(subject.send(&job.queued(), &queued).await, 202);
    assert_eq!(
        subject.send(&job.completed("failure"), &completed).await,
        201
    );
    app.outcome_becomes("org/repo", failed, 1, "started").await;
    subject.quiet().await;
    let again = subject.send(&job.completed("failure"), &completed).await;
    assert_eq!(again, 201, "the deciding completion redelivered");
    subject.quiet().await;
    assert_eq!(subject.send(&job.queued(), &queued).await, 202);

    let job = Job::new("org/repo", passed, 1);
    let completed = format!("c-{passed}");
    assert_eq!(
        subject.send(&job.queued(), &format!("q-{passed}")).await,
        202
    );
    assert_eq!(
        subject.send(&job.completed("success"), &completed).await,
        200
    );
    subject.quiet().await;
    let again = subject.send(&job.completed("success"), &completed).await;
    assert_eq!(again, 200, "the passing completion redelivered");

    subject.quiet().await;
    let job = Job::new("org/repo", sentinel, 1);
    assert_eq!(
        subject.send(&job.queued(), &format!("q-{sentinel}")).await,
        202
    );
    let last = subject
        .send(&job.completed("failure"), &format!("c-{sentinel}"))
        .await;
    assert_eq!(last, 201);
    app.outcome_becomes("org/repo", sentinel, 1, "started")
        .await;
    [failed, passed, sentinel]
}

#[actix_web::test]
async fn a_decision_redelivered_after_its_tracker_slept_gets_the_same_answer_and_no_second_rerun() {
    let asleep = Subject::new(true, &[]).await;
    let awake = Subject::new(false, &[]).await;
    let (runs, _) = futures_util::future::join(
        redeliveries_across_sleeps(&asleep),
        redeliveries_across_sleeps(&awake),
    )
    .await;
    let [failed, passed, sentinel] = runs;
    let app = &asleep.app;
    assert_eq!(app.rerun_posts("org/repo", failed).await.len(), 1);
    assert_eq!(app.rerun_posts("org/repo", passed).await.len(), 0);
    assert_eq!(app.rerun_posts("org/repo", sentinel).await.len(), 1);
    assert_eq!(app.all_posts().await.len(), 2, "no other POST");
    same_answers(&asleep.answers().await, &awake.answers().await);
}

/// The line of a redelivery the store recognised.
const REDELIVERY: &str = "redelivery of an answered event\n";

/// Checks that a run that slept got the answers of the one that did not: the same
/// statuses, and the same lines, except that a redelivery the sleeper's store recognised
/// may be answered so where an awake tracker answered it from its cache as the event it
/// repeats (`job recorded`: a redelivery of an event that changes nothing is not looked up).
fn same_answers(asleep: &Answers, awake: &Answers) {
    let statuses = |answers: &Answers| {
        answers
            .iter()
            .map(|(status, _)| *status)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        statuses(asleep),
        statuses(awake),
        "asleep {asleep:?}\nawake {awake:?}"
    );
    for ((_, slept), (_, woke)) in asleep.iter().zip(awake) {
        assert!(
            slept == woke || slept == REDELIVERY,
            "asleep {asleep:?}\nawake {awake:?}"
        );
    }
}

/// A build fails (its re-run due in `RERUN_DELAY`), then a `needs:` job of the same
/// attempt shows up after the tracker slept: the re-run waits for it, then comes once.
async fn a_late_needs_job(subject: &Subject) -> u64 {
    let app = &subject.app;
    let run = unique();
    github_expects_rerun(&app.github, "org/repo", run).await;
    let build = Job::new("org/repo", run, 1);
    let deploy = Job::new("org/repo", run, 2);
    assert_eq!(
        subject.send(&build.queued(), &format!("bq-{run}")).await,
        202
    );
    let decided = subject
        .send(&build.completed("failure"), &format!("bc-{run}"))
        .await;
    assert_eq!(decided, 201);
    subject.quiet().await;
    assert!(
        app.rerun_posts("org/repo", run).await.is_empty(),
        "the re-run came before the late job was sent (RERUN_DELAY too short for this machine?)"
    );
    assert_eq!(
        subject.send(&deploy.queued(), &format!("dq-{run}")).await,
        202
    );
    assert_eq!(
        stored_rerun_due(&app.db_path, "org/repo", run),
        Some(None),
        "a re-run stays due while a job of the run is unfinished"
    );
    subject.quiet().await;
    let started = subject
        .send(&deploy.in_progress(), &format!("dp-{run}"))
        .await;
    assert_eq!(started, 202);
    subject.quiet().await;
    assert!(app.rerun_posts("org/repo", run).await.is_empty());
    let last = subject
        .send(&deploy.completed("skipped"), &format!("dc-{run}"))
        .await;
    assert_eq!(last, 201, "the run finished with a failed job");
    subject.quiet().await;
    app.outcome_becomes("org/repo", run, 1, "started").await;
    run
}

#[actix_web::test]
async fn a_needs_job_queued_after_the_tracker_slept_delays_the_rerun_as_it_would_awake() {
    let settings = [("RERUN_DELAY", "2"), ("OUTBOX_POLL", "0.1")];
    let asleep = Subject::new(true, &settings).await;
    let awake = Subject::new(false, &settings).await;
    let (run, reference) =
        futures_util::future::join(a_late_needs_job(&asleep), a_late_needs_job(&awake)).await;
    assert_eq!(asleep.app.rerun_posts("org/repo", run).await.len(), 1);
    assert_eq!(awake.app.rerun_posts("org/repo", reference).await.len(), 1);
    same_answers(&asleep.answers().await, &awake.answers().await);
}

#[actix_web::test]
async fn a_rerun_due_while_its_tracker_sleeps_is_performed_exactly_once_by_a_woken_tracker() {
    let app = spawn_app(&[SLEEPY, ("RERUN_DELAY", "1"), ("OUTBOX_POLL", "0.1")]).await;
    let registry = app.registry.clone().expect("in-process service");
    let [run, sentinel] = [unique(), unique()];
    for run in [run, sentinel] {
        github_expects_rerun(&app.github, "org/repo", run).await;
    }
    let job = Job::new("org/repo", run, 1);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    eventually("the tracker to sleep with its re-run scheduled", || async {
        let sleeps = metric(&app.address, "tracker_sleeps_total").await;
        (registry.is_empty() && sleeps >= 1.0).then_some(())
    })
    .await;
    // Asleep, and the re-run is still to come: nothing of the run is in memory.
    assert!(
        app.rerun_posts("org/repo", run).await.is_empty(),
        "the re-run came before the tracker slept (RERUN_DELAY too short for this machine?)"
    );
    assert_eq!(app.recorded_outcome("org/repo", run, 1), None);
    assert!(
        matches!(
            stored_rerun_due(&app.db_path, "org/repo", run),
            Some(Some(_))
        ),
        "the store holds the due re-run"
    );
    let starts = metric(&app.address, "tracker_starts_total").await;

    app.outcome_becomes("org/repo", run, 1, "started").await;
    assert!(
        metric(&app.address, "tracker_starts_total").await > starts,
        "no tracker was woken for the re-run"
    );
    // Another run's re-run, woken the same way: by then every poll since saw the first
    // one answered.
    let job = Job::new("org/repo", sentinel, 1);
    assert_eq!(app.send(&job.queued()).await.status, 202);
    assert_eq!(app.send(&job.completed("failure")).await.status, 201);
    app.outcome_becomes("org/repo", sentinel, 1, "started")
        .await;
    assert_eq!(app.rerun_posts("org/repo", run).await.len(), 1);
    assert_eq!(app.rerun_posts("org/repo", sentinel).await.len(), 1);
    assert_eq!(app.all_posts().await.len(), 2);
    eventually("the trackers to sleep again", || async {
        registry.is_empty().then_some(())
    })
    .await;
}

/// The run `index` of a load test: three jobs queued, then completed (the second failed
/// if `fails`), the deciding completion redelivered, each event after a pause, each sent
/// to `addresses[k % len]` for its `k`th event; checks every answer.
async fn one_run_under_load(
    client: &awc::Client,
    addresses: &[String],
    index: usize,
    (repo, run, fails): (&str, u64, bool),
) {
    let jobs: Vec<Job> = (1..=3).map(|id| Job::new(repo, run, id)).collect();
    let mut step = 0;
    let mut send = |payload: Value, delivery: String| {
        step += 1;
        let address = addresses[step % addresses.len()].clone();
        let this_step = step;
        async move {
            pause_before(index, this_step).await;
            let answer = send_as_to(client, &address, &payload, &delivery).await;
            (answer.status, answer.body)
        }
    };
    for job in &jobs {
        let (status, body) = send(job.queued(), format!("q-{run}-{}", job.job_id)).await;
        assert_eq!(
            status, 202,
            "{repo}#{run} job {} queued: {body}",
            job.job_id
        );
    }
    for (position, job) in jobs.iter().enumerate() {
        let conclusion = if fails && position == 1 {
            "failure"
        } else {
            "success"
        };
        let delivery = format!("c-{run}-{}", job.job_id);
        let expected = match (position == 2, fails) {
            (false, _) => 202,
            (true, true) => 201,
            (true, false) => 200,
        };
        let (status, body) = send(job.completed(conclusion), delivery.clone()).await;
        assert_eq!(
            status, expected,
            "{repo}#{run} job {} {conclusion}: {body}",
            job.job_id
        );
        if position == 2 {
            let (again, body) = send(job.completed(conclusion), delivery).await;
            assert_eq!(
                again, expected,
                "{repo}#{run}'s last completion redelivered: {body}"
            );
        }
    }
}

/// `count` runs in many repositories, every fourth failing.
fn many_runs(count: usize) -> Vec<(String, u64, bool)> {
    (0..count)
        .map(|i| (format!("org{}/repo{}", i % 7, i % 11), unique(), i % 4 == 0))
        .collect()
}

/// Checks that every failed run of `runs` was re-run exactly once and no other was.
fn exactly_one_rerun_per_failed_run(runs: &[(String, u64, bool)], posts: &HashMap<String, usize>) {
    for (repo, run, fails) in runs {
        let got = posts.get(&run_path(repo, *run)).copied().unwrap_or(0);
        assert_eq!(
            got,
            usize::from(*fails),
            "{repo}#{run} was re-run {got} times"
        );
    }
    let failed = runs.iter().filter(|(_, _, fails)| *fails).count();
    assert_eq!(posts.values().sum::<usize>(), failed, "{posts:?}");
}

#[actix_web::test]
async fn two_hundred_runs_whose_trackers_sleep_between_their_events_get_exactly_their_answers_and_reruns()
 {
    let app = spawn_app(&[SLEEPY, ("OUTBOX_POLL", "0.1")]).await;
    github_reruns_any_run(&app.github).await;
    let runs = many_runs(200);
    let client = awc::Client::default();
    let addresses = [app.address.clone()];
    let sends = runs.iter().enumerate().map(|(index, (repo, run, fails))| {
        one_run_under_load(&client, &addresses, index, (repo, *run, *fails))
    });
    futures_util::future::join_all(sends).await;

    for (repo, run, fails) in &runs {
        if *fails {
            app.outcome_becomes(repo, *run, 1, "started").await;
        }
    }
    let registry = app.registry.clone().expect("in-process service");
    eventually("every tracker to sleep", || async {
        registry.is_empty().then_some(())
    })
    .await;
    exactly_one_rerun_per_failed_run(&runs, &reruns_per_run(&app.github).await);
    let sleeps = metric(&app.address, "tracker_sleeps_total").await;
    let starts = metric(&app.address, "tracker_starts_total").await;
    // Every run pauses at least once for much longer than TRACKER_IDLE, and sleeps at the end.
    assert!(sleeps >= 400.0, "only {sleeps} sleeps for 200 runs");
    assert!(
        starts >= 400.0,
        "only {starts} tracker starts for 200 runs: events rarely met a sleeping run"
    );
    assert_eq!(starts, sleeps, "every tracker started went to sleep");
}

#[actix_web::test]
#[ignore = "needs PostgreSQL: TEST_DATABASE_URL, with --include-ignored"]
async fn two_instances_on_one_database_whose_trackers_sleep_between_events_rerun_each_failed_run_once()
 {
    let test = "two_instances_on_one_database_whose_trackers_sleep_between_events_rerun_each_failed_run_once";
    let database = fresh_database(test).await;
    let github = MockServer::start().await;
    github_reruns_any_run(&github).await;
    // Re-runs are due after the trackers slept: the instances' outbox pollers race to wake them.
    let settings = [
        ("DATABASE_URL", database.url.as_str()),
        SLEEPY,
        ("RERUN_DELAY", "0.5"),
        ("OUTBOX_POLL", "0.1"),
        ("LOG_LEVEL", "info"),
    ];
    let first = Service::start(&github, Path::new("unused"), &settings);
    let second = Service::start(&github, Path::new("unused"), &settings);
    let addresses = [first.port, second.port].map(|port| format!("http://127.0.0.1:{port}"));
    let client = awc::Client::default();
    let runs = many_runs(100);
    let sends = runs.iter().enumerate().map(|(index, (repo, run, fails))| {
        one_run_under_load(&client, &addresses, index, (repo, *run, *fails))
    });
    futures_util::future::join_all(sends).await;

    let failed = runs.iter().filter(|(_, _, fails)| *fails).count();
    eventually("every failed run's re-run to be recorded", || async {
        (database.outcomes().await.len() >= failed).then_some(())
    })
    .await;
    // A failed run after all the others, its re-run woken the same way: once it is
    // answered, both pollers looked many times at the answered ones.
    let sentinel = [("org/sentinel".to_owned(), unique(), true)];
    one_run_under_load(
        &client,
        &addresses,
        0,
        ("org/sentinel", sentinel[0].1, true),
    )
    .await;
    eventually("the sentinel's re-run to be recorded", || async {
        (database.outcomes().await.len() > failed).then_some(())
    })
    .await;
    let all: Vec<_> = runs.iter().chain(&sentinel).cloned().collect();
    exactly_one_rerun_per_failed_run(&all, &reruns_per_run(&github).await);
    let outcomes = database.outcomes().await;
    assert!(
        outcomes
            .iter()
            .all(|(_, _, _, outcome)| outcome == "started"),
        "{outcomes:?}"
    );
    let mut sleeps = 0.0;
    for address in &addresses {
        eventually("every tracker of the instance to sleep", || async {
            (metric(address, "trackers_awake").await == 0.0).then_some(())
        })
        .await;
        sleeps += metric(address, "tracker_sleeps_total").await;
    }
    assert!(sleeps >= 200.0, "only {sleeps} sleeps for 100 runs");
    let logs = first.kill() + &second.kill();
    assert!(!logs.contains("panicked"), "{logs}");
    database.drop_now().await;
}

/// Three runs on the service at `address`: one waiting for its job, one passed, one failed
/// and re-run (GitHub's fake `github` expects it); waits for the re-run's outcome in `db`.
/// Returns the waiting run's job.
async fn three_stored_runs(address: &str, github: &MockServer, db: &Path) -> Job {
    let client = awc::Client::default();
    let [waiting, passed, failed] = [unique(), unique(), unique()];
    github_expects_rerun(github, "org/repo", failed).await;
    let waiting = Job::new("org/repo", waiting, 1);
    let answer = send_to(&client, address, &waiting.queued()).await;
    assert_eq!(answer.status, 202);
    let job = Job::new("org/repo", passed, 1);
    assert_eq!(send_to(&client, address, &job.queued()).await.status, 202);
    let answer = send_to(&client, address, &job.completed("success")).await;
    assert_eq!(answer.status, 200);
    let job = Job::new("org/repo", failed, 1);
    assert_eq!(send_to(&client, address, &job.queued()).await.status, 202);
    let answer = send_to(&client, address, &job.completed("failure")).await;
    assert_eq!(answer.status, 201);
    eventually("the failed run's re-run to start", || async {
        (crate::helpers::recorded_outcome(db, "org/repo", failed, 1).as_deref() == Some("started"))
            .then_some(())
    })
    .await;
    waiting
}

/// Waits until every tracker of the service at `address` slept and it counts `runs` stored.
async fn all_asleep(address: &str, runs: f64) {
    eventually("every tracker to sleep", || async {
        let awake = metric(address, "trackers_awake").await;
        let tracked = metric(address, "runs_tracked").await;
        (awake == 0.0 && tracked == runs).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn trackers_awake_fall_to_zero_while_runs_tracked_counts_the_stored_runs_from_start_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db.sqlite");
    let github = MockServer::start().await;
    let service = Service::start(&github, &db, &[SLEEPY, ("SUMMARY_EVERY", "0.1")]);
    let address = format!("http://127.0.0.1:{}", service.port);
    let waiting = three_stored_runs(&address, &github, &db).await;
    all_asleep(&address, 3.0).await;
    assert_eq!(
        metric(&address, "trackers").await,
        0.0,
        "the alias says the same"
    );
    let sleeps = metric(&address, "tracker_sleeps_total").await;
    let starts = metric(&address, "tracker_starts_total").await;
    assert!(
        sleeps >= 3.0 && starts >= 3.0,
        "{sleeps} sleeps, {starts} starts"
    );
    // An event of a sleeping run wakes it: one start more, and it sleeps again.
    let client = awc::Client::default();
    let answer = send_to(&client, &address, &waiting.in_progress()).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(metric(&address, "tracker_starts_total").await, starts + 1.0);
    eventually("the woken tracker to sleep again", || async {
        (metric(&address, "tracker_sleeps_total").await == sleeps + 1.0).then_some(())
    })
    .await;
    all_asleep(&address, 3.0).await;
    let (status, logs) = service.terminate();
    assert!(status.success(), "{status:?}\n{logs}");

    // Restarted with no summary due for ten minutes: the gauge is set at start-up.
    let service = Service::start(&github, &db, &[SLEEPY, ("SUMMARY_EVERY", "600")]);
    let address = format!("http://127.0.0.1:{}", service.port);
    all_asleep(&address, 3.0).await;
    assert_eq!(metric(&address, "tracker_starts_total").await, 0.0);
    let answer = send_to(&client, &address, &waiting.in_progress()).await;
    assert_eq!(
        answer.status, 202,
        "a sleeping run is read back after a restart: {}",
        answer.body
    );
    assert_eq!(metric(&address, "tracker_starts_total").await, 1.0);
    service.kill();
}

#[actix_web::test]
async fn the_mailboxes_line_says_how_many_trackers_are_awake_and_how_many_runs_are_tracked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db.sqlite");
    let github = MockServer::start().await;
    let service = Service::start(&github, &db, &[SLEEPY, ("SUMMARY_EVERY", "0.1")]);
    let address = format!("http://127.0.0.1:{}", service.port);
    three_stored_runs(&address, &github, &db).await;
    let summary = eventually("a summary of the three runs asleep", || async {
        service
            .logs()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|line| {
                line["msg"] == "mailboxes"
                    && line["trackers_awake"] == 0
                    && line["runs_tracked"] == 3
            })
    })
    .await;
    assert!(
        summary.get("trackers").is_none(),
        "the old field is still there: {summary}"
    );
    assert_eq!(summary["tracker_messages_waiting"], 0, "{summary}");
    service.kill();
}
