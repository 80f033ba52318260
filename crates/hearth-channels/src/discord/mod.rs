//! Discord: one bot account, receiving over the Gateway WebSocket and sending over the REST API.
//!
//! Written against Discord's developer documentation (discord.com/developers/docs: Gateway,
//! Gateway Events, Opcodes and Status Codes, the Message and Channel resources, Rate Limits),
//! by hand on `reqwest` and `tokio-tungstenite`:
//!
//! - `gateway.rs` keeps the WebSocket up (heartbeats, resume, reconnect) and hands MESSAGE_CREATE
//!   dispatches, in order, to the gateway's sink;
//! - `inbound.rs` turns a message into an [`Inbound`] (DM, guild channel or thread; mentions;
//!   attachments);
//! - `api.rs` holds the wire shapes;
//! - this file is the REST side: send, edit, upload, typing, reactions, attachment downloads, and
//!   mapping Discord's error bodies (`{"message", "code"}`, a 429's `retry_after` in fractional
//!   seconds) to [`ChannelError`].
//!
//! Discord has no delivery acknowledgement: what the Gateway sent is the client's to keep, and a
//! resumed session replays only what the connection missed. So the adapter awaits the sink for
//! one message before it takes the next, and retries a refusing sink a few times.

mod api;
mod gateway;
mod inbound;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

use crate::http::{classify, retry_after_header, seconds, transport};
use crate::{
    AccountSettings, Attachment, ChannelAdapter, ChannelError, Content, Identity, Inbound,
    Outbound, RunContext, Sent, Target,
};
use inbound::{ChannelCache, Place};

/// Discord's REST API, version 10.
pub const DEFAULT_API_ROOT: &str = "https://discord.com/api/v10";
/// GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT.
pub const DEFAULT_INTENTS: u64 = 1 | (1 << 9) | (1 << 12) | (1 << 15);
/// Longest message content Discord accepts, in characters.
pub const MAX_TEXT_LEN: usize = 2000;

/// A Discord bot account.
pub struct Discord {
    account: String,
    http: reqwest::Client,
    api_root: Url,
    /// `Bot <token>`, marked sensitive so it never shows in Debug output.
    auth: HeaderValue,
    token: Token,
    intents: u64,
    /// The bot's user id, from READY (or a probe).
    bot_id: Mutex<Option<String>>,
    channels: Mutex<ChannelCache>,
    warned_empty: AtomicBool,
}

/// The raw token, needed in the Gateway's Identify and Resume payloads; never printed.
struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Debug for Discord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discord")
            .field("account", &self.account)
            .field("api_root", &self.api_root.as_str())
            .field("intents", &self.intents)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Discord {
    pub fn new(settings: AccountSettings, http: reqwest::Client) -> Result<Self, ChannelError> {
        let token = settings.require(&settings.token, "token")?.trim();
        // People paste the header value from examples; the token itself has no prefix.
        let token = token
            .strip_prefix("Bot ")
            .unwrap_or(token)
            .trim()
            .to_owned();
        let root = settings.api_root.as_deref().unwrap_or(DEFAULT_API_ROOT);
        let api_root = Url::parse(root)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
            .ok_or_else(|| {
                ChannelError::Config(format!(
                    "`apiRoot` of Discord account `{}` is not an http(s) URL",
                    settings.account_id
                ))
            })?;
        let mut auth = HeaderValue::from_str(&format!("Bot {token}")).map_err(|_| {
            ChannelError::Config(format!(
                "the `token` of Discord account `{}` has characters a bot token cannot have",
                settings.account_id
            ))
        })?;
        auth.set_sensitive(true);
        Ok(Discord {
            account: settings.account_id.clone(),
            http,
            api_root,
            auth,
            token: Token(token),
            intents: settings.intents.unwrap_or(DEFAULT_INTENTS),
            bot_id: Mutex::new(None),
            channels: Mutex::new(ChannelCache::default()),
            warned_empty: AtomicBool::new(false),
        })
    }

    /// `api_root` plus path segments, each percent-encoded (emoji in reaction paths).
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.api_root.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends an authenticated request; a non-2xx answer becomes the matching [`ChannelError`].
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response, ChannelError> {
        let response = request
            .header(AUTHORIZATION, self.auth.clone())
            .send()
            .await
            .map_err(|err| transport(&err, what))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(refusal(response, what).await)
        }
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<T, ChannelError> {
        self.call(request, what)
            .await?
            .json()
            .await
            .map_err(|err| transport(&err, what))
    }

    /// `GET /gateway/bot`: where to open the Gateway.
    async fn gateway_url(&self) -> Result<String, ChannelError> {
        let bot: api::GatewayBot = self
            .call_json(
                self.http.get(self.endpoint(&["gateway", "bot"])),
                "ask Discord for the gateway URL",
            )
            .await?;
        if bot.url.is_empty() {
            return Err(ChannelError::Transient(
                "Discord's /gateway/bot answer had no URL".to_owned(),
            ));
        }
        Ok(bot.url)
    }

    fn bot_id(&self) -> Option<String> {
        lock(&self.bot_id).clone()
    }

    fn set_bot_id(&self, id: String) {
        if !id.is_empty() {
            *lock(&self.bot_id) = Some(id);
        }
    }

    fn channels(&self) -> MutexGuard<'_, ChannelCache> {
        lock(&self.channels)
    }

    /// Where a message was posted; a guild channel not seen yet is looked up once.
    async fn place(&self, m: &api::Message) -> Place {
        if m.guild_id.is_none() {
            return Place::Direct;
        }
        let cached = self.channels().get(&m.channel_id);
        if let Some(place) = cached {
            return place;
        }
        let looked_up = self
            .call_json::<api::Channel>(
                self.http.get(self.endpoint(&["channels", &m.channel_id])),
                "look up a Discord channel",
            )
            .await;
        match looked_up {
            Ok(channel) => {
                let mut cache = self.channels();
                cache.learn(&channel);
                cache.get(&m.channel_id).unwrap_or(Place::Channel)
            }
            Err(err) => {
                tracing::debug!(error = %err, "treating an unknown Discord channel as a plain channel");
                Place::Channel
            }
        }
    }

    /// The envelope for a MESSAGE_CREATE, or `None` for what the gateway does not take.
    async fn inbound(&self, m: api::Message) -> Option<Inbound> {
        let bot_id = self.bot_id();
        if let Some(why) = inbound::ignored(&m, bot_id.as_deref()) {
            tracing::debug!(message_id = %m.id, why, "skipped a Discord message");
            return None;
        }
        if m.content.trim().is_empty() && m.attachments.is_empty() {
            if !self.warned_empty.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    account = %self.account,
                    "Discord sent a message without content: without the Message Content intent \
                     (in `intents` and enabled in the Developer Portal) a bot sees only DMs and \
                     messages that mention it"
                );
            }
            return None;
        }
        let place = self.place(&m).await;
        Some(inbound::to_inbound(
            m,
            place,
            bot_id.as_deref(),
            &self.account,
        ))
    }

    async fn upload(
        &self,
        channel: &str,
        target: &Target,
        path: &std::path::Path,
        mime: &str,
        name: &str,
        caption: Option<&str>,
    ) -> Result<Sent, ChannelError> {
        let bytes = tokio::fs::read(path).await.map_err(|err| {
            ChannelError::Permanent(format!("could not read the file to upload: {err}"))
        })?;
        let mut payload = json!({
            "content": caption.unwrap_or_default(),
            "attachments": [{"id": 0, "filename": name}],
            "allowed_mentions": {"parse": []},
        });
        if let Some(reply_to) = &target.reply_to {
            payload["message_reference"] = reference(reply_to);
        }
        let json_part = reqwest::multipart::Part::text(payload.to_string())
            .mime_str("application/json")
            .map_err(|err| transport(&err, "build the upload"))?;
        let mime = if usable_mime(mime) {
            mime
        } else {
            "application/octet-stream"
        };
        let file = reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str(mime)
            .map_err(|_| ChannelError::Permanent(format!("`{mime}` is not a media type")))?;
        let form = reqwest::multipart::Form::new()
            .part("payload_json", json_part)
            .part("files[0]", file);
        let message: api::Message = self
            .call_json(
                self.http
                    .post(self.endpoint(&["channels", channel, "messages"]))
                    .multipart(form),
                "upload a file to Discord",
            )
            .await?;
        Ok(Sent {
            message_id: message.id,
        })
    }
}

/// Whether `mime` looks like `type/subtype` (anything else is sent as octet-stream).
fn usable_mime(mime: &str) -> bool {
    mime.split_once('/')
        .is_some_and(|(kind, sub)| !kind.is_empty() && !sub.is_empty())
        && mime.chars().all(|c| c.is_ascii_graphic() || c == ' ')
}

/// Replies quote without failing when the quoted message is gone.
fn reference(message_id: &str) -> Value {
    json!({"message_id": message_id, "fail_if_not_exists": false})
}

/// A refused request as a [`ChannelError`]: the wait from the body's `retry_after` (else the
/// `Retry-After` header), Discord's own message and code for the text.
async fn refusal(response: reqwest::Response, what: &str) -> ChannelError {
    let status = response.status().as_u16();
    let header = retry_after_header(response.headers());
    let body = response.bytes().await.unwrap_or_default();
    let error: api::ApiError = serde_json::from_slice(&body).unwrap_or_default();
    let retry_after = error.retry_after.and_then(seconds).or(header);
    let detail = match (error.message.is_empty(), error.code) {
        (true, _) => what.to_owned(),
        (false, 0) => format!("{what}: {}", error.message),
        (false, code) => format!("{what}: {} (Discord code {code})", error.message),
    };
    if error.global {
        tracing::warn!(
            retry_after_ms = retry_after.map(|d| d.as_millis()),
            "Discord's global rate limit"
        );
    }
    classify(status, retry_after, &detail)
}

#[async_trait]
impl ChannelAdapter for Discord {
    fn capabilities(&self) -> crate::Capabilities {
        crate::Capabilities {
            edits: true,
            // Message edits share the channel's bucket of about 5 per 5 s.
            edit_interval: Duration::from_secs(1),
            reactions: true,
            typing: true,
            // The indicator lasts 10 s or until the bot's next message.
            typing_every: Duration::from_secs(8),
            threads: true,
            media: true,
            max_text_len: MAX_TEXT_LEN,
            format: "discord-markdown",
        }
    }

    async fn probe(&self) -> Result<Identity, ChannelError> {
        let me: api::User = self
            .call_json(
                self.http.get(self.endpoint(&["users", "@me"])),
                "check the Discord bot token",
            )
            .await?;
        self.set_bot_id(me.id.clone());
        Ok(Identity {
            name: me.display_tag(),
            id: me.id,
        })
    }

    async fn run(&self, ctx: RunContext) -> Result<(), ChannelError> {
        gateway::run(self, &ctx).await
    }

    fn render(&self, markdown: &str, limit: usize) -> Vec<String> {
        crate::split::render_chunks(
            markdown,
            limit.min(MAX_TEXT_LEN),
            crate::format::discord_markdown,
        )
    }

    async fn send(&self, out: &Outbound) -> Result<Sent, ChannelError> {
        // A thread is a channel of its own on Discord.
        let channel = out
            .target
            .thread_id
            .as_deref()
            .unwrap_or(&out.target.chat_id);
        match &out.content {
            Content::Text {
                text,
                edit_of: Some(message_id),
            } => {
                let message: api::Message = self
                    .call_json(
                        self.http
                            .patch(self.endpoint(&["channels", channel, "messages", message_id]))
                            .json(&json!({"content": text})),
                        "edit a Discord message",
                    )
                    .await?;
                Ok(Sent {
                    message_id: message.id,
                })
            }
            Content::Text {
                text,
                edit_of: None,
            } => {
                let mut body = json!({"content": text, "allowed_mentions": {"parse": []}});
                if let Some(reply_to) = &out.target.reply_to {
                    body["message_reference"] = reference(reply_to);
                }
                let message: api::Message = self
                    .call_json(
                        self.http
                            .post(self.endpoint(&["channels", channel, "messages"]))
                            .json(&body),
                        "send a Discord message",
                    )
                    .await?;
                Ok(Sent {
                    message_id: message.id,
                })
            }
            Content::Media {
                path,
                mime,
                name,
                caption,
                ..
            } => {
                self.upload(channel, &out.target, path, mime, name, caption.as_deref())
                    .await
            }
        }
    }

    async fn typing(&self, target: &Target) -> Result<(), ChannelError> {
        let channel = target.thread_id.as_deref().unwrap_or(&target.chat_id);
        self.call(
            self.http
                .post(self.endpoint(&["channels", channel, "typing"]))
                .body(""),
            "show typing on Discord",
        )
        .await?;
        Ok(())
    }

    async fn react(
        &self,
        target: &Target,
        message_id: &str,
        emoji: &str,
    ) -> Result<(), ChannelError> {
        let channel = target.thread_id.as_deref().unwrap_or(&target.chat_id);
        let url = self.endpoint(&[
            "channels",
            channel,
            "messages",
            message_id,
            "reactions",
            emoji,
            "@me",
        ]);
        self.call(self.http.put(url).body(""), "react on Discord")
            .await?;
        Ok(())
    }

    async fn fetch(&self, attachment: &Attachment, max_bytes: u64) -> Result<Bytes, ChannelError> {
        let too_big = || crate::http::too_big(max_bytes);
        if attachment.size.is_some_and(|size| size > max_bytes) {
            return Err(too_big());
        }
        let url = Url::parse(&attachment.source)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                ChannelError::Permanent("the Discord attachment has no usable URL".to_owned())
            })?;
        // Attachment URLs are signed CDN links: the bot token is never sent along.
        let what = "download a Discord attachment";
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|err| transport(&err, what))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return Err(match status {
                429 | 500..=599 => classify(status, retry_after_header(response.headers()), what),
                _ => ChannelError::Permanent(format!("{what} (HTTP {status})")),
            });
        }
        crate::http::read_limited(response, max_bytes, what).await
    }
}
