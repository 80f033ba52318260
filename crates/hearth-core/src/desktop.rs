//! What the desktop shell lends the gateway: the few OS features only an app can reach (starting
//! at login). The core never depends on the shell: the shell implements [`DesktopHooks`] and
//! passes it in [`crate::GatewayOptions::desktop`]; a headless gateway has none, and the
//! `desktop.*` methods say so (`available: false`, `UNAVAILABLE`).

/// The shell's side of the `desktop.*` methods. Calls may block on the OS; the gateway makes
/// them off its async threads.
pub trait DesktopHooks: Send + Sync + 'static {
    /// Whether the app starts at login.
    fn autostart(&self) -> Result<bool, DesktopError>;
    /// Turns starting at login on or off; answers the setting now in force.
    fn set_autostart(&self, enabled: bool) -> Result<bool, DesktopError>;
}

/// Why a desktop hook failed; the text is shown to the user.
#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    #[error("{0}")]
    Failed(String),
}
