//! Slack: a bot in a workspace, through a hand-written Web API client.
//!
//! Receiving is Socket Mode by default ([`socket`], needs the app-level token `appToken`) or the
//! Events API over HTTP (`mode: "http"`, the gateway's webhook route, needs `signingSecret`);
//! both carry the same `event_callback` payloads, read in [`events`]. Sending uses the Web API
//! (<https://api.slack.com/web>): `chat.postMessage`, `chat.update`, `reactions.add`, and the
//! external upload flow (`files.getUploadURLExternal`, a POST of the bytes,
//! `files.completeUploadExternal`). Slack has no typing indicator for bots.
//! Rate limits (<https://api.slack.com/apis/rate-limits>): posting is about one message per
//! second per channel, so edits are spaced 1.5 s apart.

mod api;
mod events;
mod socket;
mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{Value, json};

use self::api::{
    Api, Args, AuthTest, DEFAULT_API_ROOT, Posted, Token, UploadComplete, UploadUrl, UsersInfo,
};
use self::events::{EventCallback, Me};
use crate::http::{classify, retry_after_header, transport};
use crate::{
    AccountSettings, Attachment, Capabilities, ChannelAdapter, ChannelError, Content, Identity,
    InboundSink, Outbound, RunContext, Sent, SinkError, Target, WebhookReply, WebhookRequest,
};

/// Slack's documented ceiling for `text` is 40,000 characters, but it recommends staying under
/// 4,000 and truncates long messages in clients; answers are split there.
const MAX_TEXT_LEN: usize = 4000;
/// `users.info` is only for the sender's name; an event is not held up longer than this.
const NAME_LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
/// Names remembered; the cache starts over beyond this, so a huge workspace cannot grow it
/// without bound.
const MAX_CACHED_NAMES: usize = 10_000;
/// Where Slack serves `url_private` files; the bot token is only ever sent there (or to the
/// configured API root's host, for self-hosted fakes and tests).
const FILES_HOST: &str = "files.slack.com";

/// How events reach the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Socket,
    Http,
}

/// One Slack bot account.
pub struct Slack {
    account: String,
    mode: Mode,
    api: Api,
    signing_secret: Option<String>,
    me: Mutex<Option<Me>>,
    names: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slack")
            .field("account", &self.account)
            .field("mode", &self.mode)
            .field("api", &self.api)
            .finish_non_exhaustive()
    }
}

impl Slack {
    /// Checks the settings (tokens for the chosen mode); nothing connects yet.
    pub fn new(settings: AccountSettings, http: reqwest::Client) -> Result<Slack, ChannelError> {
        let bot_token = settings.require(&settings.token, "botToken")?.to_owned();
        let mode = match settings.mode.as_deref().map(str::trim) {
            None | Some("" | "socket") => Mode::Socket,
            Some("http") => Mode::Http,
            Some(other) => {
                return Err(ChannelError::Config(format!(
                    "unknown Slack mode `{other}`; use `socket` (default) or `http`"
                )));
            }
        };
        let app_token = match mode {
            Mode::Socket => Some(
                settings
                    .require(&settings.app_token, "appToken")?
                    .to_owned(),
            ),
            Mode::Http => None,
        };
        let signing_secret = match mode {
            Mode::Http => Some(
                settings
                    .require(&settings.signing_secret, "signingSecret")?
                    .to_owned(),
            ),
            Mode::Socket => None,
        };
        let root = settings
            .api_root
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or(DEFAULT_API_ROOT);
        if !(root.starts_with("https://") || root.starts_with("http://")) {
            return Err(ChannelError::Config(format!(
                "Slack `apiRoot` must be an http(s) URL, not `{root}`"
            )));
        }
        Ok(Slack {
            account: settings.account_id.clone(),
            mode,
            api: Api::new(http, root, bot_token, app_token),
            signing_secret,
            me: Mutex::new(None),
            names: Mutex::new(HashMap::new()),
        })
    }

    /// Who the bot is, asked once with `auth.test` and remembered.
    async fn me(&self) -> Result<Me, ChannelError> {
        if let Some(me) = lock(&self.me).clone() {
            return Ok(me);
        }
        let auth: AuthTest = self
            .api
            .call("auth.test", Token::Bot, Args::Json(json!({})))
            .await?;
        let me = Me {
            user_id: auth.user_id,
            name: auth.user,
            team_id: auth.team_id,
        };
        *lock(&self.me) = Some(me.clone());
        Ok(me)
    }

    /// The sender's display name, from a cache or `users.info`; `None` if Slack does not say
    /// in time (the message goes on without it).
    async fn sender_name(&self, user: &str) -> Option<String> {
        if let Some(name) = lock(&self.names).get(user) {
            return Some(name.clone());
        }
        let lookup = self.api.call::<UsersInfo>(
            "users.info",
            Token::Bot,
            Args::Form(vec![("user", user.to_owned())]),
        );
        let name = match tokio::time::timeout(NAME_LOOKUP_TIMEOUT, lookup).await {
            Ok(Ok(info)) => info.user.shown_name()?,
            Ok(Err(err)) => {
                tracing::debug!(%err, "slack users.info failed; sender name left out");
                return None;
            }
            Err(_) => {
                tracing::debug!("slack users.info timed out; sender name left out");
                return None;
            }
        };
        let mut names = lock(&self.names);
        if names.len() >= MAX_CACHED_NAMES {
            names.clear();
        }
        names.insert(user.to_owned(), name.clone());
        Some(name)
    }

    /// Hands the message in `callback` (if it is one to answer) to `sink`. `Ok` means it may be
    /// acknowledged: stored, or nothing to store.
    async fn deliver(
        &self,
        callback: &EventCallback,
        sink: &dyn InboundSink,
    ) -> Result<(), SinkError> {
        let me = self
            .me()
            .await
            .map_err(|err| SinkError(format!("could not learn the bot's own id: {err}")))?;
        let Some(mut inbound) = events::inbound(callback, &me, &self.account) else {
            tracing::debug!(
                event = %callback.event.kind,
                subtype = callback.event.subtype.as_deref().unwrap_or(""),
                "slack event ignored"
            );
            return Ok(());
        };
        inbound.sender_name = self.sender_name(&inbound.sender_id).await;
        sink.accept(inbound).await
    }

    async fn post(&self, target: &Target, text: &str) -> Result<Sent, ChannelError> {
        let mut body = json!({
            "channel": target.chat_id,
            "text": text,
            "mrkdwn": true,
            "unfurl_links": false,
        });
        if let Some(thread) = &target.thread_id {
            body["thread_ts"] = json!(thread);
        }
        let posted: Posted = self
            .api
            .call("chat.postMessage", Token::Bot, Args::Json(body))
            .await?;
        Ok(Sent {
            message_id: posted.ts,
        })
    }

    async fn edit(&self, target: &Target, ts: &str, text: &str) -> Result<Sent, ChannelError> {
        let body = json!({ "channel": target.chat_id, "ts": ts, "text": text });
        let posted: Posted = self
            .api
            .call("chat.update", Token::Bot, Args::Json(body))
            .await?;
        Ok(Sent {
            message_id: if posted.ts.is_empty() {
                ts.to_owned()
            } else {
                posted.ts
            },
        })
    }

    /// The external upload flow. The answer's id is the sharing message's `ts` when Slack
    /// already knows it, else the file id (sharing completes asynchronously).
    async fn upload(
        &self,
        target: &Target,
        path: &std::path::Path,
        name: &str,
        caption: Option<&str>,
    ) -> Result<Sent, ChannelError> {
        let bytes = tokio::fs::read(path).await.map_err(|err| {
            ChannelError::Permanent(format!("could not read the file to upload: {}", err.kind()))
        })?;
        let slot: UploadUrl = self
            .api
            .call(
                "files.getUploadURLExternal",
                Token::Bot,
                Args::Form(vec![
                    ("filename", name.to_owned()),
                    ("length", bytes.len().to_string()),
                ]),
            )
            .await?;
        // The upload URL is pre-signed; it takes the raw bytes and no token.
        let what = "slack file upload";
        let response = self
            .api
            .http()
            .post(&slot.upload_url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .map_err(|err| transport(&err, what))?;
        if !response.status().is_success() {
            let retry_after = retry_after_header(response.headers());
            return Err(classify(response.status().as_u16(), retry_after, what));
        }
        let mut body = json!({
            "files": [{ "id": slot.file_id, "title": name }],
            "channel_id": target.chat_id,
        });
        if let Some(thread) = &target.thread_id {
            body["thread_ts"] = json!(thread);
        }
        if let Some(caption) = caption.filter(|c| !c.is_empty()) {
            body["initial_comment"] = json!(caption);
        }
        let done: UploadComplete = self
            .api
            .call("files.completeUploadExternal", Token::Bot, Args::Json(body))
            .await?;
        let shared = done
            .files
            .iter()
            .find(|f| f.id == slot.file_id)
            .and_then(|f| f.share_ts(&target.chat_id));
        Ok(Sent {
            message_id: shared.unwrap_or(slot.file_id),
        })
    }

    /// Whether the bot token may be sent to `url`: Slack's file host over HTTPS, or the host of
    /// the configured API root.
    fn may_send_token_to(&self, url: &reqwest::Url) -> bool {
        let root = reqwest::Url::parse(self.api.root()).ok();
        let same_as_root = root.is_some_and(|root| {
            root.scheme() == url.scheme()
                && root.host_str() == url.host_str()
                && root.port_or_known_default() == url.port_or_known_default()
        });
        same_as_root || (url.scheme() == "https" && url.host_str() == Some(FILES_HOST))
    }
}

#[async_trait]
impl ChannelAdapter for Slack {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            edits: true,
            edit_interval: Duration::from_millis(1500),
            reactions: true,
            typing: false,
            typing_every: Duration::ZERO,
            threads: true,
            media: true,
            max_text_len: MAX_TEXT_LEN,
            format: "mrkdwn",
        }
    }

    async fn probe(&self) -> Result<Identity, ChannelError> {
        // Always asks Slack: a probe is a credential check, not a cache read.
        *lock(&self.me) = None;
        let me = self.me().await?;
        Ok(Identity {
            id: me.user_id,
            name: format!("@{}", me.name),
        })
    }

    #[tracing::instrument(skip_all, fields(channel = "slack", account = %self.account))]
    async fn run(&self, ctx: RunContext) -> Result<(), ChannelError> {
        match self.mode {
            Mode::Socket => socket::run(self, &ctx).await,
            Mode::Http => {
                // Events arrive through `webhook`; this only checks the token and waits.
                tokio::select! {
                    () = ctx.cancel.cancelled() => return Ok(()),
                    me = self.me() => { me?; }
                }
                ctx.connected();
                ctx.cancel.cancelled().await;
                Ok(())
            }
        }
    }

    fn render(&self, markdown: &str, limit: usize) -> Vec<String> {
        crate::split::render_chunks(
            markdown,
            limit.min(MAX_TEXT_LEN),
            crate::format::slack_mrkdwn,
        )
    }

    async fn send(&self, out: &Outbound) -> Result<Sent, ChannelError> {
        match &out.content {
            Content::Text {
                text,
                edit_of: Some(ts),
            } => self.edit(&out.target, ts, text).await,
            Content::Text {
                text,
                edit_of: None,
            } => self.post(&out.target, text).await,
            Content::Media {
                path,
                name,
                caption,
                ..
            } => {
                self.upload(&out.target, path, name, caption.as_deref())
                    .await
            }
        }
    }

    async fn typing(&self, _target: &Target) -> Result<(), ChannelError> {
        Err(ChannelError::Unsupported("typing"))
    }

    async fn react(
        &self,
        target: &Target,
        message_id: &str,
        emoji: &str,
    ) -> Result<(), ChannelError> {
        let body = json!({
            "channel": target.chat_id,
            "timestamp": message_id,
            "name": reaction_name(emoji),
        });
        match self
            .api
            .call::<Value>("reactions.add", Token::Bot, Args::Json(body))
            .await
        {
            Err(ChannelError::Permanent(msg)) if msg.ends_with("already_reacted") => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn fetch(&self, attachment: &Attachment, max_bytes: u64) -> Result<Bytes, ChannelError> {
        let too_big = || crate::http::too_big(max_bytes);
        if attachment.size.is_some_and(|size| size > max_bytes) {
            return Err(too_big());
        }
        let url = reqwest::Url::parse(&attachment.source)
            .map_err(|_| ChannelError::Permanent("the file's Slack URL is not valid".into()))?;
        if !self.may_send_token_to(&url) {
            return Err(ChannelError::Permanent(
                "the file is not on Slack's file host; the bot token is not sent elsewhere".into(),
            ));
        }
        let what = "slack file download";
        let response = self
            .api
            .http()
            .get(url)
            .bearer_auth(self.api.bot_token())
            .send()
            .await
            .map_err(|err| transport(&err, what))?;
        if !response.status().is_success() {
            let retry_after = retry_after_header(response.headers());
            return Err(classify(response.status().as_u16(), retry_after, what));
        }
        // Without the `files:read` scope Slack answers 200 with its sign-in page.
        let is_html = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/html"));
        let wants_html = attachment
            .mime
            .as_deref()
            .is_some_and(|m| m.starts_with("text/html"));
        if is_html && !wants_html {
            return Err(ChannelError::Permanent(
                "Slack answered with a web page instead of the file; does the app have the \
                 files:read scope?"
                    .into(),
            ));
        }
        crate::http::read_limited(response, max_bytes, what).await
    }

    async fn webhook(&self, req: WebhookRequest, sink: Arc<dyn InboundSink>) -> WebhookReply {
        let (Mode::Http, Some(secret)) = (self.mode, self.signing_secret.as_deref()) else {
            return WebhookReply::text(
                404,
                "this Slack account uses Socket Mode; set `mode: \"http\"` to take events here",
            );
        };
        if let Err(refusal) = webhook::verify(secret, &req.headers, &req.body, unix_now()) {
            tracing::warn!(reason = refusal.as_str(), "slack webhook request refused");
            return WebhookReply::text(401, refusal.as_str());
        }
        let callback: EventCallback = match serde_json::from_slice(&req.body) {
            Ok(callback) => callback,
            Err(_) => return WebhookReply::text(400, "the body is not an Events API payload"),
        };
        match callback.kind.as_str() {
            "url_verification" => {
                WebhookReply::json(200, &json!({ "challenge": callback.challenge }))
            }
            "event_callback" => match self.deliver(&callback, sink.as_ref()).await {
                Ok(()) => WebhookReply::ok(),
                Err(err) => {
                    tracing::warn!(
                        %err,
                        event_id = %callback.event_id,
                        "slack event not stored; Slack will retry"
                    );
                    WebhookReply::text(500, "the event could not be stored; retry later")
                }
            },
            other => {
                tracing::debug!(kind = other, "slack webhook request ignored");
                WebhookReply::ok()
            }
        }
    }
}

/// Slack reactions are emoji names without colons; the few Unicode emoji an assistant uses to
/// acknowledge are translated to theirs.
fn reaction_name(emoji: &str) -> String {
    let emoji = emoji.trim();
    let named = match emoji.trim_end_matches('\u{fe0f}') {
        "👍" => "+1",
        "👎" => "-1",
        "👀" => "eyes",
        "✅" => "white_check_mark",
        "❌" => "x",
        "❤" => "heart",
        "🎉" => "tada",
        "🔥" => "fire",
        "🤔" => "thinking_face",
        "😂" => "joy",
        "🙏" => "pray",
        "⏳" => "hourglass_flowing_sand",
        "⚠" => "warning",
        "💡" => "bulb",
        "🚀" => "rocket",
        "👌" => "ok_hand",
        _ => "",
    };
    if named.is_empty() {
        emoji.trim_matches(':').to_owned()
    } else {
        named.to_owned()
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A panic elsewhere while a lock was held must not wedge the adapter.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(mode: Option<&str>) -> AccountSettings {
        AccountSettings {
            channel: "slack".into(),
            account_id: "default".into(),
            token: Some("xoxb-1".into()),
            app_token: Some("xapp-1".into()),
            signing_secret: Some("s".into()),
            mode: mode.map(str::to_owned),
            ..AccountSettings::default()
        }
    }

    #[test]
    fn settings_are_checked_per_mode() {
        let http = reqwest::Client::new();
        assert!(Slack::new(settings(None), http.clone()).is_ok());
        assert!(Slack::new(settings(Some("http")), http.clone()).is_ok());
        let mut missing = settings(None);
        missing.app_token = None;
        let err = Slack::new(missing, http.clone()).expect_err("needs appToken");
        assert!(
            matches!(&err, ChannelError::Config(m) if m.contains("appToken")),
            "{err}"
        );
        let mut missing = settings(Some("http"));
        missing.signing_secret = None;
        missing.app_token = None;
        let err = Slack::new(missing, http.clone()).expect_err("needs signingSecret");
        assert!(matches!(&err, ChannelError::Config(m) if m.contains("signingSecret")));
        let mut missing = settings(None);
        missing.token = None;
        let err = Slack::new(missing, http.clone()).expect_err("needs botToken");
        assert!(matches!(&err, ChannelError::Config(m) if m.contains("botToken")));
        let err = Slack::new(settings(Some("rtm")), http).expect_err("unknown mode");
        assert!(matches!(err, ChannelError::Config(_)));
    }

    #[test]
    fn debug_output_has_no_secrets() {
        let slack = Slack::new(settings(None), reqwest::Client::new()).expect("valid");
        let shown = format!("{slack:?}");
        assert!(
            !shown.contains("xoxb-1") && !shown.contains("xapp-1"),
            "{shown}"
        );
    }

    #[test]
    fn the_token_goes_only_to_slack_file_hosts() {
        let mut s = settings(None);
        s.api_root = Some("http://127.0.0.1:9/api".into());
        let slack = Slack::new(s, reqwest::Client::new()).expect("valid");
        let ok = |u: &str| slack.may_send_token_to(&reqwest::Url::parse(u).expect("url"));
        assert!(ok("http://127.0.0.1:9/files-pri/T1-F1/a.png"));
        assert!(ok("https://files.slack.com/files-pri/T1-F1/a.png"));
        assert!(!ok("http://files.slack.com/files-pri/T1-F1/a.png"));
        assert!(!ok("https://files.slack.com.evil.example/a.png"));
        assert!(!ok("http://127.0.0.1:10/files-pri/a.png"));
    }

    #[test]
    fn reactions_use_slack_names() {
        assert_eq!(reaction_name(":eyes:"), "eyes");
        assert_eq!(reaction_name("👍"), "+1");
        assert_eq!(reaction_name("❤️"), "heart");
        assert_eq!(reaction_name("white_check_mark"), "white_check_mark");
    }
}
