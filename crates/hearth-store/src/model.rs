//! The records the store reads and writes, and their mapping to and from SQL rows.

use hearth_protocol::methods::{SessionInfo, SessionsListParams};
use hearth_protocol::transcript::{Message, Role, Usage};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A session as stored: identity, bookkeeping and running totals.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: String,
    pub key: String,
    pub agent_id: String,
    pub channel: String,
    pub sender: Option<String>,
    pub title: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Milliseconds since the Unix epoch.
    pub updated_at: i64,
    pub archived: bool,
    pub message_count: u64,
    /// The sum of the committed turns' usage.
    pub usage: Usage,
    /// `provider/model` chosen with `/model` for this session, used instead of the agent's primary.
    pub model_override: Option<String>,
    /// The session this one was forked from or spawned by.
    pub parent_id: Option<String>,
    /// For a fork: the parent's last message `seq` that was copied.
    pub fork_seq: Option<i64>,
}

impl SessionRecord {
    /// The session as clients see it.
    pub fn to_info(&self) -> SessionInfo {
        SessionInfo {
            key: self.key.clone(),
            session_id: self.id.clone(),
            agent_id: self.agent_id.clone(),
            channel: self.channel.clone(),
            sender: self.sender.clone(),
            title: self.title.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            message_count: self.message_count,
            usage: self.usage,
            archived: self.archived,
            parent_id: self.parent_id.clone(),
            fork_seq: self.fork_seq,
        }
    }
}

/// What [`crate::Store::ensure_session`] needs to create a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewSession<'a> {
    pub key: &'a str,
    pub agent_id: &'a str,
    pub channel: &'a str,
    pub sender: Option<&'a str>,
}

/// Which sessions [`crate::Store::list_sessions`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    pub agent_id: Option<String>,
    pub channel: Option<String>,
    /// Only this sender's sessions.
    pub sender: Option<String>,
    /// A case-insensitive substring of the key or the title.
    pub search: Option<String>,
    /// Include sessions that were reset.
    pub include_archived: bool,
    /// At most this many sessions; `None` for all.
    pub limit: Option<u32>,
}

impl From<&SessionsListParams> for SessionFilter {
    fn from(p: &SessionsListParams) -> Self {
        Self {
            agent_id: p.agent_id.clone(),
            channel: p.channel.clone(),
            sender: p.sender.clone(),
            search: p.search.clone(),
            include_archived: p.include_archived,
            limit: p.limit,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Completed,
    Failed,
    Aborted,
    /// The gateway stopped (crash, restart) while the run was going.
    Interrupted,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Aborted => "aborted",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

/// One run of an agent: what the user sent, how it ended and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: String,
    /// `None` for a stateless request, or after the session was deleted.
    pub session_id: Option<String>,
    pub session_key: String,
    pub agent_id: String,
    /// The channel the message came in on (`webchat`, `openai`, ...); `None` for runs stored
    /// before channels were recorded whose session is gone.
    pub channel: Option<String>,
    /// `provider/model` that answered, when one did.
    pub model: Option<String>,
    pub status: RunStatus,
    /// The user's text, kept even when the run failed so nothing the user sent is lost.
    pub input: String,
    pub error: Option<String>,
    pub usage: Usage,
    /// Milliseconds since the Unix epoch.
    pub started_at: i64,
    /// Milliseconds since the Unix epoch.
    pub ended_at: i64,
    /// Whom the run answered: a canonical identity (`telegram:123`, or an `identityLinks` name).
    pub sender: Option<String>,
    /// For a sub-agent's run, the run that spawned it.
    pub parent_run_id: Option<String>,
}

// SQLite integers are i64; token counts never come near the limit, so saturating is only a guard.
pub(crate) fn to_db_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn from_db_int(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn usage_from_columns(input: i64, output: i64, read: i64, write: i64, cost: Option<f64>) -> Usage {
    Usage {
        input: from_db_int(input),
        output: from_db_int(output),
        cache_read: from_db_int(read),
        cache_write: from_db_int(write),
        cost,
    }
}

/// The column list every session query selects, in [`SessionRow`]'s order.
pub(crate) const SESSION_COLUMNS: &str = "id, key, agent_id, channel, sender, title, created_at, \
     updated_at, archived, message_count, input_tokens, output_tokens, cache_read_tokens, \
     cache_write_tokens, cost, model_override, parent_id, fork_seq";

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    id: String,
    key: String,
    agent_id: String,
    channel: String,
    sender: Option<String>,
    title: Option<String>,
    created_at: i64,
    updated_at: i64,
    archived: bool,
    message_count: i64,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    cost: Option<f64>,
    model_override: Option<String>,
    parent_id: Option<String>,
    fork_seq: Option<i64>,
}

impl From<SessionRow> for SessionRecord {
    fn from(r: SessionRow) -> Self {
        Self {
            usage: usage_from_columns(
                r.input_tokens,
                r.output_tokens,
                r.cache_read_tokens,
                r.cache_write_tokens,
                r.cost,
            ),
            id: r.id,
            key: r.key,
            agent_id: r.agent_id,
            channel: r.channel,
            sender: r.sender,
            title: r.title,
            created_at: r.created_at,
            updated_at: r.updated_at,
            archived: r.archived,
            message_count: from_db_int(r.message_count),
            model_override: r.model_override,
            parent_id: r.parent_id,
            fork_seq: r.fork_seq,
        }
    }
}

/// The column list every run query selects, in [`RunRow`]'s order.
pub(crate) const RUN_COLUMNS: &str = "id, session_id, session_key, agent_id, channel, model, \
     status, input, error, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost, \
     started_at, ended_at, sender, parent_run_id";

#[derive(sqlx::FromRow)]
pub(crate) struct RunRow {
    id: String,
    session_id: Option<String>,
    session_key: String,
    agent_id: String,
    channel: Option<String>,
    model: Option<String>,
    status: String,
    input: String,
    error: Option<String>,
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    cost: Option<f64>,
    started_at: i64,
    ended_at: i64,
    sender: Option<String>,
    parent_run_id: Option<String>,
}

impl TryFrom<RunRow> for RunRecord {
    type Error = StoreError;

    fn try_from(r: RunRow) -> Result<Self, StoreError> {
        let status =
            serde_json::from_value(serde_json::Value::String(r.status)).map_err(|source| {
                StoreError::Corrupt {
                    what: format!("status of run {}", r.id),
                    source,
                }
            })?;
        Ok(Self {
            usage: usage_from_columns(
                r.input_tokens,
                r.output_tokens,
                r.cache_read_tokens,
                r.cache_write_tokens,
                r.cost,
            ),
            id: r.id,
            session_id: r.session_id,
            session_key: r.session_key,
            agent_id: r.agent_id,
            channel: r.channel,
            model: r.model,
            status,
            input: r.input,
            error: r.error,
            started_at: r.started_at,
            ended_at: r.ended_at,
            sender: r.sender,
            parent_run_id: r.parent_run_id,
        })
    }
}

const TITLE_MAX_CHARS: usize = 80;

/// A session's title: the first user message's text, trimmed, cut to 80 characters.
pub(crate) fn title_from(messages: &[Message]) -> Option<String> {
    messages
        .iter()
        .filter(|m| m.role == Role::User)
        .find_map(|m| {
            let text = m.plain_text();
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            let cut = text
                .char_indices()
                .nth(TITLE_MAX_CHARS)
                .map_or(text.len(), |(at, _)| at);
            Some(text[..cut].trim_end().to_owned())
        })
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_is_first_user_text_trimmed_and_cut_on_a_char_boundary() {
        let long = format!("  {}  ", "é".repeat(100));
        let msgs = [
            Message::assistant("hello"),
            Message::user("   "),
            Message::user(long),
        ];
        let title = title_from(&msgs).unwrap();
        assert_eq!(title.chars().count(), 80);
        assert!(title.chars().all(|c| c == 'é'));
        assert_eq!(
            title_from(&[Message::user("  hi there \n")]).as_deref(),
            Some("hi there")
        );
        assert_eq!(title_from(&[Message::assistant("only me")]), None);
    }

    #[test]
    fn run_status_names_match_the_schema() {
        for s in [
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Aborted,
            RunStatus::Interrupted,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
