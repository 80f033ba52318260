//! The tray icon and its menu.
//!
//! The icon and tooltip show the gateway's state (running, degraded, stopped); the first menu
//! line says the same in words, because Linux trays show no tooltips. Menu ids are the
//! constants in [`menu_id`]; every click goes through [`on_menu`].
//!
//! "Pause all channels" acts on the running gateway, which the notifier attaches
//! ([`attach_gateway`]) when the host starts one; its check mark follows `channels.changed`.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use hearth_core::gateway::methods::dispatch;
use hearth_core::runtime::Runtime;
use hearth_protocol::channels::{ChannelsPauseParams, ChannelsStatusResult};
use hearth_protocol::methods::{Request, SessionInfo, SessionsListParams, SessionsListResult};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Wry, include_image};

use crate::host::{GatewayState, Host};
use crate::{app, autostart, window};

pub(crate) const TRAY_ID: &str = "hearth";

/// The menu's item ids.
pub(crate) mod menu_id {
    pub(crate) const STATUS: &str = "status";
    pub(crate) const OPEN: &str = "open";
    pub(crate) const GATEWAY: &str = "gateway";
    pub(crate) const RECENT: &str = "recent";
    pub(crate) const RECENT_EMPTY: &str = "recent.empty";
    pub(crate) const PAUSE_CHANNELS: &str = "channels.pause";
    pub(crate) const AUTOSTART: &str = "autostart";
    pub(crate) const QUIT: &str = "quit";
    /// Followed by the session key.
    pub(crate) const SESSION_PREFIX: &str = "session:";
}

/// Sessions listed under "Recent sessions".
const RECENT_SESSIONS: u32 = 5;
/// Longest menu label; longer text is cut with an ellipsis.
const MAX_LABEL_CHARS: usize = 60;

const ICON_RUNNING: Image<'static> = include_image!("../icons/tray/running.png");
const ICON_DEGRADED: Image<'static> = include_image!("../icons/tray/degraded.png");
const ICON_STOPPED: Image<'static> = include_image!("../icons/tray/stopped.png");

/// The menu items that change after the menu is built.
struct TrayMenu {
    status: MenuItem<Wry>,
    gateway: MenuItem<Wry>,
    recent: Submenu<Wry>,
    pause_channels: CheckMenuItem<Wry>,
    autostart: CheckMenuItem<Wry>,
    /// The running gateway, for "Pause all channels"; weak, so a stopped one is let go.
    runtime: Mutex<Weak<Runtime>>,
}

/// Builds the tray icon and its menu.
pub(crate) fn build(app: &AppHandle) -> tauri::Result<()> {
    let first = presentation(&GatewayState::Starting);
    let status = MenuItem::with_id(app, menu_id::STATUS, &first.status, false, None::<&str>)?;
    let open = MenuItem::with_id(app, menu_id::OPEN, "Open Hearth", true, None::<&str>)?;
    let gateway = MenuItem::with_id(
        app,
        menu_id::GATEWAY,
        first.gateway_label,
        first.gateway_enabled,
        None::<&str>,
    )?;
    let empty = no_sessions_item(app)?;
    let recent =
        Submenu::with_id_and_items(app, menu_id::RECENT, "Recent sessions", true, &[&empty])?;
    let pause_channels = CheckMenuItem::with_id(
        app,
        menu_id::PAUSE_CHANNELS,
        "Pause all channels",
        first.gateway_running,
        false,
        None::<&str>,
    )?;
    let autostart = CheckMenuItem::with_id(
        app,
        menu_id::AUTOSTART,
        "Launch at login",
        true,
        autostart::is_enabled(app),
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(app, menu_id::QUIT, "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &open,
            &gateway,
            &recent,
            &PredefinedMenuItem::separator(app)?,
            &pause_channels,
            &autostart,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(first.icon.image())
        .tooltip(&first.status)
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    app.manage(TrayMenu {
        status,
        gateway,
        recent,
        pause_channels,
        autostart,
        runtime: Mutex::new(Weak::new()),
    });
    Ok(())
}

fn no_sessions_item(app: &AppHandle) -> tauri::Result<MenuItem<Wry>> {
    MenuItem::with_id(
        app,
        menu_id::RECENT_EMPTY,
        "No sessions yet",
        false,
        None::<&str>,
    )
}

fn on_menu(app: &AppHandle, id: &str) {
    tracing::debug!(id, "tray menu");
    match id {
        menu_id::OPEN => window::open(app, None),
        menu_id::GATEWAY => {
            let host = app.state::<Arc<Host>>().inner().clone();
            tauri::async_runtime::spawn(async move {
                match host.current() {
                    GatewayState::Running { .. } => host.stop().await,
                    GatewayState::Stopped { .. } => {
                        // A failure is shown by the state (tray and window) and logged.
                        let _ = host.start().await;
                    }
                    GatewayState::Starting | GatewayState::Stopping => {}
                }
            });
        }
        menu_id::PAUSE_CHANNELS => pause_channels(app),
        menu_id::AUTOSTART => autostart::toggle(app),
        menu_id::QUIT => app::quit(app, 0),
        other => {
            if let Some(key) = other.strip_prefix(menu_id::SESSION_PREFIX) {
                window::open(app, Some(window::chat_route(key)));
            }
        }
    }
}

/// "Pause all channels" was clicked: asks the gateway for the state the check mark now shows.
fn pause_channels(app: &AppHandle) {
    let Some(menu) = app.try_state::<TrayMenu>() else {
        return;
    };
    let Some(rt) = menu
        .runtime
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .upgrade()
    else {
        tracing::debug!("no gateway to pause the channels of");
        show_channels_paused(app, false);
        return;
    };
    // The item toggles its own check mark before the click arrives here.
    let paused = menu
        .pause_channels
        .is_checked()
        .unwrap_or_else(|_| !rt.channels.is_paused());
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let request = Request::ChannelsPause(ChannelsPauseParams { paused });
        let now = match Box::pin(dispatch(&rt, request)).await {
            Ok(value) => match serde_json::from_value::<ChannelsStatusResult>(value) {
                Ok(status) => status.paused,
                Err(e) => {
                    tracing::warn!(error = %e, "unexpected channels.pause answer");
                    rt.channels.is_paused()
                }
            },
            Err(e) => {
                tracing::warn!(error = %e.message, paused, "cannot pause or resume the channels");
                rt.channels.is_paused()
            }
        };
        tracing::info!(paused = now, "the tray paused or resumed the channels");
        show_channels_paused(&app, now);
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrayIcon {
    Running,
    Degraded,
    Stopped,
}

impl TrayIcon {
    fn image(self) -> Image<'static> {
        match self {
            TrayIcon::Running => ICON_RUNNING,
            TrayIcon::Degraded => ICON_DEGRADED,
            TrayIcon::Stopped => ICON_STOPPED,
        }
    }
}

/// How the tray shows one gateway state.
#[derive(Debug, PartialEq, Eq)]
struct Presentation {
    icon: TrayIcon,
    /// The tooltip, and the menu's first line.
    status: String,
    gateway_label: &'static str,
    gateway_enabled: bool,
    /// Whether there is a gateway whose channels can be paused.
    gateway_running: bool,
}

fn presentation(state: &GatewayState) -> Presentation {
    let (icon, status, gateway_label, gateway_enabled) = match state {
        GatewayState::Starting => (
            TrayIcon::Stopped,
            "Hearth is starting…".to_owned(),
            "Stop gateway",
            false,
        ),
        GatewayState::Running { addr, problems } if problems.is_empty() => (
            TrayIcon::Running,
            format!("Hearth is running on {addr}"),
            "Stop gateway",
            true,
        ),
        GatewayState::Running { problems, .. } => (
            TrayIcon::Degraded,
            format!("Hearth is degraded: {}", problems.join("; ")),
            "Stop gateway",
            true,
        ),
        GatewayState::Stopping => (
            TrayIcon::Stopped,
            "Hearth is stopping…".to_owned(),
            "Start gateway",
            false,
        ),
        GatewayState::Stopped { error: None } => (
            TrayIcon::Stopped,
            "Hearth's gateway is stopped".to_owned(),
            "Start gateway",
            true,
        ),
        GatewayState::Stopped { error: Some(e) } => (
            TrayIcon::Stopped,
            format!("Hearth's gateway could not run: {e}"),
            "Start gateway",
            true,
        ),
    };
    Presentation {
        icon,
        status,
        gateway_label,
        gateway_enabled,
        gateway_running: matches!(state, GatewayState::Running { .. }),
    }
}

/// Shows a new gateway state: icon, tooltip, status line, the Start/Stop item.
pub(crate) fn show_state(app: &AppHandle, state: &GatewayState) {
    let shown = presentation(state);
    let result = (|| -> tauri::Result<()> {
        if let Some(tray) = app.tray_by_id(TRAY_ID) {
            tray.set_icon(Some(shown.icon.image()))?;
            tray.set_tooltip(Some(&shown.status))?;
        }
        if let Some(menu) = app.try_state::<TrayMenu>() {
            menu.status
                .set_text(shorten(&shown.status, MAX_LABEL_CHARS * 2))?;
            menu.gateway.set_text(shown.gateway_label)?;
            menu.gateway.set_enabled(shown.gateway_enabled)?;
            menu.pause_channels.set_enabled(shown.gateway_running)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot update the tray");
    }
}

/// Shows the launch-at-login state in its checkbox.
pub(crate) fn show_autostart(app: &AppHandle, enabled: bool) {
    if let Some(menu) = app.try_state::<TrayMenu>()
        && let Err(e) = menu.autostart.set_checked(enabled)
    {
        tracing::warn!(error = %e, "cannot update the tray");
    }
}

/// The host started a gateway: "Pause all channels" acts on it and shows its state.
pub(crate) fn attach_gateway(app: &AppHandle, rt: &Arc<Runtime>) {
    if let Some(menu) = app.try_state::<TrayMenu>() {
        *menu.runtime.lock().unwrap_or_else(PoisonError::into_inner) = Arc::downgrade(rt);
    }
    show_channels_paused(app, rt.channels.is_paused());
}

/// Shows whether all channels are paused in the check mark.
pub(crate) fn show_channels_paused(app: &AppHandle, paused: bool) {
    if let Some(menu) = app.try_state::<TrayMenu>()
        && let Err(e) = menu.pause_channels.set_checked(paused)
    {
        tracing::warn!(error = %e, "cannot update the tray");
    }
}

/// Refreshes "Recent sessions" from the gateway.
pub(crate) async fn show_recent_sessions(app: &AppHandle, rt: &Arc<Runtime>) {
    let request = Request::SessionsList(SessionsListParams {
        limit: Some(RECENT_SESSIONS),
        ..SessionsListParams::default()
    });
    let sessions = match Box::pin(dispatch(rt, request)).await {
        Ok(value) => match serde_json::from_value::<SessionsListResult>(value) {
            Ok(list) => list.sessions,
            Err(e) => {
                tracing::warn!(error = %e, "unexpected sessions.list answer");
                return;
            }
        },
        Err(e) => {
            tracing::warn!(error = %e.message, "cannot list recent sessions");
            return;
        }
    };
    let Some(menu) = app.try_state::<TrayMenu>() else {
        return;
    };
    let result = (|| -> tauri::Result<()> {
        while menu.recent.remove_at(0)?.is_some() {}
        if sessions.is_empty() {
            menu.recent.append(&no_sessions_item(app)?)?;
        }
        for session in &sessions {
            let id = format!("{}{}", menu_id::SESSION_PREFIX, session.key);
            let item = MenuItem::with_id(app, id, session_label(session), true, None::<&str>)?;
            menu.recent.append(&item)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot update the recent sessions menu");
    }
}

fn session_label(session: &SessionInfo) -> String {
    let name = session
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(&session.key);
    shorten(name, MAX_LABEL_CHARS)
}

fn shorten(text: &str, max_chars: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= max_chars {
        return line.to_owned();
    }
    let cut: String = line.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_has_its_icon_words_and_gateway_item() {
        let addr = "127.0.0.1:18789".parse().unwrap();
        let running = presentation(&GatewayState::Running {
            addr,
            problems: Vec::new(),
        });
        assert_eq!(running.icon, TrayIcon::Running);
        assert_eq!(running.status, "Hearth is running on 127.0.0.1:18789");
        assert_eq!(
            (running.gateway_label, running.gateway_enabled),
            ("Stop gateway", true)
        );
        assert!(running.gateway_running);

        let degraded = presentation(&GatewayState::Running {
            addr,
            problems: vec!["a".into(), "b".into()],
        });
        assert_eq!(degraded.icon, TrayIcon::Degraded);
        assert_eq!(degraded.status, "Hearth is degraded: a; b");
        assert!(
            degraded.gateway_running,
            "a degraded gateway still has channels"
        );

        let stopped = presentation(&GatewayState::Stopped { error: None });
        assert_eq!(stopped.icon, TrayIcon::Stopped);
        assert_eq!(
            (stopped.gateway_label, stopped.gateway_enabled),
            ("Start gateway", true)
        );

        let failed = presentation(&GatewayState::Stopped {
            error: Some("port in use".into()),
        });
        assert_eq!(failed.status, "Hearth's gateway could not run: port in use");

        for busy in [GatewayState::Starting, GatewayState::Stopping] {
            assert!(!presentation(&busy).gateway_enabled, "{busy:?}");
        }
        for idle in [
            GatewayState::Starting,
            GatewayState::Stopping,
            GatewayState::Stopped { error: None },
        ] {
            assert!(!presentation(&idle).gateway_running, "{idle:?}");
        }
    }

    #[test]
    fn session_labels_prefer_titles_and_stay_short() {
        let mut session: SessionInfo = serde_json::from_value(serde_json::json!({
            "key": "agent:main:main", "sessionId": "s1", "agentId": "main", "channel": "webchat",
            "createdAt": 0, "updatedAt": 0, "messageCount": 2,
            "usage": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0, "totalTokens": 0},
            "archived": false
        }))
        .unwrap();
        assert_eq!(session_label(&session), "agent:main:main");
        session.title = Some("  ".into());
        assert_eq!(session_label(&session), "agent:main:main");
        session.title = Some("x".repeat(100));
        let label = session_label(&session);
        assert_eq!(label.chars().count(), MAX_LABEL_CHARS);
        assert!(label.ends_with('…'));
    }
}
