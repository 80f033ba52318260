//! No display: the same binary runs the gateway in the foreground, exactly as
//! `hearth gateway run` does (same home, same logging, same pid file, same output), and never
//! touches Tauri or GTK.

use std::io::IsTerminal;
use std::process::ExitCode;

use hearth_core::{Gateway, GatewayOptions, StateDir};

use crate::ShellError;

pub(crate) async fn run(home: StateDir) -> Result<ExitCode, ShellError> {
    home.ensure()?;
    let _log_guard = init_logging(&home)?;
    let gateway = Gateway::start(GatewayOptions::new(home.clone())).await?;
    let addr = gateway.local_addr();
    write_pid(&home);
    if std::io::stdout().is_terminal() {
        println!("Hearth gateway is running on {addr} (no display: running without the tray)");
        println!("Control UI: {}", gateway.control_ui_url());
        println!("Press Ctrl-C to stop.");
    } else {
        // Output may land in a file: keep the token out of it.
        println!(
            "Hearth gateway is running on {addr} (no display: running without the tray); `hearth dashboard` prints the Control UI link."
        );
    }
    let shutdown = gateway.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        eprintln!("Stopping (press Ctrl-C again to quit at once)…");
        shutdown.cancel();
        wait_for_signal().await;
        eprintln!("Quitting now.");
        std::process::exit(130);
    });
    gateway.wait().await;
    remove_pid(&home);
    Ok(ExitCode::SUCCESS)
}

/// The gateway's logging, configured by the config file as for the CLI (defaults when the file
/// is missing or invalid: the gateway reports those problems itself).
pub(crate) fn init_logging(home: &StateDir) -> Result<hearth_core::logging::LogGuard, ShellError> {
    let logging = hearth_config::load_file(&home.config_path(), &hearth_config::process_env)
        .map(|loaded| loaded.config.logging)
        .unwrap_or_default();
    Ok(hearth_core::logging::init(home, &logging, true)?)
}

/// SIGTERM or SIGINT (Ctrl-C); never returns where neither can be watched.
pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            std::future::pending::<()>().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The pid file `hearth gateway stop` and `status` read.
fn write_pid(home: &StateDir) {
    let pid = std::process::id().to_string();
    if let Err(e) = hearth_core::home::write_private(&home.pid_path(), pid.as_bytes()) {
        tracing::warn!(error = %e, path = %home.pid_path().display(), "cannot write the pid file");
    }
}

fn remove_pid(home: &StateDir) {
    // Only our own pid file: a newer gateway may have replaced it.
    let ours = std::fs::read_to_string(home.pid_path())
        .is_ok_and(|text| text.trim() == std::process::id().to_string());
    if ours {
        let _ = std::fs::remove_file(home.pid_path());
    }
}
