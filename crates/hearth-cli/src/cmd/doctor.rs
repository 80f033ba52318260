//! `hearth doctor`: checks the installation and says how to fix each problem.
//!
//! Checks: state directory permissions, config validity and literal secrets, the store, the
//! secret backend, the port, and each provider's reachability. `--fix` moves literal secrets
//! from the config file into the secret store, replacing them with `{ "secret": "<name>" }`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use hearth_config::SecretValue;
use hearth_core::StateDir;
use hearth_core::models::{ModelRegistry, SecretLookup};
use hearth_core::runtime::{open_secrets, secrets_preference};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::cli::{DoctorArgs, Global};
use crate::{connect, output};

#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    name: String,
    level: Level,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

fn check(name: &str, level: Level, detail: impl Into<String>, fix: Option<String>) -> Check {
    Check {
        name: name.to_owned(),
        level,
        detail: detail.into(),
        fix,
    }
}

pub(super) async fn run(g: &Global, args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let home = connect::home(g);
    let mut checks = vec![state_dir(&home)];

    let config = match hearth_config::load_file(&home.config_path(), &hearth_config::process_env) {
        Ok(loaded) => {
            let detail = if loaded.exists {
                format!("{} is valid", home.config_path().display())
            } else {
                format!(
                    "{} does not exist yet; defaults apply",
                    home.config_path().display()
                )
            };
            checks.push(check("config", Level::Ok, detail, None));
            for w in &loaded.warnings {
                checks.push(check(
                    "config",
                    Level::Warn,
                    format!("{}: {}", w.path, w.message),
                    w.hint.clone(),
                ));
            }
            Some(loaded.config)
        }
        Err(e) => {
            checks.push(check(
                "config",
                Level::Fail,
                e.to_string(),
                Some("run `hearth config validate` and fix each listed setting".into()),
            ));
            None
        }
    };

    if let Some(config) = &config {
        checks.extend(literal_secrets(&home, config, args.fix).await);
        checks.push(secrets_backend(&home, config).await);
    }
    checks.push(store(&home).await);
    if let Some(config) = &config {
        checks.push(port(g, config).await);
        checks.extend(providers(&home, config).await);
    }

    let worst = checks
        .iter()
        .map(|c| c.level)
        .max_by_key(|l| *l as u8)
        .unwrap_or(Level::Ok);
    if g.json {
        output::json(&checks)?;
    } else {
        for c in &checks {
            let mark = match c.level {
                Level::Ok => "ok  ",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
            println!("[{mark}] {}: {}", c.name, c.detail);
            if let Some(fix) = &c.fix {
                println!("       fix: {fix}");
            }
        }
    }
    Ok(if worst == Level::Fail {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn state_dir(home: &StateDir) -> Check {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(home.root()) {
        Err(_) => check(
            "state dir",
            Level::Warn,
            format!("{} does not exist yet", home.root().display()),
            Some("`hearth gateway start` creates it".into()),
        ),
        Ok(meta) if meta.permissions().mode() & 0o077 != 0 => check(
            "state dir",
            Level::Fail,
            format!(
                "{} is readable by other users (mode {:o})",
                home.root().display(),
                meta.permissions().mode() & 0o777
            ),
            Some(format!("chmod 700 {}", home.root().display())),
        ),
        Ok(_) => check(
            "state dir",
            Level::Ok,
            format!("{} (private)", home.root().display()),
            None,
        ),
    }
}

/// Warns of secrets written in the config file; with `fix`, moves them into the secret store.
async fn literal_secrets(home: &StateDir, config: &hearth_config::Config, fix: bool) -> Vec<Check> {
    let path = home.config_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let Ok(mut doc) = hearth_config::parse_document(&text) else {
        return Vec::new();
    };
    let paths = hearth_config::literal_secrets(&doc);
    if paths.is_empty() {
        return vec![check(
            "config secrets",
            Level::Ok,
            "no secrets written in the config file",
            None,
        )];
    }
    if !fix {
        return paths
            .iter()
            .map(|p| {
                check(
                    "config secrets",
                    Level::Warn,
                    format!("{p} is written in the config file in plain text"),
                    Some("`hearth doctor --fix` moves it into the secret store".into()),
                )
            })
            .collect();
    }
    let store = match open_secrets(home, secrets_preference(config)).await {
        Ok(s) => s,
        Err(e) => {
            return vec![check(
                "config secrets",
                Level::Fail,
                format!("cannot open the secret store: {e}"),
                None,
            )];
        }
    };
    let mut out = Vec::new();
    for p in &paths {
        let Some(serde_json::Value::String(value)) = hearth_config::get_path(&doc, p).cloned()
        else {
            continue;
        };
        let name = p.clone();
        let s = store.clone();
        let stored = tokio::task::spawn_blocking(move || s.set(&name, &value)).await;
        match stored {
            Ok(Ok(())) => {
                let reference = serde_json::to_value(SecretValue::Ref { secret: p.clone() })
                    .unwrap_or_default();
                if let Err(e) = hearth_config::set_path(&mut doc, p, reference) {
                    out.push(check("config secrets", Level::Fail, e.to_string(), None));
                    continue;
                }
                out.push(check(
                    "config secrets",
                    Level::Ok,
                    format!("moved {p} into the {}", store.info().kind),
                    None,
                ));
            }
            Ok(Err(e)) => out.push(check(
                "config secrets",
                Level::Fail,
                format!("{p}: {e}"),
                None,
            )),
            Err(e) => out.push(check(
                "config secrets",
                Level::Fail,
                format!("{p}: {e}"),
                None,
            )),
        }
    }
    let base = hearth_config::content_hash(text.as_bytes());
    if let Err(e) = hearth_config::write_atomic(&path, &doc, Some(&base)) {
        out.push(check(
            "config secrets",
            Level::Fail,
            format!("could not rewrite the config: {e}"),
            None,
        ));
    }
    out
}

async fn secrets_backend(home: &StateDir, config: &hearth_config::Config) -> Check {
    match open_secrets(home, secrets_preference(config)).await {
        Ok(store) => {
            let info = store.info();
            let level = if info.kind == hearth_secrets::BackendKind::Keychain {
                Level::Ok
            } else {
                Level::Warn
            };
            check(
                "secrets",
                level,
                format!("{} at {}. {}", info.kind, info.location, info.advice),
                None,
            )
        }
        Err(e) => check("secrets", Level::Fail, e.to_string(), None),
    }
}

async fn store(home: &StateDir) -> Check {
    if !home.db_path().exists() {
        return check(
            "store",
            Level::Warn,
            format!("{} does not exist yet", home.db_path().display()),
            Some("`hearth gateway start` creates it".into()),
        );
    }
    match hearth_store::Store::open(&home.db_path()).await {
        Ok(store) => {
            let result = store.ping().await;
            store.close().await;
            match result {
                Ok(()) => check(
                    "store",
                    Level::Ok,
                    format!("{} opens and answers", home.db_path().display()),
                    None,
                ),
                Err(e) => check("store", Level::Fail, e.to_string(), None),
            }
        }
        Err(e) => check(
            "store",
            Level::Fail,
            e.to_string(),
            Some("restore hearth.db from a backup, or move it aside to start fresh".into()),
        ),
    }
}

async fn port(g: &Global, config: &hearth_config::Config) -> Check {
    let base = connect::http_base(g, config);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build();
    let running = match client {
        Ok(c) => c
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success()),
        Err(_) => false,
    };
    if running {
        return check(
            "port",
            Level::Ok,
            format!("the gateway answers on {base}"),
            None,
        );
    }
    match std::net::TcpListener::bind(("127.0.0.1", config.gateway.port)) {
        Ok(_) => check(
            "port",
            Level::Ok,
            format!(
                "port {} is free; the gateway is not running",
                config.gateway.port
            ),
            Some("`hearth gateway start`".into()),
        ),
        Err(e) => check(
            "port",
            Level::Fail,
            format!(
                "port {} is taken by another program ({e})",
                config.gateway.port
            ),
            Some("stop that program or `hearth config set gateway.port <other>`".into()),
        ),
    }
}

async fn providers(home: &StateDir, config: &hearth_config::Config) -> Vec<Check> {
    if config.models.providers.is_empty() {
        return vec![check(
            "providers",
            Level::Warn,
            "no model provider is configured",
            Some("add one under models.providers (see README), or run the setup wizard in the Control UI".into()),
        )];
    }
    // The keys the providers name in the secret store, read once.
    let names: Vec<String> = config
        .models
        .providers
        .values()
        .flat_map(|p| p.api_key.iter().chain(p.api_keys.iter()))
        .filter_map(|v| v.secret_name().map(str::to_owned))
        .collect();
    let mut secrets = HashMap::new();
    if !names.is_empty()
        && let Ok(store) = open_secrets(home, secrets_preference(config)).await
    {
        secrets = tokio::task::spawn_blocking(move || {
            names
                .into_iter()
                .filter_map(|name| {
                    let value = store.get(&name).ok().flatten()?;
                    Some((name, value.expose().to_owned()))
                })
                .collect::<HashMap<_, _>>()
        })
        .await
        .unwrap_or_default();
    }
    let http = hearth_providers::http_client();
    // The same clients the gateway builds, asked for their model list over each API's own
    // endpoint (a wrong key is refused there as on a model call).
    let registry = ModelRegistry::build(config, &Fetched(secrets), &http);
    let mut out = Vec::new();
    for (id, p) in &config.models.providers {
        let name = format!("provider {id}");
        let client = match registry.provider_client(id) {
            Ok(client) => client,
            Err(e) => {
                out.push(check(&name, Level::Fail, e.to_string(), None));
                continue;
            }
        };
        let listed = tokio::time::timeout(
            Duration::from_secs(15),
            client.list_models(CancellationToken::new()),
        )
        .await;
        out.push(match listed {
            Ok(Ok(models)) => check(
                &name,
                Level::Ok,
                format!("{} answers; it lists {} models", p.base_url, models.len()),
                None,
            ),
            Ok(Err(e)) if e.kind() == "auth" => check(
                &name,
                Level::Fail,
                format!("{} refused the API key: {e}", p.base_url),
                Some(format!(
                    "store a valid key: `hearth secrets set {id}-api-key`, then set \
                     models.providers.{id}.apiKey to {{\"secret\": \"{id}-api-key\"}} \
                     (or replace the key on the Providers page)"
                )),
            ),
            Ok(Err(e)) if matches!(e.kind(), "network" | "timeout") => check(
                &name,
                Level::Fail,
                format!("cannot reach {}: {e}", p.base_url),
                Some("check baseUrl, the network and any proxy (HTTPS_PROXY)".into()),
            ),
            Ok(Err(e)) => check(
                &name,
                Level::Warn,
                format!(
                    "{} answered the model listing with an error: {e}",
                    p.base_url
                ),
                None,
            ),
            Err(_) => check(
                &name,
                Level::Fail,
                format!("{} did not answer within 15 s", p.base_url),
                Some("check baseUrl, the network and any proxy (HTTPS_PROXY)".into()),
            ),
        });
    }
    out
}

/// Secrets read from the store for [`ModelRegistry::build`].
struct Fetched(HashMap<String, String>);

impl SecretLookup for Fetched {
    fn secret(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}
