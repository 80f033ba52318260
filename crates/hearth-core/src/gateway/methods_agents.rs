//! `agents.*`, `bindings.*`, `route.explain` and `identity.*`: who answers where, and which
//! accounts are one person.
//!
//! Every change is an edit of the config document written the way `config.patch` writes
//! (`methods_config`): under the config lock, the whole new config checked (so a binding to an
//! unknown agent is refused with the configured ones named), written atomically with a `.bak`,
//! then put in force. Routing reads the live config for each message, so nothing else needs
//! refreshing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hearth_channels::PeerKind;
use hearth_config::{Config, ROUTABLE_CHANNELS};
use hearth_protocol::events::{Event, SessionChange, SessionsChanged};
use hearth_protocol::frame::{ErrorCode, ErrorShape};
use hearth_protocol::methods::{
    AgentPersona, AgentSummary, AgentToolPolicy, AgentsAddParams, AgentsListResult,
    AgentsRemoveParams, BindingInfo, BindingRef, BindingsAddParams, BindingsListResult,
    BindingsRemoveParams, ChatKind, CodeDelivery, ConfigWrite, IdentityChanged,
    IdentityLinkConfirmParams, IdentityLinkStartParams, IdentityLinkStartResult,
    IdentityListResult, IdentityUnlinkParams, PeerRef, RouteCandidate, RouteExplainParams,
    RouteExplainResult, RouteMatch,
};
use serde_json::{Map, Value, json};

use super::methods::{MethodResult, invalid, ok};
use super::methods_config::{
    check_text, invalid_config, issues_of, read_config_file, write_checked,
};
use crate::identity::{self, LinkError, Progress, parse_identity, valid_link_name};
use crate::routing::{
    self, OWNER_IDENTITY, RouteQuery, binding_tier, direct_key, owner, person_of,
};
use crate::runtime::Runtime;

fn not_found(message: impl Into<String>) -> ErrorShape {
    ErrorShape::new(ErrorCode::NotFound, message)
}

fn conflict(message: impl Into<String>) -> ErrorShape {
    ErrorShape::new(ErrorCode::Conflict, message)
}

/// Edits the config document on disk (the default document when there is none) and writes it
/// like `config.patch`: checked whole, written with a `.bak`, applied. Comments do not survive.
pub(crate) async fn edit_config(
    rt: &Runtime,
    edit: impl FnOnce(&mut Value, &Config) -> Result<(), ErrorShape>,
) -> Result<ConfigWrite, ErrorShape> {
    let _applying = rt.config_lock.lock().await;
    let disk = read_config_file(&rt.config_path).await?;
    let mut doc = match &disk.text {
        Some(text) => {
            hearth_config::parse_document(text).map_err(|e| invalid_config(issues_of(&e)))?
        }
        None => hearth_config::default_document(),
    };
    let live = rt.live();
    edit(&mut doc, &live.config)?;
    let mut text = serde_json::to_string_pretty(&doc).map_err(|e| {
        ErrorShape::new(
            ErrorCode::Internal,
            format!("cannot render the config: {e}"),
        )
    })?;
    text.push('\n');
    let checked = check_text(rt, &text).await?;
    write_checked(rt, text, &disk.hash, checked).await
}

/// The object at `key` of `parent`, created (or replacing a non-object) when needed.
fn object<'a>(parent: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !parent.is_object() {
        *parent = Value::Object(Map::new());
    }
    let Value::Object(map) = parent else {
        unreachable!("made an object above")
    };
    object_in(map, key)
}

/// The array at `key` of `map`, created when needed.
fn array<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let slot = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    match slot {
        Value::Array(a) => a,
        _ => unreachable!("made an array above"),
    }
}

/// A config enum's name as the config file writes it (`followup`, `coding`).
fn wire_name<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// agents

pub(super) async fn agents_list(rt: &Runtime) -> MethodResult {
    let live = rt.live();
    let config = &live.config;
    let default_id = live.agents.default_agent().id.clone();
    let agents = live
        .agents
        .iter()
        .map(|agent| {
            let own = config.agents.list.iter().find(|a| a.id == agent.id);
            AgentSummary {
                id: agent.id.clone(),
                name: agent.name.clone(),
                default: agent.id == default_id,
                workspace: agent.workspace.display().to_string(),
                model: agent.model.primary.clone(),
                fallbacks: agent.model.fallbacks.clone(),
                identity: AgentPersona {
                    name: agent.identity.name.clone(),
                    emoji: agent.identity.emoji.clone(),
                },
                skills: own.and_then(|a| a.skills.clone()),
                tools: own.and_then(|a| a.tools.as_ref()).map(|t| AgentToolPolicy {
                    profile: t.profile.map(wire_name),
                    allow: t.allow.clone(),
                    deny: t.deny.clone(),
                }),
                queue: wire_name(agent.queue),
                bindings: u32::try_from(
                    config
                        .bindings
                        .iter()
                        .filter(|b| b.agent_id == agent.id)
                        .count(),
                )
                .unwrap_or(u32::MAX),
            }
        })
        .collect();
    ok(AgentsListResult { default_id, agents })
}

pub(super) async fn agents_add(rt: &Runtime, p: AgentsAddParams) -> MethodResult {
    let id = p.id.trim().to_owned();
    if !valid_link_name(&id) {
        return Err(invalid(format!(
            "`{id}` is not a valid agent id; use lowercase letters, digits, `-` and `_`"
        )));
    }
    let write = edit_config(rt, |doc, config| {
        let implicit = config.agents.list.is_empty();
        let exists = if implicit {
            id == crate::agents::DEFAULT_AGENT_ID
        } else {
            config.agents.list.iter().any(|a| a.id == id)
        };
        if exists {
            return Err(conflict(format!("agent `{id}` already exists")));
        }
        let list = array(object(doc, "agents"), "list");
        if implicit {
            // The agent that existed without a list keeps its name, workspace and default role.
            list.push(json!({ "id": crate::agents::DEFAULT_AGENT_ID, "name": "Hearth" }));
        }
        if p.default {
            for agent in list.iter_mut() {
                if let Value::Object(a) = agent {
                    a.remove("default");
                }
            }
        }
        let mut agent = Map::new();
        agent.insert("id".into(), json!(id));
        if p.default {
            agent.insert("default".into(), json!(true));
        }
        if let Some(name) = p.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            agent.insert("name".into(), json!(name));
        }
        if let Some(w) = p
            .workspace
            .as_deref()
            .map(str::trim)
            .filter(|w| !w.is_empty())
        {
            agent.insert("workspace".into(), json!(w));
        }
        if let Some(m) = p.model.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
            agent.insert("model".into(), json!(m));
        }
        if let Some(e) = p.emoji.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            agent.insert("identity".into(), json!({ "emoji": e }));
        }
        list.push(Value::Object(agent));
        Ok(())
    })
    .await?;
    tracing::info!(agent = %id, "agent added by a client");
    ok(write)
}

pub(super) async fn agents_remove(rt: &Runtime, p: AgentsRemoveParams) -> MethodResult {
    let write = edit_config(rt, |doc, config| {
        if config.agents.list.len() <= 1 {
            let only = config
                .agents
                .list
                .first()
                .map_or(crate::agents::DEFAULT_AGENT_ID, |a| a.id.as_str());
            return Err(if only == p.id {
                conflict(format!("`{only}` is the only agent and cannot be removed"))
            } else {
                not_found(format!("no agent `{}`; the only agent is `{only}`", p.id))
            });
        }
        if !config.agents.list.iter().any(|a| a.id == p.id) {
            let ids: Vec<&str> = config.agents.list.iter().map(|a| a.id.as_str()).collect();
            return Err(not_found(format!(
                "no agent `{}`; configured agents: {}",
                p.id,
                ids.join(", ")
            )));
        }
        let bound: Vec<String> = config
            .bindings
            .iter()
            .filter(|b| b.agent_id == p.id)
            .map(hearth_config::BindingConfig::display_name)
            .collect();
        if !bound.is_empty() && !p.force {
            return Err(conflict(format!(
                "bindings route to `{}`: {}; remove them first or pass force",
                p.id,
                bound.join(", ")
            ))
            .with_details(json!({ "bindings": bound })));
        }
        let Value::Object(root) = doc else {
            return Err(invalid("the config is not an object"));
        };
        if let Some(Value::Array(bindings)) = root.get_mut("bindings") {
            bindings.retain(|b| b.get("agentId").and_then(Value::as_str) != Some(p.id.as_str()));
            if bindings.is_empty() {
                root.remove("bindings");
            }
        }
        let list = array(object(doc, "agents"), "list");
        list.retain(|a| a.get("id").and_then(Value::as_str) != Some(p.id.as_str()));
        Ok(())
    })
    .await?;
    tracing::info!(agent = %p.id, force = p.force, "agent removed by a client");
    ok(write)
}

// ---------------------------------------------------------------------------------------------
// bindings

fn chat_kind(kind: hearth_config::PeerMatchKind) -> ChatKind {
    match kind {
        hearth_config::PeerMatchKind::Direct => ChatKind::Direct,
        hearth_config::PeerMatchKind::Group => ChatKind::Group,
        hearth_config::PeerMatchKind::Channel => ChatKind::Channel,
    }
}

pub(super) async fn bindings_list(rt: &Runtime) -> MethodResult {
    let live = rt.live();
    let bindings = live
        .config
        .bindings
        .iter()
        .enumerate()
        .map(|(index, b)| BindingInfo {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            name: b.display_name(),
            agent_id: b.agent_id.clone(),
            matches: RouteMatch {
                channel: b.matches.channel.clone(),
                account_id: b.matches.account_id.clone(),
                peer: b.matches.peer.as_ref().map(|p| PeerRef {
                    kind: chat_kind(p.kind),
                    id: p.id.clone(),
                }),
                guild_id: b.matches.guild_id.clone(),
                team_id: b.matches.team_id.clone(),
                roles: b.matches.roles.clone(),
            },
            shared_memory: b.shared_memory,
            tier: binding_tier(b),
        })
        .collect();
    ok(BindingsListResult { bindings })
}

pub(super) async fn bindings_add(rt: &Runtime, p: BindingsAddParams) -> MethodResult {
    let mut binding = Map::new();
    binding.insert("agentId".into(), json!(p.agent_id));
    let matches =
        serde_json::to_value(&p.matches).map_err(|e| invalid(format!("invalid match: {e}")))?;
    binding.insert("match".into(), matches);
    if let Some(name) = &p.name {
        binding.insert("name".into(), json!(name));
    }
    if p.shared_memory {
        binding.insert("sharedMemory".into(), json!(true));
    }
    let write = edit_config(rt, |doc, _| {
        let Value::Object(root) = doc else {
            return Err(invalid("the config is not an object"));
        };
        let bindings = array(root, "bindings");
        bindings.push(Value::Object(binding));
        Ok(())
    })
    .await?;
    tracing::info!(agent = %p.agent_id, channel = %p.matches.channel, "binding added by a client");
    ok(write)
}

pub(super) async fn bindings_remove(rt: &Runtime, p: BindingsRemoveParams) -> MethodResult {
    if p.index.is_none() && p.name.is_none() {
        return Err(invalid("name the binding to remove by `index` or `name`"));
    }
    let write = edit_config(rt, |doc, config| {
        let found = config.bindings.iter().enumerate().position(|(i, b)| {
            p.index
                .is_none_or(|want| usize::try_from(want).ok() == Some(i))
                && p.name.as_ref().is_none_or(|n| *n == b.display_name())
        });
        let Some(index) = found else {
            let names: Vec<String> = config
                .bindings
                .iter()
                .enumerate()
                .map(|(i, b)| format!("{i}: {}", b.display_name()))
                .collect();
            return Err(not_found(if names.is_empty() {
                "there are no bindings".to_owned()
            } else {
                format!("no such binding; the bindings are {}", names.join(", "))
            }));
        };
        let Value::Object(root) = doc else {
            return Err(invalid("the config is not an object"));
        };
        let bindings = array(root, "bindings");
        if index < bindings.len() {
            bindings.remove(index);
        }
        if bindings.is_empty() {
            root.remove("bindings");
        }
        Ok(())
    })
    .await?;
    ok(write)
}

// ---------------------------------------------------------------------------------------------
// route.explain

/// The route query a `route.explain` request stands for.
pub(crate) fn explain_query(p: &RouteExplainParams) -> Result<RouteQuery, ErrorShape> {
    if !ROUTABLE_CHANNELS.contains(&p.channel.as_str()) {
        return Err(invalid(format!(
            "`{}` is not a channel; use one of {}",
            p.channel,
            ROUTABLE_CHANNELS.join(", ")
        )));
    }
    let peer_kind = match p.peer_kind.unwrap_or_default() {
        ChatKind::Direct => PeerKind::Direct,
        ChatKind::Group => PeerKind::Group,
        ChatKind::Channel => PeerKind::Channel,
        ChatKind::Thread => PeerKind::Thread,
    };
    let direct = peer_kind == PeerKind::Direct;
    let sender_id = p
        .sender_id
        .clone()
        .or_else(|| p.peer_id.clone().filter(|_| direct))
        .unwrap_or_default();
    let chat_id = p
        .peer_id
        .clone()
        .or_else(|| direct.then(|| sender_id.clone()))
        .unwrap_or_default();
    if chat_id.is_empty() && sender_id.is_empty() {
        return Err(invalid("give `peerId` or `senderId`"));
    }
    Ok(RouteQuery {
        channel: p.channel.clone(),
        account_id: p
            .account_id
            .clone()
            .unwrap_or_else(|| hearth_config::DEFAULT_ACCOUNT.to_owned()),
        peer_kind,
        chat_id,
        parent_id: p.parent_peer_id.clone(),
        thread_id: p.thread_id.clone(),
        sender_id,
        guild_id: p.guild_id.clone(),
        team_id: p.team_id.clone(),
        roles: p.roles.clone(),
    })
}

pub(super) async fn route_explain(rt: &Runtime, p: RouteExplainParams) -> MethodResult {
    let q = explain_query(&p)?;
    let live = rt.live();
    let route = routing::route(&live.config, &live.agents, &q);
    ok(RouteExplainResult {
        agent_id: route.agent_id,
        binding: route
            .binding
            .zip(route.binding_name)
            .map(|(index, name)| BindingRef {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                name,
            }),
        matched_by: route.matched_by,
        session_key: route.session_key,
        person: route.person,
        memory_dir: route.memory_dir.map(|d| d.display().to_string()),
        candidates: route
            .candidates
            .into_iter()
            .map(|c| RouteCandidate {
                index: u32::try_from(c.index).unwrap_or(u32::MAX),
                name: c.name,
                agent_id: c.agent_id,
                matched: c.matched,
                tier: c.tier,
                why: c.why,
            })
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// identity

pub(super) async fn identity_list(rt: &Runtime) -> MethodResult {
    let live = rt.live();
    let links = &live.config.session.identity_links;
    ok(IdentityListResult {
        owner: routing::owner(links),
        links: links.clone(),
        pending: rt.channels.links.list(rt.now_ms()),
    })
}

pub(super) async fn identity_link_start(
    rt: &Arc<Runtime>,
    p: IdentityLinkStartParams,
) -> MethodResult {
    let name = p.name.trim().to_owned();
    if !valid_link_name(&name) {
        return Err(invalid(format!(
            "`{name}` is not a valid name; use lowercase letters, digits, `-` and `_`"
        )));
    }
    let mut identities: Vec<String> = Vec::new();
    for identity in p.identities.iter().map(|i| i.trim()) {
        parse_identity(identity).map_err(invalid)?;
        if !identities.iter().any(|i| i == identity) {
            identities.push(identity.to_owned());
        }
    }
    if identities.len() < 2 {
        return Err(invalid("name at least two different identities to link"));
    }
    let live = rt.live();
    let links = &live.config.session.identity_links;
    let mut verified = Vec::new();
    for identity in &identities {
        match links.iter().find(|(_, ids)| ids.contains(identity)) {
            Some((other, _)) if *other != name => {
                return Err(conflict(format!(
                    "`{identity}` is already linked as `{other}`; unlink it first"
                )));
            }
            // Already part of this person: proven when it was linked.
            Some(_) => verified.push(identity.clone()),
            // The caller is the Control UI's owner.
            None if identity == OWNER_IDENTITY => verified.push(identity.clone()),
            None => {
                identity::direct_chat(rt, identity).await.map_err(invalid)?;
            }
        }
    }
    if verified.len() == identities.len() {
        return Err(invalid(format!(
            "these identities are already linked as `{name}`"
        )));
    }
    let started = rt
        .channels
        .links
        .start(&name, &identities, &verified, rt.now_ms())
        .map_err(|e| ErrorShape::new(ErrorCode::Unavailable, e.to_string()))?;
    let mut delivered = Vec::new();
    for (identity, code) in &started.codes {
        let others: Vec<String> = identities
            .iter()
            .filter(|i| *i != identity)
            .cloned()
            .collect();
        let text = identity::code_text(identity, &others, code);
        let sent = identity::send_to(rt, identity, &text).await;
        delivered.push(CodeDelivery {
            identity: identity.clone(),
            ok: sent.is_ok(),
            error: sent.err(),
        });
    }
    tracing::info!(%name, link = %started.link_id, identities = ?identities, "identity link started");
    audit_link(rt, &name, &identities, "started");
    ok(IdentityLinkStartResult {
        link_id: started.link_id,
        expires_at_ms: started.expires_at_ms,
        delivered,
    })
}

pub(super) async fn identity_link_confirm(
    rt: &Arc<Runtime>,
    p: IdentityLinkConfirmParams,
) -> MethodResult {
    if p.codes.is_empty() {
        return Err(invalid("give the codes the identities received"));
    }
    let progress = rt
        .channels
        .links
        .confirm(&p.link_id, &p.codes, rt.now_ms())
        .map_err(|e| match e {
            LinkError::UnknownLink(_) => not_found(e.to_string()),
            other => invalid(other.to_string()),
        })?;
    match progress {
        Progress::Waiting { missing, .. } => Err(invalid(format!(
            "verified; still waiting for the code sent to {}",
            missing.join(", ")
        ))
        .with_details(json!({ "missing": missing }))),
        Progress::Complete { name, identities } => ok(write_link(rt, &name, &identities).await?),
    }
}

pub(super) async fn identity_unlink(rt: &Arc<Runtime>, p: IdentityUnlinkParams) -> MethodResult {
    let identity = p.identity.trim();
    parse_identity(identity).map_err(invalid)?;
    let (_, write) = unlink(rt, identity).await?;
    ok(write)
}

/// Writes `identities` into the link `name` (adding to what it has), carries the conversation
/// over, and tells clients.
pub(crate) async fn write_link(
    rt: &Arc<Runtime>,
    name: &str,
    identities: &[String],
) -> Result<ConfigWrite, ErrorShape> {
    let before = rt.live().config.clone();
    let write = edit_config(rt, |doc, _| {
        let links = object_in(object(doc, "session"), "identityLinks");
        let list = array(links, name);
        for identity in identities {
            if !list.iter().any(|v| v.as_str() == Some(identity)) {
                list.push(json!(identity));
            }
        }
        Ok(())
    })
    .await?;
    carry_over(rt, &before, identities).await;
    tracing::info!(%name, identities = ?identities, "identities linked");
    audit_link(rt, name, identities, "linked");
    rt.bus.publish(Event::IdentityChanged(IdentityChanged {
        name: name.to_owned(),
    }));
    Ok(write)
}

/// Removes `identity` from its link; answers the link's name.
pub(crate) async fn unlink_identity(
    rt: &Arc<Runtime>,
    identity: &str,
) -> Result<String, ErrorShape> {
    unlink(rt, identity).await.map(|(name, _)| name)
}

async fn unlink(rt: &Arc<Runtime>, identity: &str) -> Result<(String, ConfigWrite), ErrorShape> {
    let name = rt
        .live()
        .config
        .session
        .identity_links
        .iter()
        .find(|(_, ids)| ids.iter().any(|i| i == identity))
        .map(|(n, _)| n.clone())
        .ok_or_else(|| not_found(format!("`{identity}` is not linked")))?;
    let write = edit_config(rt, |doc, _| {
        let session = object(doc, "session");
        let links = object_in(session, "identityLinks");
        if let Some(Value::Array(list)) = links.get_mut(&name) {
            list.retain(|v| v.as_str() != Some(identity));
            if list.is_empty() {
                links.remove(&name);
            }
        }
        if links.is_empty() {
            session.remove("identityLinks");
        }
        Ok(())
    })
    .await?;
    tracing::info!(%name, %identity, "identity unlinked");
    audit_link(rt, &name, &[identity.to_owned()], "unlinked");
    rt.bus.publish(Event::IdentityChanged(IdentityChanged {
        name: name.clone(),
    }));
    Ok((name, write))
}

/// Records a change of identity links in the gateway's audit log.
fn audit_link(rt: &Runtime, name: &str, identities: &[String], action: &str) {
    rt.audit.record(
        None,
        crate::audit::AuditEvent::IdentityLink(crate::audit::IdentityLinkRecord {
            name: name.to_owned(),
            identities: identities.to_vec(),
            action: action.to_owned(),
        }),
    );
}

/// The object at `key` of `map`, created when needed.
fn object_in<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = map
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

/// After a link: a person's memory folder (`people/<old>`) is copied to the linked person's
/// (`people/<new>`) when that one does not exist yet, so the agent still knows what it learnt.
/// The old folder stays (an unlink goes back to it). Nothing is copied into the owner's own
/// memory: that stays the owner's to curate.
async fn carry_memory(workspace: &std::path::Path, old: &str, new: &str, owner: &str) {
    if old == new || new == owner || old == owner {
        return;
    }
    let from = workspace
        .join("people")
        .join(hearth_config::sanitize_name(old));
    let to = workspace
        .join("people")
        .join(hearth_config::sanitize_name(new));
    let copied = tokio::task::spawn_blocking(move || {
        if !from.is_dir() || to.exists() {
            return Ok(false);
        }
        copy_dir(&from, &to).map(|()| true)
    })
    .await;
    match copied {
        Ok(Ok(true)) => {
            tracing::info!(from = %old, to = %new, "memory carried over to the linked person")
        }
        Ok(Ok(false)) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not carry memory over to the linked person")
        }
        Err(e) => tracing::warn!(error = %e, "memory carry-over failed"),
    }
}

/// Copies a directory tree of regular files (symlinks are not followed), keeping it private.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// After a link: each agent's most recent direct conversation with one of the newly linked
/// identities continues under the person's new key (forked there, the old one left as it was),
/// unless the person already has a conversation under that key.
async fn carry_over(rt: &Arc<Runtime>, before: &Config, identities: &[String]) {
    let live = rt.live();
    let after = &live.config;
    for agent in live.agents.iter() {
        let mut best: BTreeMap<String, hearth_store::SessionRecord> = BTreeMap::new();
        for identity in identities {
            let Ok((channel, _)) = parse_identity(identity) else {
                continue;
            };
            let Ok((account, _)) = identity::direct_chat(rt, identity).await else {
                continue;
            };
            let old_person = person_of(identity, &before.session.identity_links);
            let new_person = person_of(identity, &after.session.identity_links);
            carry_memory(
                &agent.workspace,
                &old_person,
                &new_person,
                &owner(&after.session.identity_links),
            )
            .await;
            let old_key = direct_key(before, &agent.id, channel, &account, &old_person);
            let new_key = direct_key(after, &agent.id, channel, &account, &new_person);
            if old_key == new_key {
                continue;
            }
            if let Ok(Some(session)) = rt.store.session_for_key(&old_key).await
                && session.message_count > 0
                && best
                    .get(&new_key)
                    .is_none_or(|b| session.updated_at > b.updated_at)
            {
                best.insert(new_key, session);
            }
        }
        let mut taken = BTreeSet::new();
        for (new_key, source) in best {
            if !taken.insert(new_key.clone())
                || !matches!(rt.store.session_for_key(&new_key).await, Ok(None))
            {
                continue;
            }
            match rt.store.fork_session(&source.id, None, &new_key).await {
                Ok(record) => {
                    rt.sessions.forget(&new_key);
                    tracing::info!(from = %source.key, to = %new_key, "linked identities continue their conversation");
                    rt.bus.publish_with(|| {
                        Event::SessionsChanged(SessionsChanged {
                            key: new_key.clone(),
                            session_id: Some(record.id.clone()),
                            reason: SessionChange::Created,
                        })
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, from = %source.key, to = %new_key, "carrying a conversation over to a link failed");
                }
            }
        }
    }
}
