//! OS notifications for gateway events that need a person.
//!
//! Each kind of event is one arm of [`note_for`] (plus its name in [`Notifier::handles`]) and
//! can be turned off with `desktop.notifications.<kind>`. Notifications are shown off the async
//! threads (showing one is a blocking D-Bus call on Linux); a missing notification service is
//! logged, never fatal. Where the notification server supports actions, an exec approval gets
//! "Allow once" and "Deny" buttons that answer the approval in-process, exactly as the Control
//! UI's buttons do over the WebSocket; a click on the notification itself opens the window.

use std::sync::Arc;
use std::time::Duration;

use hearth_config::Config;
use hearth_core::gateway::methods::dispatch;
use hearth_core::runtime::Runtime;
use hearth_protocol::events::{Event, EventName, ExecApproval, ExecApprovalDecision};
use hearth_protocol::methods::{ExecApprovalResolveParams, Request};
use tauri::AppHandle;

use crate::window;

/// The action a click on the notification body reports (XDG "default" action).
const ACTION_OPEN: &str = "default";
const ACTION_ALLOW_ONCE: &str = "allow-once";
const ACTION_DENY: &str = "deny";
/// Longest command line shown in a notification.
const MAX_COMMAND_CHARS: usize = 200;

/// The kinds of notification, each with its `desktop.notifications.<kind>` switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ExecApproval,
}

impl Kind {
    fn enabled(self, config: &Config) -> bool {
        let switches = &config.desktop.notifications;
        match self {
            Kind::ExecApproval => switches.exec_approval,
        }
    }
}

/// What the notification's buttons answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// `exec.approval.resolve` for this approval.
    ExecApproval { id: String },
}

/// One notification, before it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Note {
    kind: Kind,
    summary: String,
    body: String,
    /// Buttons (action id, label), where the server supports them.
    buttons: Vec<(&'static str, &'static str)>,
    /// How long the server should keep it; its own default when `None`.
    timeout: Option<Duration>,
    /// The Control UI route a click on the notification opens.
    route: String,
    answer: Option<Answer>,
}

/// The notification an event deserves, if any.
fn note_for(event: &Event, now_ms: i64) -> Option<Note> {
    match event {
        Event::ExecApprovalRequested(approval) => Some(exec_approval_note(approval, now_ms)),
        _ => None,
    }
}

fn exec_approval_note(approval: &ExecApproval, now_ms: i64) -> Note {
    let command = shorten(&approval.command, MAX_COMMAND_CHARS);
    let left_ms = u64::try_from(approval.expires_at_ms.saturating_sub(now_ms)).unwrap_or(0);
    Note {
        kind: Kind::ExecApproval,
        summary: format!("Agent {} wants to run a command", approval.agent_id),
        body: format!("{command}\nin {}", approval.cwd),
        buttons: vec![(ACTION_ALLOW_ONCE, "Allow once"), (ACTION_DENY, "Deny")],
        // Gone when the request expires unanswered.
        timeout: Some(Duration::from_millis(left_ms.max(1000))),
        route: "#/overview".to_owned(),
        answer: Some(Answer::ExecApproval {
            id: approval.id.clone(),
        }),
    }
}

/// Turns gateway events into notifications.
pub(crate) struct Notifier {
    app: AppHandle,
    rt: Arc<Runtime>,
}

impl Notifier {
    pub(crate) fn new(app: AppHandle, rt: Arc<Runtime>) -> Self {
        Self { app, rt }
    }

    /// The events [`Notifier::on_event`] may notify about (only these are parsed).
    pub(crate) fn handles(name: EventName) -> bool {
        matches!(name, EventName::ExecApprovalRequested)
    }

    pub(crate) fn on_event(&self, event: &Event) {
        let Some(note) = note_for(event, now_ms()) else {
            return;
        };
        if !note.kind.enabled(&self.rt.live().config) {
            tracing::debug!(kind = ?note.kind, "notification turned off in desktop.notifications");
            return;
        }
        let app = self.app.clone();
        let rt = self.rt.clone();
        tauri::async_runtime::spawn_blocking(move || {
            let chosen = match show(&note) {
                Ok(chosen) => chosen,
                Err(e) => {
                    tracing::warn!(error = %e, kind = ?note.kind, "cannot show a notification (is a notification service running?)");
                    return;
                }
            };
            if let Some(action) = chosen {
                act(&app, &rt, &note, &action);
            }
        });
    }
}

/// Does what the person chose.
fn act(app: &AppHandle, rt: &Arc<Runtime>, note: &Note, action: &str) {
    if action == ACTION_OPEN {
        window::open(app, Some(note.route.clone()));
        return;
    }
    match &note.answer {
        Some(Answer::ExecApproval { id }) => {
            let decision = match action {
                ACTION_ALLOW_ONCE => ExecApprovalDecision::AllowOnce,
                ACTION_DENY => ExecApprovalDecision::Deny,
                _ => return,
            };
            let rt = rt.clone();
            let params = ExecApprovalResolveParams {
                id: id.clone(),
                decision,
            };
            tauri::async_runtime::spawn(async move {
                match dispatch(&rt, Request::ExecApprovalResolve(params)).await {
                    Ok(_) => {
                        tracing::info!(?decision, "exec approval answered from a notification")
                    }
                    // Usually answered elsewhere first, or expired.
                    Err(e) => tracing::info!(error = %e.message, "exec approval not answered"),
                }
            });
        }
        None => {}
    }
}

/// Shows a notification; where the server supports actions, waits (this thread) until the
/// person picks one or the notification closes, and answers the action's id.
#[cfg(all(unix, not(target_os = "macos")))]
fn show(note: &Note) -> Result<Option<String>, notify_rust::error::Error> {
    let capabilities = notify_rust::get_capabilities()?;
    let has = |c: &str| capabilities.iter().any(|x| x == c);
    let with_actions = has("actions");
    let body = if has("body-markup") {
        escape_markup(&note.body)
    } else {
        note.body.clone()
    };
    let mut notification = base(note);
    notification.body(&body);
    if let Some(timeout) = note.timeout {
        let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        notification.timeout(notify_rust::Timeout::Milliseconds(ms));
    }
    if with_actions {
        notification.action(ACTION_OPEN, "Open Hearth");
        for (id, label) in &note.buttons {
            notification.action(id, label);
        }
    }
    let handle = notification.show()?;
    if !with_actions {
        return Ok(None);
    }
    let mut chosen = None;
    handle.wait_for_action(|action| {
        if action != "__closed" {
            chosen = Some(action.to_owned());
        }
    });
    Ok(chosen)
}

/// Elsewhere notifications carry no buttons: the window has the same choices.
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn show(note: &Note) -> Result<Option<String>, notify_rust::error::Error> {
    let mut notification = base(note);
    notification.body(&note.body);
    notification.show()?;
    Ok(None)
}

fn base(note: &Note) -> notify_rust::Notification {
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Hearth")
        .summary(&note.summary)
        .icon("hearth-desktop");
    notification
}

/// The body as text in servers that read a subset of HTML.
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{cut}…")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(command: &str) -> ExecApproval {
        ExecApproval {
            id: "ap1".into(),
            run_id: "r1".into(),
            session_key: "agent:main:main".into(),
            agent_id: "main".into(),
            command: command.into(),
            cwd: "/home/me/.hearth/workspace".into(),
            created_at_ms: 1_000,
            expires_at_ms: 121_000,
        }
    }

    #[test]
    fn an_exec_approval_asks_with_allow_and_deny() {
        let event = Event::ExecApprovalRequested(approval("ls -la"));
        let note = note_for(&event, 1_000).expect("a notification");
        assert_eq!(note.kind, Kind::ExecApproval);
        assert_eq!(note.summary, "Agent main wants to run a command");
        assert_eq!(note.body, "ls -la\nin /home/me/.hearth/workspace");
        assert_eq!(
            note.buttons,
            [(ACTION_ALLOW_ONCE, "Allow once"), (ACTION_DENY, "Deny")]
        );
        assert_eq!(note.timeout, Some(Duration::from_secs(120)));
        assert_eq!(note.route, "#/overview");
        assert_eq!(note.answer, Some(Answer::ExecApproval { id: "ap1".into() }));
        let late = note_for(&event, 500_000).expect("a notification");
        assert_eq!(late.timeout, Some(Duration::from_secs(1)));
    }

    #[test]
    fn long_commands_are_cut_and_markup_is_escaped() {
        let note = exec_approval_note(&approval(&"x".repeat(500)), 0);
        assert_eq!(
            note.body.lines().next().unwrap().chars().count(),
            MAX_COMMAND_CHARS
        );
        assert_eq!(
            escape_markup("a < b && c > d"),
            "a &lt; b &amp;&amp; c &gt; d"
        );
    }

    #[test]
    fn other_events_raise_nothing() {
        let tick = Event::Tick(hearth_protocol::events::Tick { ts: 1 });
        assert!(note_for(&tick, 0).is_none());
        assert!(!Notifier::handles(EventName::Tick));
        assert!(Notifier::handles(EventName::ExecApprovalRequested));
    }

    #[test]
    fn each_kind_follows_its_switch() {
        let mut config = Config::default();
        assert!(Kind::ExecApproval.enabled(&config));
        config.desktop.notifications.exec_approval = false;
        assert!(!Kind::ExecApproval.enabled(&config));
    }
}
