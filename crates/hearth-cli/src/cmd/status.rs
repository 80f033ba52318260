//! `hearth status` and `hearth dashboard`.

use std::process::ExitCode;

use hearth_protocol::methods::{Empty, spec};

use crate::cli::Global;
use crate::{connect, output};

pub(super) async fn status(g: &Global) -> anyhow::Result<ExitCode> {
    let client = connect::client(g).await?;
    let s = client.call::<spec::Status>(Empty {}).await?;
    if g.json {
        output::json(&s)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Hearth {} — up {} — listening on {}",
        s.version,
        output::duration(s.uptime_ms),
        s.listen
    );
    println!("state:     {}", s.state_dir);
    println!("config:    {}", s.config_path);
    println!("secrets:   {}", s.secrets_backend);
    println!(
        "sessions:  {} ({} running, {} clients connected)",
        s.sessions, s.active_runs, s.connections
    );
    println!("agents:");
    for a in &s.agents {
        let default = if a.id == s.default_agent {
            " (default)"
        } else {
            ""
        };
        let model = if a.model.is_empty() {
            "no model set"
        } else {
            &a.model
        };
        println!("  {}{default}: {} — {model}", a.id, a.name);
    }
    println!("providers:");
    if s.providers.is_empty() {
        println!("  none configured: add one under models.providers (see README)");
    }
    for p in &s.providers {
        let state = if p.available { "ready" } else { "unavailable" };
        println!(
            "  {} ({}, {}) {state} — models: {}",
            p.id,
            p.api,
            p.base_url,
            p.models.join(", ")
        );
    }
    client.close().await;
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn dashboard(g: &Global) -> anyhow::Result<ExitCode> {
    let home = connect::home(g);
    let config = connect::load_config(&home)?;
    let token = connect::token(g, &home, &config).await?;
    let base = connect::http_base(g, &config);
    let url = match token {
        Some(t) => format!("{base}/#token={t}"),
        None => format!("{base}/"),
    };
    if g.json {
        output::json(&serde_json::json!({ "url": url }))?;
    } else {
        println!("{url}");
    }
    Ok(ExitCode::SUCCESS)
}
