//! OS notifications for gateway events that need a person.
//!
//! Each kind of event is one arm of [`note_for`] (plus its name in [`Notifier::handles`]) and
//! can be turned off with `desktop.notifications.<kind>`. Notifications are shown off the async
//! threads (showing one is a blocking D-Bus call on Linux); a missing notification service is
//! logged, never fatal. Where the notification server supports actions, an exec approval gets
//! "Allow once" and "Deny" buttons and a pairing request "Approve" and "Deny", which answer
//! in-process exactly as the Control UI's buttons do over the WebSocket; a click on the
//! notification itself opens the window at the page that shows the request.
//!
//! `channels.changed` carries every account's state, not a change: [`Outages`] remembers which
//! accounts were reported down so each outage notifies once. The host hands the shell's gateway
//! events to the notifier only, so the notifier also passes the gateway and its `paused` flag on
//! to the tray's "Pause all channels" item.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hearth_config::Config;
use hearth_core::gateway::methods::dispatch;
use hearth_core::runtime::Runtime;
use hearth_protocol::audit::{BudgetActionKind, BudgetExceeded, BudgetPeriod};
use hearth_protocol::channels::{
    ChannelAccountStatus, ChannelState, ChannelsStatusResult, PairingCodeParams, PairingRequest,
};
use hearth_protocol::cron::CronAlert;
use hearth_protocol::events::{Event, EventName, ExecApproval, ExecApprovalDecision};
use hearth_protocol::methods::{ExecApprovalResolveParams, Request};
use tauri::AppHandle;

use crate::{tray, window};

/// The action a click on the notification body reports (XDG "default" action).
const ACTION_OPEN: &str = "default";
const ACTION_ALLOW_ONCE: &str = "allow-once";
const ACTION_DENY: &str = "deny";
const ACTION_APPROVE: &str = "approve";
/// Longest command line shown in a notification.
const MAX_COMMAND_CHARS: usize = 200;
/// Longest sender name shown: strangers choose their own.
const MAX_SENDER_CHARS: usize = 60;
/// Longest connection error shown.
const MAX_ERROR_CHARS: usize = 300;
/// Consecutive failed connection attempts after which a retrying account counts as down
/// (one or two are routine network blips).
const DOWN_AFTER_FAILURES: u32 = 3;
/// The Control UI page of channels and pairing requests.
const CHANNELS_ROUTE: &str = "#/channels";

/// The kinds of notification, each with its `desktop.notifications.<kind>` switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ExecApproval,
    Pairing,
    ChannelDown,
    Budget,
    CronFailed,
}

impl Kind {
    fn enabled(self, config: &Config) -> bool {
        let switches = &config.desktop.notifications;
        match self {
            Kind::ExecApproval => switches.exec_approval,
            Kind::Pairing => switches.pairing,
            Kind::ChannelDown => switches.channel_down,
            Kind::Budget => switches.budget,
            Kind::CronFailed => switches.cron_failed,
        }
    }
}

/// What the notification's buttons answer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// `exec.approval.resolve` for this approval.
    ExecApproval { id: String },
    /// `pairing.approve` or `pairing.deny` for this code.
    Pairing { code: String },
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
        Event::PairingRequested(request) => Some(pairing_note(request, now_ms)),
        Event::BudgetExceeded(budget) => Some(budget_note(budget)),
        Event::CronAlert(alert) => Some(cron_note(alert)),
        _ => None,
    }
}

/// Milliseconds until `expires_at_ms` as a notification timeout: gone when the request expires
/// unanswered (at least a second, so a late one is still seen).
fn until(expires_at_ms: i64, now_ms: i64) -> Duration {
    let left_ms = u64::try_from(expires_at_ms.saturating_sub(now_ms)).unwrap_or(0);
    Duration::from_millis(left_ms.max(1000))
}

fn exec_approval_note(approval: &ExecApproval, now_ms: i64) -> Note {
    let command = shorten(&approval.command, MAX_COMMAND_CHARS);
    Note {
        kind: Kind::ExecApproval,
        summary: format!("Agent {} wants to run a command", approval.agent_id),
        body: format!("{command}\nin {}", approval.cwd),
        buttons: vec![(ACTION_ALLOW_ONCE, "Allow once"), (ACTION_DENY, "Deny")],
        timeout: Some(until(approval.expires_at_ms, now_ms)),
        route: "#/overview".to_owned(),
        answer: Some(Answer::ExecApproval {
            id: approval.id.clone(),
        }),
    }
}

fn pairing_note(request: &PairingRequest, now_ms: i64) -> Note {
    let sender = request
        .sender_name
        .as_deref()
        .map(|name| one_line(name, MAX_SENDER_CHARS))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| one_line(&request.sender_id, MAX_SENDER_CHARS));
    Note {
        kind: Kind::Pairing,
        summary: format!("{sender} wants to talk to your assistant"),
        body: format!(
            "on {}, code {}",
            account_label(&request.channel, &request.account, None),
            request.code
        ),
        buttons: vec![(ACTION_APPROVE, "Approve"), (ACTION_DENY, "Deny")],
        timeout: Some(until(request.expires_at_ms, now_ms)),
        route: CHANNELS_ROUTE.to_owned(),
        answer: Some(Answer::Pairing {
            code: request.code.clone(),
        }),
    }
}

fn budget_note(budget: &BudgetExceeded) -> Note {
    let whose = match budget.scope.as_str() {
        "*" => "Your assistant".to_owned(),
        scope => match scope.strip_prefix("agent:") {
            Some(agent) => format!("Agent {}", one_line(agent, MAX_SENDER_CHARS)),
            None => one_line(scope, MAX_SENDER_CHARS),
        },
    };
    let period = match budget.period {
        BudgetPeriod::Day => "today",
        BudgetPeriod::Month => "this month",
    };
    let then = match (budget.action, &budget.model) {
        (BudgetActionKind::Switch, Some(model)) => format!("now answering with {model}"),
        _ => "further messages are refused until the period ends".to_owned(),
    };
    Note {
        kind: Kind::Budget,
        summary: format!("{whose} reached its budget"),
        body: format!(
            "${:.2} of ${:.2} spent {period}; {then}.",
            budget.spent, budget.limit
        ),
        buttons: Vec::new(),
        timeout: None,
        route: "#/usage".to_owned(),
        answer: None,
    }
}

fn cron_note(alert: &CronAlert) -> Note {
    Note {
        kind: Kind::CronFailed,
        summary: format!(
            "Scheduled job {} failed {} times in a row",
            one_line(&alert.job_name, MAX_SENDER_CHARS),
            alert.failures
        ),
        body: shorten(alert.error.trim(), MAX_ERROR_CHARS),
        buttons: Vec::new(),
        timeout: None,
        route: "#/cron".to_owned(),
        answer: None,
    }
}

/// Whether an account is down enough to tell the person.
fn is_down(status: &ChannelAccountStatus) -> bool {
    match status.state {
        ChannelState::Failed => true,
        ChannelState::Retrying => status.failures >= DOWN_AFTER_FAILURES,
        _ => false,
    }
}

fn channel_down_note(status: &ChannelAccountStatus) -> Note {
    let error = status
        .last_error
        .as_deref()
        .map(|e| shorten(e.trim(), MAX_ERROR_CHARS))
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "no error was reported".to_owned());
    let outlook = if status.state == ChannelState::Failed {
        "Hearth stopped trying; fix the account's settings.".to_owned()
    } else {
        format!(
            "{} attempts failed in a row; Hearth keeps retrying.",
            status.failures
        )
    };
    Note {
        kind: Kind::ChannelDown,
        summary: format!(
            "{} is down",
            account_label(&status.channel, &status.account, status.name.as_deref())
        ),
        body: format!("{error}\n{outlook}"),
        buttons: Vec::new(),
        timeout: None,
        route: CHANNELS_ROUTE.to_owned(),
        answer: None,
    }
}

/// `Telegram`, `Telegram (work)` or the account's own name: how people know an account.
fn account_label(channel: &str, account: &str, name: Option<&str>) -> String {
    let mut chars = channel.chars();
    let channel = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("{channel} ({})", one_line(name, MAX_SENDER_CHARS)),
        None if account == hearth_config::DEFAULT_ACCOUNT => channel,
        None => format!("{channel} ({account})"),
    }
}

/// The accounts already reported down, so that each outage notifies once: an account is
/// forgotten when it connects again (or leaves the config), and its next outage notifies anew.
#[derive(Debug, Default)]
struct Outages {
    notified: BTreeSet<(String, String)>,
}

impl Outages {
    /// The notifications a new `channels.changed` status deserves.
    fn update(&mut self, status: &ChannelsStatusResult) -> Vec<Note> {
        let key = |a: &ChannelAccountStatus| (a.channel.clone(), a.account.clone());
        self.notified
            .retain(|k| status.channels.iter().any(|a| key(a) == *k));
        let mut notes = Vec::new();
        for account in &status.channels {
            if account.state == ChannelState::Connected {
                self.notified.remove(&key(account));
            } else if is_down(account) && self.notified.insert(key(account)) {
                notes.push(channel_down_note(account));
            }
        }
        notes
    }
}

/// Turns gateway events into notifications.
pub(crate) struct Notifier {
    app: AppHandle,
    rt: Arc<Runtime>,
    outages: Mutex<Outages>,
}

impl Notifier {
    /// The host makes one notifier per gateway it starts: the tray's channel item follows the
    /// same gateway from here on.
    pub(crate) fn new(app: AppHandle, rt: Arc<Runtime>) -> Self {
        tray::attach_gateway(&app, &rt);
        Self {
            app,
            rt,
            outages: Mutex::new(Outages::default()),
        }
    }

    /// The events [`Notifier::on_event`] may notify about (only these are parsed).
    pub(crate) fn handles(name: EventName) -> bool {
        matches!(
            name,
            EventName::ExecApprovalRequested
                | EventName::PairingRequested
                | EventName::ChannelsChanged
                | EventName::BudgetExceeded
                | EventName::CronAlert
        )
    }

    pub(crate) fn on_event(&self, event: &Event) {
        let notes = match event {
            Event::ChannelsChanged(status) => {
                tray::show_channels_paused(&self.app, status.paused);
                self.outages
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .update(status)
            }
            other => note_for(other, now_ms()).into_iter().collect(),
        };
        for note in notes {
            self.notify(note);
        }
    }

    fn notify(&self, note: Note) {
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
            // Boxed: the dispatcher's future, which covers every method, is large.
            tauri::async_runtime::spawn(async move {
                match Box::pin(dispatch(&rt, Request::ExecApprovalResolve(params))).await {
                    Ok(_) => {
                        tracing::info!(?decision, "exec approval answered from a notification")
                    }
                    // Usually answered elsewhere first, or expired.
                    Err(e) => tracing::info!(error = %e.message, "exec approval not answered"),
                }
            });
        }
        Some(Answer::Pairing { code }) => {
            let params = PairingCodeParams { code: code.clone() };
            let (request, decision) = match action {
                ACTION_APPROVE => (Request::PairingApprove(params), "approved"),
                ACTION_DENY => (Request::PairingDeny(params), "denied"),
                _ => return,
            };
            let rt = rt.clone();
            tauri::async_runtime::spawn(async move {
                match Box::pin(dispatch(&rt, request)).await {
                    Ok(_) => {
                        tracing::info!(decision, "pairing request answered from a notification")
                    }
                    // Usually answered elsewhere first, or expired.
                    Err(e) => tracing::info!(error = %e.message, "pairing request not answered"),
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

/// The first line of `text`, trimmed and shortened: for names that go into a one-line summary.
fn one_line(text: &str, max_chars: usize) -> String {
    shorten(
        text.trim().lines().next().unwrap_or_default().trim(),
        max_chars,
    )
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
        assert!(!Notifier::handles(EventName::PairingResolved));
        assert!(Notifier::handles(EventName::ExecApprovalRequested));
        assert!(Notifier::handles(EventName::PairingRequested));
        assert!(Notifier::handles(EventName::ChannelsChanged));
        assert!(Notifier::handles(EventName::CronAlert));
        let alert = Event::CronAlert(CronAlert {
            job_id: "j".into(),
            job_name: "morning-briefing".into(),
            failures: 3,
            error: "the model is unreachable".into(),
        });
        let note = note_for(&alert, 0).unwrap();
        assert_eq!(note.kind, Kind::CronFailed);
        assert_eq!(note.route, "#/cron");
        assert!(note.summary.contains("morning-briefing") && note.summary.contains('3'));
        // Channel outages need memory: they come from `Outages`, never from `note_for`.
        let changed =
            Event::ChannelsChanged(status(vec![account("telegram", ChannelState::Failed, 0)]));
        assert!(note_for(&changed, 0).is_none());
    }

    #[test]
    fn each_kind_follows_its_switch() {
        let mut config = Config::default();
        for kind in [Kind::ExecApproval, Kind::Pairing, Kind::ChannelDown] {
            assert!(kind.enabled(&config), "{kind:?} is on by default");
        }
        config.desktop.notifications.exec_approval = false;
        assert!(!Kind::ExecApproval.enabled(&config));
        assert!(Kind::Pairing.enabled(&config));
        config.desktop.notifications.pairing = false;
        assert!(!Kind::Pairing.enabled(&config));
        assert!(Kind::ChannelDown.enabled(&config));
        config.desktop.notifications.channel_down = false;
        assert!(!Kind::ChannelDown.enabled(&config));
        assert!(Kind::Budget.enabled(&config));
        assert!(Kind::CronFailed.enabled(&config));
        config.desktop.notifications.budget = false;
        assert!(!Kind::Budget.enabled(&config));
    }

    #[test]
    fn a_reached_budget_says_what_was_spent_and_what_happens_now() {
        let budget = |scope: &str, action, model: Option<&str>| BudgetExceeded {
            scope: scope.into(),
            period: BudgetPeriod::Day,
            limit: 1.0,
            spent: 1.2345,
            action,
            model: model.map(Into::into),
        };
        let stop = Event::BudgetExceeded(budget("agent:main", BudgetActionKind::Stop, None));
        let note = note_for(&stop, 0).expect("a notification");
        assert_eq!(note.kind, Kind::Budget);
        assert_eq!(note.summary, "Agent main reached its budget");
        assert_eq!(
            note.body,
            "$1.23 of $1.00 spent today; further messages are refused until the period ends."
        );
        assert_eq!(note.route, "#/usage");
        assert!(note.buttons.is_empty() && note.answer.is_none());
        let mut switch = budget("*", BudgetActionKind::Switch, Some("p/cheap"));
        switch.period = BudgetPeriod::Month;
        let note = budget_note(&switch);
        assert_eq!(note.summary, "Your assistant reached its budget");
        assert_eq!(
            note.body,
            "$1.23 of $1.00 spent this month; now answering with p/cheap."
        );
        assert_eq!(
            budget_note(&budget("alice", BudgetActionKind::Stop, None)).summary,
            "alice reached its budget"
        );
        assert!(Notifier::handles(EventName::BudgetExceeded));
    }

    fn pairing(sender_name: Option<&str>) -> PairingRequest {
        PairingRequest {
            channel: "telegram".into(),
            account: "default".into(),
            sender_id: "4242".into(),
            sender_name: sender_name.map(Into::into),
            code: "K7P2QX".into(),
            created_at_ms: 1_000,
            expires_at_ms: 3_601_000,
        }
    }

    #[test]
    fn a_pairing_request_asks_with_approve_and_deny() {
        let event = Event::PairingRequested(pairing(Some("Ann Lee")));
        let note = note_for(&event, 1_000).expect("a notification");
        assert_eq!(note.kind, Kind::Pairing);
        assert_eq!(note.summary, "Ann Lee wants to talk to your assistant");
        assert_eq!(note.body, "on Telegram, code K7P2QX");
        assert_eq!(
            note.buttons,
            [(ACTION_APPROVE, "Approve"), (ACTION_DENY, "Deny")]
        );
        assert_eq!(note.timeout, Some(Duration::from_secs(3600)));
        assert_eq!(note.route, "#/channels");
        assert_eq!(
            note.answer,
            Some(Answer::Pairing {
                code: "K7P2QX".into()
            })
        );
    }

    #[test]
    fn a_pairing_sender_without_a_usable_name_is_shown_by_id() {
        for name in [None, Some(""), Some("  \n ")] {
            let note = pairing_note(&pairing(name), 0);
            assert_eq!(
                note.summary, "4242 wants to talk to your assistant",
                "{name:?}"
            );
        }
        // Strangers pick their names: one line, and short.
        let long = format!("Mallory\nApprove me{}", "!".repeat(100));
        let note = pairing_note(&pairing(Some(&long)), 0);
        assert_eq!(note.summary, "Mallory wants to talk to your assistant");
        let note = pairing_note(&pairing(Some(&"x".repeat(500))), 0);
        let name = note
            .summary
            .trim_end_matches(" wants to talk to your assistant");
        assert_eq!(name.chars().count(), MAX_SENDER_CHARS);
        assert!(name.ends_with('…'));
        let mut other = pairing(Some("Bo"));
        other.account = "work".into();
        other.channel = "discord".into();
        assert_eq!(
            pairing_note(&other, 0).body,
            "on Discord (work), code K7P2QX"
        );
    }

    fn account(channel: &str, state: ChannelState, failures: u32) -> ChannelAccountStatus {
        ChannelAccountStatus {
            channel: channel.into(),
            account: "default".into(),
            name: None,
            state,
            since_ms: 0,
            identity: None,
            last_error: (state != ChannelState::Connected)
                .then(|| "telegram getMe: 401 Unauthorized".to_owned()),
            reconnects: 0,
            failures,
            dm_policy: "pairing".into(),
            group_policy: "allowlist".into(),
            capabilities: None,
            counts: Default::default(),
            last_inbound_ms: None,
            last_outbound_ms: None,
        }
    }

    fn status(channels: Vec<ChannelAccountStatus>) -> ChannelsStatusResult {
        ChannelsStatusResult {
            channels,
            paused: false,
        }
    }

    fn summaries(notes: &[Note]) -> Vec<&str> {
        notes.iter().map(|n| n.summary.as_str()).collect()
    }

    #[test]
    fn a_failed_account_notifies_once_with_its_error() {
        let mut outages = Outages::default();
        let failed = status(vec![account("telegram", ChannelState::Failed, 1)]);
        let notes = outages.update(&failed);
        assert_eq!(summaries(&notes), ["Telegram is down"]);
        let note = &notes[0];
        assert_eq!(note.kind, Kind::ChannelDown);
        assert_eq!(
            note.body,
            "telegram getMe: 401 Unauthorized\nHearth stopped trying; fix the account's settings."
        );
        assert!(note.buttons.is_empty());
        assert_eq!(note.route, "#/channels");
        assert_eq!(note.answer, None);
        // The same outage, reported again (every change re-sends every account): no new note.
        assert!(outages.update(&failed).is_empty());
    }

    #[test]
    fn a_retrying_account_is_down_after_three_failures() {
        let mut outages = Outages::default();
        for failures in 0..DOWN_AFTER_FAILURES {
            let retrying = status(vec![account("discord", ChannelState::Retrying, failures)]);
            assert!(outages.update(&retrying).is_empty(), "{failures} failures");
        }
        let down = status(vec![account("discord", ChannelState::Retrying, 3)]);
        let notes = outages.update(&down);
        assert_eq!(summaries(&notes), ["Discord is down"]);
        assert!(
            notes[0]
                .body
                .ends_with("3 attempts failed in a row; Hearth keeps retrying."),
            "{}",
            notes[0].body
        );
        // Still retrying, then given up: the same outage.
        assert!(
            outages
                .update(&status(vec![account("discord", ChannelState::Retrying, 4)]))
                .is_empty()
        );
        assert!(
            outages
                .update(&status(vec![account("discord", ChannelState::Failed, 5)]))
                .is_empty()
        );
    }

    #[test]
    fn a_reconnected_account_notifies_again_on_its_next_outage() {
        let mut outages = Outages::default();
        let failed = status(vec![account("slack", ChannelState::Failed, 1)]);
        assert_eq!(outages.update(&failed).len(), 1);
        // Paused or disabled is not connected: the outage is not over.
        assert!(
            outages
                .update(&status(vec![account("slack", ChannelState::Paused, 0)]))
                .is_empty()
        );
        assert!(outages.update(&failed).is_empty());
        assert!(
            outages
                .update(&status(vec![account("slack", ChannelState::Connected, 0)]))
                .is_empty()
        );
        assert_eq!(summaries(&outages.update(&failed)), ["Slack is down"]);
        // An account removed from the config is forgotten too.
        assert!(outages.update(&status(Vec::new())).is_empty());
        assert_eq!(outages.update(&failed).len(), 1);
    }

    #[test]
    fn each_account_is_tracked_and_named_on_its_own() {
        let mut outages = Outages::default();
        let mut work = account("telegram", ChannelState::Failed, 1);
        work.account = "work".into();
        let mut named = account("matrix", ChannelState::Retrying, 7);
        named.name = Some("Family room".into());
        named.last_error = None;
        let healthy = account("telegram", ChannelState::Connected, 0);
        let notes = outages.update(&status(vec![healthy.clone(), work.clone(), named]));
        assert_eq!(
            summaries(&notes),
            ["Telegram (work) is down", "Matrix (Family room) is down"]
        );
        assert!(
            notes[1].body.starts_with("no error was reported\n"),
            "{}",
            notes[1].body
        );
        let mut broken = healthy;
        broken.state = ChannelState::Failed;
        let notes = outages.update(&status(vec![broken, work]));
        assert_eq!(summaries(&notes), ["Telegram is down"]);
    }

    #[test]
    fn long_connection_errors_are_cut() {
        let mut long = account("telegram", ChannelState::Failed, 1);
        long.last_error = Some("e".repeat(1000));
        let note = channel_down_note(&long);
        assert_eq!(
            note.body.lines().next().unwrap().chars().count(),
            MAX_ERROR_CHARS
        );
    }
}
