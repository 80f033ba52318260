//! Hosts the gateway in this process: starts it, stops it, and publishes its state for the
//! tray and the window to follow.
//!
//! The gateway is started exactly as `hearth gateway run` starts it (same home, same options)
//! and handed the shell's [`DesktopHooks`](hearth_core::desktop::DesktopHooks). While it runs,
//! two tasks watch it: one follows the event bus (notifications, the recent-sessions menu), one
//! polls its health. Both end with the gateway they watch.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hearth_core::bus::BusEvent;
use hearth_core::runtime::Runtime;
use hearth_core::{Gateway, GatewayOptions, RunningGateway, StateDir};
use hearth_protocol::events::{Event, EventName};
use tauri::{AppHandle, Url};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::notifications::Notifier;
use crate::{ShellError, autostart, health, tray};

/// Bursts of `sessions.changed` (every turn sends some) refresh the menu once.
const RECENT_SESSIONS_DEBOUNCE: Duration = Duration::from_millis(300);

/// What the gateway is doing, as the tray and the window show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GatewayState {
    Starting,
    Running {
        addr: SocketAddr,
        /// Why it is degraded; empty when healthy.
        problems: Vec<String>,
    },
    Stopping,
    Stopped {
        /// Why it is not running, when that was not the person's choice.
        error: Option<String>,
    },
}

/// Where the window finds the Control UI. The URL carries the gateway token in its fragment.
#[derive(Clone)]
pub(crate) struct ControlUi {
    origin: String,
    url: Url,
}

impl std::fmt::Debug for ControlUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlUi")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl ControlUi {
    pub(crate) fn new(url: &str) -> Option<Self> {
        let url = Url::parse(url).ok()?;
        Some(Self {
            origin: url.origin().ascii_serialization(),
            url,
        })
    }

    /// Whether `url` is a page of this gateway.
    pub(crate) fn serves(&self, url: &Url) -> bool {
        url.origin().ascii_serialization() == self.origin
    }

    /// The Control UI with the token (the UI takes it from the fragment, then removes it), at
    /// `route` (`#/chat/<key>`) when given: the UI reads `#<route>&token=<token>`.
    pub(crate) fn url_with_route(&self, route: Option<&str>) -> Url {
        let mut url = self.url.clone();
        if let Some(route) = route {
            let route = route.trim_start_matches('#');
            let fragment = match self.url.fragment().filter(|f| !f.is_empty()) {
                Some(token) => format!("{route}&{token}"),
                None => route.to_owned(),
            };
            url.set_fragment(Some(&fragment));
        }
        url
    }
}

struct Hosted {
    gateway: RunningGateway,
    generation: u64,
    /// Ends the tasks that watch this gateway.
    watchers: CancellationToken,
}

/// The in-process gateway, as managed state.
pub(crate) struct Host {
    app: AppHandle,
    home: StateDir,
    /// Held while starting or stopping, so the two never overlap.
    slot: tokio::sync::Mutex<Option<Hosted>>,
    state: watch::Sender<GatewayState>,
    ui: Mutex<Option<ControlUi>>,
    generations: AtomicU64,
    /// Set when the app quits: no gateway starts after that.
    closed: AtomicBool,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("home", &self.home)
            .field("state", &*self.state.borrow())
            .finish_non_exhaustive()
    }
}

impl Host {
    pub(crate) fn new(app: AppHandle, home: StateDir) -> Self {
        Self {
            app,
            home,
            slot: tokio::sync::Mutex::new(None),
            state: watch::Sender::new(GatewayState::Starting),
            ui: Mutex::new(None),
            generations: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<GatewayState> {
        self.state.subscribe()
    }

    pub(crate) fn current(&self) -> GatewayState {
        self.state.borrow().clone()
    }

    /// Where the running gateway serves the Control UI.
    pub(crate) fn control_ui(&self) -> Option<ControlUi> {
        self.ui
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Starts the gateway unless it runs already. A failure is also published as
    /// [`GatewayState::Stopped`] with its reason.
    pub(crate) async fn start(self: &Arc<Self>) -> Result<(), ShellError> {
        let mut slot = self.slot.lock().await;
        if slot.is_some() || self.closed.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.state.send_replace(GatewayState::Starting);
        let options = GatewayOptions {
            desktop: Some(autostart::hooks(&self.app)),
            ..GatewayOptions::new(self.home.clone())
        };
        let gateway = match Gateway::start(options).await {
            Ok(gateway) => gateway,
            Err(e) => {
                tracing::error!(error = %e, "the gateway did not start");
                self.state.send_replace(GatewayState::Stopped {
                    error: Some(e.to_string()),
                });
                return Err(e.into());
            }
        };
        let rt = gateway.runtime().clone();
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let watchers = CancellationToken::new();
        // Subscribed before anyone can act on the new gateway, so no event is missed.
        let events = rt.bus.subscribe();
        *self.ui.lock().unwrap_or_else(PoisonError::into_inner) =
            ControlUi::new(&gateway.control_ui_url());
        tauri::async_runtime::spawn(watch_events(
            self.app.clone(),
            rt.clone(),
            events,
            watchers.clone(),
        ));
        tauri::async_runtime::spawn(watch_health(
            Arc::clone(self),
            rt.clone(),
            generation,
            watchers.clone(),
        ));
        self.state.send_replace(GatewayState::Running {
            addr: gateway.local_addr(),
            problems: health::problems(&rt),
        });
        tracing::info!(addr = %gateway.local_addr(), "the desktop app's gateway is running");
        *slot = Some(Hosted {
            gateway,
            generation,
            watchers,
        });
        Ok(())
    }

    /// Shuts the gateway down gracefully (runs finish within the configured grace period) and
    /// waits for it.
    pub(crate) async fn stop(&self) {
        self.stop_matching(None, None).await;
    }

    /// Stops the gateway for good: the app is quitting.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.stop().await;
        // Quitting before the first start began: there was nothing to stop.
        self.state.send_if_modified(|state| {
            let starting = *state == GatewayState::Starting;
            if starting {
                *state = GatewayState::Stopped { error: None };
            }
            starting
        });
    }

    /// Stops the gateway of `generation` only (any when `None`): a watcher of an old gateway
    /// must never stop a newer one.
    async fn stop_matching(&self, generation: Option<u64>, reason: Option<String>) {
        let mut slot = self.slot.lock().await;
        let Some(hosted) = slot.take_if(|h| generation.is_none_or(|g| g == h.generation)) else {
            return;
        };
        self.state.send_replace(GatewayState::Stopping);
        *self.ui.lock().unwrap_or_else(PoisonError::into_inner) = None;
        hosted.watchers.cancel();
        hosted.gateway.shutdown().await;
        self.state
            .send_replace(GatewayState::Stopped { error: reason });
    }

    /// Whether the app is quitting.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Whether nothing is left to shut down.
    pub(crate) fn is_stopped(&self) -> bool {
        matches!(*self.state.borrow(), GatewayState::Stopped { .. })
    }
}

/// Re-checks the gateway's health every few seconds, and notices when it stopped by itself.
async fn watch_health(
    host: Arc<Host>,
    rt: Arc<Runtime>,
    generation: u64,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(health::POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            () = rt.shutdown.cancelled() => {
                // Not the shell's doing (it cancels the watchers first): the server failed.
                let reason = "the gateway stopped unexpectedly; the log has the reason".to_owned();
                host.stop_matching(Some(generation), Some(reason)).await;
                return;
            }
            _ = tick.tick() => {
                let now = health::problems(&rt);
                host.state.send_if_modified(|state| match state {
                    GatewayState::Running { problems, .. } if *problems != now => {
                        *problems = now;
                        true
                    }
                    _ => false,
                });
            }
        }
    }
}

/// Follows the gateway's event bus: notifications, and the recent-sessions menu.
async fn watch_events(
    app: AppHandle,
    rt: Arc<Runtime>,
    mut events: broadcast::Receiver<Arc<BusEvent>>,
    cancel: CancellationToken,
) {
    let notifier = Notifier::new(app.clone(), rt.clone());
    let mut refresh_at = Some(Instant::now());
    loop {
        let due = async {
            match refresh_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            () = due => {
                refresh_at = None;
                tray::show_recent_sessions(&app, &rt).await;
            }
            received = events.recv() => match received {
                Ok(event) if event.name == EventName::SessionsChanged => {
                    refresh_at.get_or_insert_with(|| Instant::now() + RECENT_SESSIONS_DEBOUNCE);
                }
                Ok(event) if Notifier::handles(event.name) => match parse(&event) {
                    Ok(event) => notifier.on_event(&event),
                    Err(e) => tracing::warn!(event = event.name.name(), error = %e, "unreadable event"),
                },
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "the desktop shell missed gateway events");
                    refresh_at.get_or_insert_with(Instant::now);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

fn parse(event: &BusEvent) -> Result<Event, serde_json::Error> {
    Event::parse(
        event.name.name(),
        serde_json::from_str(&event.payload_json)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_go_beside_the_token_in_the_fragment() {
        let ui = ControlUi::new("http://127.0.0.1:18789/#token=abc").unwrap();
        assert!(ui.serves(&Url::parse("http://127.0.0.1:18789/#/chat").unwrap()));
        assert!(!ui.serves(&Url::parse("http://127.0.0.1:18790/").unwrap()));
        assert!(!ui.serves(&Url::parse("tauri://localhost/index.html").unwrap()));
        assert_eq!(
            ui.url_with_route(None).as_str(),
            "http://127.0.0.1:18789/#token=abc"
        );
        assert_eq!(
            ui.url_with_route(Some("#/chat/agent:main:main")).as_str(),
            "http://127.0.0.1:18789/#/chat/agent:main:main&token=abc"
        );
        let open = ControlUi::new("http://127.0.0.1:18789/").unwrap();
        assert_eq!(
            open.url_with_route(Some("#/overview")).as_str(),
            "http://127.0.0.1:18789/#/overview"
        );
    }

    #[test]
    fn the_token_stays_out_of_debug_output() {
        let ui = ControlUi::new("http://127.0.0.1:18789/#token=secret-token").unwrap();
        let shown = format!("{ui:?}");
        assert!(!shown.contains("secret-token"), "{shown}");
        assert!(shown.contains("127.0.0.1:18789"), "{shown}");
    }
}
