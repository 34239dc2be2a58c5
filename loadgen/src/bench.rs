//! The benchmark's plan: which server each part starts, which load it sends, what it
//! checks and records. Every part starts a fresh server, so parts do not see each
//! other's runs. The evidence part is in `bench/evidence.rs`.

mod evidence;

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use job_rerunner::settings::Secret;

use crate::child::{Rss, ServerProcess, wait_until_answering};
use crate::cli::{Mode, Options};
use crate::engine::{self, Load};
use crate::fake_github::FakeGitHub;
use crate::metrics::{Buckets, STORE_SECONDS, Snapshot, WEBHOOK_SECONDS, wait_until};
use crate::payload::{Action, Payloads};
use crate::report::{
    Asleep, Awake, Config, Reactivations, RerunCheck, Scale, Share, StoreSize, Summary, WithinBound,
};
use crate::scratch::Scratch;
use crate::servers::Floor;
use crate::stats::PhaseResult;
use crate::workload::{Cycle, Fill, Hot, Lifecycle, RunIds, Workload};

/// The webhook secret the servers are started with.
const SIGN_KEY: &str = "loadgen-webhook-secret";
/// How long the lifecycle phase waits for the re-runs to reach the fake GitHub.
const RERUN_DEADLINE: Duration = Duration::from_secs(30);
/// How long a server may take to answer `GET /` once it announced its port.
const ANSWER_DEADLINE: Duration = Duration::from_secs(30);
/// Paced load before the reactivation @ 50% phase is measured, beyond `TRACKER_IDLE`:
/// the service looks whether to give memory back every second.
const PACED_SETTLE: Duration = Duration::from_secs(3);
/// How long RSS must not fall before it counts as settled once every tracker slept.
const RSS_QUIET: Duration = Duration::from_secs(3);
/// The longest wait for RSS to settle.
const RSS_DEADLINE: Duration = Duration::from_secs(30);
/// How long a restarted service may take to count the runs in its store.
const COUNT_DEADLINE: Duration = Duration::from_secs(30);
/// `TRACKER_IDLE` of the service whose trackers stay awake: longer than the whole part.
const AWAKE_IDLE_SECS: f64 = 3600.0;
/// How long every tracker may take to sleep once the load stopped, beyond ten times
/// `TRACKER_IDLE`.
const SLEEP_DEADLINE: Duration = Duration::from_secs(60);

/// The floors, with the mode that asks for each and its phase name, in the order they
/// run (right after `noop`, which they are compared with).
const FLOORS: [(Floor, Mode, &str); 2] = [
    (Floor::Hmac, Mode::NoopHmac, "noop+hmac"),
    (Floor::HmacParse, Mode::NoopHmacParse, "noop+hmac+parse"),
];

/// Run-id ranges, one per part, so that logs and the fake GitHub never mix them up.
const NOOP_RUNS: u64 = 1_000_000_000;
const HOT_RUNS: u64 = 2_000_000_000;
const QUEUED_RUNS: u64 = 3_000_000_000;
const LIFECYCLE_RUNS: u64 = 4_000_000_000;
const FLAT_RUNS: u64 = 5_000_000_000;
const LIVE_RUNS: u64 = 6_000_000_000;

/// The benchmark's state while it runs.
pub struct Bench {
    opts: Options,
    runtime: tokio::runtime::Runtime,
    github: FakeGitHub,
    payloads: Arc<Payloads>,
    summary: Summary,
    salt: u64,
}

impl Bench {
    /// Prepares the client runtime, the fake GitHub and the payloads.
    pub fn new(opts: Options) -> io::Result<Self> {
        let runtime = match opts.client_threads {
            0 => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            threads => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build()?,
        };
        let payloads = Arc::new(Payloads::new(opts.repos, Secret::new(SIGN_KEY)));
        let mut body = Vec::new();
        let sample = RunIds::new(HOT_RUNS, opts.repos, 1).event(0, 0, Action::InProgress);
        payloads.body(&sample, 0, &mut body);
        let summary = Summary {
            config: Config {
                cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
                connections: opts.connections,
                client_runtime: match opts.client_threads {
                    0 => "current-thread".to_owned(),
                    n => format!("multi-thread ({n})"),
                },
                server_workers: opts
                    .workers
                    .map_or_else(|| "default (cores)".to_owned(), |w| w.to_string()),
                phase_seconds: opts.duration.as_secs_f64(),
                body_bytes: body.len(),
            },
            ..Summary::default()
        };
        Ok(Self {
            github: FakeGitHub::start()?,
            runtime,
            payloads,
            summary,
            salt: 0,
            opts,
        })
    }

    /// Runs every part asked for and returns the summary.
    pub fn run(mut self) -> io::Result<Summary> {
        if self.opts.runs(Mode::Noop) {
            self.noop()?;
        }
        for (floor, mode, name) in FLOORS {
            if self.opts.runs(mode) {
                self.floor(floor, name)?;
            }
        }
        if self.opts.runs(Mode::Hot) || self.opts.runs(Mode::Latency) {
            self.hot()?;
        }
        if self.opts.runs(Mode::Queued) {
            self.queued()?;
        }
        if self.opts.runs(Mode::Lifecycle) {
            self.lifecycle()?;
        }
        if self.opts.runs(Mode::Evidence) {
            self.evidence()?;
        }
        if self.opts.runs(Mode::Scale) {
            self.scale()?;
        }
        let live = self.live_name();
        let summary = &mut self.summary;
        for (_, _, name) in FLOORS {
            summary.add_ratio(name, "noop");
        }
        summary.add_ratio("hot", "noop");
        summary.add_ratio("queued", "hot");
        summary.add_ratio("lifecycle", "hot");
        summary.add_ratio(&live, "hot, 10 live runs");
        if let Some(note) = summary.paced_p99_note() {
            summary.notes.push(note);
        }
        Ok(self.summary)
    }

    fn live_name(&self) -> String {
        format!("hot, {} live runs", self.opts.live_runs)
    }

    /// The no-op server with the hot payloads: the ceiling of HTTP + client on this box.
    fn noop(&mut self) -> io::Result<()> {
        let server = ServerProcess::start("serve-noop", &self.worker_env())?;
        self.measure("noop", server.addr(), self.noop_hot(), true)?;
        server.stop();
        Ok(())
    }

    /// A floor's server with exactly the no-op's payloads, so that the two rates differ
    /// only by the floor's signature check (and parse): the floor of any service that
    /// must do that work, on this box.
    fn floor(&mut self, floor: Floor, name: &str) -> io::Result<()> {
        let server = ServerProcess::start(floor.subcommand(), &self.settings_env())?;
        self.measure(name, server.addr(), self.noop_hot(), true)?;
        server.stop();
        Ok(())
    }

    /// The hot payloads the no-op server and the floors get (runs the service never sees).
    fn noop_hot(&self) -> Arc<Hot> {
        Arc::new(Hot::new(
            RunIds::new(NOOP_RUNS, self.opts.repos, 1),
            self.opts.hot_runs,
        ))
    }

    /// Hot: runs exist, `in_progress` changes nothing; then the same at half that rate.
    fn hot(&mut self) -> io::Result<()> {
        let scratch = Scratch::new()?;
        let server = self.start_service(&scratch)?;
        let ids = RunIds::new(HOT_RUNS, self.opts.repos, 1);
        self.setup("hot", server.addr(), Fill::new(ids, self.opts.hot_runs, 1))?;
        let hot = Arc::new(Hot::new(ids, self.opts.hot_runs));
        let max = self.measure("hot", server.addr(), Arc::clone(&hot), true)?;
        if self.opts.runs(Mode::Latency) {
            let rate = max.rate / 2.0;
            let result = self.load(server.addr(), hot, self.opts.duration, Some(rate))?;
            let name = format!("hot @ 50% ({rate:.0} req/s)");
            self.record(result.with_name(&name));
        }
        server.stop();
        Ok(())
    }

    /// Queued: each request a new run, each committed before it is answered.
    fn queued(&mut self) -> io::Result<()> {
        let scratch = Scratch::new()?;
        let server = self.start_service(&scratch)?;
        let queued = Arc::new(Cycle::queued(RunIds::new(QUEUED_RUNS, self.opts.repos, 1)));
        self.measure("queued", server.addr(), queued, true)?;
        server.stop();
        Ok(())
    }

    /// Lifecycle: whole runs; then the re-runs GitHub received are checked.
    fn lifecycle(&mut self) -> io::Result<()> {
        let scratch = Scratch::new()?;
        let server = self.start_service(&scratch)?;
        self.github.reset();
        let life = Arc::new(Lifecycle::new(
            RunIds::new(LIFECYCLE_RUNS, self.opts.repos, self.opts.jobs),
            self.opts.jobs,
            self.opts.lifecycle_runs,
        ));
        // No warm-up: the check below needs every run the service saw to be complete.
        self.measure("lifecycle", server.addr(), Arc::clone(&life), false)?;
        let check = self.check_reruns(&life, |_| true);
        eprintln!(
            "loadgen: lifecycle re-run check {}",
            if check.pass { "passed" } else { "FAILED" }
        );
        self.summary.rerun_check = Some(check);
        server.stop();
        Ok(())
    }

    /// Waits until the fake GitHub got exactly one re-run POST per finished run whose
    /// failed job (by its GitHub id) is `due` a re-run, and none for any other run, or
    /// the deadline passes; polls, never sleeps blindly.
    fn check_reruns(&self, life: &Lifecycle, due: impl Fn(u64) -> bool) -> RerunCheck {
        let ids = life.ids();
        let finished = life.finished_runs();
        let expected: HashSet<String> = finished
            .iter()
            .filter(|run| life.failed_job_id(**run).is_some_and(&due))
            .map(|run| {
                let event = ids.event(*run, 0, Action::Queued);
                FakeGitHub::rerun_path(&self.payloads.full_name(event.repo), event.run_id)
            })
            .collect();
        let started = Instant::now();
        loop {
            let posts = self.github.posts();
            let mut check = RerunCheck {
                finished_runs: finished.len(),
                failed_runs: expected.len(),
                posts: posts.values().map(|n| u64::from(*n)).sum(),
                missing: expected.iter().filter(|p| !posts.contains_key(*p)).count(),
                duplicated: posts.values().filter(|n| **n > 1).count(),
                stray: posts.keys().filter(|p| !expected.contains(*p)).count(),
                waited_ms: started.elapsed().as_secs_f64() * 1000.0,
                pass: false,
            };
            check.pass = check.missing == 0 && check.duplicated == 0 && check.stray == 0;
            if check.pass || started.elapsed() > RERUN_DEADLINE {
                return check;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Scale: hot with 10 live runs; then many live runs on a service whose trackers
    /// stay awake (RSS, hot over them), and on one whose trackers sleep (RSS once they all
    /// slept, events for sleeping runs at full speed and at half of it, the file's size);
    /// then start-up on that file.
    fn scale(&mut self) -> io::Result<()> {
        {
            let scratch = Scratch::new()?;
            let server = self.start_service(&scratch)?;
            let ids = RunIds::new(FLAT_RUNS, self.opts.repos, 1);
            self.setup("10 live runs", server.addr(), Fill::new(ids, 10, 1))?;
            let hot = Arc::new(Hot::new(ids, 10));
            self.measure("hot, 10 live runs", server.addr(), hot, true)?;
            server.stop();
        }
        let (runs, jobs) = (self.opts.live_runs, self.opts.live_jobs);
        let ids = RunIds::new(LIVE_RUNS, self.opts.repos, jobs);
        let awake = if self.opts.fills_awake() {
            Some(self.scale_awake(ids)?)
        } else {
            self.summary.notes.push(format!(
                "scale: no awake fill for {runs} runs (--awake-max-runs); no RSS awake, no hot over them"
            ));
            None
        };
        let scratch = Scratch::new()?;
        let idle = self.opts.tracker_idle.as_secs_f64();
        let sleepy = [("TRACKER_IDLE", idle.to_string())];
        let spawned = Instant::now();
        let server = self.start_service_with(&scratch, &sleepy)?;
        let startup_empty = spawned.elapsed();
        let rss_idle = server.rss().unwrap_or_default();
        eprintln!(
            "loadgen: creating {runs} live runs x {jobs} jobs (queued events, TRACKER_IDLE {idle} s) ..."
        );
        let fill = Arc::new(Fill::new(ids, runs, jobs));
        let result = self.load(server.addr(), fill, Duration::ZERO, None)?;
        let name = format!("create {runs} runs x {jobs} jobs, TRACKER_IDLE {idle} s");
        self.record(result.with_name(&name));
        let mut asleep = self.wait_asleep(&server, "after the fill", rss_idle)?;
        asleep.tracker_idle_s = idle;
        let store = match self.opts.database_url {
            Some(_) => None,
            None => {
                let (db_bytes, wal_bytes) =
                    crate::database::sqlite_bytes(&crate::database::sqlite_file(scratch.path()))?;
                Some(StoreSize {
                    db_bytes,
                    wal_bytes,
                    bytes_per_run: (db_bytes + wal_bytes) as f64 / runs as f64,
                    db_bytes_per_run: db_bytes as f64 / runs as f64,
                })
            }
        };
        let (reactivation, paced_p99) = self.reactivations(&server, ids)?;
        let again = self.wait_asleep(&server, "after the reactivations", rss_idle)?;
        asleep.rss_after_reactivation_mib = Some(again.rss_mib);
        server.stop();
        let spawned = Instant::now();
        let restarted = self.start_service_with(&scratch, &sleepy)?;
        let startup = spawned.elapsed();
        let rss_restarted = restarted.rss_kib().unwrap_or(0);
        // The summary loop counts the runs right after start, not before `GET /` answers.
        let counted = wait_until(restarted.addr(), COUNT_DEADLINE, |s| {
            s.runs_tracked.is_some_and(|n| n >= runs)
        })?;
        let runs_tracked_after_restart = counted.snapshot.runs_tracked;
        restarted.stop();
        let (awake, stop_ms, rss_idle_first) = match awake {
            Some((awake, stop, idle_kib)) => (Some(awake), Some(ms(stop)), idle_kib),
            None => (None, None, rss_idle.total_kib),
        };
        let scale = Scale {
            live_runs: runs,
            live_jobs: jobs,
            rss_idle_mib: mib(rss_idle_first),
            awake,
            asleep,
            reactivation,
            store,
            stop_ms,
            startup_ms: ms(startup),
            startup_empty_ms: ms(startup_empty),
            rss_restarted_mib: mib(rss_restarted),
            runs_tracked_after_restart,
        };
        self.summary.targets = scale.targets(paced_p99);
        self.summary.scale = Some(scale);
        Ok(())
    }

    /// The awake half of the scale part: a fresh service whose trackers never sleep in
    /// the part's time, its idle RSS, the fill, its RSS, hot over every live run, its
    /// SIGTERM stop. Returns the memory figures, the stop's duration and the idle RSS.
    fn scale_awake(&mut self, ids: RunIds) -> io::Result<(Awake, Duration, u64)> {
        let (runs, jobs) = (self.opts.live_runs, self.opts.live_jobs);
        let scratch = Scratch::new()?;
        let awake_env = [("TRACKER_IDLE", AWAKE_IDLE_SECS.to_string())];
        let server = self.start_service_with(&scratch, &awake_env)?;
        let rss_idle = server.rss_kib().unwrap_or(0);
        eprintln!("loadgen: creating {runs} live runs x {jobs} jobs (queued events) ...");
        let fill = Arc::new(Fill::new(ids, runs, jobs));
        let result = self.load(server.addr(), fill, Duration::ZERO, None)?;
        self.record(result.with_name(&format!("create {runs} runs x {jobs} jobs")));
        let rss = server.rss_kib().unwrap_or(0);
        let hot = Arc::new(Hot::new(ids, runs));
        let name = self.live_name();
        self.measure(&name, server.addr(), hot, true)?;
        let stop = server.stop();
        let awake = Awake {
            tracker_idle_s: AWAKE_IDLE_SECS,
            rss_mib: mib(rss),
            bytes_per_run: per_run(rss, rss_idle, runs),
        };
        Ok((awake, stop, rss_idle))
    }

    /// Waits (polling `/metrics`, with a deadline) until every tracker of `server` slept,
    /// then reads its RSS; a deadline passed is noted, and the RSS read all the same.
    fn wait_asleep(&mut self, server: &ServerProcess, when: &str, idle: Rss) -> io::Result<Asleep> {
        let deadline = SLEEP_DEADLINE + self.opts.tracker_idle * 10;
        let wait = crate::metrics::wait_until_asleep(server.addr(), deadline)?;
        let at_zero = server.rss().unwrap_or_default();
        let (rss, settled) = settle_rss(server, at_zero);
        if !wait.held {
            self.summary.notes.push(format!(
                "scale: trackers_awake was {:?} {when}, still not 0 after {:.1} s",
                wait.snapshot.awake,
                wait.waited.as_secs_f64()
            ));
        }
        eprintln!(
            "loadgen: {when}: {:?} after {:.0} ms, RSS {:.1} MiB, settled at {:.1} MiB {:.0} ms later (pid {})",
            wait.snapshot,
            ms(wait.waited),
            mib(at_zero.total_kib),
            mib(rss.total_kib),
            ms(settled),
            server.pid()
        );
        Ok(Asleep {
            tracker_idle_s: self.opts.tracker_idle.as_secs_f64(),
            rss_idle_mib: mib(idle.total_kib),
            rss_at_zero_mib: mib(at_zero.total_kib),
            settled_ms: ms(settled),
            rss_mib: mib(rss.total_kib),
            rss_anon_mib: mib(rss.anon_kib),
            rss_file_mib: mib(rss.file_kib),
            rss_shmem_mib: mib(rss.shmem_kib),
            bytes_per_run: per_run(rss.total_kib, idle.total_kib, self.opts.live_runs),
            waited_ms: ms(wait.waited),
            trackers_awake: wait.snapshot.awake,
            rss_after_reactivation_mib: None,
        })
    }

    /// Events for sleeping runs (each request a different run, round robin over every live
    /// run): at full speed, then paced at half of that rate as hot @ 50% is. Each phase's
    /// share of requests that really started a tracker comes from `tracker_starts_total`
    /// before and after it. Returns the shares and the paced phase's p99.
    fn reactivations(
        &mut self,
        server: &ServerProcess,
        ids: RunIds,
    ) -> io::Result<(Reactivations, Option<f64>)> {
        let addr = server.addr();
        let react = Arc::new(Cycle::reactivations(
            ids,
            self.opts.live_runs,
            self.opts.live_jobs,
        ));
        if !self.opts.warmup.is_zero() {
            self.load(addr, Arc::clone(&react), self.opts.warmup, None)?;
        }
        let before = Snapshot::read(addr)?;
        let full = self.load(addr, Arc::clone(&react), self.opts.duration, None)?;
        let middle = Snapshot::read(addr)?;
        let rate = full.rate / 2.0;
        let full_share = Share::new(
            full.requests,
            middle.starts_since(&before),
            middle.sleeps_since(&before),
        );
        self.record(full.with_name("reactivation"));
        // Half the rate halves the trackers awake: those woken at full speed sleep and
        // the service gives their memory back (a trim) in the first seconds. Paced
        // unmeasured through that first, so the figure is half load's, not the switch's.
        let settle = self.opts.tracker_idle + PACED_SETTLE;
        self.load(addr, Arc::clone(&react), settle, Some(rate))?;
        let settled = Snapshot::read(addr)?;
        let histograms = |addr| -> io::Result<(Buckets, Buckets)> {
            Ok((
                Buckets::read(addr, WEBHOOK_SECONDS)?,
                Buckets::read(addr, STORE_SECONDS)?,
            ))
        };
        let (webhook_before, store_before) = histograms(addr)?;
        let paced = self.load(addr, Arc::clone(&react), self.opts.duration, Some(rate))?;
        let after = Snapshot::read(addr)?;
        let (webhook_after, store_after) = histograms(addr)?;
        let paced_in_service = [0.001, 0.0025, 0.005, 0.01]
            .into_iter()
            .map(|le| WithinBound {
                le_ms: le * 1000.0,
                webhook_percent: webhook_after.percent_within(&webhook_before, le),
                store_percent: store_after.percent_within(&store_before, le),
            })
            .collect();
        let paced_share = Share::new(
            paced.requests,
            after.starts_since(&settled),
            after.sleeps_since(&settled),
        );
        let p99 = paced.p99_ms;
        self.record(paced.with_name(&format!("reactivation @ 50% ({rate:.0} req/s)")));
        if react.sent() > self.opts.live_runs {
            eprintln!(
                "loadgen: the reactivations went round the {} runs {:.1} times",
                self.opts.live_runs,
                react.sent() as f64 / self.opts.live_runs as f64
            );
        }
        Ok((
            Reactivations {
                full: full_share,
                paced: paced_share,
                paced_in_service,
            },
            Some(p99),
        ))
    }

    /// `WORKERS` for the servers, when the flag sets it.
    fn worker_env(&self) -> Vec<(String, String)> {
        self.opts
            .workers
            .map(|w| vec![("WORKERS".to_owned(), w.to_string())])
            .unwrap_or_default()
    }

    /// Starts the real service on `scratch`'s database and waits until `GET /` is 200.
    fn start_service(&self, scratch: &Scratch) -> io::Result<ServerProcess> {
        self.start_service_with(scratch, &[])
    }

    /// [`Self::start_service`] with `extra` variables set too.
    fn start_service_with(
        &self,
        scratch: &Scratch,
        extra: &[(&str, String)],
    ) -> io::Result<ServerProcess> {
        let mut env = self.service_env(scratch.path())?;
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let server = ServerProcess::start("serve-service", &env)?;
        wait_until_answering(server.addr(), ANSWER_DEADLINE)
            .map_err(|err| io::Error::other(format!("{err}; output: {}", server.output())))?;
        Ok(server)
    }

    /// The service's environment: [`Self::settings_env`] and its own database.
    fn service_env(&self, dir: &Path) -> io::Result<Vec<(String, String)>> {
        let database = crate::database::url_for(self.opts.database_url.as_deref(), dir)?;
        let mut env = self.settings_env();
        env.push(("DATABASE_URL".to_owned(), database));
        Ok(env)
    }

    /// The service's environment but its database: no delays, quiet logs, our fake
    /// GitHub, the webhook secret. The floors get exactly this, so their key, filters and
    /// workers are the service's; they open no database, and creating one (a PostgreSQL
    /// database with `--database-url`) for them would be waste.
    fn settings_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("GITHUB_SIGN_KEY", SIGN_KEY.to_owned()),
            ("GITHUB_TOKEN", "loadgen-token".to_owned()),
            ("GITHUB_API_URL", self.github.url.clone()),
            ("HOST", "127.0.0.1".to_owned()),
            ("PORT", "0".to_owned()),
            ("RERUN_DELAY", "0".to_owned()),
            ("GITHUB_MIN_INTERVAL", "0".to_owned()),
            ("LOG_FORMAT", "json".to_owned()),
            ("LOG_LEVEL", "warning".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(self.worker_env());
        env
    }

    /// Sends a set-up load (not reported unless it went wrong).
    fn setup<W: Workload + 'static>(
        &mut self,
        what: &str,
        addr: SocketAddr,
        workload: W,
    ) -> io::Result<()> {
        let result = self.load(addr, Arc::new(workload), Duration::ZERO, None)?;
        if result.errors > 0 {
            self.summary.notes.push(format!(
                "set-up of {what}: {} of {} requests failed: {:?}",
                result.errors, result.requests, result.error_kinds
            ));
        }
        Ok(())
    }

    /// Warms up (optionally), then measures `workload` closed-loop for the phase duration.
    fn measure<W: Workload + 'static>(
        &mut self,
        name: &str,
        addr: SocketAddr,
        workload: Arc<W>,
        warm_up: bool,
    ) -> io::Result<PhaseResult> {
        if warm_up && !self.opts.warmup.is_zero() {
            self.load(addr, Arc::clone(&workload), self.opts.warmup, None)?;
        }
        let result = self
            .load(addr, workload, self.opts.duration, None)?
            .with_name(name);
        self.record(result.clone());
        Ok(result)
    }

    /// Runs one load on the client runtime.
    fn load<W: Workload + 'static>(
        &mut self,
        addr: SocketAddr,
        workload: Arc<W>,
        duration: Duration,
        pace: Option<f64>,
    ) -> io::Result<PhaseResult> {
        self.salt += 1;
        let load = Load {
            addr,
            connections: self.opts.connections,
            duration,
            pace,
            salt: self.salt,
        };
        let payloads = Arc::clone(&self.payloads);
        let (tally, elapsed) = self
            .runtime
            .block_on(engine::run(load, workload, payloads))?;
        Ok(tally.result("", elapsed))
    }

    fn record(&mut self, result: PhaseResult) {
        eprintln!(
            "loadgen: {:<28} {:>8} requests {:>9.0} req/s  p99 {:>7.2} ms  errors {}",
            result.name, result.requests, result.rate, result.p99_ms, result.errors
        );
        self.summary.phases.push(result);
    }
}

/// KiB as MiB.
fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A duration in milliseconds.
fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Bytes of RSS per run above the idle RSS (both KiB).
fn per_run(rss_kib: u64, idle_kib: u64, runs: u64) -> f64 {
    (rss_kib.saturating_sub(idle_kib) * 1024) as f64 / runs.max(1) as f64
}

/// Polls `server`'s RSS (every 100 ms) until it has not fallen for [`RSS_QUIET`] or
/// [`RSS_DEADLINE`] passed: the service gives freed memory back a little after its
/// trackers slept. Returns the last reading and how long the wait took.
fn settle_rss(server: &ServerProcess, first: Rss) -> (Rss, Duration) {
    let started = Instant::now();
    let (mut last, mut lowest_since) = (first, Instant::now());
    while lowest_since.elapsed() < RSS_QUIET && started.elapsed() < RSS_DEADLINE {
        std::thread::sleep(Duration::from_millis(100));
        let Some(now) = server.rss() else { break };
        if now.total_kib < last.total_kib {
            lowest_since = Instant::now();
        }
        last = now;
    }
    (last, started.elapsed())
}
