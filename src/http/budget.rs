//! The memory budget of webhook bodies being read (`MAX_BUFFERED_BYTES`), split so that
//! one client cannot lock GitHub out.
//!
//! Before its body has arrived a delivery cannot be told from a forgery: the signature
//! header only has the right shape. With one pool shared by all, anyone could send slow
//! bodies under a fake signature until the pool was full, and every real delivery then
//! got 503 (GitHub does not redeliver by itself: they were lost). So:
//!
//! - each client (`throttle::Client`: the peer address, or the forwarded one behind a
//!   trusted proxy; IPv6 by /64) holds at most a [share](BodyBudget::share) of the
//!   general part, 1/8 of the budget (at least one largest body);
//! - the last 1/8 (at most what leaves room for one largest body in the general part)
//!   is reserved for bodies that announce a `Content-Length` of at most
//!   [`SMALL_BODY_BYTES`] (GitHub's `workflow_job` payloads are 10 to 30 KB). A small
//!   body takes from the general part first, within its client's share, and from the
//!   reserve for what does not fit there; the reserve is not counted per client, so
//!   a small delivery gets through even from an address whose share is full (behind a
//!   proxy whose forwarded address is not trusted, every delivery has the same one).
//!
//! What it costs: per chunk two or three atomic read-modify-writes (the client's
//! counter, the general part, the reserve when needed) instead of one; per body with
//! any byte, one lock of the client table at its first chunk (a lookup, and an insert
//! with a small allocation when the client has no other body in flight) and one when it
//! is dropped (a removal when it was the last). The table holds only clients with a body
//! being read, at most [`MAX_CLIENTS`]; beyond that new clients share one entry, so a
//! flood of addresses costs bounded memory (and at worst shares a share).
//!
//! An attacker with many addresses can still fill the general part, and small slow
//! bodies can fill the reserve; `BODY_TIMEOUT` bounds how long each holds its bytes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::throttle::Client;

/// Largest announced `Content-Length` that may use the reserve.
pub const SMALL_BODY_BYTES: usize = 64 * 1024;
/// Clients with a body being read that get an entry of their own.
pub const MAX_CLIENTS: usize = 10_000;

/// The bytes of webhook bodies held in memory, all connections together, and their caps.
#[derive(Debug)]
pub struct BodyBudget {
    general: AtomicUsize,
    reserve: AtomicUsize,
    general_limit: usize,
    reserve_limit: usize,
    share: usize,
    /// Bytes of the general part held per client; `None` is the shared overflow entry.
    clients: Mutex<HashMap<Option<Client>, Arc<AtomicUsize>>>,
}

impl BodyBudget {
    /// A budget of `limit` bytes for bodies of at most `max_body` bytes.
    pub fn new(limit: usize, max_body: usize) -> Self {
        let eighth = limit / 8;
        let reserve_limit = eighth.min(limit.saturating_sub(max_body));
        Self {
            general: AtomicUsize::new(0),
            reserve: AtomicUsize::new(0),
            general_limit: limit - reserve_limit,
            reserve_limit,
            share: eighth.max(max_body),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Bytes held now.
    pub fn used(&self) -> usize {
        self.general.load(Ordering::Relaxed) + self.reserve.load(Ordering::Relaxed)
    }

    /// Most bytes of the general part one client may hold.
    pub fn share(&self) -> usize {
        self.share
    }

    /// Bytes reserved for small announced bodies.
    pub fn reserved(&self) -> usize {
        self.reserve_limit
    }

    /// An empty reservation for a body from `client` announcing `announced` bytes, to
    /// grow as bytes arrive.
    pub fn reservation(&self, client: Client, announced: Option<usize>) -> Reservation<'_> {
        Reservation {
            budget: self,
            client,
            counter: None,
            small: announced.is_some_and(|length| length <= SMALL_BODY_BYTES),
            general: 0,
            reserve: 0,
        }
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<Option<Client>, Arc<AtomicUsize>>> {
        // The table holds counters only; a panic elsewhere cannot leave it inconsistent.
        self.clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The entry of `client` (the shared one when the table is full) and its counter,
    /// made when it has none.
    fn counter(&self, client: Client) -> (Option<Client>, Arc<AtomicUsize>) {
        let mut clients = self.clients();
        let key = if clients.len() < MAX_CLIENTS || clients.contains_key(&Some(client)) {
            Some(client)
        } else {
            None
        };
        (key, Arc::clone(clients.entry(key).or_default()))
    }
}

/// Takes up to `want` of what `counter` has left below `limit`; returns what it took.
fn take_up_to(counter: &AtomicUsize, want: usize, limit: usize) -> usize {
    let before = counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            Some(used + want.min(limit.saturating_sub(used)))
        })
        .unwrap_or_else(|used| used);
    want.min(limit.saturating_sub(before))
}

/// Bytes taken from a [`BodyBudget`]; given back on drop.
#[derive(Debug)]
pub struct Reservation<'a> {
    budget: &'a BodyBudget,
    client: Client,
    counter: Option<(Option<Client>, Arc<AtomicUsize>)>,
    small: bool,
    general: usize,
    reserve: usize,
}

impl Reservation<'_> {
    /// Takes `more` bytes if they fit: in the general part within the client's share,
    /// and (a small announced body) the rest in the reserve.
    pub fn grow(&mut self, more: usize) -> bool {
        let budget = self.budget;
        let (_, counter) = self
            .counter
            .get_or_insert_with(|| budget.counter(self.client));
        let allowed = take_up_to(counter, more, budget.share);
        let general = take_up_to(&budget.general, allowed, budget.general_limit);
        if general < allowed {
            counter.fetch_sub(allowed - general, Ordering::AcqRel);
        }
        let rest = more - general;
        let limit = budget.reserve_limit;
        let placed = rest == 0
            || (self.small
                && budget
                    .reserve
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                        used.checked_add(rest).filter(|&total| total <= limit)
                    })
                    .is_ok());
        if placed {
            self.general += general;
            self.reserve += rest;
        } else {
            // All or nothing: what this chunk took of the general part goes back.
            budget.general.fetch_sub(general, Ordering::AcqRel);
            counter.fetch_sub(general, Ordering::AcqRel);
        }
        placed
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let budget = self.budget;
        if self.reserve > 0 {
            budget.reserve.fetch_sub(self.reserve, Ordering::AcqRel);
        }
        if self.general > 0 {
            budget.general.fetch_sub(self.general, Ordering::AcqRel);
        }
        let Some((key, counter)) = self.counter.take() else {
            return;
        };
        counter.fetch_sub(self.general, Ordering::AcqRel);
        let mut clients = budget.clients();
        drop(counter);
        // Counters are cloned under the lock: one held only by the table is unused.
        if clients
            .get(&key)
            .is_some_and(|left| Arc::strong_count(left) == 1)
        {
            clients.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn client(last: u8) -> Client {
        Client::from(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn a_reservation_takes_only_what_fits_and_gives_it_back_on_drop() {
        let budget = BodyBudget::new(800, 100);
        assert_eq!((budget.share(), budget.reserved()), (100, 100));
        let mut first = budget.reservation(client(1), None);
        assert!(first.grow(60));
        assert!(!first.grow(41), "60 + 41 is over the client's share of 100");
        let mut second = budget.reservation(client(2), None);
        assert!(second.grow(100));
        assert_eq!(budget.used(), 160);
        drop(first);
        assert_eq!(budget.used(), 100);
        drop(second);
        assert_eq!(budget.used(), 0);
        assert!(budget.clients().is_empty(), "no client left behind");
    }

    #[test]
    fn one_client_cannot_take_more_than_its_share_but_others_still_can() {
        let budget = BodyBudget::new(8000, 1000);
        let mut attacker = Vec::new();
        let mut refused = 0;
        for _ in 0..10 {
            let mut body = budget.reservation(client(1), Some(SMALL_BODY_BYTES + 1));
            if body.grow(600) {
                attacker.push(body);
            } else {
                refused += 1;
            }
        }
        assert_eq!(attacker.len(), 1, "{refused} refused");
        let mut other = budget.reservation(client(2), Some(SMALL_BODY_BYTES + 1));
        assert!(other.grow(1000));
    }

    #[test]
    fn a_small_announced_body_may_use_the_reserve_that_others_cannot_take() {
        let budget = BodyBudget::new(800, 100);
        // Seven clients fill the general part (700) with unannounced bodies.
        let general: Vec<_> = (1..=7)
            .map(|n| {
                let mut body = budget.reservation(client(n), None);
                assert!(body.grow(100));
                body
            })
            .collect();
        let mut large = budget.reservation(client(8), Some(SMALL_BODY_BYTES + 1));
        assert!(!large.grow(1), "the reserve is not for large bodies");
        let mut unannounced = budget.reservation(client(8), None);
        assert!(!unannounced.grow(1), "nor for unannounced ones");
        // A small one, even from a client whose share is full, goes in the reserve.
        let mut small = budget.reservation(client(1), Some(30));
        assert!(small.grow(30));
        assert_eq!(budget.used(), 730);
        drop((general, large, unannounced, small));
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_chunk_is_split_between_the_general_part_and_the_reserve() {
        let budget = BodyBudget::new(800, 100);
        let _full: Vec<_> = (1..=7)
            .map(|n| {
                let mut body = budget.reservation(client(n), None);
                assert!(body.grow(if n == 7 { 60 } else { 100 }));
                body
            })
            .collect();
        let mut small = budget.reservation(client(9), Some(100));
        assert!(small.grow(100), "40 in the general part, 60 in the reserve");
        assert_eq!(budget.used(), 760);
        let mut more = budget.reservation(client(10), Some(100));
        assert!(!more.grow(41), "the reserve has 40 left");
    }

    #[test]
    fn a_flood_of_addresses_shares_one_entry_beyond_the_table_capacity() {
        let budget = BodyBudget::new(usize::MAX / 2, 1);
        let held: Vec<_> = (0..MAX_CLIENTS as u32 + 5)
            .map(|n| {
                let mut body =
                    budget.reservation(Client::from(IpAddr::from(n.to_be_bytes())), None);
                assert!(body.grow(1));
                body
            })
            .collect();
        assert_eq!(budget.clients().len(), MAX_CLIENTS + 1);
        drop(held);
        assert!(budget.clients().is_empty());
    }
}
