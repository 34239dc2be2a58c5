//! The tracker's messages: what the registry and the poller send it, and what it sends
//! itself (its timers, the GitHub actor's answers), each handled in `run_tracker.rs`.

use std::sync::Arc;

use actix::prelude::*;

use super::TrackError;
use crate::actors::github::Listed;
use crate::policy::JobJudgement;
use crate::run::{ClaimedRerun, EvidenceCost, JobEvent, Reply, RerunOutcome};

/// One `workflow_job` event for this tracker's run.
#[derive(Message)]
#[rtype(result = "Result<Reply, TrackError>")]
pub struct Track(pub Arc<JobEvent>);

/// The run's re-run may be due (a poll of the store found it): claim it if it is.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake;

// The tracker's timers and the GitHub actor's answer come back as messages to itself,
// never as callbacks: actix runs callbacks even while a commit is awaited (`ctx.wait`),
// but it reads no message then, so every change to the cache stays in commit order.

/// The re-run timer fired; the number tells which arming it was (a timer that fired
/// just before it was replaced has its message still in the mailbox: it is ignored).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct RerunDue(pub(super) u32);

/// The GitHub actor answered a re-run this tracker claimed.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Answered {
    pub(super) claimed: ClaimedRerun,
    pub(super) outcome: RerunOutcome,
}

/// What a re-run this tracker claimed needed came from GitHub (and its evidence was
/// judged): the listed jobs, when asked, and the judged evidence, when gathered.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Judged {
    pub(super) claimed: ClaimedRerun,
    pub(super) listed: Option<Listed>,
    pub(super) judged: Option<Vec<JobJudgement>>,
    pub(super) cost: EvidenceCost,
}

/// See whether the run went quiet for `RUN_TTL` (sent by the registry's sweep).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CheckQuiet;
