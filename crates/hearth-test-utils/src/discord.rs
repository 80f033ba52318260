//! [`FakeDiscord`]: Discord's REST API and Gateway WebSocket on one loopback port, for tests.
//!
//! It follows the Discord developer documentation (Gateway, Gateway Events, Opcodes and Status
//! Codes, Message resource, Channel resource, Rate Limits):
//!
//! - REST under `/api/v10` with `Authorization: Bot <token>`; anything else answers 401
//!   `{"message": "401: Unauthorized", "code": 0}`. `GET /gateway/bot` (and the unauthenticated
//!   `GET /gateway`) return `ws://127.0.0.1:<port>/gateway`; `GET /users/@me`; `GET /channels/{id}`
//!   (type 1 DM, 0 guild text, 11 public thread with `parent_id`; unknown ids 404 code 10003);
//!   `POST /channels/{id}/messages` as JSON or multipart (`payload_json` + `files[n]`), refusing
//!   content over 2000 characters with 400 code 50035 and an empty message with code 50006;
//!   `PATCH /channels/{id}/messages/{id}` (only the bot's own messages: 403 code 50005);
//!   `POST /channels/{id}/typing` (204); `PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me`
//!   (204). A 429 is `{"message": "You are being rate limited.", "retry_after": <float seconds>,
//!   "global": false}` with `Retry-After` and the `X-RateLimit-*` headers.
//! - Attachments are served like the CDN: `GET /attachments/...` with signed-looking query
//!   parameters and no authentication.
//! - The Gateway at `/gateway` (and the `resume_gateway_url`, `/resume`) speaks JSON, `v=10` only
//!   (else close 4012). It sends Hello (op 10) at once; Identify (op 2) is checked: a wrong token
//!   closes with 4004 "Authentication failed.", unknown intent bits 4013, the Message Content
//!   intent while it is disallowed ([`FakeDiscord::disallow_message_content`]) 4014. READY carries
//!   `session_id` and `resume_gateway_url`, then one GUILD_CREATE per guild (with its channels and
//!   `threads`) when the GUILDS intent is set. Heartbeats (op 1) get op 11 unless
//!   [`FakeDiscord::stop_acking_heartbeats`]. Every session numbers its dispatches and keeps them,
//!   so Resume (op 6) replays the ones after the client's `seq`, then RESUMED; an unknown session
//!   gets op 9 `false`. Dispatches follow the intents (GUILD_MESSAGES, DIRECT_MESSAGES, GUILDS), and
//!   without MESSAGE_CONTENT a guild message's `content`, `embeds`, `attachments` and `components`
//!   are empty unless it mentions the bot or the bot wrote it, as Discord does. The bot's own
//!   messages come back as MESSAGE_CREATE too.
//!
//! Test convenience that Discord does not offer: events injected before any bot ever identified
//! wait for the first session instead of being lost.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::chat::{Outbox, SentKind, SentMessage};
use crate::script::{MAX_BODY_BYTES, json_response};

/// The guild [`FakeDiscord::group_message`] posts in.
pub const FAKE_GUILD: &str = "810000000000000001";
/// Gateway intents, as Discord numbers them.
pub const GUILDS: u64 = 1;
pub const GUILD_MESSAGES: u64 = 1 << 9;
pub const DIRECT_MESSAGES: u64 = 1 << 12;
pub const MESSAGE_CONTENT: u64 = 1 << 15;

const API: &str = "/api/v10/";
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
/// Discord's usual interval; tests of heartbeating set a shorter one.
const DEFAULT_HEARTBEAT_MS: u64 = 41_250;
const MAX_CONTENT_CHARS: usize = 2000;
/// Dispatches a session keeps for Resume.
const SESSION_BUFFER: usize = 1000;
/// Every intent bit Discord defines; others close the connection with 4013.
const KNOWN_INTENTS: u64 = 0x1_FFFF | (1 << 20) | (1 << 21) | (1 << 24) | (1 << 25);
const FAKE_TOKEN: &str = "MTgxMDAwMDAwMDAwMDAwMDAwMQ.GhEaRt.fake-discord-bot-token-4f9c2a";
const BOT_NAME: &str = "Hearth";

/// One REST request (or attachment download) the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscordRequest {
    pub method: String,
    /// The path as sent (percent-encoding kept), without the query.
    pub path: String,
    pub authorization: Option<String>,
    /// The JSON body, or a multipart request's `payload_json`; `null` when there was none.
    pub body: Value,
    /// The files of a multipart request.
    pub files: Vec<UploadedFile>,
}

/// A file part of a multipart request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The form field, `files[0]`.
    pub field: String,
    pub filename: String,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// What happened on the Gateway so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayStats {
    /// WebSocket connections opened.
    pub connections: usize,
    /// Successful Identify payloads (new sessions).
    pub identifies: usize,
    /// Successful Resume payloads.
    pub resumes: usize,
    /// Of those, the ones made on the `resume_gateway_url`.
    pub resumes_on_resume_url: usize,
    pub heartbeats: usize,
    /// Close codes the client sent, in order.
    pub client_close_codes: Vec<u16>,
    /// The intents of the last Identify.
    pub last_intents: Option<u64>,
}

/// A reaction the bot added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub channel_id: String,
    pub message_id: String,
    /// Decoded: `👍` or `name:id`.
    pub emoji: String,
}

/// A message from a user to inject, built up step by step; see [`FakeDiscord::inject`].
#[derive(Debug, Clone)]
pub struct Incoming {
    guild_id: Option<String>,
    channel_id: Option<String>,
    author_id: String,
    name: String,
    nick: Option<String>,
    roles: Vec<String>,
    text: String,
    mention: bool,
    reply_to: Option<String>,
    attachment: Option<(String, String, Vec<u8>)>,
    bot: bool,
}

impl Incoming {
    /// A direct message from `user_id`, shown as `name`.
    pub fn dm(user_id: &str, name: &str, text: &str) -> Incoming {
        Incoming {
            guild_id: None,
            channel_id: None,
            author_id: user_id.to_owned(),
            name: name.to_owned(),
            nick: None,
            roles: Vec::new(),
            text: text.to_owned(),
            mention: false,
            reply_to: None,
            attachment: None,
            bot: false,
        }
    }

    /// A message in a guild channel (or thread) `channel_id`.
    pub fn guild(guild_id: &str, channel_id: &str, user_id: &str, name: &str, text: &str) -> Self {
        Incoming {
            guild_id: Some(guild_id.to_owned()),
            channel_id: Some(channel_id.to_owned()),
            ..Incoming::dm(user_id, name, text)
        }
    }

    /// The author's roles in the guild (`member.roles`).
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// The author's guild nickname (`member.nick`).
    pub fn nick(mut self, nick: &str) -> Self {
        self.nick = Some(nick.to_owned());
        self
    }

    /// Mentions the bot the Discord way: `<@bot_id> ` before the text, the bot in `mentions`.
    pub fn mention(mut self) -> Self {
        self.mention = true;
        self
    }

    /// Replies to `message_id` (type 19, `message_reference` and `referenced_message`), with
    /// "ping on reply" off: the replied-to author is not added to `mentions`.
    pub fn reply_to(mut self, message_id: &str) -> Self {
        self.reply_to = Some(message_id.to_owned());
        self
    }

    /// Attaches a file, served like the CDN serves attachments.
    pub fn attachment(mut self, filename: &str, content_type: &str, bytes: &[u8]) -> Self {
        self.attachment = Some((filename.to_owned(), content_type.to_owned(), bytes.to_vec()));
        self
    }

    /// Written by another bot (`author.bot: true`).
    pub fn from_bot(mut self) -> Self {
        self.bot = true;
        self
    }
}

/// A fake Discord (REST and Gateway) on 127.0.0.1. Dropping it shuts the server down.
#[derive(Debug)]
pub struct FakeDiscord {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    addr: SocketAddr,
    inner: Mutex<Inner>,
    outbox: Outbox,
    changed: Notify,
    shutdown: CancellationToken,
}

#[derive(Debug)]
struct Inner {
    token: String,
    bot_id: String,
    message_content_allowed: bool,
    heartbeat_interval_ms: u64,
    ack_heartbeats: bool,
    last_snowflake: u64,
    next_conn: u64,
    conns: HashMap<u64, Conn>,
    sessions: HashMap<String, GatewaySession>,
    identified_once: bool,
    early_events: Vec<(String, Value, Audience)>,
    guilds: BTreeSet<String>,
    channels: HashMap<String, ChannelRecord>,
    dm_channels: HashMap<String, String>,
    messages: HashMap<String, Value>,
    files: HashMap<String, (Bytes, String)>,
    rate_limit: Option<(usize, f64)>,
    failures: Option<(usize, u16)>,
    requests: Vec<DiscordRequest>,
    reactions: Vec<Reaction>,
    stats: GatewayStats,
}

#[derive(Debug)]
struct Conn {
    tx: mpsc::UnboundedSender<Cmd>,
    session: Option<String>,
    on_resume_url: bool,
}

#[derive(Debug)]
struct GatewaySession {
    intents: u64,
    seq: u64,
    buffer: VecDeque<(u64, String)>,
    conn: Option<u64>,
}

#[derive(Debug, Clone)]
struct ChannelRecord {
    kind: u8,
    guild_id: Option<String>,
    parent_id: Option<String>,
    name: String,
    recipient: Option<Value>,
}

/// What a connection task sends next.
#[derive(Debug)]
enum Cmd {
    Frame(String),
    Close(u16, &'static str),
    /// Drop the TCP connection without a close frame.
    Drop,
}

/// Who receives a dispatch, by the intent it needs.
#[derive(Debug, Clone, Copy)]
enum Audience {
    GuildMessages,
    DirectMessages,
    Guilds,
}

impl Audience {
    fn intent(self) -> u64 {
        match self {
            Audience::GuildMessages => GUILD_MESSAGES,
            Audience::DirectMessages => DIRECT_MESSAGES,
            Audience::Guilds => GUILDS,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeDiscord {
    /// Starts on a free loopback port.
    pub async fn start() -> FakeDiscord {
        let listener = match TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
            Ok(listener) => listener,
            Err(err) => panic!("FakeDiscord could not bind 127.0.0.1:0: {err}"),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(err) => panic!("FakeDiscord has no local address: {err}"),
        };
        let mut inner = Inner {
            token: FAKE_TOKEN.to_owned(),
            bot_id: String::new(),
            message_content_allowed: true,
            heartbeat_interval_ms: DEFAULT_HEARTBEAT_MS,
            ack_heartbeats: true,
            last_snowflake: 0,
            next_conn: 1,
            conns: HashMap::new(),
            sessions: HashMap::new(),
            identified_once: false,
            early_events: Vec::new(),
            guilds: BTreeSet::new(),
            channels: HashMap::new(),
            dm_channels: HashMap::new(),
            messages: HashMap::new(),
            files: HashMap::new(),
            rate_limit: None,
            failures: None,
            requests: Vec::new(),
            reactions: Vec::new(),
            stats: GatewayStats::default(),
        };
        inner.bot_id = inner.snowflake();
        let shared = Arc::new(Shared {
            addr,
            inner: Mutex::new(inner),
            outbox: Outbox::default(),
            changed: Notify::new(),
            shutdown: CancellationToken::new(),
        });
        let server = axum::serve(listener, app(Arc::clone(&shared)))
            .with_graceful_shutdown(shared.shutdown.clone().cancelled_owned());
        tokio::spawn(async move {
            if let Err(err) = server.await {
                tracing::warn!(%err, "FakeDiscord stopped with an error");
            }
        });
        FakeDiscord { shared }
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `http://127.0.0.1:<port>/api/v10`, the value for `apiRoot`.
    pub fn url(&self) -> String {
        format!("http://{}/api/v10", self.shared.addr)
    }

    /// The valid bot token.
    pub fn token(&self) -> String {
        lock(&self.shared.inner).token.clone()
    }

    /// Makes `token` the only valid one, as resetting it in the Developer Portal does: open
    /// connections stay up, but the next Identify or REST call with the old one is refused.
    pub fn rotate_token(&self, token: &str) {
        lock(&self.shared.inner).token = token.to_owned();
    }

    /// The bot's user id.
    pub fn bot_id(&self) -> String {
        lock(&self.shared.inner).bot_id.clone()
    }

    /// What the bot sent.
    pub fn outbox(&self) -> &Outbox {
        &self.shared.outbox
    }

    /// The REST requests received, oldest first.
    pub fn requests(&self) -> Vec<DiscordRequest> {
        lock(&self.shared.inner).requests.clone()
    }

    /// The reactions the bot added, in order.
    pub fn reactions(&self) -> Vec<Reaction> {
        lock(&self.shared.inner).reactions.clone()
    }

    /// What happened on the Gateway so far.
    pub fn gateway_sessions(&self) -> GatewayStats {
        lock(&self.shared.inner).stats.clone()
    }

    /// Waits until `done` holds for the Gateway's stats or `timeout` passes; returns them.
    pub async fn wait_gateway(
        &self,
        timeout: Duration,
        done: impl Fn(&GatewayStats) -> bool,
    ) -> GatewayStats {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = self.gateway_sessions();
            if done(&now) {
                return now;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.gateway_sessions();
            }
        }
    }

    /// The DM channel between the bot and `user_id` (created on first use).
    pub fn dm_channel(&self, user_id: &str) -> String {
        lock(&self.shared.inner).dm_channel(user_id)
    }

    /// A direct message from a user; returns its id.
    pub fn dm(&self, user_id: &str, name: &str, text: &str) -> String {
        self.inject(Incoming::dm(user_id, name, text))
    }

    /// A message in guild text channel `chat_id` of [`FAKE_GUILD`]; `mention` mentions the bot.
    pub fn group_message(
        &self,
        chat_id: &str,
        user_id: &str,
        name: &str,
        text: &str,
        mention: bool,
    ) -> String {
        self.guild_message_with(FAKE_GUILD, chat_id, user_id, name, &[], text, mention)
    }

    /// A message in a guild text channel from a member with `roles`.
    #[allow(clippy::too_many_arguments)]
    pub fn guild_message_with(
        &self,
        guild_id: &str,
        channel_id: &str,
        user_id: &str,
        name: &str,
        roles: &[&str],
        text: &str,
        mention: bool,
    ) -> String {
        let mut incoming =
            Incoming::guild(guild_id, channel_id, user_id, name, text).roles(roles.iter().copied());
        if mention {
            incoming = incoming.mention();
        }
        self.inject(incoming)
    }

    /// A message in public thread `thread` of channel `parent`. The thread is created quietly if
    /// new (no THREAD_CREATE), so a client learns its type from `GET /channels/{id}`.
    #[allow(clippy::too_many_arguments)]
    pub fn thread_message(
        &self,
        guild_id: &str,
        parent: &str,
        thread: &str,
        user_id: &str,
        name: &str,
        text: &str,
        mention: bool,
    ) -> String {
        lock(&self.shared.inner).add_thread(guild_id, parent, thread, "thread");
        let mut incoming = Incoming::guild(guild_id, thread, user_id, name, text);
        if mention {
            incoming = incoming.mention();
        }
        self.inject(incoming)
    }

    /// Creates public thread `thread` in `parent` and dispatches THREAD_CREATE.
    pub fn create_thread(&self, guild_id: &str, parent: &str, thread: &str, name: &str) {
        let mut inner = lock(&self.shared.inner);
        inner.add_thread(guild_id, parent, thread, name);
        let mut object = inner.channel_object(thread);
        object["newly_created"] = json!(true);
        inner.dispatch("THREAD_CREATE", &object, Audience::Guilds);
    }

    /// A direct message with a PNG attachment (`photo.png`) and `caption` as its content.
    pub fn photo_dm(&self, user_id: &str, name: &str, png: &[u8], caption: &str) -> String {
        self.inject(Incoming::dm(user_id, name, caption).attachment("photo.png", "image/png", png))
    }

    /// Injects a message from a user and dispatches MESSAGE_CREATE; returns its id.
    pub fn inject(&self, incoming: Incoming) -> String {
        let id = lock(&self.shared.inner).inject(incoming, self.shared.addr);
        self.shared.changed.notify_waiters();
        id
    }

    /// The next `n_calls` message creates and edits answer 429 with this `retry_after`.
    pub fn rate_limit_next(&self, n_calls: usize, retry_after_secs: impl Into<f64>) {
        lock(&self.shared.inner).rate_limit = Some((n_calls, retry_after_secs.into()));
    }

    /// The next `n_calls` message creates and edits fail with `status` and Discord's error body.
    pub fn fail_next(&self, n_calls: usize, status: u16) {
        lock(&self.shared.inner).failures = Some((n_calls, status));
    }

    /// Kills every Gateway connection without a close frame, as a server restart would.
    /// Sessions survive, so a client that resumes gets what was dispatched meanwhile.
    pub fn drop_connections(&self) {
        let mut inner = lock(&self.shared.inner);
        for conn in inner.conns.values_mut() {
            let _ = conn.tx.send(Cmd::Drop);
            conn.session = None;
        }
        for session in inner.sessions.values_mut() {
            session.conn = None;
        }
    }

    /// Sends Reconnect (op 7) on every identified connection.
    pub fn request_reconnect(&self) {
        lock(&self.shared.inner).broadcast(&json!({"op": 7, "d": null}));
    }

    /// Sends Invalid Session (op 9, `d: false`) on every identified connection and forgets every
    /// session, so only a new Identify gets events again.
    pub fn invalidate_session(&self) {
        let mut inner = lock(&self.shared.inner);
        inner.broadcast(&json!({"op": 9, "d": false}));
        inner.sessions.clear();
        for conn in inner.conns.values_mut() {
            conn.session = None;
        }
    }

    /// Asks every identified connection for a heartbeat now (op 1 from the server).
    pub fn request_heartbeat(&self) {
        lock(&self.shared.inner).broadcast(&json!({"op": 1, "d": null}));
    }

    /// Stops answering heartbeats with op 11, so the connection looks like a zombie.
    pub fn stop_acking_heartbeats(&self) {
        lock(&self.shared.inner).ack_heartbeats = false;
    }

    pub fn resume_acking_heartbeats(&self) {
        lock(&self.shared.inner).ack_heartbeats = true;
    }

    /// The `heartbeat_interval` the next Hello announces.
    pub fn set_heartbeat_interval(&self, interval: Duration) {
        let ms = u64::try_from(interval.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        lock(&self.shared.inner).heartbeat_interval_ms = ms;
    }

    /// The Message Content intent is not enabled in the Developer Portal: an Identify asking for
    /// it is closed with 4014.
    pub fn disallow_message_content(&self) {
        lock(&self.shared.inner).message_content_allowed = false;
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.shared.shutdown.cancel();
    }
}

fn app(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/gateway", get(gateway))
        .route("/gateway/", get(gateway))
        .route("/resume", get(gateway))
        .route("/resume/", get(gateway))
        .route("/attachments/{*rest}", get(attachment))
        .fallback(rest)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

impl Inner {
    /// A new id, Discord-style: milliseconds since 2015 shifted left 22 bits, strictly increasing.
    fn snowflake(&mut self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
        let candidate = now.saturating_sub(DISCORD_EPOCH_MS) << 22;
        self.last_snowflake = candidate.max(self.last_snowflake + 1);
        self.last_snowflake.to_string()
    }

    fn bot_user(&self) -> Value {
        json!({
            "id": self.bot_id,
            "username": BOT_NAME,
            "discriminator": "0",
            "global_name": null,
            "avatar": null,
            "bot": true,
            "verified": true,
            "flags": 0,
            "mfa_enabled": false,
        })
    }

    fn dm_channel(&mut self, user_id: &str) -> String {
        if let Some(id) = self.dm_channels.get(user_id) {
            return id.clone();
        }
        let id = self.snowflake();
        self.dm_channels.insert(user_id.to_owned(), id.clone());
        self.channels.insert(
            id.clone(),
            ChannelRecord {
                kind: 1,
                guild_id: None,
                parent_id: None,
                name: String::new(),
                recipient: Some(json!({"id": user_id, "username": user_id, "discriminator": "0"})),
            },
        );
        id
    }

    fn add_text_channel(&mut self, guild_id: &str, channel_id: &str) {
        self.guilds.insert(guild_id.to_owned());
        self.channels
            .entry(channel_id.to_owned())
            .or_insert_with(|| ChannelRecord {
                kind: 0,
                guild_id: Some(guild_id.to_owned()),
                parent_id: None,
                name: format!("channel-{channel_id}"),
                recipient: None,
            });
    }

    fn add_thread(&mut self, guild_id: &str, parent: &str, thread: &str, name: &str) {
        self.add_text_channel(guild_id, parent);
        self.channels
            .entry(thread.to_owned())
            .or_insert_with(|| ChannelRecord {
                kind: 11,
                guild_id: Some(guild_id.to_owned()),
                parent_id: Some(parent.to_owned()),
                name: name.to_owned(),
                recipient: None,
            });
    }

    /// The channel object `GET /channels/{id}` answers.
    fn channel_object(&self, id: &str) -> Value {
        let Some(channel) = self.channels.get(id) else {
            return Value::Null;
        };
        let mut object = json!({"id": id, "type": channel.kind, "flags": 0});
        if let Some(guild) = &channel.guild_id {
            object["guild_id"] = json!(guild);
            object["name"] = json!(channel.name);
            object["position"] = json!(0);
            object["permission_overwrites"] = json!([]);
            object["nsfw"] = json!(false);
        }
        if let Some(parent) = &channel.parent_id {
            object["parent_id"] = json!(parent);
            object["owner_id"] = json!(self.bot_id);
            object["message_count"] = json!(0);
            object["member_count"] = json!(1);
            object["thread_metadata"] = json!({
                "archived": false,
                "auto_archive_duration": 1440,
                "archive_timestamp": iso8601(now_ms()),
                "locked": false,
            });
        }
        if let Some(recipient) = &channel.recipient {
            object["recipients"] = json!([recipient]);
            object["last_message_id"] = Value::Null;
        }
        object
    }

    fn inject(&mut self, incoming: Incoming, addr: SocketAddr) -> String {
        let channel_id = match (&incoming.guild_id, &incoming.channel_id) {
            (Some(guild), Some(channel)) => {
                if !self.channels.contains_key(channel) {
                    self.add_text_channel(guild, channel);
                }
                channel.clone()
            }
            (None, Some(channel)) => channel.clone(),
            (_, None) => self.dm_channel(&incoming.author_id),
        };
        let id = self.snowflake();
        let mut author = json!({
            "id": incoming.author_id,
            "username": incoming.name.to_lowercase().replace(' ', "_"),
            "global_name": incoming.name,
            "discriminator": "0",
            "avatar": null,
            "public_flags": 0,
        });
        if incoming.bot {
            author["bot"] = json!(true);
        }
        let content = if incoming.mention {
            format!("<@{}> {}", self.bot_id, incoming.text)
        } else {
            incoming.text.clone()
        };
        let mut mentions = Vec::new();
        if incoming.mention {
            let mut bot = self.bot_user();
            if incoming.guild_id.is_some() {
                bot["member"] = json!({"roles": [], "nick": null, "joined_at": iso8601(now_ms())});
            }
            mentions.push(bot);
        }
        let attachments = match &incoming.attachment {
            Some((filename, content_type, bytes)) => {
                let attachment_id = self.snowflake();
                vec![self.store_file(
                    addr,
                    &channel_id,
                    &attachment_id,
                    filename,
                    content_type,
                    bytes,
                )]
            }
            None => Vec::new(),
        };
        let mut message = json!({
            "id": id,
            "channel_id": channel_id,
            "author": author,
            "content": content,
            "timestamp": iso8601(snowflake_ms(&id)),
            "edited_timestamp": null,
            "tts": false,
            "mention_everyone": false,
            "mentions": mentions,
            "mention_roles": [],
            "attachments": attachments,
            "embeds": [],
            "components": [],
            "pinned": false,
            "type": 0,
            "flags": 0,
            "nonce": id,
        });
        if let Some(reply_to) = &incoming.reply_to {
            message["type"] = json!(19);
            message["message_reference"] = json!({
                "type": 0,
                "message_id": reply_to,
                "channel_id": channel_id,
                "guild_id": incoming.guild_id,
            });
            message["referenced_message"] =
                self.messages.get(reply_to).cloned().unwrap_or(Value::Null);
        }
        self.messages.insert(id.clone(), message.clone());
        let audience = match &incoming.guild_id {
            Some(guild) => {
                message["guild_id"] = json!(guild);
                message["member"] = json!({
                    "roles": incoming.roles,
                    "nick": incoming.nick,
                    "avatar": null,
                    "joined_at": "2024-01-01T00:00:00.000000+00:00",
                    "premium_since": null,
                    "deaf": false,
                    "mute": false,
                    "flags": 0,
                    "pending": false,
                });
                Audience::GuildMessages
            }
            None => Audience::DirectMessages,
        };
        self.dispatch("MESSAGE_CREATE", &message, audience);
        id
    }

    /// Keeps a file for the attachment route; returns its attachment object.
    fn store_file(
        &mut self,
        addr: SocketAddr,
        channel_id: &str,
        attachment_id: &str,
        filename: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Value {
        let path = format!("/attachments/{channel_id}/{attachment_id}/{filename}");
        self.files.insert(
            path.clone(),
            (Bytes::copy_from_slice(bytes), content_type.to_owned()),
        );
        let expires = now_ms() / 1000 + 86_400;
        let url = format!(
            "http://{addr}{path}?ex={expires:x}&is={:x}&hm=fake",
            now_ms() / 1000
        );
        json!({
            "id": attachment_id,
            "filename": filename,
            "size": bytes.len(),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        })
    }

    /// Sends a dispatch to every session whose intents ask for it.
    fn dispatch(&mut self, t: &str, d: &Value, audience: Audience) {
        if !self.identified_once {
            self.early_events.push((t.to_owned(), d.clone(), audience));
            return;
        }
        let ids: Vec<String> = self.sessions.keys().cloned().collect();
        for id in ids {
            self.dispatch_to(&id, t, d, audience);
        }
    }

    fn dispatch_to(&mut self, session_id: &str, t: &str, d: &Value, audience: Audience) {
        let bot_id = self.bot_id.clone();
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        if session.intents & audience.intent() == 0 {
            return;
        }
        let d = if t.starts_with("MESSAGE_") && !content_visible(session.intents, d, &bot_id) {
            without_content(d)
        } else {
            d.clone()
        };
        session.seq += 1;
        let frame = json!({"op": 0, "t": t, "s": session.seq, "d": d}).to_string();
        if session.buffer.len() == SESSION_BUFFER {
            session.buffer.pop_front();
        }
        session.buffer.push_back((session.seq, frame.clone()));
        if let Some(conn) = session.conn.and_then(|c| self.conns.get(&c)) {
            let _ = conn.tx.send(Cmd::Frame(frame));
        }
    }

    /// Sends `payload` on every connection that has a session.
    fn broadcast(&self, payload: &Value) {
        let frame = payload.to_string();
        for conn in self.conns.values().filter(|c| c.session.is_some()) {
            let _ = conn.tx.send(Cmd::Frame(frame.clone()));
        }
    }

    fn send(&self, conn: u64, payload: &Value) {
        if let Some(conn) = self.conns.get(&conn) {
            let _ = conn.tx.send(Cmd::Frame(payload.to_string()));
        }
    }

    fn close(&self, conn: u64, code: u16, reason: &'static str) {
        if let Some(conn) = self.conns.get(&conn) {
            let _ = conn.tx.send(Cmd::Close(code, reason));
        }
    }

    /// Handles one text frame from a client.
    fn on_frame(&mut self, conn: u64, text: &str, addr: SocketAddr) {
        let Ok(payload) = serde_json::from_str::<Value>(text) else {
            self.close(conn, 4002, "Error while decoding payload.");
            return;
        };
        let identified = self.conns.get(&conn).is_some_and(|c| c.session.is_some());
        match payload["op"].as_u64() {
            Some(1) => {
                self.stats.heartbeats += 1;
                if self.ack_heartbeats {
                    self.send(conn, &json!({"op": 11}));
                }
            }
            Some(2) if identified => self.close(conn, 4005, "Already authenticated."),
            Some(2) => self.identify(conn, &payload["d"], addr),
            Some(6) if identified => self.close(conn, 4005, "Already authenticated."),
            Some(6) => self.resume(conn, &payload["d"]),
            Some(3 | 4 | 8 | 31) if identified => {}
            Some(3 | 4 | 8 | 31) => self.close(conn, 4003, "Not authenticated."),
            _ => self.close(conn, 4001, "Unknown opcode."),
        }
    }

    fn identify(&mut self, conn: u64, d: &Value, addr: SocketAddr) {
        if d["token"].as_str() != Some(self.token.as_str()) {
            self.close(conn, 4004, "Authentication failed.");
            return;
        }
        let Some(intents) = d["intents"].as_u64().filter(|i| i & !KNOWN_INTENTS == 0) else {
            self.close(conn, 4013, "Invalid intent(s).");
            return;
        };
        if intents & MESSAGE_CONTENT != 0 && !self.message_content_allowed {
            self.close(conn, 4014, "Disallowed intent(s).");
            return;
        }
        self.stats.identifies += 1;
        self.stats.last_intents = Some(intents);
        let session_id = format!("{:032x}", u128::from(self.snowflake_number()) * 0x9E37_79B9);
        self.sessions.insert(
            session_id.clone(),
            GatewaySession {
                intents,
                seq: 1,
                buffer: VecDeque::new(),
                conn: Some(conn),
            },
        );
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(session_id.clone());
        }
        let guilds: Vec<Value> = self
            .guilds
            .iter()
            .map(|g| json!({"id": g, "unavailable": true}))
            .collect();
        let ready = json!({
            "op": 0,
            "t": "READY",
            "s": 1,
            "d": {
                "v": 10,
                "user": self.bot_user(),
                "guilds": guilds,
                "session_id": session_id,
                "session_type": "normal",
                "resume_gateway_url": format!("ws://{addr}/resume"),
                "private_channels": [],
                "application": {"id": self.bot_id, "flags": 0},
            },
        });
        self.send(conn, &ready);
        let guild_ids: Vec<String> = self.guilds.iter().cloned().collect();
        for guild in guild_ids {
            let create = self.guild_create(&guild);
            self.dispatch_to(&session_id, "GUILD_CREATE", &create, Audience::Guilds);
        }
        if !self.identified_once {
            self.identified_once = true;
            for (t, d, audience) in std::mem::take(&mut self.early_events) {
                self.dispatch(&t, &d, audience);
            }
        }
    }

    fn snowflake_number(&mut self) -> u64 {
        self.snowflake().parse().unwrap_or_default()
    }

    fn guild_create(&self, guild: &str) -> Value {
        let mut channels = Vec::new();
        let mut threads = Vec::new();
        for (id, channel) in &self.channels {
            if channel.guild_id.as_deref() != Some(guild) {
                continue;
            }
            if channel.parent_id.is_some() {
                threads.push(self.channel_object(id));
            } else {
                channels.push(self.channel_object(id));
            }
        }
        json!({
            "id": guild,
            "name": format!("guild-{guild}"),
            "unavailable": false,
            "member_count": 2,
            "large": false,
            "roles": [],
            "members": [],
            "channels": channels,
            "threads": threads,
            "joined_at": "2024-01-01T00:00:00.000000+00:00",
        })
    }

    fn resume(&mut self, conn: u64, d: &Value) {
        if d["token"].as_str() != Some(self.token.as_str()) {
            self.close(conn, 4004, "Authentication failed.");
            return;
        }
        let session_id = d["session_id"].as_str().unwrap_or_default().to_owned();
        let Some(session) = self.sessions.get_mut(&session_id) else {
            self.send(conn, &json!({"op": 9, "d": false}));
            return;
        };
        let after = d["seq"].as_u64().unwrap_or(0);
        let previous = session.conn.replace(conn);
        let mut frames: Vec<String> = session
            .buffer
            .iter()
            .filter(|(seq, _)| *seq > after)
            .map(|(_, frame)| frame.clone())
            .collect();
        session.seq += 1;
        frames.push(json!({"op": 0, "t": "RESUMED", "s": session.seq, "d": {}}).to_string());
        if let Some(old) = previous.filter(|old| *old != conn)
            && let Some(old) = self.conns.get_mut(&old)
        {
            old.session = None;
            let _ = old.tx.send(Cmd::Drop);
        }
        self.stats.resumes += 1;
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(session_id);
            if c.on_resume_url {
                self.stats.resumes_on_resume_url += 1;
            }
            for frame in frames {
                let _ = c.tx.send(Cmd::Frame(frame));
            }
        }
    }
}

/// Whether a session with `intents` may see this message's content (Gateway, Message Content
/// Intent: DMs, messages that mention the bot and the bot's own are exempt).
fn content_visible(intents: u64, message: &Value, bot_id: &str) -> bool {
    intents & MESSAGE_CONTENT != 0
        || message["guild_id"].is_null()
        || message["author"]["id"].as_str() == Some(bot_id)
        || message["mentions"]
            .as_array()
            .is_some_and(|m| m.iter().any(|u| u["id"].as_str() == Some(bot_id)))
}

fn without_content(message: &Value) -> Value {
    let mut message = message.clone();
    message["content"] = json!("");
    message["embeds"] = json!([]);
    message["attachments"] = json!([]);
    message["components"] = json!([]);
    message
}

#[derive(Debug, Deserialize)]
struct GatewayQuery {
    v: Option<String>,
    encoding: Option<String>,
}

async fn gateway(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<GatewayQuery>,
    uri: axum::http::Uri,
    ws: WebSocketUpgrade,
) -> Response {
    let on_resume_url = uri.path().starts_with("/resume");
    ws.on_upgrade(move |socket| connection(shared, socket, query, on_resume_url))
}

/// One Gateway connection: everything it sends goes through its command channel, queued under
/// the state lock, so dispatches and replies keep their order.
async fn connection(
    shared: Arc<Shared>,
    mut socket: WebSocket,
    query: GatewayQuery,
    on_resume_url: bool,
) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let conn = {
        let mut inner = lock(&shared.inner);
        let conn = inner.next_conn;
        inner.next_conn += 1;
        inner.stats.connections += 1;
        inner.conns.insert(
            conn,
            Conn {
                tx,
                session: None,
                on_resume_url,
            },
        );
        if query.v.as_deref() != Some("10") {
            inner.close(conn, 4012, "Invalid API version");
        } else if query.encoding.as_deref().is_some_and(|e| e != "json") {
            inner.close(conn, 4002, "Error while decoding payload.");
        } else {
            let hello = json!({"op": 10, "d": {"heartbeat_interval": inner.heartbeat_interval_ms}});
            inner.send(conn, &hello);
        }
        conn
    };
    shared.changed.notify_waiters();
    loop {
        tokio::select! {
            () = shared.shutdown.cancelled() => break,
            cmd = rx.recv() => match cmd {
                Some(Cmd::Frame(frame)) => {
                    if socket.send(Message::Text(frame.into())).await.is_err() {
                        break;
                    }
                }
                Some(Cmd::Close(code, reason)) => {
                    let frame = CloseFrame { code, reason: reason.into() };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    break;
                }
                Some(Cmd::Drop) | None => break,
            },
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    lock(&shared.inner).on_frame(conn, text.as_str(), shared.addr);
                    shared.changed.notify_waiters();
                }
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.map_or(1005, |f| f.code);
                    lock(&shared.inner).stats.client_close_codes.push(code);
                    shared.changed.notify_waiters();
                    break;
                }
                Some(Ok(Message::Binary(_))) => {
                    lock(&shared.inner).close(conn, 4002, "Error while decoding payload.");
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
        }
    }
    let mut inner = lock(&shared.inner);
    if let Some(Conn {
        session: Some(session),
        ..
    }) = inner.conns.remove(&conn)
        && let Some(session) = inner.sessions.get_mut(&session)
        && session.conn == Some(conn)
    {
        session.conn = None;
    }
}

async fn attachment(
    State(shared): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> Response {
    let found = {
        let mut inner = lock(&shared.inner);
        inner.requests.push(DiscordRequest {
            method: "GET".to_owned(),
            path: uri.path().to_owned(),
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: Value::Null,
            files: Vec::new(),
        });
        inner.files.get(uri.path()).cloned()
    };
    match found {
        Some((bytes, content_type)) => {
            let mut response = Response::new(Body::from(bytes));
            if let Ok(value) = HeaderValue::from_str(&content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        }
        None => {
            let mut response = Response::new(Body::from("This content is no longer available."));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    }
}

/// Every REST route, routed by hand so every request is recorded the same way.
async fn rest(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (body, files) = if is_multipart {
        match read_multipart(request).await {
            Ok(parsed) => parsed,
            Err(()) => return discord_error(StatusCode::BAD_REQUEST, 50035, "Invalid Form Body"),
        }
    } else {
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
            .await
            .unwrap_or_default();
        (
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            Vec::new(),
        )
    };
    let mut inner = lock(&shared.inner);
    inner.requests.push(DiscordRequest {
        method: method.to_string(),
        path: path.clone(),
        authorization: authorization.clone(),
        body: body.clone(),
        files: files.clone(),
    });
    let Some(route) = path.strip_prefix(API) else {
        return discord_error(StatusCode::NOT_FOUND, 0, "404: Not Found");
    };
    let segments: Vec<String> = route.split('/').map(percent_decode).collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    if segments == ["gateway"] && method == Method::GET {
        return json_response(
            StatusCode::OK,
            &json!({"url": format!("ws://{}/gateway", shared.addr)}),
        );
    }
    let expected = format!("Bot {}", inner.token);
    if authorization.as_deref() != Some(expected.as_str()) {
        return discord_error(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized");
    }
    let response = match (&method, segments.as_slice()) {
        (&Method::GET, ["gateway", "bot"]) => json_response(
            StatusCode::OK,
            &json!({
                "url": format!("ws://{}/gateway", shared.addr),
                "shards": 1,
                "session_start_limit": {
                    "total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1,
                },
            }),
        ),
        (&Method::GET, ["users", "@me"]) => json_response(StatusCode::OK, &inner.bot_user()),
        (&Method::GET, ["channels", channel]) => {
            if inner.channels.contains_key(*channel) {
                json_response(StatusCode::OK, &inner.channel_object(channel))
            } else {
                unknown_channel()
            }
        }
        (&Method::POST, ["channels", channel, "messages"]) => {
            inner.create_message(shared.addr, &shared.outbox, channel, &body, &files)
        }
        (&Method::PATCH, ["channels", channel, "messages", message]) => {
            inner.edit_message(&shared.outbox, channel, message, &body)
        }
        (&Method::POST, ["channels", channel, "typing"]) => {
            if inner.channels.contains_key(*channel) {
                shared.outbox.typing(channel);
                no_content()
            } else {
                unknown_channel()
            }
        }
        (
            &Method::PUT,
            [
                "channels",
                channel,
                "messages",
                message,
                "reactions",
                emoji,
                "@me",
            ],
        ) => inner.react(channel, message, emoji),
        _ => discord_error(StatusCode::NOT_FOUND, 0, "404: Not Found"),
    };
    drop(inner);
    shared.changed.notify_waiters();
    response
}

async fn read_multipart(request: Request) -> Result<(Value, Vec<UploadedFile>), ()> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|_| ())?;
    let mut payload = json!({});
    let mut files = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|_| ())? {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|_| ())?;
        match (name.as_str(), filename) {
            ("payload_json", _) => payload = serde_json::from_slice(&bytes).map_err(|_| ())?,
            (_, Some(filename)) => files.push(UploadedFile {
                field: name,
                filename,
                content_type,
                bytes: bytes.to_vec(),
            }),
            (field, None) => {
                payload[field] = json!(String::from_utf8_lossy(&bytes));
            }
        }
    }
    Ok((payload, files))
}

impl Inner {
    /// A scripted 429 or failure for a message create or edit, if one is due.
    fn scripted_refusal(&mut self) -> Option<Response> {
        if let Some((n, retry_after)) = self.rate_limit.take() {
            if n > 1 {
                self.rate_limit = Some((n - 1, retry_after));
            }
            if n > 0 {
                return Some(rate_limited(retry_after));
            }
        }
        if let Some((n, status)) = self.failures.take() {
            if n > 1 {
                self.failures = Some((n - 1, status));
            }
            if n > 0 {
                return Some(status_error(status));
            }
        }
        None
    }

    fn create_message(
        &mut self,
        addr: SocketAddr,
        outbox: &Outbox,
        channel_id: &str,
        body: &Value,
        files: &[UploadedFile],
    ) -> Response {
        if let Some(refusal) = self.scripted_refusal() {
            return refusal;
        }
        let Some(channel) = self.channels.get(channel_id).cloned() else {
            return unknown_channel();
        };
        let content = body["content"].as_str().unwrap_or_default().to_owned();
        if content.chars().count() > MAX_CONTENT_CHARS {
            return too_long();
        }
        if content.is_empty() && files.is_empty() {
            return discord_error(
                StatusCode::BAD_REQUEST,
                50006,
                "Cannot send an empty message",
            );
        }
        let reference = &body["message_reference"];
        let reply_to = match reference["message_id"].as_str() {
            Some(id) if self.messages.contains_key(id) => Some(id.to_owned()),
            Some(_) if reference["fail_if_not_exists"] == json!(false) => None,
            Some(_) => return unknown_reply(),
            None => None,
        };
        let id = self.snowflake();
        let attachments: Vec<Value> = files
            .iter()
            .map(|file| {
                let attachment_id = self.snowflake();
                let content_type = file
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".to_owned());
                self.store_file(
                    addr,
                    channel_id,
                    &attachment_id,
                    &file.filename,
                    &content_type,
                    &file.bytes,
                )
            })
            .collect();
        let mut message = json!({
            "id": id,
            "channel_id": channel_id,
            "author": self.bot_user(),
            "content": content,
            "timestamp": iso8601(snowflake_ms(&id)),
            "edited_timestamp": null,
            "tts": false,
            "mention_everyone": false,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": [],
            "components": [],
            "pinned": false,
            "type": if reply_to.is_some() { 19 } else { 0 },
            "flags": 0,
        });
        if let Some(reply_to) = &reply_to {
            message["message_reference"] = json!({
                "type": 0, "message_id": reply_to, "channel_id": channel_id, "guild_id": channel.guild_id,
            });
            message["referenced_message"] =
                self.messages.get(reply_to).cloned().unwrap_or_default();
        }
        self.messages.insert(id.clone(), message.clone());
        let file = files.first();
        outbox.push(SentMessage {
            chat_id: channel_id.to_owned(),
            message_id: id.clone(),
            text: content.clone(),
            versions: vec![content],
            reply_to,
            thread_id: channel.parent_id.is_some().then(|| channel_id.to_owned()),
            kind: match file {
                None => SentKind::Text,
                Some(f)
                    if f.content_type
                        .as_deref()
                        .is_some_and(|t| t.starts_with("image/")) =>
                {
                    SentKind::Photo
                }
                Some(_) => SentKind::Document,
            },
            file_name: file.map(|f| f.filename.clone()),
            file_len: file.map(|f| f.bytes.len()),
            format: None,
        });
        let mut event = message.clone();
        let audience = match &channel.guild_id {
            Some(guild) => {
                event["guild_id"] = json!(guild);
                Audience::GuildMessages
            }
            None => Audience::DirectMessages,
        };
        self.dispatch("MESSAGE_CREATE", &event, audience);
        json_response(StatusCode::OK, &message)
    }

    fn edit_message(
        &mut self,
        outbox: &Outbox,
        channel_id: &str,
        message_id: &str,
        body: &Value,
    ) -> Response {
        if let Some(refusal) = self.scripted_refusal() {
            return refusal;
        }
        if !self.channels.contains_key(channel_id) {
            return unknown_channel();
        }
        let bot_id = self.bot_id.clone();
        let Some(message) = self
            .messages
            .get_mut(message_id)
            .filter(|m| m["channel_id"].as_str() == Some(channel_id))
        else {
            return discord_error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
        };
        if message["author"]["id"].as_str() != Some(bot_id.as_str()) {
            return discord_error(
                StatusCode::FORBIDDEN,
                50005,
                "Cannot edit a message authored by another user",
            );
        }
        if let Some(content) = body["content"].as_str() {
            if content.chars().count() > MAX_CONTENT_CHARS {
                return too_long();
            }
            message["content"] = json!(content);
            message["edited_timestamp"] = json!(iso8601(now_ms()));
            outbox.edit(channel_id, message_id, content);
        }
        let message = message.clone();
        json_response(StatusCode::OK, &message)
    }

    fn react(&mut self, channel_id: &str, message_id: &str, emoji: &str) -> Response {
        if !self.channels.contains_key(channel_id) {
            return unknown_channel();
        }
        if !self.messages.contains_key(message_id) {
            return discord_error(StatusCode::NOT_FOUND, 10008, "Unknown Message");
        }
        let custom = emoji.split_once(':').is_some();
        if emoji.is_empty() || (!custom && emoji.chars().all(|c| c.is_ascii_alphanumeric())) {
            return discord_error(StatusCode::BAD_REQUEST, 10014, "Unknown Emoji");
        }
        self.reactions.push(Reaction {
            channel_id: channel_id.to_owned(),
            message_id: message_id.to_owned(),
            emoji: emoji.to_owned(),
        });
        no_content()
    }
}

/// Discord's JSON error body `{"message", "code"}`.
fn discord_error(status: StatusCode, code: u64, message: &str) -> Response {
    json_response(status, &json!({"message": message, "code": code}))
}

fn unknown_channel() -> Response {
    discord_error(StatusCode::NOT_FOUND, 10003, "Unknown Channel")
}

fn no_content() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

fn too_long() -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({
            "message": "Invalid Form Body",
            "code": 50035,
            "errors": {"content": {"_errors": [{
                "code": "BASE_TYPE_MAX_LENGTH",
                "message": "Must be 2000 or fewer in length.",
            }]}},
        }),
    )
}

fn unknown_reply() -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({
            "message": "Invalid Form Body",
            "code": 50035,
            "errors": {"message_reference": {"_errors": [{
                "code": "REPLIES_UNKNOWN_MESSAGE",
                "message": "Unknown message",
            }]}},
        }),
    )
}

/// Discord's 429 (Rate Limits: body in float seconds, headers alongside).
fn rate_limited(retry_after: f64) -> Response {
    let mut response = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": false}),
    );
    let reset = now_ms() as f64 / 1000.0 + retry_after;
    let headers = [
        ("retry-after", format!("{}", retry_after.ceil())),
        ("x-ratelimit-limit", "5".to_owned()),
        ("x-ratelimit-remaining", "0".to_owned()),
        ("x-ratelimit-reset", format!("{reset:.3}")),
        ("x-ratelimit-reset-after", format!("{retry_after:.3}")),
        ("x-ratelimit-bucket", "fakebucket0".to_owned()),
        ("x-ratelimit-scope", "user".to_owned()),
    ];
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// `status` with the body Discord sends for it.
fn status_error(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status {
        400 => discord_error(code, 50035, "Invalid Form Body"),
        403 => discord_error(code, 50013, "Missing Permissions"),
        404 => unknown_channel(),
        429 => rate_limited(1.0),
        _ => discord_error(
            code,
            0,
            &format!("{}: {}", status, code.canonical_reason().unwrap_or("Error")),
        ),
    }
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
}

fn snowflake_ms(id: &str) -> u64 {
    id.parse::<u64>()
        .map_or_else(|_| now_ms(), |n| (n >> 22) + DISCORD_EPOCH_MS)
}

/// `2017-07-11T17:27:07.299000+00:00`, Discord's timestamp format.
fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil-from-days (proleptic Gregorian), after Howard Hinnant's algorithm.
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}000+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_discord_shaped() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(
            iso8601(1_499_794_027_299),
            "2017-07-11T17:27:07.299000+00:00"
        );
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000000+00:00");
    }

    #[test]
    fn path_segments_are_decoded() {
        assert_eq!(percent_decode("%F0%9F%91%8D"), "👍");
        assert_eq!(percent_decode("name:123"), "name:123");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn content_needs_the_intent_outside_dms_and_mentions() {
        let guild = json!({"guild_id": "1", "author": {"id": "5"}, "mentions": []});
        assert!(!content_visible(GUILD_MESSAGES, &guild, "9"));
        assert!(content_visible(
            GUILD_MESSAGES | MESSAGE_CONTENT,
            &guild,
            "9"
        ));
        assert!(content_visible(GUILD_MESSAGES, &guild, "5"));
        let mention = json!({"guild_id": "1", "author": {"id": "5"}, "mentions": [{"id": "9"}]});
        assert!(content_visible(GUILD_MESSAGES, &mention, "9"));
        let dm = json!({"author": {"id": "5"}, "mentions": []});
        assert!(content_visible(DIRECT_MESSAGES, &dm, "9"));
    }

    #[tokio::test]
    async fn rest_answers_like_discord() {
        let fake = FakeDiscord::start().await;
        let http = reqwest::Client::new();
        let me = format!("{}/users/@me", fake.url());
        let denied = http.get(&me).send().await.expect("send");
        assert_eq!(denied.status(), 401);
        let body: Value = denied.json().await.expect("json");
        assert_eq!(body, json!({"message": "401: Unauthorized", "code": 0}));

        let auth = format!("Bot {}", fake.token());
        let user: Value = http
            .get(&me)
            .header("authorization", &auth)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert_eq!(user["id"].as_str(), Some(fake.bot_id().as_str()));

        let missing = http
            .get(format!("{}/channels/42", fake.url()))
            .header("authorization", &auth)
            .send()
            .await
            .expect("send");
        assert_eq!(missing.status(), 404);
        let body: Value = missing.json().await.expect("json");
        assert_eq!(body["code"], 10003);

        let channel = fake.dm_channel("7");
        fake.rate_limit_next(1, 0.25);
        let limited = http
            .post(format!("{}/channels/{channel}/messages", fake.url()))
            .header("authorization", &auth)
            .json(&json!({"content": "hi"}))
            .send()
            .await
            .expect("send");
        assert_eq!(limited.status(), 429);
        assert_eq!(
            limited.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..])
        );
        let body: Value = limited.json().await.expect("json");
        assert_eq!(body["retry_after"], 0.25);

        let sent: Value = http
            .post(format!("{}/channels/{channel}/messages", fake.url()))
            .header("authorization", &auth)
            .json(&json!({"content": "hi"}))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert_eq!(sent["content"], "hi");
        assert_eq!(fake.outbox().in_chat(&channel).len(), 1);
        assert_eq!(fake.requests().len(), 5);
    }
}
