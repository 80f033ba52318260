//! `exec`: a shell command in the agent's workspace, under the exec policy.
//!
//! `tools.exec.security` and `ask` decide whether a command runs at once, needs a person's
//! approval ([`super::approvals`]), or is refused; `allowlist` globs and the persisted
//! "allow always" commands count as allowed. A command runs as `sh -c <command>` in its own
//! process group, with the working directory inside the workspace, no stdin, and an
//! environment without Hearth's own variables (`HEARTH_*`: the gateway token, home, keys).
//! Its stdout and stderr go to one pipe, capped; on timeout or when the run is aborted the whole
//! process group is killed, and so is anything a finished command left running in the
//! background.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use hearth_config::{ExecAsk, ExecSecurity, ExecToolConfig};
use hearth_protocol::events::{ExecApproval, ExecApprovalDecision};
use hearth_providers::ToolSpec;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use super::approvals::Waited;
use super::fs::resolve;
use super::policy::wildcard_match;
use super::{Tool, ToolContext, ToolError, ToolOutput, parse_args};
use crate::util::{new_id, now_ms};

/// Characters a `*` or `?` of an allowlist pattern never stands for: with them one allowed
/// command could chain another.
const SHELL_OPERATORS: &[char] = &[';', '&', '|', '`', '$', '<', '>', '(', ')', '\n', '\r'];

/// How long output is still collected after the command exits, for what its background
/// children write before they are killed.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);

/// `exec`.
#[derive(Debug, Clone)]
pub struct ExecTool {
    config: ExecToolConfig,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecArgs {
    command: String,
    cwd: Option<String>,
    timeout_sec: Option<u64>,
}

/// What the policy says about one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Run,
    Ask,
    Refuse(String),
}

/// The exec policy's verdict on a command, before any person is asked.
pub fn gate(config: &ExecToolConfig, always_allowed: bool, command: &str) -> Gate {
    let listed = || {
        always_allowed
            || config
                .allowlist
                .iter()
                .any(|p| wildcard_match(p.trim(), command.trim(), SHELL_OPERATORS))
    };
    match (config.security, config.ask) {
        (ExecSecurity::Deny, _) => Gate::Refuse(
            "running commands is switched off (tools.exec.security is \"deny\")".to_owned(),
        ),
        (_, ExecAsk::Always) => Gate::Ask,
        (ExecSecurity::Full, _) => Gate::Run,
        (ExecSecurity::Allowlist, _) if listed() => Gate::Run,
        (ExecSecurity::Allowlist, ExecAsk::OnMiss) => Gate::Ask,
        (ExecSecurity::Allowlist, ExecAsk::Off) => Gate::Refuse(
            "this command is not in tools.exec.allowlist, and approvals are off (tools.exec.ask is \"off\"); it was not run".to_owned(),
        ),
    }
}

impl ExecTool {
    pub fn new(config: ExecToolConfig) -> Self {
        Self { config }
    }
}

#[async_trait]
impl Tool for ExecTool {
    fn spec(&self) -> ToolSpec {
        let approval = match (self.config.security, self.config.ask) {
            (_, ExecAsk::Always) => " Every command waits for a person's approval.",
            (ExecSecurity::Allowlist, ExecAsk::OnMiss) => {
                " Commands that are not allow-listed wait for a person's approval; if it is denied, do not retry the same command."
            }
            (ExecSecurity::Allowlist, ExecAsk::Off) => " Only allow-listed commands run.",
            _ => "",
        };
        ToolSpec {
            name: "exec".to_owned(),
            description: format!(
                "Run a shell command (`sh -c`) in the workspace. Answers its combined stdout and stderr (at most {} bytes) and exit code; it is killed after {} s.{approval}",
                self.config.max_output_bytes, self.config.timeout_sec
            ),
            parameters: json!({
                "type": "object",
                "properties": {
                    "command": { "type": "string", "description": "The command line." },
                    "cwd": { "type": "string", "description": "Working directory relative to the workspace (default: the workspace)." },
                    "timeoutSec": { "type": "integer", "minimum": 1, "description": "A shorter timeout for this command, in seconds." }
                },
                "required": ["command"]
            }),
        }
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let args: ExecArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        match self.execute(ctx, args).await {
            Ok(out) => out,
            Err(e) => e.into(),
        }
    }
}

impl ExecTool {
    async fn execute(&self, ctx: &ToolContext, args: ExecArgs) -> Result<ToolOutput, ToolError> {
        let command = args.command.trim().to_owned();
        if command.is_empty() {
            return Err(ToolError::Arguments("`command` is empty".to_owned()));
        }
        let cwd = resolve(&ctx.workspace, args.cwd.as_deref().unwrap_or("."))?;
        if !cwd.abs.is_dir() {
            return Err(ToolError::Refused(format!(
                "the working directory `{}` does not exist",
                cwd.rel
            )));
        }
        let approvals = &ctx.runtime.approvals;
        match gate(
            &self.config,
            approvals.always_allowed(&ctx.agent_id, &command),
            &command,
        ) {
            Gate::Run => {}
            Gate::Refuse(why) => {
                tracing::info!(run_id = %ctx.run_id, "exec refused by policy");
                return Err(ToolError::Refused(why));
            }
            Gate::Ask => {
                let timeout = Duration::from_secs(self.config.approval_timeout_sec.max(1));
                let created = now_ms();
                let approval = ExecApproval {
                    id: new_id(),
                    run_id: ctx.run_id.clone(),
                    session_key: ctx.session_key.clone(),
                    agent_id: ctx.agent_id.clone(),
                    command: command.clone(),
                    cwd: cwd.rel.clone(),
                    created_at_ms: created,
                    expires_at_ms: created + i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX),
                };
                tracing::info!(run_id = %ctx.run_id, approval = %approval.id, "exec waits for approval");
                match approvals.request(approval).wait(timeout, &ctx.cancel).await {
                    Waited::Decided(
                        ExecApprovalDecision::AllowOnce | ExecApprovalDecision::AllowAlways,
                    ) => {}
                    Waited::Decided(ExecApprovalDecision::Deny) => {
                        return Err(ToolError::Refused(
                            "a person denied this command; it was not run. Do not retry it; ask the user or do without it".to_owned(),
                        ));
                    }
                    Waited::TimedOut => {
                        return Err(ToolError::Refused(format!(
                            "nobody approved this command within {} s; it was not run",
                            timeout.as_secs()
                        )));
                    }
                    Waited::Cancelled => {
                        return Err(ToolError::Refused(
                            "the run ended before the command was approved; it was not run"
                                .to_owned(),
                        ));
                    }
                }
            }
        }
        let timeout = Duration::from_secs(
            args.timeout_sec
                .unwrap_or(self.config.timeout_sec)
                .min(self.config.timeout_sec)
                .max(1),
        );
        let max_output = usize::try_from(self.config.max_output_bytes).unwrap_or(usize::MAX);
        // Enabled skills' environment (`skills.entries.<name>.env`): what their scripts need.
        let live = ctx.runtime.live();
        let env: Vec<(String, String)> = live
            .config
            .skills
            .entries
            .values()
            .filter(|entry| entry.enabled)
            .flat_map(|entry| entry.env.iter().map(|(k, v)| (k.clone(), v.clone())))
            .collect();
        let ran = run_command(&command, &cwd.abs, timeout, max_output, &env, &ctx.cancel).await?;
        Ok(ran.into_output(max_output))
    }
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    Signalled,
    TimedOut(Duration),
    Cancelled,
}

/// A command's output and ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    pub output: Vec<u8>,
    /// Bytes the command wrote, kept or not.
    pub total_bytes: usize,
    pub ending: Ending,
}

impl Ran {
    fn into_output(self, max_output: usize) -> ToolOutput {
        let mut text = String::from_utf8_lossy(&self.output).into_owned();
        if self.total_bytes > self.output.len() {
            text.push_str(&format!(
                "\n[output cut at {max_output} of {} bytes]",
                self.total_bytes
            ));
        }
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        let (note, is_error) = match self.ending {
            Ending::Exited(code) => (format!("[exit code {code}]"), code != 0),
            Ending::Signalled => ("[killed by a signal]".to_owned(), true),
            Ending::TimedOut(d) => (
                format!(
                    "[timed out after {} s; the command and its children were killed]",
                    d.as_secs()
                ),
                true,
            ),
            Ending::Cancelled => (
                "[the run was aborted; the command was killed]".to_owned(),
                true,
            ),
        };
        text.push_str(&note);
        ToolOutput { text, is_error }
    }
}

/// Runs `sh -c command` in `cwd` as its own process group.
pub async fn run_command(
    command: &str,
    cwd: &std::path::Path,
    timeout: Duration,
    max_output: usize,
    env: &[(String, String)],
    cancel: &CancellationToken,
) -> Result<Ran, ToolError> {
    let (tx, mut rx) = tokio::net::unix::pipe::pipe()
        .map_err(|e| ToolError::io("cannot create a pipe for the command", e))?;
    let write_end: OwnedFd = tx
        .into_blocking_fd()
        .map_err(|e| ToolError::io("cannot set up the command's output", e))?;
    let stderr_end = write_end
        .try_clone()
        .map_err(|e| ToolError::io("cannot set up the command's output", e))?;
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::from(stderr_end))
        .process_group(0)
        .kill_on_drop(true);
    for name in hearth_vars(std::env::vars_os().map(|(name, _)| name)) {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = cmd
        .spawn()
        .map_err(|e| ToolError::io("cannot start `sh`", e))?;
    // The parent's copies of the pipe's write end must close, or reading never ends.
    drop(cmd);
    let group = child.id().and_then(|id| i32::try_from(id).ok());

    let mut output = Vec::new();
    let mut total = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    let mut exit: Option<Ending> = None;
    let mut eof = false;
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    // Armed when the command exits.
    let drain = tokio::time::sleep(timeout);
    tokio::pin!(drain);
    let ending = loop {
        if eof && let Some(ending) = exit.take() {
            break ending;
        }
        tokio::select! {
            read = rx.read(&mut buf), if !eof => match read {
                Ok(0) | Err(_) => eof = true,
                Ok(n) => {
                    total += n;
                    let room = max_output.saturating_sub(output.len());
                    output.extend_from_slice(&buf[..n.min(room)]);
                }
            },
            status = child.wait(), if exit.is_none() => {
                exit = Some(match status {
                    Ok(s) => s.code().map_or(Ending::Signalled, Ending::Exited),
                    Err(_) => Ending::Signalled,
                });
                drain.as_mut().reset(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
            },
            () = &mut drain, if exit.is_some() => {
                if let Some(ending) = exit.take() {
                    break ending;
                }
            },
            () = &mut deadline, if exit.is_none() => break Ending::TimedOut(timeout),
            () = cancel.cancelled(), if exit.is_none() => break Ending::Cancelled,
        }
    };
    kill_group(group);
    if matches!(ending, Ending::TimedOut(_) | Ending::Cancelled) {
        let _ = child.wait().await;
    }
    Ok(Ran {
        output,
        total_bytes: total,
        ending,
    })
}

/// The variables of Hearth's own environment a command must not see.
fn hearth_vars(names: impl Iterator<Item = OsString>) -> Vec<OsString> {
    names
        .filter(|name| name.to_string_lossy().starts_with("HEARTH_"))
        .collect()
}

fn kill_group(group: Option<i32>) {
    if let Some(pgid) = group {
        // Already gone is fine: the group may have ended on its own.
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pgid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    fn cfg(json: Value) -> ExecToolConfig {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_policy_gate() {
        let default = ExecToolConfig::default();
        assert_eq!(gate(&default, false, "ls"), Gate::Ask);
        assert_eq!(gate(&default, true, "ls"), Gate::Run);
        let listed = cfg(json!({"allowlist": ["git status*", "ls *"]}));
        assert_eq!(gate(&listed, false, "git status --short"), Gate::Run);
        assert_eq!(gate(&listed, false, "ls -la"), Gate::Run);
        assert_eq!(gate(&listed, false, "ls -la; rm -rf ~"), Gate::Ask);
        assert_eq!(gate(&listed, false, "ls $(rm -rf ~)"), Gate::Ask);
        assert_eq!(gate(&listed, false, "git push"), Gate::Ask);
        let off = cfg(json!({"allowlist": ["ls *"], "ask": "off"}));
        assert_eq!(gate(&off, false, "ls x"), Gate::Run);
        assert!(matches!(gate(&off, false, "rm x"), Gate::Refuse(_)));
        let always = cfg(json!({"security": "full", "ask": "always"}));
        assert_eq!(gate(&always, true, "ls"), Gate::Ask);
        let full = cfg(json!({"security": "full"}));
        assert_eq!(gate(&full, false, "anything | at all"), Gate::Run);
        let deny = cfg(json!({"security": "deny", "ask": "always"}));
        assert!(matches!(gate(&deny, true, "ls"), Gate::Refuse(_)));
    }

    #[tokio::test]
    async fn commands_run_in_the_workspace_with_exit_code_and_without_hearth_env() {
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        std::fs::create_dir_all(ctx.workspace.join("sub")).unwrap();
        let tool = ExecTool::new(cfg(json!({"security": "full"})));
        let out = tool
            .call(
                &ctx,
                json!({"command": "pwd; echo err >&2; exit 3", "cwd": "sub"}),
            )
            .await;
        assert!(out.is_error);
        let real = ctx.workspace.join("sub").canonicalize().unwrap();
        assert_eq!(out.text, format!("{}\nerr\n[exit code 3]", real.display()));
        let names = ["PATH", "HEARTH_GATEWAY_TOKEN", "HEARTH_HOME", "MY_HEARTH_X"];
        assert_eq!(
            hearth_vars(names.iter().map(OsString::from)),
            ["HEARTH_GATEWAY_TOKEN", "HEARTH_HOME"]
        );
        let out = tool.call(&ctx, json!({"command": "ls", "cwd": ".."})).await;
        assert!(out.is_error && out.text.contains(".."), "{out:?}");
    }

    #[tokio::test]
    async fn skill_environment_reaches_the_command() {
        let tmp = tempfile::tempdir().unwrap();
        let env = [("WEATHER_API_KEY".to_owned(), "w-123".to_owned())];
        let ran = run_command(
            "printf %s \"$WEATHER_API_KEY\"",
            tmp.path(),
            Duration::from_secs(20),
            1000,
            &env,
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(String::from_utf8_lossy(&ran.output), "w-123");
    }

    #[tokio::test]
    async fn output_is_capped() {
        let tmp = tempfile::tempdir().unwrap();
        let ran = run_command(
            "head -c 100000 /dev/zero | tr '\\0' x",
            tmp.path(),
            Duration::from_secs(20),
            1000,
            &[],
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(ran.output.len(), 1000);
        assert_eq!(ran.total_bytes, 100_000);
        assert_eq!(ran.ending, Ending::Exited(0));
        let out = ran.into_output(1000);
        assert!(out.text.contains("[output cut at 1000 of 100000 bytes]"));
    }

    /// A zombie counts as gone: whether anyone reaps orphans depends on the machine's init.
    fn alive(pid: i32) -> bool {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next());
            return state != Some("Z");
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
    }

    async fn gone(pid: i32) -> bool {
        for _ in 0..100 {
            if !alive(pid) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    #[tokio::test]
    async fn a_timeout_kills_the_command_and_its_children() {
        let tmp = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let ran = run_command(
            "sleep 30 & echo $! > bg.pid; echo started; wait",
            tmp.path(),
            Duration::from_secs(1),
            1000,
            &[],
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(ran.ending, Ending::TimedOut(Duration::from_secs(1)));
        assert_eq!(String::from_utf8_lossy(&ran.output), "started\n");
        let pid: i32 = std::fs::read_to_string(tmp.path().join("bg.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(gone(pid).await, "the background child {pid} survived");
    }

    #[tokio::test]
    async fn cancelling_the_run_kills_the_command() {
        let tmp = tempfile::tempdir().unwrap();
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            trigger.cancel();
        });
        let ran = run_command(
            "echo $$ > sh.pid; sleep 30",
            tmp.path(),
            Duration::from_secs(30),
            1000,
            &[],
            &cancel,
        )
        .await
        .unwrap();
        assert_eq!(ran.ending, Ending::Cancelled);
        let pid: i32 = std::fs::read_to_string(tmp.path().join("sh.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(gone(pid).await);
    }

    #[tokio::test]
    async fn background_leftovers_do_not_hold_the_result() {
        let tmp = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let ran = run_command(
            "sleep 30 & echo done",
            tmp.path(),
            Duration::from_secs(20),
            1000,
            &[],
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(ran.ending, Ending::Exited(0));
        assert_eq!(String::from_utf8_lossy(&ran.output), "done\n");
    }

    #[tokio::test]
    async fn denied_and_refused_commands_do_not_run() {
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        std::fs::create_dir_all(&ctx.workspace).unwrap();
        let off = ExecTool::new(cfg(json!({"ask": "off"})));
        let out = off.call(&ctx, json!({"command": "touch made"})).await;
        assert!(out.is_error && out.text.contains("allowlist"), "{out:?}");
        assert!(!ctx.workspace.join("made").exists());

        let asking = ExecTool::new(cfg(json!({"approvalTimeoutSec": 5})));
        let rt = ctx.runtime.clone();
        let decide = tokio::spawn(async move {
            loop {
                if let Some(p) = rt.approvals.list().first() {
                    assert_eq!(p.command, "touch made");
                    rt.approvals
                        .resolve(&p.id, ExecApprovalDecision::Deny)
                        .await
                        .unwrap();
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let out = asking.call(&ctx, json!({"command": "touch made"})).await;
        decide.await.unwrap();
        assert!(out.is_error && out.text.contains("denied"), "{out:?}");
        assert!(!ctx.workspace.join("made").exists());
    }
}
