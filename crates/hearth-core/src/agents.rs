//! Agents as the rest of the core sees them: the config's `agents.list[]` merged over
//! `agents.defaults`, with one default agent always present.

use std::path::PathBuf;

use hearth_config::{AgentModel, Config, Identity, ModelSelection, QueueMode};

use crate::StateDir;

/// The id of the agent that exists when the config lists none.
pub const DEFAULT_AGENT_ID: &str = "main";

/// An agent with every setting resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub workspace: PathBuf,
    pub model: ModelSelection,
    pub identity: Identity,
    /// What a message arriving during a run of one of its sessions does
    /// (`agents.list[].queue`, else `agents.defaults.queue`).
    pub queue: QueueMode,
    /// The agents it may start as sub-agents (`sessions_spawn`): ids, or `*` for any. Never
    /// empty: without `subagents.allowAgents` it is the agent itself.
    pub subagents: Vec<String>,
}

impl Agent {
    /// Whether this agent may start `id` as a sub-agent.
    pub fn may_spawn(&self, id: &str) -> bool {
        self.subagents.iter().any(|a| a == "*" || a == id)
    }
}

/// All agents of a config, the default first.
#[derive(Debug, Clone, PartialEq)]
pub struct Agents {
    list: Vec<Agent>,
}

impl Agents {
    pub fn from_config(config: &Config, home: &StateDir) -> Self {
        let defaults = &config.agents.defaults;
        let default_workspace = defaults
            .workspace
            .as_deref()
            .map(expand_tilde)
            .unwrap_or_else(|| home.workspace());
        if config.agents.list.is_empty() {
            return Self {
                list: vec![Agent {
                    id: DEFAULT_AGENT_ID.to_owned(),
                    name: "Hearth".to_owned(),
                    workspace: default_workspace,
                    model: defaults.model.clone(),
                    identity: Identity::default(),
                    queue: defaults.queue.mode,
                    subagents: vec![DEFAULT_AGENT_ID.to_owned()],
                }],
            };
        }
        let default_index = config
            .agents
            .list
            .iter()
            .position(|a| a.default)
            .unwrap_or(0);
        let mut list: Vec<Agent> = config
            .agents
            .list
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let is_default = i == default_index;
                let workspace = match &a.workspace {
                    Some(w) => expand_tilde(w),
                    None if is_default => default_workspace.clone(),
                    None => home.root().join(format!("workspace-{}", a.id)),
                };
                let model = match &a.model {
                    None => defaults.model.clone(),
                    Some(AgentModel::Ref(r)) => ModelSelection {
                        primary: Some(r.clone()),
                        fallbacks: defaults.model.fallbacks.clone(),
                    },
                    Some(AgentModel::Selection(sel)) => ModelSelection {
                        primary: sel
                            .primary
                            .clone()
                            .or_else(|| defaults.model.primary.clone()),
                        fallbacks: sel.fallbacks.clone(),
                    },
                };
                let identity = a.identity.clone().unwrap_or_default();
                let name = a
                    .name
                    .clone()
                    .or_else(|| identity.name.clone())
                    .unwrap_or_else(|| a.id.clone());
                let subagents = match &a.subagents {
                    Some(s) if !s.allow_agents.is_empty() => s.allow_agents.clone(),
                    _ => vec![a.id.clone()],
                };
                Agent {
                    id: a.id.clone(),
                    name,
                    workspace,
                    model,
                    identity,
                    queue: a.queue.unwrap_or(defaults.queue).mode,
                    subagents,
                }
            })
            .collect();
        list.swap(0, default_index);
        Self { list }
    }

    pub fn default_agent(&self) -> &Agent {
        // `from_config` always produces at least one agent.
        &self.list[0]
    }

    pub fn get(&self, id: &str) -> Option<&Agent> {
        self.list.iter().find(|a| a.id == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Agent> {
        self.list.iter()
    }
}

fn expand_tilde(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => std::env::home_dir().unwrap_or_default().join(rest),
        None => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_config::AgentConfig;

    #[test]
    fn no_list_means_one_main_agent_with_defaults() {
        let mut config = Config::default();
        config.agents.defaults.model.primary = Some("p/m".into());
        let home = StateDir::new("/tmp/h");
        let agents = Agents::from_config(&config, &home);
        let main = agents.default_agent();
        assert_eq!(main.id, "main");
        assert_eq!(main.model.primary.as_deref(), Some("p/m"));
        assert_eq!(main.workspace, PathBuf::from("/tmp/h/workspace"));
    }

    #[test]
    fn default_flag_picks_the_default_and_models_inherit() {
        let mut config = Config::default();
        config.agents.defaults.model.primary = Some("p/m".into());
        config.agents.list = vec![
            AgentConfig {
                id: "ops".into(),
                ..AgentConfig::default()
            },
            AgentConfig {
                id: "home".into(),
                default: true,
                model: Some(AgentModel::Ref("q/x".into())),
                ..AgentConfig::default()
            },
        ];
        let agents = Agents::from_config(&config, &StateDir::new("/h"));
        assert_eq!(agents.default_agent().id, "home");
        assert_eq!(agents.default_agent().model.primary.as_deref(), Some("q/x"));
        let ops = agents.get("ops").unwrap();
        assert_eq!(ops.model.primary.as_deref(), Some("p/m"));
        assert_eq!(ops.workspace, PathBuf::from("/h/workspace-ops"));
    }

    #[test]
    fn queue_modes_and_subagents_resolve_per_agent() {
        let config: Config = serde_json::from_value(serde_json::json!({
            "agents": {
                "defaults": { "queue": { "mode": "collect" } },
                "list": [
                    { "id": "main" },
                    { "id": "ops", "queue": { "mode": "interrupt" },
                      "subagents": { "allowAgents": ["main"] } },
                    { "id": "boss", "subagents": { "allowAgents": ["*"] } }
                ]
            }
        }))
        .unwrap();
        let agents = Agents::from_config(&config, &StateDir::new("/h"));
        let (main, ops, boss) = (
            agents.get("main").unwrap(),
            agents.get("ops").unwrap(),
            agents.get("boss").unwrap(),
        );
        assert_eq!(main.queue, QueueMode::Collect);
        assert_eq!(ops.queue, QueueMode::Interrupt);
        assert!(main.may_spawn("main") && !main.may_spawn("ops"));
        assert!(ops.may_spawn("main") && !ops.may_spawn("ops"));
        assert!(boss.may_spawn("ops") && boss.may_spawn("anyone"));
        let bare = Agents::from_config(&Config::default(), &StateDir::new("/h"));
        assert_eq!(bare.default_agent().queue, QueueMode::Followup);
        assert!(bare.default_agent().may_spawn("main"));
    }
}
