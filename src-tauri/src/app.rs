//! The Tauri application: plugins, setup, and the rules for exiting.
//!
//! One tokio runtime serves both Tauri and the gateway: the shell builds it and lends it to
//! Tauri before anything else. The gateway starts in `setup` (behind the splash page) and is
//! kept as managed state ([`Host`]). Closing the last window does not exit: Hearth stays in the
//! tray. Quitting (the tray's Quit, SIGTERM, SIGINT) shuts the gateway down and waits for it
//! before the process exits.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hearth_core::StateDir;
use tauri::{App, AppHandle, Manager, RunEvent};
use tokio::sync::watch;

use crate::host::{GatewayState, Host};
use crate::window::WindowState;
use crate::{tray, window};

pub(crate) fn run(runtime: tokio::runtime::Runtime, home: StateDir) -> ExitCode {
    if let Err(e) = home.ensure() {
        eprintln!("hearth-desktop: {e}");
        return ExitCode::FAILURE;
    }
    let _log_guard = match hearth_core::foreground::init_logging(&home) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("hearth-desktop: {e}");
            return ExitCode::FAILURE;
        }
    };
    tauri::async_runtime::set(runtime.handle().clone());
    let built = tauri::Builder::default()
        // First: a second launch must hand over before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            window::open(app, None);
        }))
        .plugin(tauri_plugin_autostart::Builder::new().build())
        .manage(WindowState::default())
        .setup(move |app| {
            setup(app, home);
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match built {
        Ok(app) => app,
        Err(e) => {
            eprintln!("hearth-desktop: cannot start the desktop app: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = app.run_return(on_event);
    runtime.shutdown_timeout(Duration::from_secs(5));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn setup(app: &mut App, home: StateDir) {
    let handle = app.handle().clone();
    let host = Arc::new(Host::new(handle.clone(), home));
    app.manage(host.clone());
    if let Err(e) = tray::build(&handle) {
        // Some desktops have no tray; the window and notifications still work.
        tracing::warn!(error = %e, "no tray icon");
    }
    window::open(&handle, None);
    tauri::async_runtime::spawn(follow(handle.clone(), host.clone(), host.subscribe()));
    tauri::async_runtime::spawn(async move {
        // A failure is shown by the tray and the window, and logged.
        let _ = host.start().await;
    });
    tauri::async_runtime::spawn(async move {
        hearth_core::foreground::wait_for_signal().await;
        tracing::info!("quitting on a signal");
        quit(&handle, 0);
    });
}

/// Keeps the tray and the window in step with the gateway's state.
async fn follow(app: AppHandle, host: Arc<Host>, mut state: watch::Receiver<GatewayState>) {
    loop {
        if host.is_closed() {
            // Quitting: the tray and window are going away with the event loop.
            return;
        }
        let now = state.borrow_and_update().clone();
        tray::show_state(&app, &now);
        window::settle(&app);
        if state.changed().await.is_err() {
            return;
        }
    }
}

/// Shuts the gateway down, then exits with `code`.
pub(crate) fn quit(app: &AppHandle, code: i32) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        app.state::<Arc<Host>>().close().await;
        app.exit(code);
    });
}

fn on_event(app: &AppHandle, event: RunEvent) {
    if let RunEvent::ExitRequested { code, api, .. } = event {
        match code {
            // The last window was closed: Hearth lives on in the tray.
            None => api.prevent_exit(),
            // Something asked to exit while the gateway still runs: stop it first.
            Some(code) if !app.state::<Arc<Host>>().is_stopped() => {
                api.prevent_exit();
                quit(app, code);
            }
            Some(_) => {}
        }
    }
}
