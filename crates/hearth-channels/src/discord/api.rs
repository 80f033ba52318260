//! Discord's wire shapes, as the developer docs describe them (Gateway Events, Message and
//! Channel resources, Rate Limits), parsed liberally: every field defaults, unknown ones are
//! ignored.

use serde::Deserialize;
use serde_json::Value;

/// A Gateway payload (`op`, `d`, `s`, `t`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Payload {
    pub op: u8,
    pub d: Value,
    pub s: Option<u64>,
    pub t: Option<String>,
}

/// Hello (op 10).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Hello {
    pub heartbeat_interval: u64,
}

/// The READY dispatch: what a later Resume needs, and who the bot is.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Ready {
    pub session_id: String,
    pub resume_gateway_url: String,
    pub user: User,
}

/// `GET /gateway/bot`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct GatewayBot {
    pub url: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(super) struct User {
    pub id: String,
    pub username: String,
    pub global_name: Option<String>,
    pub discriminator: Option<String>,
    pub bot: bool,
}

impl User {
    /// `name#1234` for accounts that still have a discriminator, else the username.
    pub(super) fn display_tag(&self) -> String {
        match self.discriminator.as_deref() {
            Some(d) if !d.is_empty() && d != "0" => format!("{}#{d}", self.username),
            _ => self.username.clone(),
        }
    }
}

/// The partial guild member sent with MESSAGE_CREATE.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Member {
    pub roles: Vec<String>,
    pub nick: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Attachment {
    pub id: String,
    pub filename: String,
    pub content_type: Option<String>,
    pub size: Option<u64>,
    pub url: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct MessageReference {
    /// 0 a reply, 1 a forward.
    #[serde(rename = "type")]
    pub kind: u8,
    pub message_id: Option<String>,
}

/// A message object (MESSAGE_CREATE's `d`, plus `guild_id` and `member` there).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Message {
    pub id: String,
    pub channel_id: String,
    pub guild_id: Option<String>,
    pub author: User,
    pub member: Option<Member>,
    pub content: String,
    /// 0 default, 19 reply; others are system messages.
    #[serde(rename = "type")]
    pub kind: u32,
    pub flags: u64,
    pub mentions: Vec<User>,
    pub attachments: Vec<Attachment>,
    pub message_reference: Option<MessageReference>,
    pub referenced_message: Option<Box<Message>>,
    pub webhook_id: Option<String>,
}

/// A channel object: all the adapter needs is whether it is a thread, and its parent.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Channel {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: u8,
    pub parent_id: Option<String>,
}

impl Channel {
    /// Announcement (10), public (11) and private (12) threads.
    pub(super) fn is_thread(&self) -> bool {
        matches!(self.kind, 10..=12)
    }
}

/// GUILD_CREATE's channel lists.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct GuildCreate {
    pub channels: Vec<Channel>,
    pub threads: Vec<Channel>,
}

/// THREAD_LIST_SYNC.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ThreadListSync {
    pub threads: Vec<Channel>,
}

/// A REST error body: `{"message", "code"}`, and for a 429 `retry_after` in (fractional)
/// seconds and `global`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ApiError {
    pub message: String,
    pub code: u64,
    pub retry_after: Option<f64>,
    pub global: bool,
}

/// Milliseconds since the Unix epoch encoded in a snowflake id (the top 42 bits count
/// milliseconds since 2015-01-01).
pub(super) fn snowflake_ms(id: &str) -> Option<i64> {
    const DISCORD_EPOCH_MS: i64 = 1_420_070_400_000;
    let id = id.parse::<u64>().ok()?;
    i64::try_from(id >> 22).ok().map(|ms| ms + DISCORD_EPOCH_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_documented_message_create_parses() {
        // The shape of the docs' example message, with MESSAGE_CREATE's extra fields.
        let raw = r#"{
            "reactions": [{"count": 1, "me": false, "emoji": {"id": null, "name": "🔥"}}],
            "attachments": [{"id": "1", "filename": "a.png", "size": 10, "url": "https://cdn.discordapp.com/a.png",
                             "proxy_url": "https://media.discordapp.net/a.png", "content_type": "image/png"}],
            "tts": false, "embeds": [], "timestamp": "2017-07-11T17:27:07.299000+00:00",
            "mention_everyone": false, "id": "334385199974967042", "pinned": false,
            "edited_timestamp": null,
            "author": {"username": "Mason", "discriminator": "9999", "id": "53908099506183680", "avatar": "a_bab14f271d565501444b2ca3be944b25"},
            "mention_roles": [], "content": "Supa Hot", "channel_id": "290926798999357250",
            "mentions": [], "type": 0, "guild_id": "290926798626357250",
            "member": {"roles": ["41771983423143936"], "nick": null, "joined_at": "2017-01-01T00:00:00+00:00"},
            "referenced_message": null, "some_future_field": {"x": 1}
        }"#;
        let m: Message = serde_json::from_str(raw).expect("parses");
        assert_eq!(m.id, "334385199974967042");
        assert_eq!(m.author.display_tag(), "Mason#9999");
        assert_eq!(m.guild_id.as_deref(), Some("290926798626357250"));
        assert_eq!(
            m.member.map(|m| m.roles),
            Some(vec!["41771983423143936".to_owned()])
        );
        assert_eq!(m.attachments[0].content_type.as_deref(), Some("image/png"));
        assert!(m.referenced_message.is_none());
        // The docs' example id was minted 17 s after its `timestamp` (2017-07-11T17:27:07Z).
        assert_eq!(snowflake_ms(&m.id), Some(1_499_794_044_250));
        assert_eq!(snowflake_ms("not a number"), None);
    }

    #[test]
    fn a_rate_limit_body_parses() {
        let raw =
            r#"{"message": "You are being rate limited.", "retry_after": 0.25, "global": false}"#;
        let e: ApiError = serde_json::from_str(raw).expect("parses");
        assert_eq!(e.retry_after, Some(0.25));
        assert!(!e.global);
        let raw = r#"{"code": 50035, "errors": {"content": {"_errors": []}}, "message": "Invalid Form Body"}"#;
        let e: ApiError = serde_json::from_str(raw).expect("parses");
        assert_eq!((e.code, e.retry_after), (50035, None));
    }

    #[test]
    fn threads_are_told_by_channel_type() {
        for (kind, thread) in [
            (0, false),
            (1, false),
            (5, false),
            (10, true),
            (11, true),
            (12, true),
            (15, false),
        ] {
            let c = Channel {
                kind,
                ..Channel::default()
            };
            assert_eq!(c.is_thread(), thread, "type {kind}");
        }
    }
}
