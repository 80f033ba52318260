//! Telegram, through the Bot API (<https://core.telegram.org/bots/api>).
//!
//! Receiving is by long polling ([`poll`], the default) or by webhook (`mode: "webhook"`: the
//! gateway's webhook route hands each request to [`ChannelAdapter::webhook`]). Either way an
//! update is acknowledged only once the sink took it: by the next `getUpdates` offset, or by
//! answering the webhook request with 200. Sending uses `parse_mode: "HTML"` with the markup of
//! [`crate::format::telegram_html`]; text Telegram cannot parse is sent once more as plain text.
//! Wire types and the HTTP client are in [`api`], the mapping to [`Inbound`](crate::Inbound) in
//! [`inbound`].

mod api;
mod inbound;
mod poll;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use tokio::sync::OnceCell;

use crate::{
    AccountSettings, Attachment, AttachmentKind, Capabilities, ChannelAdapter, ChannelError,
    Content, Identity, InboundSink, Outbound, RunContext, Sent, Target, WebhookReply,
    WebhookRequest,
};

use api::{Api, Failed, Me};

/// The real Bot API.
pub const DEFAULT_API_ROOT: &str = "https://api.telegram.org";
/// Seconds Telegram holds a `getUpdates` open when nothing is waiting.
pub const POLL_TIMEOUT: Duration = Duration::from_secs(25);
/// Longest message text, in characters after entity parsing.
pub const MAX_TEXT_LEN: usize = 4096;
/// The header Telegram sends the webhook secret in.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// The update kinds Hearth asks for; Telegram remembers the list between calls.
const ALLOWED_UPDATES: [&str; 3] = ["message", "edited_message", "channel_post"];
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(300);
/// Bot API upload limits: 10 MB for photos, 50 MB for other files.
const MAX_PHOTO_UPLOAD: u64 = 10 * 1024 * 1024;
const MAX_UPLOAD: u64 = 50 * 1024 * 1024;

/// One Telegram bot account.
pub struct Telegram {
    api: Api,
    account: String,
    mode: Mode,
    poll_timeout: Duration,
    /// The bot's own id and username (for mentions), read once with `getMe`.
    me: OnceCell<Me>,
    /// The next `getUpdates` offset (0: none yet), kept across runs so a reconnect confirms
    /// what the last run took instead of having it redelivered.
    offset: AtomicI64,
}

enum Mode {
    Polling,
    Webhook { url: String, secret: String },
}

impl fmt::Debug for Telegram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match &self.mode {
            Mode::Polling => "polling",
            Mode::Webhook { .. } => "webhook",
        };
        f.debug_struct("Telegram")
            .field("account", &self.account)
            .field("api", &self.api)
            .field("mode", &mode)
            .field("poll_timeout", &self.poll_timeout)
            .finish_non_exhaustive()
    }
}

impl Telegram {
    /// An adapter for `settings` (`botToken`; `mode`, `webhookUrl`, `webhookSecret`, `apiRoot`,
    /// `proxy`). With `proxy` set it makes its own HTTP client instead of using `http`.
    pub fn new(settings: AccountSettings, http: reqwest::Client) -> Result<Self, ChannelError> {
        let token = settings.require(&settings.token, "botToken")?;
        let mode = match settings.mode.as_deref().map(str::trim) {
            None | Some("" | "polling") => Mode::Polling,
            Some("webhook") => {
                let url = settings.require(&settings.webhook_url, "webhookUrl")?;
                let secret = settings.require(&settings.webhook_secret, "webhookSecret")?;
                // Telegram's rule for `secret_token`: 1-256 of A-Z, a-z, 0-9, `_` and `-`.
                let valid = secret.len() <= 256
                    && secret
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !valid {
                    return Err(ChannelError::Config(
                        "telegram `webhookSecret` may only hold up to 256 of A-Z, a-z, 0-9, `_` \
                         and `-`"
                            .to_owned(),
                    ));
                }
                Mode::Webhook {
                    url: url.to_owned(),
                    secret: secret.to_owned(),
                }
            }
            Some(other) => {
                return Err(ChannelError::Config(format!(
                    "telegram `mode` must be `polling` or `webhook`, not `{other}`"
                )));
            }
        };
        let http = match settings.proxy.as_deref().filter(|p| !p.is_empty()) {
            None => http,
            // The proxy URL may carry credentials: the errors below do not quote it.
            Some(proxy) => {
                let proxy = reqwest::Proxy::all(proxy).map_err(|_| {
                    ChannelError::Config("telegram `proxy` is not a valid proxy URL".to_owned())
                })?;
                reqwest::Client::builder()
                    .proxy(proxy)
                    .build()
                    .map_err(|_| {
                        ChannelError::Config(
                            "could not build an HTTP client with the telegram `proxy`".to_owned(),
                        )
                    })?
            }
        };
        let root = settings
            .api_root
            .as_deref()
            .filter(|r| !r.is_empty())
            .unwrap_or(DEFAULT_API_ROOT);
        Ok(Telegram {
            api: Api::new(http, root, token),
            account: settings.account_id,
            mode,
            poll_timeout: POLL_TIMEOUT,
            me: OnceCell::new(),
            offset: AtomicI64::new(0),
        })
    }

    /// Long polls that last `timeout` (whole seconds) instead of [`POLL_TIMEOUT`], for tests.
    pub fn with_poll_timeout(mut self, timeout: Duration) -> Self {
        self.poll_timeout = timeout;
        self
    }

    async fn get_me(&self) -> Result<Me, ChannelError> {
        Ok(self
            .api
            .call::<Me>("getMe", &json!({}), CALL_TIMEOUT)
            .await?)
    }

    /// The bot's identity, asked once and then kept.
    async fn me(&self) -> Result<Me, ChannelError> {
        self.me.get_or_try_init(|| self.get_me()).await.cloned()
    }

    async fn run_webhook(
        &self,
        ctx: &RunContext,
        url: &str,
        secret: &str,
    ) -> Result<(), ChannelError> {
        let cancel = &ctx.cancel;
        match cancel.run_until_cancelled(self.me()).await {
            None => return Ok(()),
            Some(me) => me?,
        };
        let body = json!({
            "url": url,
            "secret_token": secret,
            "allowed_updates": ALLOWED_UPDATES,
        });
        let set = self.api.call::<Value>("setWebhook", &body, CALL_TIMEOUT);
        match cancel.run_until_cancelled(set).await {
            None => return Ok(()),
            Some(result) => result?,
        };
        ctx.connected();
        cancel.cancelled().await;
        Ok(())
    }

    /// Calls a method that posts text, and when Telegram cannot parse the HTML, calls it once
    /// more with the text (under `text_key`) as plain text and no `parse_mode`.
    async fn call_with_fallback(
        &self,
        method: &'static str,
        mut body: Map<String, Value>,
        text_key: &str,
    ) -> Result<Value, Failed> {
        match self
            .api
            .call::<Value>(method, &Value::Object(body.clone()), CALL_TIMEOUT)
            .await
        {
            Err(Failed::Refused(r)) if r.is_markup_error() => {
                tracing::debug!(method, "telegram refused the HTML; sending plain text");
                body.remove("parse_mode");
                if let Some(Value::String(text)) = body.get_mut(text_key) {
                    *text = html_to_plain(text);
                }
                self.api
                    .call::<Value>(method, &Value::Object(body), CALL_TIMEOUT)
                    .await
            }
            other => other,
        }
    }

    async fn send_text(&self, target: &Target, text: &str) -> Result<Sent, ChannelError> {
        let mut body = addressed(target, true);
        body.insert("text".to_owned(), text.into());
        body.insert("parse_mode".to_owned(), "HTML".into());
        body.insert(
            "link_preview_options".to_owned(),
            json!({ "is_disabled": true }),
        );
        let message = self.call_with_fallback("sendMessage", body, "text").await?;
        sent(&message)
    }

    async fn edit_text(
        &self,
        target: &Target,
        message_id: &str,
        text: &str,
    ) -> Result<Sent, ChannelError> {
        let mut body = Map::new();
        body.insert("chat_id".to_owned(), chat_ref(&target.chat_id));
        body.insert("message_id".to_owned(), message_ref(message_id)?);
        body.insert("text".to_owned(), text.into());
        body.insert("parse_mode".to_owned(), "HTML".into());
        body.insert(
            "link_preview_options".to_owned(),
            json!({ "is_disabled": true }),
        );
        match self
            .call_with_fallback("editMessageText", body, "text")
            .await
        {
            Ok(_) => {}
            // The text is already what we wanted.
            Err(Failed::Refused(r)) if r.is_not_modified() => {}
            Err(err) => return Err(err.into()),
        }
        Ok(Sent {
            message_id: message_id.to_owned(),
        })
    }

    async fn send_media(
        &self,
        target: &Target,
        kind: AttachmentKind,
        path: &std::path::Path,
        mime: &str,
        name: &str,
        caption: Option<&str>,
    ) -> Result<Sent, ChannelError> {
        let (method, field, limit) = match kind {
            AttachmentKind::Image => ("sendPhoto", "photo", MAX_PHOTO_UPLOAD),
            AttachmentKind::Voice => ("sendVoice", "voice", MAX_UPLOAD),
            AttachmentKind::Audio => ("sendAudio", "audio", MAX_UPLOAD),
            AttachmentKind::Video => ("sendVideo", "video", MAX_UPLOAD),
            AttachmentKind::Document | AttachmentKind::Sticker => {
                ("sendDocument", "document", MAX_UPLOAD)
            }
        };
        let bytes = tokio::fs::read(path).await.map_err(|err| {
            ChannelError::Permanent(format!(
                "could not read {} to send it: {err}",
                path.display()
            ))
        })?;
        if bytes.len() as u64 > limit {
            return Err(ChannelError::Permanent(format!(
                "{} is {} bytes; telegram takes at most {limit} for {method}",
                path.display(),
                bytes.len()
            )));
        }
        let bytes = Bytes::from(bytes);
        let upload = |caption: Option<String>, html: bool| -> Result<_, ChannelError> {
            let length = bytes.len() as u64;
            let part = reqwest::multipart::Part::stream_with_length(bytes.clone(), length)
                .file_name(name.to_owned())
                .mime_str(mime)
                .map_err(|_| ChannelError::Permanent(format!("`{mime}` is not a MIME type")))?;
            let mut form = reqwest::multipart::Form::new().part(field, part);
            for (key, value) in addressed(target, false) {
                let value = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                form = form.text(key, value);
            }
            if let Some(caption) = caption {
                form = form.text("caption", caption);
                if html {
                    form = form.text("parse_mode", "HTML");
                }
            }
            Ok(form)
        };
        let caption = caption.filter(|c| !c.is_empty());
        let first = upload(caption.map(str::to_owned), true)?;
        let message = match self
            .api
            .call_multipart::<Value>(method, first, TRANSFER_TIMEOUT)
            .await
        {
            Err(Failed::Refused(r)) if r.is_markup_error() => {
                let plain = upload(caption.map(html_to_plain), false)?;
                self.api
                    .call_multipart::<Value>(method, plain, TRANSFER_TIMEOUT)
                    .await?
            }
            other => other?,
        };
        sent(&message)
    }
}

#[async_trait]
impl ChannelAdapter for Telegram {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            edits: true,
            edit_interval: Duration::from_secs(1),
            reactions: true,
            typing: true,
            typing_every: Duration::from_secs(4),
            threads: true,
            media: true,
            max_text_len: MAX_TEXT_LEN,
            format: "telegram-html",
        }
    }

    #[tracing::instrument(skip_all, fields(channel = "telegram", account = %self.account))]
    async fn probe(&self) -> Result<Identity, ChannelError> {
        let me = self.get_me().await?;
        let identity = Identity {
            id: me.id.to_string(),
            name: format!("@{}", me.username),
        };
        let _ = self.me.set(me);
        Ok(identity)
    }

    #[tracing::instrument(skip_all, fields(channel = "telegram", account = %self.account))]
    async fn run(&self, ctx: RunContext) -> Result<(), ChannelError> {
        match &self.mode {
            Mode::Polling => poll::run(self, &ctx).await,
            Mode::Webhook { url, secret } => self.run_webhook(&ctx, url, secret).await,
        }
    }

    fn render(&self, markdown: &str, limit: usize) -> Vec<String> {
        crate::split::render_chunks(
            markdown,
            limit.min(MAX_TEXT_LEN),
            crate::format::telegram_html,
        )
    }

    async fn send(&self, out: &Outbound) -> Result<Sent, ChannelError> {
        match &out.content {
            Content::Text {
                text,
                edit_of: None,
            } => self.send_text(&out.target, text).await,
            Content::Text {
                text,
                edit_of: Some(id),
            } => self.edit_text(&out.target, id, text).await,
            Content::Media {
                kind,
                path,
                mime,
                name,
                caption,
            } => {
                self.send_media(&out.target, *kind, path, mime, name, caption.as_deref())
                    .await
            }
        }
    }

    async fn typing(&self, target: &Target) -> Result<(), ChannelError> {
        let mut body = Map::new();
        body.insert("chat_id".to_owned(), chat_ref(&target.chat_id));
        body.insert("action".to_owned(), "typing".into());
        if let Some(thread) = thread_ref(target) {
            body.insert("message_thread_id".to_owned(), thread);
        }
        self.api
            .call::<Value>("sendChatAction", &Value::Object(body), CALL_TIMEOUT)
            .await?;
        Ok(())
    }

    async fn react(
        &self,
        target: &Target,
        message_id: &str,
        emoji: &str,
    ) -> Result<(), ChannelError> {
        let body = json!({
            "chat_id": chat_ref(&target.chat_id),
            "message_id": message_ref(message_id)?,
            "reaction": [{ "type": "emoji", "emoji": emoji }],
        });
        self.api
            .call::<Value>("setMessageReaction", &body, CALL_TIMEOUT)
            .await?;
        Ok(())
    }

    async fn fetch(&self, attachment: &Attachment, max_bytes: u64) -> Result<Bytes, ChannelError> {
        if attachment.size.is_some_and(|n| n > max_bytes) {
            return Err(api::too_big(max_bytes));
        }
        let file: api::File = self
            .api
            .call(
                "getFile",
                &json!({ "file_id": attachment.source }),
                CALL_TIMEOUT,
            )
            .await?;
        if file.file_size.is_some_and(|n| n > max_bytes) {
            return Err(api::too_big(max_bytes));
        }
        let Some(path) = file.file_path.filter(|p| !p.is_empty()) else {
            return Err(ChannelError::Permanent(
                "telegram has no download for this file (bots may fetch files up to 20 MB)"
                    .to_owned(),
            ));
        };
        self.api.download(&path, max_bytes, TRANSFER_TIMEOUT).await
    }

    async fn webhook(&self, req: WebhookRequest, sink: Arc<dyn InboundSink>) -> WebhookReply {
        let Mode::Webhook { secret, .. } = &self.mode else {
            return WebhookReply::text(404, "this telegram account polls; it takes no webhooks");
        };
        let presented = req
            .headers
            .get(SECRET_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !constant_time_eq(presented, secret.as_bytes()) {
            return WebhookReply::text(401, "wrong or missing secret token");
        }
        let Ok(update) = serde_json::from_slice::<api::Update>(&req.body) else {
            return WebhookReply::text(400, "the body is not a Telegram update");
        };
        // Without knowing the bot, mentions cannot be told; a 5xx makes Telegram try later.
        let me = match self.me().await {
            Ok(me) => me,
            Err(err) => {
                tracing::warn!(%err, "telegram getMe failed while taking a webhook update");
                return WebhookReply::text(503, "the bot's identity is not known yet");
            }
        };
        let Some(message) = inbound::from_update(&update, &me, &self.account) else {
            return WebhookReply::ok();
        };
        match sink.accept(message).await {
            Ok(()) => WebhookReply::ok(),
            Err(err) => {
                tracing::warn!(update_id = update.update_id, %err, "telegram webhook update not taken");
                WebhookReply::text(500, "the gateway could not take the update")
            }
        }
    }
}

/// `chat_id`, `message_thread_id` and `reply_parameters` for a message to `target`.
fn addressed(target: &Target, allow_reply: bool) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("chat_id".to_owned(), chat_ref(&target.chat_id));
    if let Some(thread) = thread_ref(target) {
        body.insert("message_thread_id".to_owned(), thread);
    }
    let reply = target
        .reply_to
        .as_deref()
        .and_then(|r| r.parse::<i64>().ok());
    if let Some(reply) = reply {
        // A reply to a message deleted meanwhile is still worth sending.
        let reply = json!({ "message_id": reply, "allow_sending_without_reply": true });
        let value = if allow_reply {
            reply
        } else {
            // Multipart fields carry JSON-serialized objects as strings.
            Value::String(reply.to_string())
        };
        body.insert("reply_parameters".to_owned(), value);
    }
    body
}

/// A chat id as Telegram takes it: a number, or `@channelusername`.
fn chat_ref(chat_id: &str) -> Value {
    chat_id
        .parse::<i64>()
        .map_or_else(|_| Value::String(chat_id.to_owned()), Value::from)
}

fn thread_ref(target: &Target) -> Option<Value> {
    target
        .thread_id
        .as_deref()
        .and_then(|t| t.parse::<i64>().ok())
        .map(Value::from)
}

fn message_ref(message_id: &str) -> Result<Value, ChannelError> {
    message_id.parse::<i64>().map(Value::from).map_err(|_| {
        ChannelError::Permanent(format!("`{message_id}` is not a telegram message id"))
    })
}

fn sent(message: &Value) -> Result<Sent, ChannelError> {
    message
        .get("message_id")
        .and_then(Value::as_i64)
        .map(|id| Sent {
            message_id: id.to_string(),
        })
        .ok_or_else(|| {
            ChannelError::Transient("telegram answered a send without a message_id".to_owned())
        })
}

/// Telegram HTML as the text a reader would see: tags dropped, entities decoded.
fn html_to_plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let looks_like_tag = tail[1..]
            .trim_start_matches('/')
            .starts_with(|c: char| c.is_ascii_alphabetic());
        match tail.find('>') {
            Some(end) if looks_like_tag => rest = &tail[end + 1..],
            _ => {
                out.push('<');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Compares secrets in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AccountSettings {
        AccountSettings {
            channel: "telegram".to_owned(),
            account_id: "default".to_owned(),
            token: Some("1:SECRET".to_owned()),
            ..AccountSettings::default()
        }
    }

    #[test]
    fn settings_are_checked() {
        let missing = Telegram::new(
            AccountSettings {
                token: None,
                ..settings()
            },
            reqwest::Client::new(),
        );
        assert!(matches!(missing, Err(ChannelError::Config(m)) if m.contains("botToken")));
        let webhook = |url: Option<&str>, secret: Option<&str>| {
            Telegram::new(
                AccountSettings {
                    mode: Some("webhook".to_owned()),
                    webhook_url: url.map(str::to_owned),
                    webhook_secret: secret.map(str::to_owned),
                    ..settings()
                },
                reqwest::Client::new(),
            )
        };
        assert!(
            matches!(webhook(None, Some("s")), Err(ChannelError::Config(m)) if m.contains("webhookUrl"))
        );
        assert!(
            matches!(webhook(Some("https://x"), None), Err(ChannelError::Config(m)) if m.contains("webhookSecret"))
        );
        assert!(
            matches!(webhook(Some("https://x"), Some("no spaces")), Err(ChannelError::Config(m)) if m.contains("webhookSecret"))
        );
        let ok = webhook(Some("https://x"), Some("s3cret_-")).expect("valid");
        assert!(!format!("{ok:?}").contains("SECRET"));
        assert!(!format!("{ok:?}").contains("s3cret"));
        let bad_mode = Telegram::new(
            AccountSettings {
                mode: Some("push".to_owned()),
                ..settings()
            },
            reqwest::Client::new(),
        );
        assert!(matches!(bad_mode, Err(ChannelError::Config(_))));
    }

    #[test]
    fn html_falls_back_to_what_a_reader_sees() {
        assert_eq!(
            html_to_plain("<b>bold</b> &lt;tag&gt; a < b &amp;&amp; <a href=\"x\">link</a>"),
            "bold <tag> a < b && link"
        );
        assert_eq!(html_to_plain("unclosed <b>bold"), "unclosed bold");
        assert_eq!(html_to_plain("&amp;lt;"), "&lt;");
    }

    #[test]
    fn targets_become_telegram_fields() {
        let target = Target {
            peer_kind: crate::PeerKind::Thread,
            chat_id: "-1001".to_owned(),
            thread_id: Some("7".to_owned()),
            reply_to: Some("12".to_owned()),
        };
        let body = Value::Object(addressed(&target, true));
        assert_eq!(
            body,
            json!({"chat_id": -1001, "message_thread_id": 7,
                   "reply_parameters": {"message_id": 12, "allow_sending_without_reply": true}})
        );
        assert_eq!(chat_ref("@news"), json!("@news"));
        assert!(message_ref("abc").is_err());
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
