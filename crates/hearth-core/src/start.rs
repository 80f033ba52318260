//! Starting and stopping a gateway.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hearth_config::{AuthMode, BindMode, Config};
use hearth_store::Store;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::runtime::{Runtime, build_live, secrets_preference};
use crate::{CoreError, StateDir, gateway, reload};

/// How to start a gateway.
#[derive(Clone)]
pub struct GatewayOptions {
    pub home: StateDir,
    /// Overrides `gateway.port` for this run (0 picks a free port).
    pub port: Option<u16>,
    /// Overrides `gateway.bind` for this run: `loopback`, `lan`, or an IP address.
    pub bind: Option<String>,
    /// Write a default `hearth.json` when there is none.
    pub create_config: bool,
    /// The desktop shell's hooks (`desktop.*` methods); `None` for a headless gateway.
    pub desktop: Option<Arc<dyn crate::desktop::DesktopHooks>>,
    /// The wall clock for time-based rules (session resets); `None` for the system's.
    pub clock: Option<Arc<dyn crate::clock::Clock>>,
}

impl std::fmt::Debug for GatewayOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayOptions")
            .field("home", &self.home)
            .field("port", &self.port)
            .field("bind", &self.bind)
            .field("create_config", &self.create_config)
            .field("desktop", &self.desktop.is_some())
            .field("clock", &self.clock)
            .finish()
    }
}

impl GatewayOptions {
    pub fn new(home: StateDir) -> Self {
        Self {
            home,
            port: None,
            bind: None,
            create_config: true,
            desktop: None,
            clock: None,
        }
    }
}

/// Entry point.
#[derive(Debug)]
pub struct Gateway;

impl Gateway {
    /// Loads the config, opens the store, binds the port and starts serving. Answers once the
    /// gateway accepts connections.
    pub async fn start(opts: GatewayOptions) -> Result<RunningGateway, CoreError> {
        // rustls is linked with two crypto backends (ring, and aws-lc through matrix-sdk); with
        // both, every TLS client (MCP, Discord's and Slack's WebSockets) needs a process default.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let home = opts.home.clone();
        home.ensure()?;
        let config_path = home.config_path();
        if opts.create_config && !config_path.exists() {
            write_default_config(&config_path)?;
            tracing::info!(path = %config_path.display(), "wrote a default config");
        }
        let loaded = hearth_config::load_file(&config_path, &hearth_config::process_env)?;
        for warning in &loaded.warnings {
            tracing::warn!(%warning, "config");
        }
        let mut config = loaded.config;
        apply_overrides(&mut config, &opts)?;
        let addr = listen_addr(&config)?;
        check_exposure(&config, addr)?;

        let store = Store::open(&home.db_path()).await?;
        let pref = secrets_preference(&config);
        let http = hearth_providers::http_client();
        let secrets = OnceCell::new();
        let live = build_live(config.clone(), loaded.hash, &home, &secrets, pref, &http).await?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| CoreError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| CoreError::Bind {
            addr: addr.to_string(),
            source,
        })?;

        let rt = Arc::new(Runtime::new(
            home,
            config_path,
            live,
            store,
            secrets,
            pref,
            http,
        ));
        rt.set_listen_addr(local);
        rt.set_options(opts.clone());
        // In the background: start-up never waits for MCP servers.
        rt.mcp.apply(&rt.live().config.mcp);
        // Channels connect in the background too; messages left unanswered by the last run
        // are answered once their accounts are back.
        crate::channels::start(&rt);
        // Scheduled jobs and the heartbeat: fires and webhook calls a crashed run left behind
        // are reported first.
        crate::cron::runner::spawn(&rt);
        let watcher = match config.gateway.reload.mode {
            hearth_config::ReloadMode::Hot => Some(reload::watch(&rt)?),
            hearth_config::ReloadMode::Off => None,
        };
        let server_rt = rt.clone();
        let server = tokio::spawn(async move {
            if let Err(e) = gateway::serve(listener, server_rt.clone()).await {
                tracing::error!(error = %e, "server stopped with an error");
                server_rt.shutdown.cancel();
            }
        });
        tracing::info!(addr = %local, version = crate::VERSION, "gateway ready");
        Ok(RunningGateway {
            rt,
            server,
            _watcher: watcher,
        })
    }
}

/// A gateway that is serving.
#[derive(Debug)]
pub struct RunningGateway {
    rt: Arc<Runtime>,
    server: tokio::task::JoinHandle<()>,
    _watcher: Option<reload::Watcher>,
}

impl RunningGateway {
    pub fn local_addr(&self) -> SocketAddr {
        self.rt
            .listen_addr()
            .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.rt
    }

    /// Every event the gateway publishes from now on (what WebSocket clients receive), for an
    /// in-process shell: `BusEvent::name` and its JSON payload. A receiver that falls more than
    /// the bus's capacity behind gets `Lagged` and misses events.
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<Arc<crate::bus::BusEvent>> {
        self.rt.bus.subscribe()
    }

    /// The token clients must present (`None` with `auth.mode: none`).
    pub fn token(&self) -> Option<String> {
        self.rt.live().auth.token().map(str::to_owned)
    }

    /// The Control UI's address, with the token in the fragment (never sent over the network).
    pub fn control_ui_url(&self) -> String {
        control_ui_url(self.local_addr(), self.token().as_deref())
    }

    /// Cancelling this token starts a graceful shutdown.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.rt.shutdown.clone()
    }

    /// Waits until something cancels the shutdown token, then shuts down gracefully.
    pub async fn wait(self) {
        self.rt.shutdown.cancelled().await;
        self.finish().await;
    }

    /// Shuts down now: stop accepting, let runs finish within `gateway.shutdownTimeoutSeconds`,
    /// abort the rest, close the store.
    pub async fn shutdown(self) {
        self.rt.shutdown.cancel();
        self.finish().await;
    }

    async fn finish(self) {
        let rt = self.rt;
        tracing::info!("shutting down");
        let grace = Duration::from_secs(rt.live().config.gateway.shutdown_timeout_seconds);
        rt.tasks.close();
        if tokio::time::timeout(grace, rt.tasks.wait()).await.is_err() {
            tracing::warn!(
                runs = rt.sessions.active_runs(),
                "runs still going after the grace period; aborting them"
            );
            rt.runs_cancel.cancel();
            if tokio::time::timeout(Duration::from_secs(5), rt.tasks.wait())
                .await
                .is_err()
            {
                tracing::error!("some tasks did not stop; exiting anyway");
            }
        }
        rt.close_connections.cancel();
        rt.connection_tasks.close();
        if tokio::time::timeout(Duration::from_secs(5), rt.connection_tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close in time");
        }
        if tokio::time::timeout(Duration::from_secs(5), self.server)
            .await
            .is_err()
        {
            tracing::warn!("the HTTP server did not stop in time");
        }
        rt.mcp.shutdown().await;
        rt.audit.close().await;
        rt.store.close().await;
        tracing::info!("gateway stopped");
    }
}

/// `http://<addr>/#token=<token>`, with a loopback name for unspecified binds.
pub fn control_ui_url(addr: SocketAddr, token: Option<&str>) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        IpAddr::V6(ip) => format!("[{ip}]"),
        IpAddr::V4(ip) => ip.to_string(),
    };
    match token {
        Some(t) => format!("http://{host}:{}/#token={t}", addr.port()),
        None => format!("http://{host}:{}/", addr.port()),
    }
}

fn write_default_config(path: &std::path::Path) -> Result<(), CoreError> {
    hearth_config::write_atomic(path, &hearth_config::default_document(), None)?;
    Ok(())
}

pub(crate) fn apply_overrides(config: &mut Config, opts: &GatewayOptions) -> Result<(), CoreError> {
    if let Some(port) = opts.port {
        config.gateway.port = port;
    }
    if let Some(bind) = &opts.bind {
        match bind.as_str() {
            "loopback" => config.gateway.bind = BindMode::Loopback,
            "lan" => config.gateway.bind = BindMode::Lan,
            other => {
                other.parse::<IpAddr>().map_err(|_| {
                    CoreError::Refused(format!(
                        "--bind {other}: expected `loopback`, `lan` or an IP address"
                    ))
                })?;
                config.gateway.bind = BindMode::Custom;
                config.gateway.custom_bind_host = Some(other.to_owned());
            }
        }
    }
    Ok(())
}

fn listen_addr(config: &Config) -> Result<SocketAddr, CoreError> {
    let ip = match config.gateway.bind {
        BindMode::Loopback => IpAddr::V4(Ipv4Addr::LOCALHOST),
        BindMode::Lan => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        BindMode::Custom => {
            let host = config
                .gateway
                .custom_bind_host
                .as_deref()
                .unwrap_or_default();
            host.parse().map_err(|_| {
                CoreError::Refused(format!(
                    "gateway.customBindHost `{host}` is not an IP address"
                ))
            })?
        }
    };
    Ok(SocketAddr::new(ip, config.gateway.port))
}

/// Refuses to expose an unauthenticated gateway beyond this machine.
fn check_exposure(config: &Config, addr: SocketAddr) -> Result<(), CoreError> {
    if !addr.ip().is_loopback() && config.gateway.auth.mode == AuthMode::None {
        return Err(CoreError::Refused(format!(
            "refusing to listen on {addr} without auth: anyone on the network could use your assistant and keys. Set gateway.auth.mode to \"token\" (the default) or bind to loopback."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lan_without_auth_is_refused() {
        let mut config = Config::default();
        config.gateway.auth.mode = AuthMode::None;
        let opts = GatewayOptions {
            bind: Some("lan".into()),
            ..GatewayOptions::new(StateDir::new("/x"))
        };
        apply_overrides(&mut config, &opts).unwrap();
        let addr = listen_addr(&config).unwrap();
        let err = check_exposure(&config, addr).unwrap_err().to_string();
        assert!(err.contains("without auth"), "{err}");
        config.gateway.bind = BindMode::Loopback;
        assert!(check_exposure(&config, listen_addr(&config).unwrap()).is_ok());
    }

    #[test]
    fn custom_bind_must_be_an_ip() {
        let mut config = Config::default();
        let opts = GatewayOptions {
            bind: Some("my-host".into()),
            ..GatewayOptions::new(StateDir::new("/x"))
        };
        assert!(apply_overrides(&mut config, &opts).is_err());
    }

    #[test]
    fn dashboard_url_has_the_token_in_the_fragment() {
        let url = control_ui_url("0.0.0.0:18789".parse().unwrap(), Some("abc"));
        assert_eq!(url, "http://127.0.0.1:18789/#token=abc");
    }
}
