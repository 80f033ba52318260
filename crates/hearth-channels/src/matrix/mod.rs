//! Matrix, through the official SDK (`matrix-sdk`) with end-to-end encryption.
//!
//! Follows the Matrix Client-Server API (spec.matrix.org, v1.x): `/login` and `/whoami`,
//! `/sync`, `m.room.message` with `org.matrix.custom.html` bodies, rich replies, threads
//! (`m.thread`), edits (`m.replace`), reactions (`m.annotation`), typing notifications and the
//! authenticated media repository. Encryption (Olm/Megolm, key sharing, encrypted media) is the
//! SDK's: events arrive decrypted and sends to encrypted rooms are encrypted.
//!
//! The pieces: [`session`] opens the SQLite stores in the account's `stateDir` (encrypted with
//! the store passphrase) and logs in as the same device every start; [`sync`] receives;
//! [`inbound`] turns one event into an [`Inbound`]; [`errors`] classifies the SDK's errors.
//! Sending is here.

mod errors;
mod inbound;
mod session;
mod sync;

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use matrix_sdk::attachment::AttachmentConfig;
use matrix_sdk::media::{MediaFormat, MediaRequestParameters};
use matrix_sdk::room::reply::{EnforceThread, Reply as SdkReply};
use matrix_sdk::ruma::events::reaction::ReactionEventContent;
use matrix_sdk::ruma::events::relation::{Annotation, InReplyTo, Reply, Thread};
use matrix_sdk::ruma::events::room::MediaSource;
use matrix_sdk::ruma::events::room::message::Relation;
use matrix_sdk::ruma::events::room::message::{
    AddMentions, ReplacementMetadata, ReplyWithinThread, RoomMessageEventContent,
    TextMessageEventContent,
};
use matrix_sdk::ruma::{OwnedEventId, OwnedMxcUri, OwnedRoomId};
use matrix_sdk::{Client, Room};

use self::errors::sdk_error;
use self::session::Credentials;
use crate::{
    AccountSettings, Attachment, Capabilities, ChannelAdapter, ChannelError, Content, Identity,
    Outbound, RunContext, Sent, Target,
};

/// Matrix accepts events up to 64 KiB; with the HTML copy of the text and encryption's base64
/// on top, 16 000 characters of Markdown stay under it for ordinary text.
pub const MAX_TEXT_LEN: usize = 16_000;

/// Event ids of the bot's recent messages, so a reply to one is recognised without a request.
const REMEMBERED_SENT: usize = 512;

/// Which room invites the bot accepts (`autoJoin`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum AutoJoin {
    All,
    /// Only from these senders (the account's `allowFrom`).
    Allowlist(Vec<String>),
    None,
}

/// One Matrix account (bot user).
pub struct Matrix {
    settings: AccountSettings,
    homeserver: String,
    credentials: Credentials,
    auto_join: AutoJoin,
    /// The logged-in client, made on first use (by `run`, `probe` or a send) and kept, so the
    /// device logs in once per process.
    client: tokio::sync::Mutex<Option<Client>>,
    sent: Mutex<VecDeque<String>>,
}

impl std::fmt::Debug for Matrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matrix")
            .field("account", &self.settings.account_id)
            .field("homeserver", &self.homeserver)
            .field("credentials", &self.credentials)
            .field("auto_join", &self.auto_join)
            .finish_non_exhaustive()
    }
}

impl Matrix {
    /// Checks the settings; nothing connects and nothing is written until first use.
    pub fn new(settings: AccountSettings) -> Result<Self, ChannelError> {
        // The SDK's rustls is built with aws-lc-rs; other channels bring in ring. With both
        // compiled in, rustls wants the process default chosen, and an earlier choice stands.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

        let homeserver = settings
            .require(&settings.homeserver, "homeserver")?
            .trim_end_matches('/')
            .to_owned();
        let parsed = url::Url::parse(&homeserver).map_err(|e| {
            ChannelError::Config(format!("`homeserver` `{homeserver}` is not a URL: {e}"))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ChannelError::Config(format!(
                "`homeserver` must be an http(s) URL, not `{homeserver}`"
            )));
        }
        let credentials = Credentials::from_settings(&settings)?;
        let auto_join = match settings.auto_join.as_deref().map(str::trim) {
            None | Some("" | "all") => AutoJoin::All,
            Some("allowlist") => AutoJoin::Allowlist(settings.allow_from.clone()),
            Some("none") => AutoJoin::None,
            Some(other) => {
                return Err(ChannelError::Config(format!(
                    "`autoJoin` must be `all`, `allowlist` or `none`, not `{other}`"
                )));
            }
        };
        Ok(Matrix {
            settings,
            homeserver,
            credentials,
            auto_join,
            client: tokio::sync::Mutex::new(None),
            sent: Mutex::new(VecDeque::new()),
        })
    }

    /// The id of the device this account is logged in as, once it is.
    pub async fn device_id(&self) -> Option<String> {
        let client = self.client.lock().await;
        client
            .as_ref()
            .and_then(|c| c.device_id().map(ToString::to_string))
    }

    /// The logged-in client, logging in on first use.
    async fn client(&self) -> Result<Client, ChannelError> {
        let mut slot = self.client.lock().await;
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let client = session::connect(&self.settings, &self.homeserver, &self.credentials).await?;
        *slot = Some(client.clone());
        Ok(client)
    }

    /// Drops the client whose session the homeserver no longer accepts.
    async fn forget_client(&self) {
        *self.client.lock().await = None;
    }

    fn uses_password(&self) -> bool {
        matches!(self.credentials, Credentials::Password { .. })
    }

    fn remember_sent(&self, event_id: &str) {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        if sent.len() >= REMEMBERED_SENT {
            sent.pop_front();
        }
        sent.push_back(event_id.to_owned());
    }

    fn sent_by_us(&self, event_id: &str) -> bool {
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.iter().any(|id| id == event_id)
    }

    async fn room(&self, target: &Target) -> Result<Room, ChannelError> {
        let room_id = OwnedRoomId::try_from(target.chat_id.as_str()).map_err(|e| {
            ChannelError::Permanent(format!("`{}` is not a Matrix room id: {e}", target.chat_id))
        })?;
        let client = self.client().await?;
        client.get_room(&room_id).ok_or_else(|| {
            ChannelError::Permanent(format!("the bot is not in room {}", target.chat_id))
        })
    }

    async fn send_text(
        &self,
        room: &Room,
        target: &Target,
        markdown: &str,
        edit_of: Option<&str>,
    ) -> Result<Sent, ChannelError> {
        let plain = crate::format::plain_text(markdown);
        let html = crate::format::matrix_html(markdown);
        let mut content = RoomMessageEventContent::text_html(plain, html);
        if let Some(original) = edit_of {
            // An edit keeps the original's relations (thread, reply): only `m.replace` is set.
            content = content.make_replacement(ReplacementMetadata::new(event_id(original)?, None));
        } else {
            content.relates_to = relation(target)?;
        }
        let sent = room
            .send(content)
            .await
            .map_err(|e| sdk_error(&e, "Matrix send"))?;
        let id = sent.response.event_id.to_string();
        self.remember_sent(&id);
        Ok(Sent { message_id: id })
    }

    async fn send_media(
        &self,
        room: &Room,
        target: &Target,
        media: MediaToSend<'_>,
    ) -> Result<Sent, ChannelError> {
        let data = tokio::fs::read(media.path).await.map_err(|e| {
            ChannelError::Permanent(format!("could not read {}: {e}", media.path.display()))
        })?;
        let mime: mime::Mime = media.mime.parse().unwrap_or(mime::APPLICATION_OCTET_STREAM);
        let caption = media.caption.map(|c| {
            TextMessageEventContent::html(
                crate::format::plain_text(c),
                crate::format::matrix_html(c),
            )
        });
        let mut config = AttachmentConfig::new().caption(caption);
        config.reply = match (&target.thread_id, &target.reply_to) {
            (Some(root), reply_to) => Some(SdkReply {
                event_id: event_id(reply_to.as_deref().unwrap_or(root))?,
                enforce_thread: EnforceThread::Threaded(if reply_to.is_some() {
                    ReplyWithinThread::Yes
                } else {
                    ReplyWithinThread::No
                }),
                add_mentions: AddMentions::No,
            }),
            (None, Some(reply_to)) => Some(SdkReply {
                event_id: event_id(reply_to)?,
                enforce_thread: EnforceThread::MaybeThreaded,
                add_mentions: AddMentions::No,
            }),
            (None, None) => None,
        };
        let response = room
            .send_attachment(media.name, &mime, data, config)
            .await
            .map_err(|e| sdk_error(&e, "Matrix upload"))?;
        let id = response.event_id.to_string();
        self.remember_sent(&id);
        Ok(Sent { message_id: id })
    }
}

struct MediaToSend<'a> {
    path: &'a std::path::Path,
    mime: &'a str,
    name: &'a str,
    caption: Option<&'a str>,
}

fn event_id(id: &str) -> Result<OwnedEventId, ChannelError> {
    OwnedEventId::try_from(id)
        .map_err(|e| ChannelError::Permanent(format!("`{id}` is not a Matrix event id: {e}")))
}

/// The relation of a new message: in a thread (replying inside it, or following its root), or
/// a plain rich reply.
fn relation(
    target: &Target,
) -> Result<
    Option<
        Relation<matrix_sdk::ruma::events::room::message::RoomMessageEventContentWithoutRelation>,
    >,
    ChannelError,
> {
    Ok(match (&target.thread_id, &target.reply_to) {
        (Some(root), Some(reply_to)) => Some(Relation::Thread(Thread::reply(
            event_id(root)?,
            event_id(reply_to)?,
        ))),
        (Some(root), None) => {
            let root = event_id(root)?;
            Some(Relation::Thread(Thread::plain(root.clone(), root)))
        }
        (None, Some(reply_to)) => Some(Relation::Reply(Reply::new(InReplyTo::new(event_id(
            reply_to,
        )?)))),
        (None, None) => None,
    })
}

/// An attachment's `source` back as the SDK's [`MediaSource`]: the JSON the adapter wrote,
/// or a bare `mxc://` URI.
fn media_source(source: &str) -> Result<MediaSource, ChannelError> {
    if source.starts_with("mxc://") {
        return Ok(MediaSource::Plain(OwnedMxcUri::from(source)));
    }
    serde_json::from_str(source)
        .map_err(|e| ChannelError::Permanent(format!("not a Matrix media source: {e}")))
}

#[async_trait]
impl ChannelAdapter for Matrix {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            edits: true,
            edit_interval: Duration::from_secs(1),
            reactions: true,
            typing: true,
            typing_every: Duration::from_secs(20),
            threads: true,
            media: true,
            max_text_len: MAX_TEXT_LEN,
            format: "matrix-html",
        }
    }

    async fn probe(&self) -> Result<Identity, ChannelError> {
        let client = self.client().await?;
        let me = client
            .whoami()
            .await
            .map_err(|e| errors::login_error(&matrix_sdk::Error::from(e)))?;
        Ok(Identity {
            id: me.user_id.to_string(),
            name: me.user_id.to_string(),
        })
    }

    #[tracing::instrument(skip_all, fields(channel = "matrix", account = %self.settings.account_id))]
    async fn run(&self, ctx: RunContext) -> Result<(), ChannelError> {
        let client = tokio::select! {
            () = ctx.cancel.cancelled() => return Ok(()),
            c = self.client() => c?,
        };
        sync::run(self, client, &ctx).await
    }

    /// Markdown chunks: `send` converts each to the `formatted_body` HTML and a plain `body`,
    /// since a Matrix message carries both.
    fn render(&self, markdown: &str, limit: usize) -> Vec<String> {
        crate::split::split_markdown(markdown, limit.clamp(1, MAX_TEXT_LEN))
    }

    async fn send(&self, out: &Outbound) -> Result<Sent, ChannelError> {
        let room = self.room(&out.target).await?;
        match &out.content {
            Content::Text { text, edit_of } => {
                self.send_text(&room, &out.target, text, edit_of.as_deref())
                    .await
            }
            Content::Media {
                path,
                mime,
                name,
                caption,
                ..
            } => {
                let media = MediaToSend {
                    path,
                    mime,
                    name,
                    caption: caption.as_deref(),
                };
                self.send_media(&room, &out.target, media).await
            }
        }
    }

    async fn typing(&self, target: &Target) -> Result<(), ChannelError> {
        let room = self.room(target).await?;
        room.typing_notice(true)
            .await
            .map_err(|e| sdk_error(&e, "Matrix typing notice"))
    }

    async fn react(
        &self,
        target: &Target,
        message_id: &str,
        emoji: &str,
    ) -> Result<(), ChannelError> {
        let room = self.room(target).await?;
        let content =
            ReactionEventContent::new(Annotation::new(event_id(message_id)?, emoji.to_owned()));
        room.send(content)
            .await
            .map(|_| ())
            .map_err(|e| sdk_error(&e, "Matrix reaction"))
    }

    async fn fetch(&self, attachment: &Attachment, max_bytes: u64) -> Result<Bytes, ChannelError> {
        if attachment.size.is_some_and(|size| size > max_bytes) {
            return Err(ChannelError::Permanent(format!(
                "the attachment is larger than {max_bytes} bytes"
            )));
        }
        let source = media_source(&attachment.source)?;
        let client = self.client().await?;
        let request = MediaRequestParameters {
            source,
            format: MediaFormat::File,
        };
        let data = client
            .media()
            .get_media_content(&request, true)
            .await
            .map_err(|e| sdk_error(&e, "Matrix media download"))?;
        if data.len() as u64 > max_bytes {
            return Err(ChannelError::Permanent(format!(
                "the attachment is larger than {max_bytes} bytes"
            )));
        }
        Ok(Bytes::from(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PeerKind;

    fn settings() -> AccountSettings {
        AccountSettings {
            channel: "matrix".into(),
            account_id: "default".into(),
            homeserver: Some("https://matrix.example.org/".into()),
            user_id: Some("@bot:example.org".into()),
            password: Some("hunter2".into()),
            ..AccountSettings::default()
        }
    }

    #[test]
    fn settings_are_checked() {
        let err = Matrix::new(AccountSettings {
            homeserver: None,
            ..settings()
        })
        .expect_err("no homeserver");
        assert!(matches!(err, ChannelError::Config(_)));
        assert!(err.to_string().contains("homeserver"), "{err}");

        let err = Matrix::new(AccountSettings {
            auto_join: Some("sometimes".into()),
            ..settings()
        })
        .expect_err("bad autoJoin");
        assert!(err.to_string().contains("autoJoin"), "{err}");

        let matrix = Matrix::new(settings()).expect("valid");
        assert_eq!(matrix.homeserver, "https://matrix.example.org");
        assert_eq!(matrix.auto_join, AutoJoin::All);
        assert!(!format!("{matrix:?}").contains("hunter2"));
        assert_eq!(matrix.capabilities().format, "matrix-html");
    }

    #[test]
    fn relations_follow_the_target() {
        let target = |thread: Option<&str>, reply: Option<&str>| Target {
            peer_kind: PeerKind::Group,
            chat_id: "!r:example.org".into(),
            thread_id: thread.map(Into::into),
            reply_to: reply.map(Into::into),
        };
        let json = |t: Target| {
            let mut content = RoomMessageEventContent::text_plain("x");
            content.relates_to = relation(&t).expect("relation");
            serde_json::to_value(&content).expect("json")["m.relates_to"].clone()
        };
        assert_eq!(
            json(target(None, Some("$a")))["m.in_reply_to"]["event_id"],
            "$a"
        );
        let in_thread = json(target(Some("$root"), Some("$a")));
        assert_eq!(in_thread["rel_type"], "m.thread");
        assert_eq!(in_thread["event_id"], "$root");
        assert_eq!(in_thread["m.in_reply_to"]["event_id"], "$a");
        assert_eq!(json(target(None, None)), serde_json::Value::Null);
        assert!(relation(&target(None, Some("not-an-id"))).is_err());
    }

    #[test]
    fn media_sources_parse_back() {
        let plain = media_source("mxc://example.org/abc").expect("mxc");
        let json = serde_json::to_string(&plain).expect("json");
        assert!(matches!(media_source(&json), Ok(MediaSource::Plain(_))));
        assert!(media_source("nonsense").is_err());
    }
}
