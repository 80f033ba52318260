//! Slack's Web API: one authenticated call, its answer turned into a value or a [`ChannelError`],
//! and the wire types of the answers the adapter reads.
//!
//! Every method answers HTTP 200 with `{"ok": true, …}` or `{"ok": false, "error": "<code>"}`
//! (<https://api.slack.com/web#responses>); a rate limit is HTTP 429 with `Retry-After`
//! (<https://api.slack.com/apis/rate-limits>). Tokens go in `Authorization: Bearer`, never in a
//! URL, so no error message built here can carry one.

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ChannelError;
use crate::http::{classify, retry_after_header, transport};

/// Slack's public Web API root.
pub(super) const DEFAULT_API_ROOT: &str = "https://slack.com/api";

/// Longest wait for one Web API call; Slack answers in well under a second when healthy.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Which of the account's two tokens a call presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token {
    /// The bot token (`xoxb-`), for everything the bot does.
    Bot,
    /// The app-level token (`xapp-`), only for `apps.connections.open`.
    App,
}

/// The arguments of one call.
#[derive(Debug)]
pub(super) enum Args {
    Json(Value),
    /// Form-encoded: the one encoding every method accepts. `files.getUploadURLExternal` is
    /// sent this way because Slack's own SDKs send it so and JSON has been refused there.
    Form(Vec<(&'static str, String)>),
}

/// The Web API of one account.
pub(super) struct Api {
    http: reqwest::Client,
    root: String,
    bot_token: String,
    app_token: Option<String>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Api {
    pub(super) fn new(
        http: reqwest::Client,
        root: &str,
        bot_token: String,
        app_token: Option<String>,
    ) -> Api {
        Api {
            http,
            root: root.trim_end_matches('/').to_owned(),
            bot_token,
            app_token,
        }
    }

    pub(super) fn root(&self) -> &str {
        &self.root
    }

    pub(super) fn bot_token(&self) -> &str {
        &self.bot_token
    }

    pub(super) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Calls `method` and parses its successful answer as `T`.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        token: Token,
        args: Args,
    ) -> Result<T, ChannelError> {
        let value = self.call_value(method, token, args).await?;
        serde_json::from_value(value).map_err(|err| {
            ChannelError::Transient(format!("slack {method}: unexpected answer: {err}"))
        })
    }

    async fn call_value(
        &self,
        method: &str,
        token: Token,
        args: Args,
    ) -> Result<Value, ChannelError> {
        let token = match token {
            Token::Bot => self.bot_token.as_str(),
            Token::App => self.app_token.as_deref().ok_or_else(|| {
                ChannelError::Config(
                    "Slack Socket Mode needs an app-level token (`appToken`)".into(),
                )
            })?,
        };
        let request = self
            .http
            .post(format!("{}/{method}", self.root))
            .bearer_auth(token)
            .timeout(CALL_TIMEOUT);
        let request = match args {
            Args::Json(body) => request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/json; charset=utf-8",
                )
                .body(body.to_string()),
            Args::Form(fields) => request.form(&fields),
        };
        let what = format!("slack {method}");
        let response = request.send().await.map_err(|e| transport(&e, &what))?;
        let status = response.status().as_u16();
        let retry_after = retry_after_header(response.headers());
        let body = response.bytes().await.map_err(|e| transport(&e, &what))?;
        let reply: Reply = serde_json::from_slice(&body).unwrap_or_default();
        if status != 200 {
            let code = reply.error.as_deref().unwrap_or("no error code");
            return Err(classify(status, retry_after, &format!("{what}: {code}")));
        }
        if reply.ok {
            return serde_json::from_slice(&body).map_err(|err| {
                ChannelError::Transient(format!("{what}: unreadable answer: {err}"))
            });
        }
        let code = reply.error.unwrap_or_else(|| "unknown_error".to_owned());
        Err(error_for(&what, &code, retry_after))
    }
}

/// The envelope every Web API answer has.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Reply {
    ok: bool,
    error: Option<String>,
}

/// What an `{"ok": false, "error": code}` answer means for the caller.
pub(super) fn error_for(what: &str, code: &str, retry_after: Option<Duration>) -> ChannelError {
    let message = format!("{what}: {code}");
    match code {
        "ratelimited" | "rate_limited" => classify(429, retry_after, &message),
        "invalid_auth"
        | "not_authed"
        | "token_revoked"
        | "token_expired"
        | "account_inactive"
        | "not_allowed_token_type" => ChannelError::Auth(message),
        "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
            ChannelError::Transient(message)
        }
        _ => ChannelError::Permanent(message),
    }
}

/// `auth.test`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(super) struct AuthTest {
    pub(super) user_id: String,
    pub(super) user: String,
    pub(super) team_id: String,
    pub(super) bot_id: Option<String>,
}

/// `apps.connections.open`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ConnectionsOpen {
    pub(super) url: String,
}

/// `chat.postMessage` and `chat.update`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Posted {
    pub(super) ts: String,
}

/// `users.info`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct UsersInfo {
    pub(super) user: User,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct User {
    pub(super) name: String,
    pub(super) real_name: String,
    pub(super) profile: Profile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Profile {
    pub(super) display_name: String,
    pub(super) real_name: String,
}

impl User {
    /// The name people see: the display name when set, else the full name, else the handle.
    pub(super) fn shown_name(&self) -> Option<String> {
        [
            &self.profile.display_name,
            &self.profile.real_name,
            &self.real_name,
            &self.name,
        ]
        .into_iter()
        .find(|n| !n.trim().is_empty())
        .map(|n| n.trim().to_owned())
    }
}

/// `files.getUploadURLExternal`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct UploadUrl {
    pub(super) upload_url: String,
    pub(super) file_id: String,
}

/// `files.completeUploadExternal`: the shared files. Sharing happens asynchronously, so
/// `shares` is often still empty in this answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct UploadComplete {
    pub(super) files: Vec<CompletedFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CompletedFile {
    pub(super) id: String,
    pub(super) shares: Value,
}

impl CompletedFile {
    /// The `ts` of the message that shared the file in `channel`, when Slack already knows it.
    pub(super) fn share_ts(&self, channel: &str) -> Option<String> {
        ["public", "private"].into_iter().find_map(|kind| {
            self.shares[kind][channel][0]["ts"]
                .as_str()
                .map(str::to_owned)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_classified() {
        let auth = error_for("slack auth.test", "invalid_auth", None);
        assert!(matches!(auth, ChannelError::Auth(_)));
        assert!(matches!(
            error_for("x", "token_revoked", None),
            ChannelError::Auth(_)
        ));
        assert!(matches!(
            error_for("x", "internal_error", None),
            ChannelError::Transient(_)
        ));
        assert!(matches!(
            error_for("x", "channel_not_found", None),
            ChannelError::Permanent(_)
        ));
        assert!(matches!(
            error_for("x", "msg_too_long", None),
            ChannelError::Permanent(_)
        ));
        assert_eq!(
            error_for("x", "ratelimited", Some(Duration::from_secs(7))).retry_after(),
            Some(Duration::from_secs(7))
        );
        assert!(auth.to_string().contains("invalid_auth"));
    }

    #[test]
    fn user_names_prefer_the_display_name() {
        let user: UsersInfo = serde_json::from_value(serde_json::json!({
            "ok": true,
            "user": {"id": "U1", "name": "egon", "real_name": "Egon Spengler",
                     "profile": {"display_name": "", "real_name": "Egon Spengler"}}
        }))
        .expect("parses");
        assert_eq!(user.user.shown_name().as_deref(), Some("Egon Spengler"));
        let user: User = serde_json::from_value(serde_json::json!({
            "name": "egon", "profile": {"display_name": "spengler"}, "unknown": [1, 2]
        }))
        .expect("parses");
        assert_eq!(user.shown_name().as_deref(), Some("spengler"));
    }

    #[test]
    fn share_ts_is_read_when_present() {
        let file: CompletedFile = serde_json::from_value(serde_json::json!({
            "id": "F1",
            "shares": {"public": {"C1": [{"ts": "1700000000.000100", "reply_count": 0}]}}
        }))
        .expect("parses");
        assert_eq!(file.share_ts("C1").as_deref(), Some("1700000000.000100"));
        assert_eq!(file.share_ts("C2"), None);
        let empty: CompletedFile =
            serde_json::from_value(serde_json::json!({"id": "F2"})).expect("parses");
        assert_eq!(empty.share_ts("C1"), None);
    }
}
