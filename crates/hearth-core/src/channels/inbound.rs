//! An inbound message's way through the gateway: access control (before anything is stored or
//! any model is called), pairing for strangers, durable storage (then the adapter may
//! acknowledge), and the turn: typing while it runs, the answer streamed by editing a message in
//! place where the platform allows, and the final answer queued for delivery in the same
//! transaction that marks the message answered.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use hearth_channels::access::{self, Decision};
use hearth_channels::{
    AttachmentKind, ChannelAdapter, Content, Inbound, InboundSink, Outbound, PeerKind, SinkError,
    Target,
};
use hearth_protocol::events::Event;
use hearth_protocol::methods::PairingRequest;
use hearth_protocol::transcript::{ContentBlock, Message, Role};
use hearth_store::{InboundRow, NewOutbound, PairingOutcome, PairingRow};
use rand::Rng as _;
use tokio::sync::mpsc;

use super::account::AccountHandle;
use crate::agent::queue::{self, QueuedOutcome};
use crate::agent::tools::ToolBox;
use crate::agent::{TurnError, TurnEvent, TurnRequest, TurnSession};
use crate::runtime::Runtime;
use crate::util::{new_id, now_ms};

/// How long a pairing code stays valid.
pub(crate) const PAIRING_TTL: Duration = Duration::from_secs(3600);
/// Pairing requests one account keeps at a time; more strangers are ignored until one is decided
/// or expires.
pub(crate) const MAX_PENDING_PAIRINGS: usize = 3;
/// Code alphabet: no 0/O, 1/I/L, so a code read aloud or retyped survives.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 8;
/// The first streamed text goes out once this much arrived (or `FIRST_PREVIEW_AFTER` passed).
const FIRST_PREVIEW_CHARS: usize = 40;
const FIRST_PREVIEW_AFTER: Duration = Duration::from_millis(800);

/// What an account's adapter hands messages to.
pub(crate) struct Sink {
    rt: Arc<Runtime>,
    handle: Arc<AccountHandle>,
}

impl Sink {
    pub(crate) fn new(rt: Arc<Runtime>, handle: Arc<AccountHandle>) -> Self {
        Self { rt, handle }
    }
}

#[async_trait]
impl InboundSink for Sink {
    async fn accept(&self, inbound: Inbound) -> Result<(), SinkError> {
        accept(&self.rt, &self.handle, inbound).await
    }
}

fn mentioned(handle: &AccountHandle, inbound: &Inbound) -> bool {
    inbound.mentions_bot
        || handle
            .mention_patterns
            .iter()
            .any(|re| re.is_match(&inbound.text))
}

pub(crate) async fn accept(
    rt: &Arc<Runtime>,
    handle: &Arc<AccountHandle>,
    inbound: Inbound,
) -> Result<(), SinkError> {
    if rt.shutdown.is_cancelled() {
        return Err(SinkError("the gateway is shutting down".into()));
    }
    let counters = &handle.counters;
    counters.received.fetch_add(1, Ordering::Relaxed);
    handle.note_inbound();
    let approved = if inbound.peer_kind == PeerKind::Direct {
        rt.store
            .is_approved(&inbound.channel, &inbound.account, &inbound.sender_id)
            .await
            .map_err(|e| SinkError(e.to_string()))?
    } else {
        false
    };
    let decision = access::decide(
        &handle.config,
        &inbound,
        approved,
        mentioned(handle, &inbound),
    );
    match decision {
        Decision::Deny(reason) => {
            counters.denied.fetch_add(1, Ordering::Relaxed);
            tracing::info!(channel = %inbound.channel, account = %inbound.account,
                sender = %inbound.sender_id, reason = reason.as_str(), "message not allowed");
            super::publish_status(rt);
            Ok(())
        }
        Decision::Ignore(reason) => {
            counters.ignored.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(channel = %inbound.channel, chat = %inbound.chat_id, reason = reason.as_str(), "group message ignored");
            Ok(())
        }
        Decision::Pair => {
            if pair(rt, handle, &inbound).await? {
                admit(rt, handle, inbound).await
            } else {
                Ok(())
            }
        }
        Decision::Allow => admit(rt, handle, inbound).await,
    }
}

/// Stores an allowed message and starts answering it.
async fn admit(
    rt: &Arc<Runtime>,
    handle: &Arc<AccountHandle>,
    inbound: Inbound,
) -> Result<(), SinkError> {
    let counters = &handle.counters;
    let envelope = serde_json::to_string(&inbound).map_err(|e| SinkError(e.to_string()))?;
    let row = InboundRow {
        id: new_id(),
        channel: inbound.channel.clone(),
        account: inbound.account.clone(),
        chat_id: inbound.chat_id.clone(),
        message_id: inbound.message_id.clone(),
        sender_id: inbound.sender_id.clone(),
        envelope,
        received_at: now_ms(),
    };
    let fresh = rt
        .store
        .insert_inbound(&row)
        .await
        .map_err(|e| SinkError(e.to_string()))?;
    if fresh {
        counters.allowed.fetch_add(1, Ordering::Relaxed);
        spawn_process(rt, handle.clone(), row.id, inbound);
        super::publish_status(rt);
    } else {
        tracing::debug!(message = %inbound.message_id, "message delivered again; already stored");
    }
    Ok(())
}

fn pairing_code() -> String {
    let mut rng = rand::thread_rng();
    (0..CODE_LEN)
        .map(|_| char::from(CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// A stranger's direct message under `dmPolicy: pairing`: they get a code and nothing else.
/// Answers true when the sender turned out to be approved meanwhile (the message is allowed).
async fn pair(
    rt: &Arc<Runtime>,
    handle: &Arc<AccountHandle>,
    inbound: &Inbound,
) -> Result<bool, SinkError> {
    let now = now_ms();
    let code = pairing_code();
    let row = PairingRow {
        channel: inbound.channel.clone(),
        account: inbound.account.clone(),
        sender_id: inbound.sender_id.clone(),
        sender_name: inbound.sender_name.clone(),
        chat_id: inbound.chat_id.clone(),
        code: code.clone(),
        created_at: now,
        expires_at: now + i64::try_from(PAIRING_TTL.as_millis()).unwrap_or(i64::MAX / 2),
    };
    let outcome = rt
        .store
        .request_pairing(&row, MAX_PENDING_PAIRINGS)
        .await
        .map_err(|e| SinkError(e.to_string()))?;
    match outcome {
        PairingOutcome::Approved => return Ok(true),
        PairingOutcome::Created => {}
        PairingOutcome::Pending | PairingOutcome::Full => {
            // Not let in: the sender already has a code (one per request is enough), or too
            // many strangers are waiting already.
            handle.counters.denied.fetch_add(1, Ordering::Relaxed);
            if outcome == PairingOutcome::Full {
                tracing::warn!(channel = %inbound.channel, account = %inbound.account, sender = %inbound.sender_id,
                    "pairing request ignored: {MAX_PENDING_PAIRINGS} already wait for approval");
            }
            super::publish_status(rt);
            return Ok(false);
        }
    }
    handle.counters.pairing.fetch_add(1, Ordering::Relaxed);
    let text = format!(
        "Hi! I don't know you yet. Your pairing code is **{code}**. Ask my owner to approve it \
         (`hearth pairing approve {code}`); it expires in an hour."
    );
    queue_text(rt, handle, &inbound.reply_target(), &text, None).await;
    tracing::info!(channel = %inbound.channel, account = %inbound.account, sender = %inbound.sender_id,
        "pairing requested; approve with `hearth pairing approve <code>`");
    let request = PairingRequest {
        channel: row.channel.clone(),
        account: row.account.clone(),
        sender_id: row.sender_id.clone(),
        sender_name: row.sender_name.clone(),
        code: code.clone(),
        created_at_ms: row.created_at,
        expires_at_ms: row.expires_at,
    };
    rt.bus.publish(Event::PairingRequested(request));
    super::publish_status(rt);
    Ok(false)
}

/// Queues `markdown` (rendered and split for the platform) to `target`, not tied to an inbound
/// message.
pub(crate) async fn queue_text(
    rt: &Runtime,
    handle: &AccountHandle,
    target: &Target,
    markdown: &str,
    inbound_id: Option<&str>,
) {
    let Some(adapter) = handle.adapter.get() else {
        return;
    };
    let items = outbound_items(handle, adapter.as_ref(), target, markdown, None, inbound_id);
    match rt.store.enqueue_outbound(&items).await {
        Ok(_) => handle.wake.notify_waiters(),
        Err(e) => tracing::error!(error = %e, "queueing a message failed"),
    }
}

fn chat_key(target: &Target) -> String {
    match &target.thread_id {
        Some(thread) => format!("{}#{thread}", target.chat_id),
        None => target.chat_id.clone(),
    }
}

/// The queue rows for one answer: its chunks in order; the first may replace a streamed preview.
fn outbound_items(
    handle: &AccountHandle,
    adapter: &dyn ChannelAdapter,
    target: &Target,
    markdown: &str,
    preview: Option<String>,
    inbound_id: Option<&str>,
) -> Vec<NewOutbound> {
    let chunks = adapter.render(markdown, handle.text_limit(adapter));
    let mut preview = preview;
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            let mut target = target.clone();
            if i > 0 {
                target.reply_to = None;
            }
            let out = Outbound {
                target: target.clone(),
                content: Content::Text {
                    text,
                    edit_of: preview.take(),
                },
            };
            NewOutbound {
                channel: handle.channel().to_owned(),
                account: handle.account().to_owned(),
                chat_key: chat_key(&target),
                inbound_id: inbound_id.map(str::to_owned),
                payload: serde_json::to_string(&out).unwrap_or_default(),
            }
        })
        .collect()
}

pub(crate) fn spawn_process(
    rt: &Arc<Runtime>,
    handle: Arc<AccountHandle>,
    inbound_id: String,
    inbound: Inbound,
) {
    let task_rt = rt.clone();
    rt.tasks.spawn(async move {
        process(&task_rt, &handle, &inbound_id, inbound).await;
    });
}

/// Answers an account's stored messages left pending by a crash or a restart, oldest first.
pub(crate) async fn recover(rt: &Arc<Runtime>, handle: &Arc<AccountHandle>) {
    let pending = match rt
        .store
        .pending_inbound(handle.channel(), handle.account())
        .await
    {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "reading unanswered messages failed");
            return;
        }
    };
    for row in pending {
        let inbound: Inbound = match serde_json::from_str(&row.envelope) {
            Ok(i) => i,
            Err(e) => {
                let _ = rt
                    .store
                    .finish_inbound(&row.id, Some(&format!("unreadable: {e}")), &[])
                    .await;
                continue;
            }
        };
        tracing::info!(channel = %row.channel, message = %row.message_id, "answering a message received before the restart");
        spawn_process(rt, handle.clone(), row.id, inbound);
    }
}

async fn process(
    rt: &Arc<Runtime>,
    handle: &Arc<AccountHandle>,
    inbound_id: &str,
    inbound: Inbound,
) {
    // Set before the account receives anything or recovers anything: see `account::spawn`.
    let Some(adapter) = handle.adapter.get().cloned() else {
        return;
    };
    let live = rt.live();
    let route = crate::routing::route(
        &live.config,
        &live.agents,
        &crate::routing::RouteQuery::from(&inbound),
    );
    // Routing only picks agents that exist; the fallback is for a config swapped in between.
    let agent = live
        .agents
        .get(&route.agent_id)
        .unwrap_or_else(|| live.agents.default_agent())
        .clone();
    let key = route.session_key.clone();
    tracing::debug!(channel = %inbound.channel, agent = %agent.id, binding = ?route.binding_name,
        matched_by = route.matched_by.as_str(), session = %key, "message routed");
    crate::audit::inbound_routed(
        rt,
        inbound_id,
        &inbound,
        crate::audit::Routed {
            agent_id: &agent.id,
            binding: route.binding_name.as_deref(),
            matched_by: route.matched_by.as_str(),
            session_key: &key,
            person: &route.person,
        },
    );
    let target = inbound.reply_target();
    // `/new`, `/reset`, `/stop`, `/status`, `/compact`, `/model`, `/link`, `/unlink`: answered
    // by the gateway.
    if let Some(command) = crate::commands::SlashCommand::parse_with_triggers(
        &inbound.text,
        &live.config.session.reset_triggers,
    ) {
        use crate::commands::SlashCommand;
        let text = if matches!(command, SlashCommand::Link(_) | SlashCommand::Unlink) {
            Box::pin(crate::identity::chat_command(rt, &inbound, &command)).await
        } else {
            match Box::pin(crate::gateway::methods::command_reply(
                rt, command, &agent, &key,
            ))
            .await
            {
                Ok(text) => text,
                Err(e) => e.message,
            }
        };
        let items = outbound_items(
            handle,
            adapter.as_ref(),
            &target,
            &text,
            None,
            Some(inbound_id),
        );
        if let Err(e) = rt.store.finish_inbound(inbound_id, None, &items).await {
            tracing::error!(error = %e, "queueing a command's answer failed");
        }
        handle.wake.notify_waiters();
        return;
    }
    let input = user_input(handle, adapter.as_ref(), &inbound).await;
    let caps = adapter.capabilities();
    let group_prompt = handle
        .config
        .group(&inbound.chat_id)
        .and_then(|g| g.system_prompt.clone());
    let mut extra = format!(
        "This conversation is on {} ({} chat{}). Answer in Markdown; it is converted for the platform.",
        inbound.channel,
        inbound.peer_kind.as_str(),
        inbound
            .sender_name
            .as_deref()
            .map(|n| format!(" with {n}"))
            .unwrap_or_default()
    );
    if let Some(p) = group_prompt {
        extra.push('\n');
        extra.push_str(&p);
    }
    let (observer, deltas) = mpsc::unbounded_channel();
    let cancel = rt.runs_cancel.child_token();
    let request = TurnRequest {
        run_id: new_id(),
        agent: agent.clone(),
        session: TurnSession::Persistent {
            key,
            channel: inbound.channel.clone(),
            sender: Some(route.person.clone()),
        },
        input,
        extra_system: Some(extra),
        tools: ToolBox::for_agent(rt, &agent),
        cancel: cancel.clone(),
        observer: Some(observer),
        context: crate::agent::TurnContext {
            binding: route.binding_name.clone(),
            memory_dir: route.memory_dir.clone(),
            ..crate::agent::TurnContext::default()
        },
    };
    let streaming = handle.config.streaming && caps.edits;
    let progress = tokio::spawn(show_progress(
        adapter.clone(),
        handle.clone(),
        target.clone(),
        deltas,
        streaming,
    ));
    let result = queue::submit(rt, request).outcome().await;
    let preview = progress.await.ok().flatten();
    let (error, text) = match result {
        Ok(QueuedOutcome::Answered(outcome)) => (None, outcome.message.plain_text()),
        // The run that took it in answers in this chat; nothing more to say for this message.
        Ok(QueuedOutcome::MergedInto { .. } | QueuedOutcome::Steered { .. }) => {
            (None, String::new())
        }
        // A newer message stopped this answer; a preview left half-written says so.
        Ok(QueuedOutcome::Interrupted) => (
            None,
            if preview.is_some() {
                "_(stopped to answer your newer message)_".to_owned()
            } else {
                String::new()
            },
        ),
        Err(TurnError::Aborted) if rt.shutdown.is_cancelled() => {
            // Left pending: answered after the restart.
            return;
        }
        Err(TurnError::Budget(refusal)) => (Some(refusal.clone()), refusal),
        Err(e) => {
            tracing::warn!(channel = %inbound.channel, error = %e, "the agent could not answer a channel message");
            (
                Some(e.to_string()),
                format!("Sorry, I could not answer that: {}", short(&e.to_string())),
            )
        }
    };
    let items = if text.trim().is_empty() {
        Vec::new()
    } else {
        outbound_items(
            handle,
            adapter.as_ref(),
            &target,
            &text,
            preview,
            Some(inbound_id),
        )
    };
    match rt
        .store
        .finish_inbound(inbound_id, error.as_deref(), &items)
        .await
    {
        Ok(_) => handle.wake.notify_waiters(),
        Err(e) => {
            tracing::error!(error = %e, "queueing an answer failed; it will be retried after a restart")
        }
    }
    super::publish_status(rt);
}

fn short(s: &str) -> String {
    let mut out: String = s.chars().take(200).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Typing while the turn runs; with streaming, the answer so far as one message edited in place
/// (throttled to the platform's edit rate). Answers the id of that message, which the final
/// answer then replaces.
async fn show_progress(
    adapter: Arc<dyn ChannelAdapter>,
    handle: Arc<AccountHandle>,
    target: Target,
    mut deltas: mpsc::UnboundedReceiver<TurnEvent>,
    streaming: bool,
) -> Option<String> {
    let caps = adapter.capabilities();
    let limit = handle.text_limit(adapter.as_ref());
    let started = tokio::time::Instant::now();
    let mut text = String::new();
    let mut shown = String::new();
    let mut preview: Option<String> = None;
    let mut next_typing = tokio::time::Instant::now();
    let mut next_edit = tokio::time::Instant::now();
    let mut overflow = false;
    loop {
        let now = tokio::time::Instant::now();
        if caps.typing && preview.is_none() && now >= next_typing {
            let _ = adapter.typing(&target).await;
            next_typing = now + caps.typing_every;
        }
        let wake = if preview.is_none() {
            next_typing
        } else {
            next_edit
        }
        .min(now + Duration::from_millis(250));
        tokio::select! {
            delta = deltas.recv() => match delta {
                Some(TurnEvent::TextDelta(d)) => text.push_str(&d),
                Some(_) => {}
                None => return preview,
            },
            () = tokio::time::sleep_until(wake) => {}
        }
        if !streaming || overflow || text == shown {
            continue;
        }
        let now = tokio::time::Instant::now();
        let ready = text.chars().count() >= FIRST_PREVIEW_CHARS
            || now.duration_since(started) >= FIRST_PREVIEW_AFTER;
        if !ready || now < next_edit {
            continue;
        }
        let mut chunks = adapter.render(&format!("{text} …"), limit);
        if chunks.len() > 1 {
            // Past one message: the rest comes with the final answer.
            overflow = true;
            continue;
        }
        let Some(rendered) = chunks.pop() else {
            continue;
        };
        let content = Content::Text {
            text: rendered,
            edit_of: preview.clone(),
        };
        let out = Outbound {
            target: target.clone(),
            content,
        };
        match adapter.send(&out).await {
            Ok(sent) => {
                if preview.is_none() {
                    preview = Some(sent.message_id);
                }
                shown.clone_from(&text);
                next_edit = tokio::time::Instant::now() + caps.edit_interval;
            }
            Err(e) => {
                let wait = e.retry_after().unwrap_or(caps.edit_interval * 2);
                next_edit = tokio::time::Instant::now() + wait;
            }
        }
    }
}

/// The user's message for the model: the text (with the sender's name in groups), images the
/// model can look at, and a note for other files.
async fn user_input(
    handle: &AccountHandle,
    adapter: &dyn ChannelAdapter,
    inbound: &Inbound,
) -> Message {
    use base64::Engine as _;
    let mut content = Vec::new();
    let mut text = inbound.text.clone();
    if inbound.peer_kind != PeerKind::Direct
        && let Some(name) = &inbound.sender_name
    {
        text = format!("[{name}] {text}");
    }
    let max = u64::from(handle.config.media_max_mb) * 1024 * 1024;
    let mut notes = Vec::new();
    for attachment in &inbound.attachments {
        let mime = attachment.mime.clone().unwrap_or_default();
        let is_image = attachment.kind == AttachmentKind::Image
            && ["image/png", "image/jpeg", "image/gif", "image/webp"].contains(&mime.as_str());
        if is_image {
            match adapter.fetch(attachment, max).await {
                Ok(bytes) => {
                    content.push(ContentBlock::Image {
                        mime_type: mime.clone(),
                        data: base64::engine::general_purpose::STANDARD.encode(&bytes),
                    });
                    continue;
                }
                Err(e) => notes.push(format!("(an image could not be fetched: {e})")),
            }
        } else {
            notes.push(format!(
                "(attached: {:?} {}{}{})",
                attachment.kind,
                attachment.name.as_deref().unwrap_or("file"),
                if mime.is_empty() {
                    String::new()
                } else {
                    format!(", {mime}")
                },
                attachment
                    .size
                    .map(|s| format!(", {s} bytes"))
                    .unwrap_or_default()
            ));
        }
    }
    for note in notes {
        text.push('\n');
        text.push_str(&note);
    }
    if !text.trim().is_empty() {
        content.insert(0, ContentBlock::Text { text });
    }
    Message::new(Role::User, content)
}
