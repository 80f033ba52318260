//! The one window. It opens on the bundled splash page ("Starting Hearth…"), then shows the
//! Control UI the gateway serves, or the bundled "stopped" page while the gateway is stopped.
//!
//! Where the window should be follows from the gateway's state alone ([`settle`]), checked
//! whenever the state changes and whenever a page finishes loading, so the two can never
//! disagree for long. Closing the window destroys it (a webview costs memory); Hearth stays in
//! the tray and "Open Hearth" builds it again.

use std::sync::{Arc, Mutex, PoisonError};

use tauri::webview::PageLoadEvent;
use tauri::{AppHandle, Manager, Url, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

use crate::host::{GatewayState, Host};

pub(crate) const MAIN: &str = "main";
const SPLASH_PAGE: &str = "index.html";
const STOPPED_PAGE: &str = "stopped.html";

/// Where Tauri serves the bundled pages (`frontendDist`) with the `custom-protocol` feature.
const APP_BASE: &str = if cfg!(windows) {
    "http://tauri.localhost/"
} else {
    "tauri://localhost/"
};

/// What the window code remembers between page loads.
#[derive(Debug, Default)]
pub(crate) struct WindowState {
    /// A Control UI route (`#/chat/<key>`) for the next time the window opens the Control UI.
    pending_route: Mutex<Option<String>>,
}

impl WindowState {
    fn route(&self) -> Option<String> {
        self.pending_route
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_route(&self, route: Option<String>) {
        *self
            .pending_route
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = route;
    }
}

/// Shows the window (building it if it was closed) and brings it to the front; `route` opens
/// that page of the Control UI, e.g. `#/chat/agent:main:main`.
pub(crate) fn open(app: &AppHandle, route: Option<String>) {
    let app = app.clone();
    // Built from a task, not from the menu or single-instance callbacks: creating a webview
    // from an event handler deadlocks on Windows.
    tauri::async_runtime::spawn(async move {
        if let Err(e) = open_now(&app, route) {
            tracing::warn!(error = %e, "cannot open the window");
        }
    });
}

fn open_now(app: &AppHandle, route: Option<String>) -> tauri::Result<()> {
    let state = app.state::<WindowState>();
    let Some(window) = app.get_webview_window(MAIN) else {
        state.set_route(route);
        build(app)?;
        return Ok(());
    };
    if let Some(route) = route {
        let on_ui = host(app)
            .control_ui()
            .zip(window.url().ok())
            .is_some_and(|(ui, url)| ui.serves(&url));
        if on_ui {
            window.eval(route_script(&route))?;
        } else {
            state.set_route(Some(route));
        }
    }
    window.unminimize()?;
    window.show()?;
    window.set_focus()
}

fn build(app: &AppHandle) -> tauri::Result<WebviewWindow> {
    WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App(SPLASH_PAGE.into()))
        .title("Hearth")
        .inner_size(1100.0, 760.0)
        .min_inner_size(400.0, 480.0)
        .on_page_load(|window, payload| page_load(&window, payload.url(), payload.event()))
        .build()
}

fn page_load(window: &WebviewWindow, url: &Url, event: PageLoadEvent) {
    if event != PageLoadEvent::Finished {
        return;
    }
    let app = window.app_handle();
    if host(app).control_ui().is_some_and(|ui| ui.serves(url)) {
        // The route went with the URL; kept until now in case the navigation was repeated.
        app.state::<WindowState>().set_route(None);
    }
    settle_window(window);
}

/// Moves the window to where the gateway's state says it belongs.
pub(crate) fn settle(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(MAIN) {
        settle_window(&window);
    }
}

fn settle_window(window: &WebviewWindow) {
    let app = window.app_handle();
    let host = host(app);
    let Ok(current) = window.url() else { return };
    let state = app.state::<WindowState>();
    let base = Url::parse(APP_BASE).ok();
    let target = match host.current() {
        GatewayState::Running { .. } => host
            .control_ui()
            .filter(|ui| !ui.serves(&current))
            .map(|ui| ui.url_with_route(state.route().as_deref())),
        GatewayState::Stopped { error } if !on_page(&current, base.as_ref(), STOPPED_PAGE) => {
            base.as_ref().and_then(|b| stopped_url(b, error.as_deref()))
        }
        GatewayState::Starting if on_page(&current, base.as_ref(), STOPPED_PAGE) => {
            base.as_ref().and_then(|b| b.join(SPLASH_PAGE).ok())
        }
        _ => None,
    };
    if let Some(target) = target
        && let Err(e) = window.navigate(target)
    {
        tracing::warn!(error = %e, "cannot navigate the window");
    }
}

fn on_page(url: &Url, base: Option<&Url>, page: &str) -> bool {
    // Compared by parts: a custom scheme's origin is opaque and never equal to another.
    let same_site = base.is_some_and(|b| {
        b.scheme() == url.scheme() && b.host_str() == url.host_str() && b.port() == url.port()
    });
    same_site && url.path().ends_with(page)
}

/// The bundled "stopped" page; it shows the reason given in its fragment.
fn stopped_url(base: &Url, error: Option<&str>) -> Option<Url> {
    let mut url = base.join(STOPPED_PAGE).ok()?;
    url.set_fragment(error.map(|e| encode_component(e, false)).as_deref());
    Some(url)
}

/// The Control UI route of a session's chat.
pub(crate) fn chat_route(session_key: &str) -> String {
    // Colons stay readable (`agent:main:main`); anything that would end or split the route is
    // escaped.
    format!("#/chat/{}", encode_component(session_key, true))
}

/// JavaScript that moves the Control UI to `route` without reloading it.
fn route_script(route: &str) -> String {
    let literal = serde_json::Value::String(route.to_owned()).to_string();
    format!("window.location.hash = {literal};")
}

/// Percent-encodes all but unreserved characters (and `:` when `keep_colon`), like
/// `encodeURIComponent`.
fn encode_component(text: &str, keep_colon: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (keep_colon && byte == b':');
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn host(app: &AppHandle) -> Arc<Host> {
    app.state::<Arc<Host>>().inner().clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_routes_keep_colons_and_escape_the_rest() {
        assert_eq!(chat_route("agent:main:main"), "#/chat/agent:main:main");
        assert_eq!(
            chat_route("agent:main:web/a b#c%"),
            "#/chat/agent:main:web%2Fa%20b%23c%25"
        );
        assert_eq!(chat_route("é"), "#/chat/%C3%A9");
    }

    #[test]
    fn route_scripts_are_plain_string_literals() {
        assert_eq!(
            route_script("#/chat/a\"b</script>"),
            r##"window.location.hash = "#/chat/a\"b</script>";"##
        );
    }

    #[test]
    fn the_stopped_page_carries_its_reason() {
        let base = Url::parse(APP_BASE).unwrap();
        let url = stopped_url(&base, Some("port 18789 is in use")).unwrap();
        assert_eq!(
            url.as_str(),
            format!("{APP_BASE}stopped.html#port%2018789%20is%20in%20use")
        );
        assert!(on_page(&url, Some(&base), STOPPED_PAGE));
        assert_eq!(
            stopped_url(&base, None).unwrap().as_str(),
            format!("{APP_BASE}stopped.html")
        );
        let gateway = Url::parse("http://127.0.0.1:1/stopped.html").unwrap();
        assert!(!on_page(&gateway, Some(&base), STOPPED_PAGE));
    }
}
