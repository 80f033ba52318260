//! One agent turn, end to end. See the module doc of [`crate::agent`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hearth_protocol::events::{
    AgentEvent, AgentEventData, AttemptOutcome, ChatEvent, ChatState, Event, Lifecycle, Phase,
    SessionChange, SessionsChanged,
};
use hearth_protocol::frame::{ErrorCode, ErrorShape};
use hearth_protocol::transcript::{ContentBlock, Message, Role, StopReason, Usage};
use hearth_providers::{Completion, ModelRequest, ProviderError, StreamEvent, ToolSpec};
use hearth_store::{NewSession, RunRecord, RunStatus, StoreError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::compaction::{self, Compaction};
use super::tools::ToolBox;
use crate::agents::Agent;
use crate::models::{ModelLookupError, ResolvedModel};
use crate::runtime::Runtime;
use crate::sessions::ActiveRun;
use crate::util::now_ms;

/// Longest wait for a cooling provider before a turn gives up (honouring `Retry-After`).
const MAX_FAILOVER_WAIT: Duration = Duration::from_secs(10);

/// The same tool call (name and arguments) allowed this often in one turn; further repeats are
/// answered with an error, and two more stop the turn.
const MAX_IDENTICAL_CALLS: usize = 3;

/// Model calls in one turn before the loop is stopped.
const MAX_ITERATIONS: usize = 24;

/// Where a turn's conversation lives.
#[derive(Debug, Clone)]
pub enum TurnSession {
    /// A stored conversation under a session key.
    Persistent {
        key: String,
        channel: String,
        sender: Option<String>,
    },
    /// A request that brings its own history (the OpenAI-compatible endpoint without `user`):
    /// only the run is recorded.
    Stateless {
        label: String,
        /// The interface the request came through, for usage per channel.
        channel: String,
        history: Vec<Message>,
    },
}

impl TurnSession {
    pub fn key(&self) -> &str {
        match self {
            TurnSession::Persistent { key, .. } => key,
            TurnSession::Stateless { label, .. } => label,
        }
    }

    /// Whom the turn answers, for a conversation with a person on a channel.
    pub fn sender(&self) -> Option<&str> {
        match self {
            TurnSession::Persistent { sender, .. } => sender.as_deref(),
            TurnSession::Stateless { .. } => None,
        }
    }

    pub fn channel(&self) -> &str {
        match self {
            TurnSession::Persistent { channel, .. } | TurnSession::Stateless { channel, .. } => {
                channel
            }
        }
    }
}

/// Everything one turn needs.
#[derive(Debug)]
pub struct TurnRequest {
    pub run_id: String,
    pub agent: Agent,
    pub session: TurnSession,
    /// The user's message.
    pub input: Message,
    /// Added to the system prompt for this turn only.
    pub extra_system: Option<String>,
    pub tools: ToolBox,
    pub cancel: CancellationToken,
    /// Receives the turn's steps as they happen (the HTTP endpoint streams from it).
    pub observer: Option<mpsc::UnboundedSender<TurnEvent>>,
    /// Where the turn stands: its binding, memory and place among sub-agents.
    pub context: TurnContext,
}

/// Where a turn stands, beyond its session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TurnContext {
    /// The name of the binding that routed the message (its audit log); `None` for the
    /// gateway's own log (Control UI, HTTP API).
    pub binding: Option<String>,
    /// The memory directory of the conversation (`MEMORY.md` and `memory/`), relative to the
    /// agent's workspace; `None` for the workspace's own (the owner's).
    pub memory_dir: Option<std::path::PathBuf>,
    /// 0 for a person's message; a sub-agent's turn is one deeper than its parent's.
    pub depth: u32,
    /// For a sub-agent's turn, the run that spawned it.
    pub parent_run_id: Option<String>,
}

/// A step of a turn, for an observer.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    TextDelta(String),
    ThinkingDelta(String),
}

/// A finished turn.
#[derive(Debug, Clone)]
pub struct TurnOutcome {
    pub run_id: String,
    pub session_key: String,
    pub session_id: Option<String>,
    /// The closing assistant message.
    pub message: Message,
    /// Tokens and cost of every model call of the turn.
    pub usage: Usage,
    /// `provider/model`.
    pub model: String,
    pub stop_reason: StopReason,
    /// Time spent waiting for the model, for the gateway's own overhead figure.
    pub model_time: Duration,
}

/// Why a turn did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error(transparent)]
    Model(#[from] ModelLookupError),
    #[error("{0}")]
    Provider(#[from] ProviderError),
    #[error("the run was aborted")]
    Aborted,
    #[error("the run took longer than {0} s (agents.defaults.timeoutSeconds)")]
    Timeout(u64),
    #[error("storing the conversation failed: {0}")]
    Store(#[from] StoreError),
    #[error("the model called tools {0} times without answering; stopped")]
    TooManyIterations(usize),
    #[error("the model's answer ended without a completion")]
    Incomplete,
    #[error("the model kept calling `{0}` with the same arguments; stopped the run")]
    LoopDetected(String),
    #[error("every model failed: {}; last error: {last}", tried.join(", "))]
    AllFailed {
        tried: Vec<String>,
        last: ProviderError,
    },
    /// A spending cap with `action: stop` is reached; the text is for the person who asked.
    #[error("{0}")]
    Budget(String),
}

impl TurnError {
    /// The error as clients see it.
    pub fn shape(&self) -> ErrorShape {
        match self {
            TurnError::Model(e) => ErrorShape::new(ErrorCode::ProviderError, e.to_string()),
            TurnError::Provider(e) | TurnError::AllFailed { last: e, .. } => {
                let mut shape = ErrorShape::new(ErrorCode::ProviderError, self.to_string())
                    .with_details(serde_json::json!({ "kind": e.kind() }));
                if e.is_retryable() {
                    let ms = e
                        .retry_after()
                        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                    shape = shape.retry_after(ms);
                }
                shape
            }
            TurnError::Aborted => ErrorShape::new(ErrorCode::Conflict, self.to_string()),
            TurnError::Timeout(_)
            | TurnError::TooManyIterations(_)
            | TurnError::Incomplete
            | TurnError::LoopDetected(_) => {
                ErrorShape::new(ErrorCode::ProviderError, self.to_string())
            }
            TurnError::Store(_) => ErrorShape::new(ErrorCode::Internal, self.to_string()),
            TurnError::Budget(_) => ErrorShape::new(ErrorCode::RateLimited, self.to_string())
                .with_details(serde_json::json!({ "kind": "budget" })),
        }
    }

    fn status(&self) -> RunStatus {
        match self {
            TurnError::Aborted => RunStatus::Aborted,
            _ => RunStatus::Failed,
        }
    }
}

/// Runs one turn. Waits for earlier runs of the same session first.
pub async fn run_turn(rt: &Arc<Runtime>, req: TurnRequest) -> Result<TurnOutcome, TurnError> {
    let span = tracing::info_span!("turn", run_id = %req.run_id, session = %req.session.key(), agent = %req.agent.id);
    run_turn_inner(rt, req).instrument(span).await
}

async fn run_turn_inner(rt: &Arc<Runtime>, req: TurnRequest) -> Result<TurnOutcome, TurnError> {
    let started_at = now_ms();
    let session_key = req.session.key().to_owned();
    let run_id = req.run_id.clone();
    let cancel = req.cancel.clone();

    // Serialise runs of one session; a stateless request has no session to protect.
    let _session_guard = match &req.session {
        TurnSession::Persistent { key, .. } => {
            let (lock, _) = rt.sessions.session_lock(key);
            tokio::select! {
                guard = lock.lock_owned() => Some(guard),
                () = cancel.cancelled() => return Err(finish_aborted_before_start(rt, &req, started_at).await),
            }
        }
        TurnSession::Stateless { .. } => None,
    };
    // A sub-agent runs within its parent's slot: the parent waits for it, so taking a slot of
    // its own could deadlock once parents hold them all (`subagents.maxConcurrent` bounds them).
    let _slot = if req.context.depth > 0 {
        None
    } else {
        tokio::select! {
            permit = rt.run_slots.clone().acquire_owned() => permit.ok(),
            () = cancel.cancelled() => return Err(finish_aborted_before_start(rt, &req, started_at).await),
        }
    };
    rt.sessions.register_run(
        &run_id,
        ActiveRun {
            session_key: session_key.clone(),
            cancel: cancel.clone(),
        },
    );

    let live = rt.live();
    let model_ref = req.agent.model.primary.clone();
    publish_agent(
        rt,
        &run_id,
        &session_key,
        AgentEventData::Lifecycle(Lifecycle {
            phase: Phase::Start,
            model: model_ref.clone(),
            duration_ms: None,
            error: None,
        }),
    );

    let timeout_s = live.config.agents.defaults.timeout_seconds.max(1);
    let turn = Turn {
        rt,
        req: &req,
        live: &live,
        run_id: &run_id,
        session_key: &session_key,
    };
    let result = tokio::select! {
        r = tokio::time::timeout(Duration::from_secs(timeout_s), turn.execute()) => match r {
            Ok(r) => r,
            Err(_) => Err(TurnError::Timeout(timeout_s)),
        },
        () = cancel.cancelled() => Err(TurnError::Aborted),
    };
    // Whichever part noticed the cancellation first (the provider's stream, or the select above),
    // the run was aborted.
    let result = match result {
        Err(_) if cancel.is_cancelled() => Err(TurnError::Aborted),
        other => other,
    };
    rt.sessions.finish_run(&run_id);
    let duration_ms = u64::try_from(now_ms().saturating_sub(started_at)).unwrap_or(0);

    match result {
        Ok(TurnDone {
            outcome,
            history,
            new_messages,
        }) => {
            let run = RunRecord {
                id: run_id.clone(),
                session_id: outcome.session_id.clone(),
                session_key: session_key.clone(),
                agent_id: req.agent.id.clone(),
                channel: Some(req.session.channel().to_owned()),
                model: Some(outcome.model.clone()),
                status: RunStatus::Completed,
                input: req.input.plain_text(),
                error: None,
                usage: outcome.usage,
                started_at,
                ended_at: now_ms(),
                sender: req.session.sender().map(str::to_owned),
                parent_run_id: req.context.parent_run_id.clone(),
            };
            let stored = match &outcome.session_id {
                Some(sid) => rt.store.commit_turn(sid, &run, &new_messages).await,
                None => rt.store.record_run(&run).await,
            };
            if let Err(e) = stored {
                let err = TurnError::Store(e);
                publish_failure(rt, &run_id, &session_key, &err, duration_ms);
                return Err(err);
            }
            if let Some(sid) = &outcome.session_id {
                let mut next = Vec::with_capacity(history.len() + new_messages.len());
                next.extend(history.iter().cloned());
                next.extend(new_messages);
                compaction::cache_history(rt, sid, next);
            }
            if outcome.session_id.is_some() {
                rt.bus.publish_with(|| {
                    Event::SessionsChanged(SessionsChanged {
                        key: session_key.clone(),
                        session_id: outcome.session_id.clone(),
                        reason: SessionChange::Updated,
                    })
                });
            }
            rt.bus.publish_with(|| {
                Event::Chat(ChatEvent {
                    run_id: run_id.clone(),
                    session_key: session_key.clone(),
                    state: ChatState::Final,
                    delta: None,
                    message: Some(Box::new(outcome.message.clone())),
                    usage: Some(outcome.usage),
                    error: None,
                })
            });
            publish_agent(
                rt,
                &run_id,
                &session_key,
                AgentEventData::Lifecycle(Lifecycle {
                    phase: Phase::End,
                    model: Some(outcome.model.clone()),
                    duration_ms: Some(duration_ms),
                    error: None,
                }),
            );
            tracing::info!(model = %outcome.model, input = outcome.usage.input, output = outcome.usage.output, duration_ms, "turn completed");
            Ok(outcome)
        }
        Err(err) => {
            // Nothing of the turn enters the transcript; the run keeps the user's text.
            let run = RunRecord {
                id: run_id.clone(),
                session_id: rt
                    .sessions
                    .cached_id(&session_key)
                    .filter(|_| matches!(req.session, TurnSession::Persistent { .. })),
                session_key: session_key.clone(),
                agent_id: req.agent.id.clone(),
                channel: Some(req.session.channel().to_owned()),
                model: model_ref,
                status: err.status(),
                input: req.input.plain_text(),
                error: Some(err.to_string()),
                usage: Usage::default(),
                started_at,
                ended_at: now_ms(),
                sender: req.session.sender().map(str::to_owned),
                parent_run_id: req.context.parent_run_id.clone(),
            };
            if let Err(e) = rt.store.record_run(&run).await {
                tracing::error!(error = %e, "could not record a failed run");
            }
            publish_failure(rt, &run_id, &session_key, &err, duration_ms);
            if matches!(err, TurnError::Aborted) {
                tracing::info!("turn aborted");
            } else {
                tracing::warn!(error = %err, "turn failed");
            }
            Err(err)
        }
    }
}

/// Records a run aborted while it waited for its session or a slot.
async fn finish_aborted_before_start(
    rt: &Runtime,
    req: &TurnRequest,
    started_at: i64,
) -> TurnError {
    let run = RunRecord {
        id: req.run_id.clone(),
        session_id: None,
        session_key: req.session.key().to_owned(),
        agent_id: req.agent.id.clone(),
        channel: Some(req.session.channel().to_owned()),
        model: req.agent.model.primary.clone(),
        status: RunStatus::Aborted,
        input: req.input.plain_text(),
        error: Some("aborted before it started".to_owned()),
        usage: Usage::default(),
        started_at,
        ended_at: now_ms(),
        sender: req.session.sender().map(str::to_owned),
        parent_run_id: req.context.parent_run_id.clone(),
    };
    if let Err(e) = rt.store.record_run(&run).await {
        tracing::error!(error = %e, "could not record an aborted run");
    }
    publish_failure(rt, &req.run_id, req.session.key(), &TurnError::Aborted, 0);
    TurnError::Aborted
}

/// A turn that produced an answer, before it is stored.
struct TurnDone {
    outcome: TurnOutcome,
    /// The history the turn started from.
    history: Arc<Vec<Message>>,
    /// What the turn adds to the transcript.
    new_messages: Vec<Message>,
}

struct Turn<'a> {
    rt: &'a Arc<Runtime>,
    req: &'a TurnRequest,
    live: &'a crate::runtime::Live,
    run_id: &'a str,
    session_key: &'a str,
}

impl Turn<'_> {
    /// The model loop. Answers the outcome and the messages to append to the transcript.
    async fn execute(&self) -> Result<TurnDone, TurnError> {
        let rt = self.rt;
        let req = self.req;
        let mut model_override = None;
        let (session_id, mut history) = match &req.session {
            TurnSession::Persistent {
                key,
                channel,
                sender,
            } => {
                let id = self.session_id(key, channel, sender.as_deref()).await?;
                let history = compaction::load_history(rt, &id).await?;
                model_override = match rt.sessions.cached_override(&id) {
                    Some(known) => known,
                    None => {
                        let stored = rt.store.model_override(&id).await?;
                        rt.sessions.cache_override(&id, stored.clone());
                        stored
                    }
                };
                (Some(id), history)
            }
            TurnSession::Stateless { history, .. } => (None, Arc::new(history.clone())),
        };
        let mut messages: Vec<Message> = history.as_ref().clone();
        let model_override = crate::budgets::before_turn(rt, &self.live.config, req)
            .await?
            .or(model_override);
        let candidates = self.candidates(model_override.as_deref())?;
        let memory_dir = req.context.memory_dir.as_deref();
        if let Some(dir) = memory_dir {
            ensure_memory_dir(&req.agent.workspace.join(dir)).await;
        }
        let system = rt.context.system_prompt_scoped(
            &rt.home,
            &self.live.config,
            &req.agent,
            &jiff::Zoned::now(),
            req.extra_system.as_deref(),
            memory_dir,
        );
        let tool_specs = req.tools.specs();
        let compaction_settings = &self.live.config.agents.defaults.compaction;
        let overhead = compaction::overhead_tokens(&system, &tool_specs);
        // How many of `messages` are stored history (the rest is this turn's).
        let mut committed = history.len();

        let input = req.input.clone().at(now_ms());
        messages.push(input.clone());
        let mut new_messages = vec![input];
        let mut usage = Usage::default();
        let mut model_time = Duration::ZERO;

        let mut repeats: std::collections::HashMap<(String, String), usize> =
            std::collections::HashMap::new();
        for _ in 0..MAX_ITERATIONS {
            if let (Some(sid), Some(first)) = (&session_id, candidates.first()) {
                let compactor = Compaction {
                    rt,
                    agent: &req.agent,
                    session_id: sid,
                    session_key: self.session_key,
                    run_id: self.run_id,
                    cancel: &req.cancel,
                    tools: &req.tools,
                    system: &system,
                    overhead,
                    settings: compaction_settings,
                    turn: Some(&req.context),
                };
                let compacted = compactor
                    .maybe_compact(first, &candidates, &mut messages, &mut committed, false)
                    .await;
                match compacted {
                    Ok(Some(done)) => {
                        usage.add(&done.usage);
                        history = Arc::new(messages[..committed].to_vec());
                    }
                    Ok(None) => {}
                    Err(TurnError::Aborted) => return Err(TurnError::Aborted),
                    // The call may still fit; if not, the provider says so.
                    Err(e) => tracing::warn!(error = %e, "compaction failed"),
                }
            }
            let call_started = Instant::now();
            let (completion, model) = self
                .call_model(&candidates, &messages, &system, &tool_specs)
                .await?;
            model_time += call_started.elapsed();
            let mut call_usage = completion.usage;
            if call_usage.input == 0 && call_usage.output == 0 {
                // Some servers (llama-cpp-python, older vLLM) stream no usage at all; an
                // estimate keeps accounting and the context fill meaningful.
                call_usage = estimate_usage(&system, &messages, &completion.message);
                tracing::debug!(model = %model.reference, input = call_usage.input, output = call_usage.output, "the provider reported no usage; estimated it");
            }
            call_usage.cost = hearth_providers::cost_of(&call_usage, model.def.cost.as_ref());
            usage.add(&call_usage);
            crate::audit::model_request(
                rt,
                req,
                model,
                Ok((&call_usage, completion.request_id.as_deref())),
            );
            publish_agent(
                rt,
                self.run_id,
                self.session_key,
                AgentEventData::Usage {
                    model: model.reference.clone(),
                    usage: call_usage,
                },
            );

            let mut assistant = completion.message;
            assistant.model = Some(model.reference.clone());
            assistant.usage = Some(call_usage);
            assistant.stop_reason = Some(completion.stop_reason);
            assistant.timestamp = now_ms();
            let calls: Vec<(String, String, serde_json::Value)> = assistant
                .tool_calls()
                .map(|(id, name, args)| (id.to_owned(), name.to_owned(), args.clone()))
                .collect();
            messages.push(assistant.clone());
            new_messages.push(assistant.clone());

            if calls.is_empty() {
                let outcome = TurnOutcome {
                    run_id: self.run_id.to_owned(),
                    session_key: self.session_key.to_owned(),
                    session_id,
                    message: assistant,
                    usage,
                    model: model.reference.clone(),
                    stop_reason: completion.stop_reason,
                    model_time,
                };
                return Ok(TurnDone {
                    outcome,
                    history,
                    new_messages,
                });
            }
            for (call_id, name, arguments) in calls {
                publish_agent(
                    rt,
                    self.run_id,
                    self.session_key,
                    AgentEventData::ToolStart {
                        tool_call_id: call_id.clone(),
                        name: name.clone(),
                        arguments: arguments.clone(),
                    },
                );
                let ctx = super::tools::ToolContext::new(
                    rt,
                    &req.agent,
                    self.session_key,
                    self.run_id,
                    &req.cancel,
                )
                .in_turn(&req.context)
                .answering(req.session.sender());
                // Loop detection: the same call with the same arguments, again and again.
                let fingerprint = (name.clone(), arguments.to_string());
                let args_sha256 = crate::audit::sha256_hex(&fingerprint.1);
                let seen = repeats.entry(fingerprint).or_insert(0);
                *seen += 1;
                if *seen > MAX_IDENTICAL_CALLS + 2 {
                    return Err(TurnError::LoopDetected(name));
                }
                let (output, duration_ms) = if *seen > MAX_IDENTICAL_CALLS {
                    let text = format!(
                        "refused: `{name}` was already called {MAX_IDENTICAL_CALLS} times in this turn with exactly these arguments; use the earlier results or try something different"
                    );
                    (super::tools::ToolOutput::error(text), 0)
                } else {
                    req.tools.call(&ctx, &name, arguments).await
                };
                crate::audit::tool_call(
                    rt,
                    req,
                    &name,
                    args_sha256,
                    &output,
                    duration_ms,
                    *seen > MAX_IDENTICAL_CALLS,
                );
                publish_agent(
                    rt,
                    self.run_id,
                    self.session_key,
                    AgentEventData::ToolEnd {
                        tool_call_id: call_id.clone(),
                        name: name.clone(),
                        is_error: output.is_error,
                        result_bytes: output.text.len() as u64,
                        duration_ms,
                    },
                );
                let mut result =
                    Message::tool_result(call_id, name, output.text, output.is_error).at(now_ms());
                result.duration_ms = Some(duration_ms);
                messages.push(result.clone());
                new_messages.push(result);
            }
            // `steer`: messages sent meanwhile join here, before the next model call.
            for steered in super::queue::take_steered(rt, self.session_key, self.run_id) {
                let steered = steered.at(now_ms());
                messages.push(steered.clone());
                new_messages.push(steered);
            }
        }
        Err(TurnError::TooManyIterations(MAX_ITERATIONS))
    }

    /// The session's model (its `/model` override, else the agent's primary) and the agent's
    /// fallbacks, resolved.
    fn candidates(&self, model_override: Option<&str>) -> Result<Vec<ResolvedModel>, TurnError> {
        candidates(&self.live.models, &self.req.agent.model, model_override)
    }
}

/// A primary model and its fallbacks, resolved; `model_override` (a session's `/model`) replaces
/// the primary while it resolves. A fallback that cannot be resolved is skipped (and logged);
/// the primary's failure is the error when nothing is left.
pub(crate) fn candidates(
    models: &crate::models::ModelRegistry,
    selection: &hearth_config::ModelSelection,
    model_override: Option<&str>,
) -> Result<Vec<ResolvedModel>, TurnError> {
    let usable_override = model_override.filter(|m| match models.resolve(m) {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(model = %m, error = %e, "the session's model cannot be used; using the agent's");
                false
            }
        });
    let primary = usable_override
        .or(selection.primary.as_deref())
        .ok_or(ModelLookupError::NotConfigured)?;
    let mut out = Vec::with_capacity(1 + selection.fallbacks.len());
    let mut first_error = None;
    for reference in std::iter::once(primary).chain(selection.fallbacks.iter().map(String::as_str))
    {
        match models.resolve(reference) {
            Ok(m) => out.push(m),
            Err(e) => {
                tracing::warn!(model = %reference, error = %e, "model cannot be used; skipping it");
                first_error.get_or_insert(e);
            }
        }
    }
    match (out.is_empty(), first_error) {
        (true, Some(e)) => Err(e.into()),
        _ => Ok(out),
    }
}

impl Turn<'_> {
    /// One model call with failover: each candidate model in order, each of its provider's keys
    /// in turn. Keys cooling down after recent failures go last, so they are tried only when
    /// everything else failed: a cooldown moves traffic to the alternatives, it never refuses
    /// service on its own. Retryable failures (network, timeouts, 5xx, 429, overloaded) and
    /// refused keys move on; a request the provider rejects as invalid or too long is not
    /// sprayed over the fallbacks; a stream that broke after output reached the user is reported
    /// as it is, never continued on another model. When everything failed and the last failure
    /// asked to retry after a short while (up to [`MAX_FAILOVER_WAIT`]), that wait is honoured
    /// once.
    async fn call_model<'m>(
        &self,
        candidates: &'m [ResolvedModel],
        messages: &[Message],
        system: &str,
        tools: &[ToolSpec],
    ) -> Result<(Completion, &'m ResolvedModel), TurnError> {
        let rt = self.rt;
        let mut ready = Vec::new();
        let mut cooling = Vec::new();
        for model in candidates {
            for key in 0..model.clients.len() {
                match rt.cooldowns.remaining(&model.provider_id, key) {
                    None => ready.push((model, key)),
                    Some(left) => {
                        let key_no = u32::try_from(key).unwrap_or(u32::MAX);
                        self.attempt_event(
                            model,
                            key_no,
                            AttemptOutcome::SkippedCoolingDown,
                            None,
                            Some(left),
                        );
                        cooling.push((left, model, key));
                    }
                }
            }
        }
        cooling.sort_by_key(|(left, _, _)| *left);
        let mut order: Vec<(&ResolvedModel, usize)> = ready;
        order.extend(cooling.into_iter().map(|(_, m, k)| (m, k)));

        let mut failures: Vec<(String, ProviderError)> = Vec::new();
        let mut waited = false;
        let mut i = 0;
        while i < order.len() {
            let (model, key) = order[i];
            let key_no = u32::try_from(key).unwrap_or(u32::MAX);
            let request = ModelRequest {
                model: model.model_id.clone(),
                system: Some(system.to_owned()),
                messages: for_provider(messages, &model.provider_id),
                tools: tools.to_vec(),
                max_tokens: Some(model.def.max_tokens),
                temperature: None,
            };
            let mut output_started = false;
            match self
                .stream_once(model.clients[key].as_ref(), request, &mut output_started)
                .await
            {
                Ok(completion) => {
                    rt.cooldowns.succeeded(&model.provider_id, key);
                    return Ok((completion, model));
                }
                Err(ProviderError::Cancelled) => return Err(TurnError::Aborted),
                Err(e) => {
                    crate::audit::model_request(rt, self.req, model, Err(&e));
                    let switch = !output_started
                        && (e.is_retryable() || matches!(e, ProviderError::Auth { .. }));
                    let cooldown = switch.then(|| {
                        rt.cooldowns
                            .failed(&model.provider_id, key, e.retry_after())
                    });
                    self.attempt_event(model, key_no, AttemptOutcome::Failed, Some(&e), cooldown);
                    tracing::warn!(model = %model.reference, key, kind = e.kind(), error = %e, output_started, "model call failed");
                    if !switch {
                        return Err(TurnError::Provider(e));
                    }
                    let short_wait = e.retry_after().filter(|w| *w <= MAX_FAILOVER_WAIT);
                    failures.push((model.reference.clone(), e));
                    i += 1;
                    if let Some(wait) = short_wait.filter(|_| i == order.len() && !waited) {
                        waited = true;
                        tracing::info!(
                            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(0),
                            "honouring Retry-After before one more try"
                        );
                        tokio::time::sleep(wait).await;
                        i -= 1;
                    }
                }
            }
        }
        Err(match failures.pop() {
            None => TurnError::Model(ModelLookupError::NotConfigured),
            Some((_, last)) if failures.is_empty() => TurnError::Provider(last),
            Some((model, last)) => {
                let mut tried: Vec<String> = failures
                    .iter()
                    .map(|(m, e)| format!("{m} ({})", e.kind()))
                    .collect();
                tried.push(format!("{model} ({})", last.kind()));
                tried.dedup();
                TurnError::AllFailed { tried, last }
            }
        })
    }

    /// Streams one model call, forwarding deltas. `output_started` turns true once any text
    /// reached the user.
    async fn stream_once(
        &self,
        client: &dyn hearth_providers::Provider,
        request: ModelRequest,
        output_started: &mut bool,
    ) -> Result<Completion, ProviderError> {
        let mut stream = client.stream(request, self.req.cancel.clone()).await?;
        let mut completion = None;
        while let Some(event) = stream.next().await {
            match event? {
                StreamEvent::TextDelta(delta) => {
                    *output_started = true;
                    self.text_delta(delta);
                }
                StreamEvent::ThinkingDelta(delta) => {
                    *output_started = true;
                    self.thinking_delta(delta);
                }
                StreamEvent::ToolCallStart { .. } | StreamEvent::ToolCallDelta { .. } => {}
                StreamEvent::Completed(c) => completion = Some(*c),
            }
        }
        completion.ok_or_else(|| ProviderError::StreamBroken {
            message: "the answer ended without a completion".to_owned(),
            output_started: *output_started,
        })
    }

    fn attempt_event(
        &self,
        model: &ResolvedModel,
        key: u32,
        outcome: AttemptOutcome,
        error: Option<&ProviderError>,
        cooldown: Option<Duration>,
    ) {
        publish_agent(
            self.rt,
            self.run_id,
            self.session_key,
            AgentEventData::Attempt {
                model: model.reference.clone(),
                key,
                outcome,
                error_kind: error.map(|e| e.kind().to_owned()),
                message: error.map(ToString::to_string),
                cooldown_ms: cooldown.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            },
        );
    }

    /// The active session id of `key`, created on first use.
    async fn session_id(
        &self,
        key: &str,
        channel: &str,
        sender: Option<&str>,
    ) -> Result<String, TurnError> {
        let session = &self.live.config.session;
        match crate::reset::rule_for(session, crate::reset::chat_type(key)) {
            // The common case: no automatic reset, and the id is known.
            None => {
                if let Some(id) = self.rt.sessions.cached_id(key) {
                    return Ok(id);
                }
            }
            Some(rule) => {
                if let Some(id) = self.reset_if_stale(key, &rule).await? {
                    self.rt.sessions.cache_id(key, &id);
                    return Ok(id);
                }
            }
        }
        let (record, created) = self
            .rt
            .store
            .ensure_session(NewSession {
                key,
                agent_id: &self.req.agent.id,
                channel,
                sender,
            })
            .await?;
        self.rt.sessions.cache_id(key, &record.id);
        if created {
            self.rt.bus.publish_with(|| {
                Event::SessionsChanged(SessionsChanged {
                    key: key.to_owned(),
                    session_id: Some(record.id.clone()),
                    reason: SessionChange::Created,
                })
            });
        }
        Ok(record.id)
    }

    /// Archives the session of `key` when its last activity is on the far side of `rule`
    /// (a daily roll-over, an idle gap), so the next lookup starts a new one; answers the id of
    /// the session when it is still current.
    async fn reset_if_stale(
        &self,
        key: &str,
        rule: &hearth_config::ResetConfig,
    ) -> Result<Option<String>, TurnError> {
        let Some(current) = self.rt.store.session_for_key(key).await? else {
            return Ok(None);
        };
        let now = self.rt.now_ms();
        let tz = jiff::tz::TimeZone::system();
        if !crate::reset::is_stale(rule, current.updated_at, now, &tz) {
            return Ok(Some(current.id));
        }
        let previous = self.rt.store.reset_session(key).await?;
        self.rt.sessions.forget(key);
        tracing::info!(session = %key, mode = ?rule.mode, "the session starts afresh (session.reset)");
        self.rt.bus.publish_with(|| {
            Event::SessionsChanged(SessionsChanged {
                key: key.to_owned(),
                session_id: previous.clone(),
                reason: SessionChange::Reset,
            })
        });
        Ok(None)
    }

    fn text_delta(&self, delta: String) {
        let (rt, run_id, key) = (self.rt, self.run_id, self.session_key);
        if rt.bus.has_subscribers() {
            rt.bus.publish(Event::Chat(ChatEvent {
                run_id: run_id.to_owned(),
                session_key: key.to_owned(),
                state: ChatState::Delta,
                delta: Some(delta.clone()),
                message: None,
                usage: None,
                error: None,
            }));
            publish_agent(
                rt,
                run_id,
                key,
                AgentEventData::Assistant {
                    delta: delta.clone(),
                },
            );
        }
        if let Some(obs) = &self.req.observer {
            let _ = obs.send(TurnEvent::TextDelta(delta));
        }
    }

    fn thinking_delta(&self, delta: String) {
        if self.rt.bus.has_subscribers() {
            publish_agent(
                self.rt,
                self.run_id,
                self.session_key,
                AgentEventData::Thinking {
                    delta: delta.clone(),
                },
            );
        }
        if let Some(obs) = &self.req.observer {
            let _ = obs.send(TurnEvent::ThinkingDelta(delta));
        }
    }
}

/// Rough token counts (about four characters a token) for a call whose provider reported none.
fn estimate_usage(system: &str, messages: &[Message], answer: &Message) -> Usage {
    let chars = |m: &Message| -> usize {
        m.content
            .iter()
            .map(|b| match b {
                ContentBlock::Text { text } => text.len(),
                ContentBlock::Thinking { thinking, .. } => thinking.len(),
                ContentBlock::ToolCall {
                    name, arguments, ..
                } => name.len() + arguments.to_string().len(),
                // Providers bill images by size; a flat figure is as good as any estimate here.
                ContentBlock::Image { .. } => 3_000,
            })
            .sum()
    };
    let prompt = system.len() + messages.iter().map(chars).sum::<usize>();
    let tokens = |n: usize| (n as u64).div_ceil(4).max(1);
    Usage {
        input: tokens(prompt),
        output: tokens(chars(answer)),
        ..Usage::default()
    }
}

/// The history as one provider may see it. Reasoning signatures are opaque tokens that only the
/// provider that issued them accepts back (Anthropic rejects a Gemini signature, and the other
/// way round), so after a failover or a `/model` switch they are dropped from other providers'
/// messages; the reasoning text itself stays.
pub(crate) fn for_provider(messages: &[Message], provider_id: &str) -> Vec<Message> {
    let ours = |m: &Message| {
        m.model
            .as_deref()
            .and_then(|r| r.split_once('/'))
            .is_some_and(|(p, _)| p == provider_id)
    };
    messages
        .iter()
        .map(|m| {
            let mut m = m.clone();
            if m.role == Role::Assistant && !ours(&m) {
                for block in &mut m.content {
                    if let ContentBlock::Thinking { signature, .. } = block {
                        *signature = None;
                    }
                }
            }
            m
        })
        .collect()
}

pub(crate) fn publish_agent(rt: &Runtime, run_id: &str, session_key: &str, data: AgentEventData) {
    rt.bus.publish_with(|| {
        Event::Agent(AgentEvent {
            run_id: run_id.to_owned(),
            session_key: session_key.to_owned(),
            data,
        })
    });
}

fn publish_failure(
    rt: &Runtime,
    run_id: &str,
    session_key: &str,
    err: &TurnError,
    duration_ms: u64,
) {
    let aborted = matches!(err, TurnError::Aborted);
    let shape = err.shape();
    rt.bus.publish_with(|| {
        Event::Chat(ChatEvent {
            run_id: run_id.to_owned(),
            session_key: session_key.to_owned(),
            state: if aborted {
                ChatState::Aborted
            } else {
                ChatState::Error
            },
            delta: None,
            message: None,
            usage: None,
            error: (!aborted).then(|| shape.clone()),
        })
    });
    publish_agent(
        rt,
        run_id,
        session_key,
        AgentEventData::Lifecycle(Lifecycle {
            phase: if aborted {
                Phase::Aborted
            } else {
                Phase::Error
            },
            model: None,
            duration_ms: Some(duration_ms),
            error: (!aborted).then_some(shape),
        }),
    );
}

/// Creates a conversation's memory directory (and `memory/` in it), private to the user.
async fn ensure_memory_dir(dir: &std::path::Path) {
    let notes = dir.join(super::workspace::MEMORY_DIR);
    if notes.is_dir() {
        return;
    }
    let result = tokio::task::spawn_blocking(move || {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&notes)
    })
    .await;
    if let Ok(Err(e)) = result {
        tracing::warn!(error = %e, "could not create the conversation's memory directory");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_signatures_go_back_only_to_their_provider() {
        let mut from_a = Message::new(
            Role::Assistant,
            vec![ContentBlock::Thinking {
                thinking: "hmm".into(),
                signature: Some("sig-a".into()),
            }],
        );
        from_a.model = Some("a/m1".into());
        let history = vec![Message::user("q"), from_a];
        let same = for_provider(&history, "a");
        assert!(
            matches!(&same[1].content[0], ContentBlock::Thinking { signature: Some(s), .. } if s == "sig-a")
        );
        let other = for_provider(&history, "b");
        assert!(
            matches!(&other[1].content[0], ContentBlock::Thinking { signature: None, thinking } if thinking == "hmm")
        );
    }
}
