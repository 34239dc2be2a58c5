//! Giving memory back to the system after trackers slept.
//!
//! A tracker's memory is freed when it sleeps, but glibc's allocator keeps freed
//! memory in its arenas (one per thread that allocated, the HTTP workers'), so the
//! process's resident size stays at its peak: 100,000 trackers awake once and asleep
//! since would still cost their 150 MB. `malloc_trim(0)` returns the free pages of every
//! arena. It locks each arena while it walks it, and every thread that allocates
//! meanwhile waits (the store thread among them), so it must stay out of steady load:
//! a first rule (half the peak, by 1,000) trimmed every few seconds during a steady
//! stream of reactivations. So it is asked only when the number of trackers awake has
//! fallen to a quarter of its peak since the last time, by at least 5,000
//! ([`TrimWatch`]): after a burst, never in a steady state, where the count swings
//! around its level. It runs on a blocking thread, not on an event loop. Elsewhere than
//! on glibc it does nothing.

/// Decides when to give memory back: when the trackers awake fell to a quarter of
/// their peak since the last time, by at least `least_fall`.
#[derive(Debug)]
pub struct TrimWatch {
    peak: usize,
    least_fall: usize,
}

impl TrimWatch {
    /// A watch that ignores falls smaller than `least_fall` trackers.
    pub fn new(least_fall: usize) -> Self {
        Self {
            peak: 0,
            least_fall,
        }
    }

    /// Notes the trackers awake now; whether memory should be given back now.
    pub fn observe(&mut self, awake: usize) -> bool {
        self.peak = self.peak.max(awake);
        let fell = self.peak - awake;
        if fell >= self.least_fall && awake <= self.peak / 4 {
            self.peak = awake;
            return true;
        }
        false
    }
}

/// Returns the allocator's free memory to the system (glibc), or does nothing.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only releases memory the allocator holds
    // free; glibc documents it as thread-safe (it locks each arena).
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_given_back_once_most_trackers_awake_have_slept() {
        let mut watch = TrimWatch::new(5_000);
        assert!(!watch.observe(100_000));
        assert!(!watch.observe(50_000), "not yet a quarter");
        assert!(watch.observe(25_000));
        assert!(!watch.observe(25_000), "nothing fell since");
        assert!(watch.observe(0));
    }

    #[test]
    fn a_steady_rate_of_waking_and_sleeping_never_trims() {
        let mut watch = TrimWatch::new(5_000);
        // Bursts and lulls of a steady stream: the count swings, but never to a quarter.
        for awake in [30_000, 20_000, 30_000, 20_000, 31_000, 19_000, 30_000] {
            assert!(!watch.observe(awake));
        }
    }

    #[test]
    fn small_falls_are_not_worth_a_trim() {
        let mut watch = TrimWatch::new(5_000);
        assert!(!watch.observe(4_000));
        assert!(!watch.observe(0), "4,000 trackers are about 6 MB");
    }
}
