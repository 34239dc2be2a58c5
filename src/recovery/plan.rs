//! Which deliveries to ask GitHub to redeliver: a pure decision over what the App's
//! delivery list showed. No clock, store or network here; the sweep (`sweep.rs`)
//! gathers the facts and acts on the plan.
//!
//! GitHub lists every attempt of a delivery separately; the attempts of one event share
//! its `guid` (the `X-GitHub-Delivery` header the service dedups on). A guid is worth a
//! redelivery when none of its attempts got a 2xx, it is of an event the service acts
//! on, its original attempt is in view and within GitHub's 3-day window, and it was not
//! asked for before. A guid whose original attempt is not in view (the listing stopped
//! before it) is left alone: its older attempts may have succeeded, and an original
//! that failed was judged by the sweep that saw it.
//!
//! Oldest first: the guids nearest to leaving the window are the most at risk, and a
//! sweep capped at `max` leaves the newer ones to the next sweep, which looks back far
//! enough to see them again ([`Plan::seen_until`]).

use std::collections::{BTreeMap, HashSet};

/// How long GitHub keeps a delivery redeliverable.
pub const REDELIVERY_WINDOW_MS: u64 = 3 * 24 * 3_600_000;

/// The events the service acts on; a failed delivery of another is not worth asking for.
pub const RECOVERED_EVENTS: &[&str] = &["workflow_job", "workflow_run"];

/// One attempt of a delivery, as `GET /app/hook/deliveries` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The attempt's id (what `POST …/deliveries/{id}/attempts` takes).
    pub id: u64,
    /// The event's delivery guid, shared by all its attempts.
    pub guid: String,
    /// When the attempt was made, unix ms.
    pub delivered_at: u64,
    /// The status the service (or nothing: 0) answered.
    pub status_code: u16,
    /// Whether this attempt is a redelivery (not the original).
    pub redelivery: bool,
    /// The `X-GitHub-Event` name.
    pub event: String,
}

/// One redelivery to ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redeliver {
    /// The attempt to redeliver: the guid's original one.
    pub delivery_id: u64,
    /// The guid, remembered once asked.
    pub guid: String,
    /// When its original attempt was made, unix ms.
    pub first_at: u64,
}

/// What a sweep is to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// At most `max` redeliveries, oldest original attempt first, one per guid.
    pub redeliver: Vec<Redeliver>,
    /// How far the next sweep's listing must reach back, unix ms: the newest attempt
    /// looked at, or, when `max` left guids out, the oldest left-out original attempt
    /// (so the next sweep sees it again). `None` when nothing was listed.
    pub seen_until: Option<u64>,
}

/// Plans the redeliveries of one sweep from the attempts `listed`, the guids `asked`
/// for before, the time `now` (unix ms) and the most redeliveries a sweep makes.
pub fn plan(listed: &[Delivery], asked: &HashSet<String>, now: u64, max: usize) -> Plan {
    let mut guids: BTreeMap<&str, Vec<&Delivery>> = BTreeMap::new();
    for delivery in listed {
        guids.entry(&delivery.guid).or_default().push(delivery);
    }
    let mut candidates: Vec<Redeliver> = guids
        .into_iter()
        .filter(|(guid, _)| !asked.contains(*guid))
        .filter_map(|(guid, attempts)| {
            if attempts
                .iter()
                .any(|attempt| delivered(attempt.status_code))
            {
                return None;
            }
            let original = attempts
                .iter()
                .filter(|attempt| !attempt.redelivery)
                .min_by_key(|attempt| (attempt.delivered_at, attempt.id))?;
            let recovered = RECOVERED_EVENTS.contains(&original.event.as_str());
            let in_window = now.saturating_sub(original.delivered_at) < REDELIVERY_WINDOW_MS;
            (recovered && in_window).then(|| Redeliver {
                delivery_id: original.id,
                guid: guid.to_owned(),
                first_at: original.delivered_at,
            })
        })
        .collect();
    candidates.sort_by_key(|candidate| (candidate.first_at, candidate.delivery_id));
    let newest = listed.iter().map(|delivery| delivery.delivered_at).max();
    let left_out = candidates.get(max).map(|candidate| candidate.first_at);
    candidates.truncate(max);
    Plan {
        redeliver: candidates,
        seen_until: match (newest, left_out) {
            (Some(newest), Some(left_out)) => Some(newest.min(left_out)),
            (newest, _) => newest,
        },
    }
}

/// Whether an attempt reached the service and was accepted.
fn delivered(status_code: u16) -> bool {
    (200..300).contains(&status_code)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
