//! `hearth config validate|schema|get|set|unset`.
//!
//! `set` and `unset` edit the file's document, check the whole result as the gateway would, and
//! write only a valid file, atomically, keeping the previous one as `hearth.json.bak`. A running
//! gateway picks the change up by itself (hot reload).

use std::process::ExitCode;

use anyhow::Context;
use hearth_config::{ConfigError, Severity};

use crate::cli::{ConfigCmd, Global};
use crate::{connect, output};

pub(super) async fn run(g: &Global, cmd: ConfigCmd) -> anyhow::Result<ExitCode> {
    let home = connect::home(g);
    match cmd {
        ConfigCmd::Validate { file } => validate(g, &file.unwrap_or_else(|| home.config_path())),
        ConfigCmd::Schema => {
            output::json(&hearth_config::schema())?;
            Ok(ExitCode::SUCCESS)
        }
        ConfigCmd::Get { path } => {
            let config = connect::load_config(&home)?;
            let effective = hearth_config::redacted(&config);
            let value = match &path {
                None => Some(&effective),
                Some(p) => hearth_config::get_path(&effective, p),
            };
            match value {
                Some(v) => {
                    match v {
                        serde_json::Value::String(s) if !g.json => println!("{s}"),
                        other => output::json(other)?,
                    }
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!(
                        "no setting `{}` (see `hearth config schema`)",
                        path.unwrap_or_default()
                    );
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        ConfigCmd::Set { path, value } => {
            let value = hearth_config::parse_value_arg(&value);
            edit(&home.config_path(), |doc| {
                hearth_config::set_path(doc, &path, value).map(|()| true)
            })
        }
        ConfigCmd::Unset { path } => edit(&home.config_path(), |doc| {
            hearth_config::unset_path(doc, &path)
        }),
    }
}

fn validate(g: &Global, path: &std::path::Path) -> anyhow::Result<ExitCode> {
    if !path.exists() {
        println!(
            "{} does not exist; the defaults apply (the gateway writes it at first start).",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    match hearth_config::load_file(path, &hearth_config::process_env) {
        Ok(loaded) => {
            if g.json {
                output::json(&serde_json::json!({ "valid": true, "warnings": loaded.warnings }))?;
            } else {
                // An issue's Display already says "warning: ".
                for w in &loaded.warnings {
                    println!("{w}");
                }
                println!("{} is valid.", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(ConfigError::Invalid { issues }) => {
            if g.json {
                output::json(&serde_json::json!({ "valid": false, "issues": issues }))?;
            } else {
                let errors = issues
                    .iter()
                    .filter(|i| i.severity == Severity::Error)
                    .count();
                println!("{}: {errors} problem(s)", path.display());
                // A warning's Display already starts with "warning: ".
                for issue in &issues {
                    let tag = if issue.severity == Severity::Error {
                        "error: "
                    } else {
                        ""
                    };
                    println!("  {tag}{issue}");
                }
            }
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            if g.json {
                output::json(&serde_json::json!({ "valid": false, "error": e.to_string() }))?;
            } else {
                println!("{}: {e}", path.display());
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Applies `change` to the file's document and writes it if the result is valid.
fn edit(
    path: &std::path::Path,
    change: impl FnOnce(&mut serde_json::Value) -> Result<bool, ConfigError>,
) -> anyhow::Result<ExitCode> {
    let (text, existed) = match std::fs::read_to_string(path) {
        Ok(t) => (t, true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), false),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut doc = if existed {
        hearth_config::parse_document(&text)?
    } else {
        hearth_config::default_document()
    };
    let base_hash = existed.then(|| hearth_config::content_hash(text.as_bytes()));
    if !change(&mut doc)? {
        println!("nothing to change");
        return Ok(ExitCode::SUCCESS);
    }
    let candidate = serde_json::to_string_pretty(&doc)?;
    if let Err(e) = hearth_config::parse_str(&candidate, &hearth_config::process_env) {
        eprintln!("not saved: the change would make the config invalid:\n{e}");
        return Ok(ExitCode::FAILURE);
    }
    hearth_config::write_atomic(path, &doc, base_hash.as_deref())?;
    println!(
        "saved {}{}",
        path.display(),
        if existed {
            " (previous version in hearth.json.bak)"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}
