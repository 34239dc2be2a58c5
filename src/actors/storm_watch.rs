//! The process's [`Storms`], shared by every tracker: asked when a claimed re-run's
//! evidence is judged, ticked every second so that a storm's end is logged on time.
//! Logs `storm started` / `storm ended` and keeps the `storms` and `reruns_held`
//! gauges. The rules of a storm are in `crate::storm` (pure).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use slog::{Logger, info};

use crate::clock::now_ms;
use crate::ids::RunKey;
use crate::metrics::Metrics;
use crate::policy::JobJudgement;
use crate::policy::families::Class;
use crate::storm::{StormEvent, StormSettings, Storms};

/// How often storms are looked at for their end.
const TICK: Duration = Duration::from_secs(1);

/// One per process.
pub struct StormWatch {
    storms: Mutex<Storms>,
    metrics: Arc<Metrics>,
    log: Logger,
}

impl StormWatch {
    /// No storm yet.
    pub fn new(settings: StormSettings, metrics: Arc<Metrics>, log: Logger) -> Self {
        Self {
            storms: Mutex::new(Storms::new(settings)),
            metrics,
            log,
        }
    }

    /// Until when the re-run of `run`, judged as `judged`, waits for a storm of one of
    /// its transient failures (`None`: it goes ahead).
    pub fn hold_until(&self, run: &RunKey, judged: &[JobJudgement]) -> Option<u64> {
        let signatures: Vec<&str> = judged
            .iter()
            .filter_map(|j| j.decisive.as_ref())
            .filter(|d| d.class == Some(Class::Transient))
            .map(|d| d.signature.as_str())
            .collect();
        if signatures.is_empty() {
            return None;
        }
        let (until, events) = self.with(|storms| {
            storms.consider(&run.to_string(), run.repo.as_str(), &signatures, now_ms())
        });
        self.report(&events);
        until
    }

    /// Ends storms that are over; logs them and sets the gauges.
    pub fn tick(&self) {
        let events = self.with(|storms| storms.tick(now_ms()));
        self.report(&events);
    }

    fn with<T>(&self, f: impl FnOnce(&mut Storms) -> T) -> T {
        // A panic while it was held cannot leave the storms half-changed in a way
        // worse than losing one observation: go on with them.
        let mut storms = match self.storms.lock() {
            Ok(storms) => storms,
            Err(poisoned) => poisoned.into_inner(),
        };
        let result = f(&mut storms);
        self.metrics.storms.set(storms.active() as i64);
        self.metrics.reruns_held.set(storms.held() as i64);
        result
    }

    fn report(&self, events: &[StormEvent]) {
        for event in events {
            match event {
                StormEvent::Started { signature, repos } => info!(self.log,
                    "storm started: re-runs of this failure are held until it is over";
                    "signature" => signature, "repos" => repos),
                StormEvent::Ended {
                    signature,
                    held,
                    lasted_ms,
                } => info!(self.log, "storm ended: its held re-runs are released, paced";
                    "signature" => signature, "held" => held,
                    "lasted_s" => lasted_ms / 1000),
            }
        }
    }
}

/// Ticks `watch` every second, for as long as the process runs.
pub fn spawn_ticker(watch: Arc<StormWatch>) {
    actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(TICK).await;
            watch.tick();
        }
    });
}
