//! One `m.room.message` event (already decrypted by the SDK) as an [`Inbound`].
//!
//! Follows the Client-Server API: rich replies (`m.in_reply_to`, with the legacy plain-text
//! reply fallback removed), threads (`rel_type: m.thread`), intentional mentions
//! (`m.mentions`), media captions (`body` differing from `filename`) and the voice-message
//! marker of MSC3245. Pure functions, so they are tested on JSON events without a server.

use matrix_sdk::ruma::OwnedEventId;
use matrix_sdk::ruma::OwnedUserId;
use matrix_sdk::ruma::events::room::MediaSource;
use matrix_sdk::ruma::events::room::message::sanitize::remove_plain_reply_fallback;
use matrix_sdk::ruma::events::room::message::{
    MessageType, OriginalSyncRoomMessageEvent, Relation,
};

use crate::{Attachment, AttachmentKind, Inbound, PeerKind};

/// Who the bot is in the rooms it reads.
#[derive(Debug, Clone)]
pub(super) struct Bot {
    pub(super) user_id: OwnedUserId,
    pub(super) display_name: Option<String>,
}

/// What the sync loop found out about the event's room and context.
#[derive(Debug, Clone, Default)]
pub(super) struct Facts {
    pub(super) account: String,
    /// Sync events carry no room id: the room they were synced in.
    pub(super) room_id: String,
    /// The room is a DM (`m.direct`) or has exactly two joined members.
    pub(super) direct: bool,
    pub(super) sender_name: Option<String>,
    /// The event replies to one of the bot's messages.
    pub(super) replies_to_bot: bool,
    /// The content carries MSC3245's `org.matrix.msc3245.voice` marker.
    pub(super) voice: bool,
}

/// Why an event is not handed to the gateway, or `None` when it is.
pub(super) fn skip_reason(ev: &OriginalSyncRoomMessageEvent, bot: &Bot) -> Option<&'static str> {
    if ev.sender == bot.user_id {
        return Some("the bot's own message");
    }
    if matches!(ev.content.relates_to, Some(Relation::Replacement(_))) {
        return Some("an edit of an earlier message");
    }
    match &ev.content.msgtype {
        // Bots send notices (the spec asks them to), and answering them risks bot loops.
        MessageType::Notice(_) | MessageType::ServerNotice(_) => Some("a notice"),
        MessageType::VerificationRequest(_) => Some("a verification request"),
        _ => None,
    }
}

/// The event this one replies to (a rich reply, or a reply inside a thread).
pub(super) fn replied_event(ev: &OriginalSyncRoomMessageEvent) -> Option<OwnedEventId> {
    match &ev.content.relates_to {
        Some(Relation::Reply(reply)) => Some(reply.in_reply_to.event_id.clone()),
        Some(Relation::Thread(thread)) if !thread.is_falling_back => {
            thread.in_reply_to.as_ref().map(|r| r.event_id.clone())
        }
        _ => None,
    }
}

pub(super) fn to_inbound(ev: &OriginalSyncRoomMessageEvent, bot: &Bot, facts: &Facts) -> Inbound {
    let room_id = facts.room_id.clone();
    let thread_root = match &ev.content.relates_to {
        Some(Relation::Thread(thread)) => Some(thread.event_id.to_string()),
        _ => None,
    };
    let reply_to = replied_event(ev).map(|id| id.to_string());

    let (body, attachment) = body_and_attachment(&ev.content.msgtype, facts.voice);
    let body = if reply_to.is_some() {
        remove_plain_reply_fallback(&body).to_owned()
    } else {
        body
    };
    let names = mention_names(bot);
    let mentioned_by_field = ev
        .content
        .mentions
        .as_ref()
        .is_some_and(|m| m.user_ids.contains(&bot.user_id));
    let mentioned_in_text = names.iter().any(|n| contains_word(&body, n));
    let text = strip_leading_mention(&body, &names);

    let (peer_kind, parent_id) = match (&thread_root, facts.direct) {
        (Some(_), _) => (PeerKind::Thread, Some(room_id.clone())),
        (None, true) => (PeerKind::Direct, None),
        (None, false) => (PeerKind::Group, None),
    };

    Inbound {
        channel: "matrix".to_owned(),
        account: facts.account.clone(),
        peer_kind,
        chat_id: room_id,
        thread_id: thread_root,
        parent_id,
        sender_id: ev.sender.to_string(),
        sender_name: facts.sender_name.clone(),
        text,
        mentions_bot: mentioned_by_field || mentioned_in_text || facts.replies_to_bot,
        reply_to,
        attachments: attachment.into_iter().collect(),
        message_id: ev.event_id.to_string(),
        timestamp_ms: i64::try_from(u64::from(ev.origin_server_ts.get())).unwrap_or(i64::MAX),
        guild_id: None,
        roles: Vec::new(),
        team_id: None,
    }
}

/// The text of a message and the file it carries, if any.
fn body_and_attachment(msgtype: &MessageType, voice: bool) -> (String, Option<Attachment>) {
    let media = |kind: AttachmentKind,
                 mime: Option<&String>,
                 size: Option<u64>,
                 name: &str,
                 source: &MediaSource,
                 caption: Option<&str>| {
        let attachment = Attachment {
            kind,
            mime: mime.cloned(),
            size,
            name: Some(name.to_owned()).filter(|n| !n.is_empty()),
            source: serde_json::to_string(source).unwrap_or_default(),
        };
        (caption.unwrap_or_default().to_owned(), Some(attachment))
    };
    match msgtype {
        MessageType::Image(c) => {
            let info = c.info.as_deref();
            media(
                AttachmentKind::Image,
                info.and_then(|i| i.mimetype.as_ref()),
                info.and_then(|i| i.size).map(u64::from),
                c.filename(),
                &c.source,
                c.caption(),
            )
        }
        MessageType::File(c) => {
            let info = c.info.as_deref();
            media(
                AttachmentKind::Document,
                info.and_then(|i| i.mimetype.as_ref()),
                info.and_then(|i| i.size).map(u64::from),
                c.filename(),
                &c.source,
                c.caption(),
            )
        }
        MessageType::Audio(c) => {
            let info = c.info.as_deref();
            media(
                if voice {
                    AttachmentKind::Voice
                } else {
                    AttachmentKind::Audio
                },
                info.and_then(|i| i.mimetype.as_ref()),
                info.and_then(|i| i.size).map(u64::from),
                c.filename(),
                &c.source,
                c.caption(),
            )
        }
        MessageType::Video(c) => {
            let info = c.info.as_deref();
            media(
                AttachmentKind::Video,
                info.and_then(|i| i.mimetype.as_ref()),
                info.and_then(|i| i.size).map(u64::from),
                c.filename(),
                &c.source,
                c.caption(),
            )
        }
        other => (other.body().to_owned(), None),
    }
}

/// How people refer to the bot in text: its user id, and its display name.
fn mention_names(bot: &Bot) -> Vec<String> {
    let mut names = vec![bot.user_id.to_string()];
    if let Some(name) = bot.display_name.as_deref().map(str::trim)
        && !name.is_empty()
    {
        names.push(name.to_owned());
    }
    names
}

/// Whether `needle` occurs in `haystack` (ignoring case) as a whole word: a display name
/// `Ai` must not match inside `said`.
fn contains_word(haystack: &str, needle: &str) -> bool {
    let hay = haystack.to_lowercase();
    let needle = needle.to_lowercase();
    if needle.is_empty() {
        return false;
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    hay.match_indices(&needle).any(|(at, _)| {
        !word(hay[..at].chars().next_back()) && !word(hay[at + needle.len()..].chars().next())
    })
}

/// The text without a leading mention of the bot ("Hearth: hello" → "hello").
fn strip_leading_mention(body: &str, names: &[String]) -> String {
    let trimmed = body.trim_start();
    for name in names {
        let Some(head) = trimmed.get(..name.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(name) && head.to_lowercase() != name.to_lowercase() {
            continue;
        }
        let rest = &trimmed[name.len()..];
        if rest
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let rest = rest.trim_start_matches([':', ',']).trim_start();
        return rest.to_owned();
    }
    body.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use matrix_sdk::ruma::owned_user_id;
    use serde_json::json;

    use super::*;

    fn bot() -> Bot {
        Bot {
            user_id: owned_user_id!("@hearth:example.org"),
            display_name: Some("Hearth".into()),
        }
    }

    fn event(content: serde_json::Value) -> OriginalSyncRoomMessageEvent {
        serde_json::from_value(json!({
            "type": "m.room.message",
            "event_id": "$ev1",
            "sender": "@alice:example.org",
            "origin_server_ts": 1_700_000_000_000_u64,
            "content": content,
        }))
        .expect("event")
    }

    fn facts(direct: bool) -> Facts {
        Facts {
            account: "default".into(),
            room_id: "!room:example.org".into(),
            direct,
            sender_name: Some("Alice".into()),
            ..Facts::default()
        }
    }

    fn translate(ev: &OriginalSyncRoomMessageEvent, facts: &Facts) -> Inbound {
        to_inbound(ev, &bot(), facts)
    }

    #[test]
    fn a_direct_message_is_translated() {
        let ev = event(json!({"msgtype": "m.text", "body": "hello"}));
        assert_eq!(skip_reason(&ev, &bot()), None);
        let inbound = translate(&ev, &facts(true));
        assert_eq!(inbound.channel, "matrix");
        assert_eq!(inbound.peer_kind, PeerKind::Direct);
        assert_eq!(inbound.chat_id, "!room:example.org");
        assert_eq!(inbound.sender_id, "@alice:example.org");
        assert_eq!(inbound.sender_name.as_deref(), Some("Alice"));
        assert_eq!(inbound.text, "hello");
        assert_eq!(inbound.message_id, "$ev1");
        assert_eq!(inbound.timestamp_ms, 1_700_000_000_000);
        assert!(!inbound.mentions_bot);
    }

    #[test]
    fn mentions_are_found_and_stripped() {
        let pill = event(json!({
            "msgtype": "m.text",
            "body": "Hearth: what time is it?",
            "m.mentions": {"user_ids": ["@hearth:example.org"]},
        }));
        let inbound = translate(&pill, &facts(false));
        assert_eq!(inbound.peer_kind, PeerKind::Group);
        assert!(inbound.mentions_bot);
        assert_eq!(inbound.text, "what time is it?");

        let by_id = event(json!({"msgtype": "m.text", "body": "@hearth:example.org, hi"}));
        let inbound = translate(&by_id, &facts(false));
        assert!(inbound.mentions_bot);
        assert_eq!(inbound.text, "hi");

        let inside = event(json!({"msgtype": "m.text", "body": "ask hearth later"}));
        assert!(translate(&inside, &facts(false)).mentions_bot);

        let none = event(json!({"msgtype": "m.text", "body": "hearthstone is a game"}));
        let inbound = translate(&none, &facts(false));
        assert!(!inbound.mentions_bot);
        assert_eq!(inbound.text, "hearthstone is a game");
    }

    #[test]
    fn replies_and_threads() {
        let reply = event(json!({
            "msgtype": "m.text",
            "body": "> <@hearth:example.org> earlier answer\n\nthanks",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$bot1"}},
        }));
        assert_eq!(
            replied_event(&reply).map(|e| e.to_string()).as_deref(),
            Some("$bot1")
        );
        let inbound = translate(
            &reply,
            &Facts {
                replies_to_bot: true,
                ..facts(false)
            },
        );
        assert_eq!(inbound.text, "thanks");
        assert_eq!(inbound.reply_to.as_deref(), Some("$bot1"));
        assert!(inbound.mentions_bot);

        let thread = event(json!({
            "msgtype": "m.text",
            "body": "in the thread",
            "m.relates_to": {
                "rel_type": "m.thread",
                "event_id": "$root",
                "is_falling_back": true,
                "m.in_reply_to": {"event_id": "$latest"},
            },
        }));
        assert_eq!(replied_event(&thread), None);
        let inbound = translate(&thread, &facts(true));
        assert_eq!(inbound.peer_kind, PeerKind::Thread);
        assert_eq!(inbound.thread_id.as_deref(), Some("$root"));
        assert_eq!(inbound.parent_id.as_deref(), Some("!room:example.org"));
        assert_eq!(inbound.reply_to, None);
    }

    #[test]
    fn media_becomes_an_attachment() {
        let image = event(json!({
            "msgtype": "m.image",
            "body": "look at this",
            "filename": "cat.png",
            "url": "mxc://example.org/abc",
            "info": {"mimetype": "image/png", "size": 1234},
        }));
        let inbound = translate(&image, &facts(true));
        assert_eq!(inbound.text, "look at this");
        let a = &inbound.attachments[0];
        assert_eq!(a.kind, AttachmentKind::Image);
        assert_eq!(a.mime.as_deref(), Some("image/png"));
        assert_eq!(a.size, Some(1234));
        assert_eq!(a.name.as_deref(), Some("cat.png"));
        let source: MediaSource = serde_json::from_str(&a.source).expect("source");
        assert!(
            matches!(source, MediaSource::Plain(ref u) if u.as_str() == "mxc://example.org/abc")
        );

        let encrypted = event(json!({
            "msgtype": "m.file",
            "body": "report.pdf",
            "file": {
                "url": "mxc://example.org/enc",
                "key": {"kty": "oct", "key_ops": ["encrypt", "decrypt"], "alg": "A256CTR",
                        "k": "aWF6-32KGYaC3A_FEUCk1Bt0JA37zP0wrStgmdCaW-0", "ext": true},
                "iv": "w+sE15fzSc0AAAAAAAAAAA",
                "hashes": {"sha256": "fdSLu/YkRx3Wyh3KQabP3rd6+SFiKg5lsJZQHtkSAYA"},
                "v": "v2",
            },
        }));
        let inbound = translate(&encrypted, &facts(true));
        assert_eq!(inbound.text, "", "no caption when body is the file name");
        let a = &inbound.attachments[0];
        assert_eq!(a.kind, AttachmentKind::Document);
        let source: MediaSource = serde_json::from_str(&a.source).expect("source");
        assert!(matches!(source, MediaSource::Encrypted(_)));

        let voice = event(json!({
            "msgtype": "m.audio",
            "body": "voice.ogg",
            "url": "mxc://example.org/v",
            "org.matrix.msc3245.voice": {},
        }));
        let inbound = translate(
            &voice,
            &Facts {
                voice: true,
                ..facts(true)
            },
        );
        assert_eq!(inbound.attachments[0].kind, AttachmentKind::Voice);
    }

    #[test]
    fn own_messages_notices_and_edits_are_skipped() {
        let mut own = event(json!({"msgtype": "m.text", "body": "hi"}));
        own.sender = owned_user_id!("@hearth:example.org");
        assert!(skip_reason(&own, &bot()).is_some());
        let notice = event(json!({"msgtype": "m.notice", "body": "I am a bot"}));
        assert!(skip_reason(&notice, &bot()).is_some());
        let edit = event(json!({
            "msgtype": "m.text",
            "body": "* fixed",
            "m.new_content": {"msgtype": "m.text", "body": "fixed"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$ev0"},
        }));
        assert!(skip_reason(&edit, &bot()).is_some());
    }
}
