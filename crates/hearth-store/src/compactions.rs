//! Compaction summaries, the per-session model override and the memory-flush mark.
//!
//! A compaction never deletes or rewrites messages: it adds a summary that covers every message
//! up to a `seq`. A turn then reads [`Store::context`] (the latest summary and the messages after
//! it) instead of the whole transcript, while `chat.history` reads
//! [`Store::transcript_entries`], where each summary sits after the last message it covers.

use hearth_protocol::transcript::Message;

use crate::model::{from_db_int, now_ms, to_db_int};
use crate::{Store, StoreError};

pub(crate) const LATEST_COMPACTION: &str = "SELECT through_seq, summary, messages_summarised, \
     tokens_before, tokens_after, model, created_at FROM compactions WHERE session_id = ? \
     ORDER BY through_seq DESC LIMIT 1";
pub(crate) const MESSAGES_AFTER: &str = "SELECT content_json FROM messages WHERE session_id = ? \
     AND seq > ? ORDER BY seq DESC LIMIT ?";
pub(crate) const MODEL_OVERRIDE: &str = "SELECT model_override FROM sessions WHERE id = ?";

/// A stored compaction: the summary standing in for messages `1..=through_seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactionRecord {
    /// The last message `seq` the summary covers.
    pub through_seq: i64,
    pub summary: String,
    /// Messages the summary replaced in the context (an earlier summary counts as one).
    pub messages_summarised: u64,
    /// Estimated prompt tokens before and after.
    pub tokens_before: u64,
    pub tokens_after: u64,
    /// `provider/model` that wrote the summary.
    pub model: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
}

/// What [`Store::record_compaction`] stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewCompaction<'a> {
    pub through_seq: i64,
    pub summary: &'a str,
    pub messages_summarised: u64,
    pub tokens_before: u64,
    pub tokens_after: u64,
    pub model: Option<&'a str>,
}

/// What a turn puts in the model's context: the latest summary, then the messages after it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionContext {
    pub compaction: Option<CompactionRecord>,
    /// Oldest first.
    pub messages: Vec<Message>,
    /// The `seq` of the session's last message (0 when it has none).
    pub last_seq: i64,
}

/// One item of a session's full history, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum TranscriptEntry {
    Message(Message),
    /// A summary, placed right after the last message it covers.
    Compaction(CompactionRecord),
}

type CompactionRow = (i64, String, i64, i64, i64, Option<String>, i64);

fn compaction_from(row: CompactionRow) -> CompactionRecord {
    let (through_seq, summary, n, before, after, model, created_at) = row;
    CompactionRecord {
        through_seq,
        summary,
        messages_summarised: from_db_int(n),
        tokens_before: from_db_int(before),
        tokens_after: from_db_int(after),
        model,
        created_at,
    }
}

fn decode(session_id: &str, json: &str) -> Result<Message, StoreError> {
    serde_json::from_str(json).map_err(|source| StoreError::Corrupt {
        what: format!("message in session {session_id}"),
        source,
    })
}

impl Store {
    /// The `seq` of a session's last message, 0 when it has none.
    pub async fn last_seq(&self, session_id: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(crate::writer::LAST_SEQ)
            .bind(session_id)
            .fetch_one(&self.pool)
            .await?)
    }

    /// The latest summary of a session and at most `limit` messages after it (all when `None`),
    /// oldest first.
    pub async fn context(
        &self,
        session_id: &str,
        limit: Option<u32>,
    ) -> Result<SessionContext, StoreError> {
        let compaction = sqlx::query_as::<_, CompactionRow>(LATEST_COMPACTION)
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?
            .map(compaction_from);
        let after = compaction.as_ref().map_or(0, |c| c.through_seq);
        let rows: Vec<String> = sqlx::query_scalar(MESSAGES_AFTER)
            .bind(session_id)
            .bind(after)
            .bind(limit.map_or(-1, i64::from))
            .fetch_all(&self.pool)
            .await?;
        let last_seq = self.last_seq(session_id).await?;
        let mut messages = rows
            .iter()
            .map(|json| decode(session_id, json))
            .collect::<Result<Vec<_>, _>>()?;
        messages.reverse();
        Ok(SessionContext {
            compaction,
            messages,
            last_seq,
        })
    }

    /// Stores a summary covering the session's messages up to `new.through_seq`; from now on it
    /// is the session's latest (the caller holds the session's run lock, so no turn commits
    /// meanwhile).
    pub async fn record_compaction(
        &self,
        session_id: &str,
        new: &NewCompaction<'_>,
    ) -> Result<CompactionRecord, StoreError> {
        let created_at = now_ms();
        let _writer = self.write_lock.lock().await;
        sqlx::query(
            "INSERT INTO compactions (session_id, through_seq, summary, messages_summarised, \
             tokens_before, tokens_after, model, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(session_id)
        .bind(new.through_seq)
        .bind(new.summary)
        .bind(to_db_int(new.messages_summarised))
        .bind(to_db_int(new.tokens_before))
        .bind(to_db_int(new.tokens_after))
        .bind(new.model)
        .bind(created_at)
        .execute(&self.pool)
        .await?;
        self.wrote();
        Ok(CompactionRecord {
            through_seq: new.through_seq,
            summary: new.summary.to_owned(),
            messages_summarised: new.messages_summarised,
            tokens_before: new.tokens_before,
            tokens_after: new.tokens_after,
            model: new.model.map(str::to_owned),
            created_at,
        })
    }

    /// Every summary of a session, oldest first.
    pub async fn compactions(&self, session_id: &str) -> Result<Vec<CompactionRecord>, StoreError> {
        let rows = sqlx::query_as::<_, CompactionRow>(
            "SELECT through_seq, summary, messages_summarised, tokens_before, tokens_after, \
             model, created_at FROM compactions WHERE session_id = ? ORDER BY through_seq, id",
        )
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(compaction_from).collect())
    }

    /// The last `limit` messages of a session (all when `None`) with the summaries among them,
    /// oldest first. Summaries do not count against `limit`.
    pub async fn transcript_entries(
        &self,
        session_id: &str,
        limit: Option<u32>,
    ) -> Result<Vec<TranscriptEntry>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT seq, content_json FROM messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
        )
        .bind(session_id)
        .bind(limit.map_or(-1, i64::from))
        .fetch_all(&self.pool)
        .await?;
        let first_seq = rows.last().map_or(i64::MAX, |(seq, _)| *seq);
        let mut compactions = self
            .compactions(session_id)
            .await?
            .into_iter()
            .filter(|c| c.through_seq >= first_seq)
            .peekable();
        let mut out = Vec::with_capacity(rows.len() + 1);
        for (seq, json) in rows.iter().rev() {
            let mut message = decode(session_id, json)?;
            message.seq = Some(*seq);
            out.push(TranscriptEntry::Message(message));
            while let Some(c) = compactions.next_if(|c| c.through_seq <= *seq) {
                out.push(TranscriptEntry::Compaction(c));
            }
        }
        out.extend(compactions.map(TranscriptEntry::Compaction));
        Ok(out)
    }

    /// A session's `/model` override.
    pub async fn model_override(&self, session_id: &str) -> Result<Option<String>, StoreError> {
        let found: Option<Option<String>> = sqlx::query_scalar(MODEL_OVERRIDE)
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.flatten())
    }

    /// Sets (or, with `None`, clears) a session's model override; `false` when there is no such
    /// session.
    pub async fn set_model_override(
        &self,
        session_id: &str,
        model: Option<&str>,
    ) -> Result<bool, StoreError> {
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query("UPDATE sessions SET model_override = ? WHERE id = ?")
            .bind(model)
            .bind(session_id)
            .execute(&self.pool)
            .await?;
        self.wrote();
        Ok(done.rows_affected() == 1)
    }

    /// The compaction point whose memory flush already ran (0 when none did).
    pub async fn memory_flushed_seq(&self, session_id: &str) -> Result<i64, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT memory_flushed_seq FROM sessions WHERE id = ?")
                .bind(session_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.unwrap_or(0))
    }

    /// Marks the memory flush for compaction point `seq` as done.
    pub async fn set_memory_flushed_seq(
        &self,
        session_id: &str,
        seq: i64,
    ) -> Result<(), StoreError> {
        let _writer = self.write_lock.lock().await;
        sqlx::query(
            "UPDATE sessions SET memory_flushed_seq = MAX(memory_flushed_seq, ?) WHERE id = ?",
        )
        .bind(seq)
        .bind(session_id)
        .execute(&self.pool)
        .await?;
        self.wrote();
        Ok(())
    }
}
