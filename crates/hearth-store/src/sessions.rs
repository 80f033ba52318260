//! Sessions: finding the active one for a key, creating it on first use, listing, reset, delete.

use sqlx::AssertSqlSafe;
use sqlx::{QueryBuilder, Sqlite};

use crate::model::{SESSION_COLUMNS, SessionRow, now_ms};
use crate::{NewSession, SessionFilter, SessionRecord, Store, StoreError};

const SELECT_ACTIVE_BY_KEY: &str = "WHERE key = ? AND archived = 0";

impl Store {
    /// The active session named by `key`, if there is one.
    pub async fn session_for_key(&self, key: &str) -> Result<Option<SessionRecord>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions {SELECT_ACTIVE_BY_KEY}");
        let row = sqlx::query_as::<_, SessionRow>(AssertSqlSafe(sql))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(SessionRecord::from))
    }

    /// A session by id, active or archived.
    pub async fn get_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?");
        let row = sqlx::query_as::<_, SessionRow>(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(SessionRecord::from))
    }

    /// The active session for `new.key`, created if there is none; `true` when it was created.
    ///
    /// Concurrent calls for one key agree on one session: the unique index on active keys makes
    /// every insert but the first a no-op, and all of them then read the winner.
    pub async fn ensure_session(
        &self,
        new: NewSession<'_>,
    ) -> Result<(SessionRecord, bool), StoreError> {
        // The common case, an existing session, costs one indexed read and no write lock.
        if let Some(found) = self.session_for_key(new.key).await? {
            return Ok((found, false));
        }
        let now = now_ms();
        let writer = self.write_lock.lock().await;
        let inserted = sqlx::query(
            "INSERT INTO sessions (id, key, agent_id, channel, sender, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(new.key)
        .bind(new.agent_id)
        .bind(new.channel)
        .bind(new.sender)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        drop(writer);
        if inserted {
            self.wrote();
        }
        match self.session_for_key(new.key).await? {
            Some(record) => Ok((record, inserted)),
            // Only a concurrent reset or delete between the two statements gets here.
            None => Err(StoreError::Db(sqlx::Error::RowNotFound)),
        }
    }

    /// Sessions matching `filter`, most recently updated first.
    pub async fn list_sessions(
        &self,
        filter: &SessionFilter,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE 1 = 1"
        ));
        if !filter.include_archived {
            qb.push(" AND archived = 0");
        }
        if let Some(agent) = &filter.agent_id {
            qb.push(" AND agent_id = ").push_bind(agent.as_str());
        }
        if let Some(channel) = &filter.channel {
            qb.push(" AND channel = ").push_bind(channel.as_str());
        }
        if let Some(sender) = &filter.sender {
            qb.push(" AND sender = ").push_bind(sender.as_str());
        }
        qb.push(" ORDER BY updated_at DESC, created_at DESC, id DESC");
        // SQLite's LIKE and lower() fold ASCII only, so a search is matched here, in Rust, and the
        // limit applied after it.
        let needle = filter
            .search
            .as_deref()
            .map(str::to_lowercase)
            .filter(|s| !s.is_empty());
        if needle.is_none()
            && let Some(limit) = filter.limit
        {
            qb.push(" LIMIT ").push_bind(i64::from(limit));
        }
        let rows = qb
            .build_query_as::<SessionRow>()
            .fetch_all(&self.pool)
            .await?;
        let records = rows.into_iter().map(SessionRecord::from);
        Ok(match needle {
            None => records.collect(),
            Some(needle) => records
                .filter(|s| {
                    s.key.to_lowercase().contains(&needle)
                        || s.title
                            .as_deref()
                            .is_some_and(|t| t.to_lowercase().contains(&needle))
                })
                .take(
                    filter
                        .limit
                        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)),
                )
                .collect(),
        })
    }

    /// How many active sessions there are.
    pub async fn count_sessions(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE archived = 0")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Archives the active session of `key` and returns its id; the next message under the key
    /// starts a new session. The archived session stays readable by id.
    pub async fn reset_session(&self, key: &str) -> Result<Option<String>, StoreError> {
        let _writer = self.write_lock.lock().await;
        let id = sqlx::query_scalar(AssertSqlSafe(format!(
            "UPDATE sessions SET archived = 1 {SELECT_ACTIVE_BY_KEY} RETURNING id"
        )))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        self.wrote();
        Ok(id)
    }

    /// Deletes every session under `key`, active and archived, with their messages; their runs
    /// stay, detached from the session. Returns how many sessions were deleted.
    pub async fn delete_sessions(&self, key: &str) -> Result<u64, StoreError> {
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query("DELETE FROM sessions WHERE key = ?")
            .bind(key)
            .execute(&self.pool)
            .await?;
        self.wrote();
        Ok(done.rows_affected())
    }

    /// Forks session `source_id` into a new active session under `new_key`: the messages up to
    /// and including `through_seq` (all of them when `None`) are copied, with the latest
    /// compaction summary that covers only copied messages. The source is left as it was.
    pub async fn fork_session(
        &self,
        source_id: &str,
        through_seq: Option<i64>,
        new_key: &str,
    ) -> Result<SessionRecord, StoreError> {
        if self.get_session(source_id).await?.is_none() {
            return Err(StoreError::Conflict(format!("no session `{source_id}`")));
        }
        let last: i64 = sqlx::query_scalar(crate::writer::LAST_SEQ)
            .bind(source_id)
            .fetch_one(&self.pool)
            .await?;
        let through = through_seq.unwrap_or(last);
        if through < 1 || through > last {
            return Err(StoreError::Conflict(format!(
                "session `{source_id}` has messages 1 to {last}; cannot fork at {through}"
            )));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_ms();
        let writer = self.write_lock.lock().await;
        let mut tx = self.pool.begin().await?;
        let taken: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT id FROM sessions {SELECT_ACTIVE_BY_KEY}"
        )))
        .bind(new_key)
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "the session key `{new_key}` is already in use"
            )));
        }
        sqlx::query(
            "INSERT INTO sessions (id, key, agent_id, channel, sender, title, created_at, \
             updated_at, model_override, parent_id, fork_seq) \
             SELECT ?, ?, agent_id, channel, sender, title, ?, ?, model_override, id, ? \
             FROM sessions WHERE id = ?",
        )
        .bind(&id)
        .bind(new_key)
        .bind(now)
        .bind(now)
        .bind(through)
        .bind(source_id)
        .execute(&mut *tx)
        .await?;
        let copied = sqlx::query(
            "INSERT INTO messages (session_id, run_id, seq, role, content_json, created_at) \
             SELECT ?, run_id, seq, role, content_json, created_at FROM messages \
             WHERE session_id = ? AND seq <= ? ORDER BY seq",
        )
        .bind(&id)
        .bind(source_id)
        .bind(through)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "INSERT INTO compactions (session_id, through_seq, summary, messages_summarised, \
             tokens_before, tokens_after, model, created_at) \
             SELECT ?, through_seq, summary, messages_summarised, tokens_before, tokens_after, \
             model, created_at FROM compactions WHERE session_id = ? AND through_seq <= ? \
             ORDER BY through_seq DESC LIMIT 1",
        )
        .bind(&id)
        .bind(source_id)
        .bind(through)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE sessions SET message_count = ? WHERE id = ?")
            .bind(i64::try_from(copied).unwrap_or(i64::MAX))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.wrote();
        drop(writer);
        self.get_session(&id)
            .await?
            .ok_or(StoreError::Db(sqlx::Error::RowNotFound))
    }
}
