//! The WebSocket protocol: handshake, request dispatch, event fan-out.
//!
//! A connection goes through two phases. Before auth the gateway sends `connect.challenge` and
//! accepts exactly one small frame, a `connect` request with the token, within
//! [`HANDSHAKE_TIMEOUT`]; anything else is answered with an error and the socket closes. After
//! `hello-ok`, requests run concurrently (answers may come out of order, matched by `id`),
//! every bus event is forwarded with this connection's `seq`, and a `tick` keeps idle
//! connections observable. A malformed frame gets an error response; it never closes the
//! connection or touches any other.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use hearth_protocol::events::{ConnectChallenge, EventName, Shutdown, Tick};
use hearth_protocol::frame::{ErrorCode, ErrorShape, Frame, ResponseFrame};
use hearth_protocol::methods::{
    ConnectParams, Features, HelloOk, Method, Policy, Request as MethodRequest, RequestError,
    ServerInfo,
};
use hearth_protocol::{
    MAX_FRAME_BYTES, MAX_PREAUTH_FRAME_BYTES, PROTOCOL_VERSION, TICK_INTERVAL_MS,
};
use serde_json::Value;
use tokio::sync::{Semaphore, mpsc};
use tracing::Instrument;

use super::methods::dispatch;
use crate::runtime::Runtime;
use crate::util::{new_id, now_ms};

/// Time a new socket has to send `connect`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Requests of one connection running at once; more wait.
const MAX_IN_FLIGHT: usize = 32;

/// WebSocket close code for a policy violation (failed auth, bad handshake).
const CLOSE_POLICY: u16 = 1008;

pub(super) async fn upgrade(rt: Arc<Runtime>, request: Request) -> Response {
    let ip = super::client_ip(&request);
    let header_token = super::auth::bearer(request.headers()).map(str::to_owned);
    let (mut parts, _body) = request.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    if rt.shutdown.is_cancelled() {
        return super::ApiError::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "shutting_down",
            "the gateway is shutting down",
        )
        .into_response();
    }
    let tracker = rt.connection_tasks.token();
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            let conn_id = new_id();
            let span = tracing::info_span!("ws", conn = %conn_id, client = %ip);
            connection(rt, socket, ip, header_token, conn_id)
                .instrument(span)
                .await;
            drop(tracker);
        })
}

async fn connection(
    rt: Arc<Runtime>,
    mut socket: WebSocket,
    ip: IpAddr,
    header_token: Option<String>,
    conn_id: String,
) {
    let challenge = ConnectChallenge {
        nonce: new_id(),
        ts: now_ms(),
    };
    let frame = format!(
        r#"{{"type":"event","event":"{}","payload":{}}}"#,
        EventName::ConnectChallenge.name(),
        serde_json::to_string(&challenge).unwrap_or_default()
    );
    if socket.send(WsMessage::text(frame)).await.is_err() {
        return;
    }
    let (hello, actor) = tokio::select! {
        r = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&rt, &mut socket, ip, header_token.as_deref(), &conn_id)) => match r {
            Ok(Ok(accepted)) => accepted,
            Ok(Err(())) => return,
            Err(_) => {
                close(&mut socket, CLOSE_POLICY, "connect timeout").await;
                return;
            }
        },
        () = rt.close_connections.cancelled() => return,
    };
    if socket.send(WsMessage::text(hello)).await.is_err() {
        return;
    }
    rt.connections.fetch_add(1, Ordering::Relaxed);
    tracing::debug!("client connected");
    serve_connection(&rt, socket, actor).await;
    rt.connections.fetch_sub(1, Ordering::Relaxed);
    tracing::debug!("client disconnected");
}

/// Reads and checks `connect`. Answers the `hello-ok` frame and whom the client acts for (in
/// the audit trail), or `Err` after telling the client why.
async fn handshake(
    rt: &Runtime,
    socket: &mut WebSocket,
    ip: IpAddr,
    header_token: Option<&str>,
    conn_id: &str,
) -> Result<(String, crate::audit::Actor), ()> {
    let text = loop {
        match socket.recv().await {
            Some(Ok(WsMessage::Text(t))) => break t,
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
            Some(Ok(WsMessage::Binary(_))) => {
                refuse(
                    socket,
                    None,
                    ErrorShape::new(ErrorCode::InvalidRequest, "frames are JSON text"),
                )
                .await;
                return Err(());
            }
            _ => return Err(()),
        }
    };
    if text.len() > MAX_PREAUTH_FRAME_BYTES {
        refuse(
            socket,
            None,
            ErrorShape::new(
                ErrorCode::PayloadTooLarge,
                format!("frames before connect are limited to {MAX_PREAUTH_FRAME_BYTES} bytes"),
            ),
        )
        .await;
        return Err(());
    }
    let (id, method, params) = match parse_envelope(&text) {
        Ok(parts) => parts,
        Err(refusal) => {
            let (id, shape) = *refusal;
            refuse(socket, id, shape).await;
            return Err(());
        }
    };
    if method != Method::Connect.name() {
        refuse(
            socket,
            Some(id),
            ErrorShape::new(
                ErrorCode::Unauthorized,
                "the first request must be `connect`",
            ),
        )
        .await;
        return Err(());
    }
    let params: ConnectParams = match serde_json::from_value(params) {
        Ok(p) => p,
        Err(e) => {
            refuse(
                socket,
                Some(id),
                ErrorShape::new(
                    ErrorCode::InvalidRequest,
                    format!("invalid connect params: {e}"),
                ),
            )
            .await;
            return Err(());
        }
    };
    if !(params.min_protocol..=params.max_protocol).contains(&PROTOCOL_VERSION) {
        let msg = format!(
            "protocol mismatch: this gateway speaks version {PROTOCOL_VERSION}, the client {}..={}; update the older side",
            params.min_protocol, params.max_protocol
        );
        refuse(
            socket,
            Some(id),
            ErrorShape::new(ErrorCode::InvalidRequest, msg),
        )
        .await;
        return Err(());
    }
    if let Some(wait) = rt.limiter.locked(ip) {
        refuse(socket, Some(id), locked_shape(wait)).await;
        return Err(());
    }
    let auth = params.auth.unwrap_or_default();
    let token = auth.token.as_deref().or(header_token);
    let live = rt.live();
    if !live.auth.accepts(token, auth.password.as_deref()) {
        let shape = match rt.limiter.record_failure(ip) {
            Some(wait) => locked_shape(wait),
            None => ErrorShape::new(
                ErrorCode::Unauthorized,
                "missing or wrong gateway token (`hearth dashboard` shows it)",
            ),
        };
        tracing::warn!(client = %ip, "refused a WebSocket client: bad token");
        refuse(socket, Some(id), shape).await;
        return Err(());
    }
    rt.limiter.record_success(ip);
    tracing::info!(client_id = %params.client.id, version = %params.client.version, "client authenticated");
    let actor = crate::audit::Actor::of_client(&params.client);
    let hello = HelloOk {
        kind: "hello-ok".to_owned(),
        protocol: PROTOCOL_VERSION,
        server: ServerInfo {
            version: crate::VERSION.to_owned(),
            conn_id: conn_id.to_owned(),
        },
        features: Features {
            methods: Method::ALL
                .iter()
                .filter(|m| **m != Method::Connect)
                .map(|m| m.name().to_owned())
                .collect(),
            events: EventName::ALL.iter().map(|e| e.name().to_owned()).collect(),
        },
        policy: Policy {
            max_payload: MAX_FRAME_BYTES,
            tick_interval_ms: TICK_INTERVAL_MS,
        },
    };
    let payload = serde_json::to_value(hello).map_err(|_| ())?;
    Ok((response_text(ResponseFrame::ok(id, payload)), actor))
}

fn locked_shape(wait: Duration) -> ErrorShape {
    ErrorShape::new(
        ErrorCode::RateLimited,
        format!(
            "too many failed attempts; try again in {} s",
            wait.as_secs().max(1)
        ),
    )
    .retry_after(Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)))
}

async fn refuse(socket: &mut WebSocket, id: Option<String>, shape: ErrorShape) {
    let reason = shape.message.clone();
    let _ = socket
        .send(WsMessage::text(response_text(ResponseFrame::err(
            id, shape,
        ))))
        .await;
    close(socket, CLOSE_POLICY, &reason).await;
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    // Close reasons are limited to 123 bytes.
    let reason = crate::util::truncate_chars(reason, 120);
    let _ = socket
        .send(WsMessage::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        })))
        .await;
}

/// Splits a request frame into id, method and params, or answers the error to send.
/// A request frame's id, method and params.
type Envelope = (String, String, Value);
/// The id to answer (if the frame had one) and the error.
type Refusal = Box<(Option<String>, ErrorShape)>;

fn parse_envelope(text: &str) -> Result<Envelope, Refusal> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        Box::new((
            None,
            ErrorShape::new(ErrorCode::InvalidRequest, format!("frame is not JSON: {e}")),
        ))
    })?;
    let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
    let bad = |msg: &str| Box::new((id.clone(), ErrorShape::new(ErrorCode::InvalidRequest, msg)));
    if value.get("type").and_then(Value::as_str) != Some("req") {
        return Err(bad(
            "expected a request frame: {\"type\":\"req\",\"id\",\"method\",\"params\"}",
        ));
    }
    let Some(id_str) = id.clone() else {
        return Err(bad("request frame has no string `id`"));
    };
    let method = value
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("request frame has no string `method`"))?;
    let params = value.get("params").cloned().unwrap_or(Value::Null);
    Ok((id_str, method.to_owned(), params))
}

async fn serve_connection(rt: &Arc<Runtime>, socket: WebSocket, actor: crate::audit::Actor) {
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<String>(256);
    let mut bus = rt.bus.subscribe();
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut seq: u64 = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(TICK_INTERVAL_MS));
    tick.tick().await;
    let mut told_shutdown = false;

    loop {
        tokio::select! {
            // Shutdown begins: say so, but stay open while runs drain so their ends arrive.
            () = rt.shutdown.cancelled(), if !told_shutdown => {
                told_shutdown = true;
                seq += 1;
                let shutdown = Shutdown { reason: "the gateway is shutting down".to_owned() };
                if sink.send(WsMessage::text(event_frame(EventName::Shutdown, &shutdown, seq))).await.is_err() {
                    break;
                }
            }
            () = rt.close_connections.cancelled() => {
                // Events published just before (a run's last frames) still go out.
                while let Ok(event) = bus.try_recv() {
                    seq += 1;
                    let _ = sink.send(WsMessage::text(event.frame(seq))).await;
                }
                let _ = sink.send(WsMessage::Close(Some(CloseFrame { code: 1001, reason: Utf8Bytes::from_static("shutdown") }))).await;
                break;
            }
            Some(text) = out_rx.recv() => {
                if sink.send(WsMessage::text(text)).await.is_err() {
                    break;
                }
            }
            event = bus.recv() => match event {
                Ok(event) => {
                    seq += 1;
                    if sink.send(WsMessage::text(event.frame(seq))).await.is_err() {
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    // The client sees the gap in `seq` and can refetch state.
                    seq += missed;
                    tracing::warn!(missed, "slow client missed events");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
            _ = tick.tick() => {
                seq += 1;
                if sink.send(WsMessage::text(event_frame(EventName::Tick, &Tick { ts: now_ms() }, seq))).await.is_err() {
                    break;
                }
            }
            incoming = stream.next() => match incoming {
                Some(Ok(WsMessage::Text(text))) => {
                    handle_text(rt, text.as_str(), &out_tx, &in_flight, actor).await;
                }
                Some(Ok(WsMessage::Binary(_))) => {
                    let shape = ErrorShape::new(ErrorCode::InvalidRequest, "frames are JSON text, not binary");
                    let _ = out_tx.send(response_text(ResponseFrame::err(None, shape))).await;
                }
                Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                Some(Ok(WsMessage::Close(_))) | None => break,
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "socket error");
                    break;
                }
            },
        }
    }
}

async fn handle_text(
    rt: &Arc<Runtime>,
    text: &str,
    out: &mpsc::Sender<String>,
    in_flight: &Arc<Semaphore>,
    actor: crate::audit::Actor,
) {
    let (id, method, params) = match parse_envelope(text) {
        Ok(parts) => parts,
        Err(refusal) => {
            let (id, shape) = *refusal;
            let _ = out.send(response_text(ResponseFrame::err(id, shape))).await;
            return;
        }
    };
    let request = match MethodRequest::parse(&method, params) {
        Ok(r) => r,
        Err(e) => {
            let code = match e {
                RequestError::UnknownMethod(_) => ErrorCode::UnknownMethod,
                RequestError::InvalidParams { .. } => ErrorCode::InvalidRequest,
            };
            let _ = out
                .send(response_text(ResponseFrame::err(
                    Some(id),
                    ErrorShape::new(code, e.to_string()),
                )))
                .await;
            return;
        }
    };
    let Ok(permit) = in_flight.clone().acquire_owned().await else {
        return;
    };
    let rt = rt.clone();
    let out = out.clone();
    let span = tracing::debug_span!("request", %method, %id);
    tokio::spawn(
        async move {
            let response = match crate::audit::as_actor(actor, dispatch(&rt, request)).await {
                Ok(payload) => ResponseFrame::ok(id, payload),
                Err(shape) => ResponseFrame::err(Some(id), shape),
            };
            let _ = out.send(response_text(response)).await;
            drop(permit);
        }
        .instrument(span),
    );
}

fn response_text(response: ResponseFrame) -> String {
    serde_json::to_string(&Frame::Res(response)).unwrap_or_else(|_| {
        r#"{"type":"res","id":null,"ok":false,"error":{"code":"INTERNAL","message":"could not encode the response"}}"#.to_owned()
    })
}

fn event_frame<T: serde::Serialize>(name: EventName, payload: &T, seq: u64) -> String {
    format!(
        r#"{{"type":"event","event":"{}","payload":{},"seq":{seq}}}"#,
        name.name(),
        serde_json::to_string(payload).unwrap_or_else(|_| "null".to_owned())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_errors_keep_the_id_when_there_is_one() {
        assert!(parse_envelope("nope").unwrap_err().0.is_none());
        let (id, shape) = *parse_envelope(r#"{"type":"req","id":"7"}"#).unwrap_err();
        assert_eq!(id.as_deref(), Some("7"));
        assert!(shape.message.contains("method"));
        let (id, _) = *parse_envelope(r#"{"type":"event","id":"8","method":"x"}"#).unwrap_err();
        assert_eq!(id.as_deref(), Some("8"));
        let ok = parse_envelope(r#"{"type":"req","id":"9","method":"health"}"#).unwrap();
        assert_eq!(
            (ok.0.as_str(), ok.1.as_str(), ok.2),
            ("9", "health", Value::Null)
        );
    }
}
