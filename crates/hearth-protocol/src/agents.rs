//! Agents, bindings, routing and identity links: the shapes of `agents.*`, `bindings.*`,
//! `route.explain` and `identity.*`, and the `identity.changed` event.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why a message went to its agent: the binding tier that matched, most specific first.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum MatchedBy {
    /// The binding names this chat (or, for a direct message, this sender).
    Peer,
    /// The binding names the group or channel this thread belongs to.
    ParentPeer,
    /// The binding names the Discord server and one of the sender's roles.
    GuildRoles,
    /// The binding names the Discord server.
    Guild,
    /// The binding names the Slack workspace.
    Team,
    /// The binding names the channel account.
    Account,
    /// The binding names only the channel.
    Channel,
    /// No binding matched: the default agent.
    Default,
}

impl MatchedBy {
    /// Every tier in precedence order.
    pub const ALL: [MatchedBy; 8] = [
        MatchedBy::Peer,
        MatchedBy::ParentPeer,
        MatchedBy::GuildRoles,
        MatchedBy::Guild,
        MatchedBy::Team,
        MatchedBy::Account,
        MatchedBy::Channel,
        MatchedBy::Default,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MatchedBy::Peer => "peer",
            MatchedBy::ParentPeer => "parentPeer",
            MatchedBy::GuildRoles => "guildRoles",
            MatchedBy::Guild => "guild",
            MatchedBy::Team => "team",
            MatchedBy::Account => "account",
            MatchedBy::Channel => "channel",
            MatchedBy::Default => "default",
        }
    }
}

/// The kind of a chat, as a route query names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    #[default]
    Direct,
    Group,
    Channel,
    Thread,
}

// ---------------------------------------------------------------------------------------------
// agents

/// How an agent presents itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentPersona {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
}

/// An agent's own tool policy (what it leaves out comes from `tools`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentToolPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<Vec<String>>,
}

/// One agent with its settings resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentSummary {
    pub id: String,
    pub name: String,
    /// The agent that answers when no binding picks another.
    pub default: bool,
    pub workspace: String,
    /// `provider/model` of the primary model; `null` when none is set anywhere.
    pub model: Option<String>,
    pub fallbacks: Vec<String>,
    pub identity: AgentPersona,
    /// Skills this agent may use; `null` means every available skill.
    pub skills: Option<Vec<String>>,
    /// The agent's own tool policy; `null` means the global one.
    pub tools: Option<AgentToolPolicy>,
    /// Queue mode: `followup`, `collect`, `steer` or `interrupt`.
    pub queue: String,
    /// Bindings that route to this agent.
    pub bindings: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentsListResult {
    pub default_id: String,
    pub agents: Vec<AgentSummary>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentsAddParams {
    /// Lowercase letters, digits, `-` and `_`.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `provider/model`; default `agents.defaults.model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Workspace directory; default `$HEARTH_HOME/workspace-<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    /// Make it the default agent.
    #[serde(default)]
    pub default: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentsRemoveParams {
    pub id: String,
    /// Also remove the bindings that route to it (otherwise they refuse the removal).
    #[serde(default)]
    pub force: bool,
}

// ---------------------------------------------------------------------------------------------
// bindings

/// A binding's chat: a person (`direct`), a group or a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerRef {
    pub kind: ChatKind,
    pub id: String,
}

/// What a binding matches; every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteMatch {
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<PeerRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// One binding of the config, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindingInfo {
    pub index: u32,
    /// Its `name`, or the one derived from the match (`telegram-peer-123`).
    pub name: String,
    pub agent_id: String,
    #[serde(rename = "match")]
    pub matches: RouteMatch,
    pub shared_memory: bool,
    /// The tier it competes in.
    pub tier: MatchedBy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindingsListResult {
    pub bindings: Vec<BindingInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BindingsAddParams {
    pub agent_id: String,
    #[serde(rename = "match")]
    pub matches: RouteMatch,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub shared_memory: bool,
}

/// Which binding to remove: by its index or its name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BindingsRemoveParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// route.explain

/// A message to route, as far as routing looks at it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteExplainParams {
    pub channel: String,
    /// Default `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Default `direct`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_kind: Option<ChatKind>,
    /// The chat id (for a direct message, the sender's id when `senderId` is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
    /// For a thread: the group or channel it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_peer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindingRef {
    pub index: u32,
    pub name: String,
}

/// One binding as the route saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteCandidate {
    pub index: u32,
    pub name: String,
    pub agent_id: String,
    /// Every field it sets matches the message.
    pub matched: bool,
    /// The tier it matched in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<MatchedBy>,
    /// Why it won, lost or did not match.
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteExplainResult {
    pub agent_id: String,
    /// The binding that won; absent for the default agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<BindingRef>,
    pub matched_by: MatchedBy,
    pub session_key: String,
    /// The canonical person (an `identityLinks` name or the identity itself).
    pub person: String,
    /// The memory directory relative to the agent's workspace; `null` for the workspace's own.
    pub memory_dir: Option<String>,
    pub candidates: Vec<RouteCandidate>,
}

// ---------------------------------------------------------------------------------------------
// identity

/// A link waiting for its codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingLink {
    pub link_id: String,
    pub name: String,
    pub identities: Vec<String>,
    /// Identities whose code came back.
    pub verified: Vec<String>,
    pub expires_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityListResult {
    /// The Control UI's owner as a person: the link holding `webchat:owner`, else `webchat:owner`.
    pub owner: String,
    pub links: BTreeMap<String, Vec<String>>,
    pub pending: Vec<PendingLink>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityLinkStartParams {
    /// The person's name (lowercase letters, digits, `-` and `_`); an existing link grows.
    pub name: String,
    /// Two or more `<channel>:<id>` identities.
    pub identities: Vec<String>,
}

/// Whether an identity's code went out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeDelivery {
    pub identity: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityLinkStartResult {
    pub link_id: String,
    pub expires_at_ms: i64,
    pub delivered: Vec<CodeDelivery>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityLinkConfirmParams {
    pub link_id: String,
    /// The codes the identities received, in any order.
    pub codes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityUnlinkParams {
    /// `<channel>:<id>`.
    pub identity: String,
}

/// A person's links changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityChanged {
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_serialise_in_camel_case_and_in_order() {
        let names: Vec<String> = MatchedBy::ALL
            .iter()
            .map(|m| {
                serde_json::to_value(m)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let expected: Vec<&str> = MatchedBy::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(names, expected);
        assert!(MatchedBy::Peer < MatchedBy::ParentPeer && MatchedBy::Channel < MatchedBy::Default);
    }

    #[test]
    fn bindings_use_the_config_key_match() {
        let params: BindingsAddParams = serde_json::from_value(serde_json::json!({
            "agentId": "ops",
            "match": {"channel": "telegram", "peer": {"kind": "direct", "id": "123"}}
        }))
        .unwrap();
        assert_eq!(params.matches.peer.unwrap().id, "123");
        assert!(!params.shared_memory);
    }
}
