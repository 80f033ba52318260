//! `hearth gateway install|uninstall`: the gateway as a service of the user's session manager,
//! for headless machines (a VPS, a Mac mini without the desktop app).
//!
//! Linux gets a systemd user unit, macOS a launchd agent. Both run `hearth gateway run` with the
//! same `HEARTH_HOME`, restart it when it fails, and are removed again by `uninstall`. Writing the
//! file and telling the manager about it are separate steps so `--no-start` can stop after the
//! first, and so a machine without a user manager still gets the file and the commands to run.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

use crate::cli::{Global, ServiceArgs, ServiceManager};
use crate::connect;

/// systemd unit name and launchd label.
const SYSTEMD_UNIT: &str = "hearth-gateway.service";
const LAUNCHD_LABEL: &str = "dev.hearth.gateway";

/// What a service runs: the binary, its arguments and `HEARTH_HOME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceSpec {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) home: PathBuf,
}

impl ServiceSpec {
    fn new(program: PathBuf, home: PathBuf, port: Option<u16>) -> Self {
        let mut args = vec!["gateway".to_owned(), "run".to_owned()];
        if let Some(port) = port {
            args.extend(["--port".to_owned(), port.to_string()]);
        }
        Self {
            program,
            args,
            home,
        }
    }
}

pub(super) fn install(g: &Global, args: &ServiceArgs) -> anyhow::Result<ExitCode> {
    let home = connect::home(g);
    home.ensure()?;
    let program = std::env::current_exe()
        .context("cannot tell where the hearth binary is")?
        .canonicalize()
        .context("cannot resolve the hearth binary's path")?;
    let home_dir = std::path::absolute(home.root())
        .with_context(|| format!("cannot resolve {}", home.root().display()))?;
    let spec = ServiceSpec::new(program, home_dir, args.port);
    let manager = args.manager.unwrap_or_else(default_manager);
    let path = service_file(manager)?;
    let text = match manager {
        ServiceManager::Systemd => systemd_unit(&spec),
        ServiceManager::Launchd => launchd_plist(&spec),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("Wrote {}", path.display());

    let steps = start_steps(manager, &path);
    if args.no_start {
        println!("Not started (--no-start). To start it:");
        print_steps(&steps);
        return Ok(ExitCode::SUCCESS);
    }
    if let Err(err) = run_steps(&steps) {
        eprintln!("The service file is in place but the service manager refused: {err:#}");
        eprintln!("Run these yourself once the manager is available:");
        print_steps(&steps);
        return Ok(ExitCode::FAILURE);
    }
    println!("The gateway now starts with your session and restarts if it fails.");
    if manager == ServiceManager::Systemd {
        println!(
            "To keep it running while you are logged out: loginctl enable-linger {}",
            std::env::var("USER").unwrap_or_else(|_| "$USER".to_owned())
        );
    }
    println!("Remove it with: hearth gateway uninstall");
    Ok(ExitCode::SUCCESS)
}

pub(super) fn uninstall(args: &ServiceArgs) -> anyhow::Result<ExitCode> {
    let manager = args.manager.unwrap_or_else(default_manager);
    let path = service_file(manager)?;
    if !path.exists() {
        println!(
            "No Hearth service is installed ({} does not exist).",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if !args.no_start {
        // Stopping may fail when the manager never loaded it; the file goes either way.
        if let Err(err) = run_steps(&stop_steps(manager, &path)) {
            eprintln!("note: the service manager said: {err:#}");
        }
    }
    std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    if manager == ServiceManager::Systemd && !args.no_start {
        let _ = run_steps(&[vec!["systemctl", "--user", "daemon-reload"]
            .into_iter()
            .map(str::to_owned)
            .collect()]);
    }
    println!("Removed {}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn default_manager() -> ServiceManager {
    if cfg!(target_os = "macos") {
        ServiceManager::Launchd
    } else {
        ServiceManager::Systemd
    }
}

fn user_home() -> anyhow::Result<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .context("HOME is not set; set it to your home directory")
}

fn service_file(manager: ServiceManager) -> anyhow::Result<PathBuf> {
    Ok(match manager {
        ServiceManager::Systemd => {
            let config = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
                Some(dir) => PathBuf::from(dir),
                None => user_home()?.join(".config"),
            };
            config.join("systemd/user").join(SYSTEMD_UNIT)
        }
        ServiceManager::Launchd => user_home()?
            .join("Library/LaunchAgents")
            .join(format!("{LAUNCHD_LABEL}.plist")),
    })
}

fn start_steps(manager: ServiceManager, path: &Path) -> Vec<Vec<String>> {
    let steps: Vec<Vec<String>> = match manager {
        ServiceManager::Systemd => vec![
            vec!["systemctl".into(), "--user".into(), "daemon-reload".into()],
            vec![
                "systemctl".into(),
                "--user".into(),
                "enable".into(),
                "--now".into(),
                SYSTEMD_UNIT.into(),
            ],
        ],
        ServiceManager::Launchd => vec![vec![
            "launchctl".into(),
            "bootstrap".into(),
            format!("gui/{}", nix::unistd::getuid()),
            path.display().to_string(),
        ]],
    };
    steps
}

fn stop_steps(manager: ServiceManager, path: &Path) -> Vec<Vec<String>> {
    match manager {
        ServiceManager::Systemd => vec![vec![
            "systemctl".into(),
            "--user".into(),
            "disable".into(),
            "--now".into(),
            SYSTEMD_UNIT.into(),
        ]],
        ServiceManager::Launchd => vec![vec![
            "launchctl".into(),
            "bootout".into(),
            format!("gui/{}", nix::unistd::getuid()),
            path.display().to_string(),
        ]],
    }
}

fn run_steps(steps: &[Vec<String>]) -> anyhow::Result<()> {
    for step in steps {
        let (program, rest) = step.split_first().context("empty command")?;
        let output = Command::new(program)
            .args(rest)
            .output()
            .with_context(|| format!("cannot run `{program}`"))?;
        if !output.status.success() {
            bail!(
                "`{}` failed: {}",
                step.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
    }
    Ok(())
}

fn print_steps(steps: &[Vec<String>]) {
    for step in steps {
        println!("  {}", step.join(" "));
    }
}

/// A systemd user unit. Values are quoted the way systemd's parser reads them, so a home
/// directory with spaces survives.
pub(crate) fn systemd_unit(spec: &ServiceSpec) -> String {
    let exec = std::iter::once(spec.program.display().to_string())
        .chain(spec.args.iter().cloned())
        .map(|word| systemd_quote(&word))
        .collect::<Vec<_>>()
        .join(" ");
    let home = systemd_quote(&format!("HEARTH_HOME={}", spec.home.display()));
    format!(
        "# Installed by `hearth gateway install`; remove with `hearth gateway uninstall`.\n\
         [Unit]\n\
         Description=Hearth gateway (your AI assistant's channels, sessions and schedules)\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={exec}\n\
         Environment={home}\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         TimeoutStopSec=45\n\
         NoNewPrivileges=yes\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n"
    )
}

fn systemd_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:+@,".contains(c));
    if plain {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('"');
    for c in word.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            // `%` starts a specifier and `$` a variable in ExecStart.
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A launchd agent: runs at login, restarted when it exits with an error, output next to the
/// gateway's own logs.
pub(crate) fn launchd_plist(spec: &ServiceSpec) -> String {
    let args: String = std::iter::once(spec.program.display().to_string())
        .chain(spec.args.iter().cloned())
        .map(|a| format!("    <string>{}</string>\n", xml_escape(&a)))
        .collect();
    let home = xml_escape(&spec.home.display().to_string());
    let logs = xml_escape(&spec.home.join("logs").display().to_string());
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Installed by `hearth gateway install`; remove with `hearth gateway uninstall`. -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>{LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
{args}  </array>
  <key>EnvironmentVariables</key>
  <dict>
    <key>HEARTH_HOME</key>
    <string>{home}</string>
  </dict>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ThrottleInterval</key>
  <integer>5</integer>
  <key>ProcessType</key>
  <string>Background</string>
  <key>StandardOutPath</key>
  <string>{logs}/launchd.out.log</string>
  <key>StandardErrorPath</key>
  <string>{logs}/launchd.err.log</string>
</dict>
</plist>
"#
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(home: &str) -> ServiceSpec {
        ServiceSpec::new(
            PathBuf::from("/opt/hearth/bin/hearth"),
            PathBuf::from(home),
            Some(18790),
        )
    }

    #[test]
    fn systemd_unit_runs_the_gateway_with_its_home() {
        let unit = systemd_unit(&spec("/home/ada/.hearth"));
        assert!(
            unit.contains("ExecStart=/opt/hearth/bin/hearth gateway run --port 18790\n"),
            "{unit}"
        );
        assert!(
            unit.contains("Environment=HEARTH_HOME=/home/ada/.hearth\n"),
            "{unit}"
        );
        assert!(unit.contains("Restart=on-failure"));
        assert!(unit.contains("WantedBy=default.target"));
    }

    #[test]
    fn systemd_values_with_spaces_and_specifiers_are_quoted() {
        let unit = systemd_unit(&spec("/home/ada/My Hearth %h $X"));
        assert!(
            unit.contains(r#"Environment="HEARTH_HOME=/home/ada/My Hearth %%h $$X""#),
            "{unit}"
        );
    }

    #[test]
    fn launchd_plist_escapes_paths_and_keeps_the_label() {
        let plist = launchd_plist(&spec("/Users/ada/R&D <hearth>"));
        assert!(plist.contains("<string>dev.hearth.gateway</string>"));
        assert!(
            plist.contains("<string>/Users/ada/R&amp;D &lt;hearth&gt;</string>"),
            "{plist}"
        );
        assert!(plist.contains("<string>--port</string>\n    <string>18790</string>"));
        assert!(plist.contains("/Users/ada/R&amp;D &lt;hearth&gt;/logs/launchd.err.log"));
    }
}
