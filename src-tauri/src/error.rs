//! The shell's one error type.

/// What can go wrong in the shell itself (the gateway's own errors pass through as
/// [`ShellError::Core`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShellError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Core(#[from] hearth_core::CoreError),
    #[error("the desktop shell failed: {0}")]
    Tauri(#[from] tauri::Error),
    #[error("launch at login: {0}")]
    Autostart(String),
}
