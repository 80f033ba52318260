//! What happens to a message that arrives while its session is still answering another one.
//!
//! [`submit`] is the one way a person's message becomes a turn (`chat.send`, the channels'
//! `process`): it joins its session's queue, and one worker task per busy session runs the turns
//! one after another with [`run_turn`] (so the session lock only ever sees one of them waiting).
//! The agent's `queue.mode` decides what a message does while a run is going:
//!
//! - `followup`: it waits and gets its own turn.
//! - `collect`: it waits; every message waiting when the run ends is merged into one turn
//!   ([`merge_inputs`]). The earlier senders get [`QueuedOutcome::MergedInto`], the last one the
//!   answer.
//! - `steer`: it goes to the running turn, which takes it at its next tool boundary
//!   ([`take_steered`], called by the turn after the tool results and before the next model
//!   call). A message the turn did not take (it answered without another model call) gets its
//!   own turn afterwards.
//! - `interrupt`: the running run is aborted ([`QueuedOutcome::Interrupted`]) and the new message
//!   runs next, carrying the interrupted message(s) in front of it (the aborted turn stored
//!   nothing), so the transcript still shows every message.
//!
//! Nothing is dropped: every submitter hears exactly one outcome. When the gateway shuts down
//! in the middle, the messages a run had taken over are answered `Aborted` like the run, so a
//! channel leaves them unanswered and answers them after the restart.
//!
//! The per-session state lives in [`crate::sessions::Sessions`] and exists only while the session
//! has work. Sub-agents (`sessions_spawn`) do not come through here: their turns run directly.

use std::collections::VecDeque;
use std::sync::Arc;

use hearth_config::QueueMode;
use hearth_protocol::transcript::{ContentBlock, Message, Role};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::turn::{TurnError, TurnOutcome, TurnRequest, TurnSession, run_turn};
use crate::runtime::Runtime;

/// How a submitted message was dealt with.
#[derive(Debug, Clone)]
pub enum QueuedOutcome {
    /// Its own turn answered it.
    Answered(Box<TurnOutcome>),
    /// `collect`: it was merged into the turn `run_id`, whose answer covers it.
    MergedInto { run_id: String },
    /// `steer`: the running turn `run_id` took it in and answered it.
    Steered { run_id: String },
    /// `interrupt`: a newer message aborted it; that message's turn carries it.
    Interrupted,
}

type Reply = oneshot::Sender<Result<QueuedOutcome, TurnError>>;

/// A message handed to [`submit`]; await [`Submission::outcome`] for what became of it.
#[derive(Debug)]
pub struct Submission {
    run_id: String,
    queued: bool,
    outcome: oneshot::Receiver<Result<QueuedOutcome, TurnError>>,
}

impl Submission {
    /// The run id the message was submitted under.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Whether another run of the session was going or waiting when it arrived.
    pub fn queued(&self) -> bool {
        self.queued
    }

    /// Waits until the message is answered, merged, steered or interrupted.
    pub async fn outcome(self) -> Result<QueuedOutcome, TurnError> {
        // The worker only goes away without answering when the runtime itself is dropped.
        self.outcome.await.unwrap_or(Err(TurnError::Aborted))
    }
}

/// One session's queue, kept in [`crate::sessions::Sessions`] while the session has work; its
/// existence means a worker is draining it.
#[derive(Debug, Default)]
pub(crate) struct SessionQueue {
    /// The run going now (or about to start).
    current: Option<Current>,
    /// Messages waiting for a turn, oldest first.
    pending: VecDeque<Waiting>,
    /// `steer`: messages handed to the current run that it has not taken yet.
    inbox: Vec<Waiting>,
    /// `steer`: the senders of messages the current run took, answered when it ends.
    taken: Vec<Reply>,
    /// Arrival order across `pending` and `inbox`.
    next_seq: u64,
}

#[derive(Debug)]
struct Current {
    run_id: String,
    cancel: CancellationToken,
    /// A newer message asked for this run to be aborted (`interrupt`).
    interrupted: bool,
}

#[derive(Debug)]
struct Waiting {
    request: TurnRequest,
    mode: QueueMode,
    reply: Reply,
    seq: u64,
}

/// Submits a person's message: it runs now, waits, or joins the running turn, as its agent's
/// `queue.mode` says. The turn runs on the runtime's task tracker whether or not anyone awaits
/// the outcome.
pub fn submit(rt: &Arc<Runtime>, request: TurnRequest) -> Submission {
    let (reply, outcome) = oneshot::channel();
    let run_id = request.run_id.clone();
    let key = match &request.session {
        TurnSession::Persistent { key, .. } => key.clone(),
        // A request that brings its own history has no session to queue on.
        TurnSession::Stateless { .. } => {
            let task_rt = rt.clone();
            rt.tasks.spawn(async move {
                let _ = reply.send(
                    run_turn(&task_rt, request)
                        .await
                        .map(|o| QueuedOutcome::Answered(Box::new(o))),
                );
            });
            return Submission {
                run_id,
                queued: false,
                outcome,
            };
        }
    };
    // A run started elsewhere (the HTTP API) may hold the session too.
    let (_, locked) = rt.sessions.session_lock(&key);
    let mode = request.agent.queue;
    let mut queues = rt.sessions.queues();
    let start_worker = !queues.contains_key(&key);
    let queue = queues.entry(key.clone()).or_default();
    let seq = queue.next_seq;
    queue.next_seq += 1;
    let mut waiting = Waiting {
        request,
        mode,
        reply,
        seq,
    };
    match mode {
        QueueMode::Steer if queue.current.is_some() => queue.inbox.push(waiting),
        QueueMode::Interrupt => {
            if let Some(current) = &mut queue.current {
                current.interrupted = true;
                current.cancel.cancel();
            }
            // Messages that had not started yet are superseded too; the newest carries them.
            let superseded: Vec<Waiting> = queue.pending.drain(..).collect();
            if !superseded.is_empty() {
                let mut inputs: Vec<Message> = Vec::with_capacity(superseded.len() + 1);
                for s in superseded {
                    inputs.push(s.request.input);
                    let _ = s.reply.send(Ok(QueuedOutcome::Interrupted));
                }
                inputs.push(waiting.request.input);
                waiting.request.input = merge_inputs(inputs);
            }
            queue.pending.push_back(waiting);
        }
        _ => queue.pending.push_back(waiting),
    }
    drop(queues);
    if start_worker {
        tracing::debug!(session = %key, ?mode, "session queue starts");
        let task_rt = rt.clone();
        rt.tasks.spawn(work(task_rt, key));
    }
    Submission {
        run_id,
        queued: !start_worker || locked,
        outcome,
    }
}

/// `steer`: the messages handed to run `run_id` of session `key` that it has not taken yet, in
/// arrival order. Their senders hear [`QueuedOutcome::Steered`] when the run ends.
pub(crate) fn take_steered(rt: &Runtime, key: &str, run_id: &str) -> Vec<Message> {
    let mut queues = rt.sessions.queues();
    let Some(queue) = queues.get_mut(key) else {
        return Vec::new();
    };
    if queue
        .current
        .as_ref()
        .is_none_or(|current| current.run_id != run_id)
    {
        return Vec::new();
    }
    let inbox = std::mem::take(&mut queue.inbox);
    let mut messages = Vec::with_capacity(inbox.len());
    for waiting in inbox {
        tracing::debug!(session = %key, run_id, steered = %waiting.request.run_id, "a message joins the running turn");
        messages.push(waiting.request.input);
        queue.taken.push(waiting.reply);
    }
    messages
}

/// Drops the messages waiting in `key`'s queue (every one, or the one submitted as `run_id`),
/// telling their senders [`QueuedOutcome::Interrupted`]; answers their run ids. `chat.abort`,
/// `/stop` and `/reset` use it (through [`crate::sessions::Sessions::abort`]), so a stopped
/// session does not go on to answer what was queued behind the stopped run.
pub(crate) fn cancel_waiting(
    queues: &mut std::collections::HashMap<String, SessionQueue>,
    key: &str,
    run_id: Option<&str>,
) -> Vec<String> {
    let Some(queue) = queues.get_mut(key) else {
        return Vec::new();
    };
    let wanted = |w: &Waiting| run_id.is_none_or(|id| w.request.run_id == id);
    let (gone, kept): (Vec<Waiting>, Vec<Waiting>) = queue.pending.drain(..).partition(wanted);
    queue.pending.extend(kept);
    let (gone_steered, kept): (Vec<Waiting>, Vec<Waiting>) =
        queue.inbox.drain(..).partition(wanted);
    queue.inbox = kept;
    let mut cancelled = Vec::new();
    for w in gone.into_iter().chain(gone_steered) {
        cancelled.push(w.request.run_id.clone());
        let _ = w.reply.send(Ok(QueuedOutcome::Interrupted));
    }
    cancelled
}

/// Several user messages as one, in order: their texts joined with blank lines, then every
/// image.
pub fn merge_inputs(inputs: Vec<Message>) -> Message {
    let mut texts = Vec::with_capacity(inputs.len());
    let mut images = Vec::new();
    for input in inputs {
        let text = input.plain_text();
        if !text.trim().is_empty() {
            texts.push(text);
        }
        images.extend(
            input
                .content
                .into_iter()
                .filter(|b| matches!(b, ContentBlock::Image { .. })),
        );
    }
    let mut content = Vec::with_capacity(1 + images.len());
    if !texts.is_empty() {
        content.push(ContentBlock::Text {
            text: texts.join("\n\n"),
        });
    }
    content.extend(images);
    Message::new(Role::User, content)
}

/// What the worker runs next and whom it answers.
struct Batch {
    request: TurnRequest,
    /// The sender the turn answers.
    answer: Reply,
    /// `collect`: the earlier senders whose messages were merged into it.
    merged: Vec<Reply>,
    /// `interrupt`: the input, to carry in front of the next message if this run is interrupted.
    input: Option<Message>,
}

/// Drains one session's queue, one turn at a time, and removes it once nothing is left.
async fn work(rt: Arc<Runtime>, key: String) {
    let _cleanup = Cleanup { rt: &rt, key: &key };
    while let Some(batch) = next_batch(&rt, &key) {
        let Batch {
            request,
            answer,
            merged,
            input,
        } = batch;
        let run_id = request.run_id.clone();
        let result = run_turn(&rt, request).await;
        let aborted = matches!(result, Err(TurnError::Aborted));
        // Runs cut short by the shutdown leave their messages unanswered, to be answered after
        // the restart, so nothing is reported as merged, steered or interrupted then.
        let shutting_down = aborted && rt.shutdown.is_cancelled();
        let (interrupted, taken) = settle(&rt, &key, aborted && !shutting_down, input);
        let taken_over = |outcome: QueuedOutcome| {
            if shutting_down {
                Err(TurnError::Aborted)
            } else {
                Ok(outcome)
            }
        };
        for reply in merged {
            let _ = reply.send(taken_over(QueuedOutcome::MergedInto {
                run_id: run_id.clone(),
            }));
        }
        for reply in taken {
            let _ = reply.send(taken_over(QueuedOutcome::Steered {
                run_id: run_id.clone(),
            }));
        }
        let _ = answer.send(if interrupted {
            Ok(QueuedOutcome::Interrupted)
        } else {
            result.map(|o| QueuedOutcome::Answered(Box::new(o)))
        });
    }
}

/// Takes the next turn off the queue (merging for `collect`) and marks it current; `None`, and
/// the queue removed, when nothing waits.
fn next_batch(rt: &Runtime, key: &str) -> Option<Batch> {
    let mut queues = rt.sessions.queues();
    let queue = queues.get_mut(key)?;
    let Some(first) = queue.pending.pop_front() else {
        queues.remove(key);
        tracing::debug!(session = %key, "session queue idle");
        return None;
    };
    let mut group = vec![first];
    if group[0].mode == QueueMode::Collect {
        while queue
            .pending
            .front()
            .is_some_and(|w| w.mode == QueueMode::Collect)
        {
            group.extend(queue.pending.pop_front());
        }
    }
    let last = group.pop()?;
    let mut request = last.request;
    let mut merged = Vec::with_capacity(group.len());
    if !group.is_empty() {
        let mut inputs: Vec<Message> = Vec::with_capacity(group.len() + 1);
        for earlier in group {
            inputs.push(earlier.request.input);
            merged.push(earlier.reply);
        }
        tracing::debug!(session = %key, run_id = %request.run_id, messages = inputs.len() + 1, "waiting messages merged into one turn");
        inputs.push(request.input);
        request.input = merge_inputs(inputs);
    }
    queue.current = Some(Current {
        run_id: request.run_id.clone(),
        cancel: request.cancel.clone(),
        interrupted: false,
    });
    let input = (last.mode == QueueMode::Interrupt).then(|| request.input.clone());
    Some(Batch {
        request,
        answer: last.reply,
        merged,
        input,
    })
}

/// After a run: clears it as current, puts the steered messages it did not take back in line,
/// and, when a newer message interrupted it, carries its input in front of that message. Answers
/// whether it counts as interrupted, and the senders of the messages it took.
fn settle(rt: &Runtime, key: &str, aborted: bool, input: Option<Message>) -> (bool, Vec<Reply>) {
    let mut queues = rt.sessions.queues();
    let Some(queue) = queues.get_mut(key) else {
        return (false, Vec::new());
    };
    let asked = queue.current.take().is_some_and(|c| c.interrupted);
    let taken = std::mem::take(&mut queue.taken);
    let leftovers = std::mem::take(&mut queue.inbox);
    if !leftovers.is_empty() {
        tracing::debug!(session = %key, messages = leftovers.len(), "the turn ended before taking steered messages; they run next");
        queue.pending.extend(leftovers);
        queue.pending.make_contiguous().sort_by_key(|w| w.seq);
    }
    let interrupted = asked && aborted;
    if interrupted && let (Some(input), Some(next)) = (input, queue.pending.front_mut()) {
        let newer = std::mem::replace(&mut next.request.input, Message::user(""));
        next.request.input = merge_inputs(vec![input, newer]);
    }
    (interrupted, taken)
}

/// Removes the session's queue if its worker panics, so the session does not stay stuck behind
/// a worker that is gone; the senders waiting in it hear `Aborted`.
struct Cleanup<'a> {
    rt: &'a Runtime,
    key: &'a str,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.rt.sessions.queues().remove(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hearth_config::Config;
    use hearth_test_utils::{FakeOpenAi, FakeToolCall, Reply as FakeReply};
    use serde_json::{Value, json};

    use super::*;
    use crate::agent::tools::ToolBox;
    use crate::agent::turn::TurnContext;

    struct Setup {
        rt: Arc<Runtime>,
        fake: FakeOpenAi,
        _home: tempfile::TempDir,
    }

    async fn setup(mode: &str) -> Setup {
        let fake = FakeOpenAi::start().await;
        let home = tempfile::tempdir().unwrap();
        let config: Config = serde_json::from_value(json!({
            "agents": { "defaults": {
                "model": { "primary": "fake/m" },
                "queue": { "mode": mode },
                "compaction": { "mode": "off" }
            } },
            "models": { "providers": { "fake": {
                "baseUrl": fake.base_url(), "apiKey": "sk-fake", "api": "openai-completions",
                "models": [ { "id": "m", "name": "M", "contextWindow": 128000, "maxTokens": 1024 } ]
            } } }
        }))
        .unwrap();
        let rt = crate::agent::tools::testing::runtime(home.path(), config).await;
        Setup {
            rt,
            fake,
            _home: home,
        }
    }

    fn request(rt: &Arc<Runtime>, text: &str) -> TurnRequest {
        let live = rt.live();
        let agent = live.agents.default_agent().clone();
        TurnRequest {
            run_id: crate::util::new_id(),
            tools: ToolBox::for_agent(rt, &agent),
            agent,
            session: TurnSession::Persistent {
                key: "agent:main:main".to_owned(),
                channel: "webchat".to_owned(),
                sender: None,
            },
            input: Message::user(text),
            extra_system: None,
            cancel: rt.runs_cancel.child_token(),
            observer: None,
            context: TurnContext::default(),
        }
    }

    fn send(rt: &Arc<Runtime>, text: &str) -> Submission {
        submit(rt, request(rt, text))
    }

    async fn outcome(s: Submission) -> QueuedOutcome {
        tokio::time::timeout(Duration::from_secs(10), s.outcome())
            .await
            .expect("an outcome in time")
            .expect("no turn error")
    }

    fn answer(o: &QueuedOutcome) -> String {
        match o {
            QueuedOutcome::Answered(t) => t.message.plain_text(),
            other => panic!("not answered: {other:?}"),
        }
    }

    async fn transcript(rt: &Runtime) -> Vec<String> {
        let session = rt
            .store
            .session_for_key("agent:main:main")
            .await
            .unwrap()
            .unwrap();
        rt.store
            .transcript(&session.id, None)
            .await
            .unwrap()
            .iter()
            .filter(|m| m.role != Role::Tool)
            .map(Message::plain_text)
            .collect()
    }

    /// The user messages of one recorded model request.
    fn user_texts(body: &Value) -> Vec<String> {
        body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "user")
            .map(|m| match &m["content"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
    }

    async fn wait_idle(rt: &Runtime) {
        for _ in 0..200 {
            if rt.sessions.queues().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the session queue never went idle");
    }

    #[tokio::test]
    async fn aborting_a_session_drops_what_waited_behind_its_run() {
        let s = setup("followup").await;
        s.fake.push(FakeReply::delayed(
            Duration::from_secs(5),
            FakeReply::text("too late"),
        ));
        let first = send(&s.rt, "one");
        let second = send(&s.rt, "two");
        let third = send(&s.rt, "three");
        let third_id = third.run_id().to_owned();
        // One waiting message by id, then the whole session.
        assert_eq!(
            s.rt.sessions.abort("agent:main:main", Some(&third_id)),
            [third_id]
        );
        assert!(matches!(outcome(third).await, QueuedOutcome::Interrupted));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stopped = s.rt.sessions.abort("agent:main:main", None);
        assert_eq!(stopped.len(), 2, "{stopped:?}");
        assert!(matches!(outcome(second).await, QueuedOutcome::Interrupted));
        let first = tokio::time::timeout(Duration::from_secs(10), first.outcome())
            .await
            .unwrap();
        assert!(matches!(first, Err(TurnError::Aborted)), "{first:?}");
        wait_idle(&s.rt).await;
        assert_eq!(s.fake.request_count(), 1, "nothing ran after the abort");
    }

    #[tokio::test]
    async fn followup_answers_each_message_in_order() {
        let s = setup("followup").await;
        s.fake.push(FakeReply::delayed(
            Duration::from_millis(200),
            FakeReply::text("one done"),
        ));
        let first = send(&s.rt, "one");
        let second = send(&s.rt, "two");
        assert!(!first.queued() && second.queued());
        assert_eq!(answer(&outcome(first).await), "one done");
        assert_eq!(answer(&outcome(second).await), "echo: two");
        assert_eq!(
            transcript(&s.rt).await,
            ["one", "one done", "two", "echo: two"]
        );
        wait_idle(&s.rt).await;
    }

    #[tokio::test]
    async fn collect_merges_what_waited_into_one_turn() {
        let s = setup("collect").await;
        s.fake.push(FakeReply::delayed(
            Duration::from_millis(300),
            FakeReply::text("first done"),
        ));
        let first = send(&s.rt, "first");
        assert!(s.fake.wait_for_requests(1, Duration::from_secs(5)).await);
        let (a, b, c) = (send(&s.rt, "a"), send(&s.rt, "b"), send(&s.rt, "c"));
        let last_run = c.run_id().to_owned();
        assert_eq!(answer(&outcome(first).await), "first done");
        for earlier in [a, b] {
            match outcome(earlier).await {
                QueuedOutcome::MergedInto { run_id } => assert_eq!(run_id, last_run),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(answer(&outcome(c).await), "echo: a\n\nb\n\nc");
        assert_eq!(s.fake.request_count(), 2, "one model call for the three");
        assert_eq!(
            transcript(&s.rt).await,
            ["first", "first done", "a\n\nb\n\nc", "echo: a\n\nb\n\nc"]
        );
        wait_idle(&s.rt).await;
    }

    #[tokio::test]
    async fn steer_hands_the_message_to_the_running_turn() {
        let s = setup("steer").await;
        s.fake.push(FakeReply::delayed(
            Duration::from_millis(300),
            FakeReply::tool_calls([FakeToolCall::new(
                "c1",
                "memory_search",
                r#"{"query":"milk"}"#,
            )]),
        ));
        s.fake.push(FakeReply::text("bought oat milk"));
        let first = send(&s.rt, "buy milk");
        let first_run = first.run_id().to_owned();
        assert!(s.fake.wait_for_requests(1, Duration::from_secs(5)).await);
        let steer = send(&s.rt, "oat milk please");
        assert!(steer.queued());
        assert_eq!(answer(&outcome(first).await), "bought oat milk");
        match outcome(steer).await {
            QueuedOutcome::Steered { run_id } => assert_eq!(run_id, first_run),
            other => panic!("{other:?}"),
        }
        let requests = s.fake.requests();
        assert_eq!(requests.len(), 2);
        let second = &requests[1].body;
        assert_eq!(user_texts(second), ["buy milk", "oat milk please"]);
        let roles: Vec<&str> = second["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool", "user"]);
        assert_eq!(
            transcript(&s.rt).await,
            ["buy milk", "", "oat milk please", "bought oat milk"]
        );
        wait_idle(&s.rt).await;
    }

    #[tokio::test]
    async fn steer_runs_what_the_turn_did_not_take_as_followups() {
        let s = setup("steer").await;
        s.fake.push(FakeReply::delayed(
            Duration::from_millis(300),
            FakeReply::text("done"),
        ));
        let first = send(&s.rt, "one");
        assert!(s.fake.wait_for_requests(1, Duration::from_secs(5)).await);
        let (two, three) = (send(&s.rt, "two"), send(&s.rt, "three"));
        assert_eq!(answer(&outcome(first).await), "done");
        assert_eq!(answer(&outcome(two).await), "echo: two");
        assert_eq!(answer(&outcome(three).await), "echo: three");
        assert_eq!(
            transcript(&s.rt).await,
            ["one", "done", "two", "echo: two", "three", "echo: three"]
        );
        wait_idle(&s.rt).await;
    }

    #[tokio::test]
    async fn interrupt_aborts_the_run_and_carries_its_message() {
        let s = setup("interrupt").await;
        s.fake.push(FakeReply::Stall);
        let first = send(&s.rt, "write a poem about cats");
        let first_run = first.run_id().to_owned();
        assert!(s.fake.wait_for_requests(1, Duration::from_secs(5)).await);
        let second = send(&s.rt, "no, about dogs");
        assert!(matches!(outcome(first).await, QueuedOutcome::Interrupted));
        assert_eq!(
            answer(&outcome(second).await),
            "echo: write a poem about cats\n\nno, about dogs"
        );
        let run = s.rt.store.get_run(&first_run).await.unwrap().unwrap();
        assert_eq!(run.status, hearth_store::RunStatus::Aborted);
        assert_eq!(
            transcript(&s.rt).await,
            [
                "write a poem about cats\n\nno, about dogs",
                "echo: write a poem about cats\n\nno, about dogs"
            ]
        );
        wait_idle(&s.rt).await;
    }

    #[tokio::test]
    async fn interrupt_supersedes_messages_that_had_not_started() {
        let s = setup("interrupt").await;
        s.fake.push(FakeReply::Stall);
        let first = send(&s.rt, "a");
        assert!(s.fake.wait_for_requests(1, Duration::from_secs(5)).await);
        // Both arrive before the aborted run has settled: the newest answers for all three.
        let (second, third) = (send(&s.rt, "b"), send(&s.rt, "c"));
        assert!(matches!(outcome(second).await, QueuedOutcome::Interrupted));
        assert!(matches!(outcome(first).await, QueuedOutcome::Interrupted));
        assert_eq!(answer(&outcome(third).await), "echo: a\n\nb\n\nc");
        assert_eq!(s.fake.request_count(), 2);
        wait_idle(&s.rt).await;
    }

    #[tokio::test]
    async fn interrupt_with_nothing_running_just_answers() {
        let s = setup("interrupt").await;
        let first = send(&s.rt, "one");
        assert_eq!(answer(&outcome(first).await), "echo: one");
        let second = send(&s.rt, "two");
        assert_eq!(answer(&outcome(second).await), "echo: two");
        assert_eq!(
            transcript(&s.rt).await,
            ["one", "echo: one", "two", "echo: two"]
        );
    }

    #[tokio::test]
    async fn shutdown_leaves_taken_over_messages_aborted() {
        let s = setup("collect").await;
        s.fake.push(FakeReply::Stall);
        let first = send(&s.rt, "first");
        assert!(s.fake.wait_for_requests(1, Duration::from_secs(5)).await);
        let (a, b) = (send(&s.rt, "a"), send(&s.rt, "b"));
        s.rt.shutdown.cancel();
        s.rt.runs_cancel.cancel();
        for sub in [first, a, b] {
            let result = tokio::time::timeout(Duration::from_secs(10), sub.outcome())
                .await
                .expect("an outcome in time");
            assert!(matches!(result, Err(TurnError::Aborted)), "{result:?}");
        }
        wait_idle(&s.rt).await;
    }

    #[test]
    fn merged_inputs_keep_texts_and_images_in_order() {
        let image = |data: &str| ContentBlock::Image {
            mime_type: "image/png".into(),
            data: data.into(),
        };
        let with_image = Message::new(
            Role::User,
            vec![
                ContentBlock::Text {
                    text: "look".into(),
                },
                image("AAA"),
            ],
        );
        let only_image = Message::new(Role::User, vec![image("BBB")]);
        let merged = merge_inputs(vec![with_image, only_image, Message::user("and this")]);
        assert_eq!(merged.role, Role::User);
        assert_eq!(merged.plain_text(), "look\n\nand this");
        let images: Vec<&str> = merged
            .content
            .iter()
            .filter_map(|b| match b {
                ContentBlock::Image { data, .. } => Some(data.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(images, ["AAA", "BBB"]);
    }
}
