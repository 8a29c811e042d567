//! The one stop signal: a flag that is set once (by `cli::signals` on SIGINT or SIGTERM, or by a
//! caller that wants its work to end) and that every loop and every wait of mvlab is handed
//! explicitly. Loops look at it between steps; waits (pacing gaps, settles, drains, polls,
//! ageing) are waits *on it*, which return the moment it is set instead of sleeping their time
//! out. Clones are handles on the same flag, so a thread of its own can hold one. It owns no
//! signal handler and touches nothing of the OS: plain std synchronisation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A stop flag that can be waited on. `Stop::new()` is not set; `request` sets it for good.
#[derive(Clone, Default)]
pub struct Stop(Arc<Shared>);

#[derive(Default)]
struct Shared {
    requested: AtomicBool,
    /// Held only around the check-then-wait of `sleep_until` and the wake of `request`, so a
    /// request cannot slip between a waiter's check and its wait.
    lock: Mutex<()>,
    woken: Condvar,
}

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Sets the flag and wakes every wait on it. Further requests change nothing.
    pub fn request(&self) {
        self.0.requested.store(true, Ordering::SeqCst);
        drop(self.0.lock.lock().unwrap_or_else(PoisonError::into_inner));
        self.0.woken.notify_all();
    }

    /// True once `request` was called on this flag (through any of its clones).
    pub fn requested(&self) -> bool {
        self.0.requested.load(Ordering::SeqCst)
    }

    /// Waits `timeout`, or less if a stop is requested meanwhile. True when it was requested
    /// (before or during the wait): the caller should stop.
    pub fn sleep(&self, timeout: Duration) -> bool {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.sleep_until(deadline),
            // Further than the clock reaches: only a request ends it.
            None => self.sleep_until_requested(),
        }
    }

    /// Waits until `deadline`, or less if a stop is requested meanwhile. True when it was
    /// requested.
    pub fn sleep_until(&self, deadline: Instant) -> bool {
        let mut guard = self.0.lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.requested() {
                return true;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            if left.is_zero() {
                return false;
            }
            guard = self
                .0
                .woken
                .wait_timeout(guard, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn sleep_until_requested(&self) -> bool {
        let mut guard = self.0.lock.lock().unwrap_or_else(PoisonError::into_inner);
        while !self.requested() {
            guard = self
                .0
                .woken
                .wait(guard)
                .unwrap_or_else(PoisonError::into_inner);
        }
        true
    }
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stop")
            .field("requested", &self.requested())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sleep_without_a_request_lasts_its_time_and_says_so() {
        let stop = Stop::new();
        let started = Instant::now();
        assert!(!stop.sleep(Duration::from_millis(30)));
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert!(!stop.requested());
    }

    #[test]
    fn a_request_from_another_clone_ends_a_sleep_that_would_never_end() {
        let stop = Stop::new();
        let other = stop.clone();
        let sleeper = std::thread::spawn(move || other.sleep(Duration::MAX));
        stop.request();
        assert!(sleeper.join().unwrap());
        // Once set, it stays set: every later wait returns at once.
        assert!(stop.requested());
        assert!(stop.sleep(Duration::MAX));
        assert!(stop.sleep_until(Instant::now() + Duration::from_secs(3600)));
    }

    #[test]
    fn a_past_deadline_returns_at_once() {
        let stop = Stop::new();
        assert!(!stop.sleep_until(Instant::now()));
        assert!(!stop.sleep(Duration::ZERO));
    }
}
