//! A runtime for the tools' unit tests: in-memory store, no auth, no secrets.

use std::path::Path;
use std::sync::Arc;

use hearth_config::Config;
use tokio_util::sync::CancellationToken;

use super::ToolContext;
use crate::StateDir;
use crate::runtime::{Runtime, build_live};

/// A runtime over `home` with `config` (auth is switched off so no secret store is opened).
pub(crate) async fn runtime(home: &Path, mut config: Config) -> Arc<Runtime> {
    config.gateway.auth.mode = hearth_config::AuthMode::None;
    let home = StateDir::new(home);
    let http = reqwest::Client::new();
    let secrets = tokio::sync::OnceCell::new();
    let pref = hearth_secrets::Preference::File;
    let live = build_live(config, String::new(), &home, &secrets, pref, &http)
        .await
        .expect("live config");
    let store = hearth_store::Store::open_memory().await.expect("store");
    let config_path = home.config_path();
    Arc::new(Runtime::new(
        home,
        config_path,
        live,
        store,
        secrets,
        pref,
        http,
    ))
}

/// The context of a call by the default agent in its main session.
pub(crate) async fn context(home: &Path, config: Config) -> ToolContext {
    let rt = runtime(home, config).await;
    let live = rt.live();
    let agent = live.agents.default_agent();
    ToolContext::new(
        &rt,
        agent,
        "agent:main:main",
        "run-test",
        &CancellationToken::new(),
    )
}
