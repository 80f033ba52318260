//! What every adapter test needs: a sink that records what the adapter handed over, and can be
//! told to refuse (to check that a refused message is not acknowledged to the platform).

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hearth_channels::{Inbound, InboundSink, RunContext, SinkError};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
pub struct CollectSink {
    pub received: Mutex<Vec<Inbound>>,
    /// While above zero, `accept` fails and counts down.
    pub refuse: AtomicUsize,
    pub connected: AtomicUsize,
    changed: Notify,
}

#[async_trait]
impl InboundSink for CollectSink {
    async fn accept(&self, inbound: Inbound) -> Result<(), SinkError> {
        if self
            .refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(SinkError("refused by the test".into()));
        }
        self.received.lock().expect("lock").push(inbound);
        self.changed.notify_waiters();
        Ok(())
    }
}

impl CollectSink {
    pub fn new() -> Arc<CollectSink> {
        Arc::new(CollectSink::default())
    }

    pub fn all(&self) -> Vec<Inbound> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until at least `n` messages arrived (or 10 s passed) and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Inbound> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = self.all();
            if now.len() >= n || tokio::time::Instant::now() >= deadline {
                return now;
            }
            let _ = tokio::time::timeout_at(deadline, changed).await;
        }
    }

    /// A run context feeding this sink; cancel the returned token to stop the adapter.
    pub fn context(self: &Arc<Self>) -> (RunContext, CancellationToken) {
        let cancel = CancellationToken::new();
        let me = self.clone();
        let ctx = RunContext {
            cancel: cancel.clone(),
            sink: self.clone(),
            on_connected: Arc::new(move || {
                me.connected.fetch_add(1, Ordering::SeqCst);
                me.changed.notify_waiters();
            }),
        };
        (ctx, cancel)
    }

    /// Waits until the adapter reported being connected `n` times in all.
    pub async fn wait_connected(&self, n: usize) -> usize {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = self.connected.load(Ordering::SeqCst);
            if now >= n || tokio::time::Instant::now() >= deadline {
                return now;
            }
            let _ = tokio::time::timeout_at(deadline, changed).await;
        }
    }
}
