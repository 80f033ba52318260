//! MESSAGE_CREATE to [`Inbound`]: which conversation a message belongs to (a DM, a guild channel,
//! or a thread, which Discord's message does not say; the adapter learns it from Gateway events
//! or `GET /channels/{id}` and keeps it in a [`ChannelCache`]), whether it is for the bot, and its
//! text without the leading mention.

use std::collections::HashMap;

use super::api::{self, Channel, Message};
use crate::{Attachment, AttachmentKind, Inbound, PeerKind};

/// Message flag IS_VOICE_MESSAGE.
const VOICE_MESSAGE_FLAG: u64 = 1 << 13;
/// Channels remembered at most; past it the cache starts over (entries are cheap to re-learn).
const MAX_CACHED: usize = 50_000;

/// Where a guild message was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Place {
    Direct,
    Channel,
    Thread { parent: Option<String> },
}

/// What the adapter knows of guild channels: thread or not, and a thread's parent.
#[derive(Debug, Default)]
pub(super) struct ChannelCache {
    known: HashMap<String, Place>,
}

impl ChannelCache {
    pub(super) fn learn(&mut self, channel: &Channel) {
        if channel.id.is_empty() {
            return;
        }
        if self.known.len() >= MAX_CACHED {
            self.known.clear();
        }
        let place = if channel.is_thread() {
            Place::Thread {
                parent: channel.parent_id.clone(),
            }
        } else {
            Place::Channel
        };
        self.known.insert(channel.id.clone(), place);
    }

    pub(super) fn forget(&mut self, id: &str) {
        self.known.remove(id);
    }

    pub(super) fn get(&self, id: &str) -> Option<Place> {
        self.known.get(id).cloned()
    }
}

/// Why a message is not for the gateway, if it is not: bots (this one included) and webhooks
/// are not people, and system messages (joins, pins, boosts) carry no text to answer.
pub(super) fn ignored(m: &Message, bot_id: Option<&str>) -> Option<&'static str> {
    if m.author.bot || m.webhook_id.is_some() {
        Some("written by a bot or a webhook")
    } else if bot_id.is_some_and(|me| me == m.author.id) {
        Some("the bot's own message")
    } else if !matches!(m.kind, 0 | 19) {
        Some("a system message")
    } else {
        None
    }
}

/// The envelope for a message the gateway takes.
pub(super) fn to_inbound(m: Message, place: Place, bot_id: Option<&str>, account: &str) -> Inbound {
    let mentions_bot = bot_id.is_some_and(|me| {
        m.mentions.iter().any(|u| u.id == me)
            || m.referenced_message
                .as_ref()
                .is_some_and(|r| r.author.id == me)
            || leading_mention(&m.content, me).is_some()
    });
    let text = match bot_id.and_then(|me| leading_mention(&m.content, me)) {
        Some(rest) => rest.to_owned(),
        None => m.content.clone(),
    };
    let (peer_kind, thread_id, parent_id) = match place {
        Place::Direct => (PeerKind::Direct, None, None),
        Place::Channel => (PeerKind::Channel, None, None),
        Place::Thread { parent } => (PeerKind::Thread, Some(m.channel_id.clone()), parent),
    };
    let voice = m.flags & VOICE_MESSAGE_FLAG != 0;
    let attachments = m
        .attachments
        .into_iter()
        .filter(|a| !a.url.is_empty())
        .map(|a| attachment(a, voice))
        .collect();
    let (nick, roles) = match m.member {
        Some(member) => (member.nick, member.roles),
        None => (None, Vec::new()),
    };
    let sender_name = [nick, m.author.global_name, Some(m.author.username)]
        .into_iter()
        .flatten()
        .find(|n| !n.is_empty());
    Inbound {
        channel: "discord".to_owned(),
        account: account.to_owned(),
        peer_kind,
        chat_id: m.channel_id,
        thread_id,
        parent_id,
        sender_id: m.author.id,
        sender_name,
        text,
        mentions_bot,
        reply_to: m
            .message_reference
            .filter(|r| r.kind == 0)
            .and_then(|r| r.message_id),
        attachments,
        timestamp_ms: api::snowflake_ms(&m.id).unwrap_or_else(now_ms),
        message_id: m.id,
        guild_id: m.guild_id,
        roles,
        team_id: None,
    }
}

/// The text after a leading `<@id>` or `<@!id>` of the bot, if the message starts with one.
fn leading_mention<'a>(content: &'a str, bot_id: &str) -> Option<&'a str> {
    let rest = content.trim_start().strip_prefix("<@")?;
    let rest = rest.strip_prefix('!').unwrap_or(rest);
    let rest = rest.strip_prefix(bot_id)?.strip_prefix('>')?;
    Some(rest.trim_start())
}

fn attachment(a: api::Attachment, voice: bool) -> Attachment {
    let mime = a.content_type.unwrap_or_default();
    let kind = match mime.split('/').next().unwrap_or_default() {
        "image" => AttachmentKind::Image,
        "audio" if voice => AttachmentKind::Voice,
        "audio" => AttachmentKind::Audio,
        "video" => AttachmentKind::Video,
        _ => AttachmentKind::Document,
    };
    Attachment {
        kind,
        mime: (!mime.is_empty()).then_some(mime),
        size: a.size,
        name: (!a.filename.is_empty()).then_some(a.filename),
        source: a.url,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOT: &str = "900";

    fn message(raw: serde_json::Value) -> Message {
        serde_json::from_value(raw).expect("a message")
    }

    #[test]
    fn a_guild_message_with_a_mention_is_for_the_bot() {
        let m = message(serde_json::json!({
            "id": "1200000000000000000", "channel_id": "50", "guild_id": "7", "type": 0,
            "content": "<@!900>  what time is it?",
            "author": {"id": "42", "username": "ann", "global_name": "Ann"},
            "member": {"roles": ["r1", "r2"], "nick": "Annie"},
            "mentions": [{"id": "900", "username": "Hearth", "bot": true}],
        }));
        assert_eq!(ignored(&m, Some(BOT)), None);
        let inbound = to_inbound(m, Place::Channel, Some(BOT), "default");
        assert_eq!(inbound.peer_kind, PeerKind::Channel);
        assert_eq!(inbound.text, "what time is it?");
        assert!(inbound.mentions_bot);
        assert_eq!(inbound.sender_name.as_deref(), Some("Annie"));
        assert_eq!(inbound.roles, ["r1", "r2"]);
        assert_eq!(inbound.guild_id.as_deref(), Some("7"));
        assert_eq!(inbound.channel, "discord");
        assert_eq!(
            inbound.timestamp_ms,
            (1_200_000_000_000_000_000_i64 >> 22) + 1_420_070_400_000
        );
    }

    #[test]
    fn a_reply_to_the_bot_counts_as_a_mention() {
        let m = message(serde_json::json!({
            "id": "2", "channel_id": "50", "guild_id": "7", "type": 19, "content": "and tomorrow?",
            "author": {"id": "42", "username": "ann"},
            "message_reference": {"type": 0, "message_id": "1"},
            "referenced_message": {"id": "1", "author": {"id": "900", "bot": true}, "content": "noon"},
        }));
        let inbound = to_inbound(m, Place::Channel, Some(BOT), "default");
        assert!(inbound.mentions_bot);
        assert_eq!(inbound.reply_to.as_deref(), Some("1"));
        assert_eq!(inbound.sender_name.as_deref(), Some("ann"));
        assert_eq!(inbound.text, "and tomorrow?");
    }

    #[test]
    fn mentions_elsewhere_or_of_others_are_kept() {
        assert_eq!(leading_mention("<@900> hi", BOT), Some("hi"));
        assert_eq!(leading_mention(" <@!900>hi", BOT), Some("hi"));
        assert_eq!(leading_mention("hi <@900>", BOT), None);
        assert_eq!(leading_mention("<@9001> hi", BOT), None);
        assert_eq!(leading_mention("<@&900> hi", BOT), None);
    }

    #[test]
    fn bots_webhooks_own_and_system_messages_are_ignored() {
        let base =
            serde_json::json!({"id": "1", "channel_id": "5", "type": 0, "author": {"id": "42"}});
        assert_eq!(ignored(&message(base.clone()), Some(BOT)), None);
        let mut own = base.clone();
        own["author"]["id"] = "900".into();
        assert!(ignored(&message(own), Some(BOT)).is_some());
        let mut bot = base.clone();
        bot["author"]["bot"] = true.into();
        assert!(ignored(&message(bot), Some(BOT)).is_some());
        let mut hook = base.clone();
        hook["webhook_id"] = "3".into();
        assert!(ignored(&message(hook), Some(BOT)).is_some());
        let mut pin = base;
        pin["type"] = 6.into();
        assert!(ignored(&message(pin), Some(BOT)).is_some());
    }

    #[test]
    fn threads_and_attachments_are_described() {
        let m = message(serde_json::json!({
            "id": "3", "channel_id": "77", "guild_id": "7", "type": 0, "content": "", "flags": 8192,
            "author": {"id": "42", "username": "ann"},
            "attachments": [
                {"id": "a", "filename": "voice-message.ogg", "size": 900, "url": "https://cdn/v.ogg", "content_type": "audio/ogg"},
                {"id": "b", "filename": "x.pdf", "size": 5, "url": "https://cdn/x.pdf", "content_type": "application/pdf"},
                {"id": "c", "filename": "y.png", "url": "https://cdn/y.png", "content_type": "image/png"},
            ],
        }));
        let parent = Some("50".to_owned());
        let inbound = to_inbound(m, Place::Thread { parent }, Some(BOT), "work");
        assert_eq!(inbound.peer_kind, PeerKind::Thread);
        assert_eq!(inbound.chat_id, "77");
        assert_eq!(inbound.thread_id.as_deref(), Some("77"));
        assert_eq!(inbound.parent_id.as_deref(), Some("50"));
        assert_eq!(inbound.account, "work");
        let kinds: Vec<_> = inbound.attachments.iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            [
                AttachmentKind::Voice,
                AttachmentKind::Document,
                AttachmentKind::Image
            ]
        );
        assert_eq!(inbound.attachments[0].size, Some(900));
        assert_eq!(inbound.attachments[1].name.as_deref(), Some("x.pdf"));
    }

    #[test]
    fn the_cache_learns_threads() {
        let mut cache = ChannelCache::default();
        let thread: Channel =
            serde_json::from_value(serde_json::json!({"id": "77", "type": 11, "parent_id": "50"}))
                .expect("channel");
        cache.learn(&thread);
        cache.learn(
            &serde_json::from_value(serde_json::json!({"id": "50", "type": 0})).expect("channel"),
        );
        assert_eq!(
            cache.get("77"),
            Some(Place::Thread {
                parent: Some("50".to_owned())
            })
        );
        assert_eq!(cache.get("50"), Some(Place::Channel));
        cache.forget("77");
        assert_eq!(cache.get("77"), None);
    }
}
