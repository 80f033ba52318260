//! The `hearth-desktop` binary: everything lives in the library so tests and bundles share it.

// No console window behind the tray app on Windows release builds.
#![cfg_attr(
    all(not(debug_assertions), target_os = "windows"),
    windows_subsystem = "windows"
)]

fn main() -> std::process::ExitCode {
    hearth_desktop::run()
}
