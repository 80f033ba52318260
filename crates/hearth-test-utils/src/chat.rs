//! What the messaging fakes ([`crate::FakeTelegram`], [`crate::FakeDiscord`],
//! [`crate::FakeSlack`]) record of the messages a bot sent, in one shape, so one conformance
//! suite can read any of them.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

/// What kind of message the bot sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentKind {
    Text,
    Photo,
    Document,
    Voice,
    Other,
}

/// One message the bot posted, with every later edit of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    pub chat_id: String,
    pub message_id: String,
    /// The text (or caption) now, after edits.
    pub text: String,
    /// Every version of the text in order: the original first, then each edit.
    pub versions: Vec<String>,
    pub reply_to: Option<String>,
    pub thread_id: Option<String>,
    pub kind: SentKind,
    pub file_name: Option<String>,
    pub file_len: Option<usize>,
    /// The markup it was sent with (Telegram `parse_mode`, Slack `mrkdwn`, …), when given.
    pub format: Option<String>,
}

impl SentMessage {
    pub fn text(chat_id: &str, message_id: &str, text: &str) -> SentMessage {
        SentMessage {
            chat_id: chat_id.to_owned(),
            message_id: message_id.to_owned(),
            text: text.to_owned(),
            versions: vec![text.to_owned()],
            reply_to: None,
            thread_id: None,
            kind: SentKind::Text,
            file_name: None,
            file_len: None,
            format: None,
        }
    }
}

/// The messages a fake's bot sent, in order, with a way to wait for them.
#[derive(Debug, Default)]
pub struct Outbox {
    messages: Mutex<Vec<SentMessage>>,
    changed: Notify,
    typing: Mutex<Vec<String>>,
}

impl Outbox {
    pub fn push(&self, message: SentMessage) {
        lock(&self.messages).push(message);
        self.changed.notify_waiters();
    }

    /// Applies an edit; false when no such message exists.
    pub fn edit(&self, chat_id: &str, message_id: &str, text: &str) -> bool {
        let mut messages = lock(&self.messages);
        let Some(m) = messages
            .iter_mut()
            .find(|m| m.chat_id == chat_id && m.message_id == message_id)
        else {
            return false;
        };
        m.text = text.to_owned();
        m.versions.push(text.to_owned());
        drop(messages);
        self.changed.notify_waiters();
        true
    }

    /// Records a typing indicator in `chat_id`.
    pub fn typing(&self, chat_id: &str) {
        lock(&self.typing).push(chat_id.to_owned());
        self.changed.notify_waiters();
    }

    pub fn typing_in(&self, chat_id: &str) -> usize {
        lock(&self.typing).iter().filter(|c| *c == chat_id).count()
    }

    pub fn all(&self) -> Vec<SentMessage> {
        lock(&self.messages).clone()
    }

    /// Messages sent to `chat_id`, in order.
    pub fn in_chat(&self, chat_id: &str) -> Vec<SentMessage> {
        lock(&self.messages)
            .iter()
            .filter(|m| m.chat_id == chat_id)
            .cloned()
            .collect()
    }

    /// Waits until `done` holds for the messages sent so far (checked on every change), or
    /// `timeout` passes; returns the messages either way.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&[SentMessage]) -> bool,
    ) -> Vec<SentMessage> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = self.all();
            if done(&now) {
                return now;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.all();
            }
        }
    }

    /// Waits for at least `n` messages in `chat_id`.
    pub async fn wait_for(&self, chat_id: &str, n: usize, timeout: Duration) -> Vec<SentMessage> {
        self.wait_until(timeout, |all| {
            all.iter().filter(|m| m.chat_id == chat_id).count() >= n
        })
        .await
        .into_iter()
        .filter(|m| m.chat_id == chat_id)
        .collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
