//! The wall clock, read in one place. Everything that decides takes the time as an
//! argument (`run/`, `policy/`, `storm.rs`); these are where it is read. A clock set
//! before 1970 reads as 0 rather than failing: the service goes on, and the times it
//! compares are all read the same way.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    since_epoch().map_or(0, |d| d.as_millis() as u64)
}

/// Now, in Unix seconds (GitHub's rate-limit resets and JWTs count in seconds).
pub fn now_secs() -> u64 {
    since_epoch().map_or(0, |d| d.as_secs())
}

/// Now, in Unix nanoseconds (enough to tell two processes started together apart).
pub fn now_nanos() -> u64 {
    since_epoch().map_or(0, |d| d.as_nanos() as u64)
}

fn since_epoch() -> Option<std::time::Duration> {
    SystemTime::now().duration_since(UNIX_EPOCH).ok()
}
