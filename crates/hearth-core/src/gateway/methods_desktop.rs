//! `desktop.get` and `desktop.autostart.set`: the desktop shell's settings, through the hooks it
//! lent the gateway ([`crate::desktop::DesktopHooks`]). Headless, there are none to reach.

use hearth_protocol::frame::{ErrorCode, ErrorShape};
use hearth_protocol::methods::{
    DesktopAutostartSetParams, DesktopAutostartSetResult, DesktopGetResult,
};

use super::methods::{MethodResult, ok};
use crate::desktop::{DesktopError, DesktopHooks};
use crate::runtime::Runtime;

/// Calls a hook off the async threads: it may wait on the OS.
async fn call<T: Send + 'static>(
    hooks: std::sync::Arc<dyn DesktopHooks>,
    f: impl FnOnce(&dyn DesktopHooks) -> Result<T, DesktopError> + Send + 'static,
) -> Result<T, ErrorShape> {
    tokio::task::spawn_blocking(move || f(hooks.as_ref()))
        .await
        .map_err(|e| ErrorShape::new(ErrorCode::Internal, format!("desktop task failed: {e}")))?
        .map_err(|e| ErrorShape::new(ErrorCode::Internal, e.to_string()))
}

pub(super) async fn desktop_get(rt: &Runtime) -> MethodResult {
    let Some(hooks) = rt.desktop() else {
        return ok(DesktopGetResult {
            available: false,
            autostart: None,
        });
    };
    // The app is there even when the OS setting cannot be read; it shows as unknown.
    let autostart = match call(hooks, |h| h.autostart()).await {
        Ok(on) => Some(on),
        Err(e) => {
            tracing::warn!(error = %e.message, "cannot read the start-at-login setting");
            None
        }
    };
    ok(DesktopGetResult {
        available: true,
        autostart,
    })
}

pub(super) async fn desktop_autostart_set(
    rt: &Runtime,
    p: DesktopAutostartSetParams,
) -> MethodResult {
    let Some(hooks) = rt.desktop() else {
        return Err(ErrorShape::new(
            ErrorCode::Unavailable,
            "this gateway runs without the desktop app, so it cannot start at login; use your \
             system's service manager (`hearth gateway install`)",
        ));
    };
    let autostart = call(hooks, move |h| h.set_autostart(p.enabled)).await?;
    ok(DesktopAutostartSetResult { autostart })
}
