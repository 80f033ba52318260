//! `hearth hooks list|get`: the webhook calls the running gateway received (`hooks.list`,
//! `hooks.get`), so a caller's delivery can be checked without curl and the webhook token.
//! `list` says whether webhooks are on and at which path, shows the mappings (never their
//! secrets) and a table of the latest calls; `get` prints one call with its answer in full.
//! Times are shown in the local time zone.

use std::process::ExitCode;

use hearth_protocol::cron::{
    HookAction, HookInfo, HookRun, HookSignatureStyle, HookStatus, HooksGetParams, HooksListParams,
    HooksListResult,
};
use hearth_protocol::methods::spec;

use super::cron::{first_line, local_time, table};
use crate::cli::{Global, HooksCmd};
use crate::{connect, output};

pub(super) async fn run(g: &Global, cmd: HooksCmd) -> anyhow::Result<ExitCode> {
    let client = connect::client(g).await?;
    match cmd {
        HooksCmd::List { limit, hook } => {
            let listed = client
                .call::<spec::HooksList>(HooksListParams {
                    limit,
                    hook: hook.clone(),
                })
                .await?;
            if g.json {
                output::json(&listed)?;
            } else {
                print!("{}", list_text(&listed, hook.as_deref()));
            }
        }
        HooksCmd::Get { id } => {
            let call = client.call::<spec::HooksGet>(HooksGetParams { id }).await?;
            if g.json {
                output::json(&call)?;
            } else {
                print!("{}", call_text(&call));
            }
        }
    }
    client.close().await;
    Ok(ExitCode::SUCCESS)
}

/// How long the call took from its arrival to its end; `-` while it goes on.
fn took(call: &HookRun) -> String {
    // Most calls that fail do so at once: milliseconds say more than `0s`.
    match call
        .ended_at
        .map(|end| u64::try_from(end - call.received_at).unwrap_or(0))
    {
        None => "-".to_owned(),
        Some(ms @ 0..1000) => format!("{ms}ms"),
        Some(ms) => output::duration(ms),
    }
}

fn header(listed: &HooksListResult) -> String {
    let path = listed.path.trim_end_matches('/');
    if listed.enabled {
        format!("Webhooks are on at {path}: POST {path}/agent, {path}/wake and {path}/<mapping>.\n")
    } else {
        "Webhooks are off (hooks.enabled is false): calls are refused. Turn them on with a \
         token in the secret store; see docs/webhooks.md.\n"
            .to_owned()
    }
}

fn mapping_rows(mappings: &[HookInfo]) -> String {
    let mut rows = vec![
        ["MAPPING", "ACTION", "AGENT", "DELIVER", "SIGNATURE", "RATE"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for m in mappings {
        let wake = m.action == HookAction::Wake;
        rows.push(vec![
            m.name.clone(),
            if wake { "wake" } else { "agent" }.to_owned(),
            match (&m.agent_id, wake) {
                (_, true) => "-".to_owned(),
                (Some(a), false) => a.clone(),
                (None, false) => "default".to_owned(),
            },
            match (&m.deliver, wake) {
                (_, true) => "heartbeat target".to_owned(),
                (Some(d), false) => d.clone(),
                (None, false) => "none".to_owned(),
            },
            match m.signature {
                Some(HookSignatureStyle::Github) => "github",
                Some(HookSignatureStyle::Stripe) => "stripe",
                None => "token",
            }
            .to_owned(),
            format!("{}/min", m.rate_per_minute),
        ]);
    }
    table(&rows)
}

fn calls_rows(calls: &[HookRun]) -> String {
    let mut rows = vec![
        ["RECEIVED", "HOOK", "STATUS", "TOOK", "DELIVERED", "OUTPUT"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for c in calls {
        // A failed call's reason is what matters; an answer that came with it is in `get`.
        let text = match (c.status, &c.error, &c.output) {
            (HookStatus::Failed | HookStatus::Interrupted, Some(e), _) => e.as_str(),
            (_, _, Some(o)) => o.as_str(),
            (_, Some(e), None) => e.as_str(),
            _ => "",
        };
        rows.push(vec![
            local_time(c.received_at),
            c.hook.clone(),
            c.status.as_str().to_owned(),
            took(c),
            c.delivered_to.clone().unwrap_or_else(|| "-".to_owned()),
            first_line(text),
        ]);
    }
    table(&rows)
}

/// What `hearth hooks list` prints.
fn list_text(listed: &HooksListResult, hook: Option<&str>) -> String {
    let mut out = header(listed);
    if listed.mappings.is_empty() {
        out.push_str("No mappings (hooks.mappings is empty).\n");
    } else {
        out.push('\n');
        out.push_str(&mapping_rows(&listed.mappings));
    }
    out.push('\n');
    if listed.calls.is_empty() {
        match hook {
            Some(h) => out.push_str(&format!("No calls to `{h}`.\n")),
            None => out.push_str("No webhook calls yet.\n"),
        }
    } else {
        out.push_str(&calls_rows(&listed.calls));
    }
    out
}

/// What `hearth hooks get` prints: every field of the call, then its answer in full.
fn call_text(c: &HookRun) -> String {
    let mut fields = vec![
        ("call", c.id.clone()),
        ("hook", c.hook.clone()),
        ("status", c.status.as_str().to_owned()),
        ("received", local_time(c.received_at)),
    ];
    if let Some(end) = c.ended_at {
        fields.push(("ended", format!("{} (took {})", local_time(end), took(c))));
    }
    let optional = [
        ("run", &c.run_id),
        ("session", &c.session_key),
        ("delivered", &c.delivered_to),
        ("error", &c.error),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            fields.push((name, v.clone()));
        }
    }
    let width = fields.iter().map(|(n, _)| n.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (name, value) in fields {
        out.push_str(&format!("{:width$} {value}\n", format!("{name}:")));
    }
    if let Some(o) = c.output.as_deref().filter(|o| !o.is_empty()) {
        out.push('\n');
        out.push_str(o);
        if !o.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<HooksCmd, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("hearth").chain(args.iter().copied()))?;
        match cli.command {
            Command::Hooks(cmd) => Ok(cmd),
            other => panic!("parsed as {other:?}"),
        }
    }

    fn call(status: HookStatus) -> HookRun {
        HookRun {
            id: "0193-abc".to_owned(),
            hook: "github".to_owned(),
            status,
            received_at: 1_763_719_200_000,
            ended_at: Some(1_763_719_204_123),
            run_id: Some("run-1".to_owned()),
            session_key: Some("agent:main:hook:github:abc".to_owned()),
            output: Some("acme/api: the build is fixed.\nNothing else.".to_owned()),
            error: None,
            delivered_to: Some("telegram:123456".to_owned()),
        }
    }

    #[test]
    fn list_and_get_parse() {
        let HooksCmd::List { limit, hook } =
            parse(&["hooks", "list", "-n", "5", "--hook", "github"]).unwrap()
        else {
            panic!("not list");
        };
        assert_eq!((limit, hook.as_deref()), (Some(5), Some("github")));
        assert!(matches!(
            parse(&["hooks", "get", "0193-abc", "--json"]).unwrap(),
            HooksCmd::Get { id } if id == "0193-abc"
        ));
        assert!(parse(&["hooks", "get"]).is_err());
    }

    #[test]
    fn the_list_shows_state_mappings_and_calls() {
        let mut failed = call(HookStatus::Failed);
        failed.id = "0193-def".to_owned();
        failed.hook = "agent".to_owned();
        failed.output = None;
        failed.delivered_to = None;
        failed.error = Some("the model refused the key".to_owned());
        let mut running = call(HookStatus::Running);
        running.ended_at = None;
        running.output = None;
        running.delivered_to = None;
        let listed = HooksListResult {
            enabled: true,
            path: "/hooks".to_owned(),
            calls: vec![running, call(HookStatus::Completed), failed],
            mappings: vec![
                HookInfo {
                    name: "github".to_owned(),
                    action: HookAction::Agent,
                    agent_id: None,
                    deliver: Some("telegram:123456".to_owned()),
                    signature: Some(HookSignatureStyle::Github),
                    rate_per_minute: 60,
                },
                HookInfo {
                    name: "nudge".to_owned(),
                    action: HookAction::Wake,
                    agent_id: None,
                    deliver: None,
                    signature: None,
                    rate_per_minute: 5,
                },
            ],
        };
        let text = list_text(&listed, None);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Webhooks are on at /hooks"), "{text}");
        assert!(lines[2].starts_with("MAPPING"), "{text}");
        for part in ["github", "agent", "default", "telegram:123456", "60/min"] {
            assert!(lines[3].contains(part), "{part}: {text}");
        }
        assert!(
            lines[4].contains("wake") && lines[4].contains("token"),
            "{text}"
        );
        assert!(lines[6].starts_with("RECEIVED"), "{text}");
        assert!(
            lines[7].contains("running") && lines[7].contains(" - "),
            "{text}"
        );
        assert!(
            lines[8].contains("completed")
                && lines[8].contains("4s")
                && lines[8].ends_with("acme/api: the build is fixed."),
            "{text}"
        );
        assert!(lines[9].ends_with("the model refused the key"), "{text}");

        let off = HooksListResult {
            enabled: false,
            calls: Vec::new(),
            mappings: Vec::new(),
            ..listed
        };
        let text = list_text(&off, Some("github"));
        assert!(text.contains("Webhooks are off"), "{text}");
        assert!(text.contains("No mappings"), "{text}");
        assert!(text.ends_with("No calls to `github`.\n"), "{text}");
    }

    #[test]
    fn get_prints_the_whole_call() {
        let text = call_text(&call(HookStatus::Completed));
        assert!(text.starts_with("call:      0193-abc\n"), "{text}");
        assert!(text.contains("\nstatus:    completed\n"), "{text}");
        assert!(text.contains("(took 4s)"), "{text}");
        assert!(text.contains("\ndelivered: telegram:123456\n"), "{text}");
        assert!(!text.contains("error:"), "{text}");
        assert!(
            text.ends_with("\n\nacme/api: the build is fixed.\nNothing else.\n"),
            "{text}"
        );
    }
}
