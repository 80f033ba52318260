//! Slack events as [`Inbound`] envelopes.
//!
//! The same `event_callback` body arrives over both transports: as the HTTP body of an Events
//! API request (<https://api.slack.com/apis/events-api#callback-field>) and as the `payload` of
//! a Socket Mode `events_api` envelope (<https://api.slack.com/apis/socket-mode>). The adapter
//! takes `message` (<https://api.slack.com/events/message>) and `app_mention`
//! (<https://api.slack.com/events/app_mention>); a mention arrives as both, with the same
//! `channel` and `ts`, so both become the same `message_id` and the gateway keeps one.

use serde::Deserialize;

use crate::{Attachment, AttachmentKind, Inbound, PeerKind};

/// An Events API request body (`event_callback`, `url_verification`, `app_rate_limited`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct EventCallback {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) team_id: String,
    pub(super) event_id: String,
    pub(super) event: Event,
    /// Only in `url_verification`.
    pub(super) challenge: String,
}

/// The inner `event` of a callback; only the fields of message-like events are read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct Event {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) subtype: Option<String>,
    pub(super) channel: String,
    /// `im`, `mpim`, `group`, `channel`; absent on `app_mention`.
    pub(super) channel_type: Option<String>,
    pub(super) user: Option<String>,
    pub(super) bot_id: Option<String>,
    pub(super) text: String,
    pub(super) ts: String,
    pub(super) thread_ts: Option<String>,
    /// In a thread reply: who wrote the thread's first message.
    pub(super) parent_user_id: Option<String>,
    pub(super) files: Vec<File>,
    pub(super) team: Option<String>,
}

/// A file shared with a message (<https://api.slack.com/types/file>).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct File {
    pub(super) id: String,
    pub(super) name: Option<String>,
    pub(super) title: Option<String>,
    pub(super) mimetype: Option<String>,
    /// `slack_audio` for a recorded clip.
    pub(super) subtype: Option<String>,
    pub(super) size: Option<u64>,
    pub(super) url_private: Option<String>,
}

/// Who the bot is, from `auth.test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Me {
    pub(super) user_id: String,
    pub(super) name: String,
    pub(super) team_id: String,
}

/// Message subtypes that are someone writing to the bot; the rest (edits, deletions, joins,
/// channel topic changes, bot messages) are not.
const TAKEN_SUBTYPES: [&str; 2] = ["file_share", "thread_broadcast"];

/// The envelope for `callback`, or `None` when it is nothing to answer: another event type,
/// a bot (including this one), a subtype that is not a message someone wrote.
/// `sender_name` is left for the caller, which looks it up.
pub(super) fn inbound(callback: &EventCallback, me: &Me, account: &str) -> Option<Inbound> {
    let event = &callback.event;
    let is_mention = match event.kind.as_str() {
        "app_mention" => true,
        "message" => false,
        _ => return None,
    };
    if event
        .subtype
        .as_deref()
        .is_some_and(|s| !TAKEN_SUBTYPES.contains(&s))
    {
        return None;
    }
    if event.bot_id.is_some() {
        return None;
    }
    let user = event.user.as_deref().filter(|u| !u.is_empty())?;
    if user == me.user_id || event.channel.is_empty() || event.ts.is_empty() {
        return None;
    }
    let thread = event
        .thread_ts
        .as_deref()
        .filter(|t| !t.is_empty() && *t != event.ts);
    let peer_kind = match thread {
        Some(_) => PeerKind::Thread,
        None => peer_kind(event.channel_type.as_deref(), &event.channel),
    };
    let mentions_bot = is_mention
        || mentions(&event.text, &me.user_id)
        || (thread.is_some() && event.parent_user_id.as_deref() == Some(me.user_id.as_str()));
    let team_id = Some(callback.team_id.as_str())
        .filter(|t| !t.is_empty())
        .or(event.team.as_deref())
        .or(Some(me.team_id.as_str()).filter(|t| !t.is_empty()))
        .map(str::to_owned);
    Some(Inbound {
        channel: "slack".to_owned(),
        account: account.to_owned(),
        peer_kind,
        chat_id: event.channel.clone(),
        thread_id: thread.map(str::to_owned),
        parent_id: thread.map(|_| event.channel.clone()),
        sender_id: user.to_owned(),
        sender_name: None,
        text: strip_leading_mention(&event.text, &me.user_id).to_owned(),
        mentions_bot,
        reply_to: thread.map(str::to_owned),
        attachments: event.files.iter().filter_map(attachment).collect(),
        message_id: event.ts.clone(),
        timestamp_ms: ts_millis(&event.ts),
        guild_id: None,
        roles: Vec::new(),
        team_id,
    })
}

/// Direct for a DM, Group for a multi-person DM or private channel, Channel otherwise. Events
/// without `channel_type` (`app_mention`) fall back to the id's prefix: `D` is a DM, `G` a
/// (legacy) private channel.
fn peer_kind(channel_type: Option<&str>, channel: &str) -> PeerKind {
    match channel_type {
        Some("im") => PeerKind::Direct,
        Some("mpim" | "group") => PeerKind::Group,
        Some(_) => PeerKind::Channel,
        None if channel.starts_with('D') => PeerKind::Direct,
        None if channel.starts_with('G') => PeerKind::Group,
        None => PeerKind::Channel,
    }
}

/// Whether `text` mentions `user_id` the way Slack encodes it: `<@U123>` or `<@U123|name>`.
fn mentions(text: &str, user_id: &str) -> bool {
    let open = format!("<@{user_id}");
    text.match_indices(&open)
        .any(|(at, _)| matches!(text[at + open.len()..].chars().next(), Some('>' | '|')))
}

/// `text` without a mention of the bot at its start (and the space after it).
fn strip_leading_mention<'a>(text: &'a str, user_id: &str) -> &'a str {
    let trimmed = text.trim_start();
    let Some(rest) = trimmed
        .strip_prefix("<@")
        .and_then(|r| r.strip_prefix(user_id))
    else {
        return text;
    };
    let rest = if let Some(rest) = rest.strip_prefix('>') {
        rest
    } else if rest.starts_with('|') {
        match rest.find('>') {
            Some(end) => &rest[end + 1..],
            None => return text,
        }
    } else {
        return text;
    };
    rest.trim_start_matches([' ', ':', ',']).trim_start()
}

fn attachment(file: &File) -> Option<Attachment> {
    // Files hidden by the workspace's plan or deleted ("tombstone") have no URL to fetch.
    let source = file.url_private.clone().filter(|u| !u.is_empty())?;
    let mime = file.mimetype.clone().filter(|m| !m.is_empty());
    let kind = match mime.as_deref().unwrap_or_default() {
        _ if file.subtype.as_deref() == Some("slack_audio") => AttachmentKind::Voice,
        m if m.starts_with("image/") => AttachmentKind::Image,
        m if m.starts_with("audio/") => AttachmentKind::Audio,
        m if m.starts_with("video/") => AttachmentKind::Video,
        _ => AttachmentKind::Document,
    };
    Some(Attachment {
        kind,
        mime,
        size: file.size,
        name: file
            .name
            .clone()
            .or_else(|| file.title.clone())
            .filter(|n| !n.is_empty()),
        source,
    })
}

/// A Slack `ts` (`"1355517523.000005"`: seconds, then microseconds) in milliseconds.
pub(super) fn ts_millis(ts: &str) -> i64 {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    let secs: i64 = secs.parse().unwrap_or(0);
    let millis: i64 = frac
        .chars()
        .chain(std::iter::repeat('0'))
        .take(3)
        .collect::<String>()
        .parse()
        .unwrap_or(0);
    secs.saturating_mul(1000).saturating_add(millis)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn me() -> Me {
        Me {
            user_id: "UBOT".to_owned(),
            name: "hearth".to_owned(),
            team_id: "T1".to_owned(),
        }
    }

    fn callback(event: serde_json::Value) -> EventCallback {
        serde_json::from_value(json!({
            "token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": "Ev1", "event_time": 1_700_000_000, "event": event,
            "authorizations": [{"user_id": "UBOT", "is_bot": true}]
        }))
        .expect("parses")
    }

    #[test]
    fn a_direct_message_becomes_an_inbound() {
        let cb = callback(json!({
            "type": "message", "channel": "D1", "channel_type": "im", "user": "U1",
            "text": "hello there", "ts": "1700000000.123456", "event_ts": "1700000000.123456",
            "blocks": [{"type": "rich_text"}], "client_msg_id": "abc"
        }));
        let inbound = inbound(&cb, &me(), "work").expect("taken");
        assert_eq!(inbound.channel, "slack");
        assert_eq!(inbound.account, "work");
        assert_eq!(inbound.peer_kind, PeerKind::Direct);
        assert_eq!(inbound.chat_id, "D1");
        assert_eq!(inbound.sender_id, "U1");
        assert_eq!(inbound.text, "hello there");
        assert_eq!(inbound.message_id, "1700000000.123456");
        assert_eq!(inbound.timestamp_ms, 1_700_000_000_123);
        assert_eq!(inbound.team_id.as_deref(), Some("T1"));
        assert!(!inbound.mentions_bot);
        assert_eq!(inbound.thread_id, None);
    }

    #[test]
    fn mentions_are_detected_and_stripped() {
        let cb = callback(json!({
            "type": "message", "channel": "C1", "channel_type": "channel", "user": "U1",
            "text": "<@UBOT> what is <@U2>'s plan?", "ts": "1.000001"
        }));
        let inbound = inbound(&cb, &me(), "a").expect("taken");
        assert!(inbound.mentions_bot);
        assert_eq!(inbound.peer_kind, PeerKind::Channel);
        assert_eq!(inbound.text, "what is <@U2>'s plan?");
        assert_eq!(strip_leading_mention("<@UBOT|hearth>: hi", "UBOT"), "hi");
        assert_eq!(strip_leading_mention("<@UBOTX> hi", "UBOT"), "<@UBOTX> hi");
        assert!(!mentions("<@UBOTX> hi", "UBOT"));
        assert!(mentions("ask <@UBOT|hearth>", "UBOT"));
    }

    #[test]
    fn app_mention_has_the_same_id_as_its_message() {
        let message = callback(json!({
            "type": "message", "channel": "G1", "channel_type": "group", "user": "U1",
            "text": "<@UBOT> hi", "ts": "5.000001"
        }));
        let mention = callback(json!({
            "type": "app_mention", "channel": "G1", "user": "U1",
            "text": "<@UBOT> hi", "ts": "5.000001", "event_ts": "5.000001"
        }));
        let a = inbound(&message, &me(), "a").expect("taken");
        let b = inbound(&mention, &me(), "a").expect("taken");
        assert_eq!(a, b);
        assert_eq!(a.peer_kind, PeerKind::Group);
    }

    #[test]
    fn thread_replies_carry_the_thread() {
        let cb = callback(json!({
            "type": "message", "subtype": "thread_broadcast", "channel": "C1",
            "channel_type": "channel", "user": "U1", "text": "more", "ts": "9.000002",
            "thread_ts": "9.000001", "parent_user_id": "UBOT"
        }));
        let inbound = inbound(&cb, &me(), "a").expect("taken");
        assert_eq!(inbound.peer_kind, PeerKind::Thread);
        assert_eq!(inbound.thread_id.as_deref(), Some("9.000001"));
        assert_eq!(inbound.parent_id.as_deref(), Some("C1"));
        assert_eq!(inbound.reply_to.as_deref(), Some("9.000001"));
        // A reply in a thread the bot started is addressed to it.
        assert!(inbound.mentions_bot);

        let root = callback(json!({
            "type": "message", "channel": "C1", "channel_type": "channel", "user": "U1",
            "text": "root", "ts": "9.000001", "thread_ts": "9.000001"
        }));
        assert_eq!(
            super::inbound(&root, &me(), "a").expect("taken").peer_kind,
            PeerKind::Channel
        );
    }

    #[test]
    fn bots_edits_and_other_events_are_ignored() {
        for event in [
            json!({"type": "message", "channel": "C1", "user": "U1", "bot_id": "B9", "text": "x", "ts": "1.1"}),
            json!({"type": "message", "channel": "C1", "user": "UBOT", "text": "x", "ts": "1.1"}),
            json!({"type": "message", "subtype": "message_changed", "channel": "C1", "ts": "1.1",
                   "message": {"user": "U1", "text": "y"}}),
            json!({"type": "message", "subtype": "channel_join", "channel": "C1", "user": "U1", "text": "x", "ts": "1.1"}),
            json!({"type": "reaction_added", "user": "U1", "reaction": "thumbsup"}),
            json!({"type": "message", "channel": "C1", "text": "no user", "ts": "1.1"}),
        ] {
            assert_eq!(
                inbound(&callback(event.clone()), &me(), "a"),
                None,
                "{event}"
            );
        }
    }

    #[test]
    fn shared_files_become_attachments() {
        let cb = callback(json!({
            "type": "message", "subtype": "file_share", "channel": "D1", "channel_type": "im",
            "user": "U1", "text": "look", "ts": "3.000001",
            "files": [
                {"id": "F1", "name": "cat.png", "mimetype": "image/png", "filetype": "png",
                 "size": 1234, "url_private": "https://files.slack.com/files-pri/T1-F1/cat.png"},
                {"id": "F2", "name": "notes.pdf", "mimetype": "application/pdf", "size": 10,
                 "url_private": "https://files.slack.com/files-pri/T1-F2/notes.pdf"},
                {"id": "F3", "mode": "tombstone"},
                {"id": "F4", "name": "clip.webm", "mimetype": "audio/webm", "subtype": "slack_audio",
                 "url_private": "https://files.slack.com/files-pri/T1-F4/clip.webm"}
            ]
        }));
        let inbound = inbound(&cb, &me(), "a").expect("taken");
        let kinds: Vec<_> = inbound.attachments.iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            [
                AttachmentKind::Image,
                AttachmentKind::Document,
                AttachmentKind::Voice
            ]
        );
        let image = &inbound.attachments[0];
        assert_eq!(image.mime.as_deref(), Some("image/png"));
        assert_eq!(image.size, Some(1234));
        assert_eq!(image.name.as_deref(), Some("cat.png"));
        assert_eq!(
            image.source,
            "https://files.slack.com/files-pri/T1-F1/cat.png"
        );
    }

    #[test]
    fn timestamps_parse_liberally() {
        assert_eq!(ts_millis("1355517523.000005"), 1_355_517_523_000);
        assert_eq!(ts_millis("1355517523.9"), 1_355_517_523_900);
        assert_eq!(ts_millis("12"), 12_000);
        assert_eq!(ts_millis("garbage"), 0);
    }
}
