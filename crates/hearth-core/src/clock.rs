//! The gateway's wall clock, replaceable in tests (`GatewayOptions::clock`) so time-based rules
//! (session resets) can be exercised without waiting.

use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> i64;

    /// For a clock that jumps (a test's), a receiver that sees each new time, so waiting
    /// work (the scheduler) looks again at once.
    fn watch(&self) -> Option<tokio::sync::watch::Receiver<i64>> {
        None
    }
}

/// The system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        crate::util::now_ms()
    }
}

/// A clock that only moves when told: starts at the system's time.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
    moved: tokio::sync::watch::Sender<i64>,
}

impl Default for ManualClock {
    fn default() -> Self {
        let now = crate::util::now_ms();
        Self {
            now: AtomicI64::new(now),
            moved: tokio::sync::watch::Sender::new(now),
        }
    }
}

impl ManualClock {
    pub fn set(&self, ms: i64) {
        self.now.store(ms, Ordering::SeqCst);
        self.moved.send_replace(ms);
    }

    pub fn advance(&self, by: std::time::Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        let now = self.now.fetch_add(by, Ordering::SeqCst) + by;
        self.moved.send_replace(now);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn watch(&self) -> Option<tokio::sync::watch::Receiver<i64>> {
        Some(self.moved.subscribe())
    }
}
