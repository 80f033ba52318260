//! One module per subcommand.

use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, Command};

mod agents;
mod approvals;
mod audit;
mod channels;
mod chat;
mod config;
mod cron;
mod doctor;
mod gateway;
mod hooks;
mod identity;
mod mcp;
mod route;
mod secrets;
mod service;
mod sessions;
mod skills;
mod status;
mod usage;

pub(crate) async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = cli.global;
    match cli.command {
        Command::Gateway(cmd) => gateway::run(&g, cmd).await,
        Command::Status => status::status(&g).await,
        Command::Chat(args) => chat::run(&g, args).await,
        Command::Sessions(cmd) => sessions::run(&g, cmd).await,
        Command::Config(cmd) => config::run(&g, cmd).await,
        Command::Secrets(cmd) => secrets::run(&g, cmd).await,
        Command::Skills(cmd) => skills::run(&g, cmd),
        Command::Mcp(cmd) => mcp::run(&g, cmd).await,
        Command::Approvals(cmd) => approvals::run(&g, cmd).await,
        Command::Channels(cmd) => channels::run(&g, cmd).await,
        Command::Pairing(cmd) => channels::pairing(&g, cmd).await,
        Command::Agents(cmd) => agents::run(&g, cmd).await,
        Command::Route(cmd) => Box::pin(route::run(&g, cmd)).await,
        Command::Identity(cmd) => identity::run(&g, cmd).await,
        Command::Usage(args) => usage::run(&g, args).await,
        Command::Audit(cmd) => audit::run(&g, cmd).await,
        Command::Cron(cmd) => Box::pin(cron::run(&g, cmd)).await,
        Command::Hooks(cmd) => hooks::run(&g, cmd).await,
        Command::Doctor(args) => doctor::run(&g, args).await,
        Command::Dashboard => status::dashboard(&g).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "hearth", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}
