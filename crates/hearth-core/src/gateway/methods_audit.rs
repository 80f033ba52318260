//! `audit.tail` and `audit.search`: the audit trail's files read back (see [`crate::audit`]).
//! Records still queued for the writer are written first, so a client sees what it just did.

use hearth_protocol::frame::{ErrorCode, ErrorShape};
use hearth_protocol::methods::{
    AuditSearchParams, AuditSearchResult, AuditTailParams, AuditTailResult,
};

use super::methods::{MethodResult, invalid, ok};
use crate::audit::{self, GATEWAY_LOG, SearchQuery};
use crate::runtime::Runtime;

const DEFAULT_TAIL: u32 = 50;
const DEFAULT_SEARCH: u32 = 100;
const MAX_ENTRIES: u32 = 1000;

/// A log named by a client: a name the gateway could have written, nothing that leaves the
/// directory.
fn checked_log(name: &str) -> Result<String, ErrorShape> {
    let name = name.trim();
    if !name.is_empty() && audit::log_name(Some(name)) == name {
        Ok(name.to_owned())
    } else {
        Err(invalid(format!(
            "`{name}` is not an audit log name (letters, digits, `-` and `_`; see `logs` in `audit.tail`)"
        )))
    }
}

/// Runs file reading off the async threads.
async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ErrorShape> {
    tokio::task::spawn_blocking(read).await.map_err(|e| {
        ErrorShape::new(
            ErrorCode::Internal,
            format!("reading the audit trail failed: {e}"),
        )
    })
}

pub(super) async fn audit_tail(rt: &Runtime, p: AuditTailParams) -> MethodResult {
    let log = match p.log.as_deref() {
        Some(name) => checked_log(name)?,
        None => GATEWAY_LOG.to_owned(),
    };
    let limit = p.limit.unwrap_or(DEFAULT_TAIL).clamp(1, MAX_ENTRIES) as usize;
    rt.audit.flush().await;
    let dir = rt.audit.dir().to_path_buf();
    let name = log.clone();
    let (entries, logs) = blocking(move || {
        let entries = audit::tail(&dir, &name, limit);
        (entries, audit::list_logs(&dir))
    })
    .await?;
    ok(AuditTailResult { log, entries, logs })
}

pub(super) async fn audit_search(rt: &Runtime, p: AuditSearchParams) -> MethodResult {
    let query = SearchQuery {
        text: p
            .query
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty()),
        kind: p
            .kind
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty()),
        log: p.log.as_deref().map(checked_log).transpose()?,
        since_ms: p.since_ms,
        until_ms: p.until_ms,
        limit: p.limit.unwrap_or(DEFAULT_SEARCH).clamp(1, MAX_ENTRIES) as usize,
    };
    rt.audit.flush().await;
    let dir = rt.audit.dir().to_path_buf();
    let entries = blocking(move || audit::search(&dir, &query)).await?;
    ok(AuditSearchResult { entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_names_stay_inside_the_directory() {
        assert_eq!(checked_log("gateway").unwrap(), "gateway");
        assert_eq!(checked_log(" telegram-peer-1 ").unwrap(), "telegram-peer-1");
        for bad in ["", "../secrets", "a/b", "x.1", "a b"] {
            assert!(checked_log(bad).is_err(), "{bad}");
        }
    }
}
