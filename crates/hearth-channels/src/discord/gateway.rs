//! Discord's Gateway: the WebSocket that delivers the bot's events, kept up for as long as the
//! account runs.
//!
//! The lifecycle follows the Gateway docs: `GET /gateway/bot` gives the URL (kept for the run),
//! opened with `?v=10&encoding=json`. Hello (op 10) gives the heartbeat interval: the first beat
//! goes after a random fraction of it, then one per interval with the last sequence number. A beat
//! still unacknowledged (op 11) when the next is due means a zombie connection: it is closed with
//! a code other than 1000/1001 (so the session survives) and resumed. Identify (op 2) gets READY
//! with the session id and `resume_gateway_url`. After a dropped connection, a resumable close
//! code or Reconnect (op 7), the adapter reconnects to `resume_gateway_url` and sends Resume
//! (op 6); Discord replays what was missed and ends with RESUMED. Invalid Session (op 9) means
//! waiting 1–5 s and identifying afresh. Close 4004 (token refused) and 4010–4014 (shard,
//! version, intents) stop the account; anything else reconnects with backoff (1 s doubling to
//! 60 s, jittered, reset by a READY or RESUMED).
//!
//! MESSAGE_CREATE dispatches go through a queue to a second future of the same task, which
//! hands them to the sink one at a time, so heartbeats never wait on storage.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::Discord;
use super::api::{self, Payload};
use crate::{ChannelError, Inbound, RunContext};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// A heartbeat interval below this is a broken Hello, not a request to spin.
const MIN_HEARTBEAT: Duration = Duration::from_millis(50);
/// Failed connections to `resume_gateway_url` before identifying afresh on the main URL.
const RESUME_CONNECT_ATTEMPTS: u32 = 3;
/// Any close code but 1000/1001 keeps the session resumable; this is the one libraries use.
const RESUMABLE_CLOSE: u16 = 4000;
const NORMAL_CLOSE: u16 = 1000;
/// Times a refusing sink is asked to take one message before it is dropped.
const ACCEPT_ATTEMPTS: u32 = 5;
const ACCEPT_RETRY: Duration = Duration::from_millis(200);

/// Receives until `ctx.cancel` fires (`Ok`) or Discord refuses the token or settings (`Err`).
pub(super) async fn run(discord: &Discord, ctx: &RunContext) -> Result<(), ChannelError> {
    let (tx, rx) = mpsc::unbounded_channel();
    let link = Link {
        discord,
        ctx,
        tx,
        gateway_url: None,
        session: None,
        seq: None,
        failed_resumes: 0,
    };
    // The link owns the queue's sender: when it ends, the delivery side drains and ends too.
    let (result, ()) = tokio::join!(link.run(), deliver(discord, ctx, rx));
    result
}

/// What the session needs to resume.
struct Session {
    id: String,
    resume_url: String,
}

/// The connection state that outlives one WebSocket.
struct Link<'a> {
    discord: &'a Discord,
    ctx: &'a RunContext,
    tx: mpsc::UnboundedSender<Value>,
    gateway_url: Option<String>,
    session: Option<Session>,
    /// The last dispatch sequence number, for heartbeats and Resume.
    seq: Option<u64>,
    failed_resumes: u32,
}

/// How one connection ended.
enum After {
    Stop(Result<(), ChannelError>),
    Reconnect { established: bool, delay: Delay },
}

#[derive(Debug, Clone, Copy)]
enum Delay {
    Now,
    Backoff,
    /// Invalid Session: 1–5 s, as the docs ask.
    InvalidSession,
}

impl Link<'_> {
    async fn run(mut self) -> Result<(), ChannelError> {
        let mut backoff = MIN_BACKOFF;
        loop {
            let (established, delay) = match self.connect().await {
                After::Stop(result) => return result,
                After::Reconnect { established, delay } => (established, delay),
            };
            if established {
                backoff = MIN_BACKOFF;
            }
            let wait = match delay {
                Delay::Now => Duration::ZERO,
                Delay::InvalidSession => {
                    Duration::from_millis(rand::thread_rng().gen_range(1000..=5000))
                }
                Delay::Backoff => {
                    let wait = backoff.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    wait
                }
            };
            tokio::select! {
                () = self.ctx.cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Opens one connection (resuming when there is a session to resume) and drives it.
    async fn connect(&mut self) -> After {
        if self.failed_resumes >= RESUME_CONNECT_ATTEMPTS {
            self.forget_session();
        }
        let resuming = self.session.is_some();
        let base = match &self.session {
            Some(session) => session.resume_url.clone(),
            None => match self.gateway_url().await {
                Ok(url) => url,
                Err(after) => return after,
            },
        };
        let url = format!("{}/?v=10&encoding=json", base.trim_end_matches('/'));
        let connecting =
            tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(url));
        let outcome = tokio::select! {
            () = self.ctx.cancel.cancelled() => return After::Stop(Ok(())),
            outcome = connecting => outcome,
        };
        let socket = match outcome {
            Ok(Ok((socket, _))) => socket,
            failed => {
                let error = match failed {
                    Ok(Err(err)) => err.to_string(),
                    _ => "timed out".to_owned(),
                };
                tracing::warn!(%error, resuming, "could not connect to the Discord gateway");
                if resuming {
                    self.failed_resumes += 1;
                } else {
                    // The cached URL may be stale; the docs say to ask again then.
                    self.gateway_url = None;
                }
                return After::Reconnect {
                    established: false,
                    delay: Delay::Backoff,
                };
            }
        };
        self.failed_resumes = 0;
        self.drive(socket).await
    }

    async fn gateway_url(&mut self) -> Result<String, After> {
        if let Some(url) = &self.gateway_url {
            return Ok(url.clone());
        }
        let fetched = tokio::select! {
            () = self.ctx.cancel.cancelled() => return Err(After::Stop(Ok(()))),
            fetched = self.discord.gateway_url() => fetched,
        };
        match fetched {
            Ok(url) => {
                self.gateway_url = Some(url.clone());
                Ok(url)
            }
            Err(err @ (ChannelError::Auth(_) | ChannelError::Config(_))) => {
                Err(After::Stop(Err(err)))
            }
            Err(err) => {
                tracing::warn!(error = %err, "could not get the Discord gateway URL");
                Err(After::Reconnect {
                    established: false,
                    delay: Delay::Backoff,
                })
            }
        }
    }

    fn forget_session(&mut self) {
        self.session = None;
        self.seq = None;
        self.failed_resumes = 0;
    }

    /// Hello, Identify or Resume, then heartbeats and dispatches until the connection ends.
    async fn drive(&mut self, mut ws: Socket) -> After {
        let ctx = self.ctx;
        let hello = tokio::select! {
            () = ctx.cancel.cancelled() => {
                close(&mut ws, NORMAL_CLOSE).await;
                return After::Stop(Ok(()));
            }
            hello = tokio::time::timeout(HELLO_TIMEOUT, self.read_hello(&mut ws)) => hello,
        };
        let interval = match hello {
            Ok(Ok(hello)) => Duration::from_millis(hello.heartbeat_interval).max(MIN_HEARTBEAT),
            Ok(Err(after)) => return after,
            Err(_) => {
                tracing::warn!("the Discord gateway sent no Hello");
                return After::Reconnect {
                    established: false,
                    delay: Delay::Backoff,
                };
            }
        };
        let opening = match &self.session {
            Some(session) => json!({"op": 6, "d": {
                "token": self.discord.token.0,
                "session_id": session.id,
                "seq": self.seq,
            }}),
            None => json!({"op": 2, "d": {
                "token": self.discord.token.0,
                "intents": self.discord.intents,
                "properties": {"os": std::env::consts::OS, "browser": "hearth", "device": "hearth"},
            }}),
        };
        if send(&mut ws, &opening).await.is_err() {
            return After::Reconnect {
                established: false,
                delay: Delay::Backoff,
            };
        }
        let mut next_beat = Instant::now() + interval.mul_f64(rand::random::<f64>());
        let mut acked = true;
        let mut established = false;
        loop {
            let step = tokio::select! {
                () = ctx.cancel.cancelled() => {
                    close(&mut ws, NORMAL_CLOSE).await;
                    Some(After::Stop(Ok(())))
                }
                () = tokio::time::sleep_until(next_beat) => {
                    next_beat = Instant::now() + interval;
                    if acked {
                        acked = false;
                        self.heartbeat(&mut ws, established).await
                    } else {
                        tracing::warn!("the Discord gateway stopped acknowledging heartbeats; resuming");
                        close(&mut ws, RESUMABLE_CLOSE).await;
                        Some(After::Reconnect { established, delay: Delay::Now })
                    }
                }
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        self.on_payload(text.as_str(), &mut ws, &mut acked, &mut established).await
                    }
                    Some(Ok(Message::Close(frame))) => Some(self.on_close(frame, established)),
                    Some(Ok(_)) => None,
                    Some(Err(err)) => {
                        tracing::info!(error = %err, "the Discord gateway connection broke; resuming");
                        Some(After::Reconnect { established, delay: Delay::Backoff })
                    }
                    None => Some(After::Reconnect { established, delay: Delay::Backoff }),
                },
            };
            if let Some(after) = step {
                return after;
            }
        }
    }

    async fn read_hello(&mut self, ws: &mut Socket) -> Result<api::Hello, After> {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let payload: Payload = serde_json::from_str(text.as_str()).unwrap_or_default();
                    if payload.op == 10 {
                        return Ok(serde_json::from_value(payload.d).unwrap_or_default());
                    }
                }
                Some(Ok(Message::Close(frame))) => return Err(self.on_close(frame, false)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    return Err(After::Reconnect {
                        established: false,
                        delay: Delay::Backoff,
                    });
                }
            }
        }
    }

    async fn heartbeat(&self, ws: &mut Socket, established: bool) -> Option<After> {
        let beat = json!({"op": 1, "d": self.seq});
        match send(ws, &beat).await {
            Ok(()) => None,
            Err(()) => Some(After::Reconnect {
                established,
                delay: Delay::Backoff,
            }),
        }
    }

    async fn on_payload(
        &mut self,
        text: &str,
        ws: &mut Socket,
        acked: &mut bool,
        established: &mut bool,
    ) -> Option<After> {
        let payload: Payload = match serde_json::from_str(text) {
            Ok(payload) => payload,
            Err(err) => {
                tracing::debug!(error = %err, "ignored an unreadable Discord gateway payload");
                return None;
            }
        };
        match payload.op {
            0 => {
                if let Some(seq) = payload.s {
                    self.seq = Some(seq);
                }
                self.on_dispatch(
                    payload.t.as_deref().unwrap_or_default(),
                    payload.d,
                    established,
                );
                None
            }
            1 => self.heartbeat(ws, *established).await,
            7 => {
                tracing::info!("Discord asked to reconnect; resuming");
                close(ws, RESUMABLE_CLOSE).await;
                Some(After::Reconnect {
                    established: *established,
                    delay: Delay::Now,
                })
            }
            9 => {
                let resumable = payload.d.as_bool().unwrap_or(false);
                tracing::info!(resumable, "Discord invalidated the gateway session");
                let code = if resumable {
                    RESUMABLE_CLOSE
                } else {
                    self.forget_session();
                    NORMAL_CLOSE
                };
                close(ws, code).await;
                Some(After::Reconnect {
                    established: *established,
                    delay: Delay::InvalidSession,
                })
            }
            11 => {
                *acked = true;
                None
            }
            op => {
                tracing::debug!(op, "ignored a Discord gateway opcode");
                None
            }
        }
    }

    fn on_dispatch(&mut self, event: &str, d: Value, established: &mut bool) {
        match event {
            "READY" => {
                let ready: api::Ready = serde_json::from_value(d).unwrap_or_default();
                let resume_url = if ready.resume_gateway_url.is_empty() {
                    self.gateway_url.clone().unwrap_or_default()
                } else {
                    ready.resume_gateway_url
                };
                self.session = Some(Session {
                    id: ready.session_id,
                    resume_url,
                });
                tracing::info!(bot = %ready.user.username, "connected to the Discord gateway");
                self.discord.set_bot_id(ready.user.id);
                *established = true;
                self.ctx.connected();
            }
            "RESUMED" => {
                tracing::info!("resumed the Discord gateway session");
                *established = true;
                self.ctx.connected();
            }
            "MESSAGE_CREATE" => {
                // The receiver lives as long as this link; a send cannot fail while it runs.
                let _ = self.tx.send(d);
            }
            "GUILD_CREATE" => {
                let guild: api::GuildCreate = serde_json::from_value(d).unwrap_or_default();
                let mut cache = self.discord.channels();
                for channel in guild.channels.iter().chain(&guild.threads) {
                    cache.learn(channel);
                }
            }
            "THREAD_LIST_SYNC" => {
                let sync: api::ThreadListSync = serde_json::from_value(d).unwrap_or_default();
                let mut cache = self.discord.channels();
                for thread in &sync.threads {
                    cache.learn(thread);
                }
            }
            "CHANNEL_CREATE" | "CHANNEL_UPDATE" | "THREAD_CREATE" | "THREAD_UPDATE" => {
                let channel: api::Channel = serde_json::from_value(d).unwrap_or_default();
                self.discord.channels().learn(&channel);
            }
            "CHANNEL_DELETE" | "THREAD_DELETE" => {
                if let Some(id) = d["id"].as_str() {
                    self.discord.channels().forget(id);
                }
            }
            other => tracing::debug!(event = other, "ignored a Discord gateway event"),
        }
    }

    fn on_close(&mut self, frame: Option<CloseFrame>, established: bool) -> After {
        let (code, reason) = frame.map_or((None, String::new()), |f| {
            (Some(u16::from(f.code)), f.reason.as_str().to_owned())
        });
        let action = close_action(code, &reason);
        match action {
            CloseAction::Stop(err) => return After::Stop(Err(err)),
            CloseAction::Identify => {
                tracing::info!(?code, %reason, "the Discord session cannot be resumed; identifying anew");
                self.forget_session();
            }
            CloseAction::Resume => {
                tracing::info!(?code, %reason, "the Discord gateway closed the connection; resuming");
            }
        }
        After::Reconnect {
            established,
            delay: Delay::Backoff,
        }
    }
}

/// What a close code from Discord means (Opcodes and Status Codes, Gateway Close Event Codes).
#[derive(Debug)]
enum CloseAction {
    /// The token or the settings are refused: reconnecting would fail the same way.
    Stop(ChannelError),
    /// The session is gone (invalid sequence, session timed out): identify afresh.
    Identify,
    Resume,
}

fn close_action(code: Option<u16>, reason: &str) -> CloseAction {
    match code {
        Some(4004) => CloseAction::Stop(ChannelError::Auth(
            "Discord closed the gateway with 4004 (authentication failed): set a valid bot \
             `token`"
                .to_owned(),
        )),
        Some(4014) => CloseAction::Stop(ChannelError::Config(
            "Discord refused a privileged intent (gateway close 4014): enable the Message \
             Content intent for this bot in the Developer Portal (Bot → Privileged Gateway \
             Intents), or leave it out of `intents`"
                .to_owned(),
        )),
        Some(code @ 4010..=4013) => CloseAction::Stop(ChannelError::Config(format!(
            "Discord closed the gateway with {code} ({reason}): check the account's `intents`"
        ))),
        Some(4007 | 4009) => CloseAction::Identify,
        _ => CloseAction::Resume,
    }
}

async fn send(ws: &mut Socket, payload: &Value) -> Result<(), ()> {
    ws.send(Message::Text(payload.to_string().into()))
        .await
        .map_err(|err| tracing::debug!(error = %err, "could not write to the Discord gateway"))
}

async fn close(ws: &mut Socket, code: u16) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: "".into(),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(Some(frame))).await;
}

/// Hands queued MESSAGE_CREATE payloads to the sink, one at a time, in order.
async fn deliver(discord: &Discord, ctx: &RunContext, mut rx: mpsc::UnboundedReceiver<Value>) {
    while let Some(raw) = rx.recv().await {
        let message: api::Message = match serde_json::from_value(raw) {
            Ok(message) => message,
            Err(err) => {
                tracing::debug!(error = %err, "ignored an unreadable Discord message");
                continue;
            }
        };
        let inbound = tokio::select! {
            () = ctx.cancel.cancelled() => return,
            inbound = discord.inbound(message) => inbound,
        };
        if let Some(inbound) = inbound
            && !hand_over(ctx, inbound).await
        {
            return;
        }
    }
}

/// Gives one message to the sink, asking again a few times if it refuses; false if cancelled.
async fn hand_over(ctx: &RunContext, inbound: Inbound) -> bool {
    let mut wait = ACCEPT_RETRY;
    for attempt in 1..=ACCEPT_ATTEMPTS {
        let accepted = tokio::select! {
            () = ctx.cancel.cancelled() => return false,
            accepted = ctx.sink.accept(inbound.clone()) => accepted,
        };
        let Err(err) = accepted else {
            return true;
        };
        if attempt == ACCEPT_ATTEMPTS {
            // Discord will not send it again: nothing acknowledges a dispatch.
            tracing::warn!(
                message_id = %inbound.message_id,
                error = %err,
                "dropped a Discord message the gateway could not store"
            );
            break;
        }
        tracing::debug!(attempt, error = %err, "the gateway refused a Discord message; retrying");
        tokio::select! {
            () = ctx.cancel.cancelled() => return false,
            () = tokio::time::sleep(wait) => {}
        }
        wait *= 2;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_decide_between_stopping_identifying_and_resuming() {
        assert!(matches!(
            close_action(Some(4004), "Authentication failed."),
            CloseAction::Stop(ChannelError::Auth(_))
        ));
        assert!(matches!(
            close_action(Some(4014), "Disallowed intent(s)."),
            CloseAction::Stop(ChannelError::Config(m)) if m.contains("Developer Portal")
        ));
        for code in 4010..=4013 {
            assert!(matches!(
                close_action(Some(code), "x"),
                CloseAction::Stop(ChannelError::Config(m)) if m.contains(&code.to_string())
            ));
        }
        assert!(matches!(
            close_action(Some(4007), ""),
            CloseAction::Identify
        ));
        assert!(matches!(
            close_action(Some(4009), ""),
            CloseAction::Identify
        ));
        for code in [
            None,
            Some(1000),
            Some(1001),
            Some(1006),
            Some(4000),
            Some(4001),
            Some(4008),
        ] {
            assert!(
                matches!(close_action(code, ""), CloseAction::Resume),
                "{code:?}"
            );
        }
    }

    #[test]
    fn payloads_parse_liberally() {
        let p: Payload =
            serde_json::from_str(r#"{"op":0,"s":42,"t":"MESSAGE_CREATE","d":{"id":"1"}}"#)
                .expect("dispatch");
        assert_eq!(
            (p.op, p.s, p.t.as_deref()),
            (0, Some(42), Some("MESSAGE_CREATE"))
        );
        let p: Payload = serde_json::from_str(r#"{"op":11}"#).expect("ack");
        assert_eq!((p.op, p.s), (11, None));
        let p: Payload = serde_json::from_str(r#"{"op":9,"d":false,"s":null,"t":null}"#)
            .expect("invalid session");
        assert_eq!(p.d.as_bool(), Some(false));
        let hello: api::Hello =
            serde_json::from_value(serde_json::json!({"heartbeat_interval": 41250, "_trace": []}))
                .expect("hello");
        assert_eq!(hello.heartbeat_interval, 41250);
        let ready: api::Ready = serde_json::from_value(serde_json::json!({
            "v": 10, "session_id": "abc", "resume_gateway_url": "wss://gateway-us-east1-b.discord.gg",
            "user": {"id": "9", "username": "Hearth", "bot": true}, "guilds": [], "shard": [0, 1],
        }))
        .expect("ready");
        assert_eq!(
            (ready.session_id.as_str(), ready.user.id.as_str()),
            ("abc", "9")
        );
    }
}
