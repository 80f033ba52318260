//! `sessions.fork`: branching a conversation at one of its messages. The original session is
//! left exactly as it was; the fork starts with a copy of its messages up to that point (and
//! the compaction summary that covers them) under a new key, and goes its own way.

use std::sync::Arc;

use hearth_protocol::events::SessionChange;
use hearth_protocol::frame::{ErrorCode, ErrorShape};
use hearth_protocol::methods::{SessionsForkParams, SessionsForkResult};
use hearth_store::StoreError;

use super::methods::{MethodResult, full_key, invalid, ok, publish_change, store_error};
use crate::runtime::Runtime;
use crate::sessions::agent_of_key;

/// Forks tried before giving up on finding a free `<key>:fork:<n>`.
const MAX_FORKS: u32 = 1000;

pub(super) async fn sessions_fork(rt: &Arc<Runtime>, p: SessionsForkParams) -> MethodResult {
    let key = full_key(rt, &p.key)?;
    let source = match &p.session_id {
        Some(id) => rt.store.get_session(id).await.map_err(store_error)?,
        None => rt.store.session_for_key(&key).await.map_err(store_error)?,
    }
    .ok_or_else(|| {
        ErrorShape::new(
            ErrorCode::NotFound,
            format!("`{key}` has no session to fork"),
        )
    })?;
    if source.key != key {
        return Err(invalid(format!(
            "session `{}` belongs to `{}`, not `{key}`",
            source.id, source.key
        )));
    }
    let new_key = match p.new_key.as_deref() {
        Some(given) => {
            let agent = agent_of_key(&key).unwrap_or_default();
            let main_key = rt.live().config.session.main_key.clone();
            let new_key =
                crate::sessions::resolve_key(Some(given), agent, &main_key).map_err(invalid)?;
            if agent_of_key(&new_key) != Some(agent) {
                return Err(invalid(format!(
                    "a fork stays with its agent: `{new_key}` is not a key of agent `{agent}`"
                )));
            }
            new_key
        }
        None => free_fork_key(rt, &key).await?,
    };
    let fork = rt
        .store
        .fork_session(&source.id, p.at_seq, &new_key)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => ErrorShape::new(ErrorCode::Conflict, m),
            other => store_error(other),
        })?;
    tracing::info!(from = %key, to = %new_key, at = ?fork.fork_seq, "session forked");
    publish_change(rt, &new_key, Some(fork.id.clone()), SessionChange::Created);
    ok(SessionsForkResult {
        key: new_key,
        session_id: fork.id,
        parent_id: source.id,
        fork_seq: fork.fork_seq.unwrap_or_default(),
        messages: fork.message_count,
    })
}

/// `<key>:fork:<n>` for the smallest `n` whose key has no active session.
async fn free_fork_key(rt: &Runtime, key: &str) -> Result<String, ErrorShape> {
    // A fork of a fork forks the original's name again: `k:fork:1:fork:1` helps nobody.
    let base = match key.find(":fork:") {
        Some(at) => &key[..at],
        None => key,
    };
    for n in 1..=MAX_FORKS {
        let candidate = format!("{base}:fork:{n}");
        if rt
            .store
            .session_for_key(&candidate)
            .await
            .map_err(store_error)?
            .is_none()
        {
            return Ok(candidate);
        }
    }
    Err(ErrorShape::new(
        ErrorCode::Conflict,
        format!("`{base}` has {MAX_FORKS} forks already; name the new one with `newKey`"),
    ))
}
