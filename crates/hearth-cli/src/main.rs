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
    // A personal gateway needs few threads; each idle one still costs memory.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
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
