//! Launch at login, through tauri-plugin-autostart (an XDG autostart entry on Linux, a launch
//! agent on macOS, the `Run` registry key on Windows). The tray's checkbox and the Control UI's
//! wizard (through [`DesktopHooks`]) change the same setting and both show its real state.

use std::sync::Arc;

use hearth_core::desktop::{DesktopError, DesktopHooks};
use tauri::{AppHandle, Manager};
use tauri_plugin_autostart::AutoLaunchManager;

use crate::{ShellError, tray};

/// Whether Hearth starts at login (false, logged, when that cannot be read).
pub(crate) fn is_enabled(app: &AppHandle) -> bool {
    read(app).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot read the launch-at-login setting");
        false
    })
}

fn read(app: &AppHandle) -> Result<bool, ShellError> {
    manager(app)?.is_enabled().map_err(failed)
}

/// Turns launch at login on or off; answers the state it is in afterwards.
fn set(app: &AppHandle, enabled: bool) -> Result<bool, ShellError> {
    let manager = manager(app)?;
    let changed = if enabled {
        manager.enable()
    } else {
        manager.disable()
    };
    let now = manager.is_enabled().map_err(failed);
    tray::show_autostart(app, now.as_ref().is_ok_and(|on| *on));
    changed.map_err(failed)?;
    now
}

/// The tray's checkbox was clicked.
pub(crate) fn toggle(app: &AppHandle) {
    let want = !is_enabled(app);
    match set(app, want) {
        Ok(now) => tracing::info!(enabled = now, "launch at login changed"),
        Err(e) => tracing::warn!(error = %e, "cannot change launch at login"),
    }
}

fn manager(app: &AppHandle) -> Result<tauri::State<'_, AutoLaunchManager>, ShellError> {
    app.try_state::<AutoLaunchManager>()
        .ok_or_else(|| ShellError::Autostart("the autostart plugin is not running".to_owned()))
}

fn failed(e: tauri_plugin_autostart::Error) -> ShellError {
    ShellError::Autostart(e.to_string())
}

/// The gateway's view of the shell (`desktop.get`, `desktop.autostart.set`).
struct AutostartHooks {
    app: AppHandle,
}

impl DesktopHooks for AutostartHooks {
    fn autostart(&self) -> Result<bool, DesktopError> {
        read(&self.app).map_err(|e| DesktopError::Failed(e.to_string()))
    }

    fn set_autostart(&self, enabled: bool) -> Result<bool, DesktopError> {
        set(&self.app, enabled).map_err(|e| DesktopError::Failed(e.to_string()))
    }
}

/// The hooks handed to the gateway when the shell starts it.
pub(crate) fn hooks(app: &AppHandle) -> Arc<dyn DesktopHooks> {
    Arc::new(AutostartHooks { app: app.clone() })
}
