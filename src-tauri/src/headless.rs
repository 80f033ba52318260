//! No display: the same binary runs the gateway in the foreground, exactly as
//! `hearth gateway run` does (same home, same logging, same pid file, same output), and never
//! touches Tauri or GTK.

use std::process::ExitCode;

use hearth_core::{GatewayOptions, StateDir};

use crate::ShellError;

pub(crate) async fn run(home: StateDir) -> Result<ExitCode, ShellError> {
    hearth_core::foreground::run_foreground(
        GatewayOptions::new(home),
        " (no display: running without the tray)",
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}
