//! Exec approvals: shell commands waiting for a person's decision, and the commands a person
//! allowed for good.
//!
//! When the exec policy says to ask, the `exec` tool registers a pending [`ExecApproval`] here,
//! which publishes `exec.approval.requested`, and waits. A client answers with
//! `exec.approval.resolve` (`allow-once`, `allow-always`, `deny`); nobody answering before the
//! timeout, or the run ending first, means deny. Every way out publishes
//! `exec.approval.resolved`. "Allow always" adds the exact command to the agent's list in
//! `$HEARTH_HOME/exec-approvals.json` (0600), which the exec policy consults next time.

use crate::util::lock;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use hearth_protocol::events::{Event, ExecApproval, ExecApprovalDecision, ExecApprovalResolved};
use hearth_protocol::frame::{ErrorCode, ErrorShape};
use hearth_protocol::methods::{
    ExecApprovalListResult, ExecApprovalResolveParams, ExecApprovalResolveResult,
};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::bus::EventBus;
use crate::runtime::Runtime;
use crate::util::now_ms;

/// The file holding the commands allowed for good.
pub const APPROVALS_FILE: &str = "exec-approvals.json";

/// Pending approvals and the persisted "allow always" lists.
#[derive(Debug)]
pub struct ExecApprovals {
    path: PathBuf,
    bus: EventBus,
    pending: Mutex<HashMap<String, Pending>>,
    allowed: Mutex<AllowedFile>,
    /// Serialises writes of the file, so an older snapshot never lands after a newer one.
    write_lock: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Pending {
    approval: ExecApproval,
    tx: oneshot::Sender<ExecApprovalDecision>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AllowedFile {
    version: u32,
    /// By agent id.
    #[serde(default)]
    agents: BTreeMap<String, AgentAllowed>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AgentAllowed {
    #[serde(default)]
    commands: Vec<AllowedCommand>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AllowedCommand {
    command: String,
    approved_at_ms: i64,
}

/// How waiting for a decision ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    Decided(ExecApprovalDecision),
    TimedOut,
    Cancelled,
}

impl ExecApprovals {
    /// The registry, with the allowed commands read from `path` (an unreadable file is
    /// reported and treated as empty).
    pub fn open(path: PathBuf, bus: EventBus) -> Self {
        let allowed = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "the exec approvals file is not valid JSON; starting with no always-allowed commands");
                AllowedFile::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => AllowedFile::default(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the exec approvals file; starting with no always-allowed commands");
                AllowedFile::default()
            }
        };
        Self {
            path,
            bus,
            pending: Mutex::new(HashMap::new()),
            allowed: Mutex::new(allowed),
            write_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Pending approvals, oldest first.
    pub fn list(&self) -> Vec<ExecApproval> {
        let mut list: Vec<ExecApproval> = lock(&self.pending)
            .values()
            .map(|p| p.approval.clone())
            .collect();
        list.sort_by(|a, b| {
            (a.created_at_ms, a.id.as_str()).cmp(&(b.created_at_ms, b.id.as_str()))
        });
        list
    }

    /// Decides a pending approval; `None` when no approval with this id is pending.
    pub async fn resolve(&self, id: &str, decision: ExecApprovalDecision) -> Option<ExecApproval> {
        let pending = lock(&self.pending).remove(id)?;
        let approval = pending.approval;
        if decision == ExecApprovalDecision::AllowAlways
            && let Err(e) = self
                .allow_always(&approval.agent_id, &approval.command)
                .await
        {
            // The person's decision still holds for this run.
            tracing::error!(path = %self.path.display(), error = %e, "could not save an always-allowed command");
        }
        let _ = pending.tx.send(decision);
        self.publish_resolved(&approval.id, decision, None);
        tracing::info!(id = %approval.id, agent = %approval.agent_id, ?decision, "exec approval decided");
        Some(approval)
    }

    /// Whether a person allowed exactly this command for this agent for good.
    pub fn always_allowed(&self, agent_id: &str, command: &str) -> bool {
        lock(&self.allowed)
            .agents
            .get(agent_id)
            .is_some_and(|a| a.commands.iter().any(|c| c.command == command))
    }

    /// Adds a command to the agent's persisted list.
    pub async fn allow_always(&self, agent_id: &str, command: &str) -> std::io::Result<()> {
        let _write = self.write_lock.lock().await;
        let snapshot = {
            let mut allowed = lock(&self.allowed);
            allowed.version = 1;
            let list = &mut allowed
                .agents
                .entry(agent_id.to_owned())
                .or_default()
                .commands;
            if !list.iter().any(|c| c.command == command) {
                list.push(AllowedCommand {
                    command: command.to_owned(),
                    approved_at_ms: now_ms(),
                });
            }
            serde_json::to_vec_pretty(&*allowed).map_err(std::io::Error::other)?
        };
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || crate::home::write_private(&path, &snapshot))
            .await
            .map_err(std::io::Error::other)?
    }

    /// Registers a pending approval and announces it.
    pub(crate) fn request(&self, approval: ExecApproval) -> PendingApproval<'_> {
        let (tx, rx) = oneshot::channel();
        let id = approval.id.clone();
        lock(&self.pending).insert(
            id.clone(),
            Pending {
                approval: approval.clone(),
                tx,
            },
        );
        self.bus
            .publish_with(|| Event::ExecApprovalRequested(approval));
        PendingApproval {
            registry: self,
            id,
            rx,
            finished: false,
        }
    }

    fn publish_resolved(&self, id: &str, decision: ExecApprovalDecision, reason: Option<&str>) {
        self.bus.publish_with(|| {
            Event::ExecApprovalResolved(ExecApprovalResolved {
                id: id.to_owned(),
                decision,
                reason: reason.map(str::to_owned),
            })
        });
    }

    /// Drops a pending approval nobody decided; answers whether it was still pending.
    fn withdraw(&self, id: &str, reason: &str) -> bool {
        let removed = lock(&self.pending).remove(id).is_some();
        if removed {
            self.publish_resolved(id, ExecApprovalDecision::Deny, Some(reason));
        }
        removed
    }
}

/// A registered approval; dropping it before a decision withdraws it.
#[derive(Debug)]
pub(crate) struct PendingApproval<'a> {
    registry: &'a ExecApprovals,
    id: String,
    rx: oneshot::Receiver<ExecApprovalDecision>,
    finished: bool,
}

impl PendingApproval<'_> {
    /// Waits for a decision, at most `timeout`, and not past `cancel`.
    pub(crate) async fn wait(mut self, timeout: Duration, cancel: &CancellationToken) -> Waited {
        let ended_by = tokio::select! {
            decision = &mut self.rx => {
                self.finished = true;
                return match decision {
                    Ok(d) => Waited::Decided(d),
                    Err(_) => Waited::Cancelled,
                };
            }
            () = tokio::time::sleep(timeout) => ("timeout", Waited::TimedOut),
            () = cancel.cancelled() => ("cancelled", Waited::Cancelled),
        };
        self.finished = true;
        if self.registry.withdraw(&self.id, ended_by.0) {
            return ended_by.1;
        }
        // A decision is being made right now: it wins.
        match (&mut self.rx).await {
            Ok(d) => Waited::Decided(d),
            Err(_) => ended_by.1,
        }
    }
}

impl Drop for PendingApproval<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.registry.withdraw(&self.id, "cancelled");
        }
    }
}

/// `exec.approval.list`.
pub fn list_method(rt: &Runtime) -> ExecApprovalListResult {
    ExecApprovalListResult {
        approvals: rt.approvals.list(),
    }
}

/// `exec.approval.resolve`.
pub async fn resolve_method(
    rt: &Runtime,
    params: ExecApprovalResolveParams,
) -> Result<ExecApprovalResolveResult, ErrorShape> {
    match rt.approvals.resolve(&params.id, params.decision).await {
        Some(approval) => Ok(ExecApprovalResolveResult {
            id: approval.id,
            decision: params.decision,
        }),
        None => Err(ErrorShape::new(
            ErrorCode::NotFound,
            format!(
                "no exec approval `{}` is pending (it was decided, timed out, or its run ended)",
                params.id
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(id: &str) -> ExecApproval {
        ExecApproval {
            id: id.to_owned(),
            run_id: "r".into(),
            session_key: "agent:main:main".into(),
            agent_id: "main".into(),
            command: "make test".into(),
            cwd: ".".into(),
            created_at_ms: 1,
            expires_at_ms: 2,
        }
    }

    #[tokio::test]
    async fn a_decision_reaches_the_waiter_and_is_announced() {
        let tmp = tempfile::tempdir().unwrap();
        let bus = EventBus::default();
        let mut events = bus.subscribe();
        let reg = ExecApprovals::open(tmp.path().join(APPROVALS_FILE), bus);
        let pending = reg.request(approval("a1"));
        assert_eq!(reg.list().len(), 1);
        let requested = events.recv().await.unwrap();
        assert_eq!(requested.name.name(), "exec.approval.requested");
        let cancel = CancellationToken::new();
        let (waited, resolved) = tokio::join!(
            pending.wait(Duration::from_secs(10), &cancel),
            reg.resolve("a1", ExecApprovalDecision::AllowOnce)
        );
        assert_eq!(waited, Waited::Decided(ExecApprovalDecision::AllowOnce));
        assert_eq!(resolved.unwrap().id, "a1");
        assert!(reg.list().is_empty());
        assert!(
            reg.resolve("a1", ExecApprovalDecision::Deny)
                .await
                .is_none()
        );
        let ev = events.recv().await.unwrap();
        assert_eq!(ev.name.name(), "exec.approval.resolved");
        assert!(ev.payload_json.contains("allow-once"));
        assert!(!reg.always_allowed("main", "make test"));
    }

    #[tokio::test]
    async fn timeout_cancel_and_drop_withdraw_the_request() {
        tokio::time::pause();
        let tmp = tempfile::tempdir().unwrap();
        let bus = EventBus::default();
        let mut events = bus.subscribe();
        let reg = ExecApprovals::open(tmp.path().join(APPROVALS_FILE), bus);
        let cancel = CancellationToken::new();
        let waited = reg
            .request(approval("t"))
            .wait(Duration::from_secs(120), &cancel)
            .await;
        assert_eq!(waited, Waited::TimedOut);
        assert!(reg.list().is_empty());
        let _ = events.recv().await.unwrap();
        let resolved = events.recv().await.unwrap();
        assert!(
            resolved.payload_json.contains("\"reason\":\"timeout\""),
            "{}",
            resolved.payload_json
        );

        cancel.cancel();
        let waited = reg
            .request(approval("c"))
            .wait(Duration::from_secs(120), &cancel)
            .await;
        assert_eq!(waited, Waited::Cancelled);

        drop(reg.request(approval("d")));
        assert!(reg.list().is_empty());
    }

    #[tokio::test]
    async fn allow_always_is_persisted_per_agent() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(APPROVALS_FILE);
        let reg = ExecApprovals::open(path.clone(), EventBus::default());
        let pending = reg.request(approval("p"));
        let cancel = CancellationToken::new();
        let (waited, _) = tokio::join!(
            pending.wait(Duration::from_secs(10), &cancel),
            reg.resolve("p", ExecApprovalDecision::AllowAlways)
        );
        assert_eq!(waited, Waited::Decided(ExecApprovalDecision::AllowAlways));
        assert!(reg.always_allowed("main", "make test"));
        assert!(!reg.always_allowed("other", "make test"));
        assert!(!reg.always_allowed("main", "make test2"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let reopened = ExecApprovals::open(path, EventBus::default());
        assert!(reopened.always_allowed("main", "make test"));
    }
}
