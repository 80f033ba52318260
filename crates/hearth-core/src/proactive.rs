//! One run of an agent that nobody asked for in a chat (a scheduled job, the heartbeat, a
//! webhook), and the delivery of its answer: to a chat on a channel (through the channel's
//! durable outbound queue), into a stored session, to the owner's latest direct chat, or
//! nowhere (the caller keeps the answer in its history).

use std::sync::Arc;
use std::time::Duration;

use hearth_channels::{PeerKind, Target};
use hearth_config::DeliveryTarget;
use hearth_protocol::events::{Event, SessionChange, SessionsChanged};
use hearth_protocol::transcript::{Message, Role};
use hearth_store::NewSession;
use tokio_util::sync::CancellationToken;

use crate::agent::queue::{self, QueuedOutcome};
use crate::agent::tools::ToolBox;
use crate::agent::{TurnContext, TurnRequest, TurnSession};
use crate::runtime::Runtime;
use crate::util::new_id;

/// What to run.
#[derive(Debug, Clone)]
pub struct ProactiveRun {
    /// `None`: the default agent.
    pub agent_id: Option<String>,
    pub prompt: String,
    pub session: RunSession,
    pub deliver: DeliveryTarget,
    /// `None`: `agents.defaults.timeoutSeconds`.
    pub timeout: Option<Duration>,
    /// What started it (`cron`, `heartbeat`, `hook`): the run's channel in usage.
    pub channel: &'static str,
    /// An answer of exactly this (trimmed) is not delivered: the heartbeat's `HEARTBEAT_OK`.
    pub quiet_token: Option<&'static str>,
}

/// Which conversation the run happens in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunSession {
    /// A fresh session of its own: `agent:<agent>:<label>`.
    Isolated { label: String },
    /// A stored session continued at every run (a short name is the agent's).
    Named(String),
}

/// How a run ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Finished {
    pub run_id: String,
    pub session_key: String,
    pub ok: bool,
    /// The agent's answer.
    pub output: Option<String>,
    pub error: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost: Option<f64>,
    /// Where the answer went, when it was delivered.
    pub delivered_to: Option<String>,
    /// The answer was the quiet token and was kept back.
    pub quiet: bool,
}

/// Runs `job` to its end (or `cancel`, or its timeout) and delivers the answer.
pub async fn run(rt: &Arc<Runtime>, job: ProactiveRun, cancel: CancellationToken) -> Finished {
    let run_id = new_id();
    let mut done = Finished {
        run_id: run_id.clone(),
        ..Finished::default()
    };
    let live = rt.live();
    let agent = match job.agent_id.as_deref() {
        None => live.agents.default_agent().clone(),
        Some(id) => match live.agents.get(id) {
            Some(agent) => agent.clone(),
            None => {
                done.error = Some(format!("no agent `{id}` in the config any more"));
                return done;
            }
        },
    };
    let key = match &job.session {
        RunSession::Isolated { label } => format!("agent:{}:{label}", agent.id),
        RunSession::Named(key) => {
            match crate::sessions::resolve_key(Some(key), &agent.id, "main") {
                Ok(key) => key,
                Err(e) => {
                    done.error = Some(e);
                    return done;
                }
            }
        }
    };
    done.session_key.clone_from(&key);
    let timeout = job
        .timeout
        .unwrap_or_else(|| Duration::from_secs(live.config.agents.defaults.timeout_seconds));
    let turn_cancel = cancel.child_token();
    let request = TurnRequest {
        run_id: run_id.clone(),
        agent: agent.clone(),
        session: TurnSession::Persistent {
            key: key.clone(),
            channel: job.channel.to_owned(),
            sender: None,
        },
        input: Message::text(Role::User, job.prompt.clone()),
        extra_system: Some(context_note(&job)),
        tools: ToolBox::for_agent(rt, &agent),
        cancel: turn_cancel.clone(),
        observer: None,
        context: TurnContext::default(),
    };
    drop(live);
    let submission = queue::submit(rt, request);
    let result = tokio::select! {
        result = submission.outcome() => Some(result),
        () = tokio::time::sleep(timeout) => None,
    };
    let answer = match result {
        None => {
            turn_cancel.cancel();
            done.error = Some(format!(
                "stopped after its timeout of {} s",
                timeout.as_secs()
            ));
            return done;
        }
        Some(Ok(QueuedOutcome::Answered(outcome))) => {
            done.run_id.clone_from(&outcome.run_id);
            done.input_tokens = outcome.usage.input;
            done.output_tokens = outcome.usage.output;
            done.cost = outcome.usage.cost;
            outcome.message.plain_text()
        }
        Some(Ok(QueuedOutcome::MergedInto { .. } | QueuedOutcome::Steered { .. })) => {
            done.ok = true;
            done.output = Some("(handed to the turn already running in this session)".into());
            return done;
        }
        Some(Ok(QueuedOutcome::Interrupted)) => {
            done.error = Some("interrupted by a newer message in its session".to_owned());
            return done;
        }
        Some(Err(e)) => {
            done.error = Some(e.to_string());
            return done;
        }
    };
    done.ok = true;
    let trimmed = answer.trim();
    done.output = Some(answer.clone());
    if trimmed.is_empty() || job.quiet_token.is_some_and(|t| trimmed == t) {
        done.quiet = true;
        return done;
    }
    match deliver(rt, &job.deliver, &answer, &done.run_id, &agent.id).await {
        Ok(to) => done.delivered_to = to,
        Err(e) => {
            done.ok = false;
            done.error = Some(format!("answered, but the delivery failed: {e}"));
        }
    }
    done
}

fn context_note(job: &ProactiveRun) -> String {
    let whence = match job.channel {
        "cron" => "a scheduled job",
        "heartbeat" => "the periodic heartbeat",
        "hook" => "a webhook",
        other => other,
    };
    let whither = match &job.deliver {
        DeliveryTarget::None => "kept in the run history; nobody is told".to_owned(),
        other => format!("delivered to {other}"),
    };
    format!(
        "This turn was started by {whence}, not by a person writing in a chat; nobody is waiting for a reply here. Your answer is {whither}. Answer in Markdown."
    )
}

/// Sends `text` (the run `run_id`'s answer) to `target`: where it went, `None` for
/// [`DeliveryTarget::None`].
pub async fn deliver(
    rt: &Arc<Runtime>,
    target: &DeliveryTarget,
    text: &str,
    run_id: &str,
    agent_id: &str,
) -> Result<Option<String>, String> {
    match target {
        DeliveryTarget::None => Ok(None),
        DeliveryTarget::Last => {
            let identity = owner_chat(rt).await?;
            crate::identity::send_to(rt, &identity, text).await?;
            Ok(Some(identity))
        }
        DeliveryTarget::Peer {
            channel,
            account,
            chat_id,
            thread_id,
        } => {
            let handle = match account {
                Some(account) => rt.channels.handle(channel, account),
                None => {
                    let mut handles: Vec<_> = rt
                        .channels
                        .handles()
                        .into_iter()
                        .filter(|h| h.channel() == channel)
                        .collect();
                    handles.sort_by_key(|h| h.account() != hearth_config::DEFAULT_ACCOUNT);
                    handles.into_iter().next()
                }
            }
            .ok_or_else(|| {
                format!("no {channel} account is configured and running (`hearth channels add {channel}`)")
            })?;
            if handle.adapter.get().is_none() {
                return Err(format!(
                    "the {channel} account `{}` is not connected yet",
                    handle.account()
                ));
            }
            let to = Target {
                peer_kind: PeerKind::Direct,
                chat_id: chat_id.clone(),
                thread_id: thread_id.clone(),
                reply_to: None,
            };
            crate::channels::inbound::queue_text(rt, &handle, &to, text, None).await;
            Ok(Some(target.to_string()))
        }
        DeliveryTarget::Session(key) => {
            let key = crate::sessions::resolve_key(Some(key), agent_id, "main")?;
            let agent = crate::sessions::agent_of_key(&key).unwrap_or(agent_id);
            let (session, _) = rt
                .store
                .ensure_session(NewSession {
                    key: &key,
                    agent_id: agent,
                    channel: "webchat",
                    sender: None,
                })
                .await
                .map_err(|e| format!("the store failed: {e}"))?;
            let mut message = Message::text(Role::Assistant, text);
            message.timestamp = rt.now_ms();
            rt.store
                .append_messages(&session.id, run_id, std::slice::from_ref(&message))
                .await
                .map_err(|e| format!("the store failed: {e}"))?;
            rt.sessions.forget(&key);
            rt.bus.publish(Event::SessionsChanged(SessionsChanged {
                key: key.clone(),
                session_id: Some(session.id),
                reason: SessionChange::Updated,
            }));
            Ok(Some(format!("session:{key}")))
        }
    }
}

/// The owner's identity on a channel with a direct chat: the first of the owner's linked
/// identities that has written to the bot.
async fn owner_chat(rt: &Runtime) -> Result<String, String> {
    let live = rt.live();
    let links = &live.config.session.identity_links;
    let owner = crate::routing::owner(links);
    let identities: Vec<String> = links.get(&owner).cloned().unwrap_or_default();
    for identity in identities.iter().filter(|i| !i.starts_with("webchat:")) {
        if crate::identity::direct_chat(rt, identity).await.is_ok() {
            return Ok(identity.clone());
        }
    }
    Err(format!(
        "`last` delivers to your latest direct chat with the bot, but no chat identity is linked to you (`{}`); link one: `hearth identity link me {} telegram:<your id>`",
        crate::routing::OWNER_IDENTITY,
        crate::routing::OWNER_IDENTITY
    ))
}
