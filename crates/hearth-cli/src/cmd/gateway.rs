//! `hearth gateway run|start|stop|restart|status|protocol-schema` (`install|uninstall` live in
//! `service.rs`).
//!
//! `run` is the gateway in the foreground. `start` runs the same binary detached (`run
//! --detached`: a new session, output to `logs/gateway.out`, a pid file) and waits until it
//! answers `/health`; `stop` sends SIGTERM and waits for the graceful shutdown to finish.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use hearth_core::{GatewayOptions, StateDir};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::cli::{GatewayCmd, Global, RunArgs};
use crate::connect;

pub(super) async fn run(g: &Global, cmd: GatewayCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        GatewayCmd::Run(args) => foreground(g, args).await,
        GatewayCmd::Start(args) => start(g, &args).await,
        GatewayCmd::Stop => stop(g).await,
        GatewayCmd::Restart(args) => {
            stop(g).await?;
            start(g, &args).await
        }
        GatewayCmd::Status => status(g).await,
        GatewayCmd::Install(args) => super::service::install(g, &args),
        GatewayCmd::Uninstall(args) => super::service::uninstall(&args),
        GatewayCmd::ProtocolSchema => {
            crate::output::json(&hearth_protocol::schema::protocol_schema())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn foreground(g: &Global, args: RunArgs) -> anyhow::Result<ExitCode> {
    if args.detached {
        // Leave the terminal's session so closing it does not stop the gateway.
        let _ = nix::unistd::setsid();
    }
    let opts = GatewayOptions {
        port: args.port,
        bind: args.bind.clone(),
        ..GatewayOptions::new(connect::home(g))
    };
    hearth_core::foreground::run_foreground(opts, "").await?;
    Ok(ExitCode::SUCCESS)
}

fn read_pid(home: &StateDir) -> Option<i32> {
    std::fs::read_to_string(home.pid_path())
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
}

/// The pid of a running background gateway, cleaning up a stale pid file.
fn running_pid(home: &StateDir) -> Option<i32> {
    let pid = read_pid(home)?;
    if alive(pid) {
        Some(pid)
    } else {
        let _ = std::fs::remove_file(home.pid_path());
        None
    }
}

async fn health(base: &str) -> bool {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build();
    let Ok(client) = client else { return false };
    client
        .get(format!("{base}/health"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

async fn start(g: &Global, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let home = connect::home(g);
    home.ensure()?;
    if let Some(pid) = running_pid(&home) {
        println!(
            "The gateway is already running (pid {pid}). `hearth dashboard` prints the Control UI link."
        );
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe().context("locating the hearth binary")?;
    let out_path = home.logs().join("gateway.out");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&out_path)
        .with_context(|| format!("opening {}", out_path.display()))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("gateway")
        .arg("run")
        .arg("--detached")
        .env("HEARTH_HOME", home.root());
    if let Some(port) = args.port {
        cmd.arg("--port").arg(port.to_string());
    }
    if let Some(bind) = &args.bind {
        cmd.arg("--bind").arg(bind);
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out);
    let mut child = cmd.spawn().context("starting the gateway process")?;

    let config = connect::load_config(&home)?;
    let port = args.port.unwrap_or(config.gateway.port);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "the gateway exited at start ({status}); its output is in {}:\n{}",
                out_path.display(),
                tail(&out_path, 15)
            );
        }
        if health(&base).await {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "the gateway did not answer within 20 s; see {}",
                out_path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = connect::token(g, &home, &config).await.ok().flatten();
    let url = hearth_core::control_ui_url(
        std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        token.as_deref(),
    );
    println!("Hearth gateway started (pid {}).", child.id());
    println!("Control UI: {url}");
    Ok(ExitCode::SUCCESS)
}

fn tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

async fn stop(g: &Global) -> anyhow::Result<ExitCode> {
    let home = connect::home(g);
    let Some(pid) = running_pid(&home) else {
        println!("The gateway is not running in the background.");
        return Ok(ExitCode::SUCCESS);
    };
    kill(Pid::from_raw(pid), Signal::SIGTERM)
        .map_err(|e| anyhow!("cannot signal pid {pid}: {e}"))?;
    let grace = connect::load_config(&home)
        .map(|c| c.gateway.shutdown_timeout_seconds)
        .unwrap_or(10);
    let deadline = Instant::now() + Duration::from_secs(grace + 10);
    while alive(pid) {
        if Instant::now() > deadline {
            bail!(
                "the gateway (pid {pid}) did not stop within {} s; `kill -9 {pid}` ends it without a graceful shutdown",
                grace + 10
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_file(home.pid_path());
    println!("Hearth gateway stopped.");
    Ok(ExitCode::SUCCESS)
}

async fn status(g: &Global) -> anyhow::Result<ExitCode> {
    let home = connect::home(g);
    let config = connect::load_config(&home)?;
    let base = connect::http_base(g, &config);
    let pid = running_pid(&home);
    let up = health(&base).await;
    if g.json {
        crate::output::json(&serde_json::json!({ "running": up, "pid": pid, "url": base }))?;
    } else if up {
        match pid {
            Some(pid) => println!("running: {base} (pid {pid})"),
            None => println!("running: {base} (in the foreground or as a service)"),
        }
    } else {
        println!("not running ({base} does not answer). Start it with `hearth gateway start`.");
    }
    Ok(if up {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
