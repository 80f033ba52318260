//! Context compaction: when a conversation nears the model's context window, its older turns
//! are summarised by the model into one entry, and requests carry [system, summary, recent
//! turns] instead of the whole history.
//!
//! The transcript in the store is never rewritten: a summary is stored beside it
//! ([`hearth_store::Store::record_compaction`]) with the last message `seq` it covers, so a turn
//! loads "latest summary + the messages after it" ([`load_history`]) and `chat.history` still
//! shows everything, the summary as a marked `system` message ([`summary_message`]).
//!
//! Before summarising, a memory flush gives the agent one chance to save durable notes to
//! `memory/YYYY-MM-DD.md` in its workspace: with its own `write`/`edit` tools when the policy
//! offers them, else the gateway appends the model's notes to that file itself.
//!
//! The check runs before every model call of a turn ([`Compaction::maybe_compact`]), so it must
//! be cheap: the estimate trusts the provider's reported prompt size of the last call and counts
//! characters (÷ 4) only for what came after it.

use std::sync::Arc;

use futures_util::StreamExt;
use hearth_config::{CompactionConfig, CompactionMode};
use hearth_protocol::events::AgentEventData;
use hearth_protocol::transcript::{ContentBlock, Message, Role, Usage};
use hearth_providers::{Completion, ModelRequest, ProviderError, StreamEvent, ToolSpec};
use hearth_store::{CompactionRecord, NewCompaction};
use tokio_util::sync::CancellationToken;

use super::tools::{ToolBox, ToolContext};
use super::turn::{TurnError, for_provider, publish_agent};
use crate::agents::Agent;
use crate::models::{ModelLookupError, ResolvedModel};
use crate::runtime::Runtime;
use crate::util::{now_ms, truncate_chars};

/// Transcript messages loaded as context after the latest summary; a guard against a history
/// that was never compacted (compaction off) growing without bound.
pub const HISTORY_LIMIT: u32 = 200;

/// How a compaction entry begins, so clients (and [`is_summary`]) can tell it from other text.
pub const SUMMARY_MARKER: &str = "[compaction summary]";

/// Characters per token in the estimate when the provider reported nothing better.
const CHARS_PER_TOKEN: u64 = 4;

/// An image counts as this many tokens in the estimate (its base64 says little about it).
const IMAGE_TOKENS: u64 = 1_000;

/// The rendered transcript sent for summarising is cut to this share of the window.
const SUMMARY_INPUT_SHARE: u64 = 3;

/// A tool result longer than this is cut in what the summariser sees.
const TOOL_RESULT_CHARS: usize = 1_500;

/// Tool-call arguments longer than this are cut in what the summariser sees.
const TOOL_ARGS_CHARS: usize = 400;

/// Model calls of one memory flush (a tool call and its follow-up need two).
const MAX_FLUSH_STEPS: usize = 4;

const SUMMARY_INSTRUCTIONS: &str = "You write the memory of a conversation that is too long \
to keep in full. A model will carry on from your summary plus the newest messages only, so \
anything it would need later must be in it. Use the language of the conversation and short \
bullet points under these headings:\n\
- Decisions: what was settled, with the reason when one was given.\n\
- Facts: what was found out or produced (figures, results, file contents that matter).\n\
- Open tasks: what is still to do or was promised, and the next step.\n\
- User preferences: how the user wants things done, in their terms.\n\
- Names and ids: people, files, paths, URLs, ids and commands, written exactly.\n\
If the transcript starts with an earlier summary, merge it in rather than repeating it. Leave \
out greetings and small talk, and never add anything that was not said.";

/// Whether a transcript message is a compaction entry.
pub fn is_summary(message: &Message) -> bool {
    message.role == Role::System
        && matches!(message.content.first(), Some(ContentBlock::Text { text }) if text.starts_with(SUMMARY_MARKER))
}

/// A stored summary as the `system` message that stands in for the messages it covers.
pub fn summary_message(record: &CompactionRecord) -> Message {
    Message::text(
        Role::System,
        format!(
            "{SUMMARY_MARKER} Summary of {} earlier messages of this conversation:\n\n{}",
            record.messages_summarised, record.summary
        ),
    )
    .at(record.created_at)
}

/// The context of a session: its latest summary (as [`summary_message`]) and the messages after
/// it, from the runtime's cache or the store.
pub async fn load_history(rt: &Runtime, session_id: &str) -> Result<Arc<Vec<Message>>, TurnError> {
    if let Some(cached) = rt.sessions.cached_transcript(session_id) {
        return Ok(cached);
    }
    let ctx = rt.store.context(session_id, Some(HISTORY_LIMIT)).await?;
    let mut history = Vec::with_capacity(ctx.messages.len() + 1);
    history.extend(ctx.compaction.as_ref().map(summary_message));
    history.extend(ctx.messages);
    let history = Arc::new(history);
    rt.sessions
        .cache_transcript(session_id, history.as_ref().clone(), usize::MAX);
    Ok(history)
}

/// Caches a session's context, keeping a leading summary when the tail is cut to
/// [`HISTORY_LIMIT`].
pub fn cache_history(rt: &Runtime, session_id: &str, mut messages: Vec<Message>) {
    let limit = HISTORY_LIMIT as usize;
    if messages.len() > limit {
        let summarised = messages.first().is_some_and(is_summary);
        let cut = messages.len() - limit + usize::from(summarised);
        messages.drain(usize::from(summarised)..cut);
    }
    rt.sessions
        .cache_transcript(session_id, messages, usize::MAX);
}

/// The estimated size in tokens of one message.
pub fn message_tokens(message: &Message) -> u64 {
    let mut chars = 0usize;
    let mut images = 0u64;
    for block in &message.content {
        match block {
            ContentBlock::Text { text } => chars += text.len(),
            ContentBlock::Thinking { thinking, .. } => chars += thinking.len(),
            ContentBlock::ToolCall {
                name, arguments, ..
            } => chars += name.len() + json_len(arguments),
            ContentBlock::Image { .. } => images += 1,
        }
    }
    // Per-message framing (role, ids) costs a few tokens with every provider.
    (chars as u64).div_ceil(CHARS_PER_TOKEN) + images * IMAGE_TOKENS + 4
}

/// The estimated tokens of what every request of a turn carries besides the messages.
pub fn overhead_tokens(system: &str, tools: &[ToolSpec]) -> u64 {
    let chars: usize = system.len()
        + tools
            .iter()
            .map(|t| t.name.len() + t.description.len() + json_len(&t.parameters))
            .sum::<usize>();
    (chars as u64).div_ceil(CHARS_PER_TOKEN)
}

/// The estimated prompt tokens of a request: the prompt size the provider reported for the
/// last call in `messages` (its `usage` on the assistant message), plus what came after it;
/// characters ÷ 4 of everything when no call was reported. A reported size from before the
/// latest summary counted the summarised messages too, so it is not trusted.
pub fn estimate_prompt(overhead: u64, messages: &[Message]) -> u64 {
    let trusted_after = messages
        .first()
        .filter(|m| is_summary(m))
        .map_or(i64::MIN, |m| m.timestamp);
    let reported = messages.iter().enumerate().rev().find_map(|(i, m)| {
        let usage = m.usage.filter(|_| m.role == Role::Assistant)?;
        (m.timestamp > trusted_after).then_some((i, usage))
    });
    match reported {
        Some((i, usage)) => {
            let prompt = usage.input + usage.cache_read + usage.cache_write;
            prompt + messages[i..].iter().map(message_tokens).sum::<u64>()
        }
        None => overhead + messages.iter().map(message_tokens).sum::<u64>(),
    }
}

/// Where to cut `messages` for a compaction: `messages[..k]` are summarised, `messages[k..]`
/// stay verbatim. The kept part is the most recent messages worth at least `keep_tokens`; the
/// cut never falls between an assistant's tool calls and their results, and never beyond
/// `limit` (messages from there on are not stored yet). `None` when there is nothing worth
/// summarising (only an earlier summary, or everything fits in `keep_tokens`).
pub fn split_point(messages: &[Message], limit: usize, keep_tokens: u64) -> Option<usize> {
    let start = usize::from(messages.first().is_some_and(is_summary));
    let mut kept = 0u64;
    let mut cut = None;
    for (i, m) in messages.iter().enumerate().rev() {
        kept += message_tokens(m);
        if kept >= keep_tokens {
            cut = Some(i);
            break;
        }
    }
    let mut k = cut?.min(limit);
    // A tool result must stay with the call that asked for it: move the cut before the call.
    while k > 0 && messages.get(k).is_some_and(|m| m.role == Role::Tool) {
        k -= 1;
    }
    (k > start).then_some(k)
}

/// The transcript as plain text for the summariser, cut to about `max_chars` by dropping the
/// oldest messages (an earlier summary at the start is always kept).
fn render_transcript(messages: &[Message], max_chars: usize) -> String {
    let mut parts: Vec<String> = messages.iter().map(render_message).collect();
    let keep_first = messages.first().is_some_and(is_summary);
    let mut total: usize = parts.iter().map(String::len).sum();
    let mut dropped = 0usize;
    let first_droppable = usize::from(keep_first);
    while total > max_chars && parts.len() > first_droppable + 1 {
        total -= parts.remove(first_droppable).len();
        dropped += 1;
    }
    if dropped > 0 {
        parts.insert(
            first_droppable,
            format!("({dropped} older messages left out for length)\n"),
        );
    }
    parts.concat()
}

fn render_message(m: &Message) -> String {
    let mut out = String::new();
    let heading = match m.role {
        Role::System if is_summary(m) => "Earlier summary",
        Role::System => "System",
        Role::User => "User",
        Role::Assistant => "Assistant",
        Role::Tool => "Tool result",
    };
    out.push_str("## ");
    out.push_str(heading);
    if let Some(name) = m.tool_name.as_deref().filter(|_| m.role == Role::Tool) {
        out.push_str(&format!(
            " (`{name}`{})",
            if m.is_error { ", failed" } else { "" }
        ));
    }
    out.push('\n');
    for block in &m.content {
        match block {
            ContentBlock::Text { text } => {
                let text = if m.role == Role::Tool {
                    truncate_chars(text, TOOL_RESULT_CHARS)
                } else {
                    text.as_str()
                };
                out.push_str(text);
                out.push('\n');
            }
            ContentBlock::ToolCall {
                name, arguments, ..
            } => {
                let args = arguments.to_string();
                out.push_str(&format!(
                    "[calls `{name}` with {}]\n",
                    truncate_chars(&args, TOOL_ARGS_CHARS)
                ));
            }
            ContentBlock::Image { .. } => out.push_str("[an image]\n"),
            ContentBlock::Thinking { .. } => {}
        }
    }
    out.push('\n');
    out
}

fn json_len(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Null => 4,
        serde_json::Value::Bool(_) => 5,
        serde_json::Value::Number(_) => 8,
        serde_json::Value::String(s) => s.len() + 2,
        serde_json::Value::Array(items) => items.iter().map(|v| json_len(v) + 1).sum::<usize>() + 2,
        serde_json::Value::Object(map) => {
            map.iter()
                .map(|(k, v)| k.len() + 4 + json_len(v))
                .sum::<usize>()
                + 2
        }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactionDone {
    pub messages_summarised: u64,
    pub tokens_before: u64,
    pub tokens_after: u64,
    /// Tokens and cost of the flush and summary calls.
    pub usage: Usage,
}

/// One session's compaction, inside a turn or on demand.
#[derive(Debug)]
pub struct Compaction<'a> {
    pub rt: &'a Arc<Runtime>,
    pub agent: &'a Agent,
    pub session_id: &'a str,
    pub session_key: &'a str,
    pub run_id: &'a str,
    pub cancel: &'a CancellationToken,
    pub tools: &'a ToolBox,
    /// The agent's system prompt of this turn.
    pub system: &'a str,
    /// [`overhead_tokens`] of this turn's system prompt and tools.
    pub overhead: u64,
    pub settings: &'a CompactionConfig,
    /// Where the memory flush writes: the turn's context (its memory directory); `None` when
    /// the conversation's memory is not known (an on-demand compaction of someone else's
    /// session), and then no flush runs, so notes never land in the wrong person's memory.
    pub turn: Option<&'a super::TurnContext>,
}

impl Compaction<'_> {
    /// Compacts `messages` when the request would not leave `reserveTokens` of `model`'s window
    /// free (or always, when `force`). `messages[..committed]` are the stored history; the rest
    /// belong to the running turn and always stay. On success `messages` is
    /// [summary, recent messages…] and `committed` counts the summary and the kept stored ones.
    pub async fn maybe_compact(
        &self,
        model: &ResolvedModel,
        candidates: &[ResolvedModel],
        messages: &mut Vec<Message>,
        committed: &mut usize,
        force: bool,
    ) -> Result<Option<CompactionDone>, TurnError> {
        if !force && self.settings.mode == CompactionMode::Off {
            return Ok(None);
        }
        let window = model.def.context_window;
        // A reserve meant for large windows must not swallow a small one whole.
        let reserve = self.settings.reserve_tokens.min(window / 2);
        let budget = window.saturating_sub(reserve);
        let tokens_before = estimate_prompt(self.overhead, messages);
        if !force && tokens_before <= budget {
            return Ok(None);
        }
        // Keeping more than half the budget verbatim could leave the request still too big;
        // on demand, at least half the conversation is summarised.
        let mut keep = self.settings.keep_recent_tokens.min(budget / 2);
        if force {
            // An earlier summary is not counted: only what came after it can be summarised.
            let start = usize::from(messages.first().is_some_and(is_summary));
            let conversation = messages[start..].iter().map(message_tokens).sum::<u64>();
            keep = keep.min(conversation / 2);
        }
        let Some(k) = split_point(messages, *committed, keep) else {
            if !force {
                tracing::debug!(
                    tokens_before,
                    budget,
                    "over the compaction threshold, but nothing to summarise"
                );
            }
            return Ok(None);
        };
        let last_seq = self.rt.store.last_seq(self.session_id).await?;
        let kept_stored = i64::try_from(*committed - k).unwrap_or(i64::MAX);
        let through_seq = last_seq - kept_stored;
        let mut usage = Usage::default();

        if self.settings.memory_flush
            && self.turn.is_some()
            && self.rt.store.memory_flushed_seq(self.session_id).await? < through_seq
        {
            match self.memory_flush(candidates, &messages[..*committed]).await {
                Ok(u) => usage.add(&u),
                Err(TurnError::Aborted) => return Err(TurnError::Aborted),
                Err(e) => tracing::warn!(error = %e, "memory flush failed; compacting anyway"),
            }
            self.rt
                .store
                .set_memory_flushed_seq(self.session_id, through_seq)
                .await?;
        }

        let max_chars = usize::try_from(window / SUMMARY_INPUT_SHARE * CHARS_PER_TOKEN)
            .unwrap_or(usize::MAX)
            .max(2_000);
        let transcript = render_transcript(&messages[..k], max_chars);
        let request = vec![Message::user(format!(
            "Summarise this conversation so far.\n\n{transcript}"
        ))];
        let (completion, used) = complete_quietly(
            self.rt,
            candidates,
            SUMMARY_INSTRUCTIONS,
            &request,
            &[],
            self.cancel,
        )
        .await?;
        usage.add(&priced(&completion, used));
        let summary = completion.message.plain_text();
        let summary = summary.trim();
        if summary.is_empty() {
            tracing::warn!(model = %used.reference, "the summary came back empty; not compacting");
            return Ok(None);
        }

        let messages_summarised = k as u64;
        let mut record = CompactionRecord {
            through_seq,
            summary: summary.to_owned(),
            messages_summarised,
            tokens_before,
            tokens_after: 0,
            model: Some(used.reference.clone()),
            created_at: now_ms(),
        };
        let mut compacted = Vec::with_capacity(messages.len() - k + 1);
        compacted.push(summary_message(&record));
        compacted.extend(messages.drain(k..));
        let tokens_after = estimate_prompt(self.overhead, &compacted);
        record = self
            .rt
            .store
            .record_compaction(
                self.session_id,
                &NewCompaction {
                    through_seq,
                    summary: &record.summary,
                    messages_summarised,
                    tokens_before,
                    tokens_after,
                    model: record.model.as_deref(),
                },
            )
            .await?;
        compacted[0] = summary_message(&record);
        *messages = compacted;
        *committed = *committed - k + 1;
        cache_history(self.rt, self.session_id, messages[..*committed].to_vec());
        publish_agent(
            self.rt,
            self.run_id,
            self.session_key,
            AgentEventData::Compaction {
                messages_summarised,
                tokens_before,
                tokens_after,
            },
        );
        tracing::info!(messages_summarised, tokens_before, tokens_after, model = %used.reference, "compacted the session's context");
        Ok(Some(CompactionDone {
            messages_summarised,
            tokens_before,
            tokens_after,
            usage,
        }))
    }

    /// One extra exchange asking the agent to save durable notes before older messages are
    /// summarised. Nothing of it enters the transcript.
    async fn memory_flush(
        &self,
        candidates: &[ResolvedModel],
        history: &[Message],
    ) -> Result<Usage, TurnError> {
        let date = jiff::Zoned::now().strftime("%Y-%m-%d").to_string();
        let file = format!("{}/{date}.md", super::workspace::MEMORY_DIR);
        let names = self.tools.names();
        let can_write = names.iter().any(|n| *n == "write" || *n == "edit");
        let instruction = if can_write {
            format!(
                "[gateway] The older part of this conversation is about to be condensed into a \
                 summary. Save anything worth keeping beyond it (decisions, facts, preferences, \
                 open tasks) now: append short notes to `{file}` in your workspace with your file \
                 tools, keeping what the file already holds. Then answer with one short line. If \
                 nothing needs saving, answer NOTHING."
            )
        } else {
            format!(
                "[gateway] The older part of this conversation is about to be condensed into a \
                 summary. Answer with the notes worth keeping beyond it (decisions, facts, \
                 preferences, open tasks) as a short Markdown list; the gateway appends your \
                 answer to `{file}`. If nothing needs saving, answer NOTHING."
            )
        };
        let mut messages = history.to_vec();
        messages.push(Message::user(instruction));
        let specs = if can_write {
            self.tools.specs()
        } else {
            Vec::new()
        };
        let mut usage = Usage::default();
        for _ in 0..MAX_FLUSH_STEPS {
            let (completion, used) = complete_quietly(
                self.rt,
                candidates,
                self.system,
                &messages,
                &specs,
                self.cancel,
            )
            .await?;
            usage.add(&priced(&completion, used));
            let calls: Vec<(String, String, serde_json::Value)> = completion
                .message
                .tool_calls()
                .map(|(id, name, args)| (id.to_owned(), name.to_owned(), args.clone()))
                .collect();
            if calls.is_empty() {
                if !can_write {
                    let notes = completion.message.plain_text();
                    self.append_notes(&file, &notes).await;
                }
                return Ok(usage);
            }
            messages.push(completion.message);
            let mut ctx = ToolContext::new(
                self.rt,
                self.agent,
                self.session_key,
                self.run_id,
                self.cancel,
            );
            if let Some(turn) = self.turn {
                ctx = ctx.in_turn(turn);
            }
            for (id, name, args) in calls {
                let (output, _) = self.tools.call(&ctx, &name, args).await;
                messages.push(Message::tool_result(id, name, output.text, output.is_error));
            }
        }
        Ok(usage)
    }

    /// Appends the model's notes to a daily notes file of the conversation's memory.
    async fn append_notes(&self, file: &str, notes: &str) {
        let notes = notes.trim();
        if notes.is_empty() || notes.eq_ignore_ascii_case("nothing") {
            return;
        }
        let scoped = self.turn.and_then(|t| t.memory_dir.as_deref());
        let path = match scoped {
            Some(dir) => self.agent.workspace.join(dir).join(file),
            None => self.agent.workspace.join(file),
        };
        let entry = format!(
            "\n## Notes saved before compaction ({})\n\n{notes}\n",
            jiff::Zoned::now().strftime("%H:%M")
        );
        let written = tokio::task::spawn_blocking(move || append_private(&path, &entry)).await;
        match written {
            Ok(Ok(())) => tracing::info!(file, "memory flush notes written"),
            Ok(Err(e)) => {
                tracing::warn!(file, error = %e, "could not write the memory flush notes")
            }
            Err(e) => tracing::warn!(file, error = %e, "memory flush writer failed"),
        }
    }
}

/// Compacts a session now, whatever its size (`/compact`, `sessions.compact`). Waits for the
/// session's running turn first. `None` when there is no session or nothing to summarise.
pub async fn compact_session(
    rt: &Arc<Runtime>,
    agent: &Agent,
    key: &str,
) -> Result<Option<CompactionDone>, TurnError> {
    let Some(session) = rt.store.session_for_key(key).await? else {
        return Ok(None);
    };
    let (lock, _) = rt.sessions.session_lock(key);
    let _guard = lock.lock_owned().await;
    let live = rt.live();
    let candidates = super::turn::candidates(
        &live.models,
        &agent.model,
        session.model_override.as_deref(),
    )?;
    let Some(first) = candidates.first() else {
        return Err(TurnError::Model(ModelLookupError::NotConfigured));
    };
    let history = load_history(rt, &session.id).await?;
    let system = rt
        .context
        .system_prompt(&rt.home, &live.config, agent, &jiff::Zoned::now(), None);
    let tools = ToolBox::for_agent(rt, agent);
    let run_id = crate::util::new_id();
    let cancel = rt.runs_cancel.child_token();
    // Registered like a run, so `/stop` and shutdown can end a slow summary.
    rt.sessions.register_run(
        &run_id,
        crate::sessions::ActiveRun {
            session_key: key.to_owned(),
            cancel: cancel.clone(),
        },
    );
    let owner_turn = super::TurnContext::default();
    let compactor = Compaction {
        rt,
        agent,
        session_id: &session.id,
        session_key: key,
        run_id: &run_id,
        cancel: &cancel,
        tools: &tools,
        system: &system,
        overhead: overhead_tokens(&system, &tools.specs()),
        settings: &live.config.agents.defaults.compaction,
        // Only the owner's main session is known to keep its memory in the workspace itself.
        turn: (key == format!("agent:{}:{}", agent.id, live.config.session.main_key))
            .then_some(&owner_turn),
    };
    let mut messages = history.as_ref().clone();
    let mut committed = messages.len();
    let done = compactor
        .maybe_compact(first, &candidates, &mut messages, &mut committed, true)
        .await;
    rt.sessions.finish_run(&run_id);
    done
}

fn append_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

fn priced(completion: &Completion, model: &ResolvedModel) -> Usage {
    let mut usage = completion.usage;
    usage.cost = hearth_providers::cost_of(&usage, model.def.cost.as_ref());
    usage
}

/// A model call whose output goes to the gateway, not the user: nothing is streamed to clients.
/// Tries the candidates and their keys in order (keys cooling down last), like a turn's calls.
pub async fn complete_quietly<'m>(
    rt: &Runtime,
    candidates: &'m [ResolvedModel],
    system: &str,
    messages: &[Message],
    tools: &[ToolSpec],
    cancel: &CancellationToken,
) -> Result<(Completion, &'m ResolvedModel), TurnError> {
    let mut order: Vec<(&ResolvedModel, usize)> = Vec::new();
    let mut cooling = Vec::new();
    for model in candidates {
        for key in 0..model.clients.len() {
            match rt.cooldowns.remaining(&model.provider_id, key) {
                None => order.push((model, key)),
                Some(left) => cooling.push((left, model, key)),
            }
        }
    }
    cooling.sort_by_key(|(left, _, _)| *left);
    order.extend(cooling.into_iter().map(|(_, m, k)| (m, k)));
    let mut last = None;
    for (model, key) in order {
        let request = ModelRequest {
            model: model.model_id.clone(),
            system: Some(system.to_owned()),
            messages: for_provider(messages, &model.provider_id),
            tools: tools.to_vec(),
            max_tokens: Some(model.def.max_tokens),
            temperature: None,
        };
        match stream_to_end(model.clients[key].as_ref(), request, cancel).await {
            Ok(completion) => {
                rt.cooldowns.succeeded(&model.provider_id, key);
                return Ok((completion, model));
            }
            Err(ProviderError::Cancelled) => return Err(TurnError::Aborted),
            Err(e) if e.is_retryable() || matches!(e, ProviderError::Auth { .. }) => {
                rt.cooldowns
                    .failed(&model.provider_id, key, e.retry_after());
                tracing::warn!(model = %model.reference, key, kind = e.kind(), error = %e, "background model call failed; trying the next");
                last = Some(e);
            }
            Err(e) => return Err(TurnError::Provider(e)),
        }
    }
    Err(match last {
        Some(e) => TurnError::Provider(e),
        None => TurnError::Model(ModelLookupError::NotConfigured),
    })
}

async fn stream_to_end(
    client: &dyn hearth_providers::Provider,
    request: ModelRequest,
    cancel: &CancellationToken,
) -> Result<Completion, ProviderError> {
    let mut stream = client.stream(request, cancel.clone()).await?;
    let mut completion = None;
    while let Some(event) = stream.next().await {
        if let StreamEvent::Completed(c) = event? {
            completion = Some(*c);
        }
    }
    completion.ok_or_else(|| ProviderError::StreamBroken {
        message: "the answer ended without a completion".to_owned(),
        output_started: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str, text_len: usize) -> Message {
        Message::new(
            Role::Assistant,
            vec![ContentBlock::ToolCall {
                id: id.into(),
                name: "read".into(),
                arguments: serde_json::json!({ "path": "x".repeat(text_len) }),
            }],
        )
    }

    fn result(id: &str, text_len: usize) -> Message {
        Message::tool_result(id, "read", "r".repeat(text_len), false)
    }

    fn summary(at: i64) -> Message {
        summary_message(&CompactionRecord {
            through_seq: 4,
            summary: "earlier".into(),
            messages_summarised: 4,
            tokens_before: 0,
            tokens_after: 0,
            model: None,
            created_at: at,
        })
    }

    #[test]
    fn estimate_counts_chars_without_a_reported_usage() {
        let msgs = vec![
            Message::user("a".repeat(400)),
            Message::assistant("b".repeat(40)),
        ];
        // 100 + 4 framing, 10 + 4 framing, plus the overhead.
        assert_eq!(estimate_prompt(50, &msgs), 50 + 104 + 14);
    }

    #[test]
    fn estimate_trusts_the_last_reported_prompt_size() {
        let mut answer = Message::assistant("b".repeat(40)).at(10);
        answer.usage = Some(Usage {
            input: 900,
            cache_read: 100,
            ..Usage::default()
        });
        let msgs = vec![
            Message::user("a".repeat(4000)),
            answer,
            Message::user("c".repeat(40)),
        ];
        // The reported prompt (1000) already holds the system prompt, the tools and the first
        // message; only the answer and what follows are counted.
        assert_eq!(estimate_prompt(5_000, &msgs), 1000 + 14 + 14);
    }

    #[test]
    fn estimate_ignores_usage_reported_before_the_latest_summary() {
        let mut answer = Message::assistant("b".repeat(40)).at(10);
        answer.usage = Some(Usage {
            input: 90_000,
            ..Usage::default()
        });
        let msgs = vec![summary(20), answer];
        let est = estimate_prompt(0, &msgs);
        assert!(est < 100, "{est}");
    }

    #[test]
    fn split_keeps_the_recent_window_verbatim() {
        let msgs: Vec<Message> = (0..10)
            .map(|i| {
                if i % 2 == 0 {
                    Message::user("u".repeat(396))
                } else {
                    Message::assistant("a".repeat(396))
                }
            })
            .collect();
        // Each message is 100 tokens: keeping 300 keeps the last three.
        assert_eq!(split_point(&msgs, msgs.len(), 300), Some(7));
        assert_eq!(split_point(&msgs, msgs.len(), 250), Some(7));
        // Everything fits: nothing to summarise.
        assert_eq!(split_point(&msgs, msgs.len(), 5_000), None);
        // Messages from `limit` on are not stored yet and are never summarised.
        assert_eq!(split_point(&msgs, 4, 100), Some(4));
    }

    #[test]
    fn split_never_separates_tool_results_from_their_call() {
        let msgs = vec![
            Message::user("u".repeat(400)),
            call("c1", 10),
            result("c1", 400),
            result("c1b", 400),
            Message::assistant("done"),
            Message::user("next"),
        ];
        for keep in 1..600 {
            if let Some(k) = split_point(&msgs, msgs.len(), keep) {
                assert_ne!(msgs[k].role, Role::Tool, "keep {keep} cut at {k}");
                let calls_before: Vec<&str> = msgs[..k]
                    .iter()
                    .flat_map(|m| m.tool_calls().map(|(id, _, _)| id))
                    .collect();
                for m in &msgs[k..] {
                    if let Some(id) = &m.tool_call_id {
                        assert!(!calls_before.contains(&id.as_str()));
                    }
                }
            }
        }
        // The recent window reaches into the tool results: the cut moves before the call.
        assert_eq!(split_point(&msgs, msgs.len(), 150), Some(1));
    }

    #[test]
    fn split_after_an_earlier_summary_needs_something_new() {
        let msgs = vec![
            summary(1),
            Message::user("u".repeat(400)),
            Message::assistant("x"),
        ];
        // Keeping the last two leaves only the earlier summary before the cut.
        assert_eq!(split_point(&msgs, msgs.len(), 100), None);
        let mut more = msgs.clone();
        more.push(Message::user("y".repeat(400)));
        assert_eq!(split_point(&more, more.len(), 50), Some(3));
    }

    #[test]
    fn summaries_are_marked_and_rendered_first() {
        let s = summary(5);
        assert!(is_summary(&s));
        assert!(!is_summary(&Message::user(SUMMARY_MARKER)));
        let mut msgs = vec![s];
        msgs.extend((0..20).map(|i| Message::user(format!("message {i} {}", "z".repeat(100)))));
        let text = render_transcript(&msgs, 600);
        assert!(text.starts_with("## Earlier summary"), "{text}");
        assert!(text.contains("older messages left out"));
        assert!(text.contains("message 19"));
        assert!(!text.contains("message 0 "));
    }
}
