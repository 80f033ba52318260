//! Socket Mode: Slack's events over a WebSocket the app opens
//! (<https://api.slack.com/apis/socket-mode>).
//!
//! `apps.connections.open` (with the app-level token) hands out a one-time `wss://` URL; Slack
//! greets with `hello`, then sends envelopes (`{envelope_id, type: "events_api", payload,
//! retry_attempt, retry_reason}`) that must be acknowledged with `{"envelope_id": …}` within
//! three seconds, or Slack sends them again. Each envelope is acknowledged only after the
//! gateway stored it. Slack announces a coming disconnect (`disconnect`, reason
//! `refresh_requested`, `warning`, `link_disabled`) and the adapter then opens a new URL at
//! once; a connection that drops is reopened with backoff. Only refused credentials end the
//! loop; everything else is retried here.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message};

use super::Slack;
use super::api::{Args, ConnectionsOpen, Token};
use super::events::EventCallback;
use crate::{ChannelError, RunContext};

/// First wait after a failure; doubles up to [`MAX_BACKOFF`], back to this after `hello`.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How long to wait for the WebSocket handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Our own ping, so a connection that silently died (NAT timeout, sleep) is noticed.
const PING_EVERY: Duration = Duration::from_secs(30);
/// Nothing at all from Slack for this long (not even a pong): the connection is dead.
const SILENCE_LIMIT: Duration = Duration::from_secs(90);

/// One frame Slack sends over the socket.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    envelope_id: Option<String>,
    payload: Value,
    /// On `disconnect`.
    reason: String,
    retry_attempt: u32,
    retry_reason: String,
}

/// How one connection ended.
#[derive(Debug)]
enum End {
    Cancelled,
    /// Slack asked for a new connection (`disconnect`).
    Refresh,
}

/// Receives over Socket Mode until cancelled or the credentials are refused.
pub(super) async fn run(slack: &Slack, ctx: &RunContext) -> Result<(), ChannelError> {
    let mut backoff = Backoff::default();
    loop {
        let failure = match connection(slack, ctx, &mut backoff).await {
            Ok(End::Cancelled) => return Ok(()),
            Ok(End::Refresh) => continue,
            Err(err @ (ChannelError::Auth(_) | ChannelError::Config(_))) => return Err(err),
            Err(err) => err,
        };
        // A rate-limited `apps.connections.open` says how long to wait; never retry sooner.
        let wait = backoff
            .next()
            .max(failure.retry_after().unwrap_or_default());
        tracing::warn!(
            error = %failure,
            retry_in_ms = wait.as_millis() as u64,
            "slack socket mode connection lost"
        );
        tokio::select! {
            () = ctx.cancel.cancelled() => return Ok(()),
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Opens one connection and reads it until it ends.
async fn connection(
    slack: &Slack,
    ctx: &RunContext,
    backoff: &mut Backoff,
) -> Result<End, ChannelError> {
    let cancel = &ctx.cancel;
    // Checks the bot token before listening, so a bad one stops the account instead of every
    // later send failing.
    let me = tokio::select! {
        () = cancel.cancelled() => return Ok(End::Cancelled),
        me = slack.me() => me?,
    };
    let open_url = slack.api.call::<ConnectionsOpen>(
        "apps.connections.open",
        Token::App,
        Args::Json(json!({})),
    );
    let open = tokio::select! {
        () = cancel.cancelled() => return Ok(End::Cancelled),
        open = open_url => open?,
    };
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(open.url));
    let (socket, _) = tokio::select! {
        () = cancel.cancelled() => return Ok(End::Cancelled),
        connected = connect => connected
            .map_err(|_| handshake_timeout())?
            .map_err(|e| ws_error(&e))?,
    };
    tracing::debug!(bot = %me.user_id, "slack socket mode connected");
    let (mut write, mut read) = socket.split();
    let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut heard = Instant::now();
    loop {
        let message = tokio::select! {
            () = cancel.cancelled() => {
                let _ = write.send(Message::Close(None)).await;
                return Ok(End::Cancelled);
            }
            _ = ping.tick() => {
                if heard.elapsed() > SILENCE_LIMIT {
                    return Err(ChannelError::Transient(
                        "slack socket mode: no answer from Slack".into(),
                    ));
                }
                let ping = write.send(Message::Ping(Default::default())).await;
                ping.map_err(|e| ws_error(&e))?;
                continue;
            }
            message = read.next() => message,
        };
        heard = Instant::now();
        // Pings are answered by tungstenite itself on the next read.
        let text = match message {
            None => {
                return Err(ChannelError::Transient(
                    "slack socket mode: connection closed".into(),
                ));
            }
            Some(Err(err)) => return Err(ws_error(&err)),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                let reason = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                return Err(ChannelError::Transient(format!(
                    "slack socket mode: closed by Slack ({reason})"
                )));
            }
            Some(Ok(_)) => continue,
        };
        let frame: Frame = match serde_json::from_str(&text) {
            Ok(frame) => frame,
            Err(err) => {
                tracing::debug!(%err, "slack socket mode: unreadable frame ignored");
                continue;
            }
        };
        match frame.kind.as_str() {
            "hello" => {
                backoff.reset();
                ctx.connected();
            }
            "disconnect" => {
                tracing::info!(reason = %frame.reason, "slack asked to reconnect");
                let _ = write.send(Message::Close(None)).await;
                return Ok(End::Refresh);
            }
            "events_api" => {
                let Some(id) = frame.envelope_id else {
                    continue;
                };
                if frame.retry_attempt > 0 {
                    tracing::debug!(
                        attempt = frame.retry_attempt,
                        reason = %frame.retry_reason,
                        "slack redelivered an event"
                    );
                }
                let callback: EventCallback =
                    serde_json::from_value(frame.payload).unwrap_or_default();
                let stored = tokio::select! {
                    () = cancel.cancelled() => return Ok(End::Cancelled),
                    stored = slack.deliver(&callback, ctx.sink.as_ref()) => stored,
                };
                match stored {
                    Ok(()) => ack(&mut write, &id).await?,
                    Err(err) => {
                        tracing::warn!(%err, "slack event not acknowledged; Slack sends it again")
                    }
                }
            }
            other => {
                // Slash commands and interactivity are not handled; acknowledging them stops
                // Slack resending something nothing here will ever answer.
                tracing::debug!(kind = other, "slack socket mode frame ignored");
                if let Some(id) = frame.envelope_id {
                    ack(&mut write, &id).await?;
                }
            }
        }
    }
}

async fn ack<S>(write: &mut S, envelope_id: &str) -> Result<(), ChannelError>
where
    S: futures_util::Sink<Message, Error = tungstenite::Error> + Unpin,
{
    let ack = serde_json::json!({ "envelope_id": envelope_id }).to_string();
    write
        .send(Message::text(ack))
        .await
        .map_err(|err| ws_error(&err))
}

fn handshake_timeout() -> ChannelError {
    ChannelError::Transient("slack socket mode: the WebSocket handshake timed out".into())
}

/// A WebSocket failure, without the URL (it carries a connection ticket).
fn ws_error(err: &tungstenite::Error) -> ChannelError {
    let what = match err {
        tungstenite::Error::Http(response) => {
            format!(
                "the WebSocket handshake was refused (HTTP {})",
                response.status().as_u16()
            )
        }
        tungstenite::Error::Url(_) => "Slack handed out an unusable WebSocket URL".to_owned(),
        tungstenite::Error::Io(io) => format!("connection failed ({})", io.kind()),
        tungstenite::Error::Tls(_) => "TLS failed".to_owned(),
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            "connection closed".to_owned()
        }
        _ => "protocol error".to_owned(),
    };
    ChannelError::Transient(format!("slack socket mode: {what}"))
}

/// Reconnect delays: doubling from [`FIRST_BACKOFF`] to [`MAX_BACKOFF`], each drawn between half
/// and all of the step so many accounts do not reconnect in lockstep.
#[derive(Debug)]
struct Backoff {
    step: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            step: FIRST_BACKOFF,
        }
    }
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let step = self.step;
        self.step = (step * 2).min(MAX_BACKOFF);
        step.mul_f64(rand::Rng::gen_range(&mut rand::thread_rng(), 0.5..=1.0))
    }

    fn reset(&mut self) {
        self.step = FIRST_BACKOFF;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_minute_and_resets() {
        let mut backoff = Backoff::default();
        let waits: Vec<Duration> = (0..9).map(|_| backoff.next()).collect();
        for (i, wait) in waits.iter().enumerate() {
            let step = FIRST_BACKOFF.saturating_mul(1 << i).min(MAX_BACKOFF);
            assert!(*wait >= step / 2 && *wait <= step, "{i}: {wait:?}");
        }
        backoff.reset();
        assert!(backoff.next() <= FIRST_BACKOFF);
    }

    #[test]
    fn envelopes_parse_liberally() {
        let frame: Frame = serde_json::from_str(
            r#"{"envelope_id":"57d6a792-4d35-4d0b-b6aa-3361493e1caf","payload":{"token":"x",
            "team_id":"T1","event":{"type":"message","text":"hi"},"type":"event_callback",
            "event_id":"Ev1"},"type":"events_api","accepts_response_payload":false,
            "retry_attempt":1,"retry_reason":"timeout"}"#,
        )
        .expect("parses");
        assert_eq!(frame.kind, "events_api");
        assert_eq!(frame.retry_attempt, 1);
        let callback: EventCallback = serde_json::from_value(frame.payload).expect("parses");
        assert_eq!(callback.team_id, "T1");
        assert_eq!(callback.event.text, "hi");
        let hello: Frame = serde_json::from_str(
            r#"{"type":"hello","num_connections":1,"debug_info":{"host":"applink-1"},
            "connection_info":{"app_id":"A1"}}"#,
        )
        .expect("parses");
        assert_eq!(hello.kind, "hello");
        let bye: Frame = serde_json::from_str(
            r#"{"type":"disconnect","reason":"refresh_requested","debug_info":{"host":"h"}}"#,
        )
        .expect("parses");
        assert_eq!(bye.reason, "refresh_requested");
    }
}
