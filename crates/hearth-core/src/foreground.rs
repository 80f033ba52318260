//! The gateway in the foreground of a process, as `hearth gateway run` and the desktop app
//! without a display run it: logging as the config says, a pid file for `hearth gateway stop`
//! and `status`, the Control UI link when a person is watching, and SIGTERM or Ctrl-C for a
//! graceful stop (a second one quits at once).

use std::io::IsTerminal;

use crate::{CoreError, Gateway, GatewayOptions, StateDir};

/// Runs the gateway until a signal stops it. `note` is added to the first line of output (the
/// desktop app says why there is no tray).
pub async fn run_foreground(opts: GatewayOptions, note: &str) -> Result<(), CoreError> {
    let home = opts.home.clone();
    home.ensure()?;
    let _log_guard = init_logging(&home)?;
    let gateway = Gateway::start(opts).await?;
    let addr = gateway.local_addr();
    write_pid(&home);
    if std::io::stdout().is_terminal() {
        println!("Hearth gateway is running on {addr}{note}");
        println!("Control UI: {}", gateway.control_ui_url());
        println!("Press Ctrl-C to stop.");
    } else {
        // Output may land in a file: keep the token out of it.
        println!(
            "Hearth gateway is running on {addr}{note}; `hearth dashboard` prints the Control UI link."
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
    Ok(())
}

/// The gateway's logging as the config file says (defaults when the file is missing or invalid:
/// the gateway reports those problems itself once it starts).
pub fn init_logging(home: &StateDir) -> Result<crate::logging::LogGuard, CoreError> {
    let logging = hearth_config::load_file(&home.config_path(), &hearth_config::process_env)
        .map(|loaded| loaded.config.logging)
        .unwrap_or_default();
    crate::logging::init(home, &logging, true)
}

/// SIGTERM or SIGINT (Ctrl-C); never returns where neither can be watched.
pub async fn wait_for_signal() {
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

fn write_pid(home: &StateDir) {
    let pid = std::process::id().to_string();
    if let Err(e) = crate::home::write_private(&home.pid_path(), pid.as_bytes()) {
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
