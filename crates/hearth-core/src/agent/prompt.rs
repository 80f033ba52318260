//! The system prompt.
//!
//! Kept short on purpose: every token here is paid on every message (OpenClaw's users complain
//! of a 60 KB prompt per message). Workspace files and skills join it with the agent runtime.

use crate::agents::Agent;
use crate::util::civil_date;

/// The system prompt for `agent` at `now_ms`.
pub fn system_prompt(agent: &Agent, now_ms: i64, extra: Option<&str>) -> String {
    let emoji = agent
        .identity
        .emoji
        .as_deref()
        .map(|e| format!(" {e}"))
        .unwrap_or_default();
    let (y, m, d) = civil_date(now_ms.div_euclid(86_400_000));
    let mut prompt = format!(
        "You are {name}{emoji}, a personal assistant. You run inside Hearth, a gateway on the \
         user's own machine that connects you to the messengers they use. Answer in the \
         language the user writes in; be direct and concise.\nToday is {y:04}-{m:02}-{d:02} (UTC).",
        name = agent.name,
    );
    if let Some(extra) = extra.filter(|e| !e.trim().is_empty()) {
        prompt.push_str("\n\n");
        prompt.push_str(extra);
    }
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_names_the_agent_and_date() {
        let agent = crate::agents::Agent {
            id: "main".into(),
            name: "Ember".into(),
            workspace: "/w".into(),
            model: Default::default(),
            identity: hearth_config::Identity {
                name: None,
                emoji: Some("🔥".into()),
            },
        };
        let p = system_prompt(&agent, 1_779_000_000_000, Some("Be brief."));
        assert!(p.starts_with("You are Ember 🔥"));
        assert!(p.contains("Today is 2026-05-17"));
        assert!(p.ends_with("Be brief."));
    }
}
