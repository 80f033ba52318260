//! Which agent answers a message, in which session, with which memory: a pure function of the
//! config.
//!
//! [`route`] looks at the bindings (`bindings[]`) in precedence order (peer, parent peer, guild
//! with roles, guild, team, account, channel; the first binding in the file wins within a tier)
//! and falls back to the default agent. The session key then comes from the canonical person
//! ([`person_of`]: an `identityLinks` name, or the identity itself) and `session.dmScope`, so
//! linked identities share a conversation and two people never do. Nothing here is cached:
//! every message is routed afresh, so a config change (a new link, a new binding) applies to the
//! next message.
//!
//! Its neighbours: `channels::inbound` routes every channel message through it, `identity`
//! changes the links it reads, `gateway::methods_agents` answers `route.explain` with it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hearth_channels::{Inbound, PeerKind};
use hearth_config::{BindingConfig, Config, DmScope, PeerMatchKind, sanitize_name};
use hearth_protocol::methods::MatchedBy;

use crate::agents::Agents;

/// The Control UI's owner as an identity.
pub const OWNER_IDENTITY: &str = "webchat:owner";

/// A message as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteQuery {
    pub channel: String,
    pub account_id: String,
    pub peer_kind: PeerKind,
    /// Where the message was posted (for a direct message, the conversation with the sender).
    pub chat_id: String,
    /// For a thread: the group or channel it belongs to.
    pub parent_id: Option<String>,
    pub thread_id: Option<String>,
    pub sender_id: String,
    pub guild_id: Option<String>,
    pub team_id: Option<String>,
    pub roles: Vec<String>,
}

impl RouteQuery {
    /// The Control UI's owner writing in its chat (`webchat:owner`).
    pub fn owner_webchat() -> Self {
        Self {
            channel: "webchat".to_owned(),
            account_id: hearth_config::DEFAULT_ACCOUNT.to_owned(),
            peer_kind: PeerKind::Direct,
            chat_id: "owner".to_owned(),
            parent_id: None,
            thread_id: None,
            sender_id: "owner".to_owned(),
            guild_id: None,
            team_id: None,
            roles: Vec::new(),
        }
    }
}

impl From<&Inbound> for RouteQuery {
    fn from(inbound: &Inbound) -> Self {
        Self {
            channel: inbound.channel.clone(),
            account_id: inbound.account.clone(),
            peer_kind: inbound.peer_kind,
            chat_id: inbound.chat_id.clone(),
            parent_id: inbound.parent_id.clone(),
            thread_id: inbound.thread_id.clone(),
            sender_id: inbound.sender_id.clone(),
            guild_id: inbound.guild_id.clone(),
            team_id: inbound.team_id.clone(),
            roles: inbound.roles.clone(),
        }
    }
}

impl RouteQuery {
    /// The sender as an identity: `<channel>:<senderId>`.
    pub fn identity(&self) -> String {
        format!("{}:{}", self.channel, self.sender_id)
    }
}

/// One binding as the route saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub index: usize,
    pub name: String,
    pub agent_id: String,
    /// Every field the binding sets matches the message.
    pub matched: bool,
    /// The tier it matched in.
    pub tier: Option<MatchedBy>,
    pub why: String,
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub agent_id: String,
    /// The index of the winning binding in `bindings[]`.
    pub binding: Option<usize>,
    pub binding_name: Option<String>,
    pub matched_by: MatchedBy,
    pub session_key: String,
    /// The canonical person who wrote.
    pub person: String,
    /// Relative to the agent's workspace; `None` for the workspace's own memory (the owner's).
    pub memory_dir: Option<PathBuf>,
    pub candidates: Vec<Candidate>,
}

/// The canonical person of an identity: the name of the link that lists it, else the identity.
pub fn person_of(identity: &str, links: &BTreeMap<String, Vec<String>>) -> String {
    links
        .iter()
        .find(|(_, ids)| ids.iter().any(|i| i == identity))
        .map_or_else(|| identity.to_owned(), |(name, _)| name.clone())
}

/// The owner as a person: the link holding `webchat:owner`, else `webchat:owner` itself.
pub fn owner(links: &BTreeMap<String, Vec<String>>) -> String {
    person_of(OWNER_IDENTITY, links)
}

/// The session key of a direct conversation with `person` under `scope`.
pub fn direct_key(
    config: &Config,
    agent_id: &str,
    channel: &str,
    account_id: &str,
    person: &str,
) -> String {
    let session = &config.session;
    match session.dm_scope {
        DmScope::Main if person == owner(&session.identity_links) => {
            format!("agent:{agent_id}:{}", session.main_key)
        }
        DmScope::Main | DmScope::PerPeer => format!("agent:{agent_id}:direct:{person}"),
        DmScope::PerChannelPeer => format!("agent:{agent_id}:{channel}:direct:{person}"),
        DmScope::PerAccountChannelPeer => {
            format!("agent:{agent_id}:{channel}:{account_id}:direct:{person}")
        }
    }
}

/// The session key of a group, channel or thread: one per chat, a thread under its parent's.
fn chat_key(agent_id: &str, q: &RouteQuery) -> String {
    let kind = match q.peer_kind {
        PeerKind::Thread | PeerKind::Group => "group",
        PeerKind::Channel => "channel",
        PeerKind::Direct => "direct",
    };
    let base = format!(
        "agent:{agent_id}:{}:{kind}:{}",
        q.channel,
        q.parent_id.as_deref().unwrap_or(&q.chat_id)
    );
    match (&q.thread_id, q.peer_kind) {
        (Some(thread), PeerKind::Thread) => format!("{base}:thread:{thread}"),
        _ => base,
    }
}

/// The tier a binding competes in, from the most specific field it sets.
pub fn binding_tier(binding: &BindingConfig) -> MatchedBy {
    let m = &binding.matches;
    if m.peer.is_some() {
        MatchedBy::Peer
    } else if m.guild_id.is_some() && !m.roles.is_empty() {
        MatchedBy::GuildRoles
    } else if m.guild_id.is_some() {
        MatchedBy::Guild
    } else if m.team_id.is_some() {
        MatchedBy::Team
    } else if m.account_id.is_some() {
        MatchedBy::Account
    } else {
        MatchedBy::Channel
    }
}

/// Whether a binding matches: `Ok(tier)`, or `Err(why not)`.
fn matches(binding: &BindingConfig, q: &RouteQuery) -> Result<MatchedBy, String> {
    let m = &binding.matches;
    if m.channel != q.channel {
        return Err(format!("channel is {}, not {}", q.channel, m.channel));
    }
    if let Some(account) = &m.account_id
        && *account != q.account_id
    {
        return Err(format!("account is {}, not {account}", q.account_id));
    }
    if let Some(guild) = &m.guild_id
        && q.guild_id.as_ref() != Some(guild)
    {
        return Err(match &q.guild_id {
            Some(g) => format!("guild is {g}, not {guild}"),
            None => format!("not in guild {guild}"),
        });
    }
    if let Some(team) = &m.team_id
        && q.team_id.as_ref() != Some(team)
    {
        return Err(match &q.team_id {
            Some(t) => format!("team is {t}, not {team}"),
            None => format!("not in team {team}"),
        });
    }
    if !m.roles.is_empty() && !m.roles.iter().any(|r| q.roles.contains(r)) {
        return Err(format!(
            "the sender has none of the roles {}",
            m.roles.join(", ")
        ));
    }
    let Some(peer) = &m.peer else {
        return Ok(binding_tier(binding));
    };
    match (peer.kind, q.peer_kind) {
        (PeerMatchKind::Direct, PeerKind::Direct) => {
            if peer.id == q.sender_id || peer.id == q.chat_id {
                Ok(MatchedBy::Peer)
            } else {
                Err(format!("the sender is {}, not {}", q.sender_id, peer.id))
            }
        }
        (PeerMatchKind::Direct, kind) => {
            Err(format!("a {} chat, not a direct message", kind.as_str()))
        }
        (_, PeerKind::Direct) => Err("a direct message, not a group or channel".to_owned()),
        (kind, PeerKind::Thread) => {
            if q.parent_id.as_deref() == Some(peer.id.as_str()) {
                Ok(MatchedBy::ParentPeer)
            } else if q.chat_id == peer.id {
                Ok(MatchedBy::Peer)
            } else {
                Err(format!(
                    "the thread belongs to {}, not {} {}",
                    q.parent_id.as_deref().unwrap_or(&q.chat_id),
                    kind_name(kind),
                    peer.id
                ))
            }
        }
        (kind, chat) => {
            let same_kind = matches!(
                (kind, chat),
                (PeerMatchKind::Group, PeerKind::Group)
                    | (PeerMatchKind::Channel, PeerKind::Channel)
            );
            if !same_kind {
                Err(format!(
                    "a {} chat, not a {}",
                    chat.as_str(),
                    kind_name(kind)
                ))
            } else if q.chat_id == peer.id {
                Ok(MatchedBy::Peer)
            } else {
                Err(format!("the chat is {}, not {}", q.chat_id, peer.id))
            }
        }
    }
}

fn kind_name(kind: PeerMatchKind) -> &'static str {
    match kind {
        PeerMatchKind::Direct => "direct",
        PeerMatchKind::Group => "group",
        PeerMatchKind::Channel => "channel",
    }
}

/// Words for why a binding of `tier` matched.
fn tier_reason(tier: MatchedBy, binding: &BindingConfig) -> String {
    let m = &binding.matches;
    let peer = m.peer.as_ref().map(|p| p.id.as_str()).unwrap_or_default();
    match tier {
        MatchedBy::Peer => format!("names this chat ({peer})"),
        MatchedBy::ParentPeer => format!("names the thread's parent chat ({peer})"),
        MatchedBy::GuildRoles => format!(
            "names guild {} and one of the sender's roles",
            m.guild_id.as_deref().unwrap_or_default()
        ),
        MatchedBy::Guild => format!("names guild {}", m.guild_id.as_deref().unwrap_or_default()),
        MatchedBy::Team => format!("names team {}", m.team_id.as_deref().unwrap_or_default()),
        MatchedBy::Account => format!(
            "names account {}",
            m.account_id.as_deref().unwrap_or_default()
        ),
        MatchedBy::Channel => format!("names the whole {} channel", m.channel),
        MatchedBy::Default => "no binding matched".to_owned(),
    }
}

/// Routes a message: the agent, the binding that chose it, the session key, the person and the
/// memory directory, and for each binding why it won, lost or did not match.
pub fn route(config: &Config, agents: &Agents, q: &RouteQuery) -> Route {
    let mut candidates = Vec::with_capacity(config.bindings.len());
    let mut best: Option<(MatchedBy, usize)> = None;
    for (index, binding) in config.bindings.iter().enumerate() {
        let name = binding.display_name();
        let (matched, tier, why) = match matches(binding, q) {
            Err(why) => (false, None, why),
            Ok(tier) if agents.get(&binding.agent_id).is_none() => (
                false,
                Some(tier),
                format!(
                    "would match by {} but agent `{}` does not exist; skipped",
                    tier.as_str(),
                    binding.agent_id
                ),
            ),
            Ok(tier) => {
                if best.is_none_or(|(t, _)| tier < t) {
                    best = Some((tier, index));
                }
                (true, Some(tier), tier_reason(tier, binding))
            }
        };
        candidates.push(Candidate {
            index,
            name,
            agent_id: binding.agent_id.clone(),
            matched,
            tier,
            why,
        });
    }
    if let Some((tier, winner)) = best {
        let winner_name = candidates[winner].name.clone();
        for c in &mut candidates {
            if !c.matched {
                continue;
            }
            if c.index == winner {
                c.why = format!("won: {}", c.why);
            } else if c.tier == Some(tier) {
                c.why = format!("{}, but `{winner_name}` comes first in the file", c.why);
            } else {
                c.why = format!(
                    "{}, but `{winner_name}` is more specific ({})",
                    c.why,
                    tier.as_str()
                );
            }
        }
    }
    let binding = best.map(|(_, i)| &config.bindings[i]);
    let agent_id =
        binding.map_or_else(|| agents.default_agent().id.clone(), |b| b.agent_id.clone());
    let links = &config.session.identity_links;
    let person = person_of(&q.identity(), links);
    let (session_key, memory_dir) = if q.peer_kind == PeerKind::Direct {
        let key = direct_key(config, &agent_id, &q.channel, &q.account_id, &person);
        let memory =
            (person != owner(links)).then(|| PathBuf::from("people").join(sanitize_name(&person)));
        (key, memory)
    } else {
        let shared = binding
            .filter(|b| b.shared_memory)
            .and_then(|b| b.matches.team_id.as_ref().or(b.matches.guild_id.as_ref()));
        let memory = match shared {
            Some(id) => PathBuf::from("teams").join(sanitize_name(&format!("{}-{id}", q.channel))),
            // A thread remembers with its parent chat, as it shares its session key's base.
            None => PathBuf::from("chats").join(sanitize_name(&format!(
                "{}-{}",
                q.channel,
                q.parent_id.as_deref().unwrap_or(&q.chat_id)
            ))),
        };
        (chat_key(&agent_id, q), Some(memory))
    };
    Route {
        agent_id,
        binding: best.map(|(_, i)| i),
        binding_name: binding.map(BindingConfig::display_name),
        matched_by: best.map_or(MatchedBy::Default, |(t, _)| t),
        session_key,
        person,
        memory_dir,
        candidates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StateDir;
    use hearth_config::{AgentConfig, BindingMatch, PeerMatch};
    use proptest::prelude::*;

    fn config_with(agents: &[&str], bindings: Vec<BindingConfig>) -> (Config, Agents) {
        let config = Config {
            agents: hearth_config::AgentsConfig {
                list: agents
                    .iter()
                    .map(|id| AgentConfig {
                        id: (*id).to_owned(),
                        ..AgentConfig::default()
                    })
                    .collect(),
                ..Default::default()
            },
            bindings,
            ..Config::default()
        };
        let agents = Agents::from_config(&config, &StateDir::new("/h"));
        (config, agents)
    }

    fn bind(agent: &str, channel: &str, edit: impl FnOnce(&mut BindingMatch)) -> BindingConfig {
        let mut matches = BindingMatch {
            channel: channel.to_owned(),
            ..BindingMatch::default()
        };
        edit(&mut matches);
        BindingConfig {
            agent_id: agent.to_owned(),
            matches,
            ..BindingConfig::default()
        }
    }

    fn peer(kind: PeerMatchKind, id: &str) -> Option<PeerMatch> {
        Some(PeerMatch {
            kind,
            id: id.to_owned(),
        })
    }

    fn dm(channel: &str, sender: &str) -> RouteQuery {
        RouteQuery {
            channel: channel.to_owned(),
            account_id: "default".to_owned(),
            peer_kind: PeerKind::Direct,
            chat_id: sender.to_owned(),
            parent_id: None,
            thread_id: None,
            sender_id: sender.to_owned(),
            guild_id: None,
            team_id: None,
            roles: Vec::new(),
        }
    }

    /// A message in Discord thread `t1` of channel `c1` in guild `g1`, from a sender with role
    /// `r2`, on account `work`.
    fn discord_thread() -> RouteQuery {
        RouteQuery {
            channel: "discord".to_owned(),
            account_id: "work".to_owned(),
            peer_kind: PeerKind::Thread,
            chat_id: "t1".to_owned(),
            parent_id: Some("c1".to_owned()),
            thread_id: Some("t1".to_owned()),
            sender_id: "u1".to_owned(),
            guild_id: Some("g1".to_owned()),
            team_id: None,
            roles: vec!["r2".to_owned()],
        }
    }

    /// One binding per tier, least specific first, each to its own agent.
    fn every_tier() -> Vec<BindingConfig> {
        vec![
            bind("channel", "discord", |_| {}),
            bind("account", "discord", |m| m.account_id = Some("work".into())),
            bind("guild", "discord", |m| m.guild_id = Some("g1".into())),
            bind("roles", "discord", |m| {
                m.guild_id = Some("g1".into());
                m.roles = vec!["r1".into(), "r2".into()];
            }),
            bind("parent", "discord", |m| {
                m.peer = peer(PeerMatchKind::Channel, "c1")
            }),
            bind("peer", "discord", |m| {
                m.peer = peer(PeerMatchKind::Channel, "t1")
            }),
        ]
    }

    const AGENTS: [&str; 8] = [
        "main", "channel", "account", "guild", "roles", "parent", "peer", "team",
    ];

    /// Drops bindings from the most specific down: each time the next tier wins.
    #[test]
    fn each_tier_beats_the_ones_below_it() {
        let expected = [
            ("peer", MatchedBy::Peer),
            ("parent", MatchedBy::ParentPeer),
            ("roles", MatchedBy::GuildRoles),
            ("guild", MatchedBy::Guild),
            ("account", MatchedBy::Account),
            ("channel", MatchedBy::Channel),
            ("main", MatchedBy::Default),
        ];
        let mut bindings = every_tier();
        for (agent, tier) in expected {
            let (config, agents) = config_with(&AGENTS, bindings.clone());
            let r = route(&config, &agents, &discord_thread());
            assert_eq!((r.agent_id.as_str(), r.matched_by), (agent, tier), "{r:#?}");
            bindings.pop();
        }
    }

    #[test]
    fn the_order_in_the_file_does_not_beat_specificity() {
        let mut bindings = every_tier();
        bindings.reverse();
        let (config, agents) = config_with(&AGENTS, bindings);
        let r = route(&config, &agents, &discord_thread());
        assert_eq!(r.agent_id, "peer");
        assert_eq!(r.binding, Some(0));
        assert_eq!(r.binding_name.as_deref(), Some("discord-peer-t1"));
        let loser = &r.candidates[5];
        assert!(
            loser.matched && loser.why.contains("more specific"),
            "{loser:?}"
        );
    }

    #[test]
    fn team_beats_account_beats_channel() {
        let slack = RouteQuery {
            channel: "slack".into(),
            team_id: Some("T1".into()),
            peer_kind: PeerKind::Channel,
            chat_id: "C1".into(),
            ..dm("slack", "U1")
        };
        let mut bindings = vec![
            bind("channel", "slack", |_| {}),
            bind("account", "slack", |m| {
                m.account_id = Some("default".into())
            }),
            bind("team", "slack", |m| m.team_id = Some("T1".into())),
        ];
        for (agent, tier) in [
            ("team", MatchedBy::Team),
            ("account", MatchedBy::Account),
            ("channel", MatchedBy::Channel),
        ] {
            let (config, agents) = config_with(&AGENTS, bindings.clone());
            let r = route(&config, &agents, &slack);
            assert_eq!((r.agent_id.as_str(), r.matched_by), (agent, tier));
            bindings.pop();
        }
    }

    #[test]
    fn the_first_binding_of_a_tier_wins() {
        let bindings = vec![
            bind("guild", "discord", |m| m.account_id = Some("work".into())),
            bind("account", "discord", |m| m.account_id = Some("work".into())),
        ];
        let (config, agents) = config_with(&AGENTS, bindings);
        let r = route(&config, &agents, &discord_thread());
        assert_eq!((r.agent_id.as_str(), r.binding), ("guild", Some(0)));
        assert!(
            r.candidates[1].why.contains("comes first"),
            "{:?}",
            r.candidates[1]
        );
    }

    #[test]
    fn a_binding_to_a_missing_agent_is_skipped() {
        let bindings = vec![
            bind("ghost", "telegram", |m| {
                m.peer = peer(PeerMatchKind::Direct, "42")
            }),
            bind("channel", "telegram", |_| {}),
        ];
        let (config, agents) = config_with(&AGENTS, bindings);
        let r = route(&config, &agents, &dm("telegram", "42"));
        assert_eq!(
            (r.agent_id.as_str(), r.matched_by),
            ("channel", MatchedBy::Channel)
        );
        let skipped = &r.candidates[0];
        assert!(!skipped.matched && skipped.tier == Some(MatchedBy::Peer));
        assert!(
            skipped.why.contains("`ghost` does not exist"),
            "{}",
            skipped.why
        );
    }

    #[test]
    fn roles_need_any_one_of_them() {
        let with_roles = |roles: &[&str]| {
            vec![bind("roles", "discord", |m| {
                m.guild_id = Some("g1".into());
                m.roles = roles.iter().map(|r| (*r).to_owned()).collect();
            })]
        };
        let (config, agents) = config_with(&AGENTS, with_roles(&["r9", "r2"]));
        assert_eq!(route(&config, &agents, &discord_thread()).agent_id, "roles");
        let (config, agents) = config_with(&AGENTS, with_roles(&["r9"]));
        let r = route(&config, &agents, &discord_thread());
        assert_eq!(r.agent_id, "main");
        assert!(
            r.candidates[0].why.contains("none of the roles"),
            "{:?}",
            r.candidates
        );
    }

    #[test]
    fn peers_match_by_kind_and_id() {
        let bindings = vec![bind("peer", "telegram", |m| {
            m.peer = peer(PeerMatchKind::Group, "-100")
        })];
        let (config, agents) = config_with(&AGENTS, bindings);
        assert_eq!(
            route(&config, &agents, &dm("telegram", "-100")).agent_id,
            "main"
        );
        let group = RouteQuery {
            peer_kind: PeerKind::Group,
            chat_id: "-100".into(),
            ..dm("telegram", "7")
        };
        assert_eq!(route(&config, &agents, &group).agent_id, "peer");
        let other = RouteQuery {
            channel: "discord".into(),
            ..group
        };
        assert_eq!(route(&config, &agents, &other).agent_id, "main");
    }

    #[test]
    fn sessions_and_memory_per_scope() {
        let (mut config, agents) = config_with(&[], Vec::new());
        config.session.identity_links = BTreeMap::from([(
            "me".to_owned(),
            vec!["webchat:owner".to_owned(), "telegram:1".to_owned()],
        )]);
        let owner_dm = route(&config, &agents, &dm("telegram", "1"));
        assert_eq!(owner_dm.session_key, "agent:main:main");
        assert_eq!(
            (owner_dm.person.as_str(), owner_dm.memory_dir),
            ("me", None)
        );
        let other = route(&config, &agents, &dm("matrix", "@a:hs"));
        assert_eq!(other.session_key, "agent:main:direct:matrix:@a:hs");
        assert_eq!(other.memory_dir, Some(PathBuf::from("people/matrix__a_hs")));
        config.session.dm_scope = DmScope::PerPeer;
        assert_eq!(
            route(&config, &agents, &dm("telegram", "1")).session_key,
            "agent:main:direct:me"
        );
        config.session.dm_scope = DmScope::PerChannelPeer;
        assert_eq!(
            route(&config, &agents, &dm("telegram", "2")).session_key,
            "agent:main:telegram:direct:telegram:2"
        );
        config.session.dm_scope = DmScope::PerAccountChannelPeer;
        assert_eq!(
            route(&config, &agents, &dm("telegram", "2")).session_key,
            "agent:main:telegram:default:direct:telegram:2"
        );
        let thread = route(&config, &agents, &discord_thread());
        assert_eq!(thread.session_key, "agent:main:discord:group:c1:thread:t1");
        assert_eq!(thread.memory_dir, Some(PathBuf::from("chats/discord-c1")));
    }

    #[test]
    fn shared_memory_belongs_to_the_team() {
        let mut shared = bind("guild", "discord", |m| m.guild_id = Some("g1".into()));
        shared.shared_memory = true;
        let (config, agents) = config_with(&AGENTS, vec![shared]);
        let r = route(&config, &agents, &discord_thread());
        assert_eq!(r.memory_dir, Some(PathBuf::from("teams/discord-g1")));
        assert_eq!(r.binding_name.as_deref(), Some("discord-guild-g1"));
    }

    #[test]
    fn the_owner_is_webchat_unless_linked() {
        let mut links = BTreeMap::new();
        assert_eq!(owner(&links), "webchat:owner");
        links.insert(
            "me".to_owned(),
            vec!["discord:9".to_owned(), "webchat:owner".to_owned()],
        );
        assert_eq!(owner(&links), "me");
        assert_eq!(person_of("discord:9", &links), "me");
        assert_eq!(person_of("discord:8", &links), "discord:8");
    }

    fn scope() -> impl Strategy<Value = DmScope> {
        prop_oneof![
            Just(DmScope::Main),
            Just(DmScope::PerPeer),
            Just(DmScope::PerChannelPeer),
            Just(DmScope::PerAccountChannelPeer),
        ]
    }

    fn identity() -> impl Strategy<Value = (String, String)> {
        (
            prop::sample::select(vec!["telegram", "discord", "slack", "matrix"]),
            "[a-z0-9@:._-]{1,6}",
        )
            .prop_map(|(c, id)| (c.to_owned(), id))
    }

    proptest! {
        /// Two identities that are not linked never share a session key, whatever the scope;
        /// linked ones share one under `main` and `per-peer`.
        #[test]
        fn unlinked_people_never_share_a_session(
            ids in prop::collection::vec(identity(), 2..8),
            groups in prop::collection::vec(0usize..4, 8),
            accounts in prop::collection::vec(prop::sample::select(vec!["default", "work"]), 8),
            owner_group in prop::option::of(0usize..4),
            scope in scope(),
        ) {
            let mut links: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut seen = std::collections::BTreeSet::new();
            for (i, (channel, id)) in ids.iter().enumerate() {
                let identity = format!("{channel}:{id}");
                // Group 0 stays unlinked; the others form links `p1`..`p3`.
                if groups[i] > 0 && seen.insert(identity.clone()) {
                    links.entry(format!("p{}", groups[i])).or_default().push(identity);
                }
            }
            if let Some(g) = owner_group.filter(|g| *g > 0) {
                links.entry(format!("p{g}")).or_default().push(OWNER_IDENTITY.to_owned());
            }
            let (mut config, agents) = config_with(&[], Vec::new());
            config.session.dm_scope = scope;
            config.session.identity_links = links.clone();
            let routed: Vec<(String, String)> = ids
                .iter()
                .enumerate()
                .map(|(i, (channel, id))| {
                    let q = RouteQuery { account_id: accounts[i].to_owned(), ..dm(channel, id) };
                    let r = route(&config, &agents, &q);
                    (r.person, r.session_key)
                })
                .collect();
            for (i, (person_a, key_a)) in routed.iter().enumerate() {
                for (j, (person_b, key_b)) in routed.iter().enumerate().skip(i + 1) {
                    let linked = person_a == person_b;
                    if !linked {
                        prop_assert_ne!(key_a, key_b, "{:?} and {:?} are not linked", ids[i], ids[j]);
                    } else if ids[i] != ids[j] {
                        // One person from two identities: only a link does that.
                        prop_assert!(links.contains_key(person_a.as_str()));
                    }
                    if linked && matches!(scope, DmScope::Main | DmScope::PerPeer) {
                        prop_assert_eq!(key_a, key_b);
                    }
                }
            }
        }
    }
}
