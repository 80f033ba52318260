//! The live state shared by every component of a running gateway.
//!
//! [`Runtime`] is built once at start and handed to the HTTP and WebSocket handlers and to agent
//! runs as an `Arc`. What the config decides lives in [`Live`], swapped whole when the config file
//! is reloaded, so a request always sees one consistent config.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use hearth_config::{AuthMode, Config, SecretValue};
use hearth_secrets::{Preference, SecretStore};
use hearth_store::Store;
use tokio::sync::{OnceCell, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agent::tools::approvals::{APPROVALS_FILE, ExecApprovals};
use crate::agents::Agents;
use crate::bus::EventBus;
use crate::gateway::auth::AuthLimiter;
use crate::models::{ModelRegistry, SecretLookup};
use crate::sessions::Sessions;
use crate::{CoreError, StateDir};

/// Name of the generated gateway token in the secret store.
pub const GATEWAY_TOKEN_SECRET: &str = "gateway.auth.token";

/// What the current config decides, resolved.
#[derive(Debug)]
pub struct Live {
    pub config: Arc<Config>,
    /// SHA-256 of the config file as loaded.
    pub hash: String,
    pub agents: Agents,
    pub models: ModelRegistry,
    pub auth: ResolvedAuth,
}

/// The credentials clients must present.
pub struct ResolvedAuth {
    pub mode: AuthMode,
    token: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for ResolvedAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedAuth")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl ResolvedAuth {
    /// The token, for `hearth dashboard` and the tray app.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Checks a presented token or password against the configured one.
    pub fn accepts(&self, token: Option<&str>, password: Option<&str>) -> bool {
        let check = |expected: &Option<String>, given: Option<&str>| match (expected, given) {
            (Some(e), Some(g)) => crate::util::constant_time_eq(e.as_bytes(), g.as_bytes()),
            _ => false,
        };
        match self.mode {
            AuthMode::None => true,
            AuthMode::Token => check(&self.token, token),
            // A password client may send it in either field.
            AuthMode::Password => check(&self.password, password) || check(&self.password, token),
        }
    }
}

/// Everything a running gateway shares.
#[derive(Debug)]
pub struct Runtime {
    pub home: StateDir,
    pub config_path: PathBuf,
    live: RwLock<Arc<Live>>,
    pub store: Store,
    secrets: OnceCell<Arc<SecretStore>>,
    secrets_pref: Preference,
    pub bus: EventBus,
    pub sessions: Sessions,
    pub limiter: AuthLimiter,
    pub started: Instant,
    listen: OnceLock<SocketAddr>,
    /// Cancelled when shutdown begins: stop accepting, tell clients.
    pub shutdown: CancellationToken,
    /// Cancelled when the shutdown grace period ends: abort runs still going.
    pub runs_cancel: CancellationToken,
    /// Agent runs and other background work, awaited on shutdown.
    pub tasks: TaskTracker,
    /// Cancelled once runs have drained: WebSocket connections close (they stay open during
    /// the grace period so clients see their runs end).
    pub close_connections: CancellationToken,
    /// WebSocket connections, awaited after `close_connections`.
    pub connection_tasks: TaskTracker,
    pub connections: AtomicU64,
    pub http: reqwest::Client,
    pub run_slots: Arc<Semaphore>,
    /// Provider keys cooling down after failures (kept across config reloads).
    pub cooldowns: crate::models::Cooldowns,
    /// Workspace files, skills and system prompts between turns.
    pub context: crate::agent::prompt::ContextCache,
    pub restart_required: Mutex<Vec<String>>,
    /// Shell commands waiting for a person's approval, and the ones allowed for good.
    pub approvals: ExecApprovals,
    /// MCP servers and their tools.
    pub mcp: crate::mcp::McpManager,
    /// Messaging channel accounts.
    pub channels: crate::channels::Channels,
    /// The audit trail (`$HEARTH_HOME/audit/`).
    pub audit: crate::audit::Audit,
    /// Spending caps already announced in their period.
    pub budgets: crate::budgets::Budgets,
    /// The scheduler of jobs and the heartbeat.
    pub cron: crate::cron::Cron,
    /// How the gateway was started (overrides for reloads, the desktop hooks).
    options: OnceLock<crate::GatewayOptions>,
    /// Held while a config is checked and put in force (file reload or a write from a client),
    /// so one change is never applied twice or half-way.
    pub(crate) config_lock: tokio::sync::Mutex<()>,
}

impl Runtime {
    pub(crate) fn new(
        home: StateDir,
        config_path: PathBuf,
        live: Live,
        store: Store,
        secrets: OnceCell<Arc<SecretStore>>,
        secrets_pref: Preference,
        http: reqwest::Client,
    ) -> Self {
        let max_concurrent = live.config.agents.defaults.max_concurrent.max(1) as usize;
        let cron = crate::cron::Cron::new(live.config.cron.max_concurrent_runs);
        let limiter = AuthLimiter::new(live.config.gateway.auth.rate_limit.clone());
        let bus = EventBus::default();
        let approvals = ExecApprovals::open(home.root().join(APPROVALS_FILE), bus.clone());
        let audit = crate::audit::Audit::new(home.root().join("audit"), &live.config.audit);
        Self {
            home,
            config_path,
            live: RwLock::new(Arc::new(live)),
            store,
            secrets,
            secrets_pref,
            bus,
            sessions: Sessions::default(),
            limiter,
            started: Instant::now(),
            listen: OnceLock::new(),
            shutdown: CancellationToken::new(),
            runs_cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            close_connections: CancellationToken::new(),
            connection_tasks: TaskTracker::new(),
            connections: AtomicU64::new(0),
            http,
            run_slots: Arc::new(Semaphore::new(max_concurrent)),
            cooldowns: crate::models::Cooldowns::default(),
            context: crate::agent::prompt::ContextCache::with_recheck(
                std::time::Duration::from_secs(1),
            ),
            restart_required: Mutex::new(Vec::new()),
            approvals,
            mcp: crate::mcp::McpManager::new(),
            channels: crate::channels::Channels::default(),
            audit,
            budgets: crate::budgets::Budgets::default(),
            cron,
            options: OnceLock::new(),
            config_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn set_options(&self, options: crate::GatewayOptions) {
        let _ = self.options.set(options);
    }

    /// The wall clock, in milliseconds since the epoch (a test's manual clock when it set one).
    pub fn now_ms(&self) -> i64 {
        match self.options.get().and_then(|o| o.clock.as_ref()) {
            Some(clock) => clock.now_ms(),
            None => crate::util::now_ms(),
        }
    }

    /// The start options; `None` for runtimes built without [`crate::Gateway::start`] (tests).
    pub(crate) fn options(&self) -> Option<&crate::GatewayOptions> {
        self.options.get()
    }

    /// The desktop shell's hooks, when the gateway runs inside it.
    pub fn desktop(&self) -> Option<Arc<dyn crate::desktop::DesktopHooks>> {
        self.options.get().and_then(|o| o.desktop.clone())
    }

    /// The current config and what it resolves to.
    pub fn live(&self) -> Arc<Live> {
        self.live.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn replace_live(&self, live: Live) {
        self.audit.configure(&live.config.audit);
        self.limiter
            .set_config(live.config.gateway.auth.rate_limit.clone());
        *self.live.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(live);
    }

    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.get().copied()
    }

    pub(crate) fn set_listen_addr(&self, addr: SocketAddr) {
        let _ = self.listen.set(addr);
    }

    /// The secret store, opened on first use (opening may probe the OS keychain).
    pub async fn secrets(&self) -> Result<Arc<SecretStore>, CoreError> {
        open_secrets_cached(&self.secrets, &self.home, self.secrets_pref).await
    }

    pub fn restart_required(&self) -> Vec<String> {
        self.restart_required
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

pub(crate) async fn open_secrets_cached(
    cell: &OnceCell<Arc<SecretStore>>,
    home: &StateDir,
    pref: Preference,
) -> Result<Arc<SecretStore>, CoreError> {
    cell.get_or_try_init(|| open_secrets(home, pref))
        .await
        .cloned()
}

/// Opens the secret store off the async threads (a keychain probe may block).
pub async fn open_secrets(
    home: &StateDir,
    pref: Preference,
) -> Result<Arc<SecretStore>, CoreError> {
    let root = home.root().to_path_buf();
    tokio::task::spawn_blocking(move || SecretStore::open(&root, pref).map(Arc::new))
        .await
        .map_err(|e| CoreError::Internal(format!("secret store task failed: {e}")))?
        .map_err(CoreError::from)
}

/// Which secret backend to use: `HEARTH_SECRETS_BACKEND` wins over the config.
pub fn secrets_preference(config: &Config) -> Preference {
    hearth_secrets::preference_from_env().unwrap_or(match config.secrets.backend {
        hearth_config::SecretsBackend::Auto => Preference::Auto,
        hearth_config::SecretsBackend::Keychain => Preference::Keychain,
        hearth_config::SecretsBackend::File => Preference::File,
    })
}

/// Secret names a config refers to, plus the generated gateway token when it needs one.
pub(crate) fn needed_secrets(config: &Config) -> Vec<String> {
    let mut names = Vec::new();
    let mut push_ref = |v: &Option<SecretValue>| {
        if let Some(SecretValue::Ref { secret }) = v {
            names.push(secret.clone());
        }
    };
    push_ref(&config.gateway.auth.token);
    push_ref(&config.gateway.auth.password);
    for p in config.models.providers.values() {
        push_ref(&p.api_key);
        for key in &p.api_keys {
            push_ref(&Some(key.clone()));
        }
    }
    if config.gateway.auth.mode == AuthMode::Token && config.gateway.auth.token.is_none() {
        names.push(GATEWAY_TOKEN_SECRET.to_owned());
    }
    names
}

struct Prefetched(std::collections::HashMap<String, String>);

impl SecretLookup for Prefetched {
    fn secret(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// Resolves a config into [`Live`]: reads the secrets it names (opening the secret store only
/// when it names any) and builds the provider clients.
pub(crate) async fn build_live(
    config: Config,
    hash: String,
    home: &StateDir,
    secrets_cell: &OnceCell<Arc<SecretStore>>,
    pref: Preference,
    http: &reqwest::Client,
) -> Result<Live, CoreError> {
    let names = needed_secrets(&config);
    let mut fetched = std::collections::HashMap::new();
    if !names.is_empty() {
        let store = open_secrets_cached(secrets_cell, home, pref).await?;
        let generate =
            config.gateway.auth.mode == AuthMode::Token && config.gateway.auth.token.is_none();
        fetched = tokio::task::spawn_blocking(move || -> Result<_, CoreError> {
            let mut out = std::collections::HashMap::new();
            for name in names {
                if let Some(secret) = store.get(&name)? {
                    out.insert(name, secret.expose().to_owned());
                } else if generate && name == GATEWAY_TOKEN_SECRET {
                    let token = generate_token();
                    store.set(&name, &token)?;
                    tracing::info!("generated a gateway token and stored it in the secret store; `hearth dashboard` shows the Control UI link with it");
                    out.insert(name, token);
                }
            }
            Ok(out)
        })
        .await
        .map_err(|e| CoreError::Internal(format!("secret lookup task failed: {e}")))??;
    }
    let lookup = Prefetched(fetched);
    let resolve = |v: &Option<SecretValue>| match v {
        Some(SecretValue::Literal(s)) => Some(s.clone()),
        Some(SecretValue::Ref { secret }) => lookup.secret(secret),
        None => None,
    };
    let auth_cfg = &config.gateway.auth;
    let token = resolve(&auth_cfg.token).or_else(|| {
        (auth_cfg.mode == AuthMode::Token && auth_cfg.token.is_none())
            .then(|| lookup.secret(GATEWAY_TOKEN_SECRET))
            .flatten()
    });
    let auth = ResolvedAuth {
        mode: auth_cfg.mode,
        token,
        password: resolve(&auth_cfg.password),
    };
    if auth.mode == AuthMode::Token && auth.token.is_none() {
        return Err(CoreError::Refused(
            "gateway.auth.token refers to a secret that is not in the secret store; add it with `hearth secrets set <name>` or remove the setting to have one generated".to_owned(),
        ));
    }
    if auth.mode == AuthMode::Password && auth.password.is_none() {
        return Err(CoreError::Refused(
            "gateway.auth.mode is \"password\" but no password is available; set gateway.auth.password".to_owned(),
        ));
    }
    let agents = Agents::from_config(&config, home);
    let models = ModelRegistry::build(&config, &lookup, http);
    Ok(Live {
        config: Arc::new(config),
        hash,
        agents,
        models,
        auth,
    })
}

/// 32 random bytes, hex: the generated gateway token.
pub fn generate_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Runtime {
    /// Rebuilds [`Live`] from a new config (hot reload).
    pub(crate) async fn rebuild_live(
        &self,
        config: Config,
        hash: String,
    ) -> Result<Live, CoreError> {
        build_live(
            config,
            hash,
            &self.home,
            &self.secrets,
            self.secrets_pref,
            &self.http,
        )
        .await
    }
}
