//! Accepted webhook calls and their runs in the background.
//!
//! A call is recorded `queued` in the store, announced (`hook` event) and audited before its
//! `202` goes out. An agent call then waits for one of the scheduler's run slots
//! (`cron.maxConcurrentRuns`, shared with scheduled jobs so a flood of webhooks cannot start
//! unbounded runs), runs through [`proactive::run`] and records how it ended. A wake runs the
//! heartbeat, which records its own fire; the call follows that fire to its end. Runs are
//! tracked by `rt.tasks` and stopped by `rt.runs_cancel`; one stopped by shutdown ends
//! `interrupted`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use hearth_config::DeliveryTarget;
use hearth_protocol::cron::HookStatus;
use hearth_protocol::events::{Event, EventName};
use hearth_store::{FireRow, FireStatus, HookRunEnd, HookRunRow};
use http::StatusCode;
use tokio::sync::broadcast::{self, error::RecvError};

use super::Hooks;
use super::routes::internal;
use crate::audit::{AuditEvent, InboundRecord};
use crate::bus::BusEvent;
use crate::cron::heartbeat;
use crate::gateway::ApiError;
use crate::proactive::{self, Finished, ProactiveRun, RunSession};
use crate::runtime::Runtime;
use crate::util::new_id;

/// How often a wake call looks at its heartbeat fire when no event says it ended.
const FOLLOW_POLL: Duration = Duration::from_secs(2);

/// An agent run a call asks for.
#[derive(Debug)]
pub(super) struct AgentCall {
    /// `agent` or the mapping's name.
    pub(super) hook: String,
    pub(super) prompt: String,
    pub(super) agent_id: Option<String>,
    pub(super) session_key: Option<String>,
    pub(super) deliver: DeliveryTarget,
    pub(super) timeout: Option<Duration>,
}

/// Records the call and starts its run in the background: `202 {id, status, poll}`.
pub(super) async fn agent(
    hooks: &Arc<Hooks>,
    call: AgentCall,
    ip: IpAddr,
    prefix: &str,
) -> Result<Response, ApiError> {
    let rt = &hooks.rt;
    let row = accept(rt, &call.hook, ip, &call.prompt).await?;
    let task_hooks = hooks.clone();
    let id = row.id.clone();
    rt.tasks
        .spawn(async move { run_agent(task_hooks, id, call).await });
    Ok(accepted(&row.id, HookStatus::Queued, prefix, None))
}

/// Records the call and runs the heartbeat now: `202 {id, status, poll}`, with `error` when
/// the heartbeat could not start (nothing in `HEARTBEAT.md`, no workspace).
pub(super) async fn wake(
    hooks: &Arc<Hooks>,
    hook: &str,
    ip: IpAddr,
    prefix: &str,
) -> Result<Response, ApiError> {
    let rt = &hooks.rt;
    let row = accept(rt, hook, ip, "(wake the heartbeat)").await?;
    match heartbeat::wake(rt, "hook").await {
        Ok(fire_id) => {
            mark_running(rt, &row.id).await;
            let task_hooks = hooks.clone();
            let id = row.id.clone();
            rt.tasks
                .spawn(async move { follow_fire(task_hooks, id, fire_id).await });
            Ok(accepted(&row.id, HookStatus::Running, prefix, None))
        }
        Err(error) => {
            tracing::warn!(hook, %error, "a webhook could not wake the heartbeat");
            let end = HookRunEnd {
                status: HookStatus::Failed,
                ended_at: rt.now_ms(),
                run_id: None,
                session_key: None,
                output: None,
                error: Some(&error),
                delivered_to: None,
            };
            finish(rt, &row.id, &end).await;
            Ok(accepted(&row.id, HookStatus::Failed, prefix, Some(&error)))
        }
    }
}

/// Records an accepted call (`queued`), announces and audits it.
async fn accept(
    rt: &Arc<Runtime>,
    hook: &str,
    ip: IpAddr,
    message: &str,
) -> Result<HookRunRow, ApiError> {
    if rt.shutdown.is_cancelled() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "shutting_down",
            "the gateway is shutting down; send the call again later",
        ));
    }
    let row = rt
        .store
        .insert_hook_run(&new_id(), hook, rt.cron.instance(), rt.now_ms())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "recording a webhook call failed");
            internal()
        })?;
    tracing::info!(hook, id = %row.id, client = %ip, "webhook call accepted");
    rt.bus.publish(Event::Hook(row.to_run()));
    rt.audit.record(
        None,
        AuditEvent::Inbound(InboundRecord {
            channel: "hook".to_owned(),
            account: hook.to_owned(),
            chat_id: hook.to_owned(),
            peer_kind: "direct".to_owned(),
            sender: format!("hook:{ip}"),
            message_id: row.id.clone(),
            chars: u64::try_from(message.chars().count()).unwrap_or(u64::MAX),
            attachments: 0,
            text: rt.audit.records_content().then(|| message.to_owned()),
        }),
    );
    Ok(row)
}

fn accepted(id: &str, status: HookStatus, prefix: &str, error: Option<&str>) -> Response {
    let mut body = serde_json::json!({
        "id": id,
        "status": status,
        "poll": format!("{prefix}/runs/{id}"),
    });
    if let Some(error) = error {
        body["error"] = error.into();
    }
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

async fn run_agent(hooks: Arc<Hooks>, id: String, call: AgentCall) {
    let rt = &hooks.rt;
    let cancel = rt.runs_cancel.child_token();
    let slot = tokio::select! {
        slot = rt.cron.slots.clone().acquire_owned() => slot.ok(),
        () = cancel.cancelled() => {
            let end = interrupted(rt.now_ms());
            finish(rt, &id, &end).await;
            return;
        }
    };
    mark_running(rt, &id).await;
    let short = id.rsplit('-').next().unwrap_or(&id).to_owned();
    let session = match &call.session_key {
        Some(key) => RunSession::Named(key.clone()),
        None => RunSession::Isolated {
            label: format!("hook:{}:{short}", call.hook),
        },
    };
    let job = ProactiveRun {
        agent_id: call.agent_id.clone(),
        prompt: call.prompt,
        session,
        deliver: call.deliver,
        timeout: call.timeout,
        channel: "hook",
        quiet_token: None,
    };
    let finished = proactive::run(rt, job, cancel).await;
    drop(slot);
    let status = if finished.ok {
        HookStatus::Completed
    } else if rt.runs_cancel.is_cancelled() {
        HookStatus::Interrupted
    } else {
        HookStatus::Failed
    };
    let end = end_of(&finished, status, rt.now_ms());
    finish(rt, &id, &end).await;
    match &finished.error {
        Some(error) => tracing::warn!(hook = %call.hook, %id, %error, "webhook run failed"),
        None => {
            tracing::info!(hook = %call.hook, %id, to = ?finished.delivered_to, "webhook run done")
        }
    }
    hooks.prune_now_and_then().await;
}

fn end_of(finished: &Finished, status: HookStatus, now: i64) -> HookRunEnd<'_> {
    HookRunEnd {
        status,
        ended_at: now,
        run_id: Some(finished.run_id.as_str()).filter(|r| !r.is_empty()),
        session_key: Some(finished.session_key.as_str()).filter(|k| !k.is_empty()),
        output: finished.output.as_deref(),
        error: finished.error.as_deref(),
        delivered_to: finished.delivered_to.as_deref(),
    }
}

fn interrupted(now: i64) -> HookRunEnd<'static> {
    HookRunEnd {
        status: HookStatus::Interrupted,
        ended_at: now,
        run_id: None,
        session_key: None,
        output: None,
        error: Some("the gateway stopped before this call's run ended"),
        delivered_to: None,
    }
}

/// Waits for the heartbeat fire `fire_id` to end and records the call's end from it.
async fn follow_fire(hooks: Arc<Hooks>, id: String, fire_id: String) {
    let rt = &hooks.rt;
    let mut events = rt.bus.subscribe();
    loop {
        match rt.store.fire(&fire_id).await {
            Ok(Some(fire)) if fire.status != FireStatus::Running => {
                let end = end_of_fire(&fire);
                finish(rt, &id, &end).await;
                break;
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                let end = HookRunEnd {
                    error: Some("the heartbeat's fire is no longer stored"),
                    status: HookStatus::Failed,
                    ..interrupted(rt.now_ms())
                };
                finish(rt, &id, &end).await;
                break;
            }
            Err(e) => tracing::warn!(error = %e, "reading the heartbeat's fire failed"),
        }
        tokio::select! {
            () = rt.runs_cancel.cancelled() => {
                finish(rt, &id, &interrupted(rt.now_ms())).await;
                break;
            }
            () = fire_event(&mut events, &fire_id) => {}
            () = tokio::time::sleep(FOLLOW_POLL) => {}
        }
    }
    hooks.prune_now_and_then().await;
}

/// Returns once a `cron` event names `fire_id` (or events were missed).
async fn fire_event(events: &mut broadcast::Receiver<Arc<BusEvent>>, fire_id: &str) {
    loop {
        match events.recv().await {
            Ok(event) if event.name == EventName::Cron && event.payload_json.contains(fire_id) => {
                return;
            }
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => return,
            Err(RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

fn end_of_fire(fire: &FireRow) -> HookRunEnd<'_> {
    HookRunEnd {
        status: match fire.status {
            FireStatus::Completed => HookStatus::Completed,
            FireStatus::Interrupted => HookStatus::Interrupted,
            FireStatus::Running | FireStatus::Failed | FireStatus::Skipped => HookStatus::Failed,
        },
        ended_at: fire.ended_at.unwrap_or(fire.claimed_at),
        run_id: fire.run_id.as_deref(),
        session_key: fire.session_key.as_deref(),
        output: fire.output.as_deref(),
        error: fire.error.as_deref(),
        delivered_to: fire.delivered_to.as_deref(),
    }
}

async fn mark_running(rt: &Runtime, id: &str) {
    match rt.store.start_hook_run(id, None).await {
        Ok(_) => announce(rt, id).await,
        Err(e) => tracing::warn!(error = %e, %id, "recording a webhook run's start failed"),
    }
}

async fn finish(rt: &Runtime, id: &str, end: &HookRunEnd<'_>) {
    match rt.store.finish_hook_run(id, end).await {
        Ok(_) => announce(rt, id).await,
        Err(e) => tracing::error!(error = %e, %id, "recording a webhook run's end failed"),
    }
}

/// Publishes the call as stored now.
async fn announce(rt: &Runtime, id: &str) {
    if !rt.bus.has_subscribers() {
        return;
    }
    if let Ok(Some(row)) = rt.store.hook_run(id).await {
        rt.bus.publish(Event::Hook(row.to_run()));
    }
}
