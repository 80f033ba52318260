//! `hearth skills list|check`: the skills an agent would get, read straight from the config
//! and the agent's workspace (no running gateway needed), with the same rules the gateway
//! applies ([`hearth_core::agent::skills`]).

use std::process::ExitCode;

use anyhow::anyhow;
use hearth_core::agent::skills;
use hearth_core::agents::Agents;
use hearth_protocol::methods::SkillsListResult;

use crate::cli::{Global, SkillsCmd};
use crate::{connect, output};

pub(super) fn run(g: &Global, cmd: SkillsCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        SkillsCmd::List { agent } => {
            let result = load(g, agent.as_deref())?;
            if g.json {
                output::json(&result)?;
            } else {
                print_list(&result);
            }
            Ok(ExitCode::SUCCESS)
        }
        SkillsCmd::Check { agent } => {
            let result = load(g, agent.as_deref())?;
            if g.json {
                output::json(&result)?;
            } else {
                print_check(&result);
            }
            Ok(if result.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn load(g: &Global, agent_id: Option<&str>) -> anyhow::Result<SkillsListResult> {
    let home = connect::home(g);
    let config = connect::load_config(&home)?;
    let agents = Agents::from_config(&config, &home);
    let agent = match agent_id {
        Some(id) => agents.get(id).ok_or_else(|| {
            let known: Vec<&str> = agents.iter().map(|a| a.id.as_str()).collect();
            anyhow!("no agent `{id}` (agents: {})", known.join(", "))
        })?,
        None => agents.default_agent(),
    };
    Ok(skills::load_for_agent(&home, &config, agent).list_result())
}

fn print_list(result: &SkillsListResult) {
    if result.skills.is_empty() && result.errors.is_empty() {
        println!(
            "No skills found. A skill is a folder with a SKILL.md in <workspace>/skills, \
             $HEARTH_HOME/skills or a directory of skills.load.extraDirs."
        );
        return;
    }
    for s in &result.skills {
        let state = match &s.reason {
            None => "available".to_owned(),
            Some(reason) => format!("unavailable: {reason}"),
        };
        println!("{}  ({state})", s.name);
        println!("    {}", s.description);
        println!("    from {}", s.source);
    }
    if !result.errors.is_empty() {
        println!();
        print_errors(result);
    }
}

fn print_check(result: &SkillsListResult) {
    let available = result.skills.iter().filter(|s| s.available).count();
    println!(
        "{} skills found, {available} available, {} with errors",
        result.skills.len(),
        result.errors.len()
    );
    for s in result.skills.iter().filter(|s| !s.available) {
        println!(
            "unavailable: {}: {}",
            s.name,
            s.reason.as_deref().unwrap_or("")
        );
    }
    print_errors(result);
}

fn print_errors(result: &SkillsListResult) {
    for e in &result.errors {
        match e.line {
            Some(line) => println!("error: {}:{line}: {}", e.path, e.message),
            None => println!("error: {}: {}", e.path, e.message),
        }
    }
}
