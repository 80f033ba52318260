//! Is the gateway healthy? The tray shows "degraded" while a provider key cools down after
//! failures or an MCP server has failed; both are read from the runtime's own state (what the
//! `status` and `mcp.status` methods report), polled every few seconds.

use std::time::Duration;

use hearth_config::Config;
use hearth_core::models::Cooldowns;
use hearth_core::runtime::Runtime;
use hearth_protocol::methods::{McpServerState, McpStatusResult};

/// How often the tray re-checks the gateway's health.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_secs(3);

/// What is wrong right now, one line each, for the tray's tooltip and status line; empty when
/// all is well.
pub(crate) fn problems(rt: &Runtime) -> Vec<String> {
    let live = rt.live();
    let mut out = cooling_providers(&live.config, &rt.cooldowns);
    out.extend(failed_mcp_servers(&rt.mcp.status()));
    out
}

/// Providers with at least one key cooling down.
fn cooling_providers(config: &Config, cooldowns: &Cooldowns) -> Vec<String> {
    let mut out = Vec::new();
    for (id, provider) in &config.models.providers {
        // Keys are numbered `apiKey` first, then `apiKeys`; a keyless provider has key 0.
        let keys = (usize::from(provider.api_key.is_some()) + provider.api_keys.len()).max(1);
        let longest = (0..keys).filter_map(|k| cooldowns.remaining(id, k)).max();
        if let Some(left) = longest {
            out.push(format!(
                "provider {id} is cooling down after failures ({} s left)",
                left.as_millis().div_ceil(1000)
            ));
        }
    }
    out
}

fn failed_mcp_servers(status: &McpStatusResult) -> Vec<String> {
    status
        .servers
        .iter()
        .filter(|s| s.state == McpServerState::Failed)
        .map(|s| match &s.last_error {
            Some(e) => format!("MCP server {} failed: {}", s.name, first_line(e, 80)),
            None => format!("MCP server {} failed", s.name),
        })
        .collect()
}

fn first_line(text: &str, max_chars: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() <= max_chars {
        line.to_owned()
    } else {
        let cut: String = line.chars().take(max_chars).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_protocol::methods::McpServerStatus;

    fn config() -> Config {
        hearth_config::parse_str(
            r#"{ models: { providers: {
                 a: { baseUrl: "http://127.0.0.1:1/v1", apiKey: "k0", apiKeys: ["k1"], api: "openai-completions", models: [] },
                 b: { baseUrl: "http://127.0.0.1:2/v1", api: "ollama", models: [] } } } }"#,
            &|_| None,
        )
        .expect("config parses")
        .config
    }

    #[test]
    fn a_cooling_key_makes_its_provider_a_problem() {
        let config = config();
        let cooldowns = Cooldowns::default();
        assert!(cooling_providers(&config, &cooldowns).is_empty());
        cooldowns.failed("a", 1, None);
        cooldowns.failed("b", 0, Some(Duration::from_secs(90)));
        let found = cooling_providers(&config, &cooldowns);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("provider a is cooling down"),
            "{found:?}"
        );
        assert!(found[1].contains("(90 s left)"), "{found:?}");
        cooldowns.succeeded("a", 1);
        cooldowns.succeeded("b", 0);
        assert!(cooling_providers(&config, &cooldowns).is_empty());
    }

    #[test]
    fn only_failed_mcp_servers_are_problems() {
        let server = |name: &str, state, last_error: Option<&str>| McpServerStatus {
            name: name.to_owned(),
            transport: "stdio".to_owned(),
            state,
            tools: Vec::new(),
            last_error: last_error.map(str::to_owned),
            retry_in_ms: None,
            restarts: 0,
        };
        let status = McpStatusResult {
            servers: vec![
                server("ok", McpServerState::Ready, None),
                server("off", McpServerState::Disabled, None),
                server(
                    "bad",
                    McpServerState::Failed,
                    Some("exited with 1\nstack..."),
                ),
            ],
        };
        assert_eq!(
            failed_mcp_servers(&status),
            ["MCP server bad failed: exited with 1"]
        );
    }
}
