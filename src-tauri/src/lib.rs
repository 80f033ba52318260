//! The Hearth tray app: a thin Tauri 2 shell around the gateway.
//!
//! The gateway ([`hearth_core`]) runs inside this process, on the one tokio runtime the shell
//! creates and lends to Tauri. The window shows the Control UI the gateway itself serves (same
//! origin as the gateway, so the page needs no IPC); the shell adds only what a desktop app has
//! and a server has not: a tray icon and menu, OS notifications, launch at login, one instance.
//! Nothing in the core knows about this crate; it reaches the shell only through
//! `hearth_core::desktop::DesktopHooks`.
//!
//! - `app`: the Tauri application: plugins, setup, the exit rules.
//! - `host`: starts and stops the in-process gateway and publishes its state.
//! - `health`: running, degraded or stopped, from the runtime's own data.
//! - `tray`: the tray icon and its menu.
//! - `window`: the one window: splash, Control UI, "stopped" page.
//! - `notifications`: OS notifications for gateway events.
//! - `autostart`: launch at login, for the tray and for the Control UI's wizard.
//! - `headless`: no display at all: the gateway in the foreground, as `hearth gateway run`.

mod app;
mod autostart;
mod error;
mod headless;
mod health;
mod host;
mod notifications;
mod tray;
mod window;

use std::ffi::OsString;
use std::process::ExitCode;

pub use error::ShellError;

/// Runs Hearth: the tray app when there is a display, the headless gateway otherwise (or with
/// `--headless`).
pub fn run() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hearth")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hearth-desktop: {}", ShellError::Runtime(e));
            return ExitCode::FAILURE;
        }
    };
    let home = hearth_core::StateDir::from_env();
    let headless_flag = std::env::args_os().skip(1).any(|a| a == "--headless");
    if headless_flag || !display_available(|name| std::env::var_os(name)) {
        // GTK panics without a display: this path never touches Tauri.
        return match runtime.block_on(headless::run(home)) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("hearth-desktop: {e}");
                ExitCode::FAILURE
            }
        };
    }
    app::run(runtime, home)
}

/// Whether a window can be opened: always on macOS and Windows; elsewhere an X11 or Wayland
/// display must be named in the environment.
fn display_available(var: impl Fn(&str) -> Option<OsString>) -> bool {
    if cfg!(any(target_os = "macos", target_os = "windows")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| var(name).is_some_and(|v| !v.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    #[test]
    fn a_display_is_named_by_x11_or_wayland() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        assert!(!display_available(env(&[])));
        assert!(!display_available(env(&[("DISPLAY", "")])));
        assert!(display_available(env(&[("DISPLAY", ":0")])));
        assert!(display_available(env(&[("WAYLAND_DISPLAY", "wayland-0")])));
    }
}
