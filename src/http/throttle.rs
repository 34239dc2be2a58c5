//! The status page's failure limit: a client (an IP address; an IPv6 /64 network) that
//! presented wrong `STATUS_TOKEN` credentials [`MAX_FAILURES`] times within a
//! [`WINDOW`] is answered 429 for the rest of that window, whatever it presents.
//!
//! Without it a client could try thousands of tokens a second. The limit answers 429
//! even to the right token once a client is locked, or guessing would go on at full
//! speed with the answer telling hits apart. The table of clients is bounded
//! ([`CAPACITY`]): windows that ended are dropped first, then the oldest window, so a
//! flood of addresses costs a bounded amount of memory (and at worst lets the oldest
//! client start afresh). IPv6 clients count per /64: one host usually holds a whole one.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong credentials a client may present within a window.
pub const MAX_FAILURES: u32 = 10;
/// How long a window lasts from a client's first failure in it.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Clients remembered at most.
pub const CAPACITY: usize = 10_000;

/// Who a failure is counted against.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct Client(IpAddr);

impl From<IpAddr> for Client {
    fn from(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(_) => Self(address),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let network = u128::from(v6) & !((1u128 << 64) - 1);
                    Self(IpAddr::V6(network.into()))
                }
            },
        }
    }
}

/// One client's failures in its current window.
#[derive(Clone, Copy, Debug)]
struct Window {
    started: Instant,
    failures: u32,
}

/// The clients with failures in their current window; `order` lists them oldest window
/// first (windows start in time order, so it is a queue).
#[derive(Default)]
struct Table {
    windows: HashMap<Client, Window>,
    order: VecDeque<(Client, Instant)>,
}

impl Table {
    /// Drops the windows that ended.
    fn expire(&mut self, now: Instant, window: Duration) {
        while let Some(&(client, started)) = self.order.front() {
            if now < started + window {
                break;
            }
            self.order.pop_front();
            self.windows.remove(&client);
        }
    }
}

/// What a recorded failure led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Failures of the client in its current window, this one included.
    pub failures: u32,
    /// Whether this failure locked the client for the rest of the window.
    pub locks: bool,
}

/// Failures per client, under a limit.
pub struct FailureLimit {
    table: Mutex<Table>,
    max_failures: u32,
    window: Duration,
    capacity: usize,
}

impl Default for FailureLimit {
    fn default() -> Self {
        Self::new(MAX_FAILURES, WINDOW, CAPACITY)
    }
}

impl FailureLimit {
    /// A limit of `max_failures` per `window`, remembering at most `capacity` clients.
    pub fn new(max_failures: u32, window: Duration, capacity: usize) -> Self {
        Self {
            table: Mutex::new(Table::default()),
            max_failures,
            window,
            capacity: capacity.max(1),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave the table inconsistent in a way
        // that matters (at worst a client is forgotten): keep using it.
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How long `client` stays locked, if it is.
    pub fn locked(&self, client: Client, now: Instant) -> Option<Duration> {
        let table = self.table();
        let window = table.windows.get(&client)?;
        let ends = window.started + self.window;
        (window.failures >= self.max_failures && now < ends).then(|| ends - now)
    }

    /// Counts a failure of `client`.
    pub fn failed(&self, client: Client, now: Instant) -> Failure {
        let mut table = self.table();
        table.expire(now, self.window);
        if let Some(window) = table.windows.get_mut(&client) {
            window.failures = window.failures.saturating_add(1);
            return Failure {
                failures: window.failures,
                locks: window.failures == self.max_failures,
            };
        }
        if table.windows.len() >= self.capacity
            && let Some((oldest, _)) = table.order.pop_front()
        {
            table.windows.remove(&oldest);
        }
        table.windows.insert(
            client,
            Window {
                started: now,
                failures: 1,
            },
        );
        table.order.push_back((client, now));
        Failure {
            failures: 1,
            locks: self.max_failures == 1,
        }
    }

    /// Clients remembered now.
    pub fn len(&self) -> usize {
        self.table().windows.len()
    }

    /// Whether no client is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(last: u8) -> Client {
        Client::from(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn a_client_is_locked_after_its_tenth_failure_until_the_window_ends() {
        let limit = FailureLimit::default();
        let start = Instant::now();
        for n in 1..MAX_FAILURES {
            let failure = limit.failed(client(1), start);
            assert_eq!(
                failure,
                Failure {
                    failures: n,
                    locks: false
                }
            );
            assert_eq!(limit.locked(client(1), start), None);
        }
        assert!(limit.failed(client(1), start).locks);
        let later = start + Duration::from_secs(20);
        assert_eq!(
            limit.locked(client(1), later),
            Some(Duration::from_secs(40))
        );
        assert_eq!(
            limit.locked(client(2), later),
            None,
            "others are not locked"
        );
        let next_window = start + WINDOW;
        assert_eq!(limit.locked(client(1), next_window), None);
        assert_eq!(limit.failed(client(1), next_window).failures, 1);
    }

    #[test]
    fn the_table_stays_bounded_and_forgets_the_oldest_first() {
        let limit = FailureLimit::new(2, WINDOW, 3);
        let start = Instant::now();
        for (n, last) in [1u8, 2, 3, 4, 5].into_iter().enumerate() {
            limit.failed(client(last), start + Duration::from_millis(n as u64));
        }
        assert_eq!(limit.len(), 3);
        // 1 and 2 were forgotten: their next failure is a first one.
        let now = start + Duration::from_millis(10);
        assert_eq!(limit.failed(client(1), now).failures, 1);
        assert_eq!(limit.failed(client(5), now).failures, 2);
        // Once every window ended, the table empties itself.
        limit.failed(client(9), start + WINDOW + Duration::from_secs(1));
        assert_eq!(limit.len(), 1);
    }

    #[test]
    fn ipv6_clients_count_per_64_network_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("address");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("address");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("address");
        assert_eq!(Client::from(a), Client::from(b));
        assert_ne!(Client::from(a), Client::from(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("address");
        assert_eq!(Client::from(mapped), client(7));
    }
}
