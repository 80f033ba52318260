//! Incoming webhooks (`hooks`): other services start the agent through HTTP.
//!
//! Under the configured prefix (`hooks.path`, default `/hooks`):
//! - `POST <path>/wake` runs the heartbeat now (`cron::heartbeat::wake`);
//! - `POST <path>/agent` runs an agent on `{message, agentId?, sessionKey?, deliver?,
//!   timeoutSeconds?}`;
//! - `POST <path>/<name>` runs a configured mapping: its template filled from the JSON body;
//! - `GET <path>/runs/<id>` answers a call and its run (the `202`'s id), as does `hooks.get`.
//!
//! Every call is answered fast: recorded in the store (`hook_runs`) before the `202`, then run
//! in the background ([`calls`]). [`routes`] does the checks, in order: the webhook token (its
//! own, not the gateway's; in a header, never the query string), the body cap, the sender's
//! signature ([`signature`]), the mapping's rate ([`limit`]), the JSON body and the
//! [`template`]. The gateway's router hands these paths here ahead of its token guard
//! ([`intercept`]), reading the prefix from the live config so a reload moves it.

mod calls;
mod limit;
mod routes;
pub mod signature;
mod template;

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::runtime::Runtime;

/// Ended calls are kept this long, and at most [`KEEP_RUNS`] of them.
const KEEP_MS: i64 = 30 * 24 * 3600 * 1000;
const KEEP_RUNS: u32 = 10_000;
/// How often finished calls trigger a prune of old ones.
const PRUNE_EVERY_MS: i64 = 3600 * 1000;

/// What the webhook routes share: the runtime and each mapping's rate bucket.
#[derive(Debug)]
pub struct Hooks {
    rt: Arc<Runtime>,
    limits: limit::RateLimits,
    last_prune: Mutex<i64>,
}

impl Hooks {
    pub fn new(rt: Arc<Runtime>) -> Arc<Self> {
        let now = rt.now_ms();
        Arc::new(Self {
            rt,
            limits: limit::RateLimits::default(),
            last_prune: Mutex::new(now),
        })
    }
}

/// Router middleware: answers requests under `hooks.path` (404 while webhooks are off) and
/// passes every other request on to the gateway's guard.
pub async fn intercept(State(hooks): State<Arc<Hooks>>, request: Request, next: Next) -> Response {
    let live = hooks.rt.live();
    let prefix = &live.config.hooks.path;
    let Some(rest) = under(prefix, request.uri().path()).map(str::to_owned) else {
        drop(live);
        return next.run(request).await;
    };
    let prefix = prefix.clone();
    drop(live);
    routes::handle(&hooks, request, &prefix, &rest).await
}

/// The part of `path` after `prefix/`; `None` when `path` is not under the prefix.
fn under<'p>(prefix: &str, path: &'p str) -> Option<&'p str> {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() || !prefix.starts_with('/') {
        return None;
    }
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix('/')
    }
}

/// At start: calls left queued or running by a gateway process on this machine that is gone
/// are reported `interrupted` (never run again: the sender may retry), and old ones are pruned.
/// (Another machine's calls are its own to report.)
pub async fn recover(rt: &Arc<Runtime>) {
    let instances = match rt.store.unfinished_hook_instances().await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "reading unfinished webhook calls failed");
            return;
        }
    };
    for dead in instances
        .iter()
        .filter(|i| crate::cron::runner::instance_is_dead(i, rt.cron.instance()))
    {
        match rt.store.interrupt_hook_runs(dead, rt.now_ms()).await {
            Ok(rows) if !rows.is_empty() => tracing::warn!(
                count = rows.len(),
                "webhook calls were interrupted by the gateway's stop; their senders may retry"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "marking interrupted webhook calls failed"),
        }
    }
    prune(rt).await;
}

async fn prune(rt: &Runtime) {
    match rt
        .store
        .prune_hook_runs(rt.now_ms() - KEEP_MS, KEEP_RUNS)
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::debug!(pruned = n, "old webhook calls forgotten"),
        Err(e) => tracing::warn!(error = %e, "pruning old webhook calls failed"),
    }
}

impl Hooks {
    /// Prunes old calls at most once per [`PRUNE_EVERY_MS`].
    async fn prune_now_and_then(&self) {
        let now = self.rt.now_ms();
        {
            let mut last = crate::util::lock(&self.last_prune);
            if now - *last < PRUNE_EVERY_MS {
                return;
            }
            *last = now;
        }
        prune(&self.rt).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_the_prefix() {
        assert_eq!(under("/hooks", "/hooks/github"), Some("github"));
        assert_eq!(under("/hooks/", "/hooks/runs/abc"), Some("runs/abc"));
        assert_eq!(under("/hooks", "/hooks"), Some(""));
        assert_eq!(under("/in/hooks", "/in/hooks/wake"), Some("wake"));
        assert_eq!(under("/hooks", "/hooksx/wake"), None);
        assert_eq!(under("/hooks", "/v1/models"), None);
        assert_eq!(under("/", "/anything"), None);
        assert_eq!(under("", "/anything"), None);
    }
}
