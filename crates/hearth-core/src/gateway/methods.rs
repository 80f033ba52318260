//! What each WebSocket method does. The WebSocket layer parses frames and calls [`dispatch`];
//! the Tauri shell can call the same function in-process.
//!
//! Chat and sessions are answered here; the Control UI's other areas have a file each beside
//! this one: `methods_config` (config and secrets), `methods_usage` (usage and recent runs),
//! `logs` (log tail), `onboarding`, `providers_test` and `methods_desktop`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use hearth_protocol::events::{Event, SessionChange, SessionsChanged};
use hearth_protocol::frame::{ErrorCode, ErrorShape};
use hearth_protocol::methods::*;
use hearth_protocol::transcript::{ContentBlock, Message, Role};
use hearth_store::{NewSession, SessionFilter, TranscriptEntry};
use serde::Serialize;
use serde_json::Value;

use crate::agent::compaction::{self, CompactionDone};
use crate::agent::tools::ToolBox;
use crate::agent::{TurnRequest, TurnSession};
use crate::agents::Agent;
use crate::commands::{ModelChoice, SlashCommand};
use crate::runtime::Runtime;
use crate::sessions::{agent_of_key, resolve_key};
use crate::util::{new_id, truncate_chars};

use super::{
    logs, methods_channels, methods_config, methods_desktop, methods_sessions, methods_usage,
    onboarding, providers_test,
};

pub(super) type MethodResult = Result<Value, ErrorShape>;

pub(super) fn ok<T: Serialize>(value: T) -> MethodResult {
    serde_json::to_value(value).map_err(|e| ErrorShape::new(ErrorCode::Internal, e.to_string()))
}

pub(super) fn store_error(e: hearth_store::StoreError) -> ErrorShape {
    tracing::error!(error = %e, "store error while answering a request");
    ErrorShape::new(
        ErrorCode::Internal,
        "the gateway's store failed; see the gateway log",
    )
}

pub(super) fn invalid(message: impl Into<String>) -> ErrorShape {
    ErrorShape::new(ErrorCode::InvalidRequest, message)
}

/// Runs one parsed request.
pub async fn dispatch(rt: &Arc<Runtime>, request: Request) -> MethodResult {
    match request {
        Request::Connect(_) => Err(invalid(
            "already connected: `connect` is only the first frame",
        )),
        Request::Health(_) => ok(HealthResult {
            ok: true,
            version: crate::VERSION.to_owned(),
            uptime_ms: uptime_ms(rt),
        }),
        Request::Status(_) => status(rt).await,
        Request::ChatSend(p) => chat_send(rt, p).await,
        Request::ChatHistory(p) => chat_history(rt, p).await,
        Request::ChatAbort(p) => {
            let live = rt.live();
            let agent = live.agents.default_agent();
            let key = resolve_key(
                p.session_key.as_deref(),
                &agent.id,
                &live.config.session.main_key,
            )
            .map_err(invalid)?;
            let run_ids = rt.sessions.abort(&key, p.run_id.as_deref());
            ok(ChatAbortResult {
                aborted: !run_ids.is_empty(),
                run_ids,
            })
        }
        Request::SessionsList(p) => {
            let filter = SessionFilter::from(&p);
            let sessions = rt.store.list_sessions(&filter).await.map_err(store_error)?;
            ok(SessionsListResult {
                sessions: sessions.iter().map(|s| s.to_info()).collect(),
            })
        }
        Request::SessionsPreview(p) => sessions_preview(rt, p).await,
        Request::SessionsReset(p) => {
            let key = full_key(rt, &p.key)?;
            rt.sessions.abort(&key, None);
            let previous = rt.store.reset_session(&key).await.map_err(store_error)?;
            rt.sessions.forget(&key);
            publish_change(rt, &key, previous.clone(), SessionChange::Reset);
            ok(SessionsResetResult {
                key,
                previous_session_id: previous,
            })
        }
        Request::SessionsDelete(p) => {
            let key = full_key(rt, &p.key)?;
            rt.sessions.abort(&key, None);
            let deleted = rt.store.delete_sessions(&key).await.map_err(store_error)?;
            rt.sessions.forget(&key);
            if deleted > 0 {
                publish_change(rt, &key, None, SessionChange::Deleted);
            }
            ok(SessionsDeleteResult { key, deleted })
        }
        Request::SessionsCompact(p) => sessions_compact(rt, p).await,
        Request::SessionsFork(p) => methods_sessions::sessions_fork(rt, p).await,
        Request::ModelsList(_) => ok(ModelsListResult {
            models: rt.live().models.model_infos(),
        }),
        Request::ConfigGet(_) => methods_config::config_get(rt).await,
        Request::ConfigSchema(_) => ok(ConfigSchemaResult {
            schema: hearth_config::schema(),
        }),
        Request::ExecApprovalList(_) => ok(crate::agent::tools::approvals::list_method(rt)),
        Request::ExecApprovalResolve(p) => {
            ok(crate::agent::tools::approvals::resolve_method(rt, p).await?)
        }
        Request::SkillsList(p) => {
            let live = rt.live();
            let agent = match p.agent_id.as_deref() {
                Some(id) => live.agents.get(id).ok_or_else(|| {
                    ErrorShape::new(ErrorCode::NotFound, format!("no agent `{id}`"))
                })?,
                None => live.agents.default_agent(),
            };
            let registry = rt.context.skills(&rt.home, &live.config, agent);
            ok(registry.list_result())
        }
        Request::McpStatus(_) => ok(rt.mcp.status()),
        Request::ConfigValidate(p) => methods_config::config_validate(p),
        Request::ConfigSet(p) => methods_config::config_set(rt, p).await,
        Request::ConfigPatch(p) => methods_config::config_patch(rt, p).await,
        Request::SecretsList(_) => methods_config::secrets_list(rt).await,
        Request::SecretsSet(p) => methods_config::secrets_set(rt, p).await,
        Request::SecretsDelete(p) => methods_config::secrets_delete(rt, p).await,
        Request::ProvidersTest(p) => providers_test::providers_test(rt, p).await,
        Request::OnboardingApply(p) => onboarding::onboarding_apply(rt, p).await,
        Request::UsageSummary(p) => methods_usage::usage_summary(rt, p).await,
        Request::RunsRecent(p) => methods_usage::runs_recent(rt, p).await,
        Request::LogsTail(p) => logs::logs_tail(rt, p).await,
        Request::DesktopGet(_) => methods_desktop::desktop_get(rt).await,
        Request::ChannelsStatus(_) => methods_channels::channels_status(rt).await,
        Request::ChannelsAdd(p) => methods_channels::channels_add(rt, p).await,
        Request::ChannelsTest(p) => methods_channels::channels_test(rt, p).await,
        Request::ChannelsRemove(p) => methods_channels::channels_remove(rt, p).await,
        Request::ChannelsPause(p) => methods_channels::channels_pause(rt, p).await,
        Request::PairingList(_) => methods_channels::pairing_list(rt).await,
        Request::PairingApprove(p) => methods_channels::pairing_decide(rt, p, true).await,
        Request::PairingDeny(p) => methods_channels::pairing_decide(rt, p, false).await,
        Request::PairingRevoke(p) => methods_channels::pairing_revoke(rt, p).await,
        Request::DesktopAutostartSet(p) => methods_desktop::desktop_autostart_set(rt, p).await,
        Request::AgentsList(_) => super::methods_agents::agents_list(rt).await,
        Request::AgentsAdd(p) => super::methods_agents::agents_add(rt, p).await,
        Request::AgentsRemove(p) => super::methods_agents::agents_remove(rt, p).await,
        Request::BindingsList(_) => super::methods_agents::bindings_list(rt).await,
        Request::BindingsAdd(p) => super::methods_agents::bindings_add(rt, p).await,
        Request::BindingsRemove(p) => super::methods_agents::bindings_remove(rt, p).await,
        Request::RouteExplain(p) => super::methods_agents::route_explain(rt, p).await,
        Request::IdentityList(_) => super::methods_agents::identity_list(rt).await,
        Request::IdentityLinkStart(p) => super::methods_agents::identity_link_start(rt, p).await,
        Request::IdentityLinkConfirm(p) => {
            super::methods_agents::identity_link_confirm(rt, p).await
        }
        Request::IdentityUnlink(p) => super::methods_agents::identity_unlink(rt, p).await,
        Request::BudgetsStatus(_) => methods_usage::budgets_status(rt).await,
        Request::AuditTail(p) => super::methods_audit::audit_tail(rt, p).await,
        Request::AuditSearch(p) => super::methods_audit::audit_search(rt, p).await,
        Request::CronList(_) => super::methods_cron::cron_list(rt).await,
        Request::CronAdd(p) => super::methods_cron::cron_add(rt, p).await,
        Request::CronEdit(p) => super::methods_cron::cron_edit(rt, p).await,
        Request::CronRemove(p) => super::methods_cron::cron_remove(rt, p).await,
        Request::CronRun(p) => super::methods_cron::cron_run(rt, p).await,
        Request::CronHistory(p) => super::methods_cron::cron_history(rt, p).await,
        Request::CronImport(p) => super::methods_cron::cron_import(rt, p).await,
        Request::HooksGet(p) => super::methods_hooks::hooks_get(rt, p).await,
        Request::HooksList(p) => super::methods_hooks::hooks_list(rt, p).await,
    }
}

fn uptime_ms(rt: &Runtime) -> u64 {
    u64::try_from(rt.started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

pub(super) fn publish_change(
    rt: &Runtime,
    key: &str,
    session_id: Option<String>,
    reason: SessionChange,
) {
    rt.bus.publish_with(|| {
        Event::SessionsChanged(SessionsChanged {
            key: key.to_owned(),
            session_id,
            reason,
        })
    });
}

/// A key as given, made full with the default agent when short.
pub(super) fn full_key(rt: &Runtime, given: &str) -> Result<String, ErrorShape> {
    let live = rt.live();
    resolve_key(
        Some(given),
        &live.agents.default_agent().id,
        &live.config.session.main_key,
    )
    .map_err(invalid)
}

async fn status(rt: &Arc<Runtime>) -> MethodResult {
    let live = rt.live();
    let secrets_backend = match rt.secrets().await {
        Ok(store) => store.info().kind.to_string(),
        Err(e) => format!("unavailable: {e}"),
    };
    let sessions = rt.store.count_sessions().await.map_err(store_error)?;
    ok(StatusResult {
        version: crate::VERSION.to_owned(),
        uptime_ms: uptime_ms(rt),
        pid: std::process::id(),
        listen: rt.listen_addr().map(|a| a.to_string()).unwrap_or_default(),
        state_dir: rt.home.root().display().to_string(),
        config_path: rt.config_path.display().to_string(),
        secrets_backend,
        default_agent: live.agents.default_agent().id.clone(),
        agents: live
            .agents
            .iter()
            .map(|a| AgentInfo {
                id: a.id.clone(),
                name: a.name.clone(),
                model: a.model.primary.clone().unwrap_or_default(),
                fallbacks: a.model.fallbacks.clone(),
                workspace: a.workspace.display().to_string(),
            })
            .collect(),
        providers: live.models.provider_infos(),
        sessions,
        active_runs: rt.sessions.active_runs() as u64,
        connections: rt.connections.load(Ordering::Relaxed),
        onboarding: OnboardingStatus {
            needed: onboarding::needed(&live),
        },
        desktop: DesktopStatus {
            available: rt.desktop().is_some(),
        },
    })
}

/// The agent a request names (by id or through a full session key), else the default.
fn pick_agent(
    rt: &Runtime,
    agent_id: Option<&str>,
    session_key: Option<&str>,
) -> Result<Agent, ErrorShape> {
    let live = rt.live();
    let wanted = agent_id.or_else(|| session_key.and_then(agent_of_key));
    match wanted {
        // The Control UI's chat is routed like any channel: a `webchat` binding picks its agent.
        None => {
            let route = crate::routing::route(
                &live.config,
                &live.agents,
                &crate::routing::RouteQuery::owner_webchat(),
            );
            Ok(live
                .agents
                .get(&route.agent_id)
                .unwrap_or_else(|| live.agents.default_agent())
                .clone())
        }
        Some(id) => live.agents.get(id).cloned().ok_or_else(|| {
            ErrorShape::new(
                ErrorCode::NotFound,
                format!("no agent `{id}` is configured (agents.list)"),
            )
        }),
    }
}

async fn chat_send(rt: &Arc<Runtime>, p: ChatSendParams) -> MethodResult {
    if rt.shutdown.is_cancelled() {
        return Err(ErrorShape::new(
            ErrorCode::Unavailable,
            "the gateway is shutting down",
        ));
    }
    if p.message.trim().is_empty() && p.attachments.is_empty() {
        return Err(invalid("message is empty"));
    }
    let input = user_message(p.message, p.attachments)?;
    let agent = pick_agent(rt, p.agent_id.as_deref(), p.session_key.as_deref())?;
    let main_key = rt.live().config.session.main_key.clone();
    let key = resolve_key(p.session_key.as_deref(), &agent.id, &main_key).map_err(invalid)?;
    if agent_of_key(&key) != Some(agent.id.as_str()) {
        return Err(invalid(format!(
            "session `{key}` belongs to another agent than `{}`",
            agent.id
        )));
    }
    let command = SlashCommand::parse_with_triggers(
        &input.plain_text(),
        &rt.live().config.session.reset_triggers,
    );
    if let Some(command) = command {
        return run_command(rt, command, &agent, key).await;
    }
    let run_id = new_id();
    if let Some(existing) = p
        .idempotency_key
        .as_deref()
        .and_then(|k| rt.sessions.claim_idempotency(k, &run_id))
    {
        return ok(ChatSendResult {
            run_id: existing,
            session_key: key,
            status: RunAcceptance::Duplicate,
            reply: None,
        });
    }
    let tools = ToolBox::for_agent(rt, &agent);
    let request = TurnRequest {
        run_id: run_id.clone(),
        agent,
        session: TurnSession::Persistent {
            key: key.clone(),
            channel: "webchat".to_owned(),
            // The Control UI's user is the owner, as a person (their linked identities).
            sender: Some(crate::routing::owner(
                &rt.live().config.session.identity_links,
            )),
        },
        input,
        extra_system: None,
        tools,
        cancel: rt.runs_cancel.child_token(),
        observer: None,
        context: crate::agent::TurnContext::default(),
    };
    // The outcome reaches clients as events (the run that answers a merged or steered message
    // publishes it); errors are logged and published there.
    let submission = crate::agent::queue::submit(rt, request);
    ok(ChatSendResult {
        run_id,
        session_key: key,
        status: if submission.queued() {
            RunAcceptance::Queued
        } else {
            RunAcceptance::Started
        },
        reply: None,
    })
}

/// Largest decoded attachment.
const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;

/// Image types every provider with image input accepts.
const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// The user's message: its text, then one image block per attachment.
fn user_message(text: String, attachments: Vec<ChatAttachment>) -> Result<Message, ErrorShape> {
    use base64::Engine as _;
    let mut content = Vec::with_capacity(1 + attachments.len());
    if !text.trim().is_empty() {
        content.push(ContentBlock::Text { text });
    }
    for (index, attachment) in attachments.into_iter().enumerate() {
        let ChatAttachment::Image {
            mime_type, data, ..
        } = attachment;
        let mime_type = mime_type.trim().to_ascii_lowercase();
        if !IMAGE_TYPES.contains(&mime_type.as_str()) {
            return Err(invalid(format!(
                "attachments[{index}]: `{mime_type}` is not a supported image type ({})",
                IMAGE_TYPES.join(", ")
            )));
        }
        // Base64 grows data by 4/3; refuse what cannot fit before decoding it.
        if data.len() > MAX_ATTACHMENT_BYTES / 3 * 4 + 8 {
            return Err(invalid(format!(
                "attachments[{index}] is larger than {} MiB",
                MAX_ATTACHMENT_BYTES / (1024 * 1024)
            )));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| invalid(format!("attachments[{index}] is not valid base64: {e}")))?;
        if decoded.len() > MAX_ATTACHMENT_BYTES {
            return Err(invalid(format!(
                "attachments[{index}] is larger than {} MiB",
                MAX_ATTACHMENT_BYTES / (1024 * 1024)
            )));
        }
        if decoded.is_empty() {
            return Err(invalid(format!("attachments[{index}] is empty")));
        }
        content.push(ContentBlock::Image {
            mime_type,
            data: data.trim().to_owned(),
        });
    }
    Ok(Message::new(Role::User, content))
}

/// Answers a slash command without a model.
async fn run_command(
    rt: &Arc<Runtime>,
    command: SlashCommand,
    agent: &Agent,
    key: String,
) -> MethodResult {
    let reply = command_reply(rt, command, agent, &key).await?;
    ok(ChatSendResult {
        run_id: new_id(),
        session_key: key,
        status: RunAcceptance::Command,
        reply: Some(reply),
    })
}

/// Runs a slash command the gateway answers itself (from the web chat or a channel) on the
/// session `key`; answers the text to show.
pub(crate) async fn command_reply(
    rt: &Arc<Runtime>,
    command: SlashCommand,
    agent: &Agent,
    key: &str,
) -> Result<String, ErrorShape> {
    let key = key.to_owned();
    let reply = match command {
        SlashCommand::Reset => {
            rt.sessions.abort(&key, None);
            let previous = rt.store.reset_session(&key).await.map_err(store_error)?;
            rt.sessions.forget(&key);
            if previous.is_some() {
                publish_change(rt, &key, previous, SessionChange::Reset);
                "Started a new session. The previous conversation is kept (`hearth sessions list --all`).".to_owned()
            } else {
                "This session is already empty.".to_owned()
            }
        }
        SlashCommand::Stop => match rt.sessions.abort(&key, None).len() {
            0 => "Nothing is running.".to_owned(),
            1 => "Stopped.".to_owned(),
            n => format!("Stopped {n} runs."),
        },
        SlashCommand::Status => status_text(rt, agent, &key).await?,
        SlashCommand::Compact => compact_text(rt, agent, &key).await?,
        SlashCommand::Model(choice) => model_text(rt, agent, &key, choice).await?,
        // Channels answer these before they get here (they need the sender).
        SlashCommand::Link(_) | SlashCommand::Unlink => "`/link` and `/unlink` work in a \
            channel's direct chat; here, link identities with `hearth identity link`."
            .to_owned(),
    };
    Ok(reply)
}

/// `/status`: the session's model, size, tokens, cost and how full the context is.
async fn status_text(rt: &Arc<Runtime>, agent: &Agent, key: &str) -> Result<String, ErrorShape> {
    let live = rt.live();
    let session = rt.store.session_for_key(key).await.map_err(store_error)?;
    let overridden = session.as_ref().and_then(|s| s.model_override.clone());
    let current = overridden.clone().or_else(|| agent.model.primary.clone());
    let model = match (&current, &overridden) {
        (Some(m), Some(_)) => format!("{m} (set with /model for this session)"),
        (Some(m), None) => m.clone(),
        (None, _) => "none (set agents.defaults.model.primary)".to_owned(),
    };
    let window = current
        .as_deref()
        .and_then(|m| live.models.resolve(m).ok())
        .map(|m| m.def.context_window);
    let mut lines = vec![format!("Model: {model}")];
    if !agent.model.fallbacks.is_empty() {
        lines.push(format!("Fallbacks: {}", agent.model.fallbacks.join(", ")));
    }
    let Some(session) = session else {
        lines.push(format!("Session: {key}, no messages yet"));
        return Ok(lines.join("\n"));
    };
    let u = &session.usage;
    lines.push(format!(
        "Session: {key}, {} messages",
        session.message_count
    ));
    let cost = u.cost.map(|c| format!(", ${c:.4}")).unwrap_or_default();
    lines.push(format!(
        "Tokens: {} in, {} out, {} cache read, {} cache write{cost}",
        u.input, u.output, u.cache_read, u.cache_write
    ));
    let recent = rt
        .store
        .transcript(&session.id, Some(20))
        .await
        .map_err(store_error)?;
    let last_prompt = recent
        .iter()
        .rev()
        .find_map(|m| m.usage)
        .map(|u| u.input + u.cache_read + u.cache_write);
    if let (Some(used), Some(window)) = (last_prompt, window) {
        let pct = used.saturating_mul(100) / window.max(1);
        lines.push(format!("Context: {used} of {window} tokens ({pct}%)"));
    }
    Ok(lines.join("\n"))
}

/// Compacts a session now; shared by `/compact` and `sessions.compact`.
async fn compact_now(
    rt: &Arc<Runtime>,
    agent: &Agent,
    key: &str,
) -> Result<Option<CompactionDone>, ErrorShape> {
    let done = compaction::compact_session(rt, agent, key)
        .await
        .map_err(|e| e.shape())?;
    if done.is_some() {
        let id = rt.sessions.cached_id(key);
        publish_change(rt, key, id, SessionChange::Updated);
    }
    Ok(done)
}

/// `/compact`: what the compaction did, in words.
async fn compact_text(rt: &Arc<Runtime>, agent: &Agent, key: &str) -> Result<String, ErrorShape> {
    Ok(match compact_now(rt, agent, key).await? {
        Some(done) => format!(
            "Compacted: {} earlier messages summarised; context about {} → {} tokens. The full \
             conversation stays in the history.",
            done.messages_summarised, done.tokens_before, done.tokens_after
        ),
        None => "Nothing to compact: the conversation is still short.".to_owned(),
    })
}

async fn sessions_compact(rt: &Arc<Runtime>, p: SessionKeyParams) -> MethodResult {
    let key = full_key(rt, &p.key)?;
    let agent = pick_agent(rt, None, Some(&key))?;
    let done = compact_now(rt, &agent, &key).await?;
    ok(SessionsCompactResult {
        key,
        compacted: done.is_some(),
        messages_summarised: done.as_ref().map_or(0, |d| d.messages_summarised),
        tokens_before: done.as_ref().map_or(0, |d| d.tokens_before),
        tokens_after: done.as_ref().map_or(0, |d| d.tokens_after),
    })
}

/// `/model`: shows, sets or clears the session's own model.
async fn model_text(
    rt: &Arc<Runtime>,
    agent: &Agent,
    key: &str,
    choice: ModelChoice,
) -> Result<String, ErrorShape> {
    let configured: Vec<String> = rt
        .live()
        .models
        .model_infos()
        .into_iter()
        .map(|m| m.id)
        .collect();
    let agent_model = agent.model.primary.as_deref().unwrap_or("none");
    let session = rt.store.session_for_key(key).await.map_err(store_error)?;
    match choice {
        ModelChoice::Show => {
            let current = match session.as_ref().and_then(|s| s.model_override.as_deref()) {
                Some(m) => format!("{m} (this session; the agent's is {agent_model})"),
                None => format!("{agent_model} (the agent's)"),
            };
            Ok(format!(
                "Model: {current}\nAvailable: {}\nSwitch with `/model <provider/model>`, back with `/model default`.",
                configured.join(", ")
            ))
        }
        ModelChoice::Default => {
            if let Some(s) = session.filter(|s| s.model_override.is_some()) {
                rt.store
                    .set_model_override(&s.id, None)
                    .await
                    .map_err(store_error)?;
                rt.sessions.cache_override(&s.id, None);
            }
            Ok(format!(
                "This session uses the agent's model again: {agent_model}."
            ))
        }
        ModelChoice::Set(wanted) => {
            let Some(model) = configured.iter().find(|m| m.eq_ignore_ascii_case(&wanted)) else {
                return Err(invalid(format!(
                    "unknown model `{wanted}`; configured models: {}",
                    configured.join(", ")
                )));
            };
            let id = match session {
                Some(s) => s.id,
                None => {
                    let (record, _) = rt
                        .store
                        .ensure_session(NewSession {
                            key,
                            agent_id: &agent.id,
                            channel: "webchat",
                            sender: None,
                        })
                        .await
                        .map_err(store_error)?;
                    rt.sessions.cache_id(key, &record.id);
                    publish_change(rt, key, Some(record.id.clone()), SessionChange::Created);
                    record.id
                }
            };
            rt.store
                .set_model_override(&id, Some(model))
                .await
                .map_err(store_error)?;
            rt.sessions.cache_override(&id, Some(model.clone()));
            let fallbacks = if agent.model.fallbacks.is_empty() {
                String::new()
            } else {
                format!(" Fallbacks stay {}.", agent.model.fallbacks.join(", "))
            };
            Ok(format!("This session now uses {model}.{fallbacks}"))
        }
    }
}

async fn chat_history(rt: &Arc<Runtime>, p: ChatHistoryParams) -> MethodResult {
    let agent = pick_agent(rt, None, p.session_key.as_deref())?;
    let main_key = rt.live().config.session.main_key.clone();
    let key = resolve_key(p.session_key.as_deref(), &agent.id, &main_key).map_err(invalid)?;
    let session = rt.store.session_for_key(&key).await.map_err(store_error)?;
    let (session_id, messages) = match session {
        None => (None, Vec::new()),
        Some(s) => {
            let entries = rt
                .store
                .transcript_entries(&s.id, Some(p.limit.unwrap_or(200).min(1000)))
                .await
                .map_err(store_error)?;
            let messages = entries
                .into_iter()
                .map(|entry| match entry {
                    TranscriptEntry::Message(m) => m,
                    TranscriptEntry::Compaction(c) => compaction::summary_message(&c),
                })
                .collect();
            (Some(s.id), messages)
        }
    };
    ok(ChatHistoryResult {
        session_key: key,
        session_id,
        messages,
    })
}

async fn sessions_preview(rt: &Arc<Runtime>, p: SessionsPreviewParams) -> MethodResult {
    if p.keys.len() > 100 {
        return Err(invalid("at most 100 keys per preview"));
    }
    let limit = p.limit.unwrap_or(3).min(20);
    let mut previews = Vec::with_capacity(p.keys.len());
    for given in p.keys {
        let key = full_key(rt, &given)?;
        let session = rt.store.session_for_key(&key).await.map_err(store_error)?;
        let items = match &session {
            None => Vec::new(),
            Some(s) => rt
                .store
                .transcript(&s.id, Some(limit))
                .await
                .map_err(store_error)?
                .into_iter()
                .map(|m| PreviewItem {
                    role: m.role,
                    text: truncate_chars(&m.plain_text(), 240).to_owned(),
                    timestamp: m.timestamp,
                })
                .collect(),
        };
        previews.push(SessionPreview {
            key,
            found: session.is_some(),
            items,
        });
    }
    ok(SessionsPreviewResult { previews })
}
