//! The channels' durable queues and pairing state.
//!
//! Inbound: a message is inserted before the platform is acknowledged; a redelivery hits the
//! unique key and is recognised. It stays `pending` until its answer is queued: finishing an
//! inbound message and queueing its outbound messages is one transaction, so after a crash every
//! message is either still pending (answered after restart) or answered exactly once.
//!
//! Outbound: each chat's messages go in `seq` order; only the oldest pending message of a chat is
//! ever due, so a message waiting for a retry holds back the ones after it.

use sqlx::Row;

use crate::model::now_ms;
use crate::{Store, StoreError};

/// A stored inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRow {
    pub id: String,
    pub channel: String,
    pub account: String,
    pub chat_id: String,
    pub message_id: String,
    pub sender_id: String,
    pub envelope: String,
    pub received_at: i64,
}

/// An outbound message to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutbound {
    pub channel: String,
    pub account: String,
    pub chat_key: String,
    pub inbound_id: Option<String>,
    pub payload: String,
}

/// A queued outbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRow {
    pub seq: i64,
    pub channel: String,
    pub account: String,
    pub chat_key: String,
    pub inbound_id: Option<String>,
    pub payload: String,
    pub status: String,
    pub attempts: u32,
    pub next_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
}

/// A pairing request waiting for the owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingRow {
    pub channel: String,
    pub account: String,
    pub sender_id: String,
    pub sender_name: Option<String>,
    pub chat_id: String,
    pub code: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What [`Store::request_pairing`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairingOutcome {
    /// A new request was stored; the sender gets its code.
    Created,
    /// The sender already has a request waiting.
    Pending,
    /// The account already has the most requests it keeps waiting.
    Full,
    /// The sender was approved meanwhile.
    Approved,
}

/// A sender the owner approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovedRow {
    pub channel: String,
    pub account: String,
    pub sender_id: String,
    pub sender_name: Option<String>,
    pub approved_at: i64,
}

/// Counts of one account's queues, for its status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub inbound_pending: u64,
    pub outbound_pending: u64,
    pub outbound_failed: u64,
}

const OUTBOUND_COLUMNS: &str = "seq, channel, account, chat_key, inbound_id, payload, status, \
     attempts, next_at, last_error, created_at";

fn outbound_row(row: &sqlx::sqlite::SqliteRow) -> Result<OutboundRow, sqlx::Error> {
    Ok(OutboundRow {
        seq: row.try_get("seq")?,
        channel: row.try_get("channel")?,
        account: row.try_get("account")?,
        chat_key: row.try_get("chat_key")?,
        inbound_id: row.try_get("inbound_id")?,
        payload: row.try_get("payload")?,
        status: row.try_get("status")?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
        next_at: row.try_get("next_at")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
    })
}

fn pairing_row(row: &sqlx::sqlite::SqliteRow) -> Result<PairingRow, sqlx::Error> {
    Ok(PairingRow {
        channel: row.try_get("channel")?,
        account: row.try_get("account")?,
        sender_id: row.try_get("sender_id")?,
        sender_name: row.try_get("sender_name")?,
        chat_id: row.try_get("chat_id")?,
        code: row.try_get("code")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

async fn insert_outbound(
    conn: &mut sqlx::SqliteConnection,
    items: &[NewOutbound],
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut seqs = Vec::with_capacity(items.len());
    for item in items {
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO channel_outbound (channel, account, chat_key, inbound_id, payload, \
             status, attempts, next_at, created_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?) \
             RETURNING seq",
        )
        .bind(&item.channel)
        .bind(&item.account)
        .bind(&item.chat_key)
        .bind(&item.inbound_id)
        .bind(&item.payload)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        seqs.push(seq);
    }
    Ok(seqs)
}

impl Store {
    /// Stores an inbound message. `false`: it was stored before (a redelivery).
    pub async fn insert_inbound(&self, row: &InboundRow) -> Result<bool, StoreError> {
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query(
            "INSERT INTO channel_inbound (id, channel, account, chat_id, message_id, sender_id, \
             envelope, status, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?) \
             ON CONFLICT (channel, account, chat_id, message_id) DO NOTHING",
        )
        .bind(&row.id)
        .bind(&row.channel)
        .bind(&row.account)
        .bind(&row.chat_id)
        .bind(&row.message_id)
        .bind(&row.sender_id)
        .bind(&row.envelope)
        .bind(row.received_at)
        .execute(&self.pool)
        .await?;
        self.wrote();
        Ok(done.rows_affected() == 1)
    }

    /// One account's inbound messages not answered yet, oldest first.
    pub async fn pending_inbound(
        &self,
        channel: &str,
        account: &str,
    ) -> Result<Vec<InboundRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, channel, account, chat_id, message_id, sender_id, envelope, received_at \
             FROM channel_inbound WHERE status = 'pending' AND channel = ? AND account = ? \
             ORDER BY received_at, rowid",
        )
        .bind(channel)
        .bind(account)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InboundRow {
                    id: r.try_get("id")?,
                    channel: r.try_get("channel")?,
                    account: r.try_get("account")?,
                    chat_id: r.try_get("chat_id")?,
                    message_id: r.try_get("message_id")?,
                    sender_id: r.try_get("sender_id")?,
                    envelope: r.try_get("envelope")?,
                    received_at: r.try_get("received_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Marks an inbound message answered (or failed, with `error`) and queues its outbound
    /// messages, in one transaction.
    pub async fn finish_inbound(
        &self,
        inbound_id: &str,
        error: Option<&str>,
        outbound: &[NewOutbound],
    ) -> Result<Vec<i64>, StoreError> {
        let _writer = self.write_lock.lock().await;
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let seqs = insert_outbound(&mut tx, outbound, now).await?;
        sqlx::query(
            "UPDATE channel_inbound SET status = ?, done_at = ?, error = ? WHERE id = ? \
             AND status = 'pending'",
        )
        .bind(if error.is_some() { "failed" } else { "done" })
        .bind(now)
        .bind(error)
        .bind(inbound_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.wrote();
        Ok(seqs)
    }

    /// Queues outbound messages not tied to an inbound one (pairing codes, notices).
    pub async fn enqueue_outbound(&self, items: &[NewOutbound]) -> Result<Vec<i64>, StoreError> {
        let _writer = self.write_lock.lock().await;
        let mut conn = self.pool.acquire().await?;
        let seqs = insert_outbound(&mut conn, items, now_ms()).await?;
        self.wrote();
        Ok(seqs)
    }

    /// The messages of one account that may be sent now: the oldest pending message of each
    /// chat, if its time has come.
    pub async fn due_outbound(
        &self,
        channel: &str,
        account: &str,
        now: i64,
        limit: u32,
    ) -> Result<Vec<OutboundRow>, StoreError> {
        let sql = format!(
            "SELECT {OUTBOUND_COLUMNS} FROM channel_outbound o WHERE channel = ? AND account = ? \
             AND status = 'pending' AND next_at <= ? AND seq = (SELECT MIN(seq) FROM \
             channel_outbound p WHERE p.channel = o.channel AND p.account = o.account AND \
             p.chat_key = o.chat_key AND p.status = 'pending') ORDER BY seq LIMIT ?"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(channel)
            .bind(account)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(outbound_row)
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)
    }

    /// When the next message of an account is due (the earliest of the chats' oldest pending
    /// messages), if any is pending.
    pub async fn next_outbound_at(
        &self,
        channel: &str,
        account: &str,
    ) -> Result<Option<i64>, StoreError> {
        let at: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(next_at) FROM channel_outbound o WHERE channel = ? AND account = ? \
             AND status = 'pending' AND seq = (SELECT MIN(seq) FROM channel_outbound p WHERE \
             p.channel = o.channel AND p.account = o.account AND p.chat_key = o.chat_key AND \
             p.status = 'pending')",
        )
        .bind(channel)
        .bind(account)
        .fetch_one(&self.pool)
        .await?;
        Ok(at)
    }

    /// Records a successful send.
    pub async fn outbound_sent(&self, seq: i64, platform_id: &str) -> Result<(), StoreError> {
        let _writer = self.write_lock.lock().await;
        sqlx::query(
            "UPDATE channel_outbound SET status = 'sent', sent_at = ?, platform_id = ?, \
             attempts = attempts + 1 WHERE seq = ?",
        )
        .bind(now_ms())
        .bind(platform_id)
        .bind(seq)
        .execute(&self.pool)
        .await?;
        self.wrote();
        Ok(())
    }

    /// Records a failed attempt: retried at `next_at`, or given up (`next_at` None).
    pub async fn outbound_failed(
        &self,
        seq: i64,
        error: &str,
        next_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let _writer = self.write_lock.lock().await;
        sqlx::query(
            "UPDATE channel_outbound SET attempts = attempts + 1, last_error = ?, \
             status = CASE WHEN ? IS NULL THEN 'failed' ELSE 'pending' END, \
             next_at = COALESCE(?, next_at) WHERE seq = ?",
        )
        .bind(error)
        .bind(next_at)
        .bind(next_at)
        .bind(seq)
        .execute(&self.pool)
        .await?;
        self.wrote();
        Ok(())
    }

    /// Makes every pending message of an account due now (after a reconnect).
    pub async fn outbound_due_now(&self, channel: &str, account: &str) -> Result<(), StoreError> {
        let _writer = self.write_lock.lock().await;
        sqlx::query(
            "UPDATE channel_outbound SET next_at = MIN(next_at, ?) WHERE channel = ? AND \
             account = ? AND status = 'pending'",
        )
        .bind(now_ms())
        .bind(channel)
        .bind(account)
        .execute(&self.pool)
        .await?;
        self.wrote();
        Ok(())
    }

    /// Queue sizes of one account.
    pub async fn queue_counts(
        &self,
        channel: &str,
        account: &str,
    ) -> Result<QueueCounts, StoreError> {
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM channel_inbound WHERE channel = ?1 AND account = ?2 AND status = 'pending') AS inp, \
             (SELECT COUNT(*) FROM channel_outbound WHERE channel = ?1 AND account = ?2 AND status = 'pending') AS outp, \
             (SELECT COUNT(*) FROM channel_outbound WHERE channel = ?1 AND account = ?2 AND status = 'failed') AS outf",
        )
        .bind(channel)
        .bind(account)
        .fetch_one(&self.pool)
        .await?;
        let count = |name: &str| -> Result<u64, sqlx::Error> {
            Ok(u64::try_from(row.try_get::<i64, _>(name)?).unwrap_or(0))
        };
        Ok(QueueCounts {
            inbound_pending: count("inp")?,
            outbound_pending: count("outp")?,
            outbound_failed: count("outf")?,
        })
    }

    /// Stores a pairing request for `row`'s sender unless one is waiting, the account already
    /// has `max_pending` waiting, or the sender is approved, all decided in one transaction with
    /// the approvals ([`Store::resolve_pairing`]), so a message racing an approval never gets a
    /// second code.
    pub async fn request_pairing(
        &self,
        row: &PairingRow,
        max_pending: usize,
    ) -> Result<PairingOutcome, StoreError> {
        let _writer = self.write_lock.lock().await;
        let mut tx = self.pool.begin().await?;
        let approved: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM channel_approved WHERE channel = ? AND account = ? AND sender_id = ?",
        )
        .bind(&row.channel)
        .bind(&row.account)
        .bind(&row.sender_id)
        .fetch_optional(&mut *tx)
        .await?;
        if approved.is_some() {
            return Ok(PairingOutcome::Approved);
        }
        sqlx::query("DELETE FROM channel_pairing WHERE expires_at <= ?")
            .bind(row.created_at)
            .execute(&mut *tx)
            .await?;
        let waiting: Vec<String> = sqlx::query_scalar(
            "SELECT sender_id FROM channel_pairing WHERE channel = ? AND account = ?",
        )
        .bind(&row.channel)
        .bind(&row.account)
        .fetch_all(&mut *tx)
        .await?;
        let outcome = if waiting.contains(&row.sender_id) {
            PairingOutcome::Pending
        } else if waiting.len() >= max_pending {
            PairingOutcome::Full
        } else {
            sqlx::query(
                "INSERT INTO channel_pairing (channel, account, sender_id, sender_name, chat_id, \
                 code, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&row.channel)
            .bind(&row.account)
            .bind(&row.sender_id)
            .bind(&row.sender_name)
            .bind(&row.chat_id)
            .bind(&row.code)
            .bind(row.created_at)
            .bind(row.expires_at)
            .execute(&mut *tx)
            .await?;
            PairingOutcome::Created
        };
        tx.commit().await?;
        self.wrote();
        Ok(outcome)
    }

    /// Pairing requests not expired at `now`, oldest first (expired ones are deleted).
    pub async fn pairings(&self, now: i64) -> Result<Vec<PairingRow>, StoreError> {
        {
            let _writer = self.write_lock.lock().await;
            sqlx::query("DELETE FROM channel_pairing WHERE expires_at <= ?")
                .bind(now)
                .execute(&self.pool)
                .await?;
        }
        let rows = sqlx::query(
            "SELECT channel, account, sender_id, sender_name, chat_id, code, created_at, \
             expires_at FROM channel_pairing ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(pairing_row)
            .collect::<Result<_, _>>()
            .map_err(StoreError::from)
    }

    /// Decides the pairing request with `code` (case-insensitive) in one transaction: it is
    /// removed and, when `approve`, its sender is remembered as approved, so a message arriving
    /// meanwhile sees either the request or the approval, never neither.
    pub async fn resolve_pairing(
        &self,
        code: &str,
        approve: bool,
    ) -> Result<Option<PairingRow>, StoreError> {
        let _writer = self.write_lock.lock().await;
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "DELETE FROM channel_pairing WHERE upper(code) = upper(?) AND expires_at > ? \
             RETURNING channel, account, sender_id, sender_name, chat_id, code, created_at, \
             expires_at",
        )
        .bind(code)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let row = row.as_ref().map(pairing_row).transpose()?;
        if let (Some(r), true) = (&row, approve) {
            sqlx::query(
                "INSERT INTO channel_approved (channel, account, sender_id, sender_name, \
                 approved_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, account, sender_id) \
                 DO UPDATE SET sender_name = excluded.sender_name",
            )
            .bind(&r.channel)
            .bind(&r.account)
            .bind(&r.sender_id)
            .bind(&r.sender_name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.wrote();
        Ok(row)
    }

    /// Forgets an approved sender; true if there was one.
    pub async fn revoke_sender(
        &self,
        channel: &str,
        account: &str,
        sender_id: &str,
    ) -> Result<bool, StoreError> {
        let _writer = self.write_lock.lock().await;
        let done = sqlx::query(
            "DELETE FROM channel_approved WHERE channel = ? AND account = ? AND sender_id = ?",
        )
        .bind(channel)
        .bind(account)
        .bind(sender_id)
        .execute(&self.pool)
        .await?;
        self.wrote();
        Ok(done.rows_affected() > 0)
    }

    /// Whether the owner approved this sender on this account.
    pub async fn is_approved(
        &self,
        channel: &str,
        account: &str,
        sender_id: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM channel_approved WHERE channel = ? AND account = ? AND sender_id = ?",
        )
        .bind(channel)
        .bind(account)
        .bind(sender_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Every approved sender.
    pub async fn approved_senders(&self) -> Result<Vec<ApprovedRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT channel, account, sender_id, sender_name, approved_at FROM channel_approved \
             ORDER BY approved_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApprovedRow {
                    channel: r.try_get("channel")?,
                    account: r.try_get("account")?,
                    sender_id: r.try_get("sender_id")?,
                    sender_name: r.try_get("sender_name")?,
                    approved_at: r.try_get("approved_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Where `sender_id` of `channel` last wrote to the bot in a direct chat: the account that
    /// received it and the chat id, so a message can reach that person privately.
    pub async fn latest_direct_chat(
        &self,
        channel: &str,
        sender_id: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT account, chat_id FROM channel_inbound WHERE channel = ? AND sender_id = ? \
             AND json_extract(envelope, '$.peerKind') = 'direct' \
             ORDER BY received_at DESC, rowid DESC LIMIT 1",
        )
        .bind(channel)
        .bind(sender_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("account")?, r.try_get("chat_id")?)))
            .transpose()
            .map_err(|e: sqlx::Error| StoreError::from(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(chat: &str, payload: &str) -> NewOutbound {
        NewOutbound {
            channel: "telegram".into(),
            account: "default".into(),
            chat_key: chat.into(),
            inbound_id: None,
            payload: payload.into(),
        }
    }

    fn inbound(id: &str, message: &str) -> InboundRow {
        InboundRow {
            id: id.into(),
            channel: "telegram".into(),
            account: "default".into(),
            chat_id: "42".into(),
            message_id: message.into(),
            sender_id: "42".into(),
            envelope: "{}".into(),
            received_at: 1,
        }
    }

    #[tokio::test]
    async fn a_redelivered_message_is_recognised_and_finishing_queues_its_answer() {
        let store = Store::open_memory().await.expect("store");
        assert!(
            store
                .insert_inbound(&inbound("a", "1"))
                .await
                .expect("insert")
        );
        assert!(
            !store
                .insert_inbound(&inbound("b", "1"))
                .await
                .expect("again")
        );
        assert_eq!(
            store
                .pending_inbound("telegram", "default")
                .await
                .expect("pending")
                .len(),
            1
        );
        let seqs = store
            .finish_inbound("a", None, &[out("42", "one"), out("42", "two")])
            .await
            .expect("finish");
        assert_eq!(seqs.len(), 2);
        assert!(
            store
                .pending_inbound("telegram", "default")
                .await
                .expect("pending")
                .is_empty()
        );
        let counts = store
            .queue_counts("telegram", "default")
            .await
            .expect("counts");
        assert_eq!((counts.inbound_pending, counts.outbound_pending), (0, 2));
    }

    #[tokio::test]
    async fn each_chat_sends_in_order_and_a_retry_holds_back_the_rest() {
        let store = Store::open_memory().await.expect("store");
        store
            .enqueue_outbound(&[out("a", "a1"), out("b", "b1"), out("a", "a2")])
            .await
            .expect("enqueue");
        let now = now_ms();
        let due = store
            .due_outbound("telegram", "default", now, 10)
            .await
            .expect("due");
        let payloads: Vec<_> = due.iter().map(|r| r.payload.as_str()).collect();
        assert_eq!(payloads, ["a1", "b1"]);
        store
            .outbound_failed(due[0].seq, "429", Some(now + 60_000))
            .await
            .expect("retry later");
        store.outbound_sent(due[1].seq, "m1").await.expect("sent");
        let due = store
            .due_outbound("telegram", "default", now, 10)
            .await
            .expect("due");
        assert!(due.is_empty(), "a2 waits behind a1: {due:?}");
        assert_eq!(
            store
                .next_outbound_at("telegram", "default")
                .await
                .expect("next"),
            Some(now + 60_000)
        );
        store
            .outbound_due_now("telegram", "default")
            .await
            .expect("now");
        let due = store
            .due_outbound("telegram", "default", now_ms(), 10)
            .await
            .expect("due");
        assert_eq!(due[0].payload, "a1");
        assert_eq!(due[0].attempts, 1);
        store
            .outbound_failed(due[0].seq, "bad request", None)
            .await
            .expect("give up");
        let due = store
            .due_outbound("telegram", "default", now_ms(), 10)
            .await
            .expect("due");
        assert_eq!(due[0].payload, "a2");
        let counts = store
            .queue_counts("telegram", "default")
            .await
            .expect("counts");
        assert_eq!((counts.outbound_pending, counts.outbound_failed), (1, 1));
    }

    #[tokio::test]
    async fn a_pairing_request_is_made_once_and_not_after_approval() {
        let store = Store::open_memory().await.expect("store");
        let now = now_ms();
        let row = |sender: &str, code: &str| PairingRow {
            channel: "telegram".into(),
            account: "default".into(),
            sender_id: sender.into(),
            sender_name: None,
            chat_id: sender.into(),
            code: code.into(),
            created_at: now,
            expires_at: now + 3_600_000,
        };
        let ask = |r: PairingRow| {
            let store = store.clone();
            async move { store.request_pairing(&r, 2).await.expect("request") }
        };
        assert_eq!(ask(row("1", "AAAA")).await, PairingOutcome::Created);
        assert_eq!(ask(row("1", "BBBB")).await, PairingOutcome::Pending);
        assert_eq!(ask(row("2", "CCCC")).await, PairingOutcome::Created);
        assert_eq!(ask(row("3", "DDDD")).await, PairingOutcome::Full);
        let approved = store.resolve_pairing("aaaa", true).await.expect("resolve");
        assert_eq!(approved.map(|r| r.sender_id), Some("1".to_owned()));
        assert!(
            store
                .is_approved("telegram", "default", "1")
                .await
                .expect("approved")
        );
        assert_eq!(ask(row("1", "EEEE")).await, PairingOutcome::Approved);
        assert_eq!(
            store
                .resolve_pairing("cccc", false)
                .await
                .expect("deny")
                .map(|r| r.code),
            Some("CCCC".to_owned())
        );
        assert!(
            !store
                .is_approved("telegram", "default", "2")
                .await
                .expect("denied")
        );
        assert_eq!(ask(row("3", "FFFF")).await, PairingOutcome::Created);
    }

    #[tokio::test]
    async fn pairing_codes_are_taken_once_and_expire() {
        let store = Store::open_memory().await.expect("store");
        let now = now_ms();
        let row = PairingRow {
            channel: "telegram".into(),
            account: "default".into(),
            sender_id: "42".into(),
            sender_name: Some("Ann".into()),
            chat_id: "42".into(),
            code: "ABCD1234".into(),
            created_at: now,
            expires_at: now + 3_600_000,
        };
        store.request_pairing(&row, 3).await.expect("put");
        let old = PairingRow {
            sender_id: "7".into(),
            code: "OLD".into(),
            expires_at: now - 1,
            ..row.clone()
        };
        store.request_pairing(&old, 3).await.expect("put old");
        assert_eq!(
            store.pairings(now).await.expect("list"),
            std::slice::from_ref(&row)
        );
        assert_eq!(
            store
                .resolve_pairing("abcd1234", false)
                .await
                .expect("take"),
            Some(row)
        );
        assert_eq!(
            store
                .resolve_pairing("ABCD1234", false)
                .await
                .expect("again"),
            None
        );
    }

    #[tokio::test]
    async fn the_latest_direct_chat_of_a_sender_is_found() {
        let store = Store::open_memory().await.expect("store");
        let row = |id: &str, account: &str, chat: &str, kind: &str, at: i64| InboundRow {
            id: id.into(),
            channel: "discord".into(),
            account: account.into(),
            chat_id: chat.into(),
            message_id: id.into(),
            sender_id: "77".into(),
            envelope: format!(r#"{{"peerKind":"{kind}"}}"#),
            received_at: at,
        };
        assert_eq!(
            store
                .latest_direct_chat("discord", "77")
                .await
                .expect("query"),
            None
        );
        for r in [
            row("a", "home", "dm-1", "direct", 1),
            row("b", "work", "dm-2", "direct", 2),
            row("c", "home", "guild-chan", "channel", 3),
        ] {
            store.insert_inbound(&r).await.expect("insert");
        }
        assert_eq!(
            store
                .latest_direct_chat("discord", "77")
                .await
                .expect("query"),
            Some(("work".to_owned(), "dm-2".to_owned()))
        );
        assert_eq!(
            store
                .latest_direct_chat("telegram", "77")
                .await
                .expect("query"),
            None
        );
    }
}
