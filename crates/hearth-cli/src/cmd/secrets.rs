//! `hearth secrets list|set|rm|backend`.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::bail;
use hearth_core::runtime::{open_secrets, secrets_preference};

use crate::cli::{Global, SecretsCmd};
use crate::{connect, output};

pub(super) async fn run(g: &Global, cmd: SecretsCmd) -> anyhow::Result<ExitCode> {
    let home = connect::home(g);
    home.ensure()?;
    let config = connect::load_config(&home)?;
    let store = open_secrets(&home, secrets_preference(&config)).await?;
    match cmd {
        SecretsCmd::List => {
            let names = tokio::task::spawn_blocking(move || store.list()).await??;
            if g.json {
                output::json(&names)?;
            } else if names.is_empty() {
                println!("No secrets stored.");
            } else {
                names.iter().for_each(|n| println!("{n}"));
            }
        }
        SecretsCmd::Set { name } => {
            let value = read_secret(&name)?;
            if value.is_empty() {
                bail!("empty value: nothing stored");
            }
            let backend = store.info().kind.to_string();
            tokio::task::spawn_blocking(move || store.set(&name, &value)).await??;
            println!(
                "stored in the {backend}. Refer to it in the config as {{ \"secret\": \"<name>\" }}."
            );
        }
        SecretsCmd::Rm { name } => {
            let removed = tokio::task::spawn_blocking(move || store.delete(&name)).await??;
            println!("{}", if removed { "deleted" } else { "no such secret" });
        }
        SecretsCmd::Backend => {
            let info = store.info();
            if g.json {
                output::json(
                    &serde_json::json!({ "backend": info.kind.to_string(), "location": info.location, "advice": info.advice }),
                )?;
            } else {
                println!("{} ({})\n{}", info.kind, info.location, info.advice);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the value hidden from the terminal, or from stdin when piped.
fn read_secret(name: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        Ok(
            rpassword::prompt_password(format!("Value for {name} (hidden): "))?
                .trim()
                .to_owned(),
        )
    } else {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok(s.trim_end_matches(['\n', '\r']).to_owned())
    }
}
