//! Proactive runs: scheduled jobs and the heartbeat.
//!
//! [`schedule`] turns a job's schedule (a cron expression, an `every` interval or a one-shot
//! `at` time) and its time zone into the instants it fires at, with daylight-saving changes
//! handled so a skipped or repeated local hour fires once. [`job`] checks a job's definition
//! (`hearth_protocol::cron::CronJobSpec`) as a whole. [`service`] is what clients call (list,
//! add, edit, remove, run, history). [`runner`] is the scheduler: it claims each fire in the
//! store before running it, so a fire runs at most once across restarts and gateways sharing
//! the store. [`heartbeat`] is the periodic check of `HEARTBEAT.md`.

pub mod heartbeat;
pub mod job;
pub mod runner;
pub mod schedule;
pub mod service;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

pub use job::{CheckedJob, check, check_target};
pub use schedule::{CronExpr, Schedule, ScheduleError, parse_interval};

/// The scheduler's shared state.
#[derive(Debug)]
pub struct Cron {
    wake: Notify,
    /// This gateway process among those sharing the store: `<host>:<pid>:<random>`.
    instance: String,
    /// Fires this gateway is running, so shutdown and removal can stop them.
    pub(crate) running: Mutex<HashMap<String, CancellationToken>>,
    /// `cron.maxConcurrentRuns`, as started.
    pub(crate) slots: Arc<Semaphore>,
    /// The heartbeat's latest scheduled instant already looked at.
    pub(crate) heartbeat_seen: Mutex<Option<i64>>,
}

impl Cron {
    pub(crate) fn new(max_concurrent: u32) -> Self {
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        let random = uuid::Uuid::new_v4().simple().to_string();
        Self {
            wake: Notify::new(),
            instance: format!("{host}:{}:{}", std::process::id(), &random[..8]),
            running: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(max_concurrent.max(1) as usize)),
            heartbeat_seen: Mutex::new(None),
        }
    }

    /// Stops the fire `fire_id` if this gateway runs it; true when it did.
    pub fn cancel_fire(&self, fire_id: &str) -> bool {
        let token = crate::util::lock(&self.running).get(fire_id).cloned();
        token.map(|t| t.cancel()).is_some()
    }

    /// Makes the scheduler look at the jobs again (one was added, changed or removed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }
}
