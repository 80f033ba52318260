//! One channel account at run time: its supervisor, its outbound worker and its status.

use crate::util::lock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hearth_channels::{ChannelAdapter, ChannelError, Outbound, RunContext};
use hearth_config::ChannelAccount;
use hearth_protocol::methods::{
    ChannelAccountStatus, ChannelCapabilities, ChannelCounts, ChannelState,
};
use rand::Rng as _;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::runtime::Runtime;
use crate::util::now_ms;

/// Waits before the first retry of a failed send, then the next four; after the last one the
/// message is given up.
pub(crate) const RETRY_DELAYS: [Duration; 5] = [
    Duration::from_secs(5),
    Duration::from_secs(25),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(1800),
];

/// Reconnect backoff: from `MIN_BACKOFF`, doubling to `MAX_BACKOFF`, with ±25 % jitter.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// After this many failed connections in a row the account is reported down (log, event,
/// desktop notification).
const DOWN_AFTER: u32 = 3;

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) received: AtomicU64,
    pub(crate) allowed: AtomicU64,
    pub(crate) denied: AtomicU64,
    pub(crate) ignored: AtomicU64,
    pub(crate) pairing: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) send_failures: AtomicU64,
}

#[derive(Debug)]
struct State {
    state: ChannelState,
    since_ms: i64,
    identity: Option<String>,
    last_error: Option<String>,
    reconnects: u64,
    failures: u32,
    last_inbound_ms: Option<i64>,
    last_outbound_ms: Option<i64>,
}

/// A running account.
pub(crate) struct AccountHandle {
    pub(crate) config: ChannelAccount,
    pub(crate) adapter: OnceLock<Arc<dyn ChannelAdapter>>,
    /// `mentionPatterns`, compiled once (case-insensitive).
    pub(crate) mention_patterns: Vec<regex::Regex>,
    pub(crate) counters: Counters,
    state: Mutex<State>,
    pub(crate) cancel: CancellationToken,
    /// Wakes the outbound worker: something was queued, or the connection came back.
    pub(crate) wake: Notify,
    pause: Notify,
}

impl std::fmt::Debug for AccountHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountHandle")
            .field("channel", &self.config.channel)
            .field("account", &self.config.account_id)
            .finish_non_exhaustive()
    }
}

impl AccountHandle {
    pub(crate) fn new(config: ChannelAccount, parent: &CancellationToken) -> Arc<AccountHandle> {
        let state = if !config.enabled {
            ChannelState::Disabled
        } else if !hearth_channels::is_built(config.channel) {
            ChannelState::Unavailable
        } else {
            ChannelState::Connecting
        };
        let mention_patterns = config
            .mention_patterns
            .iter()
            .filter_map(|p| {
                regex::RegexBuilder::new(p)
                    .case_insensitive(true)
                    .build()
                    .map_err(|e| {
                        tracing::warn!(channel = %config.channel, account = %config.account_id,
                            pattern = %p, error = %e, "mention pattern ignored: not a valid regex");
                    })
                    .ok()
            })
            .collect();
        Arc::new(AccountHandle {
            config,
            adapter: OnceLock::new(),
            mention_patterns,
            counters: Counters::default(),
            state: Mutex::new(State {
                state,
                since_ms: now_ms(),
                identity: None,
                last_error: None,
                reconnects: 0,
                failures: 0,
                last_inbound_ms: None,
                last_outbound_ms: None,
            }),
            cancel: parent.child_token(),
            wake: Notify::new(),
            pause: Notify::new(),
        })
    }

    pub(crate) fn channel(&self) -> &str {
        self.config.channel
    }

    pub(crate) fn account(&self) -> &str {
        &self.config.account_id
    }

    pub(crate) fn stop(&self) {
        self.cancel.cancel();
    }

    pub(crate) fn pause_changed(&self) {
        self.pause.notify_waiters();
        self.wake.notify_waiters();
    }

    pub(crate) fn state(&self) -> ChannelState {
        lock(&self.state).state
    }

    fn set_state(&self, state: ChannelState, error: Option<String>) -> bool {
        let mut s = lock(&self.state);
        let changed = s.state != state || (error.is_some() && s.last_error != error);
        if s.state != state {
            s.since_ms = now_ms();
        }
        s.state = state;
        if error.is_some() {
            s.last_error = error;
        }
        changed
    }

    pub(crate) fn note_inbound(&self) {
        lock(&self.state).last_inbound_ms = Some(now_ms());
    }

    fn note_outbound(&self) {
        lock(&self.state).last_outbound_ms = Some(now_ms());
    }

    pub(crate) fn note_error(&self, error: String) {
        lock(&self.state).last_error = Some(error);
    }

    pub(crate) async fn status(&self, rt: &Runtime) -> ChannelAccountStatus {
        let mut status = idle_status(&self.config);
        let counts = rt
            .store
            .queue_counts(self.channel(), self.account())
            .await
            .unwrap_or_default();
        let c = &self.counters;
        status.counts = ChannelCounts {
            received: c.received.load(Ordering::Relaxed),
            allowed: c.allowed.load(Ordering::Relaxed),
            denied: c.denied.load(Ordering::Relaxed),
            ignored: c.ignored.load(Ordering::Relaxed),
            pairing: c.pairing.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            send_failures: c.send_failures.load(Ordering::Relaxed),
            inbound_pending: counts.inbound_pending,
            outbound_pending: counts.outbound_pending,
            outbound_failed: counts.outbound_failed,
        };
        status.capabilities = self.adapter.get().map(|a| {
            let caps = a.capabilities();
            ChannelCapabilities {
                edits: caps.edits,
                reactions: caps.reactions,
                typing: caps.typing,
                threads: caps.threads,
                media: caps.media,
                max_text_len: caps.max_text_len,
                format: caps.format.to_owned(),
            }
        });
        let s = lock(&self.state);
        status.state = if rt.channels.is_paused()
            && !matches!(
                s.state,
                ChannelState::Disabled | ChannelState::Unavailable | ChannelState::Failed
            ) {
            ChannelState::Paused
        } else {
            s.state
        };
        status.since_ms = s.since_ms;
        status.identity.clone_from(&s.identity);
        status.last_error.clone_from(&s.last_error);
        status.reconnects = s.reconnects;
        status.failures = s.failures;
        status.last_inbound_ms = s.last_inbound_ms;
        status.last_outbound_ms = s.last_outbound_ms;
        status
    }

    /// The longest text per message: the account's `textChunkLimit` within the platform's.
    pub(crate) fn text_limit(&self, adapter: &dyn ChannelAdapter) -> usize {
        let max = adapter.capabilities().max_text_len;
        self.config.text_chunk_limit.unwrap_or(max).clamp(64, max)
    }
}

/// The status of an account that is not running.
pub(crate) fn idle_status(config: &ChannelAccount) -> ChannelAccountStatus {
    ChannelAccountStatus {
        channel: config.channel.to_owned(),
        account: config.account_id.clone(),
        name: config.name.clone(),
        state: if config.enabled {
            ChannelState::Connecting
        } else {
            ChannelState::Disabled
        },
        since_ms: now_ms(),
        identity: None,
        last_error: None,
        reconnects: 0,
        failures: 0,
        dm_policy: config.dm_policy.as_str().to_owned(),
        group_policy: config.group_policy.as_str().to_owned(),
        capabilities: None,
        counts: ChannelCounts::default(),
        last_inbound_ms: None,
        last_outbound_ms: None,
    }
}

/// The web chat: the Control UI's own connection; always there, the owner always allowed.
pub(crate) fn webchat_status(rt: &Runtime) -> ChannelAccountStatus {
    let config = &rt.live().config;
    ChannelAccountStatus {
        channel: "webchat".to_owned(),
        account: hearth_config::DEFAULT_ACCOUNT.to_owned(),
        name: Some("Control UI".to_owned()),
        state: if config.channels.webchat.enabled {
            ChannelState::Connected
        } else {
            ChannelState::Disabled
        },
        since_ms: crate::util::now_ms()
            - i64::try_from(rt.started.elapsed().as_millis()).unwrap_or(0),
        identity: Some("owner".to_owned()),
        last_error: None,
        reconnects: 0,
        failures: 0,
        dm_policy: "owner".to_owned(),
        group_policy: "disabled".to_owned(),
        capabilities: Some(ChannelCapabilities {
            edits: true,
            reactions: false,
            typing: true,
            threads: false,
            media: true,
            max_text_len: usize::MAX >> 1,
            format: "markdown".to_owned(),
        }),
        counts: ChannelCounts::default(),
        last_inbound_ms: None,
        last_outbound_ms: None,
    }
}

/// Starts the account's supervisor and outbound worker.
pub(crate) fn spawn(rt: &Arc<Runtime>, handle: Arc<AccountHandle>) {
    if matches!(
        handle.state(),
        ChannelState::Disabled | ChannelState::Unavailable
    ) {
        if handle.state() == ChannelState::Unavailable {
            handle.note_error(format!(
                "this build of Hearth was made without the `{}` channel",
                handle.channel()
            ));
        }
        return;
    }
    let rt = rt.clone();
    let span =
        tracing::info_span!("channel", channel = %handle.channel(), account = %handle.account());
    rt.clone().tasks.spawn(
        async move {
            let adapter = match super::build_adapter(&rt, &handle.config).await {
                Ok(a) => a,
                Err(e) => {
                    fail(&rt, &handle, &e);
                    return;
                }
            };
            let _ = handle.adapter.set(adapter.clone());
            rt.tasks
                .spawn(outbound_worker(rt.clone(), handle.clone(), adapter.clone()));
            super::inbound::recover(&rt, &handle).await;
            supervise(rt, handle, adapter).await;
        }
        .instrument(span),
    );
}

fn fail(rt: &Arc<Runtime>, handle: &AccountHandle, e: &ChannelError) {
    tracing::error!(channel = %handle.channel(), account = %handle.account(), error = %e,
        "channel account stopped; fix its settings (the config reloads by itself)");
    handle.set_state(ChannelState::Failed, Some(e.to_string()));
    super::publish_status(rt);
}

/// Connects, and reconnects with backoff and jitter until the account is stopped.
async fn supervise(rt: Arc<Runtime>, handle: Arc<AccountHandle>, adapter: Arc<dyn ChannelAdapter>) {
    let span =
        tracing::info_span!("channel", channel = %handle.channel(), account = %handle.account());
    let _enter = span.enter();
    drop(_enter);
    let mut backoff = MIN_BACKOFF;
    // Who the bot is, for status; a refused credential stops the account here already.
    match adapter.probe().await {
        Ok(identity) => lock(&handle.state).identity = Some(identity.name),
        Err(e @ (ChannelError::Auth(_) | ChannelError::Config(_))) => {
            fail(&rt, &handle, &e);
            return;
        }
        Err(e) => handle.note_error(e.to_string()),
    }
    loop {
        if handle.cancel.is_cancelled() {
            return;
        }
        if rt.channels.is_paused() {
            handle.set_state(ChannelState::Paused, None);
            tokio::select! {
                () = handle.cancel.cancelled() => return,
                () = handle.pause.notified() => continue,
            }
        }
        let run_cancel = handle.cancel.child_token();
        let pause_watch = {
            let run_cancel = run_cancel.clone();
            let rt = rt.clone();
            let handle = handle.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = run_cancel.cancelled() => return,
                        () = handle.pause.notified() => {
                            if rt.channels.is_paused() {
                                run_cancel.cancel();
                                return;
                            }
                        }
                    }
                }
            })
        };
        let on_connected = {
            let rt = rt.clone();
            let handle = handle.clone();
            Arc::new(move || {
                {
                    let mut s = lock(&handle.state);
                    s.failures = 0;
                }
                if handle.set_state(ChannelState::Connected, None) {
                    tracing::info!(channel = %handle.channel(), account = %handle.account(), "channel connected");
                }
                let rt2 = rt.clone();
                let h2 = handle.clone();
                tokio::spawn(async move {
                    // Whatever waited for the connection goes out now.
                    let _ = rt2.store.outbound_due_now(h2.channel(), h2.account()).await;
                    h2.wake.notify_waiters();
                    super::publish_status(&rt2);
                });
            }) as Arc<dyn Fn() + Send + Sync>
        };
        let sink = Arc::new(super::inbound::Sink::new(rt.clone(), handle.clone()));
        let ctx = RunContext {
            cancel: run_cancel.clone(),
            sink,
            on_connected,
        };
        let result = adapter.run(ctx).await;
        run_cancel.cancel();
        pause_watch.abort();
        if handle.cancel.is_cancelled() {
            return;
        }
        match result {
            Ok(()) if rt.channels.is_paused() => continue,
            Err(e @ (ChannelError::Auth(_) | ChannelError::Config(_))) => {
                fail(&rt, &handle, &e);
                return;
            }
            other => {
                let error = match other {
                    Ok(()) => "the connection ended".to_owned(),
                    Err(e) => e.to_string(),
                };
                let failures = {
                    let mut s = lock(&handle.state);
                    s.failures += 1;
                    s.reconnects += 1;
                    if s.failures == 1 {
                        backoff = MIN_BACKOFF;
                    }
                    s.failures
                };
                handle.set_state(ChannelState::Retrying, Some(error.clone()));
                if failures == DOWN_AFTER {
                    tracing::error!(channel = %handle.channel(), account = %handle.account(), %error, failures,
                        "channel keeps failing to connect; still retrying");
                } else {
                    tracing::warn!(channel = %handle.channel(), account = %handle.account(), %error,
                        "channel connection lost; reconnecting");
                }
                super::publish_status(&rt);
                let wait = jitter(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                tokio::select! {
                    () = handle.cancel.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

fn jitter(d: Duration) -> Duration {
    let factor = rand::thread_rng().gen_range(0.75..1.25);
    d.mul_f64(factor)
}

/// The delay before retry number `attempt` (1-based), at least what the platform asked for;
/// `None` after the last retry.
pub(crate) fn retry_delay(attempt: u32, asked: Option<Duration>) -> Option<Duration> {
    let base = RETRY_DELAYS.get(usize::try_from(attempt).ok()?.checked_sub(1)?)?;
    // The platform's own wait wins when it gave one: it knows its limits.
    Some(asked.map_or(*base, |a| a.min(hearth_channels::http::MAX_RETRY_AFTER)))
}

/// Sends the account's queued messages: each chat's oldest first; a failed one is retried later
/// and holds back the rest of its chat.
async fn outbound_worker(
    rt: Arc<Runtime>,
    handle: Arc<AccountHandle>,
    adapter: Arc<dyn ChannelAdapter>,
) {
    loop {
        if handle.cancel.is_cancelled() {
            return;
        }
        let notified = handle.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if rt.channels.is_paused() {
            tokio::select! {
                () = handle.cancel.cancelled() => return,
                () = &mut notified => continue,
            }
        }
        let due = match rt
            .store
            .due_outbound(handle.channel(), handle.account(), now_ms(), 32)
            .await
        {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "reading the outbound queue failed");
                Vec::new()
            }
        };
        let mut changed = false;
        for row in &due {
            if handle.cancel.is_cancelled() {
                return;
            }
            changed = true;
            deliver(&rt, &handle, adapter.as_ref(), row).await;
        }
        if changed {
            super::publish_status(&rt);
            continue;
        }
        let next = rt
            .store
            .next_outbound_at(handle.channel(), handle.account())
            .await
            .ok()
            .flatten();
        let wait = next.map_or(Duration::from_secs(60), |at| {
            Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0))
                .min(Duration::from_secs(60))
        });
        tokio::select! {
            () = handle.cancel.cancelled() => return,
            () = &mut notified => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

async fn deliver(
    rt: &Runtime,
    handle: &AccountHandle,
    adapter: &dyn ChannelAdapter,
    row: &hearth_store::OutboundRow,
) {
    let out: Outbound = match serde_json::from_str(&row.payload) {
        Ok(out) => out,
        Err(e) => {
            let error = format!("unreadable queued message: {e}");
            crate::audit::outbound(
                rt,
                row,
                &row.chat_key,
                crate::audit::OutboundStatus::GaveUp,
                Some(&error),
            );
            let _ = rt.store.outbound_failed(row.seq, &error, None).await;
            return;
        }
    };
    let mut result = adapter.send(&out).await;
    // The message to edit may be gone (deleted by the user): send the text as a new message.
    if let (
        Err(ChannelError::Permanent(_)),
        hearth_channels::Content::Text {
            text,
            edit_of: Some(_),
        },
    ) = (&result, &out.content)
    {
        let fresh = Outbound {
            target: out.target.clone(),
            content: hearth_channels::Content::Text {
                text: text.clone(),
                edit_of: None,
            },
        };
        result = adapter.send(&fresh).await;
    }
    match result {
        Ok(sent) => {
            crate::audit::outbound(
                rt,
                row,
                &out.target.chat_id,
                crate::audit::OutboundStatus::Sent,
                None,
            );
            handle.counters.sent.fetch_add(1, Ordering::Relaxed);
            handle.note_outbound();
            if let Err(e) = rt.store.outbound_sent(row.seq, &sent.message_id).await {
                tracing::warn!(error = %e, seq = row.seq, "recording a sent message failed");
            }
        }
        Err(e) => {
            handle
                .counters
                .send_failures
                .fetch_add(1, Ordering::Relaxed);
            let attempt = row.attempts + 1;
            let next = if e.is_retryable() {
                retry_delay(attempt, e.retry_after())
            } else {
                None
            };
            match next {
                Some(wait) => {
                    crate::audit::outbound(
                        rt,
                        row,
                        &out.target.chat_id,
                        crate::audit::OutboundStatus::Failed,
                        Some(&e.to_string()),
                    );
                    tracing::warn!(channel = %handle.channel(), account = %handle.account(), seq = row.seq,
                        attempt, error = %e, retry_in_ms = wait.as_millis() as u64, "send failed; will retry");
                    let at = now_ms() + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
                    let _ = rt
                        .store
                        .outbound_failed(row.seq, &e.to_string(), Some(at))
                        .await;
                }
                None => {
                    crate::audit::outbound(
                        rt,
                        row,
                        &out.target.chat_id,
                        crate::audit::OutboundStatus::GaveUp,
                        Some(&e.to_string()),
                    );
                    tracing::error!(channel = %handle.channel(), account = %handle.account(), seq = row.seq,
                        attempt, error = %e, "message not delivered; giving up");
                    handle.note_error(format!("a message was not delivered: {e}"));
                    let _ = rt
                        .store
                        .outbound_failed(row.seq, &e.to_string(), None)
                        .await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_and_honour_retry_after() {
        assert_eq!(retry_delay(1, None), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(5, None), Some(Duration::from_secs(1800)));
        assert_eq!(retry_delay(6, None), None);
        assert_eq!(retry_delay(0, None), None);
        assert_eq!(
            retry_delay(1, Some(Duration::from_secs(30))),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_delay(2, Some(Duration::from_millis(1500))),
            Some(Duration::from_millis(1500))
        );
    }
}
