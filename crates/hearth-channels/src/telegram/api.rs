//! The Bot API's wire: the few types Hearth reads (<https://core.telegram.org/bots/api#available-types>)
//! and one client that calls `{apiRoot}/bot<token>/<method>` and turns its
//! `{"ok": false, "error_code", "description", "parameters": {"retry_after"}}` answers into
//! [`Refusal`]s.
//!
//! Parsing is liberal on purpose: Telegram adds fields with every Bot API version, so every type
//! defaults what it misses and ignores what it does not know.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ChannelError;
use crate::http::{classify, retry_after_header, seconds, transport};

/// One item of `getUpdates` (or one webhook request).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Update {
    pub(super) update_id: i64,
    pub(super) message: Option<Message>,
    pub(super) edited_message: Option<Message>,
    pub(super) channel_post: Option<Message>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Message {
    pub(super) message_id: i64,
    pub(super) message_thread_id: Option<i64>,
    pub(super) from: Option<User>,
    /// Set for channel posts and anonymous group admins: who speaks is the chat, not `from`.
    pub(super) sender_chat: Option<Chat>,
    pub(super) chat: Chat,
    pub(super) date: i64,
    pub(super) is_topic_message: bool,
    pub(super) is_automatic_forward: bool,
    pub(super) reply_to_message: Option<Box<Message>>,
    pub(super) text: Option<String>,
    pub(super) entities: Vec<MessageEntity>,
    pub(super) caption: Option<String>,
    pub(super) caption_entities: Vec<MessageEntity>,
    pub(super) photo: Vec<PhotoSize>,
    pub(super) document: Option<FileMeta>,
    pub(super) animation: Option<FileMeta>,
    pub(super) audio: Option<FileMeta>,
    pub(super) voice: Option<FileMeta>,
    pub(super) video: Option<FileMeta>,
    pub(super) video_note: Option<FileMeta>,
    pub(super) sticker: Option<Sticker>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(super) struct User {
    pub(super) id: i64,
    pub(super) is_bot: bool,
    pub(super) first_name: String,
    pub(super) last_name: Option<String>,
    pub(super) username: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Chat {
    pub(super) id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) title: Option<String>,
    pub(super) username: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct MessageEntity {
    #[serde(rename = "type")]
    pub(super) kind: String,
    /// In UTF-16 code units, as every entity offset in the Bot API.
    pub(super) offset: usize,
    pub(super) length: usize,
    pub(super) user: Option<User>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct PhotoSize {
    pub(super) file_id: String,
    pub(super) width: u64,
    pub(super) height: u64,
    pub(super) file_size: Option<u64>,
}

/// What `Document`, `Audio`, `Voice`, `Video`, `VideoNote` and `Animation` have in common.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct FileMeta {
    pub(super) file_id: String,
    pub(super) file_name: Option<String>,
    pub(super) mime_type: Option<String>,
    pub(super) file_size: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Sticker {
    pub(super) file_id: String,
    pub(super) file_size: Option<u64>,
    pub(super) is_animated: bool,
    pub(super) is_video: bool,
}

/// The answer of `getFile`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct File {
    pub(super) file_size: Option<u64>,
    /// Missing when the file cannot be downloaded (over the Bot API's 20 MB).
    pub(super) file_path: Option<String>,
}

/// The bot itself, from `getMe`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(super) struct Me {
    pub(super) id: i64,
    pub(super) username: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Envelope {
    ok: bool,
    result: Value,
    error_code: Option<u16>,
    description: Option<String>,
    parameters: Option<ResponseParameters>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ResponseParameters {
    retry_after: Option<f64>,
}

/// Telegram said no, in its own words.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) method: &'static str,
    pub(super) status: u16,
    pub(super) description: String,
    pub(super) retry_after: Option<Duration>,
}

impl Refusal {
    /// `400 Bad Request: can't parse entities: …`: the HTML was not accepted.
    pub(super) fn is_markup_error(&self) -> bool {
        self.status == 400 && self.description.contains("can't parse entities")
    }

    /// `400 Bad Request: message is not modified: …`: an edit to the text already there.
    pub(super) fn is_not_modified(&self) -> bool {
        self.status == 400 && self.description.contains("message is not modified")
    }
}

impl From<Refusal> for ChannelError {
    fn from(r: Refusal) -> ChannelError {
        let what = format!("telegram {}: {}", r.method, r.description);
        // Every Bot API method exists, so a 404 means the URL is wrong: the token (or apiRoot).
        if r.status == 404 {
            return ChannelError::Auth(format!("{what} (the bot token or apiRoot is wrong)"));
        }
        classify(r.status, r.retry_after, &what)
    }
}

/// Why a call failed: Telegram's refusal, or no usable answer at all.
#[derive(Debug)]
pub(super) enum Failed {
    Refused(Refusal),
    Error(ChannelError),
}

impl From<Failed> for ChannelError {
    fn from(f: Failed) -> ChannelError {
        match f {
            Failed::Refused(r) => r.into(),
            Failed::Error(e) => e,
        }
    }
}

/// Calls the Bot API with one token. The token sits in every URL path, so no URL is ever
/// formatted into a message or log.
#[derive(Clone)]
pub(super) struct Api {
    http: reqwest::Client,
    root: String,
    token: String,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Api {
    pub(super) fn new(http: reqwest::Client, root: &str, token: &str) -> Api {
        Api {
            http,
            root: root.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    fn url(&self, method: &str) -> String {
        format!("{}/bot{}/{method}", self.root, self.token)
    }

    /// A method with a JSON body.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        body: &Value,
        timeout: Duration,
    ) -> Result<T, Failed> {
        let request = self.http.post(self.url(method)).json(body).timeout(timeout);
        self.answer(method, request).await
    }

    /// A method with a `multipart/form-data` body (file uploads).
    pub(super) async fn call_multipart<T: DeserializeOwned>(
        &self,
        method: &'static str,
        form: reqwest::multipart::Form,
        timeout: Duration,
    ) -> Result<T, Failed> {
        let request = self
            .http
            .post(self.url(method))
            .multipart(form)
            .timeout(timeout);
        self.answer(method, request).await
    }

    async fn answer<T: DeserializeOwned>(
        &self,
        method: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, Failed> {
        let what = format!("telegram {method}");
        let response = request
            .send()
            .await
            .map_err(|e| Failed::Error(transport(&e, &what)))?;
        let status = response.status().as_u16();
        let header_wait = retry_after_header(response.headers());
        let body = response
            .bytes()
            .await
            .map_err(|e| Failed::Error(transport(&e, &what)))?;
        let Ok(envelope) = serde_json::from_slice::<Envelope>(&body) else {
            return Err(Failed::Error(if (200..300).contains(&status) {
                ChannelError::Transient(format!("{what}: the answer was not JSON"))
            } else {
                classify(status, header_wait, &what)
            }));
        };
        if envelope.ok && (200..300).contains(&status) {
            return serde_json::from_value(envelope.result).map_err(|e| {
                Failed::Error(ChannelError::Transient(format!(
                    "{what}: unexpected result: {e}"
                )))
            });
        }
        let retry_after = envelope
            .parameters
            .and_then(|p| p.retry_after)
            .and_then(seconds)
            .or(header_wait);
        Err(Failed::Refused(Refusal {
            method,
            status: envelope
                .error_code
                .filter(|c| *c >= 400)
                .unwrap_or(if status >= 400 { status } else { 500 }),
            description: envelope
                .description
                .unwrap_or_else(|| "no description".to_owned()),
            retry_after,
        }))
    }

    /// Downloads `{apiRoot}/file/bot<token>/<file_path>`, refusing more than `max_bytes`.
    pub(super) async fn download(
        &self,
        file_path: &str,
        max_bytes: u64,
        timeout: Duration,
    ) -> Result<Bytes, ChannelError> {
        let what = "telegram file download";
        let url = format!("{}/file/bot{}/{file_path}", self.root, self.token);
        let response = self
            .http
            .get(url)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| transport(&e, what))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return Err(classify(
                status,
                retry_after_header(response.headers()),
                what,
            ));
        }
        crate::http::read_limited(response, max_bytes, what).await
    }
}

pub(super) use crate::http::too_big;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_parse_liberally() {
        let update: Update = serde_json::from_value(serde_json::json!({
            "update_id": 7,
            "some_future_field": {"x": [1, 2]},
            "message": {
                "message_id": 3,
                "from": {"id": 1, "is_bot": false, "first_name": "Ann", "emoji_status": "x"},
                "chat": {"id": 1, "type": "private", "first_name": "Ann"},
                "date": 1_700_000_000,
                "text": "hi",
                "entities": [{"type": "bold", "offset": 0, "length": 2}],
                "reply_to_message": {"message_id": 2, "forum_topic_created": {"name": "t"}},
                "link_preview_options": {"is_disabled": true}
            }
        }))
        .expect("parses");
        let message = update.message.expect("message");
        assert_eq!(message.message_id, 3);
        assert_eq!(message.chat.kind, "private");
        assert_eq!(message.text.as_deref(), Some("hi"));
        assert_eq!(message.reply_to_message.map(|m| m.message_id), Some(2));
        assert!(update.channel_post.is_none());
    }

    #[test]
    fn refusals_are_classified() {
        let refusal = |status, description: &str| Refusal {
            method: "sendMessage",
            status,
            description: description.to_owned(),
            retry_after: Some(Duration::from_secs(4)),
        };
        assert!(refusal(400, "Bad Request: can't parse entities: x").is_markup_error());
        assert!(refusal(400, "Bad Request: message is not modified: y").is_not_modified());
        assert_eq!(
            ChannelError::from(refusal(429, "Too Many Requests: retry after 4")).retry_after(),
            Some(Duration::from_secs(4))
        );
        assert!(matches!(
            ChannelError::from(refusal(401, "Unauthorized")),
            ChannelError::Auth(_)
        ));
        assert!(matches!(
            ChannelError::from(refusal(404, "Not Found")),
            ChannelError::Auth(_)
        ));
        assert!(matches!(
            ChannelError::from(refusal(403, "Forbidden: bot was blocked by the user")),
            ChannelError::Permanent(_)
        ));
        assert!(ChannelError::from(refusal(409, "Conflict")).is_retryable());
    }

    #[test]
    fn debug_hides_the_token() {
        let api = Api::new(reqwest::Client::new(), "http://x/", "123:SECRET");
        assert!(!format!("{api:?}").contains("SECRET"));
        assert_eq!(api.url("getMe"), "http://x/bot123:SECRET/getMe");
    }
}
