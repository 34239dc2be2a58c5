//! The load generator's flags. Hand-parsed: a dozen `--name value` pairs do not need a
//! parser crate in the service's dependency tree.

use std::time::Duration;

/// A part of the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Hot payloads against the no-op server: the ceiling.
    Noop,
    /// Hot payloads against the no-op server that also verifies their signature: the
    /// floor of any service that must check it.
    NoopHmac,
    /// The same, and it also parses and filters them as the service does: the floor of
    /// any service that must verify and parse the payload.
    NoopHmacParse,
    /// `in_progress` for runs that exist: no state change, no write.
    Hot,
    /// Hot at half its measured maximum rate, for the latency under normal load.
    Latency,
    /// A new run per request: state creation and durable commit.
    Queued,
    /// Whole runs, with re-runs of the failed ones checked against the fake GitHub.
    Lifecycle,
    /// GitHub calls and log bytes per decided run under the recommended failure policy,
    /// with the re-runs checked against the failures' logs.
    Evidence,
    /// Memory with many live runs awake and asleep, their reactivation, start-up time on
    /// their file, hot cost 10 vs many runs.
    Scale,
}

const ALL: [Mode; 9] = [
    Mode::Noop,
    Mode::NoopHmac,
    Mode::NoopHmacParse,
    Mode::Hot,
    Mode::Latency,
    Mode::Queued,
    Mode::Lifecycle,
    Mode::Evidence,
    Mode::Scale,
];

/// Everything the flags set.
#[derive(Clone, Debug)]
pub struct Options {
    /// Parts to run, in the order of [`ALL`].
    pub modes: Vec<Mode>,
    /// Measured time of each load phase.
    pub duration: Duration,
    /// Unmeasured load before each closed-loop phase (caches, allocator, TCP windows).
    pub warmup: Duration,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Client runtime threads; 0 = tokio's current-thread runtime. Two (the cores) gave
    /// the highest no-op figure here: the client's HMAC signing costs more than the no-op
    /// server's work, and a current-thread client tops out at one core.
    pub client_threads: usize,
    /// `WORKERS` for the servers; `None` leaves their default (the cores).
    pub workers: Option<usize>,
    /// Runs the hot phase cycles over.
    pub hot_runs: u64,
    /// Repositories the runs are spread over.
    pub repos: usize,
    /// Jobs per lifecycle run.
    pub jobs: u64,
    /// Most runs the lifecycle phase starts (it also stops at `duration`).
    pub lifecycle_runs: u64,
    /// Runs the evidence part plays (about one in five fails).
    pub evidence_runs: u64,
    /// Live runs created for the memory and flat-cost measurements.
    pub live_runs: u64,
    /// Jobs of each of those runs.
    pub live_jobs: u64,
    /// `TRACKER_IDLE` of the service whose trackers are to sleep (the asleep figures and
    /// the reactivations).
    pub tracker_idle: Duration,
    /// The awake fill (RSS with every tracker in memory, hot over them) runs only when
    /// `live_runs` is at most this; `None`: always.
    pub awake_max_runs: Option<u64>,
    /// Print the summary as JSON instead of a table.
    pub json: bool,
    /// An admin URL of a PostgreSQL server: measure the service on PostgreSQL.
    pub database_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            modes: ALL.to_vec(),
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            connections: 32,
            client_threads: 2,
            workers: None,
            hot_runs: 1_000,
            repos: 20,
            jobs: 4,
            lifecycle_runs: 1_000_000,
            evidence_runs: 1_000,
            live_runs: 100_000,
            live_jobs: 4,
            tracker_idle: Duration::from_secs(1),
            awake_max_runs: None,
            json: false,
            database_url: None,
        }
    }
}

impl Options {
    /// Whether `mode` is to run.
    pub fn runs(&self, mode: Mode) -> bool {
        self.modes.contains(&mode)
    }

    /// Whether the scale part fills a service whose trackers stay awake.
    pub fn fills_awake(&self) -> bool {
        self.awake_max_runs.is_none_or(|max| self.live_runs <= max)
    }
}

/// The `--help` text.
pub const HELP: &str = "\
loadgen: benchmarks job-rerunner with signed workflow_job webhooks on 127.0.0.1.

Usage: cargo run --release -p loadgen -- [flags]

  --mode LIST            comma-separated: noop,noop+hmac,noop+hmac+parse,hot,latency,queued,
                         lifecycle,evidence,scale or all (default all)
  --duration SECS        measured time of each load phase (default 5)
  --warmup SECS          unmeasured load before each closed-loop phase (default 1)
  --connections N        keep-alive connections (default 32)
  --client-threads N     client runtime threads, 0 = current-thread runtime (default 2)
  --workers N            server WORKERS (default: the cores)
  --hot-runs N           runs the hot phase cycles over (default 1000)
  --repos N              repositories the runs are spread over (default 20)
  --jobs N               jobs per lifecycle run (default 4)
  --lifecycle-runs N     most runs the lifecycle phase starts (default 1000000; time bounds it first)
  --evidence-runs N      runs the evidence part plays, one in five failed (default 1000)
  --live-runs N          live runs for the memory / start-up / flat-cost part (default 100000)
  --live-jobs N          jobs per live run (default 4)
  --tracker-idle SECS    TRACKER_IDLE of the service whose trackers sleep (default 1)
  --awake-max-runs N     fill a service whose trackers stay awake (TRACKER_IDLE 3600) only
                         when --live-runs is at most N (default: always)
  --database-url URL     run the service on PostgreSQL (a fresh database per service on
                         that server, e.g. postgres://postgres@127.0.0.1:5432/test)
  --json                 print the summary as JSON
  --help                 this text
";

/// Parses the flags (without the program name). `Ok(None)`: `--help` was asked for.
pub fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .map(String::as_str)
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--json" => options.json = true,
            "--database-url" => options.database_url = Some(value()?.to_owned()),
            "--mode" => options.modes = modes(value()?)?,
            "--duration" => options.duration = seconds(flag, value()?)?,
            "--warmup" => options.warmup = seconds(flag, value()?)?,
            "--connections" => options.connections = positive(flag, value()?)? as usize,
            "--client-threads" => options.client_threads = number(flag, value()?)? as usize,
            "--workers" => options.workers = Some(positive(flag, value()?)? as usize),
            "--hot-runs" => options.hot_runs = positive(flag, value()?)?,
            "--repos" => options.repos = positive(flag, value()?)? as usize,
            "--jobs" => options.jobs = positive(flag, value()?)?,
            "--lifecycle-runs" => options.lifecycle_runs = positive(flag, value()?)?,
            "--evidence-runs" => options.evidence_runs = positive(flag, value()?)?,
            "--live-runs" => options.live_runs = positive(flag, value()?)?,
            "--live-jobs" => options.live_jobs = positive(flag, value()?)?,
            "--tracker-idle" => options.tracker_idle = seconds(flag, value()?)?,
            "--awake-max-runs" => options.awake_max_runs = Some(number(flag, value()?)?),
            other => return Err(format!("unknown flag {other} (see --help)")),
        }
    }
    Ok(Some(options))
}

fn modes(list: &str) -> Result<Vec<Mode>, String> {
    let mut wanted = Vec::new();
    for word in list.split(',').map(str::trim) {
        match word {
            "all" => wanted.extend(ALL),
            "noop" => wanted.push(Mode::Noop),
            "noop+hmac" => wanted.push(Mode::NoopHmac),
            "noop+hmac+parse" => wanted.push(Mode::NoopHmacParse),
            "hot" => wanted.push(Mode::Hot),
            "latency" => wanted.push(Mode::Latency),
            "queued" => wanted.push(Mode::Queued),
            "lifecycle" => wanted.push(Mode::Lifecycle),
            "evidence" => wanted.push(Mode::Evidence),
            "scale" => wanted.push(Mode::Scale),
            other => return Err(format!("unknown mode {other:?}")),
        }
    }
    Ok(ALL.into_iter().filter(|m| wanted.contains(m)).collect())
}

fn number(flag: &str, raw: &str) -> Result<u64, String> {
    raw.replace('_', "")
        .parse()
        .map_err(|_| format!("{flag}: {raw:?} is not a whole number"))
}

fn positive(flag: &str, raw: &str) -> Result<u64, String> {
    match number(flag, raw)? {
        0 => Err(format!("{flag} must be at least 1")),
        n => Ok(n),
    }
}

fn seconds(flag: &str, raw: &str) -> Result<Duration, String> {
    raw.parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("{flag}: {raw:?} is not a number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_override_the_defaults() {
        let options = parse(&args(&[
            "--mode",
            "scale,hot",
            "--duration",
            "2.5",
            "--live-runs",
            "1_000",
            "--json",
        ]))
        .expect("valid")
        .expect("not --help");
        assert_eq!(options.modes, [Mode::Hot, Mode::Scale]);
        assert_eq!(options.duration, Duration::from_millis(2500));
        assert_eq!(options.live_runs, 1000);
        assert!(options.json);
        assert_eq!(options.connections, 32);
    }

    #[test]
    fn floor_modes_are_parsed_and_run_after_noop() {
        let options = parse(&args(&["--mode", "hot, noop+hmac+parse,noop+hmac,noop"]))
            .expect("valid")
            .expect("not --help");
        assert_eq!(
            options.modes,
            [Mode::Noop, Mode::NoopHmac, Mode::NoopHmacParse, Mode::Hot]
        );
        let all = parse(&args(&["--mode", "all"]))
            .expect("valid")
            .expect("not --help");
        assert_eq!(all.modes, ALL);
        assert_eq!(
            &all.modes[..3],
            [Mode::Noop, Mode::NoopHmac, Mode::NoopHmacParse]
        );
        assert!(parse(&args(&["--mode", "noop+parse"])).is_err());
    }

    #[test]
    fn the_evidence_mode_runs_after_lifecycle_with_the_runs_asked_for() {
        let options = parse(&args(&[
            "--mode",
            "scale,evidence,lifecycle",
            "--evidence-runs",
            "200",
        ]))
        .expect("valid")
        .expect("not --help");
        assert_eq!(
            options.modes,
            [Mode::Lifecycle, Mode::Evidence, Mode::Scale]
        );
        assert_eq!(options.evidence_runs, 200);
        let default = parse(&[]).expect("valid").expect("not --help");
        assert_eq!(default.evidence_runs, 1000);
        assert!(default.runs(Mode::Evidence), "quick enough for all");
        assert!(parse(&args(&["--evidence-runs", "0"])).is_err());
    }

    #[test]
    fn the_awake_fill_is_skipped_only_above_the_limit_asked_for() {
        let default = parse(&[]).expect("valid").expect("not --help");
        assert!(default.fills_awake());
        assert_eq!(default.tracker_idle, Duration::from_secs(1));
        let big = parse(&args(&[
            "--live-runs",
            "1_000_000",
            "--awake-max-runs",
            "100000",
            "--tracker-idle",
            "0.5",
        ]))
        .expect("valid")
        .expect("not --help");
        assert!(!big.fills_awake());
        assert_eq!(big.tracker_idle, Duration::from_millis(500));
        let small = parse(&args(&[
            "--live-runs",
            "100000",
            "--awake-max-runs",
            "100000",
        ]))
        .expect("valid")
        .expect("not --help");
        assert!(small.fills_awake());
    }

    #[test]
    fn bad_flags_are_refused() {
        assert!(parse(&args(&["--connections", "0"])).is_err());
        assert!(parse(&args(&["--mode", "fast"])).is_err());
        assert!(parse(&args(&["--duration"])).is_err());
        assert!(parse(&args(&["--frobnicate"])).is_err());
        assert!(parse(&args(&["--help"])).expect("valid").is_none());
    }
}
