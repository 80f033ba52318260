//! How the CLI finds the gateway and its token: flags and environment first, then the config
//! file and the secret store of `$HEARTH_HOME`.

use std::time::Duration;

use anyhow::{Context, anyhow};
use hearth_client::{Client, ConnectOptions};
use hearth_config::{AuthMode, Config, SecretValue};
use hearth_core::StateDir;
use hearth_core::runtime::{GATEWAY_TOKEN_SECRET, open_secrets, secrets_preference};

use crate::cli::Global;

/// The state directory the command works on.
pub(crate) fn home(global: &Global) -> StateDir {
    match &global.home {
        Some(dir) => StateDir::new(dir.clone()),
        None => StateDir::from_env(),
    }
}

/// The config file as it is (defaults when there is none).
pub(crate) fn load_config(home: &StateDir) -> anyhow::Result<Config> {
    let loaded = hearth_config::load_file(&home.config_path(), &hearth_config::process_env)
        .with_context(|| format!("reading {}", home.config_path().display()))?;
    Ok(loaded.config)
}

/// Where the gateway listens, for HTTP calls.
pub(crate) fn http_base(global: &Global, config: &Config) -> String {
    match &global.url {
        Some(url) => url
            .replacen("ws://", "http://", 1)
            .replacen("wss://", "https://", 1)
            .trim_end_matches('/')
            .to_owned(),
        None => format!("http://127.0.0.1:{}", config.gateway.port),
    }
}

/// The token to present.
pub(crate) async fn token(
    global: &Global,
    home: &StateDir,
    config: &Config,
) -> anyhow::Result<Option<String>> {
    if let Some(t) = &global.token {
        return Ok(Some(t.clone()));
    }
    let auth = &config.gateway.auth;
    let name = match (auth.mode, &auth.token, &auth.password) {
        (AuthMode::None, _, _) => return Ok(None),
        (AuthMode::Token, Some(SecretValue::Literal(t)), _)
        | (AuthMode::Password, _, Some(SecretValue::Literal(t))) => {
            return Ok(Some(t.clone()));
        }
        (AuthMode::Token, Some(SecretValue::Ref { secret }), _)
        | (AuthMode::Password, _, Some(SecretValue::Ref { secret })) => secret.clone(),
        (AuthMode::Token, None, _) => GATEWAY_TOKEN_SECRET.to_owned(),
        (AuthMode::Password, _, None) => {
            return Err(anyhow!(
                "gateway.auth.mode is password but no password is set"
            ));
        }
    };
    let store = open_secrets(home, secrets_preference(config)).await?;
    let found = tokio::task::spawn_blocking(move || {
        store.get(&name).map(|s| s.map(|s| s.expose().to_owned()))
    })
    .await??;
    found.map(Some).ok_or_else(|| {
        anyhow!("no gateway token found in the secret store yet: start the gateway once (`hearth gateway start`), or pass --token")
    })
}

/// Connects to the running gateway.
pub(crate) async fn client(global: &Global) -> anyhow::Result<Client> {
    let home = home(global);
    let config = load_config(&home)?;
    let token = token(global, &home, &config).await?;
    let url = match &global.url {
        Some(u) => u.clone(),
        None => format!("ws://127.0.0.1:{}/", config.gateway.port),
    };
    let mut opts = ConnectOptions::new(url, token, "hearth-cli");
    opts.timeout = Duration::from_secs(30);
    Ok(Client::connect(opts).await?)
}
