//! A Telegram [`Update`] as Hearth's [`Inbound`]: who wrote where, whether the bot was meant,
//! and which files came along (<https://core.telegram.org/bots/api#message>).

use crate::{Attachment, AttachmentKind, Inbound, PeerKind};

use super::api::{Me, Message, MessageEntity, Update};

/// The message an update carries, as an [`Inbound`]; `None` for what Hearth does not take:
/// update kinds it does not know, service messages (no text, no file), and messages from bots.
pub(super) fn from_update(update: &Update, me: &Me, account: &str) -> Option<Inbound> {
    let (message, channel_post) = if let Some(m) = &update.message {
        (m, false)
    } else if let Some(m) = &update.edited_message {
        (m, false)
    } else if let Some(m) = &update.channel_post {
        (m, true)
    } else {
        tracing::debug!(
            update_id = update.update_id,
            "telegram update of a kind Hearth does not take"
        );
        return None;
    };
    from_message(message, channel_post, me, account)
}

fn from_message(message: &Message, channel_post: bool, me: &Me, account: &str) -> Option<Inbound> {
    // A channel's own posts mirrored into its discussion group: the channel already said it.
    if message.is_automatic_forward {
        return None;
    }
    let (sender_id, sender_name) = match (&message.sender_chat, &message.from) {
        // Channel posts and anonymous group admins speak as a chat (`from` is then a
        // placeholder bot, which must not get the message dropped as a bot's).
        (Some(chat), _) => (
            chat.id.to_string(),
            chat.title.clone().or_else(|| chat.username.clone()),
        ),
        (None, Some(user)) => {
            if user.is_bot || user.id == me.id {
                return None;
            }
            (user.id.to_string(), display_name(user))
        }
        (None, None) if channel_post => (message.chat.id.to_string(), message.chat.title.clone()),
        (None, None) => return None,
    };

    let (text, entities) = match (&message.text, &message.caption) {
        (Some(text), _) => (text.as_str(), &message.entities),
        (None, Some(caption)) => (caption.as_str(), &message.caption_entities),
        (None, None) => ("", &message.entities),
    };
    let attachments = attachments(message);
    if text.trim().is_empty() && attachments.is_empty() {
        return None;
    }

    let topic = message
        .message_thread_id
        .filter(|_| message.is_topic_message);
    let peer_kind = match message.chat.kind.as_str() {
        "private" => PeerKind::Direct,
        "channel" => PeerKind::Channel,
        _ if channel_post => PeerKind::Channel,
        _ if topic.is_some() => PeerKind::Thread,
        _ => PeerKind::Group,
    };
    let chat_id = message.chat.id.to_string();
    // In a forum topic every message that quotes nothing points at the topic's first message;
    // that is the topic, not a reply.
    let reply = message
        .reply_to_message
        .as_deref()
        .filter(|r| Some(r.message_id) != topic);
    let replies_to_bot = reply
        .and_then(|r| r.from.as_ref())
        .is_some_and(|u| u.id == me.id);

    Some(Inbound {
        channel: "telegram".to_owned(),
        account: account.to_owned(),
        peer_kind,
        chat_id: chat_id.clone(),
        thread_id: topic.map(|t| t.to_string()),
        parent_id: topic.map(|_| chat_id),
        sender_id,
        sender_name,
        text: strip_leading_mention(text, &me.username).to_owned(),
        mentions_bot: replies_to_bot || mentions(text, entities, me),
        reply_to: reply.map(|r| r.message_id.to_string()),
        attachments,
        message_id: message.message_id.to_string(),
        timestamp_ms: message.date.saturating_mul(1000),
        guild_id: None,
        roles: Vec::new(),
        team_id: None,
    })
}

fn display_name(user: &super::api::User) -> Option<String> {
    let name = match &user.last_name {
        Some(last) if !last.is_empty() => format!("{} {last}", user.first_name),
        _ => user.first_name.clone(),
    };
    let name = name.trim();
    if name.is_empty() {
        user.username.clone()
    } else {
        Some(name.to_owned())
    }
}

/// Whether an entity names the bot: `@username`, a `text_mention` of its user, or a command
/// addressed to it (`/start@username`).
fn mentions(text: &str, entities: &[MessageEntity], me: &Me) -> bool {
    entities.iter().any(|e| match e.kind.as_str() {
        "mention" => utf16_slice(text, e.offset, e.length)
            .and_then(|s| s.strip_prefix('@'))
            .is_some_and(|name| !me.username.is_empty() && name.eq_ignore_ascii_case(&me.username)),
        "text_mention" => e.user.as_ref().is_some_and(|u| u.id == me.id),
        "bot_command" => utf16_slice(text, e.offset, e.length)
            .and_then(|s| s.split_once('@'))
            .is_some_and(|(_, name)| {
                !me.username.is_empty() && name.eq_ignore_ascii_case(&me.username)
            }),
        _ => false,
    })
}

/// The part of `text` an entity covers; Telegram counts offsets in UTF-16 code units.
fn utf16_slice(text: &str, offset: usize, length: usize) -> Option<&str> {
    let mut units = 0;
    let mut start = None;
    for (i, c) in text.char_indices() {
        if units == offset {
            start = Some(i);
        }
        if units == offset + length {
            return start.map(|s| &text[s..i]);
        }
        units += c.len_utf16();
    }
    if units == offset + length {
        if units == offset {
            start = Some(text.len());
        }
        return start.map(|s| &text[s..]);
    }
    None
}

/// `text` without a leading `@username` of the bot (and the `,`/`:` and spaces after it).
fn strip_leading_mention<'a>(text: &'a str, username: &str) -> &'a str {
    if username.is_empty() {
        return text;
    }
    let trimmed = text.trim_start();
    let Some(rest) = trimmed.strip_prefix('@') else {
        return text;
    };
    let Some(head) = rest.get(..username.len()) else {
        return text;
    };
    let tail = &rest[username.len()..];
    let ends_there = !tail
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    if !head.eq_ignore_ascii_case(username) || !ends_there {
        return text;
    }
    tail.trim_start_matches([',', ':']).trim_start()
}

fn attachments(message: &Message) -> Vec<Attachment> {
    let mut out = Vec::new();
    // Telegram lists a photo's sizes smallest first; the largest is the one worth reading.
    if let Some(photo) = message
        .photo
        .iter()
        .max_by_key(|p| (p.width * p.height, p.file_size.unwrap_or(0)))
    {
        out.push(Attachment {
            kind: AttachmentKind::Image,
            mime: Some("image/jpeg".to_owned()),
            size: photo.file_size,
            name: None,
            source: photo.file_id.clone(),
        });
    }
    let files = [
        (&message.animation, AttachmentKind::Video, "video/mp4"),
        (&message.audio, AttachmentKind::Audio, "audio/mpeg"),
        (&message.voice, AttachmentKind::Voice, "audio/ogg"),
        (&message.video, AttachmentKind::Video, "video/mp4"),
        (&message.video_note, AttachmentKind::Video, "video/mp4"),
    ];
    for (file, kind, default_mime) in files {
        if let Some(f) = file {
            out.push(Attachment {
                kind,
                mime: Some(
                    f.mime_type
                        .clone()
                        .unwrap_or_else(|| default_mime.to_owned()),
                ),
                size: f.file_size,
                name: f.file_name.clone(),
                source: f.file_id.clone(),
            });
        }
    }
    // An animation also comes as `document`, for old clients; one copy is enough.
    if let Some(f) = message
        .document
        .as_ref()
        .filter(|_| message.animation.is_none())
    {
        out.push(Attachment {
            kind: AttachmentKind::Document,
            mime: f.mime_type.clone(),
            size: f.file_size,
            name: f.file_name.clone(),
            source: f.file_id.clone(),
        });
    }
    if let Some(s) = &message.sticker {
        let mime = if s.is_video {
            "video/webm"
        } else if s.is_animated {
            "application/x-tgsticker"
        } else {
            "image/webp"
        };
        out.push(Attachment {
            kind: AttachmentKind::Sticker,
            mime: Some(mime.to_owned()),
            size: s.file_size,
            name: None,
            source: s.file_id.clone(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn me() -> Me {
        Me {
            id: 42,
            username: "hearth_bot".to_owned(),
        }
    }

    fn parse(update: serde_json::Value) -> Option<Inbound> {
        let update: Update = serde_json::from_value(update).expect("update");
        from_update(&update, &me(), "default")
    }

    fn group_update(text: &str, entities: serde_json::Value) -> serde_json::Value {
        json!({"update_id": 1, "message": {
            "message_id": 10,
            "from": {"id": 5, "is_bot": false, "first_name": "Ann", "last_name": "Lee"},
            "chat": {"id": -100, "type": "group", "title": "G"},
            "date": 1_700_000_000,
            "text": text,
            "entities": entities,
        }})
    }

    #[test]
    fn direct_messages_map_every_field() {
        let inbound = parse(json!({"update_id": 1, "message": {
            "message_id": 10,
            "from": {"id": 5, "is_bot": false, "first_name": "", "username": "ann"},
            "chat": {"id": 5, "type": "private"},
            "date": 1_700_000_000,
            "text": "hello",
        }}))
        .expect("inbound");
        assert_eq!(inbound.peer_kind, PeerKind::Direct);
        assert_eq!(inbound.chat_id, "5");
        assert_eq!(inbound.sender_id, "5");
        assert_eq!(inbound.sender_name.as_deref(), Some("ann"));
        assert_eq!(inbound.message_id, "10");
        assert_eq!(inbound.timestamp_ms, 1_700_000_000_000);
        assert!(!inbound.mentions_bot);
    }

    #[test]
    fn mentions_count_in_utf16_units() {
        // "😀 " is three UTF-16 units, so the mention starts at offset 3.
        let inbound = parse(group_update(
            "😀 @Hearth_Bot hi",
            json!([{"type": "mention", "offset": 3, "length": 11}]),
        ))
        .expect("inbound");
        assert!(inbound.mentions_bot);
        assert_eq!(inbound.sender_name.as_deref(), Some("Ann Lee"));
        let other = parse(group_update(
            "@someone hi",
            json!([{"type": "mention", "offset": 0, "length": 8}]),
        ))
        .expect("inbound");
        assert!(!other.mentions_bot);
        let command = parse(group_update(
            "/start@hearth_bot",
            json!([{"type": "bot_command", "offset": 0, "length": 17}]),
        ))
        .expect("inbound");
        assert!(command.mentions_bot);
        let text_mention = parse(group_update(
            "Hearth, hi",
            json!([{"type": "text_mention", "offset": 0, "length": 6, "user": {"id": 42}}]),
        ))
        .expect("inbound");
        assert!(text_mention.mentions_bot);
    }

    #[test]
    fn a_leading_mention_is_stripped() {
        assert_eq!(strip_leading_mention("@hearth_bot hi", "hearth_bot"), "hi");
        assert_eq!(
            strip_leading_mention(" @HEARTH_BOT: hi", "hearth_bot"),
            "hi"
        );
        assert_eq!(
            strip_leading_mention("@hearth_bot2 hi", "hearth_bot"),
            "@hearth_bot2 hi"
        );
        assert_eq!(
            strip_leading_mention("hi @hearth_bot", "hearth_bot"),
            "hi @hearth_bot"
        );
        assert_eq!(strip_leading_mention("@hé", "hearth_bot"), "@hé");
        assert_eq!(utf16_slice("ab", 2, 0), Some(""));
        assert_eq!(utf16_slice("ab", 1, 5), None);
    }

    #[test]
    fn forum_topics_are_threads_and_their_root_is_no_reply() {
        let inbound = parse(json!({"update_id": 1, "message": {
            "message_id": 11,
            "message_thread_id": 7,
            "is_topic_message": true,
            "from": {"id": 5, "first_name": "Ann"},
            "chat": {"id": -1001, "type": "supergroup", "is_forum": true},
            "date": 1,
            "text": "in a topic",
            "reply_to_message": {"message_id": 7, "from": {"id": 42, "is_bot": true},
                                 "forum_topic_created": {"name": "T"}},
        }}))
        .expect("inbound");
        assert_eq!(inbound.peer_kind, PeerKind::Thread);
        assert_eq!(inbound.chat_id, "-1001");
        assert_eq!(inbound.thread_id.as_deref(), Some("7"));
        assert_eq!(inbound.parent_id.as_deref(), Some("-1001"));
        assert_eq!(inbound.reply_to, None);
        assert!(!inbound.mentions_bot);
    }

    #[test]
    fn replies_to_the_bot_mention_it() {
        let inbound = parse(json!({"update_id": 1, "message": {
            "message_id": 12,
            "from": {"id": 5, "first_name": "Ann"},
            "chat": {"id": -100, "type": "supergroup"},
            "date": 1,
            "text": "and then?",
            "reply_to_message": {"message_id": 9, "from": {"id": 42, "is_bot": true}},
        }}))
        .expect("inbound");
        assert!(inbound.mentions_bot);
        assert_eq!(inbound.reply_to.as_deref(), Some("9"));
        assert_eq!(inbound.peer_kind, PeerKind::Group);
    }

    #[test]
    fn channel_posts_speak_as_the_channel() {
        let inbound = parse(json!({"update_id": 1, "channel_post": {
            "message_id": 3,
            "sender_chat": {"id": -1002, "type": "channel", "title": "News"},
            "chat": {"id": -1002, "type": "channel", "title": "News"},
            "date": 1,
            "caption": "look",
            "document": {"file_id": "D", "file_name": "a.pdf", "mime_type": "application/pdf", "file_size": 9},
        }}))
        .expect("inbound");
        assert_eq!(inbound.peer_kind, PeerKind::Channel);
        assert_eq!(inbound.sender_id, "-1002");
        assert_eq!(inbound.sender_name.as_deref(), Some("News"));
        assert_eq!(inbound.text, "look");
        assert_eq!(inbound.attachments.len(), 1);
        assert_eq!(inbound.attachments[0].kind, AttachmentKind::Document);
        assert_eq!(inbound.attachments[0].name.as_deref(), Some("a.pdf"));
    }

    #[test]
    fn bots_service_messages_and_unknown_kinds_are_skipped() {
        assert!(
            parse(json!({"update_id": 1, "message": {
            "message_id": 1, "from": {"id": 6, "is_bot": true, "first_name": "B"},
            "chat": {"id": -100, "type": "group"}, "date": 1, "text": "beep"}}))
            .is_none()
        );
        assert!(
            parse(json!({"update_id": 1, "message": {
            "message_id": 1, "from": {"id": 5, "first_name": "A"},
            "chat": {"id": -100, "type": "group"}, "date": 1, "new_chat_members": []}}))
            .is_none()
        );
        assert!(parse(json!({"update_id": 1, "poll": {"id": "p"}})).is_none());
    }

    #[test]
    fn files_become_attachments() {
        let inbound = parse(json!({"update_id": 1, "message": {
            "message_id": 1, "from": {"id": 5, "first_name": "A"},
            "chat": {"id": 5, "type": "private"}, "date": 1,
            "photo": [
                {"file_id": "small", "width": 90, "height": 90, "file_size": 10},
                {"file_id": "big", "width": 1280, "height": 960, "file_size": 900}
            ],
            "voice": {"file_id": "V", "duration": 2},
            "sticker": {"file_id": "S", "is_animated": false, "is_video": true},
        }}))
        .expect("inbound");
        let kinds: Vec<_> = inbound
            .attachments
            .iter()
            .map(|a| (a.kind, a.source.as_str(), a.mime.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            [
                (AttachmentKind::Image, "big", Some("image/jpeg")),
                (AttachmentKind::Voice, "V", Some("audio/ogg")),
                (AttachmentKind::Sticker, "S", Some("video/webm")),
            ]
        );
        assert_eq!(inbound.attachments[0].size, Some(900));
    }
}
