//! The normalised shapes every platform is translated to and from.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What kind of conversation a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerKind {
    /// A one-to-one conversation with the bot.
    Direct,
    /// A group chat (Telegram group, Matrix room with several people, Slack private channel).
    Group,
    /// A broadcast-like or public channel (Discord guild channel, Slack public channel).
    Channel,
    /// A thread or forum topic inside a group or channel.
    Thread,
}

impl PeerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PeerKind::Direct => "direct",
            PeerKind::Group => "group",
            PeerKind::Channel => "channel",
            PeerKind::Thread => "thread",
        }
    }
}

/// One inbound message, the same for every platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inbound {
    /// `telegram`, `discord`, `slack`, `matrix`, `webchat`.
    pub channel: String,
    /// The account (bot identity) that received it.
    pub account: String,
    pub peer_kind: PeerKind,
    /// Where the message was posted and where the answer goes: Telegram chat id, Discord channel
    /// id (a thread is a channel there), Slack channel id, Matrix room id.
    pub chat_id: String,
    /// Thread or forum topic inside `chat_id`: Telegram `message_thread_id`, Slack `thread_ts`,
    /// Matrix thread root event id, Discord thread channel id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// For a thread: the group or channel it belongs to (routing falls back to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// The platform's id of the person who wrote it.
    pub sender_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_name: Option<String>,
    /// The text, with a leading mention of the bot removed.
    pub text: String,
    /// The bot was mentioned (or replied to) in this message.
    #[serde(default)]
    pub mentions_bot: bool,
    /// The platform id of the message this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// The platform's id of this message; with channel and account it identifies the message,
    /// so a redelivery is recognised.
    pub message_id: String,
    /// When the platform says it was sent, in milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// Discord guild.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<String>,
    /// Discord roles of the sender in the guild.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Slack workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
}

impl Inbound {
    /// Where an answer to this message goes: the same chat and thread, replying to it.
    pub fn reply_target(&self) -> Target {
        Target {
            peer_kind: self.peer_kind,
            chat_id: self.chat_id.clone(),
            thread_id: self.thread_id.clone(),
            reply_to: Some(self.message_id.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttachmentKind {
    Image,
    Audio,
    /// A recorded voice note.
    Voice,
    Video,
    Document,
    Sticker,
}

/// A file that came with a message; its bytes are fetched on demand with
/// [`crate::ChannelAdapter::fetch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub kind: AttachmentKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// Size in bytes, when the platform says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The platform's handle to fetch it: Telegram `file_id`, Discord attachment URL, Slack
    /// `url_private`, Matrix `mxc://` URI (with its encryption info as JSON when encrypted).
    pub source: String,
}

/// Where an outbound message goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub peer_kind: PeerKind,
    pub chat_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// Quote this platform message (where the platform has replies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// One outbound message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outbound {
    pub target: Target,
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum Content {
    /// Text already rendered by [`crate::ChannelAdapter::render`] (one chunk, within the limit).
    /// With `edit_of`, the platform message with that id is edited to this text instead.
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        edit_of: Option<String>,
    },
    /// A file from disk (photo, document, voice note), with an optional rendered caption.
    Media {
        kind: AttachmentKind,
        path: PathBuf,
        mime: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
    },
}

/// What the platform answered to a send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    /// The platform id of the message (for later edits).
    pub message_id: String,
}

/// Who the bot is on the platform (from `getMe`, `users/@me`, `auth.test`, `whoami`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The platform's id of the bot user.
    pub id: String,
    /// Its name as people see it (`@hearth_bot`, `Hearth#1234`, `@hearth:example.org`).
    pub name: String,
}
