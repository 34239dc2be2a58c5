//! The run registry: which `RunTracker` owns which run.
//!
//! A `DashMap` from run key to the tracker's address, with an atomic get-or-create, so
//! two events of a new run arriving on two HTTP workers make exactly one tracker.
//! Trackers remove themselves when they sleep or retire; an event that reaches a
//! tracker just as it stops is sent again to its successor, which reads the run back
//! from the store. The map holds the trackers awake only, so it is shrunk after many
//! of them slept: a hash table keeps its largest size otherwise.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use actix::{Actor, Addr, MailboxError};
use dashmap::DashMap;

use super::claim_trouble::ClaimTrouble;
use super::run_tracker::{
    CheckQuiet, Retire, RunTracker, Shared, Track, TrackError, TrackRun, TrackerDeps, Wake,
};
use crate::ids::RunKey;
use crate::run::{JobEvent, Reply, RunEvent};

/// A live tracker's address and its mailbox count.
pub struct TrackerHandle {
    id: u64,
    addr: Addr<RunTracker>,
    mailbox: Arc<AtomicUsize>,
}

/// The registry of live trackers.
pub struct Registry {
    trackers: DashMap<RunKey, TrackerHandle>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
}

/// Below this room the registry's map is never shrunk: it is small anyway.
const SHRINK_ABOVE: usize = 4096;

/// How long a webhook waits for its tracker; GitHub gives up on a delivery after 10 s.
const ANSWER_DEADLINE: std::time::Duration = std::time::Duration::from_secs(8);

/// How many times an event is offered to a new tracker when the old one stopped under
/// it. A tracker started for an event handles it before it can sleep, so only events
/// racing others for the same run ever need a second try; a few more cost nothing.
const DELIVERY_TRIES: usize = 8;

impl Registry {
    /// An empty registry whose trackers use `deps`.
    pub fn new(deps: TrackerDeps) -> Arc<Self> {
        Arc::new_cyclic(|registry| Self {
            trackers: DashMap::new(),
            shared: Arc::new(Shared {
                deps,
                retire: retire_from(registry.clone()),
                waiting: AtomicUsize::new(0),
                claim_trouble: ClaimTrouble::default(),
            }),
            next_id: AtomicU64::new(1),
        })
    }

    /// Routes an event to its run's tracker and waits for the tracker's answer.
    /// Returns the answer and the tracker's mailbox depth when the event was sent.
    pub async fn track(
        self: &Arc<Self>,
        event: Arc<JobEvent>,
    ) -> Result<(Reply, usize), TrackError> {
        self.deliver(&event.run, || Track(Arc::clone(&event))).await
    }

    /// Routes a `workflow_run.completed` event as [`Registry::track`] routes a job's.
    pub async fn track_run(
        self: &Arc<Self>,
        event: Arc<RunEvent>,
    ) -> Result<(Reply, usize), TrackError> {
        self.deliver(&event.run, || TrackRun(Arc::clone(&event)))
            .await
    }

    /// Sends the message `make` makes to `run`'s tracker (again to its successor if it
    /// retired under it) and waits for the answer.
    async fn deliver<M>(
        self: &Arc<Self>,
        run: &RunKey,
        make: impl Fn() -> M,
    ) -> Result<(Reply, usize), TrackError>
    where
        M: actix::Message<Result = Result<Reply, TrackError>> + Send + 'static,
        RunTracker: actix::Handler<M>,
    {
        for _ in 0..DELIVERY_TRIES {
            // Sent while the registry entry is borrowed (`send` only enqueues): cloning the
            // address instead would cost two allocations per webhook.
            let (id, mailbox, depth, sent) = self.with_tracker(run, |handle| {
                let depth = handle.mailbox.fetch_add(1, Ordering::Relaxed) + 1;
                self.shared.waiting.fetch_add(1, Ordering::Relaxed);
                let sent = handle.addr.send(make());
                (handle.id, Arc::clone(&handle.mailbox), depth, sent)
            });
            let answered = match actix_web::rt::time::timeout(ANSWER_DEADLINE, sent).await {
                Ok(answered) => answered,
                // The commit may still land; a redelivery is answered alike. Better a 503
                // that GitHub shows as failed than no answer within its 10 seconds.
                Err(_) => return Err(TrackError::Unavailable("not recorded in time".into())),
            };
            match answered {
                Ok(answer) => return answer.map(|reply| (reply, depth)),
                // No timeout is set on the send, so only `Closed` happens in practice.
                Err(MailboxError::Closed | MailboxError::Timeout) => {
                    // The tracker retired before handling it: the message was never counted off.
                    mailbox.fetch_sub(1, Ordering::Relaxed);
                    self.shared.waiting.fetch_sub(1, Ordering::Relaxed);
                    self.forget(run, id);
                }
            }
        }
        Err(TrackError::Unavailable(format!(
            "no tracker for {run} took the event"
        )))
    }

    /// Tells `key`'s tracker (started if need be) that its re-run may be due.
    pub fn wake(self: &Arc<Self>, key: &RunKey) {
        self.with_tracker(key, |handle| handle.addr.do_send(Wake));
    }

    /// Calls `use_it` with the live tracker of `key`, started if there is none.
    fn with_tracker<R>(
        self: &Arc<Self>,
        key: &RunKey,
        use_it: impl FnOnce(&TrackerHandle) -> R,
    ) -> R {
        if let Some(handle) = self.trackers.get(key) {
            return use_it(&handle);
        }
        let handle = self.trackers.entry(key.clone()).or_insert_with(|| {
            self.shared.deps.metrics.tracker_starts.inc();
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let mailbox = Arc::new(AtomicUsize::new(0));
            let tracker = RunTracker::new(
                key.clone(),
                id,
                Arc::clone(&self.shared),
                Arc::clone(&mailbox),
            );
            TrackerHandle {
                id,
                addr: tracker.start(),
                mailbox,
            }
        });
        use_it(&handle)
    }

    /// Asks every tracker awake whether its run went quiet for `RUN_TTL`. One sweep
    /// for a rare event instead of a second timer per tracker (each awake tracker has
    /// one already, for sleeping: `run_tracker/sleep.rs`).
    pub fn sweep_quiet(&self) {
        for entry in self.trackers.iter() {
            entry.value().addr.do_send(CheckQuiet);
        }
    }

    /// Removes `key`'s entry if it still belongs to tracker `id`.
    pub fn forget(&self, key: &RunKey, id: u64) {
        self.trackers.remove_if(key, |_, handle| handle.id == id);
    }

    /// Gives back the map's room for trackers that slept, once it holds less than a
    /// quarter of what it has room for (a rehash of the awake ones: cheap then, and
    /// rare, as the room only shrinks by that much). Whether it shrank.
    pub fn shrink_if_sparse(&self) -> bool {
        let room = self.trackers.capacity();
        if room < SHRINK_ABOVE || self.trackers.len() > room / 4 {
            return false;
        }
        self.trackers.shrink_to_fit();
        true
    }

    /// Trackers awake.
    pub fn len(&self) -> usize {
        self.trackers.len()
    }

    /// Whether no tracker is awake.
    pub fn is_empty(&self) -> bool {
        self.trackers.is_empty()
    }

    /// Messages sent to trackers and not yet handled, over all trackers.
    pub fn waiting_messages(&self) -> usize {
        self.shared.waiting.load(Ordering::Relaxed)
    }
}

/// How a tracker takes itself off the registry (`Registry::forget`), without knowing it.
fn retire_from(registry: Weak<Registry>) -> Retire {
    Box::new(move |key, id| {
        if let Some(registry) = registry.upgrade() {
            registry.forget(key, id);
        }
    })
}
