//! Which built-in tools an agent is offered.
//!
//! The policy is declarative (`tools` in the config, OpenClaw's names): a profile gives a base
//! set of groups, `allow` adds tools, `deny` removes them and always wins. Entries are tool
//! names, `group:<name>`, or globs over tool names. `tools.exec.security: "deny"` and
//! `tools.web.fetch.enabled: false` remove their tool whatever the lists say. An agent's own
//! `tools` replaces the profile and `allow`, and adds to `deny`.

use hearth_config::{AgentToolsConfig, ExecSecurity, ToolProfile, ToolsConfig};

/// The group of every MCP server's tools; never part of a profile.
pub const MCP_GROUP: &str = "group:mcp";

/// The closed set of built-in tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinTool {
    Read,
    Write,
    Edit,
    ApplyPatch,
    Ls,
    Glob,
    Grep,
    Exec,
    WebFetch,
    MemoryGet,
    MemorySearch,
    SessionsList,
    SessionsHistory,
    SessionsSpawn,
    Message,
    Skill,
    Cron,
}

/// Tools that go together in policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolGroup {
    Fs,
    Runtime,
    Web,
    Memory,
    Sessions,
    Messaging,
    /// `skill`: offered with every profile, but only to an agent that has skills.
    Skills,
    /// `cron`: scheduling runs of itself; only the `full` profile offers it.
    Automation,
}

impl ToolGroup {
    pub const ALL: &'static [ToolGroup] = &[
        ToolGroup::Fs,
        ToolGroup::Runtime,
        ToolGroup::Web,
        ToolGroup::Memory,
        ToolGroup::Sessions,
        ToolGroup::Messaging,
        ToolGroup::Skills,
        ToolGroup::Automation,
    ];

    /// `group:fs`, ...
    pub fn name(self) -> &'static str {
        match self {
            ToolGroup::Fs => "group:fs",
            ToolGroup::Runtime => "group:runtime",
            ToolGroup::Web => "group:web",
            ToolGroup::Memory => "group:memory",
            ToolGroup::Sessions => "group:sessions",
            ToolGroup::Messaging => "group:messaging",
            ToolGroup::Skills => "group:skills",
            ToolGroup::Automation => "group:automation",
        }
    }
}

impl BuiltinTool {
    /// Every built-in tool, in the order they are offered.
    pub const ALL: &'static [BuiltinTool] = &[
        BuiltinTool::Read,
        BuiltinTool::Write,
        BuiltinTool::Edit,
        BuiltinTool::ApplyPatch,
        BuiltinTool::Ls,
        BuiltinTool::Glob,
        BuiltinTool::Grep,
        BuiltinTool::Exec,
        BuiltinTool::WebFetch,
        BuiltinTool::MemoryGet,
        BuiltinTool::MemorySearch,
        BuiltinTool::SessionsList,
        BuiltinTool::SessionsHistory,
        BuiltinTool::SessionsSpawn,
        BuiltinTool::Message,
        BuiltinTool::Skill,
        BuiltinTool::Cron,
    ];

    /// The name the model calls it by.
    pub fn name(self) -> &'static str {
        match self {
            BuiltinTool::Read => "read",
            BuiltinTool::Write => "write",
            BuiltinTool::Edit => "edit",
            BuiltinTool::ApplyPatch => "apply_patch",
            BuiltinTool::Ls => "ls",
            BuiltinTool::Glob => "glob",
            BuiltinTool::Grep => "grep",
            BuiltinTool::Exec => "exec",
            BuiltinTool::WebFetch => "web_fetch",
            BuiltinTool::MemoryGet => "memory_get",
            BuiltinTool::MemorySearch => "memory_search",
            BuiltinTool::SessionsList => "sessions_list",
            BuiltinTool::SessionsHistory => "sessions_history",
            BuiltinTool::SessionsSpawn => "sessions_spawn",
            BuiltinTool::Message => "message",
            BuiltinTool::Skill => "skill",
            BuiltinTool::Cron => "cron",
        }
    }

    pub fn from_name(name: &str) -> Option<BuiltinTool> {
        BuiltinTool::ALL.iter().copied().find(|t| t.name() == name)
    }

    pub fn group(self) -> ToolGroup {
        match self {
            BuiltinTool::Read
            | BuiltinTool::Write
            | BuiltinTool::Edit
            | BuiltinTool::ApplyPatch
            | BuiltinTool::Ls
            | BuiltinTool::Glob
            | BuiltinTool::Grep => ToolGroup::Fs,
            BuiltinTool::Exec => ToolGroup::Runtime,
            BuiltinTool::WebFetch => ToolGroup::Web,
            BuiltinTool::MemoryGet | BuiltinTool::MemorySearch => ToolGroup::Memory,
            BuiltinTool::SessionsList
            | BuiltinTool::SessionsHistory
            | BuiltinTool::SessionsSpawn => ToolGroup::Sessions,
            BuiltinTool::Message => ToolGroup::Messaging,
            BuiltinTool::Skill => ToolGroup::Skills,
            BuiltinTool::Cron => ToolGroup::Automation,
        }
    }
}

/// The groups a profile offers.
pub fn profile_groups(profile: ToolProfile) -> &'static [ToolGroup] {
    match profile {
        ToolProfile::Minimal => &[ToolGroup::Memory, ToolGroup::Sessions, ToolGroup::Skills],
        ToolProfile::Coding => &[
            ToolGroup::Memory,
            ToolGroup::Sessions,
            ToolGroup::Skills,
            ToolGroup::Fs,
            ToolGroup::Runtime,
        ],
        ToolProfile::Messaging => &[
            ToolGroup::Memory,
            ToolGroup::Sessions,
            ToolGroup::Skills,
            ToolGroup::Messaging,
        ],
        ToolProfile::Full => ToolGroup::ALL,
    }
}

/// Whether a profile offers a tool: the tools of its groups, except `sessions_spawn`, which only
/// the profiles that act (`coding`, `full`) offer. Starting a sub-agent spends model calls and acts
/// through the child's tools, which the read-only `minimal` and the `messaging` profiles do not
/// do unasked; `allow` (`sessions_spawn` or `group:sessions`) adds it to them.
fn profile_offers(profile: ToolProfile, tool: BuiltinTool) -> bool {
    let acting = matches!(profile, ToolProfile::Coding | ToolProfile::Full);
    profile_groups(profile).contains(&tool.group())
        && (tool != BuiltinTool::SessionsSpawn || acting)
}

/// One agent's effective tool policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolPolicy {
    profile: ToolProfile,
    allow: Vec<String>,
    deny: Vec<String>,
    exec_enabled: bool,
    web_fetch_enabled: bool,
}

impl ToolPolicy {
    /// The global policy with an agent's override applied.
    pub fn new(tools: &ToolsConfig, agent: Option<&AgentToolsConfig>) -> Self {
        let mut deny = tools.deny.clone();
        if let Some(more) = agent.and_then(|a| a.deny.as_ref()) {
            deny.extend(more.iter().cloned());
        }
        Self {
            profile: agent.and_then(|a| a.profile).unwrap_or(tools.profile),
            allow: agent
                .and_then(|a| a.allow.clone())
                .unwrap_or_else(|| tools.allow.clone()),
            deny,
            exec_enabled: tools.exec.security != ExecSecurity::Deny,
            web_fetch_enabled: tools.web.fetch.enabled,
        }
    }

    /// Whether the tool is offered.
    pub fn allows(&self, tool: BuiltinTool) -> bool {
        let gated = match tool {
            BuiltinTool::Exec => self.exec_enabled,
            BuiltinTool::WebFetch => self.web_fetch_enabled,
            _ => true,
        };
        let base = profile_offers(self.profile, tool);
        let allowed = base || self.allow.iter().any(|e| entry_matches(e, tool));
        gated && allowed && !self.deny.iter().any(|e| entry_matches(e, tool))
    }

    /// Whether an MCP tool (`<server>__<tool>`) is offered: only when `allow` names it, its
    /// glob or [`MCP_GROUP`] (no profile includes MCP tools), and `deny` does not.
    pub fn allows_mcp(&self, name: &str) -> bool {
        let matches = |entry: &String| {
            let entry = entry.trim();
            if entry.starts_with("group:") {
                wildcard_match(entry, MCP_GROUP, &[])
            } else {
                wildcard_match(entry, name, &[])
            }
        };
        self.allow.iter().any(matches) && !self.deny.iter().any(matches)
    }

    /// The tools offered, in [`BuiltinTool::ALL`] order.
    pub fn offered(&self) -> Vec<BuiltinTool> {
        BuiltinTool::ALL
            .iter()
            .copied()
            .filter(|t| self.allows(*t))
            .collect()
    }
}

/// Whether one allow or deny entry names a tool: `group:...` entries (globs allowed) match the
/// tool's group, others (globs allowed) its name.
fn entry_matches(entry: &str, tool: BuiltinTool) -> bool {
    let entry = entry.trim();
    if entry.starts_with("group:") {
        wildcard_match(entry, tool.group().name(), &[])
    } else {
        wildcard_match(entry, tool.name(), &[])
    }
}

/// Glob matching with `*` (any run of characters) and `?` (one character); neither matches a
/// character in `protected`, so a pattern can only span those where it spells them out.
pub fn wildcard_match(pattern: &str, text: &str, protected: &[char]) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen and the text position it currently stands for, to backtrack to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some('?') if !protected.contains(&t[ti]) => {
                pi += 1;
                ti += 1;
                continue;
            }
            Some(c) if *c != '?' && *c == t[ti] => {
                pi += 1;
                ti += 1;
                continue;
            }
            _ => {}
        }
        match star {
            // Let the last `*` swallow one more character, unless it is protected.
            Some((sp, st)) if !protected.contains(&t[st]) => {
                star = Some((sp, st + 1));
                pi = sp + 1;
                ti = st + 1;
            }
            _ => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(policy: &ToolPolicy) -> Vec<&'static str> {
        policy
            .offered()
            .into_iter()
            .map(BuiltinTool::name)
            .collect()
    }

    fn tools(json: serde_json::Value) -> ToolsConfig {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn default_profile_is_minimal_read_only() {
        let policy = ToolPolicy::new(&ToolsConfig::default(), None);
        assert_eq!(
            names(&policy),
            [
                "memory_get",
                "memory_search",
                "sessions_list",
                "sessions_history",
                "skill"
            ]
        );
        for t in [
            BuiltinTool::Read,
            BuiltinTool::Write,
            BuiltinTool::Exec,
            BuiltinTool::WebFetch,
            BuiltinTool::Message,
        ] {
            assert!(!policy.allows(t), "{t:?}");
        }
    }

    #[test]
    fn profiles_are_unions_of_groups() {
        let coding = ToolPolicy::new(&tools(serde_json::json!({"profile": "coding"})), None);
        assert!(coding.allows(BuiltinTool::Exec) && coding.allows(BuiltinTool::ApplyPatch));
        assert!(!coding.allows(BuiltinTool::WebFetch) && !coding.allows(BuiltinTool::Message));
        let messaging = ToolPolicy::new(&tools(serde_json::json!({"profile": "messaging"})), None);
        assert!(messaging.allows(BuiltinTool::Message) && !messaging.allows(BuiltinTool::Read));
        let full = ToolPolicy::new(&tools(serde_json::json!({"profile": "full"})), None);
        assert_eq!(full.offered().len(), BuiltinTool::ALL.len());
    }

    #[test]
    fn groups_globs_and_deny_wins() {
        let policy = ToolPolicy::new(
            &tools(serde_json::json!({
                "allow": ["group:web", "read", "gr*"],
                "deny": ["mem*", "web_fetch"]
            })),
            None,
        );
        assert_eq!(
            names(&policy),
            ["read", "grep", "sessions_list", "sessions_history", "skill"]
        );
        let deny_group = ToolPolicy::new(
            &tools(serde_json::json!({"profile": "full", "deny": ["group:fs", "group:run*"]})),
            None,
        );
        assert!(!deny_group.allows(BuiltinTool::Write) && !deny_group.allows(BuiltinTool::Exec));
        assert!(deny_group.allows(BuiltinTool::WebFetch));
    }

    #[test]
    fn agent_override_replaces_profile_and_allow_and_adds_deny() {
        let global = tools(serde_json::json!({
            "profile": "full", "allow": ["exec"], "deny": ["message"]
        }));
        let agent: AgentToolsConfig = serde_json::from_value(serde_json::json!({
            "profile": "minimal", "allow": ["read", "message"], "deny": ["sessions_*"]
        }))
        .unwrap();
        let policy = ToolPolicy::new(&global, Some(&agent));
        assert_eq!(
            names(&policy),
            ["read", "memory_get", "memory_search", "skill"]
        );
        let only_profile = AgentToolsConfig {
            profile: Some(ToolProfile::Coding),
            ..AgentToolsConfig::default()
        };
        let policy = ToolPolicy::new(&global, Some(&only_profile));
        assert!(policy.allows(BuiltinTool::Exec) && !policy.allows(BuiltinTool::WebFetch));
    }

    #[test]
    fn sub_agents_are_offered_by_acting_profiles_or_when_allowed() {
        let with = |json| ToolPolicy::new(&tools(json), None).allows(BuiltinTool::SessionsSpawn);
        assert!(!with(serde_json::json!({})), "not in the read-only default");
        assert!(!with(serde_json::json!({"profile": "messaging"})));
        assert!(with(serde_json::json!({"profile": "coding"})));
        assert!(with(serde_json::json!({"profile": "full"})));
        assert!(with(serde_json::json!({"allow": ["sessions_spawn"]})));
        assert!(with(serde_json::json!({"allow": ["group:sessions"]})));
        assert!(!with(
            serde_json::json!({"profile": "full", "deny": ["sessions_spawn"]})
        ));
        assert!(!with(
            serde_json::json!({"profile": "full", "deny": ["group:sessions"]})
        ));
    }

    #[test]
    fn scheduling_is_offered_only_by_full_or_when_allowed() {
        let with = |json| ToolPolicy::new(&tools(json), None).allows(BuiltinTool::Cron);
        assert!(!with(serde_json::json!({})), "not in the default");
        assert!(!with(serde_json::json!({"profile": "coding"})));
        assert!(!with(serde_json::json!({"profile": "messaging"})));
        assert!(with(serde_json::json!({"profile": "full"})));
        assert!(with(serde_json::json!({"allow": ["group:automation"]})));
        assert!(with(serde_json::json!({"allow": ["cron"]})));
        assert!(!with(
            serde_json::json!({"profile": "full", "deny": ["group:automation"]})
        ));
    }

    #[test]
    fn exec_security_deny_and_disabled_fetch_remove_the_tools() {
        let policy = ToolPolicy::new(
            &tools(serde_json::json!({
                "profile": "full",
                "exec": { "security": "deny" },
                "web": { "fetch": { "enabled": false } }
            })),
            None,
        );
        assert!(!policy.allows(BuiltinTool::Exec) && !policy.allows(BuiltinTool::WebFetch));
        assert!(policy.allows(BuiltinTool::Read));
    }

    #[test]
    fn mcp_tools_need_an_explicit_allow_and_deny_wins() {
        let full = ToolPolicy::new(&tools(serde_json::json!({"profile": "full"})), None);
        assert!(!full.allows_mcp("fake__add"));
        let group = ToolPolicy::new(
            &tools(serde_json::json!({"allow": ["group:mcp"], "deny": ["fake__crash"]})),
            None,
        );
        assert!(group.allows_mcp("fake__add") && group.allows_mcp("github__search"));
        assert!(!group.allows_mcp("fake__crash"));
        let glob = ToolPolicy::new(&tools(serde_json::json!({"allow": ["github__*"]})), None);
        assert!(glob.allows_mcp("github__search") && !glob.allows_mcp("fake__add"));
        let denied = ToolPolicy::new(
            &tools(serde_json::json!({"allow": ["fake__add"], "deny": ["group:mcp"]})),
            None,
        );
        assert!(!denied.allows_mcp("fake__add"));
        assert!(!group.allows(BuiltinTool::Read));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("mem*", "memory_get", &[]));
        assert!(wildcard_match("*_get", "memory_get", &[]));
        assert!(wildcard_match("s?ssions_*", "sessions_list", &[]));
        assert!(!wildcard_match("mem", "memory_get", &[]));
        assert!(wildcard_match("*", "", &[]));
        assert!(wildcard_match("a*b*c", "axxbyyc", &[]));
        assert!(!wildcard_match("a*b*c", "axxbyy", &[]));
        let shell = [';', '|'];
        assert!(wildcard_match("git *", "git status --short", &shell));
        assert!(!wildcard_match("git *", "git log; rm -rf ~", &shell));
        assert!(!wildcard_match("git ?", "git ;", &shell));
        assert!(wildcard_match("ls; *", "ls; pwd", &shell));
    }
}
