//! Identity links: one person's accounts on several channels, proven with codes before they are
//! written to `session.identityLinks`.
//!
//! A link waits here, in memory only (at most [`MAX_PENDING`], each for [`LINK_TTL`]), until
//! every identity in it is verified. Each unverified identity gets a 6-digit code in its latest
//! direct chat with the bot (queued like any answer, so it survives a restart of the platform
//! connection); a code comes back either through `identity.link.confirm` (the owner types what
//! the person read out) or as `/link <code>` sent from another identity of the same link.
//! Codes are compared in constant time, and a link that saw [`MAX_FAILURES`] wrong codes is
//! dropped. Once complete, the link is written through the same checked config write as every
//! other client change (`gateway::methods_agents`), and routing uses it from the next message.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_channels::{Inbound, PeerKind, Target};
use hearth_protocol::methods::PendingLink;
use rand::Rng as _;

use crate::gateway::methods_agents;
use crate::routing::OWNER_IDENTITY;
use crate::runtime::Runtime;
use crate::util::{constant_time_eq, new_id};

/// How long a code stays valid.
pub const LINK_TTL: Duration = Duration::from_secs(600);
/// Links waiting at a time; more are refused until one completes or expires.
pub const MAX_PENDING: usize = 8;
/// Wrong codes a link takes before it is dropped.
pub const MAX_FAILURES: u32 = 5;

/// Channels an identity may belong to.
const CHANNELS: [&str; 5] = hearth_config::ROUTABLE_CHANNELS;

/// An identity split into its channel and the platform's id.
pub fn parse_identity(identity: &str) -> Result<(&str, &str), String> {
    let Some((channel, id)) = identity
        .split_once(':')
        .filter(|(c, id)| !c.is_empty() && !id.trim().is_empty())
    else {
        return Err(format!(
            "`{identity}` is not an identity: write `<channel>:<id>`, e.g. `telegram:123`"
        ));
    };
    if !CHANNELS.contains(&channel) {
        return Err(format!(
            "`{channel}` in `{identity}` is not a channel; use one of {}",
            CHANNELS.join(", ")
        ));
    }
    if channel == "webchat" && identity != OWNER_IDENTITY {
        return Err(format!(
            "`{identity}` is not an identity: the Control UI's only one is `{OWNER_IDENTITY}`"
        ));
    }
    Ok((channel, id))
}

/// Whether `name` may name a person (like an agent id).
pub fn valid_link_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
}

fn new_code() -> String {
    format!("{:06}", rand::thread_rng().gen_range(0..1_000_000u32))
}

fn ttl_ms() -> i64 {
    i64::try_from(LINK_TTL.as_millis()).unwrap_or(i64::MAX / 2)
}

/// A link waiting for its codes.
#[derive(Debug, Clone)]
struct Pending {
    id: String,
    name: String,
    identities: Vec<String>,
    /// The code sent to each identity not verified when the link started.
    codes: BTreeMap<String, String>,
    verified: BTreeSet<String>,
    expires_at_ms: i64,
    failures: u32,
}

impl Pending {
    fn complete(&self) -> bool {
        self.identities.iter().all(|i| self.verified.contains(i))
    }

    fn info(&self) -> PendingLink {
        PendingLink {
            link_id: self.id.clone(),
            name: self.name.clone(),
            identities: self.identities.clone(),
            verified: self.verified.iter().cloned().collect(),
            expires_at_ms: self.expires_at_ms,
        }
    }

    /// The identity whose code `code` is, if it is still unverified.
    fn code_owner(&self, code: &str) -> Option<String> {
        let code = code.trim();
        // Every code is compared, so the time taken does not tell which one was close.
        let mut found = None;
        for (identity, expected) in &self.codes {
            if constant_time_eq(expected.as_bytes(), code.as_bytes()) && found.is_none() {
                found = Some(identity.clone());
            }
        }
        found
    }
}

/// A link that was started: its id, expiry, and the codes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub link_id: String,
    pub expires_at_ms: i64,
    /// `(identity, code)` for every identity that must prove itself.
    pub codes: Vec<(String, String)>,
}

/// What a code did to a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Every identity is verified: write `name` with `identities`.
    Complete {
        name: String,
        identities: Vec<String>,
    },
    /// These identities still wait for their code.
    Waiting { name: String, missing: Vec<String> },
}

/// Why a code did nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("no pending link `{0}` (links expire after 10 minutes)")]
    UnknownLink(String),
    #[error("a code is wrong; nothing was linked")]
    WrongCode,
    #[error("too many wrong codes; the link was cancelled")]
    TooManyFailures,
    #[error(
        "{MAX_PENDING} links are already waiting for their codes; confirm one or wait for it to expire"
    )]
    Full,
}

/// Links waiting for their codes.
#[derive(Debug, Default)]
pub struct PendingLinks {
    inner: Mutex<Vec<Pending>>,
}

impl PendingLinks {
    fn lock(&self, now_ms: i64) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        let mut links = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        links.retain(|l| l.expires_at_ms > now_ms);
        links
    }

    /// Starts a link; the identities in `verified` need no code (the owner's own, vouched for by
    /// the caller).
    pub fn start(
        &self,
        name: &str,
        identities: &[String],
        verified: &[String],
        now_ms: i64,
    ) -> Result<Started, LinkError> {
        let mut links = self.lock(now_ms);
        if links.len() >= MAX_PENDING {
            return Err(LinkError::Full);
        }
        let codes: BTreeMap<String, String> = identities
            .iter()
            .filter(|i| !verified.contains(i))
            .map(|i| (i.clone(), new_code()))
            .collect();
        let pending = Pending {
            id: new_id(),
            name: name.to_owned(),
            identities: identities.to_vec(),
            codes: codes.clone(),
            verified: verified.iter().cloned().collect(),
            expires_at_ms: now_ms + ttl_ms(),
            failures: 0,
        };
        let started = Started {
            link_id: pending.id.clone(),
            expires_at_ms: pending.expires_at_ms,
            codes: codes.into_iter().collect(),
        };
        links.push(pending);
        Ok(started)
    }

    /// The links waiting now.
    pub fn list(&self, now_ms: i64) -> Vec<PendingLink> {
        self.lock(now_ms).iter().map(Pending::info).collect()
    }

    /// Verifies the identities whose codes these are. A single wrong code refuses them all.
    pub fn confirm(
        &self,
        link_id: &str,
        codes: &[String],
        now_ms: i64,
    ) -> Result<Progress, LinkError> {
        let mut links = self.lock(now_ms);
        let index = links
            .iter()
            .position(|l| l.id == link_id)
            .ok_or_else(|| LinkError::UnknownLink(link_id.to_owned()))?;
        let owners: Option<Vec<String>> =
            codes.iter().map(|c| links[index].code_owner(c)).collect();
        let Some(owners) = owners else {
            return Err(fail(&mut links, index));
        };
        links[index].verified.extend(owners);
        Ok(progress(&mut links, index))
    }

    /// `/link <code>` from `sender`: verifies the identity the code was sent to, and the sender,
    /// in a link that holds both. `Ok(None)`: the sender is in no pending link.
    pub fn confirm_from(
        &self,
        sender: &str,
        code: &str,
        now_ms: i64,
    ) -> Result<Option<Progress>, LinkError> {
        let mut links = self.lock(now_ms);
        let mut member = None;
        for (index, link) in links.iter().enumerate() {
            if !link.identities.iter().any(|i| i == sender) {
                continue;
            }
            member = Some(index);
            if let Some(owner) = link.code_owner(code).filter(|o| o != sender) {
                let link = &mut links[index];
                link.verified.insert(owner);
                link.verified.insert(sender.to_owned());
                return Ok(Some(progress(&mut links, index)));
            }
        }
        match member {
            Some(index) => Err(fail(&mut links, index)),
            None => Ok(None),
        }
    }
}

fn fail(links: &mut Vec<Pending>, index: usize) -> LinkError {
    links[index].failures += 1;
    if links[index].failures >= MAX_FAILURES {
        links.remove(index);
        LinkError::TooManyFailures
    } else {
        LinkError::WrongCode
    }
}

fn progress(links: &mut Vec<Pending>, index: usize) -> Progress {
    if links[index].complete() {
        let done = links.remove(index);
        Progress::Complete {
            name: done.name,
            identities: done.identities,
        }
    } else {
        let link = &links[index];
        Progress::Waiting {
            name: link.name.clone(),
            missing: link
                .identities
                .iter()
                .filter(|i| !link.verified.contains(*i))
                .cloned()
                .collect(),
        }
    }
}

/// Where an identity last wrote to the bot directly: `(account, chat id)`.
pub async fn direct_chat(rt: &Runtime, identity: &str) -> Result<(String, String), String> {
    let (channel, id) = parse_identity(identity)?;
    if channel == "webchat" {
        return Err(format!("`{identity}` has no chat to send a code to"));
    }
    match rt.store.latest_direct_chat(channel, id).await {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(format!(
            "`{identity}` never wrote to Hearth; ask them to message the bot first"
        )),
        Err(e) => Err(format!("the store failed: {e}")),
    }
}

/// Queues `text` to `identity` in its latest direct chat with the bot.
pub async fn send_to(rt: &Arc<Runtime>, identity: &str, text: &str) -> Result<(), String> {
    let (channel, _) = parse_identity(identity)?;
    let (account, chat_id) = direct_chat(rt, identity).await?;
    let handle = rt
        .channels
        .handle(channel, &account)
        .ok_or_else(|| format!("the {channel} account `{account}` is not running"))?;
    if handle.adapter.get().is_none() {
        return Err(format!(
            "the {channel} account `{account}` is not connected yet"
        ));
    }
    let target = Target {
        peer_kind: PeerKind::Direct,
        chat_id,
        thread_id: None,
        reply_to: None,
    };
    crate::channels::inbound::queue_text(rt, &handle, &target, text, None).await;
    Ok(())
}

/// The text that carries a code.
pub fn code_text(identity: &str, others: &[String], code: &str) -> String {
    format!(
        "Someone is linking your account {identity} with {} as one person on Hearth. If that is \
         you, your code is **{code}** (valid for 10 minutes): give it to Hearth's owner, or send \
         `/link {code}` from one of those other accounts. If it is not you, ignore this message.",
        others.join(", ")
    )
}

/// `/link ...` or `/unlink` sent in a chat; answers what to reply.
pub async fn chat_command(
    rt: &Arc<Runtime>,
    inbound: &Inbound,
    command: &crate::commands::SlashCommand,
) -> String {
    use crate::commands::SlashCommand;
    if inbound.peer_kind != PeerKind::Direct {
        return "Send that to me in a direct message.".to_owned();
    }
    let sender = format!("{}:{}", inbound.channel, inbound.sender_id);
    let result = match command {
        SlashCommand::Unlink => unlink_sender(rt, &sender).await,
        SlashCommand::Link(arg) if arg.contains(':') => {
            start_from_chat(rt, inbound, &sender, arg).await
        }
        SlashCommand::Link(code) => confirm_from_chat(rt, &sender, code).await,
        _ => return String::new(),
    };
    result.unwrap_or_else(|e| e)
}

async fn unlink_sender(rt: &Arc<Runtime>, sender: &str) -> Result<String, String> {
    match methods_agents::unlink_identity(rt, sender).await {
        Ok(name) => Ok(format!(
            "Unlinked: {sender} is no longer part of `{name}`; it has its own conversations again."
        )),
        Err(e) => Err(e.message),
    }
}

async fn confirm_from_chat(rt: &Arc<Runtime>, sender: &str, code: &str) -> Result<String, String> {
    let progress = rt
        .channels
        .links
        .confirm_from(sender, code, rt.now_ms())
        .map_err(|e| match e {
            LinkError::WrongCode => {
                "That code is not right (codes expire after 10 minutes).".to_owned()
            }
            other => other.to_string(),
        })?;
    match progress {
        None => Err(
            "No link is waiting for a code from you. Start one with `/link <channel>:<id>`."
                .to_owned(),
        ),
        Some(Progress::Waiting { missing, .. }) => Ok(format!(
            "Verified. Still waiting for the code sent to {}.",
            missing.join(", ")
        )),
        Some(Progress::Complete { name, identities }) => {
            methods_agents::write_link(rt, &name, &identities)
                .await
                .map_err(|e| e.message)?;
            Ok(format!(
                "Linked: {} are now one person (`{name}`), sharing conversations and memory.",
                identities.join(" and ")
            ))
        }
    }
}

async fn start_from_chat(
    rt: &Arc<Runtime>,
    inbound: &Inbound,
    sender: &str,
    other: &str,
) -> Result<String, String> {
    let other = other.trim();
    parse_identity(other)?;
    if other == sender {
        return Err("That is this account itself.".to_owned());
    }
    if other == OWNER_IDENTITY {
        return Err(
            "The Control UI's owner links accounts from the Control UI or with `hearth identity link`."
                .to_owned(),
        );
    }
    let live = rt.live();
    let links = &live.config.session.identity_links;
    let linked = |identity: &str| {
        links
            .iter()
            .find(|(_, ids)| ids.iter().any(|i| i == identity))
            .map(|(n, _)| n.clone())
    };
    let name = match (linked(sender), linked(other)) {
        (Some(a), Some(b)) if a != b => {
            return Err(format!(
                "{sender} is linked as `{a}` and {other} as `{b}`; unlink one of them first (`/unlink`)."
            ));
        }
        (Some(a), Some(_)) => return Err(format!("Already linked as `{a}`.")),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => fresh_name(inbound.sender_name.as_deref(), links),
    };
    direct_chat(rt, other).await?;
    let identities = vec![sender.to_owned(), other.to_owned()];
    let started = rt
        .channels
        .links
        .start(&name, &identities, &[sender.to_owned()], rt.now_ms())
        .map_err(|e| e.to_string())?;
    for (identity, code) in &started.codes {
        let text = format!(
            "{sender} asks to link with your account {identity} as one person on Hearth. If that \
             is you, send `/link {code}` from {sender} (valid for 10 minutes). If it is not you, \
             ignore this message."
        );
        send_to(rt, identity, &text).await?;
    }
    tracing::info!(%sender, %other, link = %started.link_id, "identity link requested in a chat");
    Ok(format!(
        "I sent a code to {other}. Send `/link <code>` here within 10 minutes to link the two."
    ))
}

/// A link name not used yet, from the person's display name when it makes one.
fn fresh_name(display: Option<&str>, links: &BTreeMap<String, Vec<String>>) -> String {
    let base: String = display
        .unwrap_or_default()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .chars()
        .take(32)
        .collect();
    let base = if valid_link_name(&base) {
        base
    } else {
        "person".to_owned()
    };
    (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|candidate| !links.contains_key(candidate))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn identities_are_channel_and_id() {
        assert_eq!(parse_identity("matrix:@a:hs").unwrap(), ("matrix", "@a:hs"));
        assert!(parse_identity("telegram:").is_err());
        assert!(
            parse_identity("irc:1")
                .unwrap_err()
                .contains("not a channel")
        );
        assert!(parse_identity("webchat:guest").is_err());
        assert!(parse_identity("webchat:owner").is_ok());
    }

    #[test]
    fn every_code_must_be_right() {
        let links = PendingLinks::default();
        let started = links
            .start(
                "ann",
                &ids(&["telegram:1", "discord:2", "webchat:owner"]),
                &ids(&["webchat:owner"]),
                0,
            )
            .unwrap();
        assert_eq!(started.codes.len(), 2);
        assert!(
            started
                .codes
                .iter()
                .all(|(_, c)| c.len() == 6 && c.chars().all(|d| d.is_ascii_digit()))
        );
        let code = |who: &str| {
            started
                .codes
                .iter()
                .find(|(i, _)| i == who)
                .unwrap()
                .1
                .clone()
        };
        let wrong = if code("telegram:1") == "000000" {
            "000001"
        } else {
            "000000"
        };
        assert_eq!(
            links.confirm(&started.link_id, &[code("telegram:1"), wrong.to_owned()], 1),
            Err(LinkError::WrongCode)
        );
        assert!(
            links.list(1)[0].verified == ids(&["webchat:owner"]),
            "nothing verified"
        );
        assert_eq!(
            links.confirm(&started.link_id, &[code("telegram:1")], 1),
            Ok(Progress::Waiting {
                name: "ann".into(),
                missing: ids(&["discord:2"])
            })
        );
        assert_eq!(
            links.confirm(&started.link_id, &[format!(" {} ", code("discord:2"))], 2),
            Ok(Progress::Complete {
                name: "ann".into(),
                identities: ids(&["telegram:1", "discord:2", "webchat:owner"])
            })
        );
        assert!(links.list(2).is_empty());
    }

    #[test]
    fn codes_expire_and_wrong_guesses_cancel() {
        let links = PendingLinks::default();
        let started = links
            .start("ann", &ids(&["telegram:1", "discord:2"]), &[], 0)
            .unwrap();
        let ttl = ttl_ms();
        assert_eq!(links.list(ttl - 1).len(), 1);
        assert!(links.list(ttl).is_empty());
        let started2 = links
            .start("ann", &ids(&["telegram:1", "discord:2"]), &[], ttl)
            .unwrap();
        assert_ne!(started.link_id, started2.link_id);
        let code = &started2.codes[0].1;
        let wrong = if code == "123456" { "654321" } else { "123456" };
        for _ in 1..MAX_FAILURES {
            assert_eq!(
                links.confirm(&started2.link_id, &[wrong.to_owned()], ttl),
                Err(LinkError::WrongCode)
            );
        }
        assert_eq!(
            links.confirm(&started2.link_id, &[wrong.to_owned()], ttl),
            Err(LinkError::TooManyFailures)
        );
        assert_eq!(
            links.confirm(&started2.link_id, std::slice::from_ref(code), ttl),
            Err(LinkError::UnknownLink(started2.link_id.clone()))
        );
    }

    #[test]
    fn at_most_eight_links_wait() {
        let links = PendingLinks::default();
        for _ in 0..MAX_PENDING {
            links
                .start("a", &ids(&["telegram:1", "discord:2"]), &[], 0)
                .unwrap();
        }
        assert_eq!(
            links.start("a", &ids(&["telegram:1", "discord:2"]), &[], 0),
            Err(LinkError::Full)
        );
    }

    #[test]
    fn a_code_sent_in_chat_verifies_the_other_identity() {
        let links = PendingLinks::default();
        let started = links
            .start(
                "ann",
                &ids(&["discord:2", "telegram:1"]),
                &ids(&["discord:2"]),
                0,
            )
            .unwrap();
        let code = started.codes[0].1.clone();
        assert_eq!(started.codes[0].0, "telegram:1");
        assert_eq!(
            links.confirm_from("slack:U9", &code, 1),
            Ok(None),
            "not a member"
        );
        assert_eq!(
            links.confirm_from("telegram:1", &code, 1),
            Err(LinkError::WrongCode),
            "a code proves nothing on the account it was sent to"
        );
        assert_eq!(
            links.confirm_from("discord:2", &code, 1),
            Ok(Some(Progress::Complete {
                name: "ann".into(),
                identities: ids(&["discord:2", "telegram:1"])
            }))
        );
    }

    #[test]
    fn fresh_names_avoid_existing_links() {
        let mut links = BTreeMap::new();
        assert_eq!(fresh_name(Some("Ann Lee"), &links), "ann-lee");
        links.insert("ann-lee".to_owned(), Vec::new());
        assert_eq!(fresh_name(Some("Ann Lee"), &links), "ann-lee-2");
        assert_eq!(fresh_name(Some("😀"), &links), "person");
        assert_eq!(fresh_name(None, &links), "person");
    }
}
