//! [`FakeSlack`]: Slack's Web API, Socket Mode WebSocket and file hosting on 127.0.0.1, and a
//! signer that posts Events API requests the way Slack does.
//!
//! It follows Slack's reference (<https://api.slack.com/web>,
//! <https://api.slack.com/apis/socket-mode>, <https://api.slack.com/apis/events-api>):
//!
//! - `/api/<method>` takes JSON or form bodies (and query parameters), the token from
//!   `Authorization: Bearer` or a `token` parameter, and answers HTTP 200 with `{"ok": true, …}`
//!   or `{"ok": false, "error": "<code>"}`: `not_authed` without a token, `invalid_auth` with a
//!   wrong one, `not_allowed_token_type` with the other kind (the app-level token only opens
//!   connections; the bot token does everything else). Methods: `auth.test`,
//!   `apps.connections.open`, `chat.postMessage` (`msg_too_long` over 40,000 characters),
//!   `chat.update`, `reactions.add`, `users.info`, `files.getUploadURLExternal` and
//!   `files.completeUploadExternal` (the bytes go to the `upload_url` in between).
//! - A rate limit ([`FakeSlack::rate_limit_next`]) is HTTP 429 with `Retry-After` and
//!   `{"ok": false, "error": "ratelimited"}`.
//! - Socket Mode: the URL `apps.connections.open` hands out takes one connection (its ticket is
//!   then spent); the server says `hello`, sends `events_api` envelopes in order, and records
//!   acknowledgements. An envelope not acknowledged within the redelivery delay (3 s, as Slack;
//!   see [`FakeSlack::set_redelivery_after`]) is sent again with `retry_attempt + 1` and
//!   `retry_reason: "timeout"`. Events injected while no client is connected wait for one.
//! - `url_private` file URLs need the bot token; without it Slack answers its sign-in page
//!   (HTTP 200, HTML), and so does the fake.
//!
//! The workspace has a bot user `UFAKEBOT` (`hearth`) in team `TFAKETEAM`; people are created
//! by injecting their messages ([`FakeSlack::dm`], [`FakeSlack::group_message`], …).

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::chat::{Outbox, SentKind, SentMessage};
use crate::script::{RecordedRequest, bearer};

const BOT_TOKEN: &str = "xoxb-1111-2222-fakebottoken";
const APP_TOKEN: &str = "xapp-1-A0FAKEAPP-3333-fakeapptoken";
const TEAM_ID: &str = "TFAKETEAM";
const BOT_USER_ID: &str = "UFAKEBOT";
const BOT_ID: &str = "BFAKEBOT";
const BOT_NAME: &str = "hearth";
const APP_ID: &str = "A0FAKEAPP";
/// `chat.postMessage` truncates beyond this and refuses far longer texts; the fake refuses.
const MAX_TEXT_CHARS: usize = 40_000;
/// Slack resends an unacknowledged envelope after this.
const REDELIVERY_AFTER: Duration = Duration::from_secs(3);
/// How often a socket checks for envelopes due again.
const SOCKET_TICK: Duration = Duration::from_millis(25);
/// A connection told to `disconnect` is closed by Slack after this if the client keeps it.
const DISCONNECT_GRACE: Duration = Duration::from_secs(10);
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
const MAX_RECORDED: usize = 4096;

/// A reaction the bot added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub channel: String,
    pub ts: String,
    pub name: String,
}

/// A file the bot uploaded through the external upload flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub file_id: String,
    /// `filename` given to `files.getUploadURLExternal`.
    pub name: String,
    /// `length` given to `files.getUploadURLExternal`.
    pub length: usize,
    /// The bytes POSTed to the upload URL, once they were.
    pub bytes: Option<Vec<u8>>,
    /// The channel it was shared in by `files.completeUploadExternal`, once it was.
    pub channel: Option<String>,
}

/// A fake Slack workspace on 127.0.0.1. Dropping it shuts the server down.
#[derive(Debug)]
pub struct FakeSlack {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    addr: SocketAddr,
    state: Mutex<SlackState>,
    outbox: Outbox,
    /// Wakes sockets (new envelopes, drops, disconnects) and waiters (acks).
    changed: Notify,
    shutdown: CancellationToken,
}

#[derive(Debug)]
struct SlackState {
    log: Vec<RecordedRequest>,
    /// Display names of the people who wrote, by user id.
    users: HashMap<String, String>,
    /// Who wrote each message, by (channel, ts).
    messages: HashMap<(String, String), String>,
    tickets: HashSet<String>,
    seq: u64,
    last_ts_micros: u64,
    envelopes: Vec<Envelope>,
    delivered: Vec<Value>,
    acked: Vec<String>,
    redelivery_after: Duration,
    app_mentions: bool,
    rate_limit: Option<(usize, u64)>,
    failures: Option<(usize, u16)>,
    uploads: Vec<Upload>,
    /// Upload URL key → file id.
    upload_keys: HashMap<String, String>,
    /// `url_private` path → (bytes, mime).
    files: HashMap<String, (Vec<u8>, String)>,
    reactions: Vec<Reaction>,
    connections: HashMap<u64, Connection>,
    connections_opened: usize,
}

#[derive(Debug)]
struct Envelope {
    id: String,
    payload: Value,
    retry_attempt: u32,
    /// The connection it was last sent on and when.
    sent: Option<(u64, Instant)>,
    acked: bool,
}

#[derive(Debug, Default)]
struct Connection {
    dropped: bool,
    disconnect: Option<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

impl FakeSlack {
    /// Starts on a free loopback port.
    pub async fn start() -> Self {
        let listener = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
            Ok(listener) => listener,
            Err(err) => panic!("FakeSlack could not bind 127.0.0.1:0: {err}"),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(err) => panic!("FakeSlack has no local address: {err}"),
        };
        let shared = Arc::new(Shared {
            addr,
            state: Mutex::new(SlackState {
                log: Vec::new(),
                users: HashMap::new(),
                messages: HashMap::new(),
                tickets: HashSet::new(),
                seq: 0,
                last_ts_micros: 0,
                envelopes: Vec::new(),
                delivered: Vec::new(),
                acked: Vec::new(),
                redelivery_after: REDELIVERY_AFTER,
                app_mentions: false,
                rate_limit: None,
                failures: None,
                uploads: Vec::new(),
                upload_keys: HashMap::new(),
                files: HashMap::new(),
                reactions: Vec::new(),
                connections: HashMap::new(),
                connections_opened: 0,
            }),
            outbox: Outbox::default(),
            changed: Notify::new(),
            shutdown: CancellationToken::new(),
        });
        let server = axum::serve(listener, app(Arc::clone(&shared)))
            .with_graceful_shutdown(shared.shutdown.clone().cancelled_owned());
        tokio::spawn(async move {
            if let Err(err) = server.await {
                tracing::warn!(%err, "FakeSlack stopped with an error");
            }
        });
        Self { addr, shared }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>/api`, the value for `apiRoot`.
    pub fn url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The bot token (`xoxb-`), the account's `botToken`.
    pub fn token(&self) -> String {
        BOT_TOKEN.to_owned()
    }

    /// The app-level token (`xapp-`), the account's `appToken`.
    pub fn app_token(&self) -> String {
        APP_TOKEN.to_owned()
    }

    pub fn team_id(&self) -> String {
        TEAM_ID.to_owned()
    }

    pub fn bot_user_id(&self) -> String {
        BOT_USER_ID.to_owned()
    }

    /// The DM channel between the bot and `user_id`.
    pub fn dm_channel(&self, user_id: &str) -> String {
        format!("D{}", user_id.trim_start_matches(['U', 'W']))
    }

    /// Every request to the Web API and the upload URLs, oldest first; the body is the JSON or
    /// form arguments as a JSON object.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.state).log.clone()
    }

    /// The recorded calls of one Web API method (`chat.postMessage`).
    pub fn calls(&self, method: &str) -> Vec<RecordedRequest> {
        let path = format!("/api/{method}");
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    pub fn outbox(&self) -> &Outbox {
        &self.shared.outbox
    }

    /// Reactions the bot added, in order.
    pub fn reactions(&self) -> Vec<Reaction> {
        lock(&self.shared.state).reactions.clone()
    }

    /// Files the bot uploaded, in order.
    pub fn uploads(&self) -> Vec<Upload> {
        lock(&self.shared.state).uploads.clone()
    }

    /// Ids of the envelopes the client acknowledged, in order.
    pub fn acked(&self) -> Vec<String> {
        lock(&self.shared.state).acked.clone()
    }

    /// Every envelope frame sent over Socket Mode, redeliveries included, in order.
    pub fn delivered(&self) -> Vec<Value> {
        lock(&self.shared.state).delivered.clone()
    }

    /// Socket Mode connections open now.
    pub fn connections(&self) -> usize {
        lock(&self.shared.state)
            .connections
            .values()
            .filter(|c| !c.dropped)
            .count()
    }

    /// Socket Mode connections accepted since the start.
    pub fn connections_opened(&self) -> usize {
        lock(&self.shared.state).connections_opened
    }

    /// Waits until at least `n` envelopes were acknowledged, or `timeout` passed; returns them.
    pub async fn wait_acked(&self, n: usize, timeout: Duration) -> Vec<String> {
        self.wait(timeout, |s| s.acked.len() >= n).await;
        self.acked()
    }

    /// Waits until at least `n` envelope frames were sent (redeliveries count), or `timeout`.
    pub async fn wait_delivered(&self, n: usize, timeout: Duration) -> Vec<Value> {
        self.wait(timeout, |s| s.delivered.len() >= n).await;
        self.delivered()
    }

    /// Waits until `n` Socket Mode connections are open, or `timeout` passed.
    pub async fn wait_connections(&self, n: usize, timeout: Duration) -> usize {
        self.wait(timeout, |s| {
            s.connections.values().filter(|c| !c.dropped).count() >= n
        })
        .await;
        self.connections()
    }

    async fn wait(&self, timeout: Duration, done: impl Fn(&SlackState) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if done(&lock(&self.shared.state)) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return;
            }
        }
    }

    /// How long an envelope waits for its acknowledgement before it is sent again (3 s).
    pub fn set_redelivery_after(&self, delay: Duration) {
        lock(&self.shared.state).redelivery_after = delay;
    }

    /// Also sends an `app_mention` event (same channel and `ts`) after each message event that
    /// mentions the bot, as Slack does for an app subscribed to both. Off by default, so each
    /// injected message is one event.
    pub fn send_app_mentions(&self, on: bool) {
        lock(&self.shared.state).app_mentions = on;
    }

    /// The next `n_calls` send calls (`chat.postMessage`, `chat.update`,
    /// `files.getUploadURLExternal`) answer HTTP 429, `Retry-After: retry_after_secs`.
    pub fn rate_limit_next(&self, n_calls: usize, retry_after_secs: u64) {
        lock(&self.shared.state).rate_limit = Some((n_calls, retry_after_secs));
    }

    /// The next `n_calls` send calls answer HTTP `status` with Slack's error body for it.
    pub fn fail_next(&self, n_calls: usize, status: u16) {
        lock(&self.shared.state).failures = Some((n_calls, status));
    }

    /// Kills every Socket Mode connection abruptly (no close frame), as a server restart would.
    /// Envelopes injected afterwards wait for the next connection.
    pub fn drop_connections(&self) {
        for connection in lock(&self.shared.state).connections.values_mut() {
            connection.dropped = true;
        }
        self.shared.changed.notify_waiters();
    }

    /// Sends `{"type": "disconnect", "reason": reason}` on every connection (Slack uses
    /// `refresh_requested`, `warning`, `link_disabled`); from then on they get no envelopes and
    /// are closed after 10 s unless the client closes them first.
    pub fn disconnect_all(&self, reason: &str) {
        for connection in lock(&self.shared.state).connections.values_mut() {
            if !connection.dropped {
                connection.disconnect = Some(reason.to_owned());
            }
        }
        self.shared.changed.notify_waiters();
    }

    /// A direct message from `user_id` (shown as `name`); returns its `ts`.
    pub fn dm(&self, user_id: &str, name: &str, text: &str) -> String {
        let event = self.dm_event(user_id, name, text);
        self.inject(event)
    }

    /// The event of a direct message, registered (user, message) but not delivered; for posting
    /// it to an Events API endpoint with [`FakeSlack::post_event`].
    pub fn dm_event(&self, user_id: &str, name: &str, text: &str) -> Value {
        let channel = self.dm_channel(user_id);
        self.message_event(&channel, user_id, name, text, None)
    }

    /// A message in channel `chat_id` (`C…` public, `G…` private); with `mention`, the text
    /// starts with `<@UFAKEBOT>`, Slack's encoding of a mention. Returns its `ts`.
    pub fn group_message(
        &self,
        chat_id: &str,
        user_id: &str,
        name: &str,
        text: &str,
        mention: bool,
    ) -> String {
        let text = mentioned(text, mention);
        let event = self.message_event(chat_id, user_id, name, &text, None);
        self.inject(event)
    }

    /// A reply in the thread of `thread_ts` in `channel`; returns its `ts`.
    pub fn thread_message(
        &self,
        channel: &str,
        thread_ts: &str,
        user_id: &str,
        name: &str,
        text: &str,
        mention: bool,
    ) -> String {
        let text = mentioned(text, mention);
        let event = self.message_event(channel, user_id, name, &text, Some(thread_ts));
        self.inject(event)
    }

    /// A PNG sent in a DM with `caption` as the message text; returns the message's `ts`.
    pub fn photo_dm(&self, user_id: &str, name: &str, png_bytes: &[u8], caption: &str) -> String {
        self.share_file(user_id, name, png_bytes, "image/png", "photo.png", caption)
    }

    /// A file (`file.<ext>` after its MIME type) sent in a DM without text; returns its `ts`.
    pub fn file_dm(&self, user_id: &str, name: &str, bytes: &[u8], mime: &str) -> String {
        let file_name = format!("file.{}", extension(mime));
        self.share_file(user_id, name, bytes, mime, &file_name, "")
    }

    fn share_file(
        &self,
        user_id: &str,
        name: &str,
        bytes: &[u8],
        mime: &str,
        file_name: &str,
        text: &str,
    ) -> String {
        let channel = self.dm_channel(user_id);
        let mut event = self.message_event(&channel, user_id, name, text, None);
        let (file_id, path) = {
            let mut state = lock(&self.shared.state);
            let file_id = format!("F{:08}", state.next_seq());
            let path = format!("/files-pri/{TEAM_ID}-{file_id}/{file_name}");
            state
                .files
                .insert(path.clone(), (bytes.to_vec(), mime.to_owned()));
            (file_id, path)
        };
        let url = format!("http://{}{path}", self.addr);
        event["subtype"] = json!("file_share");
        event["upload"] = json!(true);
        event["files"] = json!([{
            "id": file_id,
            "created": unix_now(),
            "timestamp": unix_now(),
            "name": file_name,
            "title": file_name,
            "mimetype": mime,
            "filetype": extension(mime),
            "user": user_id,
            "user_team": TEAM_ID,
            "mode": "hosted",
            "editable": false,
            "is_external": false,
            "external_type": "",
            "size": bytes.len(),
            "url_private": url,
            "url_private_download": format!("{url}?download=1"),
            "permalink": format!("https://fake.slack.com/files/{user_id}/{file_id}/{file_name}"),
            "is_public": false,
        }]);
        self.inject(event)
    }

    /// A `message` event, its author and message recorded.
    fn message_event(
        &self,
        channel: &str,
        user_id: &str,
        name: &str,
        text: &str,
        thread_ts: Option<&str>,
    ) -> Value {
        let mut state = lock(&self.shared.state);
        state.users.insert(user_id.to_owned(), name.to_owned());
        let ts = state.next_ts();
        state
            .messages
            .insert((channel.to_owned(), ts.clone()), user_id.to_owned());
        let mut event = json!({
            "type": "message",
            "channel": channel,
            "user": user_id,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "team": TEAM_ID,
            "client_msg_id": format!("00000000-0000-4000-8000-{:012}", state.next_seq()),
            "channel_type": channel_type(channel),
        });
        if let Some(thread_ts) = thread_ts {
            event["thread_ts"] = json!(thread_ts);
            if let Some(parent) = state
                .messages
                .get(&(channel.to_owned(), thread_ts.to_owned()))
            {
                event["parent_user_id"] = json!(parent);
            }
        }
        event
    }

    /// Queues `event` for Socket Mode (and its `app_mention` twin, when enabled); returns its
    /// `ts`.
    fn inject(&self, event: Value) -> String {
        let ts = event["ts"].as_str().unwrap_or_default().to_owned();
        {
            let mut state = lock(&self.shared.state);
            let mention = format!("<@{BOT_USER_ID}>");
            let twin = (state.app_mentions
                && event["text"].as_str().is_some_and(|t| t.contains(&mention)))
            .then(|| {
                json!({
                    "type": "app_mention",
                    "user": event["user"],
                    "text": event["text"],
                    "ts": event["ts"],
                    "channel": event["channel"],
                    "event_ts": event["ts"],
                    "team": TEAM_ID,
                    "thread_ts": event.get("thread_ts"),
                })
            });
            state.queue(event);
            if let Some(twin) = twin {
                state.queue(twin);
            }
        }
        self.shared.changed.notify_waiters();
        ts
    }

    /// Posts `event` to an Events API endpoint as Slack does: wrapped in an `event_callback`
    /// (unless it already is one, or a `url_verification`), signed with `signing_secret` now.
    /// Returns the HTTP status (0 if the endpoint could not be reached).
    pub async fn post_event(&self, url: &str, signing_secret: &str, event: Value) -> u16 {
        let body = match event["type"].as_str() {
            Some("event_callback" | "url_verification" | "app_rate_limited") => event,
            _ => {
                let id = lock(&self.shared.state).next_seq();
                event_callback(event, id)
            }
        };
        let (status, _) = post_signed(url, signing_secret, &body.to_string(), unix_now()).await;
        status
    }
}

/// POSTs `body` to `url` with Slack's signature headers for `timestamp` (Unix seconds), as
/// Slack's Events API does; returns the status and body of the answer (0 and the error when the
/// endpoint could not be reached). Only plain `http://` URLs.
pub async fn post_signed(
    url: &str,
    signing_secret: &str,
    body: &str,
    timestamp: i64,
) -> (u16, String) {
    let signature = sign(signing_secret, timestamp, body.as_bytes());
    let headers = [
        ("Content-Type", "application/json".to_owned()),
        ("X-Slack-Request-Timestamp", timestamp.to_string()),
        ("X-Slack-Signature", signature),
        (
            "User-Agent",
            "Slackbot 1.0 (+https://api.slack.com/robots)".to_owned(),
        ),
    ];
    match http_post(url, &headers, body.as_bytes()).await {
        Ok(answer) => answer,
        Err(err) => (0, err.to_string()),
    }
}

/// `v0=` + hex(HMAC-SHA256(secret, "v0:<timestamp>:<body>")).
pub fn sign(signing_secret: &str, timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(signing_secret.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn event_callback(event: Value, id: u64) -> Value {
    json!({
        "token": "fakeverificationtoken",
        "team_id": TEAM_ID,
        "context_team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": format!("Ev{id:010}"),
        "event_time": unix_now(),
        "authorizations": [{
            "enterprise_id": null,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "is_bot": true,
            "is_enterprise_install": false,
        }],
        "is_ext_shared_channel": false,
    })
}

impl SlackState {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A unique, increasing `ts` near now, as Slack's `seconds.microseconds`.
    fn next_ts(&mut self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        self.last_ts_micros = now.max(self.last_ts_micros + 1);
        format!(
            "{}.{:06}",
            self.last_ts_micros / 1_000_000,
            self.last_ts_micros % 1_000_000
        )
    }

    fn queue(&mut self, event: Value) {
        let seq = self.next_seq();
        self.envelopes.push(Envelope {
            id: format!("{seq:08}-fake-4e0d-9a1b-envelope"),
            payload: event_callback(event, seq),
            retry_attempt: 0,
            sent: None,
            acked: false,
        });
    }

    /// Takes the next send/edit failure, if one is scripted.
    fn scripted_failure(&mut self) -> Option<Response> {
        if let Some((n, secs)) = self.rate_limit.as_mut()
            && *n > 0
        {
            *n -= 1;
            let mut response = slack_json(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"ok": false, "error": "ratelimited"}),
            );
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Some(response);
        }
        if let Some((n, status)) = self.failures.as_mut()
            && *n > 0
        {
            *n -= 1;
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let error = match status.as_u16() {
                400 => "invalid_arguments",
                401 => "invalid_auth",
                403 => "access_denied",
                404 => "unknown_method",
                408 => "request_timeout",
                429 => "ratelimited",
                503 => "service_unavailable",
                500..=599 => "internal_error",
                _ => "fatal_error",
            };
            return Some(slack_json(status, &json!({"ok": false, "error": error})));
        }
        None
    }
}

fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/{method}", any(web_api))
        .route("/link/", get(socket))
        .route("/upload/v1/{key}", post(upload))
        .route("/files-pri/{file}/{name}", get(download))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

impl Shared {
    fn record(&self, path: &str, headers: &HeaderMap, body: Value) {
        let headers = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut state = lock(&self.state);
        if state.log.len() == MAX_RECORDED {
            state.log.remove(0);
        }
        state.log.push(RecordedRequest {
            path: path.to_owned(),
            headers,
            body,
        });
    }
}

/// `/api/<method>`.
async fn web_api(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let args = arguments(&headers, query.as_deref(), &body);
    shared.record(&format!("/api/{method}"), &headers, args.clone());
    let token = bearer(&headers)
        .map(str::to_owned)
        .or_else(|| args["token"].as_str().map(str::to_owned));
    let wanted = if method == "apps.connections.open" {
        APP_TOKEN
    } else {
        BOT_TOKEN
    };
    let refused = match token.as_deref() {
        None | Some("") => Some("not_authed"),
        Some(t) if t == wanted => None,
        Some(BOT_TOKEN | APP_TOKEN) => Some("not_allowed_token_type"),
        Some(_) => Some("invalid_auth"),
    };
    if let Some(error) = refused {
        return fail(error);
    }
    if matches!(
        method.as_str(),
        "chat.postMessage" | "chat.update" | "files.getUploadURLExternal"
    ) && let Some(failure) = lock(&shared.state).scripted_failure()
    {
        return failure;
    }
    match method.as_str() {
        "auth.test" => ok(json!({
            "url": "https://hearth-fake.slack.com/",
            "team": "Hearth Fake",
            "user": BOT_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": false,
        })),
        "apps.connections.open" => {
            let ticket = {
                let mut state = lock(&shared.state);
                let ticket = format!("fake-ticket-{:08}", state.next_seq());
                state.tickets.insert(ticket.clone());
                ticket
            };
            ok(json!({
                "url": format!("ws://{}/link/?ticket={ticket}&app_id={APP_ID}", shared.addr),
            }))
        }
        "chat.postMessage" => post_message(&shared, &args),
        "chat.update" => update_message(&shared, &args),
        "reactions.add" => add_reaction(&shared, &args),
        "users.info" => user_info(&shared, &args),
        "files.getUploadURLExternal" => upload_url(&shared, &args),
        "files.completeUploadExternal" => complete_upload(&shared, &args),
        _ => fail("unknown_method"),
    }
}

fn post_message(shared: &Shared, args: &Value) -> Response {
    let Some(channel) = str_arg(args, "channel") else {
        return fail("channel_not_found");
    };
    let text = str_arg(args, "text").unwrap_or_default();
    if text.is_empty() && args.get("blocks").is_none() && args.get("attachments").is_none() {
        return fail("no_text");
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return fail("msg_too_long");
    }
    let thread_ts = str_arg(args, "thread_ts");
    let ts = {
        let mut state = lock(&shared.state);
        let ts = state.next_ts();
        state
            .messages
            .insert((channel.clone(), ts.clone()), BOT_USER_ID.to_owned());
        ts
    };
    let mut sent = SentMessage::text(&channel, &ts, &text);
    sent.thread_id.clone_from(&thread_ts);
    sent.format = (flag(&args["mrkdwn"]) != Some(false)).then(|| "mrkdwn".to_owned());
    shared.outbox.push(sent);
    let mut message = bot_message(&text, &ts);
    if let Some(thread_ts) = &thread_ts {
        message["thread_ts"] = json!(thread_ts);
    }
    ok(json!({ "channel": channel, "ts": ts, "message": message }))
}

fn update_message(shared: &Shared, args: &Value) -> Response {
    let (Some(channel), Some(ts)) = (str_arg(args, "channel"), str_arg(args, "ts")) else {
        return fail("message_not_found");
    };
    let text = str_arg(args, "text").unwrap_or_default();
    if text.chars().count() > MAX_TEXT_CHARS {
        return fail("msg_too_long");
    }
    let author = lock(&shared.state)
        .messages
        .get(&(channel.clone(), ts.clone()))
        .cloned();
    match author.as_deref() {
        None => return fail("message_not_found"),
        Some(BOT_USER_ID) => {}
        Some(_) => return fail("cant_update_message"),
    }
    if !shared.outbox.edit(&channel, &ts, &text) {
        return fail("message_not_found");
    }
    ok(json!({
        "channel": channel,
        "ts": ts,
        "text": text,
        "message": bot_message(&text, &ts),
    }))
}

fn add_reaction(shared: &Shared, args: &Value) -> Response {
    let (Some(channel), Some(ts)) = (str_arg(args, "channel"), str_arg(args, "timestamp")) else {
        return fail("no_item_specified");
    };
    let Some(name) = str_arg(args, "name").filter(|n| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_+-'".contains(c))
    }) else {
        return fail("invalid_name");
    };
    let mut state = lock(&shared.state);
    if !state.messages.contains_key(&(channel.clone(), ts.clone())) {
        return fail("message_not_found");
    }
    let reaction = Reaction { channel, ts, name };
    if state.reactions.contains(&reaction) {
        return fail("already_reacted");
    }
    state.reactions.push(reaction);
    ok(json!({}))
}

fn user_info(shared: &Shared, args: &Value) -> Response {
    let Some(user) = str_arg(args, "user") else {
        return fail("user_not_found");
    };
    let (name, is_bot) = if user == BOT_USER_ID {
        (BOT_NAME.to_owned(), true)
    } else {
        match lock(&shared.state).users.get(&user) {
            Some(name) => (name.clone(), false),
            None => return fail("user_not_found"),
        }
    };
    let handle: String = name
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    ok(json!({
        "user": {
            "id": user,
            "team_id": TEAM_ID,
            "name": handle,
            "deleted": false,
            "real_name": name,
            "is_bot": is_bot,
            "tz": "Europe/Amsterdam",
            "profile": {
                "display_name": name,
                "display_name_normalized": name,
                "real_name": name,
                "real_name_normalized": name,
                "team": TEAM_ID,
            },
        }
    }))
}

fn upload_url(shared: &Shared, args: &Value) -> Response {
    let length = match &args["length"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let (Some(name), Some(length)) = (str_arg(args, "filename"), length) else {
        return fail("invalid_arguments");
    };
    let mut state = lock(&shared.state);
    let file_id = format!("F{:08}", state.next_seq());
    let key = format!("fake-upload-{:08}", state.next_seq());
    state.upload_keys.insert(key.clone(), file_id.clone());
    state.uploads.push(Upload {
        file_id: file_id.clone(),
        name,
        length: usize::try_from(length).unwrap_or(usize::MAX),
        bytes: None,
        channel: None,
    });
    ok(json!({
        "upload_url": format!("http://{}/upload/v1/{key}", shared.addr),
        "file_id": file_id,
    }))
}

/// The upload URL: takes the raw bytes (or a multipart form, which is not parsed here).
async fn upload(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.record(uri.path(), &headers, json!({ "bytes": body.len() }));
    let mut state = lock(&shared.state);
    let Some(file_id) = state.upload_keys.get(&key).cloned() else {
        return (StatusCode::NOT_FOUND, "upload not found").into_response();
    };
    if let Some(upload) = state.uploads.iter_mut().find(|u| u.file_id == file_id) {
        upload.bytes = Some(body.to_vec());
    }
    (StatusCode::OK, format!("OK - {}", body.len())).into_response()
}

fn complete_upload(shared: &Shared, args: &Value) -> Response {
    // `files` is a JSON array in a JSON body, a JSON string in a form.
    let files = match &args["files"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        other => other.clone(),
    };
    let Some(files) = files.as_array().filter(|f| !f.is_empty()).cloned() else {
        return fail("invalid_arguments");
    };
    let channel = str_arg(args, "channel_id")
        .or_else(|| str_arg(args, "channels").and_then(|c| c.split(',').next().map(str::to_owned)));
    let thread_ts = str_arg(args, "thread_ts");
    let comment = str_arg(args, "initial_comment").unwrap_or_default();
    let mut state = lock(&shared.state);
    let mut answered = Vec::new();
    let mut shared_files = Vec::new();
    for file in &files {
        let id = file["id"].as_str().unwrap_or_default();
        let Some(upload) = state
            .uploads
            .iter_mut()
            .find(|u| u.file_id == id && u.bytes.is_some())
        else {
            return fail("file_not_found");
        };
        upload.channel.clone_from(&channel);
        let title = file["title"].as_str().unwrap_or(&upload.name).to_owned();
        let len = upload.bytes.as_ref().map_or(0, Vec::len);
        let name = upload.name.clone();
        shared_files.push((name.clone(), len));
        answered.push(json!({
            "id": id,
            "name": name,
            "title": title,
            "mimetype": mime_of(&name),
            "size": len,
            "user": BOT_USER_ID,
            "url_private": format!("http://{}/files-pri/{TEAM_ID}-{id}/{name}", shared.addr),
            // Sharing completes asynchronously; Slack's answer usually has no shares yet.
            "shares": {},
        }));
    }
    if let Some(channel) = &channel {
        for (name, len) in shared_files {
            let ts = state.next_ts();
            state
                .messages
                .insert((channel.clone(), ts.clone()), BOT_USER_ID.to_owned());
            let mut sent = SentMessage::text(channel, &ts, &comment);
            sent.thread_id.clone_from(&thread_ts);
            sent.kind = if mime_of(&name).starts_with("image/") {
                SentKind::Photo
            } else {
                SentKind::Document
            };
            sent.file_name = Some(name);
            sent.file_len = Some(len);
            shared.outbox.push(sent);
        }
    }
    ok(json!({ "files": answered }))
}

/// `url_private`: the file for the bot token, Slack's sign-in page for anyone else.
async fn download(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    shared.record(uri.path(), &headers, Value::Null);
    if bearer(&headers) != Some(BOT_TOKEN) {
        let mut page = Response::new(Body::from(
            "<!DOCTYPE html><html><head><title>Slack</title></head>\
             <body>Sign in to Slack</body></html>",
        ));
        page.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return page;
    }
    let Some((bytes, mime)) = lock(&shared.state).files.get(uri.path()).cloned() else {
        return (StatusCode::NOT_FOUND, "file not found").into_response();
    };
    let mut response = Response::new(Body::from(bytes));
    if let Ok(value) = HeaderValue::from_str(&mime) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// The Socket Mode URL: one connection per ticket.
async fn socket(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    uri: Uri,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    shared.record(uri.path(), &headers, Value::Null);
    let params = form_object(query.as_deref().unwrap_or_default());
    let ticket = params["ticket"].as_str().unwrap_or_default();
    let id = {
        let mut state = lock(&shared.state);
        if !state.tickets.remove(ticket) {
            return (StatusCode::UNAUTHORIZED, "invalid or spent ticket").into_response();
        }
        let id = state.next_seq();
        state.connections.insert(id, Connection::default());
        state.connections_opened += 1;
        id
    };
    let shared_for_socket = Arc::clone(&shared);
    upgrade.on_upgrade(move |ws| async move {
        serve_socket(&shared_for_socket, id, ws).await;
        lock(&shared_for_socket.state).connections.remove(&id);
        shared_for_socket.changed.notify_waiters();
    })
}

/// Sends `hello`, then due envelopes, and records acknowledgements until the connection ends.
async fn serve_socket(shared: &Shared, id: u64, ws: WebSocket) {
    let (mut tx, mut rx) = ws.split();
    let open = lock(&shared.state).connections.len();
    let hello = json!({
        "type": "hello",
        "num_connections": open,
        "debug_info": {
            "host": "applink-fake-1",
            "build_number": 1,
            "approximate_connection_time": 18060,
        },
        "connection_info": { "app_id": APP_ID },
    });
    if tx
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    shared.changed.notify_waiters();
    let mut closing_at: Option<Instant> = None;
    loop {
        let changed = shared.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let mut frames = Vec::new();
        {
            let mut state = lock(&shared.state);
            let Some(connection) = state.connections.get_mut(&id) else {
                return;
            };
            if connection.dropped {
                // Dropping the socket without a close frame, as a crashed server would.
                return;
            }
            if let Some(reason) = connection.disconnect.take() {
                frames.push(json!({
                    "type": "disconnect",
                    "reason": reason,
                    "debug_info": { "host": "applink-fake-1" },
                }));
                closing_at = Some(Instant::now() + DISCONNECT_GRACE);
            }
            if closing_at.is_none() {
                let now = Instant::now();
                let after = state.redelivery_after;
                let mut sent = Vec::new();
                for envelope in state.envelopes.iter_mut().filter(|e| !e.acked) {
                    let retry = match envelope.sent {
                        None => false,
                        Some((_, at)) if now.duration_since(at) >= after => true,
                        Some(_) => continue,
                    };
                    if retry {
                        envelope.retry_attempt += 1;
                    }
                    envelope.sent = Some((id, now));
                    let frame = json!({
                        "envelope_id": envelope.id,
                        "payload": envelope.payload,
                        "type": "events_api",
                        "accepts_response_payload": false,
                        "retry_attempt": envelope.retry_attempt,
                        "retry_reason": if retry { "timeout" } else { "" },
                    });
                    sent.push(frame.clone());
                    frames.push(frame);
                }
                state.delivered.extend(sent);
            }
        }
        for frame in frames {
            if tx
                .send(Message::Text(frame.to_string().into()))
                .await
                .is_err()
            {
                return;
            }
        }
        if closing_at.is_some_and(|at| Instant::now() >= at) {
            let _ = tx.send(Message::Close(None)).await;
            return;
        }
        tokio::select! {
            biased;
            () = shared.shutdown.cancelled() => return,
            () = &mut changed => {}
            () = tokio::time::sleep(SOCKET_TICK) => {}
            message = rx.next() => match message {
                Some(Ok(Message::Text(text))) => acknowledge(shared, text.as_str()),
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

fn acknowledge(shared: &Shared, text: &str) {
    let Ok(ack) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let Some(id) = ack["envelope_id"].as_str() else {
        return;
    };
    {
        let mut state = lock(&shared.state);
        let Some(envelope) = state.envelopes.iter_mut().find(|e| e.id == id && !e.acked) else {
            return;
        };
        envelope.acked = true;
        state.acked.push(id.to_owned());
    }
    shared.changed.notify_waiters();
}

/// The call's arguments as one JSON object: the query string, then a JSON or form body.
fn arguments(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Value {
    let mut args = form_object(query.unwrap_or_default());
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    let from_body = if is_json {
        serde_json::from_slice(body).unwrap_or(Value::Null)
    } else {
        form_object(&String::from_utf8_lossy(body))
    };
    if let (Some(args), Value::Object(more)) = (args.as_object_mut(), from_body) {
        args.extend(more);
    }
    args
}

/// `a=1&b=x%20y` as `{"a": "1", "b": "x y"}`.
fn form_object(form: &str) -> Value {
    let map = form
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), Value::String(percent_decode(v)))
        })
        .collect();
    Value::Object(map)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, byte) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A string argument; numbers (form bodies carry everything as text, JSON not) as text too.
fn str_arg(args: &Value, key: &str) -> Option<String> {
    match &args[key] {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A boolean argument: JSON `true`/`false` or the form strings `true`/`false`/`1`/`0`.
fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn bot_message(text: &str, ts: &str) -> Value {
    json!({
        "type": "message",
        "subtype": "bot_message",
        "text": text,
        "ts": ts,
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "team": TEAM_ID,
        "bot_profile": { "id": BOT_ID, "name": BOT_NAME, "app_id": APP_ID, "team_id": TEAM_ID },
    })
}

fn ok(mut body: Value) -> Response {
    if let Some(map) = body.as_object_mut() {
        map.insert("ok".to_owned(), json!(true));
    }
    slack_json(StatusCode::OK, &body)
}

/// Slack's refusal: HTTP 200 with `ok: false`.
fn fail(error: &str) -> Response {
    slack_json(StatusCode::OK, &json!({ "ok": false, "error": error }))
}

fn slack_json(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn mentioned(text: &str, mention: bool) -> String {
    if mention {
        format!("<@{BOT_USER_ID}> {text}")
    } else {
        text.to_owned()
    }
}

/// `channel_type` as Slack reports it, from the id's prefix.
fn channel_type(channel: &str) -> &'static str {
    match channel.chars().next() {
        Some('D') => "im",
        Some('G') => "group",
        _ => "channel",
    }
}

fn extension(mime: &str) -> &str {
    match mime {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "audio/mpeg" => "mp3",
        "audio/ogg" => "ogg",
        "video/mp4" => "mp4",
        _ => "bin",
    }
}

fn mime_of(name: &str) -> &'static str {
    let ext = name
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" | "md" => "text/plain",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A minimal HTTP/1.1 POST over loopback (the crate has no HTTP client): `Connection: close`,
/// whole answer read, chunked bodies decoded.
async fn http_post(
    url: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_owned());
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| invalid("only http:// URLs"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let mut stream = TcpStream::connect(authority).await?;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no HTTP header in the answer"))?;
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut raw_body = answer[split + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("no HTTP status in the answer"))?;
    let chunked = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("transfer-encoding:") && line.contains("chunked")
    });
    if chunked {
        raw_body = dechunk(&raw_body);
    }
    Ok((status, String::from_utf8_lossy(&raw_body).into_owned()))
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = String::from_utf8_lossy(&body[..line_end]);
        let size =
            usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        body = &body[line_end + 2..];
        if size == 0 || body.len() < size {
            break;
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        let args = form_object("channel=C1&text=hello+there%21&empty=&flag");
        assert_eq!(args["channel"], "C1");
        assert_eq!(args["text"], "hello there!");
        assert_eq!(args["empty"], "");
        assert_eq!(args["flag"], "");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%e2%9c%93"), "✓");
    }

    #[test]
    fn signatures_match_slacks_example() {
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            sign(
                "8f742231b10e8888abcd99yyyzzz85a5",
                1_531_420_618,
                body.as_bytes()
            ),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }

    #[test]
    fn chunked_bodies_decode() {
        assert_eq!(dechunk(b"5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n"), b"hello!");
    }
}
