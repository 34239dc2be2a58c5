//! Drives one load phase: N keep-alive connections, one task each, each playing its
//! workload script, closed-loop (as fast as answers come) or paced (open-loop-ish).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, sleep_until, timeout};

use crate::client::Connection;
use crate::payload::Payloads;
use crate::stats::Tally;
use crate::workload::{Workload, splitmix};

/// GitHub gives up on a delivery after 10 s; so does the benchmark.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// tokio's timer wheel ticks every millisecond: a paced request may wake up to this late.
const TIMER_TICK: Duration = Duration::from_millis(1);

/// How to load the server.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    /// The server.
    pub addr: SocketAddr,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// After this, scripts are told time is up.
    pub duration: Duration,
    /// Total requests per second, spread evenly over the connections; `None` sends each
    /// request as soon as the previous one on its connection was answered.
    pub pace: Option<f64>,
    /// Distinguishes the delivery ids of phases.
    pub salt: u64,
}

/// Runs `workload` as `load` says; returns the merged tally and the wall time from the
/// first request to the last answer.
pub async fn run<W: Workload + 'static>(
    load: Load,
    workload: Arc<W>,
    payloads: Arc<Payloads>,
) -> std::io::Result<(Tally, Duration)> {
    // Connect everyone before the clock starts: connecting is not what is measured.
    let mut connections = Vec::with_capacity(load.connections);
    for _ in 0..load.connections {
        connections.push(Connection::open(load.addr).await?);
    }
    let start = Instant::now();
    let tasks: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(index, connection)| {
            let workload = Arc::clone(&workload);
            let payloads = Arc::clone(&payloads);
            tokio::spawn(async move {
                let script = workload.script(index, load.connections);
                drive(load, index, start, connection, script, &payloads).await
            })
        })
        .collect();
    let mut total = Tally::new();
    for task in tasks {
        match task.await {
            Ok(tally) => total.merge(&tally),
            Err(err) => total.error(format!("connection task failed: {err}")),
        }
    }
    Ok((total, start.elapsed()))
}

/// When a paced connection sends: `rate` requests a second in all, spread evenly over
/// the connections, so connection `index` sends every `connections / rate` seconds, its
/// first request `index / connections` of that interval after the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pacing {
    interval: Duration,
    offset: Duration,
}

impl Pacing {
    /// The schedule of connection `index` out of `connections` for `rate` req/s in all.
    pub fn new(rate: f64, connections: usize, index: usize) -> Self {
        let connections = connections.max(1);
        let interval = Duration::from_secs_f64(connections as f64 / rate.max(1e-3));
        Self {
            interval,
            offset: interval * index as u32 / connections as u32,
        }
    }

    /// How long after the start request `seq` (0-based) of this connection is due.
    pub fn due(&self, seq: u64) -> Duration {
        self.offset + self.interval * seq as u32
    }
}

/// One connection's loop.
async fn drive(
    load: Load,
    index: usize,
    start: Instant,
    mut connection: Connection,
    mut script: Box<dyn crate::workload::Script + Send + '_>,
    payloads: &Payloads,
) -> Tally {
    let mut tally = Tally::new();
    let host = load.addr.to_string();
    let deadline = start + load.duration;
    let pacing = load
        .pace
        .map(|rate| Pacing::new(rate, load.connections, index));
    let delivery_high = u128::from(splitmix(load.salt ^ ((index as u64) << 32))) << 64;
    let (mut body, mut request) = (Vec::with_capacity(12_288), Vec::with_capacity(12_288));
    for seq in 0u64.. {
        // Paced: the request is due at its slot whether or not the server kept up, and
        // its latency counts from that slot (no coordinated omission).
        let due = pacing.map(|p| start + p.due(seq));
        let Some(step) = script.next(due.unwrap_or_else(Instant::now) >= deadline) else {
            break;
        };
        payloads.body(&step.event, ((index as u64) << 40) | seq, &mut body);
        let delivery = delivery_high | u128::from(splitmix(seq));
        payloads.request(&host, &body, delivery, &mut request);
        let sent = match due {
            Some(due) => {
                sleep_until(due).await;
                // Waking up to one tick late is the timer's doing, not the server's, and is
                // not counted. Later than that the connection was held up (a slow previous
                // answer, a busy client) and the wait counts, as wrk2 counts it.
                due + Instant::now().duration_since(due).min(TIMER_TICK)
            }
            None => Instant::now(),
        };
        let failure = match timeout(REQUEST_TIMEOUT, connection.exchange(&request)).await {
            Ok(Ok(status)) => {
                tally.answer(status, step.expect, sent.elapsed());
                None
            }
            Ok(Err(err)) => Some(format!("io: {}", err.kind())),
            Err(_) => Some(format!("timeout after {}s", REQUEST_TIMEOUT.as_secs())),
        };
        if let Some(kind) = &failure {
            tally.error(kind.clone());
        }
        if failure.is_some() || connection.is_closed() {
            match Connection::open(load.addr).await {
                Ok(fresh) => connection = fresh,
                Err(err) => {
                    tally.error(format!("reconnect: {}", err.kind()));
                    break;
                }
            }
        }
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paced_connections_together_send_evenly_at_the_rate_asked_for() {
        let (rate, connections) = (1000.0, 4);
        let mut dues: Vec<Duration> = (0..connections)
            .flat_map(|index| {
                let pacing = Pacing::new(rate, connections, index);
                (0..25).map(move |seq| pacing.due(seq))
            })
            .collect();
        dues.sort();
        assert_eq!(dues.len(), 100);
        for (k, due) in dues.iter().enumerate() {
            let expected = Duration::from_millis(k as u64);
            let off = due.abs_diff(expected);
            assert!(off < Duration::from_micros(1), "request {k} due at {due:?}");
        }
    }

    #[test]
    fn half_of_a_measured_rate_doubles_each_connections_interval() {
        let full = Pacing::new(20_000.0, 32, 0);
        let half = Pacing::new(10_000.0, 32, 0);
        assert_eq!(full.due(1), Duration::from_micros(1600));
        assert_eq!(half.due(1), full.due(2));
        assert_eq!(
            Pacing::new(10_000.0, 32, 16).due(0),
            Duration::from_micros(1600)
        );
    }
}
