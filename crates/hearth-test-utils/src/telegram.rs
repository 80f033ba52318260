//! [`FakeTelegram`]: the Telegram Bot API served on 127.0.0.1, for tests.
//!
//! It follows the Bot API reference (<https://core.telegram.org/bots/api>):
//!
//! - Every method is `/bot<token>/<method>` (names case-insensitive), taking parameters from the
//!   query string, a JSON body, `application/x-www-form-urlencoded` or `multipart/form-data`
//!   (objects and arrays as JSON-serialized strings there). Answers are `{"ok": true, "result"}`
//!   or `{"ok": false, "error_code", "description"}` with `parameters.retry_after` on 429; a wrong
//!   token gets 401 `Unauthorized`, an unknown method 404 `Not Found`.
//! - `getUpdates` is a real long poll: it holds the request until an update is queued or
//!   `timeout` seconds pass. Updates stay queued until a later call names an `offset` past them
//!   (that confirms them); `limit` and `allowed_updates` (remembered between calls) apply. A newer
//!   `getUpdates` ends an older one still waiting with 409 "terminated by other getUpdates
//!   request", and polling while a webhook is set gets 409 too, as Telegram does.
//! - `setWebhook`/`deleteWebhook`/`getWebhookInfo`; with [`FakeTelegram::deliver_to_webhook`] the
//!   fake POSTs each queued update to the webhook URL with `X-Telegram-Bot-Api-Secret-Token`,
//!   in order, and retries until the answer is 2xx.
//! - `sendMessage` checks `parse_mode: "HTML"` markup the way Telegram does (only its tags,
//!   balanced) and the 4096-character limit; `editMessageText` refuses an unchanged text with
//!   "message is not modified"; `sendPhoto`/`sendDocument`/`sendVoice`/`sendAudio`/`sendVideo`
//!   take multipart uploads; `sendChatAction`, `setMessageReaction`, `getFile` and downloads
//!   from `/file/bot<token>/<file_path>`.
//!
//! What the bot sends is recorded in an [`Outbox`]. Updates the fake makes carry a few fields no
//! Bot API version has, so clients are shown to parse liberally.

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::chat::{Outbox, SentKind, SentMessage};
use crate::script::{MAX_BODY_BYTES, RecordedRequest, Script, cut_stream, json_response, unix_now};

/// The bot's user id; a bot token starts with it.
pub const BOT_ID: i64 = 7_000_000_001;
/// The bot's username (mentions are `@hearth_test_bot`).
pub const BOT_USERNAME: &str = "hearth_test_bot";
const TOKEN: &str = "7000000001:AAHearthFakeTokenForTestsOnly_0123456";
const MAX_TEXT_LEN: usize = 4096;
const MAX_CAPTION_LEN: usize = 1024;
/// Pause between two delivery attempts of a webhook update the receiver refused.
const WEBHOOK_RETRY: Duration = Duration::from_millis(100);
/// The tags Telegram's HTML parse mode knows.
const HTML_TAGS: [&str; 16] = [
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "span",
    "tg-spoiler",
    "blockquote",
    "tg-emoji",
];

/// A fake Telegram Bot API on 127.0.0.1. Dropping it shuts the server down.
#[derive(Debug)]
pub struct FakeTelegram {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

/// A reaction the bot set with `setMessageReaction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub chat_id: String,
    pub message_id: String,
    pub emoji: String,
}

#[derive(Debug)]
struct Shared {
    script: Script,
    state: Mutex<Inner>,
    /// Woken on every change long polls and the webhook delivery wait for.
    changed: Notify,
    outbox: Outbox,
}

#[derive(Debug)]
struct Inner {
    /// Updates not yet confirmed, oldest first.
    updates: VecDeque<Value>,
    next_update_id: i64,
    /// Telegram numbers messages per chat.
    message_ids: HashMap<i64, i64>,
    chats: HashMap<i64, Value>,
    allowed_updates: Option<Vec<String>>,
    webhook: Option<Webhook>,
    deliver_to_webhook: bool,
    last_webhook_error: Option<(u64, String)>,
    /// Bumped by every `getUpdates`: a waiting poll that sees a newer one gives way.
    poll_generation: u64,
    /// Bumped by [`FakeTelegram::drop_connections`].
    drop_generation: u64,
    rate_limit: (usize, u64),
    failures: (usize, u16),
    files: HashMap<String, StoredFile>,
    reactions: Vec<Reaction>,
}

#[derive(Debug, Clone)]
struct Webhook {
    url: String,
    secret: Option<String>,
}

#[derive(Debug, Clone)]
struct StoredFile {
    unique_id: String,
    path: String,
    bytes: Bytes,
}

/// A file part of a multipart request.
#[derive(Debug)]
struct Upload {
    field: String,
    file_name: Option<String>,
    bytes: Bytes,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeTelegram {
    /// Starts on a free loopback port.
    pub async fn start() -> Self {
        let listener = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
            Ok(l) => l,
            Err(err) => panic!("FakeTelegram could not bind 127.0.0.1:0: {err}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(err) => panic!("FakeTelegram has no local address: {err}"),
        };
        let shared = Arc::new(Shared {
            script: Script::new(),
            state: Mutex::new(Inner {
                updates: VecDeque::new(),
                next_update_id: 815_000_000,
                message_ids: HashMap::new(),
                chats: HashMap::new(),
                allowed_updates: None,
                webhook: None,
                deliver_to_webhook: false,
                last_webhook_error: None,
                poll_generation: 0,
                drop_generation: 0,
                rate_limit: (0, 0),
                failures: (0, 500),
                files: HashMap::new(),
                reactions: Vec::new(),
            }),
            changed: Notify::new(),
            outbox: Outbox::default(),
        });
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(Arc::clone(&shared));
        shared.script.serve(listener, app, "FakeTelegram");
        tokio::spawn(deliver_webhooks(Arc::clone(&shared)));
        Self { addr, shared }
    }

    /// `http://127.0.0.1:<port>`, the value for `apiRoot`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The token the fake accepts.
    pub fn token(&self) -> String {
        TOKEN.to_owned()
    }

    pub fn bot_id(&self) -> i64 {
        BOT_ID
    }

    pub fn bot_username(&self) -> &'static str {
        BOT_USERNAME
    }

    pub fn outbox(&self) -> &Outbox {
        &self.shared.outbox
    }

    /// The recorded requests, oldest first; `path` is `/bot<token>/<method>`, `body` the
    /// parameters as one JSON object (a file part as `{"file_name", "length"}`).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.script.requests()
    }

    /// The parameters of every call to `method` (case-insensitive), oldest first.
    pub fn calls(&self, method: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| {
                r.path
                    .rsplit('/')
                    .next()
                    .is_some_and(|m| m.eq_ignore_ascii_case(method))
            })
            .map(|r| r.body)
            .collect()
    }

    pub fn request_count(&self) -> usize {
        self.shared.script.request_count()
    }

    /// Waits until at least `n` requests arrived; false if `timeout` passed first.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        self.shared.script.wait_for_requests(n, timeout).await
    }

    /// A private message from a user; returns its message id. The chat id is the user id, as
    /// on Telegram.
    pub fn dm(&self, user_id: i64, name: &str, text: &str) -> String {
        let chat = private_chat(user_id, name);
        let mut fields = text_fields(text);
        fields.insert("from".to_owned(), user(user_id, name));
        self.shared.queue_message(chat, fields)
    }

    /// A message in a group (a supergroup when `chat_id` has the `-100` prefix); with `mention`,
    /// it starts with `@hearth_test_bot` and carries the `mention` entity.
    pub fn group_message(
        &self,
        chat_id: i64,
        user_id: i64,
        name: &str,
        text: &str,
        mention: bool,
    ) -> String {
        let mut fields = if mention {
            let at = format!("@{BOT_USERNAME}");
            let mut fields = text_fields(&format!("{at} {text}"));
            fields.insert(
                "entities".to_owned(),
                json!([{ "type": "mention", "offset": 0, "length": utf16_len(&at) }]),
            );
            fields
        } else {
            text_fields(text)
        };
        fields.insert("from".to_owned(), user(user_id, name));
        self.shared
            .queue_message(group_chat(chat_id, false), fields)
    }

    /// A message in forum topic `thread_id` of supergroup `chat_id`. As on Telegram, it points
    /// at the topic's first message with `reply_to_message`.
    pub fn topic_message(
        &self,
        chat_id: i64,
        thread_id: i64,
        user_id: i64,
        name: &str,
        text: &str,
    ) -> String {
        let chat = group_chat(chat_id, true);
        let mut fields = text_fields(text);
        fields.insert("from".to_owned(), user(user_id, name));
        fields.insert("message_thread_id".to_owned(), thread_id.into());
        fields.insert("is_topic_message".to_owned(), true.into());
        fields.insert(
            "reply_to_message".to_owned(),
            json!({
                "message_id": thread_id,
                "message_thread_id": thread_id,
                "from": user(user_id, name),
                "chat": chat,
                "date": unix_now(),
                "forum_topic_created": { "name": format!("Topic {thread_id}"), "icon_color": 7_322_096 },
            }),
        );
        self.shared.queue_message(chat, fields)
    }

    /// A private message with a photo (`png` as its largest size, a cut-down copy as the
    /// thumbnail) and an optional caption.
    pub fn photo_dm(&self, user_id: i64, name: &str, png: &[u8], caption: &str) -> String {
        let full = Bytes::copy_from_slice(png);
        let thumb = full.slice(..full.len().min(64));
        let (thumb_len, full_len) = (thumb.len(), full.len());
        let (thumb_id, thumb_unique) = self.shared.store_file(thumb, "photos");
        let (full_id, full_unique) = self.shared.store_file(full, "photos");
        let mut fields = Map::new();
        fields.insert("from".to_owned(), user(user_id, name));
        fields.insert(
            "photo".to_owned(),
            json!([
                { "file_id": thumb_id, "file_unique_id": thumb_unique, "file_size": thumb_len, "width": 90, "height": 68 },
                { "file_id": full_id, "file_unique_id": full_unique, "file_size": full_len, "width": 1280, "height": 960 },
            ]),
        );
        if !caption.is_empty() {
            fields.insert("caption".to_owned(), caption.into());
        }
        self.shared
            .queue_message(private_chat(user_id, name), fields)
    }

    /// Queues a raw update (any kind, any shape); `update_id` is filled in when missing.
    /// Returns the update id.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let mut state = lock(&self.shared.state);
        let id = match update.get("update_id").and_then(Value::as_i64) {
            Some(id) => {
                state.next_update_id = state.next_update_id.max(id + 1);
                id
            }
            None => {
                let id = state.next_update_id;
                state.next_update_id += 1;
                update["update_id"] = id.into();
                id
            }
        };
        state.updates.push_back(update);
        drop(state);
        self.shared.changed.notify_waiters();
        id
    }

    /// Stores a file the bot can `getFile` and download; returns its `file_id`.
    pub fn add_file(&self, bytes: impl Into<Bytes>) -> String {
        self.shared.store_file(bytes.into(), "documents").0
    }

    /// The next `n` send or edit calls answer 429 with `retry_after` seconds.
    pub fn rate_limit_next(&self, n: usize, retry_after_secs: u64) {
        lock(&self.shared.state).rate_limit = (n, retry_after_secs);
    }

    /// The next `n` send or edit calls answer `status` with Telegram's error body.
    pub fn fail_next(&self, n: usize, status: u16) {
        lock(&self.shared.state).failures = (n, status);
    }

    /// Ends every waiting long poll abruptly (the connection is cut mid-answer), as a restart
    /// of Telegram's front end would. Queued updates stay queued.
    pub fn drop_connections(&self) {
        lock(&self.shared.state).drop_generation += 1;
        self.shared.changed.notify_waiters();
    }

    /// From now on, while a webhook is set, queued updates are POSTed to it (one per request,
    /// in order, retried until answered 2xx) instead of waiting for `getUpdates`.
    pub fn deliver_to_webhook(&self) {
        lock(&self.shared.state).deliver_to_webhook = true;
        self.shared.changed.notify_waiters();
    }

    /// What `getWebhookInfo` answers now.
    pub fn webhook_info(&self) -> Value {
        webhook_info(&lock(&self.shared.state))
    }

    /// The secret set with the webhook, if any.
    pub fn webhook_secret(&self) -> Option<String> {
        lock(&self.shared.state)
            .webhook
            .as_ref()
            .and_then(|w| w.secret.clone())
    }

    /// Updates queued and not yet confirmed.
    pub fn pending_updates(&self) -> usize {
        lock(&self.shared.state).updates.len()
    }

    pub fn reactions(&self) -> Vec<Reaction> {
        lock(&self.shared.state).reactions.clone()
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.shared.script.shut_down();
    }
}

impl Shared {
    /// Queues a `message` update in `chat` and returns the new message's id.
    fn queue_message(&self, chat: Value, mut fields: Map<String, Value>) -> String {
        let chat_id = chat["id"].as_i64().unwrap_or_default();
        let mut state = lock(&self.state);
        let message_id = state.next_message_id(chat_id);
        state.chats.insert(chat_id, chat.clone());
        fields.insert("message_id".to_owned(), message_id.into());
        fields.insert("chat".to_owned(), chat);
        fields.insert("date".to_owned(), unix_now().into());
        // Fields from a Bot API version that does not exist: clients must ignore them.
        fields.insert(
            "hearth_fake_future_field".to_owned(),
            json!([1, "two", { "three": null }]),
        );
        let update_id = state.next_update_id;
        state.next_update_id += 1;
        state.updates.push_back(json!({
            "update_id": update_id,
            "message": Value::Object(fields),
            "hearth_fake_update_field": { "since": "Bot API 99.0" },
        }));
        drop(state);
        self.changed.notify_waiters();
        message_id.to_string()
    }

    fn store_file(&self, bytes: Bytes, folder: &str) -> (String, String) {
        let n = self.script.next_id();
        let file_id = format!("AgACAgFake{n:06}");
        let unique_id = format!("AQADFake{n:04}");
        let extension = if folder == "photos" { "jpg" } else { "bin" };
        lock(&self.state).files.insert(
            file_id.clone(),
            StoredFile {
                unique_id: unique_id.clone(),
                path: format!("{folder}/file_{n}.{extension}"),
                bytes,
            },
        );
        (file_id, unique_id)
    }
}

impl Inner {
    fn next_message_id(&mut self, chat_id: i64) -> i64 {
        let next = self.message_ids.entry(chat_id).or_insert(0);
        *next += 1;
        *next
    }

    fn chat(&self, chat_id: i64) -> Value {
        self.chats.get(&chat_id).cloned().unwrap_or_else(|| {
            if chat_id > 0 {
                json!({ "id": chat_id, "first_name": "User", "type": "private" })
            } else {
                group_chat(chat_id, false)
            }
        })
    }

    /// The scripted 429 or failure for a send or edit call, if one is due.
    fn scripted_failure(&mut self) -> Option<Response> {
        if self.rate_limit.0 > 0 {
            self.rate_limit.0 -= 1;
            let secs = self.rate_limit.1;
            return Some(telegram_json(
                429,
                &json!({
                    "ok": false,
                    "error_code": 429,
                    "description": format!("Too Many Requests: retry after {secs}"),
                    "parameters": { "retry_after": secs },
                }),
            ));
        }
        if self.failures.0 > 0 {
            self.failures.0 -= 1;
            let status = self.failures.1;
            let description = match status {
                400 => "Bad Request",
                401 => "Unauthorized",
                403 => "Forbidden: bot was blocked by the user",
                404 => "Not Found",
                409 => "Conflict",
                500 => "Internal Server Error",
                502 => "Bad Gateway",
                503 => "Service Unavailable",
                504 => "Gateway Timeout",
                _ => "Error",
            };
            return Some(error(status, description));
        }
        None
    }
}

fn user(id: i64, name: &str) -> Value {
    let (first, last) = name.split_once(' ').unwrap_or((name, ""));
    let mut user = json!({
        "id": id,
        "is_bot": false,
        "first_name": first,
        "username": name.to_lowercase().replace(' ', "_"),
        "language_code": "en",
    });
    if !last.is_empty() {
        user["last_name"] = last.into();
    }
    user
}

fn private_chat(user_id: i64, name: &str) -> Value {
    let mut chat = user(user_id, name);
    if let Some(map) = chat.as_object_mut() {
        map.remove("is_bot");
        map.remove("language_code");
        map.insert("type".to_owned(), "private".into());
    }
    chat
}

fn group_chat(chat_id: i64, forum: bool) -> Value {
    // Supergroup and channel ids are -100 followed by the peer id.
    let supergroup = forum || chat_id <= -1_000_000_000_000;
    let mut chat = json!({
        "id": chat_id,
        "title": format!("Group {chat_id}"),
        "type": if supergroup { "supergroup" } else { "group" },
    });
    if forum {
        chat["is_forum"] = true.into();
    }
    chat
}

/// `text`, with a `bot_command` entity when it starts with one (as Telegram marks them).
fn text_fields(text: &str) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("text".to_owned(), text.into());
    if text.starts_with('/') {
        let command = text.split_whitespace().next().unwrap_or(text);
        fields.insert(
            "entities".to_owned(),
            json!([{ "type": "bot_command", "offset": 0, "length": utf16_len(command) }]),
        );
    }
    fields
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

fn bot_user() -> Value {
    json!({
        "id": BOT_ID,
        "is_bot": true,
        "first_name": "Hearth Test",
        "username": BOT_USERNAME,
    })
}

fn webhook_info(state: &Inner) -> Value {
    let mut info = json!({
        "url": state.webhook.as_ref().map_or("", |w| w.url.as_str()),
        "has_custom_certificate": false,
        "pending_update_count": state.updates.len(),
        "max_connections": 40,
        "ip_address": "127.0.0.1",
    });
    if let Some(allowed) = &state.allowed_updates {
        info["allowed_updates"] = json!(allowed);
    }
    if let Some((date, message)) = &state.last_webhook_error {
        info["last_error_date"] = (*date).into();
        info["last_error_message"] = message.clone().into();
    }
    info
}

fn telegram_json(status: u16, body: &Value) -> Response {
    json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    )
}

fn ok(result: Value) -> Response {
    telegram_json(200, &json!({ "ok": true, "result": result }))
}

fn error(status: u16, description: &str) -> Response {
    telegram_json(
        status,
        &json!({ "ok": false, "error_code": status, "description": description }),
    )
}

fn bad_request(description: &str) -> Response {
    error(400, &format!("Bad Request: {description}"))
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let headers = request.headers().clone();
    if let Some(rest) = path.strip_prefix("/file/bot") {
        shared.script.record(&path, &headers, Value::Null);
        return download(&shared, rest);
    }
    let Some((token, method)) = path
        .strip_prefix("/bot")
        .and_then(|rest| rest.split_once('/'))
    else {
        shared.script.record(&path, &headers, Value::Null);
        return error(404, "Not Found");
    };
    let (params, uploads) = match read_params(request).await {
        Ok(read) => read,
        Err(why) => {
            shared.script.record(&path, &headers, Value::Null);
            return bad_request(why);
        }
    };
    let mut recorded = params.clone();
    for upload in &uploads {
        recorded.insert(
            upload.field.clone(),
            json!({ "file_name": upload.file_name, "length": upload.bytes.len() }),
        );
    }
    shared
        .script
        .record(&path, &headers, Value::Object(recorded));
    if token != TOKEN {
        return error(401, "Unauthorized");
    }
    let p = Params(params);
    match method.to_ascii_lowercase().as_str() {
        "getme" => ok(json!({
            "id": BOT_ID,
            "is_bot": true,
            "first_name": "Hearth Test",
            "username": BOT_USERNAME,
            "can_join_groups": true,
            "can_read_all_group_messages": false,
            "supports_inline_queries": false,
            "can_connect_to_business": false,
            "has_main_web_app": false,
        })),
        "getupdates" => get_updates(&shared, &p).await,
        "setwebhook" => set_webhook(&shared, &p),
        "deletewebhook" => {
            let mut state = lock(&shared.state);
            state.webhook = None;
            if p.bool("drop_pending_updates") {
                state.updates.clear();
            }
            drop(state);
            shared.changed.notify_waiters();
            telegram_json(
                200,
                &json!({ "ok": true, "result": true, "description": "Webhook was deleted" }),
            )
        }
        "getwebhookinfo" => ok(webhook_info(&lock(&shared.state))),
        "sendmessage" => send_message(&shared, &p),
        "editmessagetext" => edit_message_text(&shared, &p),
        "sendchataction" => send_chat_action(&shared, &p),
        "sendphoto" => send_file(&shared, &p, uploads, "photo", SentKind::Photo),
        "senddocument" => send_file(&shared, &p, uploads, "document", SentKind::Document),
        "sendvoice" => send_file(&shared, &p, uploads, "voice", SentKind::Voice),
        "sendaudio" => send_file(&shared, &p, uploads, "audio", SentKind::Other),
        "sendvideo" => send_file(&shared, &p, uploads, "video", SentKind::Other),
        "setmessagereaction" => set_reaction(&shared, &p),
        "getfile" => get_file(&shared, &p),
        _ => error(404, "Not Found"),
    }
}

/// A request's parameters, read liberally as Telegram does (numbers may come as strings).
#[derive(Debug)]
struct Params(Map<String, Value>);

impl Params {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn str(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn int(&self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true" || s == "1",
            _ => false,
        }
    }

    /// An object or array parameter, sent as JSON or as a JSON-serialized string.
    fn structured(&self, key: &str) -> Option<Value> {
        match self.get(key)? {
            Value::String(s) => serde_json::from_str(s).ok(),
            other => Some(other.clone()),
        }
    }
}

/// The parameters and file parts of a request, or why Telegram would call it a bad request.
async fn read_params(request: Request) -> Result<(Map<String, Value>, Vec<Upload>), &'static str> {
    let mut params = Map::new();
    if let Some(query) = request.uri().query() {
        for (k, v) in form_pairs(query) {
            params.insert(k, Value::String(v));
        }
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut uploads = Vec::new();
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|_| "can't parse multipart/form-data")?;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|_| "can't parse multipart/form-data")?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let file_name = field.file_name().map(str::to_owned);
            let bytes = field
                .bytes()
                .await
                .map_err(|_| "can't parse multipart/form-data")?;
            if file_name.is_some() {
                uploads.push(Upload {
                    field: name,
                    file_name,
                    bytes,
                });
            } else {
                params.insert(
                    name,
                    Value::String(String::from_utf8_lossy(&bytes).into_owned()),
                );
            }
        }
        return Ok((params, uploads));
    }
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| "can't read the request body")?;
    if body.is_empty() {
        return Ok((params, uploads));
    }
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => params.extend(map),
            _ => return Err("can't parse JSON object"),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        for (k, v) in form_pairs(&String::from_utf8_lossy(&body)) {
            params.insert(k, Value::String(v));
        }
    }
    Ok((params, uploads))
}

/// `application/x-www-form-urlencoded` pairs, decoded.
fn form_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: &u8| (*b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(hex),
                bytes.get(i + 2).and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push((hi * 16 + lo) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn get_updates(shared: &Shared, p: &Params) -> Response {
    let offset = p.int("offset");
    let limit = p.int("limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = Duration::from_secs(p.int("timeout").unwrap_or(0).clamp(0, 50) as u64);
    let (my_poll, my_drop) = {
        let mut state = lock(&shared.state);
        if state.webhook.is_some() {
            return error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use \
                 deleteWebhook to delete the webhook first",
            );
        }
        if let Some(offset) = offset {
            state
                .updates
                .retain(|u| u["update_id"].as_i64().is_some_and(|id| id >= offset));
        }
        if let Some(allowed) = p.structured("allowed_updates").and_then(|v| {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            })
        }) {
            state.allowed_updates = (!allowed.is_empty()).then_some(allowed);
        }
        state.poll_generation += 1;
        (state.poll_generation, state.drop_generation)
    };
    shared.changed.notify_waiters();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let notified = shared.changed.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        {
            let mut state = lock(&shared.state);
            if state.drop_generation != my_drop {
                let mut response = Response::new(cut_stream(Vec::new()));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("application/json"),
                );
                return response;
            }
            if state.poll_generation != my_poll {
                return error(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only \
                     one bot instance is running",
                );
            }
            if state.webhook.is_some() {
                return error(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use \
                     deleteWebhook to delete the webhook first",
                );
            }
            // Telegram never delivers kinds left out of `allowed_updates`; they are dropped.
            if let Some(allowed) = state.allowed_updates.clone() {
                state
                    .updates
                    .retain(|u| update_kind(u).is_none_or(|k| allowed.iter().any(|a| a == k)));
            }
            let batch: Vec<Value> = state.updates.iter().take(limit).cloned().collect();
            if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                return ok(Value::Array(batch));
            }
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline) => {}
            () = shared.script.shutdown_token().cancelled() => return error(502, "Bad Gateway"),
        }
    }
}

/// The kind of an update: its one field besides `update_id` that the Bot API names.
fn update_kind(update: &Value) -> Option<&str> {
    update
        .as_object()?
        .keys()
        .map(String::as_str)
        .find(|k| *k != "update_id" && !k.starts_with("hearth_fake"))
}

fn set_webhook(shared: &Shared, p: &Params) -> Response {
    let url = p.str("url").unwrap_or_default();
    let mut state = lock(&shared.state);
    if url.is_empty() {
        state.webhook = None;
        drop(state);
        shared.changed.notify_waiters();
        return telegram_json(
            200,
            &json!({ "ok": true, "result": true, "description": "Webhook was deleted" }),
        );
    }
    if !url.starts_with("https://") && !url.starts_with("http://") {
        return bad_request("invalid webhook URL specified");
    }
    let secret = p.str("secret_token").filter(|s| !s.is_empty());
    if secret.as_ref().is_some_and(|s| {
        s.len() > 256
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }) {
        return bad_request("secret token contains unallowed characters");
    }
    if let Some(allowed) = p.structured("allowed_updates").and_then(|v| {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
    }) {
        state.allowed_updates = (!allowed.is_empty()).then_some(allowed);
    }
    if p.bool("drop_pending_updates") {
        state.updates.clear();
    }
    state.webhook = Some(Webhook { url, secret });
    state.last_webhook_error = None;
    drop(state);
    shared.changed.notify_waiters();
    telegram_json(
        200,
        &json!({ "ok": true, "result": true, "description": "Webhook was set" }),
    )
}

/// The result `Message` of a send: the bot's message in `chat_id`.
fn sent_message(state: &mut Inner, chat_id: i64, p: &Params) -> (i64, Map<String, Value>) {
    let message_id = state.next_message_id(chat_id);
    let mut message = Map::new();
    message.insert("message_id".to_owned(), message_id.into());
    message.insert("from".to_owned(), bot_user());
    message.insert("chat".to_owned(), state.chat(chat_id));
    message.insert("date".to_owned(), unix_now().into());
    if let Some(thread) = p.int("message_thread_id") {
        message.insert("message_thread_id".to_owned(), thread.into());
        message.insert("is_topic_message".to_owned(), true.into());
    }
    if let Some(reply) = reply_to(p) {
        message.insert(
            "reply_to_message".to_owned(),
            json!({ "message_id": reply, "chat": state.chat(chat_id), "date": unix_now() }),
        );
    }
    (message_id, message)
}

/// The message a send replies to: `reply_parameters.message_id`, or the older
/// `reply_to_message_id`.
fn reply_to(p: &Params) -> Option<i64> {
    p.structured("reply_parameters")
        .and_then(|r| r["message_id"].as_i64())
        .or_else(|| p.int("reply_to_message_id"))
}

/// Checks text against `parse_mode` and returns what the reader sees, or Telegram's refusal.
fn parsed_text(p: &Params, text: &str) -> Result<String, String> {
    match p.str("parse_mode").as_deref() {
        Some(mode) if mode.eq_ignore_ascii_case("html") => {
            check_html(text).map_err(|why| format!("can't parse entities: {why}"))
        }
        _ => Ok(text.to_owned()),
    }
}

fn send_message(shared: &Shared, p: &Params) -> Response {
    let mut state = lock(&shared.state);
    if let Some(failure) = state.scripted_failure() {
        return failure;
    }
    let Some(chat_id) = p.int("chat_id") else {
        return bad_request("chat_id is empty");
    };
    let text = p.str("text").unwrap_or_default();
    if text.trim().is_empty() {
        return bad_request("message text is empty");
    }
    let plain = match parsed_text(p, &text) {
        Ok(plain) => plain,
        Err(why) => return bad_request(&why),
    };
    if plain.trim().is_empty() {
        return bad_request("message text is empty");
    }
    if plain.chars().count() > MAX_TEXT_LEN {
        return bad_request("message is too long");
    }
    let (message_id, mut message) = sent_message(&mut state, chat_id, p);
    message.insert("text".to_owned(), plain.into());
    drop(state);
    shared.outbox.push(SentMessage {
        reply_to: reply_to(p).map(|r| r.to_string()),
        thread_id: p.int("message_thread_id").map(|t| t.to_string()),
        format: p.str("parse_mode"),
        ..SentMessage::text(&chat_id.to_string(), &message_id.to_string(), &text)
    });
    ok(Value::Object(message))
}

fn edit_message_text(shared: &Shared, p: &Params) -> Response {
    if let Some(failure) = lock(&shared.state).scripted_failure() {
        return failure;
    }
    let (Some(chat_id), Some(message_id)) = (p.str("chat_id"), p.str("message_id")) else {
        return bad_request("message identifier is not specified");
    };
    let text = p.str("text").unwrap_or_default();
    if text.trim().is_empty() {
        return bad_request("message text is empty");
    }
    let plain = match parsed_text(p, &text) {
        Ok(plain) => plain,
        Err(why) => return bad_request(&why),
    };
    if plain.chars().count() > MAX_TEXT_LEN {
        return bad_request("MESSAGE_TOO_LONG");
    }
    let current = shared
        .outbox
        .all()
        .into_iter()
        .find(|m| m.chat_id == chat_id && m.message_id == message_id);
    let Some(current) = current else {
        return bad_request("message to edit not found");
    };
    if current.text == text {
        return bad_request(
            "message is not modified: specified new message content and reply markup are \
             exactly the same as a current content and reply markup of the message",
        );
    }
    shared.outbox.edit(&chat_id, &message_id, &text);
    let chat = lock(&shared.state).chat(chat_id.parse().unwrap_or_default());
    ok(json!({
        "message_id": message_id.parse::<i64>().unwrap_or_default(),
        "from": bot_user(),
        "chat": chat,
        "date": unix_now(),
        "edit_date": unix_now(),
        "text": plain,
    }))
}

fn send_chat_action(shared: &Shared, p: &Params) -> Response {
    const ACTIONS: [&str; 11] = [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ];
    let Some(chat_id) = p.str("chat_id") else {
        return bad_request("chat_id is empty");
    };
    let action = p.str("action").unwrap_or_default();
    if !ACTIONS.contains(&action.as_str()) {
        return bad_request("wrong parameter action in request");
    }
    if action == "typing" {
        shared.outbox.typing(&chat_id);
    }
    ok(Value::Bool(true))
}

fn send_file(
    shared: &Shared,
    p: &Params,
    uploads: Vec<Upload>,
    field: &str,
    kind: SentKind,
) -> Response {
    if let Some(failure) = lock(&shared.state).scripted_failure() {
        return failure;
    }
    let Some(chat_id) = p.int("chat_id") else {
        return bad_request("chat_id is empty");
    };
    let (file_name, bytes) = match uploads.into_iter().find(|u| u.field == field) {
        Some(upload) => (upload.file_name, upload.bytes),
        // A file already on Telegram, sent again by its id.
        None => match p
            .str(field)
            .and_then(|id| lock(&shared.state).files.get(&id).cloned())
        {
            Some(file) => (None, file.bytes),
            None => {
                return bad_request(&format!("there is no {field} in the request"));
            }
        },
    };
    if bytes.is_empty() {
        return bad_request("file must be non-empty");
    }
    let caption = p.str("caption").unwrap_or_default();
    let plain = match parsed_text(p, &caption) {
        Ok(plain) => plain,
        Err(why) => return bad_request(&why),
    };
    if plain.chars().count() > MAX_CAPTION_LEN {
        return bad_request("message caption is too long");
    }
    let length = bytes.len();
    let (file_id, unique_id) = shared.store_file(
        bytes,
        if field == "photo" {
            "photos"
        } else {
            "documents"
        },
    );
    let mut state = lock(&shared.state);
    let (message_id, mut message) = sent_message(&mut state, chat_id, p);
    drop(state);
    let file = json!({
        "file_id": file_id,
        "file_unique_id": unique_id,
        "file_size": length,
        "file_name": file_name,
    });
    if field == "photo" {
        message.insert("photo".to_owned(), json!([file]));
    } else {
        message.insert(field.to_owned(), file);
    }
    if !plain.is_empty() {
        message.insert("caption".to_owned(), plain.into());
    }
    shared.outbox.push(SentMessage {
        reply_to: reply_to(p).map(|r| r.to_string()),
        thread_id: p.int("message_thread_id").map(|t| t.to_string()),
        kind,
        file_name,
        file_len: Some(length),
        format: p.str("parse_mode"),
        ..SentMessage::text(&chat_id.to_string(), &message_id.to_string(), &caption)
    });
    ok(Value::Object(message))
}

fn set_reaction(shared: &Shared, p: &Params) -> Response {
    let (Some(chat_id), Some(message_id)) = (p.str("chat_id"), p.str("message_id")) else {
        return bad_request("message identifier is not specified");
    };
    let reactions = p.structured("reaction").unwrap_or(Value::Array(Vec::new()));
    let Some(reactions) = reactions.as_array() else {
        return bad_request("can't parse reaction types JSON object");
    };
    let mut state = lock(&shared.state);
    state
        .reactions
        .retain(|r| !(r.chat_id == chat_id && r.message_id == message_id));
    for reaction in reactions {
        match (reaction["type"].as_str(), reaction["emoji"].as_str()) {
            (Some("emoji"), Some(emoji)) if !emoji.is_empty() => {
                state.reactions.push(Reaction {
                    chat_id: chat_id.clone(),
                    message_id: message_id.clone(),
                    emoji: emoji.to_owned(),
                });
            }
            _ => return bad_request("REACTION_INVALID"),
        }
    }
    ok(Value::Bool(true))
}

fn get_file(shared: &Shared, p: &Params) -> Response {
    let file_id = p.str("file_id").unwrap_or_default();
    let state = lock(&shared.state);
    let Some(file) = state.files.get(&file_id) else {
        return bad_request("invalid file_id");
    };
    ok(json!({
        "file_id": file_id,
        "file_unique_id": file.unique_id,
        "file_size": file.bytes.len(),
        "file_path": file.path,
    }))
}

/// `/file/bot<token>/<file_path>` (the prefix up to `bot` already stripped).
fn download(shared: &Shared, rest: &str) -> Response {
    let Some((token, path)) = rest.split_once('/') else {
        return error(404, "Not Found");
    };
    if token != TOKEN {
        return error(401, "Unauthorized");
    }
    let state = lock(&shared.state);
    let Some(file) = state.files.values().find(|f| f.path == path) else {
        return error(404, "Not Found");
    };
    let mut response = Response::new(Body::from(file.bytes.clone()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    response
}

/// Checks Telegram HTML (<https://core.telegram.org/bots/api#html-style>): only its tags,
/// properly nested. Returns the text a reader sees, or the reason Telegram gives.
fn check_html(html: &str) -> Result<String, String> {
    let mut open: Vec<String> = Vec::new();
    let mut plain = String::with_capacity(html.len());
    let mut i = 0;
    while let Some(at) = html[i..].find('<') {
        plain.push_str(&html[i..i + at]);
        let start = i + at;
        let Some(len) = html[start..].find('>') else {
            return Err(format!("Unclosed start tag at byte offset {start}"));
        };
        let inner = &html[start + 1..start + len];
        if let Some(name) = inner.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            match open.pop() {
                None => return Err(format!("Unexpected end tag at byte offset {start}")),
                Some(expected) if expected != name => {
                    return Err(format!(
                        "Unmatched end tag at byte offset {start}, expected \"</{expected}>\", \
                         found \"</{name}>\""
                    ));
                }
                Some(_) => {}
            }
        } else {
            let name = inner
                .split(|c: char| c.is_whitespace())
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !HTML_TAGS.contains(&name.as_str()) {
                return Err(format!(
                    "Unsupported start tag \"{name}\" at byte offset {start}"
                ));
            }
            open.push(name);
        }
        i = start + len + 1;
    }
    plain.push_str(&html[i..]);
    if let Some(tag) = open.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{tag}\""
        ));
    }
    Ok(plain
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&"))
}

/// Posts queued updates to the webhook while one is set and delivery is on, as Telegram does:
/// one at a time, in order, again and again until the receiver answers 2xx.
async fn deliver_webhooks(shared: Arc<Shared>) {
    let shutdown = shared.script.shutdown_token().clone();
    loop {
        let notified = shared.changed.notified();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        let job = {
            let state = lock(&shared.state);
            match (
                &state.webhook,
                state.deliver_to_webhook,
                state.updates.front(),
            ) {
                (Some(hook), true, Some(update)) => Some((hook.clone(), update.clone())),
                _ => None,
            }
        };
        let Some((hook, update)) = job else {
            tokio::select! {
                () = &mut notified => continue,
                () = shutdown.cancelled() => return,
            }
        };
        let id = update["update_id"].as_i64();
        let body = serde_json::to_vec(&update).unwrap_or_default();
        let outcome = tokio::time::timeout(
            Duration::from_secs(10),
            post_json(&hook.url, hook.secret.as_deref(), &body),
        )
        .await;
        let failure = match outcome {
            Ok(Ok(status)) if (200..300).contains(&status) => None,
            Ok(Ok(status)) => Some(format!(
                "Wrong response from the webhook: {status} {}",
                StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("")
            )),
            Ok(Err(_)) => Some("Connection refused".to_owned()),
            Err(_) => Some("Read timeout expired".to_owned()),
        };
        let delivered = failure.is_none();
        {
            let mut state = lock(&shared.state);
            match failure {
                None => state.updates.retain(|u| u["update_id"].as_i64() != id),
                Some(message) => state.last_webhook_error = Some((unix_now(), message)),
            }
        }
        if delivered {
            shared.changed.notify_waiters();
        } else {
            tokio::select! {
                () = tokio::time::sleep(WEBHOOK_RETRY) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
}

/// A bare HTTP/1.1 POST (the fake delivers to plain `http://` receivers on loopback), returning
/// the status code.
async fn post_json(url: &str, secret: Option<&str>, body: &[u8]) -> std::io::Result<u16> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| std::io::Error::other("the fake delivers to http:// webhooks only"))?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let mut stream = TcpStream::connect(authority).await?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(secret) = secret {
        head.push_str(&format!("X-Telegram-Bot-Api-Secret-Token: {secret}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 512];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    let status_line = String::from_utf8_lossy(&answer);
    status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no HTTP status line"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> reqwest::Client {
        reqwest::Client::new()
    }

    async fn call(fake: &FakeTelegram, method: &str, body: Value) -> (u16, Value) {
        let response = client()
            .post(format!("{}/bot{}/{method}", fake.url(), fake.token()))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json"))
    }

    #[test]
    fn html_is_checked_as_telegram_does() {
        assert_eq!(
            check_html("<b>bold</b> &lt;x&gt; <a href=\"u\">l</a>").as_deref(),
            Ok("bold <x> l")
        );
        assert!(check_html("<b>open").is_err_and(|e| e.contains("Can't find end tag")));
        assert!(check_html("<br>").is_err_and(|e| e.contains("Unsupported start tag \"br\"")));
        assert!(check_html("</b>").is_err_and(|e| e.contains("Unexpected end tag")));
        assert!(check_html("<b><i>x</b></i>").is_err_and(|e| e.contains("Unmatched end tag")));
        assert!(check_html("a <b").is_err());
    }

    #[test]
    fn forms_decode() {
        assert_eq!(
            form_pairs("a=1&text=hi+there%21&e=%F0%9F%98%80&bad=%zz"),
            vec![
                ("a".to_owned(), "1".to_owned()),
                ("text".to_owned(), "hi there!".to_owned()),
                ("e".to_owned(), "😀".to_owned()),
                ("bad".to_owned(), "%zz".to_owned()),
            ]
        );
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[tokio::test]
    async fn a_wrong_token_is_unauthorized() {
        let fake = FakeTelegram::start().await;
        let response = client()
            .get(format!("{}/bot1:wrong/getMe", fake.url()))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 401);
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            body,
            json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
        );
        let (status, me) = call(&fake, "getMe", json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(me["result"]["username"], BOT_USERNAME);
    }

    #[tokio::test]
    async fn long_polls_wait_for_updates_and_offsets_confirm() {
        let fake = FakeTelegram::start().await;
        let started = tokio::time::Instant::now();
        let (_, empty) = call(&fake, "getUpdates", json!({"timeout": 1})).await;
        assert_eq!(empty["result"], json!([]));
        assert!(started.elapsed() >= Duration::from_millis(900));

        let poll = tokio::spawn({
            let url = format!("{}/bot{}/getUpdates?timeout=5", fake.url(), fake.token());
            async move {
                let response = client().get(url).send().await.expect("request");
                response.json::<Value>().await.expect("json")
            }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let id = fake.dm(5, "Ann Lee", "hello");
        let answer = poll.await.expect("join");
        let update = &answer["result"][0];
        assert_eq!(update["message"]["text"], "hello");
        assert_eq!(update["message"]["message_id"].to_string(), id);
        assert_eq!(update["message"]["from"]["last_name"], "Lee");
        assert_eq!(update["message"]["chat"]["type"], "private");

        // Unconfirmed: answered again; confirmed by the next offset: gone.
        let update_id = update["update_id"].as_i64().expect("id");
        let (_, again) = call(&fake, "getUpdates", json!({})).await;
        assert_eq!(again["result"][0]["update_id"], update_id);
        let (_, after) = call(&fake, "getUpdates", json!({"offset": update_id + 1})).await;
        assert_eq!(after["result"], json!([]));
        assert_eq!(fake.pending_updates(), 0);
    }

    #[tokio::test]
    async fn allowed_updates_and_limit_apply() {
        let fake = FakeTelegram::start().await;
        fake.push_update(json!({"poll": {"id": "1"}}));
        fake.dm(5, "Ann", "one");
        fake.dm(5, "Ann", "two");
        let (_, first) = call(
            &fake,
            "getUpdates",
            json!({"limit": 1, "allowed_updates": ["message"]}),
        )
        .await;
        assert_eq!(first["result"].as_array().map(Vec::len), Some(1));
        assert_eq!(first["result"][0]["message"]["text"], "one");
    }

    #[tokio::test]
    async fn a_newer_poll_ends_an_older_one_and_webhooks_block_polling() {
        let fake = FakeTelegram::start().await;
        let url = format!("{}/bot{}/getUpdates?timeout=5", fake.url(), fake.token());
        let older =
            tokio::spawn(async move { client().get(url).send().await.expect("request").status() });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, _) = call(&fake, "getUpdates", json!({})).await;
        assert_eq!(older.await.expect("join"), 409);

        let (status, _) = call(
            &fake,
            "setWebhook",
            json!({"url": "https://example.org/hook", "secret_token": "s"}),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = call(&fake, "getUpdates", json!({})).await;
        assert_eq!(status, 409);
        assert!(
            body["description"]
                .as_str()
                .is_some_and(|d| d.contains("webhook is active"))
        );
        assert_eq!(fake.webhook_info()["url"], "https://example.org/hook");
        assert_eq!(fake.webhook_secret().as_deref(), Some("s"));
        call(&fake, "deleteWebhook", json!({})).await;
        let (status, _) = call(&fake, "getUpdates", json!({})).await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn messages_are_checked_recorded_and_edited() {
        let fake = FakeTelegram::start().await;
        let (status, body) = call(&fake, "sendMessage", json!({"chat_id": 5, "text": ""})).await;
        assert_eq!(
            (status, body["description"].as_str()),
            (400, Some("Bad Request: message text is empty"))
        );
        let (status, body) = call(
            &fake,
            "sendMessage",
            json!({"chat_id": 5, "text": "x".repeat(4097)}),
        )
        .await;
        assert_eq!(
            (status, body["description"].as_str()),
            (400, Some("Bad Request: message is too long"))
        );
        let (status, body) = call(
            &fake,
            "sendMessage",
            json!({"chat_id": 5, "text": "<b>open", "parse_mode": "HTML"}),
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            body["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("Bad Request: can't parse entities: "))
        );

        let (status, body) = call(
            &fake,
            "sendMessage",
            json!({"chat_id": -1001, "text": "<b>hi</b>", "parse_mode": "HTML",
                   "message_thread_id": 7, "reply_parameters": {"message_id": 3}}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["result"]["text"], "hi");
        let id = body["result"]["message_id"].to_string();
        let sent = fake.outbox().in_chat("-1001");
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].reply_to.as_deref(), Some("3"));
        assert_eq!(sent[0].thread_id.as_deref(), Some("7"));
        assert_eq!(sent[0].format.as_deref(), Some("HTML"));

        let edit = json!({"chat_id": -1001, "message_id": id, "text": "<b>hi</b> there", "parse_mode": "HTML"});
        assert_eq!(call(&fake, "editMessageText", edit.clone()).await.0, 200);
        let (status, body) = call(&fake, "editMessageText", edit).await;
        assert_eq!(status, 400);
        assert!(
            body["description"]
                .as_str()
                .is_some_and(|d| d.contains("message is not modified"))
        );
        assert_eq!(
            fake.outbox().in_chat("-1001")[0].versions,
            ["<b>hi</b>", "<b>hi</b> there"]
        );
    }

    #[tokio::test]
    async fn forms_queries_and_uploads_are_understood() {
        let fake = FakeTelegram::start().await;
        let base = format!("{}/bot{}", fake.url(), fake.token());
        let response = client()
            .get(format!("{base}/sendMessage?chat_id=5&text=from+a+query"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        let response = client()
            .post(format!("{base}/sendChatAction"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("chat_id=5&action=typing")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        assert_eq!(fake.outbox().typing_in("5"), 1);

        let boundary = "fakeboundary";
        let mut multipart = Vec::new();
        for (name, value) in [
            ("chat_id", "5"),
            ("caption", "a file"),
            ("reply_parameters", "{\"message_id\": 1}"),
        ] {
            multipart.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        multipart.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"document\"; \
                 filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        multipart.extend_from_slice(&[1, 2, 3]);
        multipart.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let response = client()
            .post(format!("{base}/sendDocument"))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(multipart)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        let file_id = body["result"]["document"]["file_id"]
            .as_str()
            .expect("file id")
            .to_owned();
        let sent = fake.outbox().in_chat("5");
        assert_eq!(sent[0].text, "from a query");
        assert_eq!(sent[1].kind, SentKind::Document);
        assert_eq!(sent[1].file_name.as_deref(), Some("a.bin"));
        assert_eq!(sent[1].file_len, Some(3));
        assert_eq!(sent[1].reply_to.as_deref(), Some("1"));
        assert_eq!(fake.calls("sendDocument")[0]["document"]["length"], 3);

        let (_, file) = call(&fake, "getFile", json!({"file_id": file_id})).await;
        let path = file["result"]["file_path"].as_str().expect("path");
        let bytes = client()
            .get(format!("{}/file/bot{}/{path}", fake.url(), fake.token()))
            .send()
            .await
            .expect("request")
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(&bytes[..], &[1, 2, 3]);
        let (status, _) = call(&fake, "getFile", json!({"file_id": "nope"})).await;
        assert_eq!(status, 400);
    }

    #[tokio::test]
    async fn scripted_failures_answer_telegrams_way() {
        let fake = FakeTelegram::start().await;
        fake.rate_limit_next(1, 7);
        fake.fail_next(1, 502);
        let (status, body) = call(&fake, "sendMessage", json!({"chat_id": 5, "text": "a"})).await;
        assert_eq!(status, 429);
        assert_eq!(body["parameters"]["retry_after"], 7);
        assert_eq!(body["description"], "Too Many Requests: retry after 7");
        let (status, body) = call(&fake, "sendMessage", json!({"chat_id": 5, "text": "a"})).await;
        assert_eq!((status, body["error_code"].as_u64()), (502, Some(502)));
        let (status, _) = call(&fake, "sendMessage", json!({"chat_id": 5, "text": "a"})).await;
        assert_eq!(status, 200);
        let (status, _) = call(
            &fake,
            "setMessageReaction",
            json!({"chat_id": 5, "message_id": 1, "reaction": [{"type": "emoji", "emoji": "👍"}]}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(fake.reactions()[0].emoji, "👍");
    }

    #[tokio::test]
    async fn dropped_connections_cut_waiting_polls() {
        let fake = FakeTelegram::start().await;
        let url = format!("{}/bot{}/getUpdates?timeout=5", fake.url(), fake.token());
        let poll = tokio::spawn(async move {
            let response = client().get(url).send().await.expect("headers");
            response.bytes().await.is_err()
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        fake.drop_connections();
        assert!(poll.await.expect("join"), "the body was cut");
    }

    #[tokio::test]
    async fn webhooks_get_updates_until_they_take_them() {
        let fake = FakeTelegram::start().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut attempt = 0;
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // Head and the small body arrive together on loopback; read until the JSON ends.
                while !request.ends_with(b"}") {
                    let n = socket.read(&mut buf).await.expect("read");
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                attempt += 1;
                let status = if attempt == 1 {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let _ = seen_tx.send(String::from_utf8_lossy(&request).into_owned());
                let _ = socket
                    .write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes())
                    .await;
            }
        });
        fake.deliver_to_webhook();
        call(
            &fake,
            "setWebhook",
            json!({"url": format!("http://{addr}/hook"), "secret_token": "abc"}),
        )
        .await;
        fake.dm(5, "Ann", "via webhook");
        let first = seen_rx.recv().await.expect("first attempt");
        let second = seen_rx.recv().await.expect("retry");
        assert!(first.starts_with("POST /hook HTTP/1.1"));
        assert!(first.contains("X-Telegram-Bot-Api-Secret-Token: abc"));
        assert!(second.contains("via webhook"));
        for _ in 0..50 {
            if fake.pending_updates() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(fake.pending_updates(), 0);
        assert!(
            fake.webhook_info()["last_error_message"]
                .as_str()
                .is_some_and(|m| m.contains("500"))
        );
    }
}
