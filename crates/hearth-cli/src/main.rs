//! `hearth`: runs the Hearth gateway and drives it.
//!
//! Every subcommand lives in its own module under `cmd/`. Commands that talk to a running
//! gateway go through the WebSocket protocol ([`connect`]), exactly like the Control UI.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod cmd;
mod connect;
mod output;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cmd::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
